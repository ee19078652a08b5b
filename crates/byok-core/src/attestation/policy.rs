//! How the tool uses attestations: `byok attestation verify` (any supported form, found
//! by looking at the file), and the KEK rules of `kek inspect`, `wrap` and the ceremony.
//!
//! A KEK's attestation travels inside its KeyBundle JSON: `byok kek fetch --attestation`
//! writes the vault's KeyBundle with the `attributes.attestation` object of
//! `GET /keys/{name}/{version}/attestation` merged in (after checking that both answers
//! are about the same key). An attestation can also be given as a separate file (the
//! REST answer, or what `az keyvault key get-attestation --file` writes).
//!
//! Offline only: nothing here touches the network.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{
    check_kek_properties, verify_azure, verify_marvell_blob, AttestationReport, ExpectedKey,
    TrustRoots,
};
use crate::kek::Kek;
use crate::{bail, err, Result};

/// What byok says about a Key Vault (Premium) KEK when attestation is asked for.
pub const PREMIUM_NO_ATTESTATION: &str =
    "Key Vault Premium does not provide key attestation; only Managed HSM does";

/// Largest attestation file read (a real one is a few kilobytes).
const ATTESTATION_LIMIT: u64 = 1 << 20;

/// The pinned Marvell roots plus `--trust-root` files. Returns the roots and one warning
/// per extra root, to be printed every time (`warning: …`).
pub fn trust_roots(extra: &[PathBuf]) -> Result<(TrustRoots, Vec<String>)> {
    let mut roots = TrustRoots::marvell()?;
    let mut warnings = Vec::new();
    for p in extra {
        let bytes = crate::fsutil::read_limited(p, ATTESTATION_LIMIT, "trust root")?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| err!("trust root {}: not PEM text", p.display()))?;
        roots
            .add_extra_pem(text)
            .map_err(|e| e.context(format!("trust root {}", p.display())))?;
        warnings.push(format!(
            "--trust-root {}: attestations chaining to this root are accepted as genuine; that is for rehearsals only, never for a real ceremony (only the pinned Marvell roots prove real HSM hardware)",
            p.display()
        ));
    }
    Ok((roots, warnings))
}

/// `byok attestation verify`: `file` is the Azure `MRVL-1` JSON (REST answer or the
/// `az … get-attestation --file` form) or a generic Marvell blob (gzip-wrapped or not),
/// which needs `chain_pem`. `key` is the expected public key (PEM, JWK or KeyBundle
/// JSON); `kid` the key's versioned id.
pub fn verify_file(
    file: &[u8],
    key: Option<&[u8]>,
    chain_pem: Option<&[u8]>,
    kid: Option<&str>,
    roots: &TrustRoots,
    mode: crate::Mode,
) -> Result<AttestationReport> {
    if file.iter().all(u8::is_ascii_whitespace) {
        bail!("the attestation file is empty; pass the vault's attestation answer or a Marvell attestation blob");
    }
    let kid = match kid {
        Some(k) => Some(crate::keyid::KeyId::parse(k, mode)?.url()),
        None => None,
    };
    let text = std::str::from_utf8(file).ok().map(str::trim_start);
    let expected = match key {
        Some(k) => {
            let t = std::str::from_utf8(k)
                .map_err(|_| err!("--key: not text; pass the public key as PEM or JSON"))?;
            Some(ExpectedKey::parse(t).map_err(|e| e.context("--key"))?)
        }
        None => None,
    };
    match text {
        Some(t) if t.starts_with('{') => {
            if chain_pem.is_some() {
                bail!("--chain is for a generic Marvell blob; an Azure MRVL-1 attestation carries its own certificates");
            }
            let mut expected = expected;
            if let Some(kid) = &kid {
                // Tie the attestation to the kid: the key given, else the file's own key.
                let mut e = match expected.take() {
                    Some(e) => e,
                    None => ExpectedKey::parse(t).map_err(|_| {
                        err!("--kid needs the key: this file holds none; give --key with the KEK's public key")
                    })?,
                };
                e.kid = Some(kid.clone());
                expected = Some(e);
            }
            verify_azure(t, expected.as_ref(), roots)
        }
        _ => {
            let Some(chain) = chain_pem else {
                bail!("this is not an Azure attestation (not JSON), so it is read as a generic Marvell blob, which needs its certificate chain: give --chain PEM");
            };
            let chain = std::str::from_utf8(chain)
                .map_err(|_| err!("--chain: not PEM text; pass the certificate chain in PEM"))?;
            if kid.is_some() {
                bail!("--kid is for Azure attestations: a generic Marvell blob does not name a Key Vault key; leave --kid out and compare the key with --key");
            }
            verify_marvell_blob(file, chain, expected.as_ref(), roots)
        }
    }
}

/// The KEK's attestation, as `kek inspect`, `wrap` and the ceremony see it.
#[derive(Debug, Clone, Serialize)]
pub struct KekAttestation {
    /// `verified` or `absent`.
    pub status: &'static str,
    /// One line for people.
    pub summary: String,
    pub report: Option<AttestationReport>,
}

/// Does this KEK file (JSON) carry an attestation object?
pub fn has_attestation(kek_file: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(kek_file)
        .ok()
        .is_some_and(|v| v["attributes"]["attestation"].is_object())
}

/// Check a KEK's attestation: the one in the KEK file (`kek_file`, its bytes), or the
/// one given separately (`separate`). A present attestation must verify and prove what
/// a KEK needs ([`check_kek_properties`]); with `require`, a missing one is an error.
pub fn check_kek(
    kek_file: &[u8],
    separate: Option<(&Path, &[u8])>,
    kek: &Kek,
    require: bool,
    roots: &TrustRoots,
) -> Result<KekAttestation> {
    let expected = ExpectedKey {
        n: kek.public_modulus(),
        e: kek.public_exponent(),
        kid: kek.kid.as_ref().map(|k| k.url()),
    };
    let source = match separate {
        Some((path, bytes)) => Some((
            std::str::from_utf8(bytes)
                .map_err(|_| err!("attestation {}: not JSON text", path.display()))?,
            format!("attestation {}", path.display()),
        )),
        None if has_attestation(kek_file) => Some((
            std::str::from_utf8(kek_file).map_err(|_| err!("the KEK file is not text"))?,
            "the KEK file".to_string(),
        )),
        None => None,
    };
    if let Some((json, what)) = source {
        let loopback = kek
            .kid
            .as_ref()
            .is_some_and(|k| k.service == crate::keyid::Service::Loopback);
        let report = verify_azure(json, Some(&expected), roots).map_err(|e| {
            let e = e.context(&what);
            if loopback && e.is(crate::ErrorKind::UntrustedRoot) {
                e.hint("a simulator's TEST chain: give --trust-root DIR/attestation-root.pem, for rehearsals only")
            } else {
                e
            }
        })?;
        check_kek_properties(&report).map_err(|e| e.context(&what))?;
        let summary = format!(
            "verified: HSM {} partition {} ({}), private key not extractable, never extractable, generated in the HSM{}",
            report.hsm_serial.as_deref().unwrap_or("(unknown)"),
            report.partition.as_deref().unwrap_or("(unknown)"),
            report.mode,
            if report.extra_root_used {
                "; chain ends at an EXTRA trust root (rehearsal only)"
            } else {
                ""
            }
        );
        return Ok(KekAttestation {
            status: "verified",
            summary,
            report: Some(report),
        });
    }
    let premium = kek
        .kid
        .as_ref()
        .is_some_and(|k| k.service == crate::keyid::Service::KeyVault);
    if premium {
        if require {
            bail!(
                "KEK {}: {PREMIUM_NO_ATTESTATION}, so a Key Vault KEK cannot meet an attestation requirement; use a Managed HSM KEK, or drop the requirement for this vault",
                kek.kid.as_ref().map(|k| k.url()).unwrap_or_default()
            );
        }
        return Ok(KekAttestation {
            status: "absent",
            summary: format!("none: {PREMIUM_NO_ATTESTATION}"),
            report: None,
        });
    }
    if require {
        bail!("the KEK comes without an attestation, so its protection in an HSM is unproven; fetch it with `byok kek fetch --attestation` (Managed HSM), or give the attestation file with --attestation");
    }
    Ok(KekAttestation {
        status: "absent",
        summary:
            "none in the KEK file (`byok kek fetch --attestation` stores it, Managed HSM only)"
                .to_string(),
        report: None,
    })
}

/// [`check_kek`] from paths: the KEK file and an optional separate attestation file.
pub fn check_kek_files(
    kek_path: &Path,
    attestation: Option<&Path>,
    kek: &Kek,
    require: bool,
    roots: &TrustRoots,
) -> Result<KekAttestation> {
    let bytes = crate::fsutil::read_limited(kek_path, ATTESTATION_LIMIT, "KEK file")?;
    let sep = match attestation {
        Some(p) => Some((
            p,
            crate::fsutil::read_limited(p, ATTESTATION_LIMIT, "attestation file")?,
        )),
        None => None,
    };
    check_kek(
        &bytes,
        sep.as_ref().map(|(p, b)| (*p, b.as_slice())),
        kek,
        require,
        roots,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, Mode};
    use base64::Engine;
    use rsa::traits::PublicKeyParts;

    const SAMPLE: &[u8] =
        include_bytes!("../../../../tests/fixtures/attestation/gcp-ec-p256-attestation.bin");
    const CHAIN: &str =
        include_str!("../../../../tests/fixtures/attestation/gcp-ec-p256-chain.pem");
    const ROOTS: &str =
        include_str!("../../../../tests/fixtures/attestation/marvell-liquidsecurity-roots.pem");
    const VERSION: &str = "0123456789abcdef0123456789abcdef";

    /// A KEK file (KeyBundle JSON) for `host`, with `attestation` merged in if given.
    fn kek_file(host: &str, attestation: Option<serde_json::Value>) -> Vec<u8> {
        let key = rsa::PrivateKey::new(&mut rand::rng(), 2048)
            .expect("key")
            .to_public_key();
        let b64u = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let mut v = serde_json::json!({
            "key": {
                "kid": format!("https://{host}/keys/kek/{VERSION}"),
                "kty": "RSA-HSM",
                "n": b64u(&key.n_bytes()),
                "e": b64u(&key.e_bytes()),
            },
            "attributes": {"enabled": true},
        });
        if let Some(a) = attestation {
            v["attributes"]["attestation"] = a;
        }
        v.to_string().into_bytes()
    }

    /// An MRVL-1 attestation whose chain (Google's sample) reaches only the pinned roots.
    fn attestation(version: &str) -> serde_json::Value {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        serde_json::json!({
            "version": version,
            "certificatePemFile": b64(CHAIN.as_bytes()),
            "privateKeyAttestation": b64(SAMPLE),
        })
    }

    fn kek(bytes: &[u8]) -> Kek {
        Kek::from_bytes(bytes, None, Mode::Rehearsal).expect("kek")
    }

    #[test]
    fn untrusted_root_gets_the_trust_root_hint_only_for_the_simulator() {
        // The chain reaches no root given: UntrustedRoot, whatever the message says.
        let sim = kek_file("127.0.0.1:8443", Some(attestation("MRVL-1")));
        let e = check_kek(&sim, None, &kek(&sim), true, &TrustRoots::empty()).unwrap_err();
        assert!(e.is(ErrorKind::UntrustedRoot), "{e}");
        assert!(e.message().starts_with("the KEK file: "), "{e}");
        assert!(e.message().contains("--trust-root"), "{e}");
        // A real vault's KEK: the same kind, no rehearsal hint.
        let real = kek_file("hsm1.managedhsm.azure.net", Some(attestation("MRVL-1")));
        let e = check_kek(&real, None, &kek(&real), true, &TrustRoots::empty()).unwrap_err();
        assert!(e.is(ErrorKind::UntrustedRoot), "{e}");
        assert!(!e.message().contains("--trust-root"), "{e}");
        // Another kind of failure on the simulator: no hint either.
        let bad = kek_file("127.0.0.1:8443", Some(attestation("MRVL-2")));
        let e = check_kek(&bad, None, &kek(&bad), true, &TrustRoots::empty()).unwrap_err();
        assert!(e.is(ErrorKind::BadInput), "{e}");
        assert!(!e.message().contains("--trust-root"), "{e}");
    }

    #[test]
    fn a_separate_attestation_file_is_named_in_errors() {
        let file = kek_file("hsm1.managedhsm.azure.net", None);
        let sep = attestation("MRVL-1").to_string();
        let e = check_kek(
            &file,
            Some((Path::new("att.json"), sep.as_bytes())),
            &kek(&file),
            false,
            &TrustRoots::marvell().expect("pins"),
        )
        .unwrap_err();
        // The sample attests an EC key: it is not this KEK.
        assert!(e.message().starts_with("attestation att.json: "), "{e}");
        assert!(e.is(ErrorKind::Integrity), "{e}");
    }

    #[test]
    fn absent_attestations() {
        let roots = TrustRoots::marvell().expect("pins");
        let premium = kek_file("vault1.vault.azure.net", None);
        assert!(!has_attestation(&premium));
        let a = check_kek(&premium, None, &kek(&premium), false, &roots).expect("absent");
        assert_eq!(a.status, "absent");
        assert!(a.summary.contains(PREMIUM_NO_ATTESTATION));
        let e = check_kek(&premium, None, &kek(&premium), true, &roots).unwrap_err();
        assert!(
            e.message()
                .contains("cannot meet an attestation requirement"),
            "{e}"
        );
        let mhsm = kek_file("hsm1.managedhsm.azure.net", None);
        let e = check_kek(&mhsm, None, &kek(&mhsm), true, &roots).unwrap_err();
        assert!(e.message().contains("kek fetch --attestation"), "{e}");
        assert!(has_attestation(&kek_file("h", Some(attestation("MRVL-1")))));
    }

    #[test]
    fn verify_file_dispatches_on_the_content() {
        let roots = TrustRoots::marvell().expect("pins");
        let chain = Some(CHAIN.as_bytes());
        let r = verify_file(SAMPLE, None, chain, None, &roots, Mode::Ceremony).expect("blob");
        assert_eq!(r.format, "marvell");
        for (file, chain, kid, needle) in [
            (&b" \n"[..], None, None, "empty"),
            (SAMPLE, None, None, "give --chain"),
            (
                SAMPLE,
                chain,
                Some("https://hsm1.managedhsm.azure.net/keys/k/0123456789abcdef0123456789abcdef"),
                "--kid is for Azure",
            ),
            (b"{}", chain, None, "--chain is for a generic Marvell blob"),
            (
                b"{\"version\": \"MRVL-1\"}",
                None,
                Some("https://hsm1.managedhsm.azure.net/keys/k/0123456789abcdef0123456789abcdef"),
                "--kid needs the key",
            ),
        ] {
            let e = verify_file(file, None, chain, kid, &roots, Mode::Ceremony).unwrap_err();
            assert!(e.message().contains(needle), "{needle}: {e}");
        }
    }

    #[test]
    fn trust_root_files_warn_every_time() {
        let dir = tempfile::tempdir().expect("dir");
        let (roots, warnings) = trust_roots(&[]).expect("pinned");
        assert!(!roots.has_extra() && warnings.is_empty());
        let good = dir.path().join("roots.pem");
        std::fs::write(&good, ROOTS).expect("write");
        let (roots, warnings) = trust_roots(std::slice::from_ref(&good)).expect("extra");
        assert!(roots.has_extra());
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("rehearsals only"), "{}", warnings[0]);
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "no pem").expect("write");
        let e = trust_roots(&[bad]).unwrap_err();
        assert!(e.message().starts_with("trust root "), "{e}");
    }
}
