//! The simulator process, its HTTPS client, and BYOK packages built in software as an HSM
//! would.

use byok_core::kek::{decode_b64url, encode_b64url, rsa_from_parts};
use byok_core::keyid::KeyId;
use byok_core::package::Package;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use ureq::SendBody;

pub(crate) const AUTH: &str = "Bearer test-token";

pub(crate) struct Sim {
    child: Child,
    log: PathBuf,
    pub(crate) url: String,
    pub(crate) ca: PathBuf,
    /// What the ready line says it plays: `keyvault` or `managedhsm`.
    pub(crate) kind: String,
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

pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: ureq::http::HeaderMap,
    pub(crate) body: Value,
}

impl Sim {
    pub(crate) fn start(dir: &Path, extra: &[&str]) -> Sim {
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
        let kind = ready["kind"].as_str().expect("kind").to_string();
        assert_eq!(ca, dir.canonicalize().unwrap().join("ca.pem"));
        let agent = byok_testkit::harness::agent_trusting(&ca);
        Sim {
            child,
            log: log_path,
            url,
            ca,
            kind,
            agent,
        }
    }

    /// A request with any headers; `path` may carry its own query.
    pub(crate) fn raw(
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
    pub(crate) fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let sep = if path.contains('?') { '&' } else { '?' };
        self.raw(
            method,
            &format!("{path}{sep}api-version=7.6"),
            &[("authorization", AUTH)],
            body.map(|b| serde_json::to_vec(&b).unwrap()),
        )
        .expect("request")
    }

    pub(crate) fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let r = self.call(method, path, body);
        assert_eq!(r.status, 200, "{method} {path}: {}", r.body);
        r.body
    }

    pub(crate) fn create(&self, name: &str, body: Value) -> Value {
        self.ok("POST", &format!("/keys/{name}/create"), Some(body))
    }
}

pub(crate) fn error_code(r: &Resp) -> &str {
    r.body["error"]["code"].as_str().unwrap_or("")
}

pub(crate) fn expect_err(r: Resp, status: u16, code: &str) -> Resp {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(error_code(&r), code, "{}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    r
}

pub(crate) fn version_of(bundle: &Value) -> String {
    let kid = bundle["key"]["kid"].as_str().expect("kid");
    kid.rsplit('/').next().unwrap().to_string()
}

pub(crate) fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

// ---- BYOK package building, in software, as an HSM would ------------------------------

pub(crate) fn software_rsa(bits: usize) -> rsa::PrivateKey {
    rsa::PrivateKey::new(&mut rand::rng(), bits).expect("rsa keygen")
}

/// RSA-OAEP-SHA1(KEK, aes) || AES-KWP(aes, PKCS#8 DER of `target`).
pub(crate) fn byok_ciphertext(kek_n: &[u8], kek_e: &[u8], pkcs8: &[u8]) -> Vec<u8> {
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

pub(crate) fn byok_package(kid: &str, kek_n: &[u8], kek_e: &[u8], pkcs8: &[u8]) -> Vec<u8> {
    let kid = KeyId::parse(kid, byok_core::Mode::Rehearsal).expect("kid");
    let ct = byok_ciphertext(kek_n, kek_e, pkcs8);
    Package::new(&kid, &ct, "byok tests (software)".into()).to_bytes()
}

pub(crate) fn import_body(package: &[u8], ops: Value) -> Value {
    json!({
        "key": {"kty": "RSA-HSM", "key_ops": ops, "key_hsm": encode_b64url(package)},
        "Hsm": true,
        "attributes": {"enabled": true},
        "tags": {"source": "test"},
    })
}

pub(crate) fn make_kek(sim: &Sim, name: &str) -> (String, Vec<u8>, Vec<u8>) {
    let b = sim.create(
        name,
        json!({"kty": "RSA-HSM", "key_size": 2048, "key_ops": ["import"]}),
    );
    assert_eq!(b["key"]["key_ops"], json!(["import"]));
    let n = decode_b64url(b["key"]["n"].as_str().unwrap()).unwrap();
    let e = decode_b64url(b["key"]["e"].as_str().unwrap()).unwrap();
    (b["key"]["kid"].as_str().unwrap().to_string(), n, e)
}
