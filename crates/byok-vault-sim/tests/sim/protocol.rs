//! The challenge, api-version, malformed requests, and a pinned token.

use crate::rig::*;
use serde_json::json;

#[test]
fn challenge_api_version_and_malformed_input() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    let r = sim.raw("GET", "/keys?api-version=7.6", &[], None).unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(
        r.headers["www-authenticate"],
        "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000\", resource=\"https://vault.azure.net\""
    );
    assert_eq!(error_code(&r), "Unauthorized");
    // A Managed HSM's challenge names its own resource, as the real service's does.
    let hsm_dir = tmp();
    let hsm = Sim::start(hsm_dir.path(), &["--managed-hsm"]);
    assert_eq!(hsm.kind, "managedhsm");
    assert_eq!(sim.kind, "keyvault");
    let r = hsm.raw("GET", "/keys?api-version=7.6", &[], None).unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(
        r.headers["www-authenticate"],
        "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000\", resource=\"https://managedhsm.azure.net\""
    );
    drop(hsm);
    // The SDK's first request carries no token and no body, even for a PUT.
    let r = sim
        .raw("PUT", "/keys/x?api-version=7.6", &[], None)
        .unwrap();
    assert_eq!(r.status, 401);
    let r = sim
        .raw(
            "GET",
            "/keys?api-version=7.6",
            &[("authorization", "Basic abc")],
            None,
        )
        .unwrap();
    assert_eq!(r.status, 401);

    for v in [
        "7.0",
        "7.3",
        "7.6",
        "7.6-preview.2",
        "7.5-preview",
        "2025-07-01",
    ] {
        let r = sim
            .raw(
                "GET",
                &format!("/keys?api-version={v}"),
                &[("authorization", AUTH)],
                None,
            )
            .unwrap();
        assert_eq!(r.status, 200, "{v}: {}", r.body);
        assert!(r.body["value"].is_array());
        assert!(r.body.get("nextLink").is_some());
    }
    for v in ["", "6.0", "7.7", "2016-10-01", "7.6-beta", "2025-07-02"] {
        let r = sim
            .raw(
                "GET",
                &format!("/keys?api-version={v}"),
                &[("authorization", AUTH)],
                None,
            )
            .unwrap();
        expect_err(r, 400, "BadParameter");
    }
    let r = sim
        .raw("GET", "/keys", &[("authorization", AUTH)], None)
        .unwrap();
    expect_err(r, 400, "BadParameter");

    // Malformed bodies are 400, never a crash.
    let bodies: [&[u8]; 9] = [
        b"",
        b"{",
        b"[]",
        b"null",
        b"\xff\xfe",
        b"{\"kty\": 5}",
        b"{\"kty\": \"RSA\", \"key_size\": \"big\"}",
        b"{\"kty\": \"RSA\", \"key_ops\": [1]}",
        b"{\"kty\": \"RSA\", \"attributes\": {\"exp\": -1}}",
    ];
    for b in bodies {
        for (m, p) in [
            ("POST", "/keys/m/create"),
            ("PUT", "/keys/m"),
            ("POST", "/keys/restore"),
            ("POST", "/keys/m/wrapkey"),
        ] {
            let r = sim
                .raw(
                    m,
                    &format!("{p}?api-version=7.6"),
                    &[("authorization", AUTH)],
                    Some(b.to_vec()),
                )
                .unwrap();
            assert!(
                r.status == 400 || r.status == 404,
                "{m} {p} {:?}: {} {}",
                String::from_utf8_lossy(b),
                r.status,
                r.body
            );
        }
    }
    let deep = "[".repeat(10_000);
    let r = sim.call("PUT", "/keys/m", Some(json!({"key": deep})));
    expect_err(r, 400, "BadParameter");
    let r = sim
        .raw(
            "PUT",
            "/keys/m?api-version=7.6",
            &[("authorization", AUTH)],
            Some(deep.into_bytes()),
        )
        .unwrap();
    expect_err(r, 400, "BadParameter");
    expect_err(sim.call("GET", "/keys/bad_name", None), 400, "BadParameter");
    expect_err(sim.call("GET", "/secrets", None), 404, "NotFound");
    expect_err(sim.call("GET", "/keys/nothing", None), 404, "KeyNotFound");
    // Nothing was stored by any of that.
    assert_eq!(sim.ok("GET", "/keys", None)["value"], json!([]));
}

#[test]
fn pinned_token() {
    let dir = tmp();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let state = dir.path().join("state");
    let sim = Sim::start(&state, &["--token-file", token.to_str().unwrap()]);
    let r = sim
        .raw(
            "GET",
            "/keys?api-version=7.6",
            &[("authorization", AUTH)],
            None,
        )
        .unwrap();
    assert_eq!(r.status, 401);
    assert!(r.headers.contains_key("www-authenticate"));
    let r = sim
        .raw(
            "GET",
            "/keys?api-version=7.6",
            &[("authorization", "Bearer s3cret")],
            None,
        )
        .unwrap();
    assert_eq!(r.status, 200);
    let log = std::fs::read_to_string(state.join("sim.log")).unwrap();
    assert!(
        !log.contains("s3cret") && !log.contains("test-token"),
        "{log}"
    );
}
