//! The Key Vault data-plane operations on keys, in the service's JSON shapes.
//!
//! [`dispatch`] maps a method and path to an operation. Each operation validates its
//! whole input before it changes anything, so a refused request stores nothing; a
//! change is written to disk before it is answered.
//!
//! Modules: [`body`] (the request bodies, typed), [`render`] (KeyBundle, list items,
//! pages), [`keys`] (get, list, create, update), [`import`] (plain JWK and BYOK import),
//! [`crypt`] (wrapKey/unwrapKey), [`backup`] (backup/restore), [`deleted`] (delete and
//! the deleted keys), [`attestation`] (Managed HSM key attestation).

pub mod attestation;
pub mod backup;
pub mod body;
pub mod crypt;
pub mod deleted;
pub mod import;
pub mod keys;
pub mod render;

use super::http::Query;
use super::state::{Deleted, KeyRecord, State};
use super::App;
use byok_core::keyid::valid_key_name;
use serde_json::{json, Value};

/// Days a soft-deleted key is kept, and what keys report as `recoverableDays`.
pub const RECOVERABLE_DAYS: i64 = 90;

/// An answer: status and JSON body (none for 204).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
}

impl Reply {
    fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body: Some(body),
        }
    }

    /// The error code of an error answer (`error.code`), for tests and logs.
    pub fn code(&self) -> Option<&str> {
        self.body.as_ref()?.get("error")?.get("code")?.as_str()
    }
}

/// An error in the service's shape `{"error": {"code", "message"[, "innererror"]}}`.
pub fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
    Reply {
        status,
        body: Some(json!({"error": {"code": code, "message": message.into()}})),
    }
}

fn error_inner(status: u16, code: &str, message: impl Into<String>, inner: &str) -> Reply {
    Reply {
        status,
        body: Some(
            json!({"error": {"code": code, "message": message.into(), "innererror": {"code": inner}}}),
        ),
    }
}

fn bad(message: impl Into<String>) -> Reply {
    error(400, "BadParameter", message)
}

fn not_found(name: &str) -> Reply {
    error(
        404,
        "KeyNotFound",
        format!("A key with (name/id) {name} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command."),
    )
}

fn version_not_found(name: &str, version: &str) -> Reply {
    error(
        404,
        "KeyNotFound",
        format!("A key with (name/id) {name}/{version} was not found in this key vault."),
    )
}

fn deleted_not_found(name: &str) -> Reply {
    error(404, "KeyNotFound", format!("Deleted Key not found: {name}"))
}

fn internal(e: byok_core::Error) -> Reply {
    eprintln!("byok-vault-sim: internal error: {e}");
    error(500, "InternalError", format!("the simulator failed: {e}"))
}

/// A byok error about what the client sent (kind `BadInput`) is its 400; any other
/// kind is the simulator's own failure (500).
fn refused(e: byok_core::Error) -> Reply {
    if e.is(byok_core::ErrorKind::BadInput) {
        bad(e.message())
    } else {
        internal(e)
    }
}

type R = std::result::Result<Reply, Reply>;

/// What one request is about, for the dispatcher.
pub struct Request<'a> {
    pub method: &'a str,
    /// Path segments after the leading `/` (a trailing `/` gives a last empty segment).
    pub segments: Vec<&'a str>,
    /// `https://host:port` as the client addressed the vault, for `kid`s.
    pub vault: String,
    /// The request path, for `nextLink`s.
    pub path: &'a str,
    pub query: &'a Query,
    pub body: &'a [u8],
    pub now: i64,
}

/// Is this route one that changes the vault (for the `--fault-drop` counter)?
pub fn is_mutating(method: &str, segments: &[&str]) -> bool {
    match (method, segments) {
        ("PUT", ["keys", _]) | ("DELETE", ["keys", _]) | ("PATCH", ["keys", _, _]) => true,
        ("DELETE", ["deletedkeys", _]) => true,
        ("POST", ["keys", "restore"]) => true,
        ("POST", ["keys", _, action]) => action.eq_ignore_ascii_case("create"),
        ("POST", ["deletedkeys", _, action]) => action.eq_ignore_ascii_case("recover"),
        _ => false,
    }
}

/// Run one request against the vault.
pub fn dispatch(app: &App, req: &Request) -> Reply {
    let m = req.method;
    let s = req.segments.as_slice();
    let lc = |x: &str| x.to_ascii_lowercase();
    let result = match (m, s) {
        ("GET", ["keys"]) => keys::list_keys(app, req),
        ("POST", ["keys", "restore"]) => backup::restore(app, req),
        ("GET", ["keys", name]) => keys::get_key(app, req, name, ""),
        ("PUT", ["keys", name]) => import::import(app, req, name),
        ("DELETE", ["keys", name]) => deleted::delete(app, req, name),
        ("POST", ["keys", name, a]) if lc(a) == "create" => keys::create(app, req, name),
        ("POST", ["keys", name, a]) if lc(a) == "backup" => backup::backup(app, name),
        ("GET", ["keys", name, a]) if lc(a) == "versions" => keys::list_versions(app, req, name),
        ("GET", ["keys", name, version]) => keys::get_key(app, req, name, version),
        ("PATCH", ["keys", name, version]) => keys::update(app, req, name, version),
        ("GET", ["keys", name, version, a]) if lc(a) == "attestation" => {
            attestation::attestation(app, req, name, version)
        }
        ("POST", ["keys", name, version, a]) if lc(a) == "wrapkey" => {
            crypt::crypt(app, req, name, version, crypt::Op::Wrap)
        }
        ("POST", ["keys", name, version, a]) if lc(a) == "unwrapkey" => {
            crypt::crypt(app, req, name, version, crypt::Op::Unwrap)
        }
        ("GET", ["deletedkeys"]) => deleted::list_deleted(app, req),
        ("GET", ["deletedkeys", name]) => deleted::get_deleted(app, req, name),
        ("DELETE", ["deletedkeys", name]) => deleted::purge(app, name),
        ("POST", ["deletedkeys", name, a]) if lc(a) == "recover" => {
            deleted::recover(app, req, name)
        }
        _ => Err(error(
            404,
            "NotFound",
            format!(
                "{m} /{} is not an operation this simulator knows",
                s.join("/")
            ),
        )),
    };
    result.unwrap_or_else(|e| e)
}

// ---- lookups ---------------------------------------------------------------------

fn check_name(name: &str) -> std::result::Result<(), Reply> {
    if valid_key_name(name) {
        Ok(())
    } else {
        Err(bad(format!(
            "The request URI contains an invalid name: {name:?}. Key names are 1-127 letters, digits and dashes."
        )))
    }
}

/// The live (not deleted) key `name`.
fn live<'a>(state: &'a State, name: &str) -> std::result::Result<&'a KeyRecord, Reply> {
    match state.keys.get(&name.to_ascii_lowercase()) {
        Some(rec) if rec.deleted.is_none() && !rec.versions.is_empty() => Ok(rec),
        _ => Err(not_found(name)),
    }
}

/// 409 when `name` is soft-deleted: its name cannot be reused until purged.
fn refuse_deleted(state: &State, name: &str) -> std::result::Result<(), Reply> {
    match state.keys.get(&name.to_ascii_lowercase()) {
        Some(rec) if rec.deleted.is_some() => Err(error(
            409,
            "Conflict",
            format!("Key {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged."),
        )),
        _ => Ok(()),
    }
}

/// The soft-deleted key `name` and when it was deleted.
fn deleted<'a>(
    state: &'a State,
    name: &str,
) -> std::result::Result<(&'a KeyRecord, Deleted), Reply> {
    match state.keys.get(&name.to_ascii_lowercase()) {
        Some(rec) => match rec.deleted {
            Some(d) if !rec.versions.is_empty() => Ok((rec, d)),
            _ => Err(deleted_not_found(name)),
        },
        None => Err(deleted_not_found(name)),
    }
}

/// A vault in a temporary directory and requests to it, for the route modules' tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{dispatch, Reply, Request};
    use crate::http::Query;
    use crate::App;
    use serde_json::Value;

    pub struct Vault {
        pub app: App,
        /// The state directory, removed when the vault is dropped.
        _dir: tempfile::TempDir,
    }

    impl Vault {
        pub fn new(recovery_level: &str, managed_hsm: bool) -> Vault {
            let dir = tempfile::tempdir().expect("tempdir");
            let app = App::for_tests(dir.path(), recovery_level, managed_hsm).expect("app");
            Vault { app, _dir: dir }
        }

        /// Run `method path?query` with `body` (raw bytes) at time `now`.
        pub fn at(&self, method: &str, path: &str, body: &[u8], now: i64) -> Reply {
            let (path, query) = path.split_once('?').unwrap_or((path, ""));
            let query = Query::parse(query);
            let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            let req = Request {
                method,
                segments,
                vault: self.app.base_url.clone(),
                path,
                query: &query,
                body,
                now,
            };
            dispatch(&self.app, &req)
        }

        pub fn raw(&self, method: &str, path: &str, body: &[u8]) -> Reply {
            self.at(method, path, body, 1_750_000_000)
        }

        pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
            let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
            self.raw(method, path, &bytes)
        }

        /// A successful answer's body; panics with the error otherwise.
        pub fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
            let r = self.call(method, path, body);
            assert_eq!(r.status, 200, "{method} {path}: {:?}", r.body);
            r.body.expect("a body")
        }
    }

    /// The version id at the end of a bundle's kid.
    pub fn version_of(bundle: &Value) -> String {
        let kid = bundle["key"]["kid"].as_str().expect("kid");
        kid.rsplit('/').next().expect("version").to_string()
    }

    /// Assert `r` is an error with `status` and `code`; return its message.
    pub fn expect_err(r: &Reply, status: u16, code: &str) -> String {
        assert_eq!((r.status, r.code()), (status, Some(code)), "{:?}", r.body);
        let body = r.body.as_ref().expect("an error body");
        body["error"]["message"]
            .as_str()
            .expect("a message")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{expect_err, Vault};
    use super::*;

    #[test]
    fn mutating_routes_are_the_changing_ones() {
        for (m, p) in [
            ("PUT", "keys/k"),
            ("DELETE", "keys/k"),
            ("PATCH", "keys/k/"),
            ("DELETE", "deletedkeys/k"),
            ("POST", "keys/restore"),
            ("POST", "keys/k/Create"),
            ("POST", "deletedkeys/k/RECOVER"),
        ] {
            let segs: Vec<&str> = p.split('/').collect();
            assert!(is_mutating(m, &segs), "{m} {p}");
        }
        for (m, p) in [
            ("GET", "keys/k"),
            ("GET", "keys"),
            ("POST", "keys/k/backup"),
            ("POST", "keys/k/v/wrapkey"),
            ("POST", "keys/k/v/unwrapkey"),
            ("GET", "deletedkeys/k"),
            ("PUT", "keys/k/v"),
        ] {
            let segs: Vec<&str> = p.split('/').collect();
            assert!(!is_mutating(m, &segs), "{m} {p}");
        }
    }

    #[test]
    fn unknown_routes_and_bad_names() {
        let v = Vault::new("Recoverable", false);
        expect_err(&v.call("GET", "/secrets", None), 404, "NotFound");
        expect_err(&v.call("PUT", "/keys/k/v/x", None), 404, "NotFound");
        expect_err(&v.call("GET", "/keys/bad_name", None), 400, "BadParameter");
        expect_err(&v.call("GET", "/keys/nothing", None), 404, "KeyNotFound");
        expect_err(
            &v.call("GET", "/deletedkeys/nothing", None),
            404,
            "KeyNotFound",
        );
    }

    #[test]
    fn error_shapes() {
        let e = error_inner(403, "Forbidden", "no", "KeyDisabled");
        let body = e.body.as_ref().unwrap();
        assert_eq!(body["error"]["innererror"]["code"], "KeyDisabled");
        assert_eq!(e.code(), Some("Forbidden"));
        // A client's bad input is 400; anything else is the simulator's fault.
        let r = refused(byok_core::err!("the JWK is odd"));
        assert_eq!((r.status, r.code()), (400, Some("BadParameter")));
        let r = refused(byok_core::err!(Integrity, "stored key damaged"));
        assert_eq!((r.status, r.code()), (500, Some("InternalError")));
        assert_eq!(Reply::ok(json!({})).code(), None);
    }
}
