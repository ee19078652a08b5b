//! Keys: list, list versions, get, create, update; and adding a version (create, import).

use super::body::{self, AttrIn, CreateKey, UpdateKey};
use super::render::{key_bundle, key_item, page};
use super::{
    bad, check_name, internal, live, not_found, refuse_deleted, version_not_found, Reply, Request,
    R,
};
use crate::crypto;
use crate::state::{KeyRecord, Version};
use crate::App;
use std::collections::BTreeMap;

/// Key types the simulator creates.
const CREATE_KTY: [&str; 2] = ["RSA", "RSA-HSM"];

/// The only public exponent the simulator makes keys with.
const EXPONENT: u64 = 65537;

/// Key size when the request names none.
const DEFAULT_BITS: usize = 2048;

pub fn list_keys(app: &App, req: &Request) -> R {
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

pub fn list_versions(app: &App, req: &Request, name: &str) -> R {
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

pub fn get_key(app: &App, req: &Request, name: &str, version: &str) -> R {
    check_name(name)?;
    let store = app.lock();
    let rec = live(&store.state, name)?;
    let v = rec
        .version(version)
        .ok_or_else(|| version_not_found(name, version))?;
    Ok(Reply::ok(key_bundle(app, req, rec, v)))
}

pub fn create(app: &App, req: &Request, name: &str) -> R {
    check_name(name)?;
    let body: CreateKey = body::decode(req.body)?;
    let kty = match body.kty {
        Some(k) if CREATE_KTY.contains(&k.as_str()) => k,
        Some(k) => {
            return Err(bad(format!(
                "Key type {k:?} is not supported by this simulator; use RSA or RSA-HSM."
            )))
        }
        None => return Err(bad("'kty' is required (RSA or RSA-HSM).")),
    };
    let bits = match body.key_size {
        None => DEFAULT_BITS,
        Some(b) => match usize::try_from(b) {
            Ok(b) if crypto::RSA_BITS.contains(&b) => b,
            _ => {
                return Err(bad(format!(
                    "Invalid key size {b}; RSA keys are 2048, 3072 or 4096 bits."
                )))
            }
        },
    };
    if body.public_exponent.is_some_and(|e| e != EXPONENT) {
        return Err(bad(
            "This simulator only makes RSA keys with public exponent 65537.",
        ));
    }
    if body.crv.is_some() {
        return Err(bad("'crv' is only for EC keys."));
    }
    let ops = body::key_ops(body.key_ops, &kty)?.unwrap_or_else(body::default_ops);
    let attrs = body::attributes(body.attributes)?;
    let tags = body::tags(body.tags)?.unwrap_or_default();
    refuse_deleted(&app.lock().state, name)?;
    // Key generation can take seconds; it runs outside the state lock.
    let m = crypto::generate_rsa(bits).map_err(internal)?;
    let mut v = new_version(req, kty, ops, attrs, tags, &m);
    v.origin = Some("generated".to_string());
    add_version(app, req, name, v)
}

pub fn update(app: &App, req: &Request, name: &str, version: &str) -> R {
    check_name(name)?;
    let body: UpdateKey = body::decode(req.body)?;
    let attrs = body::attributes(body.attributes)?;
    let tags = body::tags(body.tags)?;
    let mut store = app.lock();
    let rec = live(&store.state, name)?;
    let current = rec
        .version(version)
        .ok_or_else(|| version_not_found(name, version))?;
    let ops = body::key_ops(body.key_ops, &current.kty)?;
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

/// A new version (origin `imported`; create marks its own as `generated`).
pub fn new_version(
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

/// Add `v` as the newest version of `name`, creating the record when needed; persist.
pub fn add_version(app: &App, req: &Request, name: &str, v: Version) -> R {
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

#[cfg(test)]
mod tests {
    use super::super::testing::{expect_err, version_of, Vault};
    use serde_json::json;

    #[test]
    fn create_get_and_versions() {
        let v = Vault::new("Recoverable+ProtectedSubscription", false);
        let b1 = v.ok(
            "POST",
            "/keys/Contoso-1/create",
            Some(json!({"kty": "RSA-HSM", "key_ops": ["wrapkey"], "tags": {"a": "b"}})),
        );
        assert_eq!(b1["key"]["kty"], "RSA-HSM");
        assert_eq!(b1["key"]["e"], "AQAB");
        assert_eq!(b1["key"]["key_ops"], json!(["wrapKey"]));
        assert_eq!(b1["attributes"]["created"], 1_750_000_000);
        let b2 = v.ok(
            "POST",
            "/keys/contoso-1/create",
            Some(json!({"kty": "RSA"})),
        );
        assert_eq!(b2["key"]["key_ops"].as_array().unwrap().len(), 6);
        assert_ne!(version_of(&b1), version_of(&b2));
        // Names are case-insensitive; the empty version is the latest.
        assert_eq!(v.ok("GET", "/keys/CONTOSO-1/", None)["key"], b2["key"]);
        assert_eq!(
            v.ok("GET", &format!("/keys/contoso-1/{}", version_of(&b1)), None),
            b1
        );
        let missing = format!("/keys/contoso-1/{}", "0".repeat(32));
        expect_err(&v.call("GET", &missing, None), 404, "KeyNotFound");
        let versions = v.ok("GET", "/keys/contoso-1/versions", None);
        assert_eq!(versions["value"].as_array().unwrap().len(), 2);
        // The state on disk has the generated origin.
        let store = v.app.lock();
        let rec = &store.state.keys["contoso-1"];
        assert_eq!(rec.name, "Contoso-1");
        assert_eq!(rec.versions[0].origin.as_deref(), Some("generated"));
    }

    #[test]
    fn create_refusals_store_nothing() {
        let v = Vault::new("Recoverable", false);
        for body in [
            json!({}),
            json!({"kty": "EC", "crv": "P-256"}),
            json!({"kty": "oct"}),
            json!({"kty": "RSA", "key_size": 1024}),
            json!({"kty": "RSA", "key_size": 18446744073709551615u64}),
            json!({"kty": "RSA", "public_exponent": 3}),
            json!({"kty": "RSA", "public_exponent": "65537"}),
            json!({"kty": "RSA", "crv": "P-256"}),
            json!({"kty": "RSA", "key_ops": ["import"]}),
            json!({"kty": "RSA-HSM", "key_ops": ["import", "wrapKey"]}),
            json!({"kty": "RSA", "attributes": {"exportable": true}}),
            json!({"kty": "RSA", "tags": {"a": 1}}),
        ] {
            expect_err(
                &v.call("POST", "/keys/refused/create", Some(body)),
                400,
                "BadParameter",
            );
        }
        assert!(v.app.lock().state.keys.is_empty());
    }

    #[test]
    fn update_changes_one_version() {
        let v = Vault::new("Recoverable", false);
        let b1 = v.ok(
            "POST",
            "/keys/u/create",
            Some(json!({"kty": "RSA", "attributes": {"exp": 100}})),
        );
        let v1 = version_of(&b1);
        v.ok("POST", "/keys/u/create", Some(json!({"kty": "RSA"})));
        let u = v.ok(
            "PATCH",
            &format!("/keys/u/{v1}"),
            Some(
                json!({"attributes": {"enabled": false, "exp": null, "created": 3},
                        "key_ops": ["encrypt"], "tags": {"k": "v"}, "unknown": 1}),
            ),
        );
        assert_eq!(u["attributes"]["enabled"], false);
        assert!(u["attributes"].get("exp").is_none());
        assert_eq!(u["attributes"]["created"], 1_750_000_000);
        assert_eq!(u["key"]["key_ops"], json!(["encrypt"]));
        assert_eq!(u["tags"], json!({"k": "v"}));
        assert_eq!(v.ok("GET", "/keys/u", None)["attributes"]["enabled"], true);
        // An empty update changes nothing but `updated`.
        let later = v.at("PATCH", &format!("/keys/u/{v1}"), b"{}", 1_750_000_100);
        let later = later.body.unwrap();
        assert_eq!(later["attributes"]["updated"], 1_750_000_100);
        assert_eq!(later["tags"], json!({"k": "v"}));

        // `import` can be neither added nor removed.
        v.ok(
            "POST",
            "/keys/kek/create",
            Some(json!({"kty": "RSA-HSM", "key_ops": ["import"]})),
        );
        for (path, ops) in [
            ("/keys/u/", json!(["import"])),
            ("/keys/kek/", json!(["wrapKey"])),
        ] {
            expect_err(
                &v.call("PATCH", path, Some(json!({"key_ops": ops}))),
                400,
                "BadParameter",
            );
        }
        expect_err(
            &v.call("PATCH", "/keys/missing/", Some(json!({}))),
            404,
            "KeyNotFound",
        );
        expect_err(&v.call("PATCH", "/keys/u/", None), 400, "BadParameter");
    }
}
