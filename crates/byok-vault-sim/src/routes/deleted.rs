//! Delete (`DELETE /keys/{name}`, soft unless the recovery level lacks `Recoverable`)
//! and the deleted keys: get, list, purge, recover.

use super::render::{add_deleted, key_bundle, key_item, page};
use super::{check_name, deleted, deleted_not_found, error_inner, internal, live, not_found};
use super::{Reply, Request, R, RECOVERABLE_DAYS};
use crate::state::Deleted;
use crate::App;

/// Seconds in a day, for the scheduled purge date.
const DAY: i64 = 86_400;

pub fn delete(app: &App, req: &Request, name: &str) -> R {
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
            scheduled_purge_date: req.now.saturating_add(RECOVERABLE_DAYS * DAY),
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

pub fn list_deleted(app: &App, req: &Request) -> R {
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

pub fn get_deleted(app: &App, req: &Request, name: &str) -> R {
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

pub fn purge(app: &App, name: &str) -> R {
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

pub fn recover(app: &App, req: &Request, name: &str) -> R {
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

#[cfg(test)]
mod tests {
    use super::super::testing::{expect_err, Vault};
    use serde_json::json;

    #[test]
    fn soft_delete_recover_and_protected_purge() {
        let v = Vault::new("Recoverable+ProtectedSubscription", false);
        let k = v.ok("POST", "/keys/dk/create", Some(json!({"kty": "RSA"})));
        let d = v.ok("DELETE", "/keys/dk", None);
        assert_eq!(d["key"], k["key"]);
        assert_eq!(
            d["recoveryId"],
            format!("{}/deletedkeys/dk", v.app.base_url)
        );
        assert_eq!(d["deletedDate"], 1_750_000_000);
        assert_eq!(d["scheduledPurgeDate"], 1_750_000_000 + 90 * 86_400);
        expect_err(&v.call("GET", "/keys/dk", None), 404, "KeyNotFound");
        expect_err(&v.call("DELETE", "/keys/dk", None), 404, "KeyNotFound");
        expect_err(
            &v.call("POST", "/keys/dk/create", Some(json!({"kty": "RSA"}))),
            409,
            "Conflict",
        );
        let listed = v.ok("GET", "/deletedkeys", None);
        assert_eq!(listed["value"][0]["kid"], k["key"]["kid"]);
        assert_eq!(v.ok("GET", "/deletedkeys/DK", None)["key"], k["key"]);
        let m = expect_err(&v.call("DELETE", "/deletedkeys/dk", None), 403, "Forbidden");
        assert!(m.contains("ProtectedSubscription"), "{m}");
        assert_eq!(
            v.ok("POST", "/deletedkeys/dk/recover", None)["key"],
            k["key"]
        );
        assert_eq!(v.ok("GET", "/keys/dk", None)["key"], k["key"]);
        for (m, p) in [
            ("GET", "/deletedkeys/dk"),
            ("POST", "/deletedkeys/dk/recover"),
            ("DELETE", "/deletedkeys/dk"),
        ] {
            expect_err(&v.call(m, p, None), 404, "KeyNotFound");
        }
    }

    #[test]
    fn purgeable_and_final_delete() {
        let v = Vault::new("Recoverable+Purgeable", false);
        v.ok("POST", "/keys/pk/create", Some(json!({"kty": "RSA"})));
        v.ok("DELETE", "/keys/pk", None);
        let r = v.call("DELETE", "/deletedkeys/pk", None);
        assert_eq!((r.status, r.body.is_none()), (204, true));
        assert!(v.app.lock().state.keys.is_empty());
        v.ok("POST", "/keys/pk/create", Some(json!({"kty": "RSA"})));

        let v = Vault::new("Purgeable", false);
        v.ok("POST", "/keys/gone/create", Some(json!({"kty": "RSA"})));
        let d = v.ok("DELETE", "/keys/gone", None);
        assert!(d.get("recoveryId").is_none());
        assert_eq!(v.ok("GET", "/deletedkeys", None)["value"], json!([]));
        assert!(v.app.lock().state.keys.is_empty());
    }
}
