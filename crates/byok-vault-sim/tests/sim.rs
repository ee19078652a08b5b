//! End-to-end tests of `byok-vault-sim`: the built binary, over HTTPS, trusting its `ca.pem`.

use byok_core::kek::{decode_b64url, encode_b64url, rsa_from_parts};
use byok_core::keyid::KeyId;
use byok_core::package::Package;
use rsa::pkcs8::EncodePrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use ureq::SendBody;

const AUTH: &str = "Bearer test-token";

struct Sim {
    child: Child,
    log: PathBuf,
    url: String,
    ca: PathBuf,
    agent: ureq::Agent,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Whatever a test sent, the simulator must never have failed internally.
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        if !std::thread::panicking() {
            assert!(
                !log.contains("panicked")
                    && !log.contains(" -> 500")
                    && !log.contains("internal error"),
                "the simulator failed internally:\n{log}"
            );
        }
    }
}

struct Resp {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Value,
}

impl Sim {
    fn start(dir: &Path, extra: &[&str]) -> Sim {
        std::fs::create_dir_all(dir).expect("state dir");
        // The simulator ignores files it does not know in its state directory.
        let log_path = dir.join("sim.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_byok-vault-sim"))
            .args(["--listen", "127.0.0.1:0", "--state-dir"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start byok-vault-sim");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ready line");
        assert!(line.starts_with("{\"url\": \"https://127.0.0.1:"), "{line}");
        let ready: Value = serde_json::from_str(&line).expect("ready line is JSON");
        let url = ready["url"].as_str().expect("url").to_string();
        let ca = PathBuf::from(ready["ca"].as_str().expect("ca"));
        assert_eq!(ca, dir.canonicalize().unwrap().join("ca.pem"));
        let agent = byok_testkit::harness::agent_trusting(&ca);
        Sim {
            child,
            log: log_path,
            url,
            ca,
            agent,
        }
    }

    /// A request with any headers; `path` may carry its own query.
    fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Resp, ureq::Error> {
        let mut b = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.url));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let resp = match body {
            Some(bytes) => self.agent.run(
                b.header("content-type", "application/json")
                    .body(bytes)
                    .unwrap(),
            )?,
            None => self.agent.run(b.body(SendBody::none()).unwrap())?,
        };
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.into_body().read_to_string()?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    /// An authenticated request with api-version 7.6.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let sep = if path.contains('?') { '&' } else { '?' };
        self.raw(
            method,
            &format!("{path}{sep}api-version=7.6"),
            &[("authorization", AUTH)],
            body.map(|b| serde_json::to_vec(&b).unwrap()),
        )
        .expect("request")
    }

    fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let r = self.call(method, path, body);
        assert_eq!(r.status, 200, "{method} {path}: {}", r.body);
        r.body
    }

    fn create(&self, name: &str, body: Value) -> Value {
        self.ok("POST", &format!("/keys/{name}/create"), Some(body))
    }
}

fn error_code(r: &Resp) -> &str {
    r.body["error"]["code"].as_str().unwrap_or("")
}

fn expect_err(r: Resp, status: u16, code: &str) -> Resp {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(error_code(&r), code, "{}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    r
}

fn version_of(bundle: &Value) -> String {
    let kid = bundle["key"]["kid"].as_str().expect("kid");
    kid.rsplit('/').next().unwrap().to_string()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

// ---- BYOK package building, in software, as an HSM would ------------------------------

fn software_rsa(bits: usize) -> rsa::PrivateKey {
    rsa::PrivateKey::new(&mut rand::rng(), bits).expect("rsa keygen")
}

/// RSA-OAEP-SHA1(KEK, aes) || AES-KWP(aes, PKCS#8 DER of `target`).
fn byok_ciphertext(kek_n: &[u8], kek_e: &[u8], pkcs8: &[u8]) -> Vec<u8> {
    use aes_kw::KeyInit;
    let kek = rsa_from_parts(kek_n, kek_e).expect("KEK public key");
    let aes: [u8; 32] = rand::random();
    let mut out = kek
        .encrypt(&mut rand::rng(), rsa::Oaep::<sha1::Sha1>::new(), &aes)
        .expect("oaep");
    let kwp = aes_kw::KwpAes256::new_from_slice(&aes).unwrap();
    let mut buf = vec![0u8; pkcs8.len().div_ceil(8) * 8 + 8];
    out.extend_from_slice(kwp.wrap_key(pkcs8, &mut buf).expect("kwp"));
    out
}

fn byok_package(kid: &str, kek_n: &[u8], kek_e: &[u8], pkcs8: &[u8]) -> Vec<u8> {
    let kid = KeyId::parse(kid, byok_core::Mode::Rehearsal).expect("kid");
    let ct = byok_ciphertext(kek_n, kek_e, pkcs8);
    Package::new(&kid, &ct, "byok tests (software)".into()).to_bytes()
}

fn import_body(package: &[u8], ops: Value) -> Value {
    json!({
        "key": {"kty": "RSA-HSM", "key_ops": ops, "key_hsm": encode_b64url(package)},
        "Hsm": true,
        "attributes": {"enabled": true},
        "tags": {"source": "test"},
    })
}

fn make_kek(sim: &Sim, name: &str) -> (String, Vec<u8>, Vec<u8>) {
    let b = sim.create(
        name,
        json!({"kty": "RSA-HSM", "key_size": 2048, "key_ops": ["import"]}),
    );
    assert_eq!(b["key"]["key_ops"], json!(["import"]));
    let n = decode_b64url(b["key"]["n"].as_str().unwrap()).unwrap();
    let e = decode_b64url(b["key"]["e"].as_str().unwrap()).unwrap();
    (b["key"]["kid"].as_str().unwrap().to_string(), n, e)
}

// ---- tests ---------------------------------------------------------------------------

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
fn byok_import_and_refusals() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    let (kek_kid, n, e) = make_kek(&sim, "kek");

    // The key the "HSM" exports.
    let target = software_rsa(2048);
    let pkcs8 = target.to_pkcs8_der().unwrap();
    let package = byok_package(&kek_kid, &n, &e, pkcs8.as_bytes());
    let imported = sim.ok(
        "PUT",
        "/keys/target",
        Some(import_body(&package, json!(["wrapKey", "unwrapKey"]))),
    );
    assert_eq!(imported["key"]["kty"], "RSA-HSM");
    assert_eq!(
        decode_b64url(imported["key"]["n"].as_str().unwrap()).unwrap(),
        target.n().to_be_bytes_trimmed_vartime().to_vec()
    );
    assert_eq!(imported["key"]["key_ops"], json!(["wrapKey", "unwrapKey"]));
    assert_eq!(imported["tags"], json!({"source": "test"}));

    // Proof the vault holds exactly the software key: the vault wraps, we unwrap locally.
    let w = sim.ok(
        "POST",
        &format!("/keys/target/{}/wrapkey", version_of(&imported)),
        Some(
            json!({"alg": "RSA-OAEP", "value": encode_b64url(b"thirty-two bytes of key material")}),
        ),
    );
    let plain = target
        .decrypt(
            rsa::Oaep::<sha1::Sha1>::new(),
            &decode_b64url(w["value"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
    assert_eq!(plain, b"thirty-two bytes of key material");

    // Importing again adds a version.
    let again = sim.ok(
        "PUT",
        "/keys/target",
        Some(import_body(&package, json!(["wrapKey"]))),
    );
    assert_ne!(version_of(&again), version_of(&imported));

    // Tampered ciphertext: 400, nothing stored.
    let mut pkg: Value = serde_json::from_slice(&package).unwrap();
    let mut ct = decode_b64url(pkg["ciphertext"].as_str().unwrap()).unwrap();
    let last = ct.len() - 3;
    ct[last] ^= 0x40;
    pkg["ciphertext"] = json!(encode_b64url(&ct));
    let tampered = serde_json::to_vec(&pkg).unwrap();
    let r = expect_err(
        sim.call(
            "PUT",
            "/keys/tampered",
            Some(import_body(&tampered, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unwrap"),
        "{}",
        r.body
    );
    expect_err(sim.call("GET", "/keys/tampered", None), 404, "KeyNotFound");
    // Tampered RSA part too.
    let mut ct2 = decode_b64url(
        serde_json::from_slice::<Value>(&package).unwrap()["ciphertext"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    ct2[10] ^= 1;
    pkg["ciphertext"] = json!(encode_b64url(&ct2));
    let tampered = serde_json::to_vec(&pkg).unwrap();
    expect_err(
        sim.call(
            "PUT",
            "/keys/tampered",
            Some(import_body(&tampered, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );

    // KEK with other key_ops, or not RSA-HSM.
    let other = sim.create(
        "notkek",
        json!({"kty": "RSA-HSM", "key_ops": ["wrapKey", "unwrapKey"]}),
    );
    let on = decode_b64url(other["key"]["n"].as_str().unwrap()).unwrap();
    let p = byok_package(
        other["key"]["kid"].as_str().unwrap(),
        &on,
        &e,
        pkcs8.as_bytes(),
    );
    let r = expect_err(
        sim.call(
            "PUT",
            "/keys/refused",
            Some(import_body(&p, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("import"),
        "{}",
        r.body
    );
    let soft = sim.create("softkek", json!({"kty": "RSA"}));
    let sn = decode_b64url(soft["key"]["n"].as_str().unwrap()).unwrap();
    let p = byok_package(
        soft["key"]["kid"].as_str().unwrap(),
        &sn,
        &e,
        pkcs8.as_bytes(),
    );
    expect_err(
        sim.call(
            "PUT",
            "/keys/refused",
            Some(import_body(&p, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );

    // KEK in another vault: same key, another host; and an unknown KEK version.
    let elsewhere = kek_kid.replace(&sim.url, "https://contoso.vault.azure.net");
    let p = byok_package(&elsewhere, &n, &e, pkcs8.as_bytes());
    let r = expect_err(
        sim.call(
            "PUT",
            "/keys/refused",
            Some(import_body(&p, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not in this vault"),
        "{}",
        r.body
    );
    let other_port = kek_kid.replace(&sim.url, "https://127.0.0.1:1");
    let p = byok_package(&other_port, &n, &e, pkcs8.as_bytes());
    expect_err(
        sim.call(
            "PUT",
            "/keys/refused",
            Some(import_body(&p, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );
    let wrong_version = format!("{}/keys/kek/{}", sim.url, "a".repeat(32));
    let p = byok_package(&wrong_version, &n, &e, pkcs8.as_bytes());
    expect_err(
        sim.call(
            "PUT",
            "/keys/refused",
            Some(import_body(&p, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );

    // A package for a KEK that was since disabled.
    let disabled = sim.create("kek2", json!({"kty": "RSA-HSM", "key_ops": ["import"]}));
    let dn = decode_b64url(disabled["key"]["n"].as_str().unwrap()).unwrap();
    let p = byok_package(
        disabled["key"]["kid"].as_str().unwrap(),
        &dn,
        &e,
        pkcs8.as_bytes(),
    );
    sim.ok(
        "PATCH",
        "/keys/kek2/",
        Some(json!({"attributes": {"enabled": false}})),
    );
    expect_err(
        sim.call(
            "PUT",
            "/keys/refused",
            Some(import_body(&p, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );

    // Malformed key_hsm / package / kty.
    for body in [
        json!({"key": {"kty": "RSA-HSM", "key_hsm": "***"}, "Hsm": true}),
        json!({"key": {"kty": "RSA-HSM", "key_hsm": encode_b64url(b"not json")}, "Hsm": true}),
        json!({"key": {"kty": "RSA-HSM", "key_hsm": encode_b64url(b"{\"schema_version\":\"1.0.0\"}")}, "Hsm": true}),
        json!({"key": {"kty": "RSA", "key_hsm": encode_b64url(&package)}, "Hsm": true}),
        json!({"key": {"kty": "RSA-HSM"}, "Hsm": true}),
        json!({"key": {"kty": "RSA-HSM", "key_hsm": encode_b64url(&package), "key_ops": ["import"]}, "Hsm": true}),
        json!({"key": "x"}),
        json!({"Hsm": true}),
    ] {
        expect_err(
            sim.call("PUT", "/keys/refused", Some(body)),
            400,
            "BadParameter",
        );
    }
    expect_err(sim.call("GET", "/keys/refused", None), 404, "KeyNotFound");

    // A plain JWK import (software key).
    let jwk_key = software_rsa(2048);
    let b = |x: &rsa::BoxedUint| encode_b64url(&x.to_be_bytes_trimmed_vartime());
    let jwk = json!({
        "kty": "RSA", "key_ops": ["unwrapKey"],
        "n": b(jwk_key.n()), "e": b(jwk_key.e()), "d": b(jwk_key.d()),
        "p": b(&jwk_key.primes()[0]), "q": b(&jwk_key.primes()[1]),
    });
    let plain = sim.ok("PUT", "/keys/plain", Some(json!({"key": jwk})));
    assert_eq!(plain["key"]["kty"], "RSA");
    assert_eq!(plain["key"]["n"], jwk["n"]);
    let hsm = sim.ok(
        "PUT",
        "/keys/plainhsm",
        Some(json!({"key": jwk, "Hsm": true})),
    );
    assert_eq!(hsm["key"]["kty"], "RSA-HSM");
    let mut broken = jwk.clone();
    broken["d"] = json!(encode_b64url(&[1u8; 256]));
    expect_err(
        sim.call("PUT", "/keys/refused", Some(json!({"key": broken}))),
        400,
        "BadParameter",
    );

    let names: Vec<String> = sim.ok("GET", "/keys", None)["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["kid"]
                .as_str()
                .unwrap()
                .split('/')
                .nth(4)
                .unwrap()
                .to_string()
        })
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(
        names,
        ["kek", "kek2", "notkek", "plain", "plainhsm", "softkek", "target"]
    );
}

#[test]
fn wrap_unwrap_and_key_ops() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    let k = sim.create(
        "wk",
        json!({"kty": "RSA-HSM", "key_ops": ["wrapKey", "unwrapKey"]}),
    );
    let v = version_of(&k);
    let cek = [7u8; 32];
    for alg in ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"] {
        for path in [format!("/keys/wk/{v}"), "/keys/wk/".to_string()] {
            let w = sim.ok(
                "POST",
                &format!("{path}/wrapkey"),
                Some(json!({"alg": alg, "value": encode_b64url(&cek)})),
            );
            assert_eq!(w["kid"], k["key"]["kid"]);
            let u = sim.ok(
                "POST",
                &format!("{path}/unwrapKey"),
                Some(json!({"alg": alg, "value": w["value"]})),
            );
            assert_eq!(decode_b64url(u["value"].as_str().unwrap()).unwrap(), cek);
        }
    }
    // Wrapped locally with the public key (as the SDK does), unwrapped by the vault.
    let public = rsa_from_parts(
        &decode_b64url(k["key"]["n"].as_str().unwrap()).unwrap(),
        &decode_b64url(k["key"]["e"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let ct = public
        .encrypt(&mut rand::rng(), rsa::Oaep::<sha2::Sha256>::new(), &cek)
        .unwrap();
    let u = sim.ok(
        "POST",
        &format!("/keys/wk/{v}/unwrapkey"),
        Some(json!({"alg": "RSA-OAEP-256", "value": encode_b64url(&ct)})),
    );
    assert_eq!(decode_b64url(u["value"].as_str().unwrap()).unwrap(), cek);
    // Wrong algorithm for the ciphertext, garbage, unknown alg, bad base64.
    expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{v}/unwrapkey"),
            Some(json!({"alg": "RSA-OAEP", "value": encode_b64url(&ct)})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{v}/unwrapkey"),
            Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{v}/wrapkey"),
            Some(json!({"alg": "A256KW", "value": "AAAA"})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{v}/wrapkey"),
            Some(json!({"alg": "RSA-OAEP", "value": "!!"})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{v}/wrapkey"),
            Some(json!({"value": "AAAA"})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{}/wrapkey", "b".repeat(32)),
            Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
        ),
        404,
        "KeyNotFound",
    );

    // key_ops are obeyed.
    sim.create("onlywrap", json!({"kty": "RSA", "key_ops": ["wrapKey"]}));
    let w = sim.ok(
        "POST",
        "/keys/onlywrap//wrapkey",
        Some(json!({"alg": "RSA-OAEP", "value": encode_b64url(&cek)})),
    );
    let r = expect_err(
        sim.call(
            "POST",
            "/keys/onlywrap//unwrapkey",
            Some(json!({"alg": "RSA-OAEP", "value": w["value"]})),
        ),
        403,
        "Forbidden",
    );
    assert_eq!(
        r.body["error"]["innererror"]["code"],
        "KeyOperationForbidden"
    );
    make_kek(&sim, "kek");
    expect_err(
        sim.call(
            "POST",
            "/keys/kek//wrapkey",
            Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
        ),
        403,
        "Forbidden",
    );
    // Disabled keys refuse, and work again when re-enabled.
    sim.ok(
        "PATCH",
        &format!("/keys/wk/{v}"),
        Some(json!({"attributes": {"enabled": false}})),
    );
    let r = expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{v}/wrapkey"),
            Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
        ),
        403,
        "Forbidden",
    );
    assert_eq!(r.body["error"]["innererror"]["code"], "KeyDisabled");
    sim.ok(
        "PATCH",
        &format!("/keys/wk/{v}"),
        Some(json!({"attributes": {"enabled": true, "exp": 1000}})),
    );
    expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{v}/wrapkey"),
            Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
        ),
        403,
        "Forbidden",
    );
    sim.ok(
        "PATCH",
        &format!("/keys/wk/{v}"),
        Some(json!({"attributes": {"exp": null}})),
    );
    sim.ok(
        "POST",
        &format!("/keys/wk/{v}/wrapkey"),
        Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
    );
}

#[test]
fn backup_restore_and_conflicts() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &["--recovery-level", "Recoverable+Purgeable"]);
    let b1 = sim.create(
        "bk",
        json!({"kty": "RSA-HSM", "key_ops": ["wrapKey", "unwrapKey"]}),
    );
    let b2 = sim.create(
        "bk",
        json!({"kty": "RSA-HSM", "key_ops": ["wrapKey"], "tags": {"v": "2"}}),
    );
    let backup = sim.ok("POST", "/keys/bk/backup", None);
    let blob = decode_b64url(backup["value"].as_str().unwrap()).unwrap();
    // The same shape as a real Key Vault key backup: marker, then a compact JWE.
    byok_azure::backup::check_backup_form(&blob).unwrap();
    // Opaque: no key material or name in the clear.
    let text = String::from_utf8_lossy(&blob);
    assert!(
        !text.contains("private_pkcs8") && !text.contains("wrapKey"),
        "backup is not encrypted"
    );
    assert!(!blob
        .windows(8)
        .any(|w| w == &decode_b64url(b1["key"]["n"].as_str().unwrap()).unwrap()[..8]));

    // Live name: 409.
    let r = expect_err(
        sim.call("POST", "/keys/restore", Some(backup.clone())),
        409,
        "Conflict",
    );
    assert!(r.body["error"]["message"].as_str().unwrap().contains("bk"));
    // Deleted (recoverable) name: still 409.
    sim.ok("DELETE", "/keys/bk", None);
    expect_err(
        sim.call("POST", "/keys/restore", Some(backup.clone())),
        409,
        "Conflict",
    );
    // Tampered: 400.
    let mut bad = blob.clone();
    let i = bad.len() / 2;
    bad[i] ^= 1;
    expect_err(
        sim.call(
            "POST",
            "/keys/restore",
            Some(json!({"value": encode_b64url(&bad)})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call(
            "POST",
            "/keys/restore",
            Some(json!({"value": encode_b64url(&blob[..20])})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call("POST", "/keys/restore", Some(json!({"value": "%%%"}))),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call("POST", "/keys/restore", Some(json!({}))),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call("POST", "/keys/missing/backup", None),
        404,
        "KeyNotFound",
    );
    expect_err(
        sim.call("POST", "/keys/bk/backup", None),
        404,
        "KeyNotFound",
    );

    // Purged: restore brings back every version, same ids and material.
    let r = sim.call("DELETE", "/deletedkeys/bk", None);
    assert_eq!(r.status, 204, "{}", r.body);
    let restored = sim.ok("POST", "/keys/restore", Some(backup.clone()));
    assert_eq!(restored["key"], b2["key"]);
    assert_eq!(restored["tags"], json!({"v": "2"}));
    assert_eq!(
        sim.ok("GET", &format!("/keys/bk/{}", version_of(&b1)), None)["key"],
        b1["key"]
    );
    assert_eq!(
        sim.ok("GET", "/keys/bk/versions", None)["value"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Another vault (another secret) cannot open it.
    let dir2 = tmp();
    let other = Sim::start(dir2.path(), &[]);
    expect_err(
        other.call("POST", "/keys/restore", Some(backup)),
        400,
        "BadParameter",
    );
}

#[test]
fn soft_delete_recover_purge_by_recovery_level() {
    // Default level: soft delete, recover, no purge.
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    let k = sim.create("dk", json!({"kty": "RSA-HSM"}));
    let d = sim.ok("DELETE", "/keys/dk", None);
    assert_eq!(d["recoveryId"], format!("{}/deletedkeys/dk", sim.url));
    let dd = d["deletedDate"].as_i64().unwrap();
    assert_eq!(d["scheduledPurgeDate"].as_i64().unwrap(), dd + 90 * 86400);
    assert_eq!(d["key"], k["key"]);
    expect_err(sim.call("GET", "/keys/dk", None), 404, "KeyNotFound");
    expect_err(sim.call("DELETE", "/keys/dk", None), 404, "KeyNotFound");
    assert_eq!(sim.ok("GET", "/keys", None)["value"], json!([]));
    let listed = sim.ok("GET", "/deletedkeys", None);
    assert_eq!(listed["value"][0]["recoveryId"], d["recoveryId"]);
    assert_eq!(listed["value"][0]["kid"], k["key"]["kid"]);
    assert_eq!(sim.ok("GET", "/deletedkeys/dk", None)["key"], k["key"]);
    expect_err(
        sim.call("POST", "/keys/dk/create", Some(json!({"kty": "RSA"}))),
        409,
        "Conflict",
    );
    let r = expect_err(
        sim.call("DELETE", "/deletedkeys/dk", None),
        403,
        "Forbidden",
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Recoverable+ProtectedSubscription"));
    let rec = sim.ok("POST", "/deletedkeys/dk/recover", None);
    assert_eq!(rec["key"], k["key"]);
    assert_eq!(sim.ok("GET", "/keys/dk", None)["key"], k["key"]);
    expect_err(sim.call("GET", "/deletedkeys/dk", None), 404, "KeyNotFound");
    expect_err(
        sim.call("POST", "/deletedkeys/dk/recover", None),
        404,
        "KeyNotFound",
    );
    drop(sim);

    // Purgeable level: purge works, the name is free again.
    let dir = tmp();
    let sim = Sim::start(dir.path(), &["--recovery-level", "Recoverable+Purgeable"]);
    sim.create("pk", json!({"kty": "RSA"}));
    let d = sim.ok("DELETE", "/keys/pk", None);
    assert_eq!(d["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
    assert_eq!(sim.call("DELETE", "/deletedkeys/pk", None).status, 204);
    expect_err(sim.call("GET", "/deletedkeys/pk", None), 404, "KeyNotFound");
    expect_err(
        sim.call("DELETE", "/deletedkeys/pk", None),
        404,
        "KeyNotFound",
    );
    sim.create("pk", json!({"kty": "RSA"}));
    drop(sim);

    // No soft delete at all: delete is final.
    let dir = tmp();
    let sim = Sim::start(dir.path(), &["--recovery-level", "Purgeable"]);
    sim.create("gone", json!({"kty": "RSA"}));
    let d = sim.ok("DELETE", "/keys/gone", None);
    assert!(d.get("recoveryId").is_none());
    assert!(d["attributes"].get("recoverableDays").is_none());
    assert_eq!(sim.ok("GET", "/deletedkeys", None)["value"], json!([]));
    expect_err(sim.call("GET", "/keys/gone", None), 404, "KeyNotFound");
}

#[test]
fn bad_recovery_level_is_refused() {
    let dir = tmp();
    let out = Command::new(env!("CARGO_BIN_EXE_byok-vault-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--recovery-level",
            "Forever",
            "--state-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("recovery level"));
}

#[test]
fn restart_keeps_state_certificates_and_backup_secret() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    let k = sim.create(
        "keep",
        json!({"kty": "RSA-HSM", "key_ops": ["wrapKey", "unwrapKey"], "tags": {"a": "b"}}),
    );
    sim.create("gone", json!({"kty": "RSA"}));
    sim.ok("DELETE", "/keys/gone", None);
    let backup = sim.ok("POST", "/keys/keep/backup", None);
    let w = sim.ok(
        "POST",
        "/keys/keep//wrapkey",
        Some(json!({"alg": "RSA-OAEP", "value": encode_b64url(b"abc")})),
    );
    let ca = std::fs::read(&sim.ca).unwrap();
    let old_url = sim.url.clone();
    drop(sim);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("state.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "state file must be private");

    let sim = Sim::start(dir.path(), &[]);
    assert_eq!(std::fs::read(&sim.ca).unwrap(), ca, "the CA is reused");
    let again = sim.ok("GET", "/keys/keep", None);
    assert_eq!(again["key"]["n"], k["key"]["n"]);
    assert_eq!(version_of(&again), version_of(&k));
    assert_eq!(again["tags"], json!({"a": "b"}));
    assert_eq!(
        again["key"]["kid"],
        k["key"]["kid"]
            .as_str()
            .unwrap()
            .replace(&old_url, &sim.url)
    );
    assert!(sim.ok("GET", "/deletedkeys/gone", None)["recoveryId"].is_string());
    let u = sim.ok(
        "POST",
        "/keys/keep//unwrapkey",
        Some(json!({"alg": "RSA-OAEP", "value": w["value"]})),
    );
    assert_eq!(decode_b64url(u["value"].as_str().unwrap()).unwrap(), b"abc");
    // The blob still opens (409 because the name is taken, not 400).
    expect_err(
        sim.call("POST", "/keys/restore", Some(backup)),
        409,
        "Conflict",
    );
}

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

/// Hostile RSA components (plain JWK and, through a real KEK, PKCS#8 in a BYOK package)
/// are refused with 400; the server never fails or dies.
#[test]
fn hostile_key_material_is_refused() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    let real = software_rsa(2048);
    let be = |x: &rsa::BoxedUint| x.to_be_bytes_trimmed_vartime().to_vec();
    let n = be(real.n());
    let e = be(real.e());
    let d = be(real.d());
    let p = be(&real.primes()[0]);
    let q = be(&real.primes()[1]);
    let big = vec![0xffu8; 256];
    let even = {
        let mut x = n.clone();
        *x.last_mut().unwrap() &= 0xfe;
        x
    };
    let cases: Vec<[Vec<u8>; 5]> = vec![
        [vec![0], e.clone(), d.clone(), p.clone(), q.clone()],
        [vec![1], e.clone(), d.clone(), p.clone(), q.clone()],
        [n.clone(), vec![0], d.clone(), p.clone(), q.clone()],
        [n.clone(), vec![1], d.clone(), p.clone(), q.clone()],
        [n.clone(), vec![2], d.clone(), p.clone(), q.clone()],
        [n.clone(), e.clone(), vec![0], p.clone(), q.clone()],
        [n.clone(), e.clone(), vec![1], p.clone(), q.clone()],
        [n.clone(), e.clone(), d.clone(), vec![0], q.clone()],
        [n.clone(), e.clone(), d.clone(), vec![1], vec![1]],
        [n.clone(), e.clone(), d.clone(), vec![2], q.clone()],
        [n.clone(), e.clone(), d.clone(), p.clone(), p.clone()],
        [n.clone(), e.clone(), d.clone(), n.clone(), vec![1]],
        [
            big.clone(),
            e.clone(),
            big.clone(),
            big[..128].to_vec(),
            big[..128].to_vec(),
        ],
        [even, e.clone(), d.clone(), p.clone(), q.clone()],
        [n.clone(), vec![0xff; 9], d.clone(), p.clone(), q.clone()],
        [
            n[..128].to_vec(),
            e.clone(),
            d[..100].to_vec(),
            p[..64].to_vec(),
            q[..64].to_vec(),
        ],
        [vec![0xff; 1025], e.clone(), d.clone(), p.clone(), q.clone()],
    ];
    for (i, [n, e, d, p, q]) in cases.iter().enumerate() {
        let jwk = json!({"kty": "RSA", "n": encode_b64url(n), "e": encode_b64url(e),
                         "d": encode_b64url(d), "p": encode_b64url(p), "q": encode_b64url(q)});
        let r = sim.call("PUT", "/keys/hostile", Some(json!({"key": jwk})));
        assert_eq!(r.status, 400, "case {i}: {}", r.body);
    }
    // The real components (with p and q swapped too) are fine.
    for (a, b) in [(&p, &q), (&q, &p)] {
        let jwk = json!({"kty": "RSA", "n": encode_b64url(&n), "e": encode_b64url(&e),
                         "d": encode_b64url(&d), "p": encode_b64url(a), "q": encode_b64url(b)});
        sim.ok("PUT", "/keys/fine", Some(json!({"key": jwk})));
    }

    // Through BYOK: well wrapped, but the plaintext is not an acceptable key.
    let (kek_kid, kn, ke) = make_kek(&sim, "kek");
    let small = software_rsa(1024).to_pkcs8_der().unwrap();
    let junk_pkcs8: Vec<Vec<u8>> = vec![
        small.as_bytes().to_vec(),
        vec![0x30, 0x03, 0x02, 0x01, 0x00],
        vec![0x30, 0x82, 0xff, 0xff, 0x00],
        vec![0u8; 64],
        b"not DER at all, just text".to_vec(),
        {
            let mut x = real.to_pkcs8_der().unwrap().as_bytes().to_vec();
            x.extend_from_slice(&[1, 2, 3]);
            x
        },
    ];
    for (i, pt) in junk_pkcs8.iter().enumerate() {
        let pkg = byok_package(&kek_kid, &kn, &ke, pt);
        let r = sim.call(
            "PUT",
            "/keys/hostile",
            Some(import_body(&pkg, json!(["wrapKey"]))),
        );
        assert_eq!(r.status, 400, "byok case {i}: {}", r.body);
    }
    // Ciphertexts at or above the modulus, and too-long plaintexts.
    let mut ct = vec![0xffu8; 256];
    let mut kwp = [0x5au8; 1224].to_vec();
    ct.append(&mut kwp);
    let pkg = Package::new(
        &KeyId::parse(&kek_kid, byok_core::Mode::Rehearsal).unwrap(),
        &ct,
        "junk".into(),
    )
    .to_bytes();
    expect_err(
        sim.call(
            "PUT",
            "/keys/hostile",
            Some(import_body(&pkg, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );
    sim.create("wk", json!({"kty": "RSA"}));
    for alg in ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"] {
        for len in [0usize, 255, 256, 257, 4096] {
            let v = encode_b64url(&vec![0xff; len]);
            let r = sim.call(
                "POST",
                "/keys/wk//unwrapkey",
                Some(json!({"alg": alg, "value": v})),
            );
            assert_eq!(r.status, 400, "unwrap {alg} {len}: {}", r.body);
        }
        let r = sim.call(
            "POST",
            "/keys/wk//wrapkey",
            Some(json!({"alg": alg, "value": encode_b64url(&[1u8; 250])})),
        );
        assert_eq!(r.status, 400, "wrap {alg}: {}", r.body);
    }

    // Zero padding after the DER (SoftHSM 2.6): refused unless --accept-padded-pkcs8.
    let mut padded = real.to_pkcs8_der().unwrap().as_bytes().to_vec();
    padded.extend_from_slice(&[0, 0, 0, 0, 0]);
    let pkg = byok_package(&kek_kid, &kn, &ke, &padded);
    let r = expect_err(
        sim.call(
            "PUT",
            "/keys/padded",
            Some(import_body(&pkg, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--accept-padded-pkcs8"));
    expect_err(sim.call("GET", "/keys/hostile", None), 404, "KeyNotFound");
    drop(sim);
    let sim = Sim::start(dir.path(), &["--accept-padded-pkcs8"]);
    let kek = sim.ok("GET", "/keys/kek", None);
    let pkg = byok_package(kek["key"]["kid"].as_str().unwrap(), &kn, &ke, &padded);
    let ok = sim.ok(
        "PUT",
        "/keys/padded",
        Some(import_body(&pkg, json!(["wrapKey"]))),
    );
    assert_eq!(decode_b64url(ok["key"]["n"].as_str().unwrap()).unwrap(), n);
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

/// Request bodies as Key Vault reads them: of two equal keys the last wins (its .NET JSON
/// reader does that; the body is not refused), unknown fields are ignored, and a wrong
/// type is a 400 that names the field.
#[test]
fn duplicate_keys_unknown_fields_and_wrong_types() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    let send = |path: &str, body: &str| {
        sim.raw(
            "POST",
            &format!("{path}?api-version=7.6"),
            &[("authorization", AUTH)],
            Some(body.as_bytes().to_vec()),
        )
        .unwrap()
    };
    let r = send(
        "/keys/dup/create",
        r#"{"kty": "EC", "kty": "RSA", "key_ops": ["sign"], "key_ops": ["wrapKey"],
            "release_policy": null, "attributes": {"enabled": true, "hsmPlatform": "x"}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["key"]["kty"], "RSA");
    assert_eq!(r.body["key"]["key_ops"], json!(["wrapKey"]));
    let r = send("/keys/dup2/create", r#"{"kty": "RSA", "kty": "EC"}"#);
    expect_err(r, 400, "BadParameter");
    let r = send("/keys/dup2/create", r#"{"kty": "RSA", "key_size": "big"}"#);
    let r = expect_err(r, 400, "BadParameter");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("'key_size'"), "{message}");
    expect_err(sim.call("GET", "/keys/dup2", None), 404, "KeyNotFound");
}
