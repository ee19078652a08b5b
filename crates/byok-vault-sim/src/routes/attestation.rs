//! Key attestation (`GET /keys/{name}/{version}/attestation`): a Managed HSM answers
//! with the KeyBundle and an `MRVL-1` attestation signed by the simulator's TEST chain;
//! Key Vault (the simulator without `--managed-hsm`) does not offer attestation.

use super::render::key_bundle;
use super::{check_name, error, internal, live, version_not_found, Reply, Request, R};
use crate::App;
use byok_core::err;
use byok_core::kek::decode_b64url;
use byok_testkit::testchain::KeyFlags;

pub fn attestation(app: &App, req: &Request, name: &str, version: &str) -> R {
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
    let n = decode_b64url(&v.n)
        .map_err(|_| internal(err!(Integrity, "the stored modulus is damaged")))?;
    let e = decode_b64url(&v.e)
        .map_err(|_| internal(err!(Integrity, "the stored exponent is damaged")))?;
    let public = byok_core::kek::rsa_from_parts(&n, &e).map_err(internal)?;
    let flags = flags(v.origin.as_deref());
    let id = format!("/keys/{}/{}", rec.name, v.version);
    let att = chain
        .mrvl1_attestation(&public, flags, &id)
        .map_err(internal)?;
    let mut bundle = key_bundle(app, req, &rec, &v);
    bundle["attributes"]["attestation"] = att.attestation_json(true);
    Ok(Reply::ok(bundle))
}

/// What the attestation says of a key: created in the HSM (`generated`) it is local,
/// never extractable and always sensitive; imported (or of unknown origin, from an
/// older state file) it is none of those. Both are sensitive and not extractable.
fn flags(origin: Option<&str>) -> KeyFlags {
    let generated = origin == Some("generated");
    KeyFlags {
        extractable: false,
        never_extractable: generated,
        sensitive: true,
        always_sensitive: generated,
        local: generated,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{expect_err, version_of, Vault};
    use super::flags;
    use serde_json::json;

    #[test]
    fn flags_follow_the_origin() {
        let g = flags(Some("generated"));
        assert!(g.local && g.never_extractable && g.always_sensitive);
        assert!(g.sensitive && !g.extractable);
        for origin in [Some("imported"), None, Some("other")] {
            let i = flags(origin);
            assert!(!i.local && !i.never_extractable && !i.always_sensitive);
            assert!(i.sensitive && !i.extractable);
        }
    }

    #[test]
    fn key_vault_has_no_attestation() {
        let v = Vault::new("Recoverable", false);
        let k = v.ok("POST", "/keys/a/create", Some(json!({"kty": "RSA-HSM"})));
        let path = format!("/keys/a/{}/attestation", version_of(&k));
        let m = expect_err(&v.call("GET", &path, None), 400, "BadParameter");
        assert!(m.contains("--managed-hsm"), "{m}");
    }

    #[test]
    fn managed_hsm_attests_its_keys() {
        let v = Vault::new("Recoverable", true);
        let k = v.ok("POST", "/keys/a/create", Some(json!({"kty": "RSA-HSM"})));
        let b = v.ok("GET", "/keys/a//attestation", None);
        assert_eq!(b["key"], k["key"]);
        let att = &b["attributes"]["attestation"];
        assert_eq!(att["version"], "MRVL-1");
        for f in [
            "certificatePemFile",
            "privateKeyAttestation",
            "publicKeyAttestation",
        ] {
            assert!(att[f].as_str().is_some_and(|s| !s.is_empty()), "{f}");
        }
        let missing = format!("/keys/a/{}/attestation", "c".repeat(32));
        expect_err(&v.call("GET", &missing, None), 404, "KeyNotFound");
        expect_err(
            &v.call("GET", "/keys/none//attestation", None),
            404,
            "KeyNotFound",
        );
    }
}
