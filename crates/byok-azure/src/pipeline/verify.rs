//! `byok verify`: the vault holds exactly the HSM's key, with what Customer Key requires
//! (RSA-HSM, enabled, no expiry, wrapKey and unwrapKey, soft delete and purge
//! protection), a live round trip works, and on a Managed HSM the key's attestation
//! proves it is the HSM's key and not extractable.

use super::EXPIRY_9999;
use crate::vault::{check_key_name, AttestationAnswer, KeyBundle, Vault};
use azure_security_keyvault_keys::models::EncryptionAlgorithm;
use byok_core::attestation::{AttestationReport, ExpectedKey, TrustRoots};
use byok_core::keyid::Service;
use byok_core::util::{rfc3339, yes_no_or};
use byok_core::{err, Result};
use serde::Serialize;
use std::path::Path;

/// One rule `byok verify` checks.
#[derive(Debug, Serialize)]
pub struct Rule {
    pub rule: &'static str,
    pub ok: bool,
    pub found: String,
    pub fix: &'static str,
}

/// What `byok verify` reports.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub vault: String,
    pub name: String,
    pub kid: String,
    pub rules: Vec<Rule>,
    pub ok: bool,
}

/// The rule that the vault's key is the HSM's key: the first of [`key_rules`].
pub const SAME_KEY_RULE: &str = "the vault's key is the HSM's key";

/// Check that the vault holds exactly the HSM's key with what Customer Key requires
/// (attestations checked against the pinned Marvell roots only).
pub fn verify(v: &Vault, name: &str, pub_path: &Path) -> Result<VerifyReport> {
    verify_with_roots(v, name, pub_path, &TrustRoots::marvell()?)
}

/// The rules read from the vault's key `k` alone, against the HSM's public key `(n, e)`.
/// The first is [`SAME_KEY_RULE`].
fn key_rules(k: &KeyBundle, n: &[u8], e: &[u8]) -> Vec<Rule> {
    let mut rules = Vec::new();
    let mut rule = |rule, ok, found: String, fix| {
        rules.push(Rule {
            rule,
            ok,
            found,
            fix,
        })
    };
    let same = k.n().as_deref() == Some(n) && k.e().as_deref() == Some(e);
    rule(
        SAME_KEY_RULE,
        same,
        if same {
            "same modulus and exponent".into()
        } else {
            "a different public key".into()
        },
        "this is not the key the ceremony made: do not use it; upload the ceremony's package",
    );
    let kty = k.kty().unwrap_or("").to_string();
    rule(
        "kty is RSA-HSM",
        kty == "RSA-HSM",
        kty,
        "import the package as RSA-HSM (`byok upload` does)",
    );
    let enabled = k.enabled();
    rule(
        "enabled",
        enabled == Some(true),
        format!("{enabled:?}"),
        "az keyvault key set-attributes --enabled true",
    );
    let exp = k.exp();
    rule(
        "no expiry (or 9999-12-31)",
        exp.is_none_or(|x| x >= EXPIRY_9999),
        exp.map(rfc3339).unwrap_or_else(|| "none".into()),
        "Customer Key keys must not expire: az keyvault key set-attributes --expires 9999-12-31T00:00:00Z",
    );
    let ops = k.key_ops();
    rule(
        "key_ops include wrapKey and unwrapKey",
        ops.iter().any(|o| o == "wrapKey") && ops.iter().any(|o| o == "unwrapKey"),
        ops.join(","),
        "az keyvault key set-attributes --ops wrapKey unwrapKey",
    );
    let level = k.recovery_level().unwrap_or("").to_string();
    rule(
        "recovery level Recoverable+ProtectedSubscription",
        level == "Recoverable+ProtectedSubscription",
        level,
        "turn on soft delete and purge protection: az keyvault update --enable-purge-protection true",
    );
    rules
}

/// The attestation rule of `verify`: `None` when the vault offers no attestation
/// (Key Vault); else whether the attestation proves the vault's key is the HSM's key
/// (same modulus and exponent, the same key name and version) and not extractable.
fn attestation_rule(
    v: &Vault,
    name: &str,
    k: &KeyBundle,
    n: &[u8],
    e: &[u8],
    roots: &TrustRoots,
) -> Option<(bool, String)> {
    let svc = v.service();
    if svc == Service::KeyVault {
        return None;
    }
    let kid = k.kid().unwrap_or("").to_string();
    let version = k.version().unwrap_or("");
    let att = match v.get_attestation(name, version) {
        Ok(AttestationAnswer::Bundle(b)) => b,
        // The simulator without --managed-hsm is a Key Vault: no rule.
        Ok(AttestationAnswer::NoAttestation(_)) if svc == Service::Loopback => return None,
        Ok(AttestationAnswer::NoAttestation(d)) => return Some((false, d)),
        Err(e) => return Some((false, e.message().to_string())),
    };
    let expected = ExpectedKey {
        n: n.to_vec(),
        e: e.to_vec(),
        kid: Some(kid),
    };
    match byok_core::attestation::verify_azure(&att.json.to_string(), Some(&expected), roots) {
        Ok(report) => Some(attestation_found(&report)),
        Err(e) => Some((false, e.message().to_string())),
    }
}

/// What a verified attestation says: the key is fit when its private object is
/// attested not extractable and sensitive.
fn attestation_found(report: &AttestationReport) -> (bool, String) {
    let Some(p) = report.private_object() else {
        return (false, "no private key object is attested".into());
    };
    let ok = p.extractable == Some(false) && p.sensitive == Some(true);
    let found = format!(
        "{}: same modulus and exponent, extractable {}, sensitive {}, HSM {} ({}){}",
        if ok { "verified" } else { "verified, but" },
        yes_no_or(p.extractable, "not attested"),
        yes_no_or(p.sensitive, "not attested"),
        report.hsm_serial.as_deref().unwrap_or("(unknown)"),
        report.mode,
        if report.extra_root_used {
            "; chain ends at an EXTRA trust root (rehearsal only)"
        } else {
            ""
        }
    );
    (ok, found)
}

/// [`verify`] with the trust roots for the Managed HSM attestation rule (extra roots
/// are for rehearsals against the simulator).
pub fn verify_with_roots(
    v: &Vault,
    name: &str,
    pub_path: &Path,
    roots: &TrustRoots,
) -> Result<VerifyReport> {
    check_key_name(name)?;
    let (n, e) = byok_core::kek::read_rsa_public(pub_path)?;
    let k = v.get_key(name, None)?.ok_or_else(|| {
        err!(
            NotFound,
            "no key {name} in {}: upload it first (`byok upload`)",
            v.url
        )
    })?;
    let mut rules = key_rules(&k, &n, &e);
    let same = rules.first().is_some_and(|r| r.ok);
    // A live round trip: wrap locally with the HSM's public key, unwrap in the vault.
    let round_trip = if same {
        let secret: [u8; 32] = rand::random();
        let public = byok_core::kek::rsa_from_parts(&n, &e)?;
        let wrapped = public
            .encrypt(&mut rand::rng(), rsa::Oaep::<sha2::Sha256>::new(), &secret)
            .map_err(|e| err!(Internal, "cannot wrap locally: {e}"))?;
        match v.unwrap_key(
            name,
            k.version().unwrap_or(""),
            EncryptionAlgorithm::RsaOaep256,
            &wrapped,
        ) {
            Ok(got) if got == secret => (true, "unwrapKey returned the value".to_string()),
            Ok(_) => (false, "unwrapKey returned another value".to_string()),
            Err(e) => (false, e.message().to_string()),
        }
    } else {
        (false, "skipped: not the HSM's key".to_string())
    };
    rules.push(Rule {
        rule: "round trip: RSA-OAEP-256 wrapped here, unwrapped in the vault",
        ok: round_trip.0,
        found: round_trip.1,
        fix: "the vault cannot use the key: check key_ops, enabled, and this identity's unwrapKey permission",
    });
    if let Some((ok, found)) = attestation_rule(v, name, &k, &n, &e, roots) {
        rules.push(Rule {
            rule: "Managed HSM attestation: the HSM's key, not extractable",
            ok,
            found,
            fix: "the Managed HSM's own statement about this key does not hold: do not use the key; check it with `az keyvault key get-attestation` and `byok attestation verify`, and import the ceremony's package again (with the simulator, give --trust-root DIR/attestation-root.pem)",
        });
    }
    let ok = rules.iter().all(|r| r.ok);
    Ok(VerifyReport {
        vault: v.url.clone(),
        name: name.to_string(),
        kid: k.kid().unwrap_or("").to_string(),
        rules,
        ok,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::attestation::AttestedObject;
    use serde_json::json;

    fn good() -> serde_json::Value {
        json!({
            "key": {"kid": "https://v.vault.azure.net/keys/k/1", "kty": "RSA-HSM",
                    "key_ops": ["encrypt", "wrapKey", "unwrapKey"], "n": "AQID", "e": "AQAB"},
            "attributes": {"enabled": true, "recoveryLevel": "Recoverable+ProtectedSubscription"}
        })
    }

    fn failed(j: serde_json::Value) -> Vec<&'static str> {
        let k = KeyBundle::from_json(j).unwrap();
        key_rules(&k, &[1, 2, 3], &[1, 0, 1])
            .into_iter()
            .filter(|r| !r.ok)
            .map(|r| r.rule)
            .collect()
    }

    #[test]
    fn a_good_key_passes_every_rule() {
        assert!(failed(good()).is_empty());
        let mut j = good();
        j["attributes"]["exp"] = json!(EXPIRY_9999);
        assert!(failed(j).is_empty(), "9999-12-31 counts as no expiry");
        let rules = key_rules(
            &KeyBundle::from_json(good()).unwrap(),
            &[1, 2, 3],
            &[1, 0, 1],
        );
        assert_eq!(rules.len(), 6);
        assert_eq!(rules[0].rule, SAME_KEY_RULE);
        assert_eq!(rules[3].found, "none");
    }

    #[test]
    fn each_rule_can_fail() {
        let mut j = good();
        j["key"]["n"] = json!("AQIE");
        assert_eq!(failed(j), [SAME_KEY_RULE]);
        let mut j = good();
        j["key"]["kty"] = json!("RSA");
        assert_eq!(failed(j), ["kty is RSA-HSM"]);
        let mut j = good();
        j["attributes"]["enabled"] = json!(false);
        assert_eq!(failed(j), ["enabled"]);
        let mut j = good();
        j["attributes"]["exp"] = json!(1_796_116_443_i64);
        let k = KeyBundle::from_json(j.clone()).unwrap();
        assert_eq!(
            key_rules(&k, &[1, 2, 3], &[1, 0, 1])[3].found,
            "2026-12-01T09:14:03Z"
        );
        assert_eq!(failed(j), ["no expiry (or 9999-12-31)"]);
        let mut j = good();
        j["key"]["key_ops"] = json!(["wrapKey"]);
        assert_eq!(failed(j), ["key_ops include wrapKey and unwrapKey"]);
        let mut j = good();
        j["attributes"]["recoveryLevel"] = json!("Recoverable");
        assert_eq!(
            failed(j),
            ["recovery level Recoverable+ProtectedSubscription"]
        );
        // A bare answer fails everything it cannot show.
        assert_eq!(failed(json!({"key": {}})).len(), 5, "all but the expiry");
    }

    fn report(
        extractable: Option<bool>,
        sensitive: Option<bool>,
        extra: bool,
    ) -> AttestationReport {
        let object = AttestedObject {
            handle: 1,
            class: Some(3),
            class_name: "private key".into(),
            key_type: Some(0),
            key_type_name: "RSA".into(),
            key_bits: Some(2048),
            token: None,
            private: Some(true),
            sensitive,
            always_sensitive: None,
            extractable,
            never_extractable: None,
            local: None,
            encrypt: None,
            decrypt: None,
            wrap: None,
            unwrap: None,
            sign: None,
            verify: None,
            derive: None,
            trusted: None,
            wrap_with_trusted: None,
            label: None,
            id: None,
            modulus: None,
            public_exponent: None,
            ec_point: None,
            value_len: None,
            key_check_value: None,
            other_attributes: vec![],
        };
        AttestationReport {
            format: "MRVL-1".into(),
            signature_form: String::new(),
            root: String::new(),
            extra_root_used: extra,
            card_certificate: String::new(),
            partition_certificate: String::new(),
            owner_partition_certificate: String::new(),
            owner_root: None,
            hsm_serial: Some("5.3G1953-ICM001225".into()),
            partition: None,
            mode: "FIPS".into(),
            key_compared: true,
            kid: None,
            key_name: None,
            key_version: None,
            objects: vec![object],
        }
    }

    #[test]
    fn attestation_findings() {
        let (ok, found) = attestation_found(&report(Some(false), Some(true), false));
        assert!(ok);
        assert_eq!(
            found,
            "verified: same modulus and exponent, extractable no, sensitive yes, HSM 5.3G1953-ICM001225 (FIPS)"
        );
        let (ok, found) = attestation_found(&report(Some(true), Some(true), true));
        assert!(!ok);
        assert!(
            found.starts_with("verified, but: same modulus and exponent, extractable yes"),
            "{found}"
        );
        assert!(
            found.ends_with("; chain ends at an EXTRA trust root (rehearsal only)"),
            "{found}"
        );
        let (ok, found) = attestation_found(&report(None, Some(true), false));
        assert!(!ok, "an unattested attribute is not a proof");
        assert!(found.contains("extractable not attested"), "{found}");
        let mut r = report(Some(false), Some(true), false);
        r.objects[0].class = Some(2);
        assert_eq!(
            attestation_found(&r),
            (false, "no private key object is attested".to_string())
        );
    }
}
