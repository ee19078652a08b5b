//! The OpenBao / HashiCorp Vault transit client: the wrapping key, BYOK import (a new key
//! or a new version), and reading a key back. Both servers speak the same API.
//!
//! The HTTP client is the vault's ([`crate::vault::transport`]: reqwest with rustls and
//! ring, `--ca-file`, timeouts, no redirects), with the same rules on answers:
//! - **one origin**: every request goes to the address given, and a redirect (3xx) is an
//!   error naming its status, never followed, so the token goes nowhere else;
//! - **answers read whole, capped** at 1 MiB (a `Content-Length` over the cap is refused
//!   unread, a longer body as soon as it passes the cap), and **JSON naming a key twice
//!   is refused**;
//! - **no retry of writes**: an import whose connection broke after it was sent is
//!   "outcome unknown", with the command that shows what the server holds;
//! - **the token** goes in the `X-Vault-Token` header only (marked sensitive), and no
//!   message carries it: the server's error texts are scrubbed of it too.

mod address;
mod token;

pub use token::{token_from_env_or_file, BaoToken};

use crate::causes::{chain_text, has_cause};
use crate::vault::transport::{http_client_with_ca, ANSWER_LIMIT, TLS_UNTRUSTED};
use byok_core::hsm::OaepHash;
use byok_core::{err, ErrorKind, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Longest piece of a server's error text shown in a message.
const SERVER_TEXT_MAX: usize = 300;

/// A connected OpenBao (or Vault) transit mount.
pub struct OpenBao {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    /// `scheme://host[:port]`, lowercase, no trailing slash.
    origin: String,
    mount: String,
    token: BaoToken,
}

impl std::fmt::Debug for OpenBao {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenBao")
            .field("origin", &self.origin)
            .field("mount", &self.mount)
            .finish_non_exhaustive()
    }
}

/// A transit key as OpenBao shows it (`GET /v1/MOUNT/keys/NAME`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaoKey {
    pub name: String,
    /// `rsa-2048`, `rsa-3072`, `rsa-4096`, `aes256-gcm96`, …
    pub key_type: String,
    /// Imported (BYOK) rather than made by OpenBao.
    pub imported_key: bool,
    pub exportable: bool,
    pub allow_plaintext_backup: bool,
    pub latest_version: u32,
    /// Each version's public key (SPKI PEM). Versions without one (symmetric keys) are
    /// not listed.
    pub versions: BTreeMap<u32, String>,
}

/// A request's method, as far as retrying and messages go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    /// A write: never retried; broken after sending, its outcome is unknown.
    Write,
}

/// An answer: its status and body (read whole, capped, duplicate keys refused).
struct Answer {
    status: reqwest::StatusCode,
    body: Vec<u8>,
}

impl OpenBao {
    /// Connect to the transit mount `mount` of the OpenBao at `address` (checked: https;
    /// plain http only on loopback in a rehearsal), trusting `ca_file`'s CAs besides the
    /// system's. Nothing is sent yet.
    pub fn connect(
        address: &str,
        mount: &str,
        ca_file: Option<&Path>,
        rehearsal: bool,
        token: BaoToken,
    ) -> Result<OpenBao> {
        let origin = address::check_address(address, rehearsal)?;
        address::check_mount(mount)?;
        let client = http_client_with_ca(ca_file)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err!(Internal, "cannot start the HTTP runtime ({e})"))?;
        Ok(OpenBao {
            rt,
            client,
            origin,
            mount: mount.to_string(),
            token,
        })
    }

    /// `scheme://host[:port]` of the server.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The transit mount.
    pub fn mount(&self) -> &str {
        &self.mount
    }

    /// The mount's wrapping key (`GET /v1/MOUNT/wrapping_key`): an RSA public key, SPKI
    /// PEM, as OpenBao gave it (checked to be one).
    pub fn wrapping_key(&self) -> Result<String> {
        #[derive(Deserialize)]
        struct Data {
            public_key: String,
        }
        let a = self.send(reqwest::Method::GET, "wrapping_key", None, Op::Read)?;
        self.refuse_error(&a, "the wrapping key")?;
        let pem = self.parse::<Data>(&a.body, "the wrapping key")?.public_key;
        use rsa::pkcs8::DecodePublicKey;
        rsa::PublicKey::from_public_key_pem(pem.trim()).map_err(|e| {
            err!(
                Service,
                "OpenBao at {}: the wrapping key of mount {} is not an RSA public key in PEM ({e}); is the mount a transit mount?",
                self.origin,
                self.mount
            )
        })?;
        Ok(pem)
    }

    /// The key `name` (`GET /v1/MOUNT/keys/NAME`); `None` when the mount has no such key.
    pub fn read_key(&self, name: &str) -> Result<Option<BaoKey>> {
        address::check_key_name(name)?;
        let what = format!("the read of key {name}");
        let a = self.send(
            reqwest::Method::GET,
            &format!("keys/{name}"),
            None,
            Op::Read,
        )?;
        // A missing key is a 404 without error text; a missing mount (or path) is a 404
        // naming the route, an error.
        if a.status == reqwest::StatusCode::NOT_FOUND && server_errors(&a.body).is_empty() {
            return Ok(None);
        }
        self.refuse_error(&a, &what)?;
        #[derive(Deserialize)]
        struct Data {
            name: String,
            #[serde(rename = "type")]
            key_type: String,
            #[serde(default)]
            imported_key: bool,
            #[serde(default)]
            exportable: bool,
            #[serde(default)]
            allow_plaintext_backup: bool,
            latest_version: u32,
            keys: BTreeMap<String, serde_json::Value>,
        }
        let d: Data = self.parse(&a.body, &what)?;
        let mut versions = BTreeMap::new();
        for (v, entry) in &d.keys {
            let n: u32 = v.parse().map_err(|_| {
                self.odd(&what, &format!("a version named {:?}", clip(&self.hide(v))))
            })?;
            if let Some(pk) = entry.get("public_key") {
                let pem = pk
                    .as_str()
                    .ok_or_else(|| self.odd(&what, "a public_key that is not a string"))?;
                versions.insert(n, pem.to_string());
            }
        }
        if d.name != name {
            return Err(self.odd(&what, &format!("the name {:?}", clip(&self.hide(&d.name)))));
        }
        Ok(Some(BaoKey {
            name: d.name,
            key_type: d.key_type,
            imported_key: d.imported_key,
            exportable: d.exportable,
            allow_plaintext_backup: d.allow_plaintext_backup,
            latest_version: d.latest_version,
            versions,
        }))
    }

    /// Import a new key `name` of `key_type` (`rsa-2048`, …) from `ciphertext_b64` (the
    /// standard base64 of RSA-OAEP(`hash`) of an AES-256 key, then AES-KWP of the key's
    /// PKCS#8), never exportable, rotatable by OpenBao or backed up in plaintext. OpenBao
    /// refuses a name it already holds. Not retried: a broken connection after sending is
    /// `OutcomeUnknown`.
    pub fn import(
        &self,
        name: &str,
        ciphertext_b64: &str,
        hash: OaepHash,
        key_type: &str,
    ) -> Result<()> {
        address::check_key_name(name)?;
        let body = serde_json::json!({
            "ciphertext": ciphertext_b64,
            "hash_function": hash_function(hash),
            "type": key_type,
            "exportable": false,
            "allow_rotation": false,
            "allow_plaintext_backup": false,
        });
        self.write(name, "import", body)
    }

    /// Import a new version of the imported key `name` (a roll).
    pub fn import_version(&self, name: &str, ciphertext_b64: &str, hash: OaepHash) -> Result<()> {
        address::check_key_name(name)?;
        let body = serde_json::json!({
            "ciphertext": ciphertext_b64,
            "hash_function": hash_function(hash),
        });
        self.write(name, "import_version", body)
    }

    fn write(&self, name: &str, op: &str, body: serde_json::Value) -> Result<()> {
        let path = format!("keys/{name}/{op}");
        let what = format!("the {op} of key {name}");
        let a = self
            .send(reqwest::Method::POST, &path, Some(body), Op::Write)
            .map_err(|e| {
                if e.is(ErrorKind::OutcomeUnknown) {
                    err!(
                        OutcomeUnknown,
                        "outcome unknown: {what} was sent to OpenBao at {} and the connection broke before its answer; it was not retried: check the key with `bao read {}/keys/{name}`",
                        self.origin,
                        self.mount
                    )
                } else {
                    e
                }
            })?;
        self.refuse_error(&a, &what)
    }

    /// Send one request to this server's origin, and read its answer whole.
    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        op: Op,
    ) -> Result<Answer> {
        let url = format!("{}/v1/{}/{path}", self.origin, self.mount);
        let mut token = reqwest::header::HeaderValue::from_str(self.token.expose())
            .map_err(|_| err!("the OpenBao token is not a valid HTTP header value"))?;
        token.set_sensitive(true);
        let mut req = self
            .client
            .request(method, &url)
            .header("X-Vault-Token", token);
        if let Some(b) = body {
            let bytes = serde_json::to_vec(&b)
                .map_err(|e| err!(Internal, "cannot encode a request ({e})"))?;
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes);
        }
        let result = self.rt.block_on(async {
            let resp = req.send().await.map_err(|e| self.broken(e, op))?;
            let status = resp.status();
            let body = self.read_capped(resp).await.map_err(|e| match e {
                Capped::Refused(e) => e,
                Capped::Broken(e) => self.broken(e, op),
            })?;
            Ok::<_, byok_core::Error>(Answer { status, body })
        });
        result.map_err(|e| self.scrub(e))
    }

    /// Read an answer whole, refusing it past [`ANSWER_LIMIT`] and when its JSON names a
    /// key twice.
    async fn read_capped(
        &self,
        mut resp: reqwest::Response,
    ) -> std::result::Result<Vec<u8>, Capped> {
        let too_long = || {
            Capped::Refused(err!(
                Service,
                "the answer from OpenBao at {} is longer than {ANSWER_LIMIT} bytes, far more than any OpenBao answer: refused; check the address and any proxy in between",
                self.origin
            ))
        };
        if resp.content_length().is_some_and(|n| n > ANSWER_LIMIT) {
            return Err(too_long());
        }
        let mut buf = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(Capped::Broken)? {
            if (buf.len() + chunk.len()) as u64 > ANSWER_LIMIT {
                return Err(too_long());
            }
            buf.extend_from_slice(&chunk);
        }
        if let Err(e) = byok_core::json::check_unique_keys(&buf) {
            return Err(Capped::Refused(err!(
                Integrity,
                "the answer from OpenBao at {} is refused: {}; check the address and any proxy in between",
                self.origin,
                e.message()
            )));
        }
        Ok(buf)
    }

    /// A request that failed without an answer: TLS refused, never sent, or (for a
    /// write) broken after sending, its outcome unknown.
    fn broken(&self, e: reqwest::Error, op: Op) -> byok_core::Error {
        let tls = has_cause::<rustls::Error>(&e);
        let unsent = e.is_connect() || e.is_builder();
        let cause = chain_text(&e.without_url(), 200);
        if tls {
            err!(
                Service,
                "OpenBao at {}: {TLS_UNTRUSTED} ({cause})",
                self.origin
            )
        } else if op == Op::Write && !unsent {
            err!(
                OutcomeUnknown,
                "the connection to OpenBao at {} broke after the request was sent ({cause})",
                self.origin
            )
        } else {
            err!(
                Service,
                "cannot reach OpenBao at {} ({cause}); check the address",
                self.origin
            )
        }
    }

    /// Refuse an answer that is not a success: a redirect by its status (never
    /// followed), an error with OpenBao's own text.
    fn refuse_error(&self, a: &Answer, what: &str) -> Result<()> {
        let s = a.status;
        if s.is_success() {
            return Ok(());
        }
        if s.is_redirection() {
            return Err(self.scrub(err!(
                Service,
                "OpenBao at {} answered {what} with a redirect ({s}): byok follows no redirect, so nothing was sent elsewhere; give the server's own address",
                self.origin
            )));
        }
        let errors = server_errors(&a.body);
        let text = if errors.is_empty() {
            "no error text".to_string()
        } else {
            self.hide(&errors.join("; "))
        };
        let kind = match s.as_u16() {
            404 => ErrorKind::NotFound,
            _ => ErrorKind::Service,
        };
        let hint = match s.as_u16() {
            401 | 403 => "; check the token and its policy (it needs the transit mount's paths)",
            _ => "",
        };
        Err(self.scrub(byok_core::Error::new(
            kind,
            format!(
                "OpenBao at {} refused {what} ({s}): {}{hint}",
                self.origin,
                clip(&text)
            ),
        )))
    }

    /// Parse a success's `data`.
    fn parse<T: serde::de::DeserializeOwned>(&self, body: &[u8], what: &str) -> Result<T> {
        #[derive(Deserialize)]
        struct Envelope<T> {
            data: T,
        }
        serde_json::from_slice::<Envelope<T>>(body)
            .map(|e| e.data)
            .map_err(|e| self.odd(what, &format!("an answer byok cannot read ({e})")))
    }

    /// The error for an answer that is not what OpenBao sends.
    fn odd(&self, what: &str, found: &str) -> byok_core::Error {
        self.scrub(err!(
            Service,
            "OpenBao at {} answered about {what} with {found}: is it an OpenBao or Vault transit mount?",
            self.origin
        ))
    }

    /// A server's text with the token, should it echo it, blanked out (before the text
    /// is clipped, which could cut the token in two).
    fn hide(&self, s: &str) -> String {
        s.replace(self.token.expose(), "[token]")
    }

    /// The error with the token, should anything have echoed it, blanked out.
    fn scrub(&self, e: byok_core::Error) -> byok_core::Error {
        let t = self.token.expose();
        if e.message().contains(t) {
            byok_core::Error::new(e.kind(), e.message().replace(t, "[token]"))
        } else {
            e
        }
    }
}

/// What reading a body can end in besides the body.
enum Capped {
    Refused(byok_core::Error),
    Broken(reqwest::Error),
}

/// OpenBao's name of an OAEP hash.
fn hash_function(hash: OaepHash) -> &'static str {
    match hash {
        OaepHash::Sha1 => "SHA1",
        OaepHash::Sha256 => "SHA256",
    }
}

/// The texts of an error answer's `errors`, each made one short visible line (Go's
/// "1 error occurred:\n\t* …" list flattened).
fn server_errors(body: &[u8]) -> Vec<String> {
    #[derive(Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<serde_json::Value>,
    }
    let Ok(e) = serde_json::from_slice::<Errors>(body) else {
        return Vec::new();
    };
    e.errors
        .iter()
        .map(|v| match v.as_str() {
            Some(s) => one_line(s),
            None => one_line(&v.to_string()),
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// A server's text as one short line: Go's "N errors occurred:" header and "* " bullets
/// dropped, hidden characters (controls, bidi overrides) dropped, whitespace collapsed.
fn one_line(s: &str) -> String {
    let words: Vec<&str> = s
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_go_error_header(l))
        .map(|l| l.trim_start_matches("* "))
        .collect();
    let joined = words.join("; ");
    let visible: String = joined
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .filter(|c| !byok_core::text::is_hidden(*c))
        .collect();
    visible.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Go's `multierror` header: "1 error occurred:", "2 errors occurred:".
fn is_go_error_header(line: &str) -> bool {
    line.ends_with("occurred:") && line.contains("error")
}

/// At most [`SERVER_TEXT_MAX`] characters of `s`.
fn clip(s: &str) -> String {
    if s.chars().count() <= SERVER_TEXT_MAX {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(SERVER_TEXT_MAX).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_error_lists_become_one_visible_line() {
        let body = br#"{"errors":["1 error occurred:\n\t* the import path cannot be used with an existing key\n\n", "bad \u001b[31mred\u202e text\r\nhere"]}"#;
        assert_eq!(
            server_errors(body),
            [
                "the import path cannot be used with an existing key",
                "bad [31mred text; here"
            ]
        );
        assert!(server_errors(br#"{"errors":[]}"#).is_empty());
        assert!(server_errors(b"<html>502</html>").is_empty());
        let long = "x".repeat(1000);
        assert_eq!(clip(&long).chars().count(), SERVER_TEXT_MAX + 1);
    }

    #[test]
    fn both_hashes_are_named_as_openbao_names_them() {
        assert_eq!(hash_function(OaepHash::Sha1), "SHA1");
        assert_eq!(hash_function(OaepHash::Sha256), "SHA256");
    }

    #[test]
    fn connect_checks_address_mount_and_ca_file_before_sending() {
        let tok = || BaoToken::new(zeroize::Zeroizing::new("hvs.tok".into())).unwrap();
        let e =
            OpenBao::connect("http://bao.example.com", "transit", None, true, tok()).unwrap_err();
        assert!(e.message().contains("plain http"), "{e}");
        let e =
            OpenBao::connect("http://127.0.0.1:8200", "transit", None, false, tok()).unwrap_err();
        assert!(e.message().contains("rehearsal"), "{e}");
        let e =
            OpenBao::connect("https://bao.example.com", "../sys", None, false, tok()).unwrap_err();
        assert!(e.message().contains("not a mount path"), "{e}");
        let d = tempfile::tempdir().unwrap();
        let ca = d.path().join("ca.pem");
        std::fs::write(&ca, "no certificates\n").unwrap();
        let e = OpenBao::connect(
            "https://bao.example.com",
            "transit",
            Some(&ca),
            false,
            tok(),
        )
        .unwrap_err();
        assert!(e.message().contains("holds no certificate"), "{e}");
        let b = OpenBao::connect(
            "https://Bao.Example.com:8200/",
            "transit",
            None,
            false,
            tok(),
        )
        .unwrap();
        assert_eq!(b.origin(), "https://bao.example.com:8200");
        assert!(!format!("{b:?}").contains("hvs.tok"));
        // Key names are checked before any URL is built (nothing listens there).
        let e = b.read_key("../../sys/seal").unwrap_err();
        assert!(e.message().contains("not one byok uses"), "{e}");
        let e = b
            .import("a/b", "AAAA", OaepHash::Sha1, "rsa-2048")
            .unwrap_err();
        assert!(e.message().contains("not one byok uses"), "{e}");
        let e = b.import_version("a?b", "AAAA", OaepHash::Sha1).unwrap_err();
        assert!(e.message().contains("not one byok uses"), "{e}");
    }
}
