//! Backup (`POST /keys/{name}/backup`) and restore (`POST /keys/restore`): all versions
//! of a key, sealed under the vault's backup secret (see [`crate::crypto::Sealer`]).

use super::body::{self, RestoreKey};
use super::render::key_bundle;
use super::{bad, check_name, error, internal, live, not_found, Reply, Request, R};
use crate::state::KeyRecord;
use crate::App;
use byok_core::kek::{decode_b64url, encode_b64url};
use byok_core::keyid::valid_key_name;
use serde_json::json;

pub fn backup(app: &App, name: &str) -> R {
    check_name(name)?;
    let rec = live(&app.lock().state, name)?.clone();
    let plain = zeroize::Zeroizing::new(
        serde_json::to_vec(&rec)
            .map_err(|e| internal(byok_core::err!(Internal, "cannot serialize a key: {e}")))?,
    );
    let blob = app.sealer.seal(&plain).map_err(internal)?;
    Ok(Reply::ok(json!({"value": encode_b64url(&blob)})))
}

pub fn restore(app: &App, req: &Request) -> R {
    let body: RestoreKey = body::decode(req.body)?;
    let value = body
        .value
        .ok_or_else(|| bad("'value' (the backup blob) is required."))?;
    let blob = decode_b64url(&value).map_err(|_| bad("The backup blob is not base64url."))?;
    // Whatever is wrong with the blob, it is the client's: 400.
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

#[cfg(test)]
mod tests {
    use super::super::testing::{expect_err, Vault};
    use byok_core::kek::{decode_b64url, encode_b64url};
    use serde_json::json;

    #[test]
    fn backup_restore_round_trip_and_refusals() {
        let v = Vault::new("Recoverable+Purgeable", false);
        let b1 = v.ok("POST", "/keys/bk/create", Some(json!({"kty": "RSA"})));
        let b2 = v.ok(
            "POST",
            "/keys/bk/create",
            Some(json!({"kty": "RSA", "tags": {"v": "2"}})),
        );
        let backup = v.ok("POST", "/keys/bk/backup", None);
        let blob = decode_b64url(backup["value"].as_str().unwrap()).unwrap();
        // Name taken (live, then deleted): 409.
        let m = expect_err(
            &v.call("POST", "/keys/restore", Some(backup.clone())),
            409,
            "Conflict",
        );
        assert!(m.contains("bk"), "{m}");
        v.ok("DELETE", "/keys/bk", None);
        expect_err(
            &v.call("POST", "/keys/restore", Some(backup.clone())),
            409,
            "Conflict",
        );
        expect_err(&v.call("POST", "/keys/bk/backup", None), 404, "KeyNotFound");
        assert_eq!(v.call("DELETE", "/deletedkeys/bk", None).status, 204);

        let mut flipped = blob.clone();
        let i = flipped.len() / 2;
        flipped[i] ^= 1;
        for body in [
            json!({"value": encode_b64url(&flipped)}),
            json!({"value": encode_b64url(&blob[..20])}),
            json!({"value": "%%%"}),
            json!({"value": 5}),
            json!({}),
        ] {
            expect_err(
                &v.call("POST", "/keys/restore", Some(body)),
                400,
                "BadParameter",
            );
        }
        expect_err(&v.call("POST", "/keys/restore", None), 400, "BadParameter");
        assert!(v.app.lock().state.keys.is_empty());

        // Every version comes back, the latest answered.
        let restored = v.ok("POST", "/keys/restore", Some(backup.clone()));
        assert_eq!(restored["key"], b2["key"]);
        assert_eq!(restored["tags"], json!({"v": "2"}));
        let kid = b1["key"]["kid"].as_str().unwrap();
        let path = kid.strip_prefix(&v.app.base_url).unwrap();
        assert_eq!(v.ok("GET", path, None)["key"], b1["key"]);

        // Another vault, with another secret, cannot open it.
        let other = Vault::new("Recoverable", false);
        expect_err(
            &other.call("POST", "/keys/restore", Some(backup)),
            400,
            "BadParameter",
        );
    }
}
