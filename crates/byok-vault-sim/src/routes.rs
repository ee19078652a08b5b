//! The Key Vault data-plane operations on keys, in the service's JSON shapes.
//!
//! [`dispatch`] maps a method and path to an operation. Each operation validates its
//! whole input before it changes anything, so a refused request stores nothing; a
//! change is written to disk before it is answered.

use super::crypto;
use super::state::{Deleted, KeyRecord, State, Version};
use super::App;
use byok_core::kek::{decode_b64url, encode_b64url};
use byok_core::keyid::{valid_key_name, KeyId};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Days a soft-deleted key is kept, and what keys report as `recoverableDays`.
pub const RECOVERABLE_DAYS: i64 = 90;

/// Every key operation Key Vault knows, in its spelling.
const KNOWN_OPS: [&str; 8] = [
    "encrypt",
    "decrypt",
    "sign",
    "verify",
    "wrapKey",
    "unwrapKey",
    "import",
    "export",
];

/// Operations a new RSA key gets when the request names none.
const DEFAULT_OPS: [&str; 6] = [
    "encrypt",
    "decrypt",
    "sign",
    "verify",
    "wrapKey",
    "unwrapKey",
];

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

type R = std::result::Result<Reply, Reply>;

/// What one request is about, for the dispatcher.
pub struct Request<'a> {
    pub method: &'a str,
    /// Path segments after the leading `/` (a trailing `/` gives a last empty segment).
    pub segments: Vec<&'a str>,
    /// `https://host:port` as the client addressed the vault, for `kid`s.
    pub vault: String,
    /// The request path and query, for `nextLink`s.
    pub path: &'a str,
    pub query: &'a str,
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
        ("GET", ["keys"]) => list_keys(app, req),
        ("POST", ["keys", "restore"]) => restore(app, req),
        ("GET", ["keys", name]) => get_key(app, req, name, ""),
        ("PUT", ["keys", name]) => import(app, req, name),
        ("DELETE", ["keys", name]) => delete(app, req, name),
        ("POST", ["keys", name, a]) if lc(a) == "create" => create(app, req, name),
        ("POST", ["keys", name, a]) if lc(a) == "backup" => backup(app, name),
        ("GET", ["keys", name, a]) if lc(a) == "versions" => list_versions(app, req, name),
        ("GET", ["keys", name, version]) => get_key(app, req, name, version),
        ("PATCH", ["keys", name, version]) => update(app, req, name, version),
        ("GET", ["keys", name, version, a]) if lc(a) == "attestation" => {
            attestation(app, req, name, version)
        }
        ("POST", ["keys", name, version, a]) if lc(a) == "wrapkey" => {
            crypt(app, req, name, version, "wrapKey")
        }
        ("POST", ["keys", name, version, a]) if lc(a) == "unwrapkey" => {
            crypt(app, req, name, version, "unwrapKey")
        }
        ("GET", ["deletedkeys"]) => list_deleted(app, req),
        ("GET", ["deletedkeys", name]) => get_deleted(app, req, name),
        ("DELETE", ["deletedkeys", name]) => purge(app, name),
        ("POST", ["deletedkeys", name, a]) if lc(a) == "recover" => recover(app, req, name),
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

// ---- input helpers ---------------------------------------------------------------

fn check_name(name: &str) -> std::result::Result<(), Reply> {
    if valid_key_name(name) {
        Ok(())
    } else {
        Err(bad(format!(
            "The request URI contains an invalid name: {name:?}. Key names are 1-127 letters, digits and dashes."
        )))
    }
}

fn body_object(body: &[u8]) -> std::result::Result<Map<String, Value>, Reply> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(bad(
            "The request body is missing; this operation needs a JSON object.",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(bad("The request body must be a JSON object.")),
        Err(e) => Err(bad(format!("The request body is not valid JSON: {e}"))),
    }
}

fn opt_str<'a>(o: &'a Map<String, Value>, k: &str) -> std::result::Result<Option<&'a str>, Reply> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("'{k}' must be a string."))),
    }
}

fn opt_obj<'a>(
    o: &'a Map<String, Value>,
    k: &str,
) -> std::result::Result<Option<&'a Map<String, Value>>, Reply> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(bad(format!("'{k}' must be a JSON object."))),
    }
}

/// `key_ops`: known operations, canonical spelling, no duplicates; `import` only alone on RSA-HSM.
fn parse_ops(v: Option<&Value>, kty: &str) -> std::result::Result<Option<Vec<String>>, Reply> {
    let list = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(bad("'key_ops' must be an array of strings.")),
    };
    let mut ops: Vec<String> = Vec::new();
    for item in list {
        let Value::String(s) = item else {
            return Err(bad("'key_ops' must be an array of strings."));
        };
        let Some(canon) = KNOWN_OPS.iter().find(|k| k.eq_ignore_ascii_case(s)) else {
            return Err(bad(format!(
                "Invalid key operation {s:?}; known operations: {}.",
                KNOWN_OPS.join(", ")
            )));
        };
        if !ops.iter().any(|o| o == canon) {
            ops.push(canon.to_string());
        }
    }
    if ops.iter().any(|o| o == "export") {
        return Err(bad(
            "Key operation 'export' needs an exportable key with a release policy, which this simulator does not support.",
        ));
    }
    if ops.iter().any(|o| o == "import") {
        if kty != "RSA-HSM" {
            return Err(bad(
                "Key operation 'import' is only allowed on RSA-HSM keys (a BYOK key exchange key).",
            ));
        }
        if ops.len() != 1 {
            return Err(bad(
                "Key operation 'import' cannot be combined with other operations: a key exchange key has key_ops [\"import\"] only.",
            ));
        }
    }
    Ok(Some(ops))
}

/// Attributes a client may set: enabled, nbf, exp (others are ignored, as read-only).
struct AttrIn {
    enabled: Option<bool>,
    nbf: Option<Option<i64>>,
    exp: Option<Option<i64>>,
}

fn parse_attrs(o: &Map<String, Value>) -> std::result::Result<AttrIn, Reply> {
    let mut a = AttrIn {
        enabled: None,
        nbf: None,
        exp: None,
    };
    let Some(attrs) = opt_obj(o, "attributes")? else {
        return Ok(a);
    };
    match attrs.get("enabled") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => a.enabled = Some(*b),
        Some(_) => return Err(bad("'attributes.enabled' must be true or false.")),
    }
    for (k, slot) in [("nbf", &mut a.nbf), ("exp", &mut a.exp)] {
        match attrs.get(k) {
            None => {}
            Some(Value::Null) => *slot = Some(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(t) if t >= 0 => *slot = Some(Some(t)),
                _ => return Err(bad(format!("'attributes.{k}' must be Unix seconds."))),
            },
            Some(_) => return Err(bad(format!("'attributes.{k}' must be Unix seconds."))),
        }
    }
    if let Some(Value::Bool(true)) = attrs.get("exportable") {
        return Err(bad(
            "Exportable keys need a release policy, which this simulator does not support.",
        ));
    }
    Ok(a)
}

fn parse_tags(
    o: &Map<String, Value>,
) -> std::result::Result<Option<BTreeMap<String, String>>, Reply> {
    let Some(tags) = opt_obj(o, "tags")? else {
        return Ok(None);
    };
    if tags.len() > 15 {
        return Err(bad("A key may have at most 15 tags."));
    }
    let mut out = BTreeMap::new();
    for (k, v) in tags {
        let Value::String(s) = v else {
            return Err(bad(format!("Tag {k:?} must have a string value.")));
        };
        if k.len() > 512 || s.len() > 256 {
            return Err(bad(
                "Tag names are at most 512 and values at most 256 characters.",
            ));
        }
        out.insert(k.clone(), s.clone());
    }
    Ok(Some(out))
}

// ---- rendering ------------------------------------------------------------------

fn kid(req: &Request, rec: &KeyRecord, v: &Version) -> String {
    format!("{}/keys/{}/{}", req.vault, rec.name, v.version)
}

fn attributes(app: &App, v: &Version) -> Value {
    let mut a = json!({
        "enabled": v.enabled,
        "created": v.created,
        "updated": v.updated,
        "recoveryLevel": app.recovery_level,
        "exportable": false,
    });
    if app.recovery_level.contains("Recoverable") {
        a["recoverableDays"] = json!(RECOVERABLE_DAYS);
    }
    if let Some(nbf) = v.nbf {
        a["nbf"] = json!(nbf);
    }
    if let Some(exp) = v.exp {
        a["exp"] = json!(exp);
    }
    a
}

fn key_bundle(app: &App, req: &Request, rec: &KeyRecord, v: &Version) -> Value {
    let mut b = json!({
        "key": {
            "kid": kid(req, rec, v),
            "kty": v.kty,
            "key_ops": v.key_ops,
            "n": v.n,
            "e": v.e,
        },
        "attributes": attributes(app, v),
    });
    if !v.tags.is_empty() {
        b["tags"] = json!(v.tags);
    }
    b
}

fn key_item(app: &App, req: &Request, rec: &KeyRecord, v: &Version) -> Value {
    let mut b = json!({"kid": kid(req, rec, v), "attributes": attributes(app, v)});
    if !v.tags.is_empty() {
        b["tags"] = json!(v.tags);
    }
    b
}

fn add_deleted(req: &Request, rec: &KeyRecord, d: &Deleted, mut b: Value) -> Value {
    b["recoveryId"] = json!(format!("{}/deletedkeys/{}", req.vault, rec.name));
    b["deletedDate"] = json!(d.deleted_date);
    b["scheduledPurgeDate"] = json!(d.scheduled_purge_date);
    b
}

/// Largest (and default) page of a list, as the service does (`maxresults` 1–25).
const MAX_PAGE: usize = 25;

/// One page of `items` in the paged shape `{value, nextLink}`; `$skiptoken` is our offset.
fn page(req: &Request, items: Vec<Value>) -> R {
    use super::http::query_param;
    let size = match query_param(req.query, "maxresults") {
        None => MAX_PAGE,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(bad(format!(
                    "Invalid maxresults {m:?}: it must be 1 to {MAX_PAGE}."
                )))
            }
        },
    };
    let skip = match query_param(req.query, "$skiptoken")
        .or_else(|| query_param(req.query, "%24skiptoken"))
    {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| bad(format!("Invalid $skiptoken {t:?}.")))?,
    };
    let next = skip.saturating_add(size);
    let next_link = if next < items.len() {
        let api = query_param(req.query, "api-version").unwrap_or("7.6");
        Value::String(format!(
            "{}{}?api-version={api}&$skiptoken={next}&maxresults={size}",
            req.vault, req.path
        ))
    } else {
        Value::Null
    };
    let value: Vec<Value> = items.into_iter().skip(skip).take(size).collect();
    Ok(Reply::ok(json!({"value": value, "nextLink": next_link})))
}

// ---- lookups ---------------------------------------------------------------------

fn live<'a>(state: &'a State, name: &str) -> std::result::Result<&'a KeyRecord, Reply> {
    match state.keys.get(&name.to_ascii_lowercase()) {
        Some(rec) if rec.deleted.is_none() && !rec.versions.is_empty() => Ok(rec),
        _ => Err(not_found(name)),
    }
}

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

/// Add `v` as the newest version of `name`, creating the record when needed; persist.
fn add_version(app: &App, req: &Request, name: &str, v: Version) -> R {
    let mut store = app.lock();
    refuse_deleted(&store.state, name)?;
    let mut next = store.state.clone();
    let rec = next
        .keys
        .entry(name.to_ascii_lowercase())
        .or_insert_with(|| KeyRecord {
            name: name.to_string(),
            versions: Vec::new(),
            deleted: None,
        });
    rec.versions.push(v);
    let rec = rec.clone();
    store.commit(next).map_err(internal)?;
    let latest = rec.latest().ok_or_else(|| not_found(name))?;
    Ok(Reply::ok(key_bundle(app, req, &rec, latest)))
}

// ---- operations --------------------------------------------------------------------

fn list_keys(app: &App, req: &Request) -> R {
    let store = app.lock();
    let items = store
        .state
        .keys
        .values()
        .filter(|r| r.deleted.is_none())
        .filter_map(|r| r.latest().map(|v| key_item(app, req, r, v)))
        .collect();
    page(req, items)
}

fn list_versions(app: &App, req: &Request, name: &str) -> R {
    check_name(name)?;
    let store = app.lock();
    let rec = live(&store.state, name)?;
    page(
        req,
        rec.versions
            .iter()
            .map(|v| key_item(app, req, rec, v))
            .collect(),
    )
}

fn get_key(app: &App, req: &Request, name: &str, version: &str) -> R {
    check_name(name)?;
    let store = app.lock();
    let rec = live(&store.state, name)?;
    let v = rec
        .version(version)
        .ok_or_else(|| version_not_found(name, version))?;
    Ok(Reply::ok(key_bundle(app, req, rec, v)))
}

fn create(app: &App, req: &Request, name: &str) -> R {
    check_name(name)?;
    let body = body_object(req.body)?;
    let kty = match opt_str(&body, "kty")? {
        Some(k) if k == "RSA" || k == "RSA-HSM" => k.to_string(),
        Some(k) => {
            return Err(bad(format!(
                "Key type {k:?} is not supported by this simulator; use RSA or RSA-HSM."
            )))
        }
        None => return Err(bad("'kty' is required (RSA or RSA-HSM).")),
    };
    let bits = match body.get("key_size") {
        None | Some(Value::Null) => 2048,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(b) if crypto::RSA_BITS.contains(&(b as usize)) => b as usize,
            _ => {
                return Err(bad(format!(
                    "Invalid key size {n}; RSA keys are 2048, 3072 or 4096 bits."
                )))
            }
        },
        Some(_) => return Err(bad("'key_size' must be a number.")),
    };
    match body.get("public_exponent") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.as_u64() == Some(65537) => {}
        Some(_) => {
            return Err(bad(
                "This simulator only makes RSA keys with public exponent 65537.",
            ))
        }
    }
    if opt_str(&body, "crv")?.is_some() {
        return Err(bad("'crv' is only for EC keys."));
    }
    let ops = parse_ops(body.get("key_ops"), &kty)?
        .unwrap_or_else(|| DEFAULT_OPS.iter().map(|s| s.to_string()).collect());
    let attrs = parse_attrs(&body)?;
    let tags = parse_tags(&body)?.unwrap_or_default();
    refuse_deleted(&app.lock().state, name)?;
    // Key generation can take seconds; it runs outside the state lock.
    let m = crypto::generate_rsa(bits).map_err(internal)?;
    let mut v = new_version(req, kty, ops, attrs, tags, &m);
    v.origin = Some("generated".to_string());
    add_version(app, req, name, v)
}

fn new_version(
    req: &Request,
    kty: String,
    key_ops: Vec<String>,
    attrs: AttrIn,
    tags: BTreeMap<String, String>,
    m: &crypto::KeyMaterial,
) -> Version {
    Version {
        version: crypto::new_version_id(),
        kty,
        key_ops,
        enabled: attrs.enabled.unwrap_or(true),
        nbf: attrs.nbf.flatten(),
        exp: attrs.exp.flatten(),
        created: req.now,
        updated: req.now,
        tags,
        n: m.n.clone(),
        e: m.e.clone(),
        private_pkcs8: crypto::store_pkcs8(m),
        origin: Some("imported".to_string()),
    }
}

fn import(app: &App, req: &Request, name: &str) -> R {
    check_name(name)?;
    let body = body_object(req.body)?;
    let Some(jwk) = opt_obj(&body, "key")? else {
        return Err(bad("'key' (a JSON Web Key) is required."));
    };
    let hsm = match body.get("Hsm").or_else(|| body.get("hsm")) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("'Hsm' must be true or false.")),
    };
    let kty = opt_str(jwk, "kty")?.ok_or_else(|| bad("'key.kty' is required."))?;
    let attrs = parse_attrs(&body)?;
    let tags = parse_tags(&body)?.unwrap_or_default();
    let (stored_kty, material) = match opt_str(jwk, "key_hsm")? {
        Some(blob) => {
            if kty != "RSA-HSM" {
                return Err(bad(format!(
                    "A key_hsm (BYOK) import needs kty RSA-HSM, not {kty:?}; this simulator imports RSA targets only."
                )));
            }
            ("RSA-HSM", byok_import(app, req, blob)?)
        }
        None => {
            let stored = match kty {
                "RSA" if hsm => "RSA-HSM",
                "RSA" => "RSA",
                "RSA-HSM" => {
                    return Err(bad(
                        "kty RSA-HSM needs 'key_hsm' (the BYOK transfer package); a plain JWK has kty RSA.",
                    ))
                }
                other => {
                    return Err(bad(format!(
                        "Key type {other:?} cannot be imported by this simulator; use RSA."
                    )))
                }
            };
            (
                stored,
                crypto::material_from_jwk(jwk).map_err(|e| bad(e.message()))?,
            )
        }
    };
    let ops = parse_ops(jwk.get("key_ops"), stored_kty)?
        .unwrap_or_else(|| DEFAULT_OPS.iter().map(|s| s.to_string()).collect());
    if ops.iter().any(|o| o == "import") {
        return Err(bad("An imported key cannot have key operation 'import'."));
    }
    let v = new_version(req, stored_kty.to_string(), ops, attrs, tags, &material);
    add_version(app, req, name, v)
}

/// Open a BYOK transfer package as the vault does, returning the target key.
fn byok_import(
    app: &App,
    req: &Request,
    blob: &str,
) -> std::result::Result<crypto::KeyMaterial, Reply> {
    let bytes = decode_b64url(blob).map_err(|_| bad("'key.key_hsm' is not base64url."))?;
    let (pkg, report) = byok_core::package::inspect(&bytes, None, byok_core::Mode::Rehearsal)
        .map_err(|e| bad(format!("The BYOK transfer package is invalid: {e}")))?;
    let kid = KeyId::parse(&pkg.header.kid, byok_core::Mode::Rehearsal)
        .map_err(|e| bad(format!("The BYOK transfer package is invalid: {e}")))?;
    if !app.is_own_vault(&kid.vault, &req.vault) {
        return Err(bad(format!(
            "The key exchange key {} is not in this vault ({}): a BYOK package must be made for a KEK of the vault it is imported into.",
            kid.url(),
            req.vault
        )));
    }
    let kek = {
        let store = app.lock();
        let rec = live(&store.state, &kid.name).map_err(|_| {
            bad(format!(
                "The key exchange key {} does not exist in this vault.",
                kid.url()
            ))
        })?;
        let v = rec.version(&kid.version).ok_or_else(|| {
            bad(format!(
                "The key exchange key version {} does not exist in this vault.",
                kid.url()
            ))
        })?;
        v.clone()
    };
    if kek.kty != "RSA-HSM" || kek.key_ops != ["import"] {
        return Err(bad(format!(
            "The key {} is not a key exchange key: a KEK is RSA-HSM with key_ops [\"import\"] only (it is {} with {:?}).",
            kid.url(),
            kek.kty,
            kek.key_ops
        )));
    }
    if !kek.enabled {
        return Err(bad(format!(
            "The key exchange key {} is disabled.",
            kid.url()
        )));
    }
    let private = crypto::private_key(&kek.private_pkcs8).map_err(internal)?;
    if report
        .fits_kek_bits
        .iter()
        .all(|b| *b != crypto::modulus_bits(&private))
    {
        return Err(bad(format!(
            "The BYOK ciphertext ({} bytes) does not fit the {}-bit key exchange key {}.",
            report.ciphertext_bytes,
            crypto::modulus_bits(&private),
            kid.url()
        )));
    }
    let ct =
        decode_b64url(&pkg.ciphertext).map_err(|_| bad("The BYOK ciphertext is not base64url."))?;
    let unwrapped = byok_core::package::software_unwrap(&private, &ct).map_err(|e| {
        bad(format!(
            "The BYOK ciphertext cannot be unwrapped with key exchange key {}: {e}",
            kid.url()
        ))
    })?;
    if unwrapped.trailing_zeros > 0 && !app.accept_padded_pkcs8 {
        return Err(bad(format!(
            "The unwrapped key has {} zero bytes after its PKCS#8 DER (SoftHSM 2.6 pads before AES-KWP); the vault expects the exact DER. Start the simulator with --accept-padded-pkcs8 to allow it.",
            unwrapped.trailing_zeros
        )));
    }
    crypto::material_from_pkcs8(&unwrapped.pkcs8)
        .map_err(|e| bad(format!("The BYOK package's key cannot be imported: {e}")))
}

/// `GET /keys/{name}/{version}/attestation`: a Managed HSM answers with the KeyBundle
/// and an `MRVL-1` attestation signed by the simulator's TEST chain; Key Vault (the
/// simulator without `--managed-hsm`) does not offer attestation.
fn attestation(app: &App, req: &Request, name: &str, version: &str) -> R {
    check_name(name)?;
    let Some(chain) = &app.attestation else {
        return Err(error(
            400,
            "BadParameter",
            "Key attestation is not supported by this vault: only Managed HSM keys have attestations (this simulator runs as Key Vault; start it with --managed-hsm).",
        ));
    };
    let (rec, v) = {
        let store = app.lock();
        let rec = live(&store.state, name)?;
        let v = rec
            .version(version)
            .ok_or_else(|| version_not_found(name, version))?
            .clone();
        (rec.clone(), v)
    };
    let n =
        decode_b64url(&v.n).map_err(|_| internal(byok_core::err!("stored modulus is damaged")))?;
    let e =
        decode_b64url(&v.e).map_err(|_| internal(byok_core::err!("stored exponent is damaged")))?;
    let public = byok_core::kek::rsa_from_parts(&n, &e).map_err(internal)?;
    let generated = v.origin.as_deref() == Some("generated");
    let flags = byok_testkit::testchain::KeyFlags {
        extractable: false,
        never_extractable: generated,
        sensitive: true,
        always_sensitive: generated,
        local: generated,
    };
    let id = format!("/keys/{}/{}", rec.name, v.version);
    let att = chain
        .mrvl1_attestation(&public, flags, &id)
        .map_err(internal)?;
    let mut bundle = key_bundle(app, req, &rec, &v);
    bundle["attributes"]["attestation"] = att.attestation_json(true);
    Ok(Reply::ok(bundle))
}

fn update(app: &App, req: &Request, name: &str, version: &str) -> R {
    check_name(name)?;
    let body = body_object(req.body)?;
    let attrs = parse_attrs(&body)?;
    let tags = parse_tags(&body)?;
    let mut store = app.lock();
    let rec = live(&store.state, name)?;
    let current = rec
        .version(version)
        .ok_or_else(|| version_not_found(name, version))?;
    let ops = parse_ops(body.get("key_ops"), &current.kty)?;
    if let Some(ops) = &ops {
        let was_kek = current.key_ops == ["import"];
        let is_kek = ops.iter().any(|o| o == "import");
        if was_kek != is_kek {
            return Err(bad(
                "Key operation 'import' can be neither added to nor removed from an existing key.",
            ));
        }
    }
    let mut next = store.state.clone();
    let rec = next
        .keys
        .get_mut(&name.to_ascii_lowercase())
        .ok_or_else(|| not_found(name))?;
    let v = rec
        .version_mut(version)
        .ok_or_else(|| version_not_found(name, version))?;
    if let Some(e) = attrs.enabled {
        v.enabled = e;
    }
    if let Some(nbf) = attrs.nbf {
        v.nbf = nbf;
    }
    if let Some(exp) = attrs.exp {
        v.exp = exp;
    }
    if let Some(ops) = ops {
        v.key_ops = ops;
    }
    if let Some(tags) = tags {
        v.tags = tags;
    }
    v.updated = req.now;
    let v = v.clone();
    let rec = rec.clone();
    store.commit(next).map_err(internal)?;
    Ok(Reply::ok(key_bundle(app, req, &rec, &v)))
}

fn crypt(app: &App, req: &Request, name: &str, version: &str, op: &str) -> R {
    check_name(name)?;
    let body = body_object(req.body)?;
    let alg = opt_str(&body, "alg")?.ok_or_else(|| bad("'alg' is required."))?;
    let value = opt_str(&body, "value")?.ok_or_else(|| bad("'value' is required."))?;
    let data = decode_b64url(value).map_err(|_| bad("'value' is not base64url."))?;
    let (rec, v) = {
        let store = app.lock();
        let rec = live(&store.state, name)?;
        let v = rec
            .version(version)
            .ok_or_else(|| version_not_found(name, version))?;
        (rec.clone(), v.clone())
    };
    if !v.enabled {
        return Err(error_inner(
            403,
            "Forbidden",
            format!("Operation {op} is not allowed on a disabled key."),
            "KeyDisabled",
        ));
    }
    if v.nbf.is_some_and(|t| req.now < t) || v.exp.is_some_and(|t| req.now >= t) {
        return Err(error_inner(
            403,
            "Forbidden",
            format!("Operation {op} is not allowed: the key is not yet valid or has expired."),
            "KeyExpiredOrNotYetValid",
        ));
    }
    if !v.key_ops.iter().any(|o| o == op) {
        return Err(error_inner(
            403,
            "Forbidden",
            format!("Operation {op} is not permitted on this key."),
            "KeyOperationForbidden",
        ));
    }
    let key = crypto::private_key(&v.private_pkcs8).map_err(internal)?;
    let out = if op == "wrapKey" {
        crypto::wrap(&key, alg, &data).map_err(|e| bad(e.message()))?
    } else {
        crypto::unwrap(&key, alg, &data)
            .map_err(|e| bad(e.message()))?
            .to_vec()
    };
    Ok(Reply::ok(
        json!({"kid": kid(req, &rec, &v), "value": encode_b64url(&out)}),
    ))
}

fn backup(app: &App, name: &str) -> R {
    check_name(name)?;
    let rec = live(&app.lock().state, name)?.clone();
    let plain = zeroize::Zeroizing::new(
        serde_json::to_vec(&rec).map_err(|e| internal(byok_core::err!("{e}")))?,
    );
    let blob = app.sealer.seal(&plain).map_err(internal)?;
    Ok(Reply::ok(json!({"value": encode_b64url(&blob)})))
}

fn restore(app: &App, req: &Request) -> R {
    let body = body_object(req.body)?;
    let value =
        opt_str(&body, "value")?.ok_or_else(|| bad("'value' (the backup blob) is required."))?;
    let blob = decode_b64url(value).map_err(|_| bad("The backup blob is not base64url."))?;
    let plain = app
        .sealer
        .open_blob(&blob)
        .map_err(|e| bad(format!("Backup blob is invalid: {e}")))?;
    let rec: KeyRecord = serde_json::from_slice(&plain)
        .map_err(|_| bad("Backup blob is invalid: it does not hold a key."))?;
    if !valid_key_name(&rec.name) || rec.versions.is_empty() || rec.deleted.is_some() {
        return Err(bad("Backup blob is invalid: it does not hold a key."));
    }
    let mut store = app.lock();
    if store
        .state
        .keys
        .contains_key(&rec.name.to_ascii_lowercase())
    {
        return Err(error(
            409,
            "Conflict",
            format!("There was a conflict restoring the key {}: a key with this name already exists in this vault (live or deleted). Delete and purge it, or restore into another vault.", rec.name),
        ));
    }
    let mut next = store.state.clone();
    next.keys.insert(rec.name.to_ascii_lowercase(), rec.clone());
    store.commit(next).map_err(internal)?;
    let latest = rec.latest().ok_or_else(|| not_found(&rec.name))?;
    Ok(Reply::ok(key_bundle(app, req, &rec, latest)))
}

fn delete(app: &App, req: &Request, name: &str) -> R {
    check_name(name)?;
    let mut store = app.lock();
    let rec = live(&store.state, name)?.clone();
    let latest = rec.latest().ok_or_else(|| not_found(name))?;
    let bundle = key_bundle(app, req, &rec, latest);
    let mut next = store.state.clone();
    let lname = name.to_ascii_lowercase();
    if app.recovery_level.contains("Recoverable") {
        let d = Deleted {
            deleted_date: req.now,
            scheduled_purge_date: req.now + RECOVERABLE_DAYS * 86400,
        };
        if let Some(r) = next.keys.get_mut(&lname) {
            r.deleted = Some(d);
        }
        store.commit(next).map_err(internal)?;
        Ok(Reply::ok(add_deleted(req, &rec, &d, bundle)))
    } else {
        // Without soft delete the key is gone at once.
        next.keys.remove(&lname);
        store.commit(next).map_err(internal)?;
        Ok(Reply::ok(bundle))
    }
}

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

fn list_deleted(app: &App, req: &Request) -> R {
    let store = app.lock();
    let items = store
        .state
        .keys
        .values()
        .filter_map(|r| {
            let d = r.deleted?;
            let v = r.latest()?;
            Some(add_deleted(req, r, &d, key_item(app, req, r, v)))
        })
        .collect();
    page(req, items)
}

fn get_deleted(app: &App, req: &Request, name: &str) -> R {
    check_name(name)?;
    let store = app.lock();
    let (rec, d) = deleted(&store.state, name)?;
    let v = rec.latest().ok_or_else(|| deleted_not_found(name))?;
    Ok(Reply::ok(add_deleted(
        req,
        rec,
        &d,
        key_bundle(app, req, rec, v),
    )))
}

fn purge(app: &App, name: &str) -> R {
    check_name(name)?;
    let mut store = app.lock();
    deleted(&store.state, name)?;
    if !app.recovery_level.contains("Purgeable") {
        return Err(error_inner(
            403,
            "Forbidden",
            format!(
                "Operation \"purge\" is not allowed on key {name}: the vault's recovery level is {} (purge protection is on); the key will be purged by the service on its scheduled purge date.",
                app.recovery_level
            ),
            "PurgeProtected",
        ));
    }
    let mut next = store.state.clone();
    next.keys.remove(&name.to_ascii_lowercase());
    store.commit(next).map_err(internal)?;
    Ok(Reply {
        status: 204,
        body: None,
    })
}

fn recover(app: &App, req: &Request, name: &str) -> R {
    check_name(name)?;
    let mut store = app.lock();
    let (rec, _) = deleted(&store.state, name)?;
    let mut rec = rec.clone();
    rec.deleted = None;
    let mut next = store.state.clone();
    next.keys.insert(name.to_ascii_lowercase(), rec.clone());
    store.commit(next).map_err(internal)?;
    let latest = rec.latest().ok_or_else(|| not_found(name))?;
    Ok(Reply::ok(key_bundle(app, req, &rec, latest)))
}
