//! Create, get, list (paged), versions and update.

use crate::rig::*;
use byok_core::kek::decode_b64url;
use serde_json::json;

#[test]
fn create_get_list_versions_update() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    let b1 = sim.create(
        "Contoso-Key001",
        json!({"kty": "RSA-HSM", "key_size": 3072, "key_ops": ["wrapKey", "unwrapKey"],
               "attributes": {"enabled": true}, "tags": {"env": "test"}}),
    );
    let v1 = version_of(&b1);
    assert_eq!(v1.len(), 32);
    assert!(v1.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(b1["key"]["kty"], "RSA-HSM");
    assert_eq!(b1["key"]["e"], "AQAB");
    assert_eq!(
        decode_b64url(b1["key"]["n"].as_str().unwrap())
            .unwrap()
            .len(),
        384
    );
    assert_eq!(
        b1["key"]["kid"],
        format!("{}/keys/Contoso-Key001/{v1}", sim.url)
    );
    assert!(
        b1["key"].get("d").is_none(),
        "private parts must never be returned"
    );
    let a = &b1["attributes"];
    assert_eq!(a["enabled"], true);
    assert_eq!(a["recoveryLevel"], "Recoverable+ProtectedSubscription");
    assert_eq!(a["recoverableDays"], 90);
    assert_eq!(a["exportable"], false);
    assert!(a["created"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(a["created"], a["updated"]);
    assert_eq!(b1["tags"], json!({"env": "test"}));

    // Defaults: 2048 bits, all RSA operations.
    let d = sim.create("plain", json!({"kty": "RSA"}));
    assert_eq!(d["key"]["kty"], "RSA");
    assert_eq!(
        decode_b64url(d["key"]["n"].as_str().unwrap())
            .unwrap()
            .len(),
        256
    );
    assert_eq!(
        d["key"]["key_ops"],
        json!([
            "encrypt",
            "decrypt",
            "sign",
            "verify",
            "wrapKey",
            "unwrapKey"
        ])
    );

    // An existing name gets a new version; names are case-insensitive.
    let b2 = sim.create(
        "contoso-key001",
        json!({"kty": "RSA-HSM", "key_ops": ["wrapKey"]}),
    );
    let v2 = version_of(&b2);
    assert_ne!(v1, v2);
    assert_eq!(
        sim.ok("GET", "/keys/Contoso-Key001", None)["key"]["kid"],
        b2["key"]["kid"]
    );
    assert_eq!(
        sim.ok("GET", "/keys/Contoso-Key001/", None)["key"]["kid"],
        b2["key"]["kid"]
    );
    assert_eq!(
        sim.ok("GET", &format!("/keys/Contoso-Key001/{v1}"), None),
        b1
    );
    expect_err(
        sim.call(
            "GET",
            &format!("/keys/Contoso-Key001/{}", "0".repeat(32)),
            None,
        ),
        404,
        "KeyNotFound",
    );

    let versions = sim.ok("GET", "/keys/Contoso-Key001/versions", None);
    let kids: Vec<&str> = versions["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&b1["key"]["kid"].as_str().unwrap()));
    assert!(versions["value"][0].get("key").is_none());
    assert!(versions["value"][0]["attributes"]["enabled"].is_boolean());

    let list = sim.ok("GET", "/keys", None);
    assert_eq!(list["value"].as_array().unwrap().len(), 2);
    assert!(list["nextLink"].is_null());
    let item = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kid"] == b2["key"]["kid"])
        .expect("latest version listed");
    assert!(item["attributes"]["recoveryLevel"].is_string());

    // Update one version: attributes, ops, tags.
    let u = sim.ok(
        "PATCH",
        &format!("/keys/Contoso-Key001/{v1}"),
        Some(
            json!({"attributes": {"enabled": false, "exp": 253402214400i64},
                     "key_ops": ["wrapKey", "unwrapKey", "encrypt"], "tags": {"k": "v"}}),
        ),
    );
    assert_eq!(u["attributes"]["enabled"], false);
    assert_eq!(u["attributes"]["exp"], 253402214400i64);
    assert_eq!(
        u["key"]["key_ops"],
        json!(["wrapKey", "unwrapKey", "encrypt"])
    );
    assert_eq!(u["tags"], json!({"k": "v"}));
    assert_eq!(u["key"]["n"], b1["key"]["n"]);
    let again = sim.ok("GET", &format!("/keys/Contoso-Key001/{v1}"), None);
    assert_eq!(again["attributes"]["enabled"], false);
    // The latest version was not touched.
    assert_eq!(
        sim.ok("GET", "/keys/Contoso-Key001", None)["attributes"]["enabled"],
        true
    );

    // Refusals.
    for body in [
        json!({"kty": "RSA", "key_size": 1024}),
        json!({"kty": "EC", "crv": "P-256"}),
        json!({"kty": "oct"}),
        json!({}),
        json!({"kty": "RSA-HSM", "key_ops": ["import", "wrapKey"]}),
        json!({"kty": "RSA", "key_ops": ["import"]}),
        json!({"kty": "RSA", "key_ops": ["fly"]}),
        json!({"kty": "RSA", "public_exponent": 3}),
        json!({"kty": "RSA", "tags": {"a": 1}}),
    ] {
        expect_err(
            sim.call("POST", "/keys/refused/create", Some(body.clone())),
            400,
            "BadParameter",
        );
    }
    expect_err(
        sim.call(
            "PATCH",
            "/keys/Contoso-Key001/",
            Some(json!({"key_ops": ["import"]})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call("PATCH", "/keys/missing/", Some(json!({}))),
        404,
        "KeyNotFound",
    );
    expect_err(sim.call("GET", "/keys/refused", None), 404, "KeyNotFound");
}

#[test]
fn lists_are_paged_with_next_links() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    for i in 0..5 {
        sim.create("paged", json!({"kty": "RSA", "tags": {"i": i.to_string()}}));
    }
    let mut path = "/keys/paged/versions?maxresults=2".to_string();
    let mut sizes = Vec::new();
    let mut kids = Vec::new();
    loop {
        let r = sim
            .raw(
                "GET",
                &format!("{path}&api-version=7.6"),
                &[("authorization", AUTH)],
                None,
            )
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        let value = r.body["value"].as_array().unwrap();
        sizes.push(value.len());
        kids.extend(value.iter().map(|i| i["kid"].as_str().unwrap().to_string()));
        match r.body["nextLink"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with(&format!("{}/keys/paged/versions?api-version=7.6&", sim.url))
                );
                // As the SDKs do: follow the link, with our own api-version.
                path = next
                    .strip_prefix(&sim.url)
                    .unwrap()
                    .replace("api-version=7.6&", "");
            }
            None => break,
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    kids.sort();
    kids.dedup();
    assert_eq!(kids.len(), 5);
    expect_err(
        sim.call("GET", "/keys?maxresults=26", None),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call("GET", "/keys?maxresults=0", None),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call("GET", "/keys?$skiptoken=abc", None),
        400,
        "BadParameter",
    );
    assert_eq!(
        sim.ok("GET", "/keys?$skiptoken=99", None)["value"],
        json!([])
    );
}
