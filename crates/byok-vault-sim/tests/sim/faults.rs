//! Injected faults: 429, 503, and a connection dropped after the write was applied.

use crate::rig::*;
use serde_json::json;

#[test]
fn fault_429_and_503() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &["--fault-429", "3"]);
    let statuses: Vec<u16> = (0..7)
        .map(|_| sim.call("GET", "/keys", None).status)
        .collect();
    assert_eq!(statuses, [200, 200, 429, 200, 200, 429, 200]);
    let mut three: Vec<Resp> = (0..3).map(|_| sim.call("GET", "/keys", None)).collect();
    let r = three.swap_remove(1);
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(error_code(&r), "Throttled");
    // Even unauthenticated requests count, and faults come first.
    let r: Vec<u16> = (0..3)
        .map(|_| {
            sim.raw("GET", "/keys?api-version=7.6", &[], None)
                .unwrap()
                .status
        })
        .collect();
    assert_eq!(r, [401, 429, 401]);
    drop(sim);

    let dir = tmp();
    let sim = Sim::start(dir.path(), &["--fault-503", "2"]);
    let r1 = sim.call("POST", "/keys/f/create", Some(json!({"kty": "RSA"})));
    let r2 = sim.call("POST", "/keys/g/create", Some(json!({"kty": "RSA"})));
    assert_eq!((r1.status, r2.status), (200, 503));
    assert_eq!(r2.headers["retry-after"], "1");
    // The 503 request was not applied.
    expect_err(sim.call("GET", "/keys/g", None), 404, "KeyNotFound");
}

#[test]
fn fault_drop_applies_then_drops() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &["--fault-drop", "2"]);
    // Reads do not count.
    sim.ok("GET", "/keys", None);
    sim.create("one", json!({"kty": "RSA"}));
    let r = sim.raw(
        "POST",
        "/keys/two/create?api-version=7.6",
        &[("authorization", AUTH)],
        Some(br#"{"kty": "RSA"}"#.to_vec()),
    );
    assert!(r.is_err(), "the second mutating request must get no answer");
    // ... but it was applied.
    let two = sim.ok("GET", "/keys/two", None);
    assert_eq!(two["key"]["kty"], "RSA");
    sim.ok(
        "POST",
        "/keys/two//wrapkey",
        Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
    );
    sim.ok("PATCH", "/keys/two/", Some(json!({"tags": {"x": "y"}})));
    assert!(sim
        .raw(
            "DELETE",
            "/keys/two?api-version=7.6",
            &[("authorization", AUTH)],
            None
        )
        .is_err());
    expect_err(sim.call("GET", "/keys/two", None), 404, "KeyNotFound");
    assert!(sim.ok("GET", "/deletedkeys/two", None)["recoveryId"].is_string());
}
