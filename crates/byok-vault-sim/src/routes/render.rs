//! The answers' JSON: KeyBundle, list items, deleted-key fields and paged lists.

use super::{bad, Reply, Request, R, RECOVERABLE_DAYS};
use crate::state::{Deleted, KeyRecord, Version};
use crate::App;
use serde_json::{json, Value};

/// Largest (and default) page of a list, as the service does (`maxresults` 1–25).
pub const MAX_PAGE: usize = 25;

/// The version's `kid`, at the address the client used.
pub fn kid(req: &Request, rec: &KeyRecord, v: &Version) -> String {
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

/// A KeyBundle: the public JWK (never a private part), attributes and tags.
pub fn key_bundle(app: &App, req: &Request, rec: &KeyRecord, v: &Version) -> Value {
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

/// A KeyItem, as lists show a key: kid, attributes and tags.
pub fn key_item(app: &App, req: &Request, rec: &KeyRecord, v: &Version) -> Value {
    let mut b = json!({"kid": kid(req, rec, v), "attributes": attributes(app, v)});
    if !v.tags.is_empty() {
        b["tags"] = json!(v.tags);
    }
    b
}

/// Add the deleted-key fields to a bundle or item.
pub fn add_deleted(req: &Request, rec: &KeyRecord, d: &Deleted, mut b: Value) -> Value {
    b["recoveryId"] = json!(format!("{}/deletedkeys/{}", req.vault, rec.name));
    b["deletedDate"] = json!(d.deleted_date);
    b["scheduledPurgeDate"] = json!(d.scheduled_purge_date);
    b
}

/// One page of `items` in the paged shape `{value, nextLink}`; `$skiptoken` is our offset.
pub fn page(req: &Request, items: Vec<Value>) -> R {
    let size = match req.query.maxresults.as_deref() {
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
    let skip = match req.query.skiptoken.as_deref() {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .map_err(|_| bad(format!("Invalid $skiptoken {t:?}.")))?,
    };
    let next = skip.saturating_add(size);
    let next_link = if next < items.len() {
        let api = req.query.api_version.as_deref().unwrap_or("7.6");
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

#[cfg(test)]
mod tests {
    use super::super::testing::{expect_err, Vault};
    use serde_json::json;

    #[test]
    fn pages_and_next_links() {
        let v = Vault::new("Recoverable", false);
        for _ in 0..3 {
            v.ok("POST", "/keys/p/create", Some(json!({"kty": "RSA"})));
        }
        let first = v.ok(
            "GET",
            "/keys/p/versions?api-version=2025-07-01&maxresults=2",
            None,
        );
        assert_eq!(first["value"].as_array().unwrap().len(), 2);
        let next = first["nextLink"].as_str().unwrap();
        assert_eq!(
            next,
            format!(
                "{}/keys/p/versions?api-version=2025-07-01&$skiptoken=2&maxresults=2",
                v.app.base_url
            )
        );
        // The link as a client sends it back; `$` may come percent-encoded.
        let second = v.ok(
            "GET",
            "/keys/p/versions?api-version=7.6&%24skiptoken=2&maxresults=2",
            None,
        );
        assert_eq!(second["value"].as_array().unwrap().len(), 1);
        assert!(second["nextLink"].is_null());
        let all = v.ok("GET", "/keys/p/versions?api-version=7.6", None);
        assert_eq!(all["value"].as_array().unwrap().len(), 3);
        assert!(all["nextLink"].is_null());
        let none = v.ok("GET", "/keys?$skiptoken=99", None);
        assert_eq!(none["value"], json!([]));
        for q in [
            "maxresults=0",
            "maxresults=26",
            "maxresults=x",
            "$skiptoken=-1",
        ] {
            expect_err(
                &v.call("GET", &format!("/keys?{q}"), None),
                400,
                "BadParameter",
            );
        }
    }

    #[test]
    fn bundles_never_show_private_parts() {
        let v = Vault::new("Purgeable", false);
        let b = v.ok(
            "POST",
            "/keys/b/create",
            Some(json!({"kty": "RSA", "attributes": {"nbf": 5, "exp": 9}, "tags": {"t": "u"}})),
        );
        let key = b["key"].as_object().unwrap();
        let mut fields: Vec<&str> = key.keys().map(String::as_str).collect();
        fields.sort();
        assert_eq!(fields, ["e", "key_ops", "kid", "kty", "n"]);
        assert_eq!(b["attributes"]["nbf"], 5);
        assert_eq!(b["attributes"]["exp"], 9);
        assert_eq!(b["attributes"]["recoveryLevel"], "Purgeable");
        // Without "Recoverable" there are no recoverable days.
        assert!(b["attributes"].get("recoverableDays").is_none());
        assert_eq!(b["tags"], json!({"t": "u"}));
        let list = v.ok("GET", "/keys", None);
        let item = &list["value"][0];
        assert_eq!(item["kid"], b["key"]["kid"]);
        assert!(item.get("key").is_none());
    }
}
