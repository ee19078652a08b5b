//! The entry points: verify an Azure `MRVL-1` attestation or a generic Marvell blob with
//! its chain, compare the attested key with the expected one, and check what a KEK must
//! be.

use super::attributes::{decode_object, CLASS_PRIVATE_KEY, CLASS_PUBLIC_KEY, KEY_TYPE_RSA};
use super::blob;
use super::chain::{build_chain, parse_bundle, Chain};
use super::expected::{b64_any, key_name_version};
use super::signature::verify_blob_signature;
use super::{AttestationReport, AttestedObject, ExpectedKey, TrustRoots};
use crate::error::Result;
use crate::{bail, err};

/// Parse "HSM:<serial>:PARTN:<n>, for FIPS mode" (Marvell partition CN).
fn parse_partition_cn(cn: &str) -> (Option<String>, Option<String>, String) {
    let lower = cn.to_ascii_lowercase();
    let mode = if lower.contains("non-fips mode") {
        "non-FIPS"
    } else if lower.contains("fips mode") {
        "FIPS"
    } else {
        "unknown"
    };
    let main = cn.split(", ").next().unwrap_or_default();
    let main = main.strip_prefix("HSM:").unwrap_or(main);
    let (serial, partition) = match main.split_once(":PARTN:") {
        Some((s, p)) => (Some(s.to_string()), Some(p.to_string())),
        None => (None, None),
    };
    (
        serial.filter(|s| !s.is_empty()),
        partition.filter(|p| !p.is_empty()),
        mode.to_string(),
    )
}

/// Compare attested objects with the expected key and kid.
fn check_expected(
    objects: &[AttestedObject],
    expected: &[&ExpectedKey],
) -> Result<(Option<String>, Option<String>, Option<String>)> {
    for exp in expected {
        let with_modulus: Vec<&AttestedObject> =
            objects.iter().filter(|o| o.modulus.is_some()).collect();
        if with_modulus.is_empty() {
            bail!(Integrity, "attestation: no attested object carries an RSA modulus, so it cannot be compared with the expected key; this attestation is not for an RSA key");
        }
        let n = hex::encode(&exp.n);
        let e = hex::encode(&exp.e);
        for o in with_modulus {
            if o.key_type != Some(KEY_TYPE_RSA) {
                bail!(Integrity, "attestation: the attested {} is a {} key, not RSA: this attestation is for another key; do not use this KEK", o.class_name, o.key_type_name);
            }
            if o.modulus.as_deref() != Some(n.as_str()) {
                bail!(Integrity, "attestation: the attested {} modulus differs from the expected key's: this attestation is for another key; do not use this KEK", o.class_name);
            }
            if o.public_exponent.as_deref() != Some(e.as_str()) {
                bail!(Integrity, "attestation: the attested {} public exponent differs from the expected key's: this attestation is for another key; do not use this KEK", o.class_name);
            }
        }
    }
    let (mut name, mut version) = (None, None);
    for o in objects {
        if let Some((n, v)) = o.id.as_deref().and_then(key_name_version) {
            name = Some(n);
            version = v;
            break;
        }
    }
    let kids: Vec<&String> = expected.iter().filter_map(|e| e.kid.as_ref()).collect();
    for kid in &kids {
        let Some((want_name, want_version)) = key_name_version(kid) else {
            bail!("attestation: the key id {kid} does not name a Key Vault key (/keys/NAME/VERSION); pass the key's full id");
        };
        for o in objects {
            let Some(id) = &o.id else {
                bail!(Integrity, "attestation: the attested {} carries no id, so it cannot be tied to {kid}; get a fresh attestation from the vault", o.class_name);
            };
            let Some((n, v)) = key_name_version(id) else {
                bail!(Integrity, "attestation: the attested id {id:?} does not name a Key Vault key; this attestation is not for {kid}");
            };
            if !n.eq_ignore_ascii_case(&want_name) {
                bail!(Integrity, "attestation: the attested id names key {n:?}, not {want_name:?}: this attestation is for another key; do not use this KEK");
            }
            if let Some(want_v) = &want_version {
                if !v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case(want_v)) {
                    bail!(
                        Integrity,
                        "attestation: the attested id names version {}, not {want_v}: this attestation is for another key version; do not use this KEK",
                        v.as_deref().unwrap_or("(none)")
                    );
                }
            }
        }
    }
    Ok((kids.first().map(|k| k.to_string()), name, version))
}

fn make_report(
    format: &str,
    signature_form: &str,
    chain: &Chain,
    objects: Vec<AttestedObject>,
    expected: &[&ExpectedKey],
) -> Result<AttestationReport> {
    let (kid, key_name, key_version) = check_expected(&objects, expected)?;
    let (hsm_serial, partition, mode) = parse_partition_cn(&chain.partition.subject_cn);
    Ok(AttestationReport {
        format: format.to_string(),
        signature_form: signature_form.to_string(),
        root: chain.root.clone(),
        extra_root_used: chain.extra_root,
        card_certificate: chain.card.describe(),
        partition_certificate: chain.partition.describe(),
        owner_partition_certificate: chain.owner_partition.describe(),
        owner_root: chain.owner_root.clone(),
        hsm_serial,
        partition,
        mode,
        key_compared: !expected.is_empty(),
        kid,
        key_name,
        key_version,
        objects,
    })
}

/// Verify a generic Marvell attestation blob (gzip-wrapped or not) with its
/// PEM chain, as Google Cloud HSM provides them. The owner chain's root
/// (Google's) is not in the bundle: only the owner partition certificate's
/// key is compared. `expected`, when given, must be an RSA key equal to the
/// attested one.
pub fn verify_marvell_blob(
    data: &[u8],
    chain_pem: &str,
    expected: Option<&ExpectedKey>,
    roots: &TrustRoots,
) -> Result<AttestationReport> {
    let raw = blob::maybe_gunzip(data)?;
    let parsed = blob::parse(&raw)?;
    let certs = parse_bundle(chain_pem)?;
    let chain = build_chain(&certs, roots, false)?;
    let form = verify_blob_signature(
        &parsed,
        &chain.partition_key,
        &chain.partition,
        "attestation blob",
    )?;
    let objects = parsed
        .objects
        .iter()
        .map(decode_object)
        .collect::<Result<Vec<_>>>()?;
    let expected: Vec<&ExpectedKey> = expected.into_iter().collect();
    make_report("marvell", form.describe(), &chain, objects, &expected)
}

/// Verify an Azure `MRVL-1` attestation: the KeyBundle JSON returned by
/// `GET /keys/{name}/{version}/attestation` (base64url fields; its `key` is
/// the expected key and its `kid` is checked against the attested id), or the
/// attestation object written by `az keyvault key get-attestation --file`
/// (standard base64), in which case `expected` must be given.
pub fn verify_azure(
    json: &str,
    expected: Option<&ExpectedKey>,
    roots: &TrustRoots,
) -> Result<AttestationReport> {
    crate::json::check_unique_keys(json.as_bytes()).map_err(|e| e.context("attestation"))?;
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| {
        err!("attestation: not valid JSON ({e}); pass the output of the vault's attestation call or of az keyvault key get-attestation")
    })?;
    let bundle_key = match v.get("key") {
        Some(k) if k.is_object() => ExpectedKey::from_jwk(k)?,
        _ => None,
    };
    let att = v
        .get("attributes")
        .and_then(|a| a.get("attestation"))
        .or_else(|| v.get("attestation"))
        .unwrap_or(&v);
    let field = |name: &str| att.get(name).and_then(|x| x.as_str());
    let version = field("version").ok_or_else(|| {
        err!("attestation: no \"version\" field; this is not a Key Vault key attestation")
    })?;
    if version != "MRVL-1" {
        bail!("attestation: unknown attestation version {version:?} (only MRVL-1 is supported); upgrade byok or check the vault");
    }
    let certs_field = field("certificatePemFile")
        .or_else(|| field("certificates"))
        .ok_or_else(|| err!("attestation: no \"certificatePemFile\" field; the attestation is incomplete, get a fresh one from the vault"))?;
    let pem = if certs_field.trim_start().starts_with("-----BEGIN") {
        certs_field.to_string()
    } else {
        let bytes =
            b64_any(certs_field).map_err(|e| e.context("attestation: certificatePemFile"))?;
        String::from_utf8(bytes).map_err(|_| {
            err!("attestation: certificatePemFile does not decode to PEM text; the attestation is damaged, get a fresh one")
        })?
    };
    let private_b64 = field("privateKeyAttestation").ok_or_else(|| {
        err!("attestation: no \"privateKeyAttestation\" field; the attestation is incomplete, get a fresh one from the vault")
    })?;
    let private_blob = blob::maybe_gunzip(
        &b64_any(private_b64).map_err(|e| e.context("attestation: privateKeyAttestation"))?,
    )?;
    let public_blob = match field("publicKeyAttestation").filter(|s| !s.is_empty()) {
        Some(s) => {
            Some(blob::maybe_gunzip(&b64_any(s).map_err(|e| {
                e.context("attestation: publicKeyAttestation")
            })?)?)
        }
        None => None,
    };

    let mut expected_all: Vec<&ExpectedKey> = Vec::new();
    if let Some(k) = &bundle_key {
        expected_all.push(k);
    }
    if let Some(k) = expected {
        expected_all.push(k);
    }
    if expected_all.is_empty() {
        bail!("attestation: no public key to compare with: this attestation file holds no key; pass the KEK's public key (PEM or JSON)");
    }

    let certs = parse_bundle(&pem)?;
    let chain = build_chain(&certs, roots, true)?;

    let parsed = blob::parse(&private_blob).map_err(|e| e.context("private key attestation"))?;
    let form = verify_blob_signature(
        &parsed,
        &chain.partition_key,
        &chain.partition,
        "private key attestation",
    )?;
    let mut objects = Vec::new();
    for o in &parsed.objects {
        let d = decode_object(o)?;
        if d.class != Some(CLASS_PRIVATE_KEY) {
            bail!("attestation: the private key attestation describes a {}, not a private key; get a fresh attestation from the vault", d.class_name);
        }
        objects.push(d);
    }
    if let Some(pb) = &public_blob {
        let parsed = blob::parse(pb).map_err(|e| e.context("public key attestation"))?;
        verify_blob_signature(
            &parsed,
            &chain.partition_key,
            &chain.partition,
            "public key attestation",
        )?;
        for o in &parsed.objects {
            let d = decode_object(o)?;
            if d.class != Some(CLASS_PUBLIC_KEY) {
                bail!("attestation: the public key attestation describes a {}, not a public key; get a fresh attestation from the vault", d.class_name);
            }
            objects.push(d);
        }
    }
    make_report("MRVL-1", form.describe(), &chain, objects, &expected_all)
}

/// Require what a KEK must be: a private key object that is not extractable,
/// was never extractable, is sensitive, and was generated in the HSM.
pub fn check_kek_properties(report: &AttestationReport) -> Result<()> {
    let Some(o) = report.private_object() else {
        bail!("attestation: no private key object is attested, so the KEK's protection is unproven; get the attestation of the KEK itself");
    };
    let checks: [(&str, Option<bool>, bool); 4] = [
        ("extractable", o.extractable, false),
        ("never-extractable", o.never_extractable, true),
        ("sensitive", o.sensitive, true),
        ("local (generated in the HSM)", o.local, true),
    ];
    for (name, got, want) in checks {
        match got {
            None => bail!("attestation: the KEK's private key does not attest {name}; a KEK must prove it, do not use this KEK"),
            Some(g) if g != want => bail!("attestation: the KEK's private key has {name} = {g}, a KEK needs {want}; create a new KEK in the HSM"),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Parse a blob (gzip-wrapped or not) and decode its objects, WITHOUT any
/// verification: for inspection only (e.g. a blob whose chain is unknown).
pub fn parse_blob_unverified(data: &[u8]) -> Result<Vec<AttestedObject>> {
    let raw = blob::maybe_gunzip(data)?;
    let parsed = blob::parse(&raw)?;
    parsed.objects.iter().map(decode_object).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const SAMPLE: &[u8] =
        include_bytes!("../../../../tests/fixtures/attestation/gcp-ec-p256-attestation.bin");
    const CHAIN: &str =
        include_str!("../../../../tests/fixtures/attestation/gcp-ec-p256-chain.pem");
    const RSA_NOCHAIN: &[u8] =
        include_bytes!("../../../../tests/fixtures/attestation/gcp-rsa-attestation-nochain.bin");

    #[test]
    fn partition_cn() {
        let (s, p, m) = parse_partition_cn("HSM:5.3G1953-ICM001225:PARTN:1, for FIPS mode");
        assert_eq!(s.as_deref(), Some("5.3G1953-ICM001225"));
        assert_eq!(p.as_deref(), Some("1"));
        assert_eq!(m, "FIPS");
        let (_, _, m) = parse_partition_cn("HSM:X:PARTN:2, for non-FIPS mode");
        assert_eq!(m, "non-FIPS");
        let (s, p, m) = parse_partition_cn("");
        assert_eq!((s, p, m.as_str()), (None, None, "unknown"));
    }

    #[test]
    fn google_sample_verifies_and_a_flipped_signature_does_not() {
        let roots = TrustRoots::marvell().expect("pins");
        let r = verify_marvell_blob(SAMPLE, CHAIN, None, &roots).expect("verifies");
        assert_eq!(
            r.signature_form,
            "RSA PKCS#1 v1.5 SHA-256 (with DigestInfo)"
        );
        check_kek_properties(&r).expect("KEK properties");
        let mut bad = SAMPLE.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let e = verify_marvell_blob(&bad, CHAIN, None, &roots).unwrap_err();
        assert!(e.is(ErrorKind::Integrity), "{e}");
        assert!(e.message().contains("not signed by the partition"), "{e}");
    }

    /// Extra roots never make a chain to a pinned root fail, even when they
    /// are certificates of that chain.
    #[test]
    fn extra_roots_do_not_break_a_pinned_chain() {
        let mut roots = TrustRoots::marvell().expect("pins");
        roots.add_extra_pem(CHAIN).expect("extra");
        let r = verify_marvell_blob(SAMPLE, CHAIN, None, &roots).expect("still verifies");
        assert!(!r.extra_root_used);
    }

    #[test]
    fn expected_key_mismatch_is_integrity() {
        let roots = TrustRoots::marvell().expect("pins");
        // The sample attests an EC key: an RSA key cannot match it.
        let k = ExpectedKey {
            n: vec![0xc5; 256],
            e: vec![1, 0, 1],
            kid: None,
        };
        let e = verify_marvell_blob(SAMPLE, CHAIN, Some(&k), &roots).unwrap_err();
        assert!(e.is(ErrorKind::Integrity), "{e}");
        assert!(
            e.message()
                .contains("no attested object carries an RSA modulus"),
            "{e}"
        );
        // The RSA sample's object, compared with another modulus.
        let objects = parse_blob_unverified(RSA_NOCHAIN).expect("parses");
        let e = check_expected(&objects, &[&k]).unwrap_err();
        assert!(e.is(ErrorKind::Integrity), "{e}");
        assert!(e.message().contains("modulus differs"), "{e}");
        // The right key: compared, no kid, no name.
        let o = &objects[0];
        let right = ExpectedKey {
            n: hex::decode(o.modulus.as_deref().expect("n")).expect("hex"),
            e: hex::decode(o.public_exponent.as_deref().expect("e")).expect("hex"),
            kid: None,
        };
        assert_eq!(
            check_expected(&objects, &[&right]).expect("same key"),
            (None, None, None)
        );
        // A kid that is not a Key Vault key id is the caller's bad input.
        let not_a_kid = ExpectedKey {
            kid: Some("not-a-kid".into()),
            ..right.clone()
        };
        let e = check_expected(&objects, &[&not_a_kid]).unwrap_err();
        assert!(e.is(ErrorKind::BadInput), "{e}");
        // A kid the attested id (Google's hex id) cannot be tied to: integrity.
        let kid = ExpectedKey {
            kid: Some("https://h.managedhsm.azure.net/keys/k/v".into()),
            ..right
        };
        let e = check_expected(&objects, &[&kid]).unwrap_err();
        assert!(e.is(ErrorKind::Integrity), "{e}");
    }

    #[test]
    fn kek_properties() {
        let roots = TrustRoots::marvell().expect("pins");
        let mut r = verify_marvell_blob(SAMPLE, CHAIN, None, &roots).expect("verifies");
        let i = r
            .objects
            .iter()
            .position(|o| o.class == Some(CLASS_PRIVATE_KEY))
            .expect("private");
        r.objects[i].local = None;
        let e = check_kek_properties(&r).unwrap_err();
        assert!(e.message().contains("does not attest local"), "{e}");
        r.objects[i].extractable = Some(true);
        let e = check_kek_properties(&r).unwrap_err();
        assert!(e.message().contains("extractable = true"), "{e}");
        r.objects.remove(i);
        let e = check_kek_properties(&r).unwrap_err();
        assert!(e.message().contains("no private key object"), "{e}");
    }

    #[test]
    fn azure_input_errors_are_bad_input() {
        let roots = TrustRoots::marvell().expect("pins");
        for (json, needle) in [
            ("not json", "not valid JSON"),
            ("{}", "no \"version\""),
            (r#"{"version": "MRVL-2"}"#, "unknown attestation version"),
            (r#"{"version": "MRVL-1"}"#, "certificatePemFile"),
            (
                r#"{"version": "MRVL-1", "certificatePemFile": "-----BEGIN CERTIFICATE-----"}"#,
                "privateKeyAttestation",
            ),
            (
                r#"{"version": "MRVL-1", "certificatePemFile": "@@", "privateKeyAttestation": ""}"#,
                "base64",
            ),
            (
                r#"{"attestation": {"version": "MRVL-1", "certificatePemFile": "", "privateKeyAttestation": ""}}"#,
                "no public key to compare with",
            ),
        ] {
            let e = verify_azure(json, None, &roots).unwrap_err();
            assert!(e.message().contains(needle), "{needle}: {e}");
            assert!(e.is(ErrorKind::BadInput), "{e}");
        }
    }
}
