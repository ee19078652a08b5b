//! Wrapping HSM keys into Azure BYOK packages, and the HSM self-test.

use crate::fsutil;
use crate::hsm::{KeyRef, OaepHash, Token, TokenIdentity, Verdict, WrappingKey};
use crate::kek::Kek;
use crate::keyid::Mode;
use crate::package::{self, Package};
use crate::util::sha256_hex;
use crate::{bail, err, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The `generator` field: byok's version, the token's model and firmware.
pub fn generator(t: &TokenIdentity, verdict: Verdict) -> String {
    format!(
        "byok {}; HSM: {} {} firmware {}; {}",
        env!("CARGO_PKG_VERSION"),
        t.manufacturer,
        t.model,
        t.firmware,
        verdict.mechanism_text()
    )
}

/// The form a wrap's output takes, as its target reads it. All hold the same blob,
/// `RSA-OAEP(KEK, aes; hash) || AES-KWP(aes, PKCS#8)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrapForm {
    /// An Azure BYOK transfer package (`NAME.byok`, JSON); RSA-OAEP SHA-1.
    AzurePackage,
    /// The raw blob: AWS KMS's `EncryptedKeyMaterial` (`NAME.aws.bin`), Google Cloud
    /// KMS's `wrappedKey` (`NAME.gcp.bin`).
    Raw(OaepHash),
    /// The blob in standard base64, no line breaks: OpenBao's `ciphertext`
    /// (`NAME.openbao.b64`).
    Base64(OaepHash),
}

impl WrapForm {
    pub fn hash(self) -> OaepHash {
        match self {
            WrapForm::AzurePackage => OaepHash::Sha1,
            WrapForm::Raw(h) | WrapForm::Base64(h) => h,
        }
    }

    /// The blob in this form's file (a package's ciphertext is checked by
    /// [`package::inspect`], not here).
    fn encode(self, blob: &[u8]) -> Vec<u8> {
        use base64::Engine;
        match self {
            WrapForm::Base64(_) => base64::engine::general_purpose::STANDARD
                .encode(blob)
                .into_bytes(),
            _ => blob.to_vec(),
        }
    }
}

/// What `byok wrap` reports.
#[derive(Debug, Serialize)]
pub struct WrapReport {
    pub package: PathBuf,
    pub sha256: String,
    pub key_label: String,
    pub key_bits: usize,
    pub key_spki_sha256: String,
    pub kek_kid: String,
    pub kek_sha256: String,
    pub mechanism: &'static str,
    pub trusted_kek: bool,
    /// The hash of the RSA-OAEP step (SHA-1 for Azure).
    #[serde(skip)]
    pub oaep_hash: OaepHash,
    pub token: TokenIdentity,
    /// How the key falls short of a BYOK key, when `--allow-non-byok-key` let it be
    /// wrapped anyway (empty for a BYOK key). Also written into the package's `generator`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub non_byok_override: Vec<String>,
    pub warnings: Vec<String>,
}

/// Whether [`wrap`] may wrap a key that is not shaped as a BYOK key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyShape {
    /// Only a BYOK key ([`crate::hsm::PrivateKeyFacts::is_byok_key`]): generated on the
    /// token, sensitive since, extractable only to be wrapped, of no other use.
    #[default]
    ByokOnly,
    /// Any extractable, sensitive key, the override recorded in the package's `generator`
    /// and the report, and warned (`byok wrap --allow-non-byok-key`).
    AllowNonByok,
}

/// Which private key to wrap.
pub struct KeySelector<'a> {
    pub label: Option<&'a str>,
    pub id: Option<&'a [u8]>,
}

/// The one private key `sel` names.
pub fn find_private_key(token: &dyn Token, sel: &KeySelector<'_>) -> Result<KeyRef> {
    match (sel.label, sel.id) {
        (Some(label), None) => {
            let found = token.private_keys(label)?;
            match found.as_slice() {
                [] => bail!(
                    NotFound,
                    "no private key labelled \"{label}\" on this token: check --key (`byok keygen` makes one)"
                ),
                [k] => Ok(*k),
                _ => bail!(
                    "{} private keys are labelled \"{label}\": the label is ambiguous; name the key by id with a pkcs11: URI",
                    found.len()
                ),
            }
        }
        (label, Some(id)) => {
            let found = token.private_keys_with_id(id, label)?;
            match found.as_slice() {
                [k] => Ok(*k),
                [] => bail!(
                    NotFound,
                    "no private key with id {} on this token: check --key",
                    hex::encode(id)
                ),
                many => bail!(
                    "{} private keys have id {}: name the key exactly",
                    many.len(),
                    hex::encode(id)
                ),
            }
        }
        (None, None) => bail!("no key named: use --key LABEL or a pkcs11: URI with object= or id="),
    }
}

/// Wrap a key on the token under `kek` into a package at `out`.
///
/// The key must be a BYOK key (`shape`): a key made for another use (signing, decrypting,
/// imported rather than generated) would reach Azure as a tenant root key while copies
/// of its use live on elsewhere.
pub fn wrap(
    token: &dyn Token,
    key: &KeySelector<'_>,
    kek: &Kek,
    out: &Path,
    shape: KeyShape,
) -> Result<WrapReport> {
    wrap_as(token, key, kek, out, shape, WrapForm::AzurePackage)
}

/// [`wrap`] into the output `form` of the key's target: an Azure package, or the raw
/// or base64 blob of AWS KMS, Google Cloud KMS or OpenBao, with the target's OAEP hash.
/// (Whether the token honours a SHA-256 request is proved beforehand by [`probe_hash`].)
pub fn wrap_as(
    token: &dyn Token,
    key: &KeySelector<'_>,
    kek: &Kek,
    out: &Path,
    shape: KeyShape,
    form: WrapForm,
) -> Result<WrapReport> {
    let kid = match (&kek.kid, form) {
        (Some(kid), WrapForm::AzurePackage) => Some(kid.clone()),
        (None, WrapForm::AzurePackage) => bail!("the KEK has no kid: give --kid https://VAULT.vault.azure.net/keys/NAME/VERSION, or use the KEK's JSON from `az keyvault key show` / `byok kek fetch`"),
        (_, _) => None,
    };
    fsutil::refuse_existing(out)?;
    let verdict = token.verdict()?;
    let target = find_private_key(token, key)?;
    let facts = token.key_facts(target)?;
    let label = facts.label.clone();
    if !facts.private.extractable {
        bail!("key \"{label}\" is not extractable: it can never be exported to Azure; generate a BYOK key with `byok keygen`");
    }
    if !facts.private.sensitive {
        bail!("key \"{label}\" is not sensitive: its value may have been read outside the HSM; generate a new key with `byok keygen`");
    }
    if !crate::keygen::KEY_BITS.contains(&facts.bits) {
        bail!(
            "key \"{label}\" is RSA-{}; Azure BYOK takes RSA 2048, 3072 or 4096",
            facts.bits
        );
    }
    let mut warnings = Vec::new();
    if token.is_softhsm() {
        warnings.push(softhsm_warning());
    }
    let (modulus, exponent) = (kek.public_modulus(), kek.public_exponent());
    let (wrapping_key, trusted) = if facts.private.wrap_with_trusted {
        if verdict != Verdict::Native {
            bail!("key \"{label}\" may only be wrapped by a trusted key, which needs CKM_RSA_AES_KEY_WRAP; this token lacks it");
        }
        match token.trusted_kek(&modulus)? {
            Some(k) => (WrappingKey::Trusted(k), true),
            None => bail!(
                NotFound,
                "key \"{label}\" may only be wrapped by a trusted KEK, and the Security Officer has not stored this KEK: run `byok kek trust` as SO first"
            ),
        }
    } else {
        (
            WrappingKey::Session {
                modulus: &modulus,
                exponent: &exponent,
            },
            false,
        )
    };
    let faults = facts.private.byok_faults();
    let mut generator = generator(&token.identity(), verdict);
    if !faults.is_empty() {
        if shape != KeyShape::AllowNonByok {
            bail!(
                "key \"{label}\" is not a BYOK key: it is {}. A BYOK key is generated on the token for this only (`byok keygen`); wrap this one only if you mean to, with --allow-non-byok-key (recorded in the package)",
                faults.join(", ")
            );
        }
        warnings.push(format!(
            "NON_BYOK_KEY: key \"{label}\" is not a BYOK key ({}); wrapped because of --allow-non-byok-key, as the package's generator records",
            faults.join(", ")
        ));
        generator.push_str(&format!(
            "; NON-BYOK KEY WRAPPED BY OVERRIDE ({})",
            faults.join(", ")
        ));
    }
    let ciphertext = token.wrap_key(target, wrapping_key, verdict, form.hash())?;
    if ciphertext.len() <= kek.modulus_bytes() {
        bail!(
            Hsm,
            "the HSM returned a {}-byte blob, too short for a BYOK package",
            ciphertext.len()
        );
    }
    let bytes = match &kid {
        Some(kid) => {
            let bytes = Package::new(kid, &ciphertext, generator).to_bytes();
            // Check our own output as a reader would before it reaches the disk. (The
            // KEK's kid was checked against the mode when the KEK was loaded.)
            package::inspect(&bytes, Some(kek), Mode::Rehearsal)?;
            bytes
        }
        None => {
            let bytes = form.encode(&ciphertext);
            package::inspect_blob(&bytes, form, Some(kek))?;
            bytes
        }
    };
    fsutil::write_new(out, &bytes, 0o644)?;
    Ok(WrapReport {
        package: out.to_path_buf(),
        sha256: sha256_hex(&bytes),
        key_label: label,
        key_bits: facts.bits,
        key_spki_sha256: facts.spki_sha256()?,
        kek_kid: kid.map(|k| k.url()).unwrap_or_default(),
        kek_sha256: hex::encode(kek.sha256()),
        mechanism: verdict.mechanism_text(),
        trusted_kek: trusted,
        oaep_hash: form.hash(),
        token: token.identity(),
        non_byok_override: faults.iter().map(|f| f.to_string()).collect(),
        warnings,
    })
}

pub fn softhsm_warning() -> String {
    "SOFTHSM_TEST_ONLY: this is a software token (SoftHSM or Kryoptic) for tests and rehearsals; keys made on it were never in an HSM".into()
}

/// The named defect of SoftHSM 2.6 that the self-test reports.
pub const ZERO_PADDING_WARNING: &str = "SOFTHSM_PKCS8_ZERO_PADDING";

/// What `byok hsm selftest` reports.
#[derive(Debug, Serialize)]
pub struct SelftestReport {
    pub token: TokenIdentity,
    pub verdict: Verdict,
    pub mechanism: &'static str,
    pub passed: bool,
    pub wrapped_bytes: usize,
    pub pkcs8_bytes: usize,
    pub trailing_zero_bytes: usize,
    /// Throwaway keys wrapped: a second is made when the first could not show padding.
    pub rounds: usize,
    /// Whether a SHA-256 OAEP wrap (AWS KMS, Google Cloud KMS, OpenBao) was proved: the
    /// token was asked for it and its blob unwraps with SHA-256 in software. `false`
    /// with the reason in `oaep_sha256_problem`; the self-test still passes (Azure takes SHA-1).
    pub oaep_sha256: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oaep_sha256_problem: Option<String>,
    pub token_objects_before: usize,
    pub token_objects_after: usize,
    pub warnings: Vec<String>,
}

/// Wrap a throwaway session key under a throwaway KEK inside the HSM, unwrap it in
/// software, and compare. Only session objects are made, and all are destroyed.
pub fn selftest(token: &dyn Token) -> Result<SelftestReport> {
    let verdict = token.verdict()?;
    if verdict == Verdict::Unsupported {
        bail!("the token cannot make BYOK packages (no CKM_RSA_AES_KEY_WRAP, nor an RFC 5649 wrap, CKM_AES_KEY_WRAP_KWP or CKM_AES_KEY_WRAP_PAD, with CKM_RSA_PKCS_OAEP; `byok hsm info` says why): use an HSM that can");
    }
    let before = token.token_objects()?;
    let kek_private = rsa::PrivateKey::new(&mut rand::rng(), 2048)
        .map_err(|e| err!(Internal, "cannot make the throwaway KEK: {e}"))?;
    // A PKCS#8 whose length is a multiple of 8 cannot show the zero-padding defect:
    // such a round is inconclusive for it, so try another key (at most four).
    let mut rounds = 0;
    let (wrapped, unwrapped) = loop {
        rounds += 1;
        let (wrapped, unwrapped) = selftest_round(token, verdict, &kek_private, OaepHash::Sha1)?;
        let inconclusive = unwrapped.trailing_zeros == 0 && unwrapped.pkcs8.len().is_multiple_of(8);
        if !inconclusive || rounds == 4 {
            break (wrapped, unwrapped);
        }
    };
    let oaep_sha256_problem = match probe_round(token, verdict, &kek_private, OaepHash::Sha256) {
        Ok(()) => None,
        Err(e) if e.is(crate::ErrorKind::Integrity) => return Err(e),
        Err(e) => Some(e.message().to_string()),
    };
    let after = token.token_objects()?;
    if after != before {
        bail!(
            Integrity,"self-test left the token with {after} objects where it had {before}: investigate before going on");
    }
    let mut warnings = Vec::new();
    if unwrapped.trailing_zeros > 0 {
        warnings.push(format!(
            "{ZERO_PADDING_WARNING}: the HSM zero-padded the PKCS#8 key to a multiple of 8 bytes before AES-KWP ({} zero bytes follow the DER). SoftHSM 2.6 does this; real HSMs do not. Strict importers may refuse such packages",
            unwrapped.trailing_zeros
        ));
    }
    if token.is_softhsm() {
        warnings.push(softhsm_warning());
    }
    Ok(SelftestReport {
        token: token.identity(),
        verdict,
        mechanism: verdict.mechanism_text(),
        passed: true,
        wrapped_bytes: wrapped.len(),
        pkcs8_bytes: unwrapped.pkcs8.len(),
        trailing_zero_bytes: unwrapped.trailing_zeros,
        rounds,
        oaep_sha256: oaep_sha256_problem.is_none(),
        oaep_sha256_problem,
        token_objects_before: before,
        token_objects_after: after,
        warnings,
    })
}

/// Prove that the token wraps with RSA-OAEP `hash` before any key is generated for a
/// target that takes it: a throwaway key pair (session objects) is wrapped under a
/// throwaway KEK and unwrapped in software with `hash`. A token that refuses the hash,
/// or (as SoftHSM 2.7.0 does) accepts it and uses SHA-1 instead, is refused by name.
pub fn probe_hash(token: &dyn Token, hash: OaepHash) -> Result<()> {
    let verdict = token.verdict()?;
    if verdict == Verdict::Unsupported {
        let id = token.identity();
        bail!("the token {} {} (serial {}) cannot make BYOK-style wraps at all (`byok hsm info` says why)", id.manufacturer, id.model, id.serial);
    }
    let kek_private = rsa::PrivateKey::new(&mut rand::rng(), 2048)
        .map_err(|e| err!(Internal, "cannot make the throwaway KEK: {e}"))?;
    probe_round(token, verdict, &kek_private, hash)
}

/// One round of [`probe_hash`] under a given throwaway KEK, its failure named for the token.
fn probe_round(
    token: &dyn Token,
    verdict: Verdict,
    kek_private: &rsa::PrivateKey,
    hash: OaepHash,
) -> Result<()> {
    let id = token.identity();
    let name = format!("{} {} (serial {})", id.manufacturer, id.model, id.serial);
    selftest_round(token, verdict, kek_private, hash)
        .map(|_| ())
        .map_err(|e| {
            if e.is(crate::ErrorKind::Integrity) {
                // The blob unwrapped, to another key than the HSM's: not a hash problem.
                e.context(format!("the token {name}, RSA-OAEP {hash}"))
            } else if e.is(crate::ErrorKind::Hsm) {
                err!(Hsm, "the token {name} cannot wrap with RSA-OAEP {hash}, which this plan's targets need: {}", e.message())
            } else {
                err!(Hsm, "the token {name} was asked for RSA-OAEP {hash} and its wrap does not unwrap with {hash} ({}): it does not honour the hash (SoftHSM 2.7.0 uses SHA-1 whatever it is asked); use a {} method for this token, or another HSM", e.message(), OaepHash::Sha1)
            }
        })
}

/// Make a throwaway session key pair, wrap it under the throwaway KEK in the HSM with
/// `hash`, destroy every object, unwrap in software and compare with the HSM's public key.
fn selftest_round(
    token: &dyn Token,
    verdict: Verdict,
    kek_private: &rsa::PrivateKey,
    hash: OaepHash,
) -> Result<(Vec<u8>, package::Unwrapped)> {
    use rsa::traits::PublicKeyParts;
    let pair = token.generate_session_pair()?;
    let result = (|| {
        let facts = token.key_facts(pair.private)?;
        let (n, e) = (
            kek_private.n().to_be_bytes_trimmed_vartime(),
            kek_private.e().to_be_bytes_trimmed_vartime(),
        );
        let kek = WrappingKey::Session {
            modulus: &n,
            exponent: &e,
        };
        let wrapped = token.wrap_key(pair.private, kek, verdict, hash)?;
        Ok((facts, wrapped))
    })();
    let a = token.destroy(pair.private);
    let b = token.destroy(pair.public);
    let (facts, wrapped) = result?;
    a.and(b)
        .map_err(|e| e.context("the self-test's throwaway key pair"))?;
    let unwrapped = package::software_unwrap(kek_private, &wrapped, hash)
        .map_err(|e| e.context("self-test: the HSM's blob does not unwrap in software"))?;
    let (n, e) = package::pkcs8_rsa_public(&unwrapped.pkcs8)?;
    if n != facts.modulus || e != facts.exponent {
        bail!(Integrity, "self-test failed: the key unwrapped in software is not the HSM's key; do not use this HSM for BYOK");
    }
    Ok((wrapped, unwrapped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hsm::fake::{byok_facts, FakeToken};
    use crate::hsm::PrivateKeyFacts;
    use std::sync::OnceLock;

    fn kek_private() -> &'static rsa::PrivateKey {
        static K: OnceLock<rsa::PrivateKey> = OnceLock::new();
        K.get_or_init(|| rsa::PrivateKey::new(&mut rand::rng(), 2048).expect("kek"))
    }

    fn kek() -> Kek {
        let pk = kek_private().to_public_key();
        let pem = rsa::pkcs8::EncodePublicKey::to_public_key_pem(&pk, rsa::pkcs8::LineEnding::LF)
            .unwrap();
        Kek::from_bytes(
            pem.as_bytes(),
            Some(
                "https://contoso-vault1.vault.azure.net/keys/KEK/0123456789abcdef0123456789abcdef",
            ),
            Mode::Ceremony,
        )
        .unwrap()
    }

    fn sel(label: &str) -> KeySelector<'_> {
        KeySelector {
            label: Some(label),
            id: None,
        }
    }

    #[test]
    fn a_wrapped_key_unwraps_to_the_tokens_key() {
        let token = FakeToken::default();
        let pair = token.add_key("K1", 2048, byok_facts());
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("K1.byok");
        let r = wrap(&token, &sel("K1"), &kek(), &out, KeyShape::ByokOnly).unwrap();
        assert_eq!(r.key_label, "K1");
        assert!(!r.trusted_kek);
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(r.sha256, sha256_hex(&bytes));
        let (pkg, _) = package::inspect(&bytes, Some(&kek()), Mode::Ceremony).unwrap();
        assert!(pkg.generator.starts_with("byok "));
        let ct = crate::kek::decode_b64url(&pkg.ciphertext).unwrap();
        let un = package::software_unwrap(kek_private(), &ct, OaepHash::Sha1).unwrap();
        let (n, _) = package::pkcs8_rsa_public(&un.pkcs8).unwrap();
        assert_eq!(n, token.key_facts(pair.private).unwrap().modulus);
        // Never over an existing output.
        let e = wrap(&token, &sel("K1"), &kek(), &out, KeyShape::ByokOnly).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Exists);
    }

    #[test]
    fn keys_that_must_not_leave_are_refused_before_anything_is_written() {
        let token = FakeToken::default();
        token.add_key(
            "Stuck",
            2048,
            PrivateKeyFacts {
                extractable: false,
                ..byok_facts()
            },
        );
        token.add_key(
            "Seen",
            2048,
            PrivateKeyFacts {
                sensitive: false,
                ..byok_facts()
            },
        );
        token.add_key("Small", 1024, byok_facts());
        token.add_key(
            "Trusted",
            2048,
            PrivateKeyFacts {
                wrap_with_trusted: true,
                ..byok_facts()
            },
        );
        token.add_key("Twice", 2048, byok_facts());
        token.add_key("Twice", 2048, byok_facts());
        let d = tempfile::tempdir().unwrap();
        for (label, words) in [
            ("Stuck", "not extractable"),
            ("Seen", "not sensitive"),
            ("Small", "RSA-1024"),
            ("Trusted", "CKM_RSA_AES_KEY_WRAP"),
            ("Twice", "ambiguous"),
            ("Missing", "no private key labelled"),
        ] {
            let out = d.path().join(format!("{label}.byok"));
            let e = wrap(&token, &sel(label), &kek(), &out, KeyShape::ByokOnly).unwrap_err();
            assert!(e.message().contains(words), "{label}: {e}");
            assert!(!out.exists(), "{label}: nothing written");
        }
        let no_kid = Kek { kid: None, ..kek() };
        let e = wrap(
            &token,
            &sel("Twice"),
            &no_kid,
            &d.path().join("x.byok"),
            KeyShape::ByokOnly,
        )
        .unwrap_err();
        assert!(e.message().contains("no kid"), "{e}");
    }

    /// A key made for another use is refused, naming what is wrong; with the override it
    /// is wrapped, and the package and the report say so.
    #[test]
    fn a_key_that_is_not_a_byok_key_needs_the_recorded_override() {
        let token = FakeToken::default();
        token.add_key(
            "Signing",
            2048,
            PrivateKeyFacts {
                sign: true,
                decrypt: true,
                local: false,
                ..byok_facts()
            },
        );
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("s.byok");
        let e = wrap(&token, &sel("Signing"), &kek(), &out, KeyShape::ByokOnly).unwrap_err();
        for w in [
            "not a BYOK key",
            "CKA_LOCAL",
            "sign",
            "decrypt",
            "--allow-non-byok-key",
        ] {
            assert!(e.message().contains(w), "{w}: {e}");
        }
        assert!(!out.exists());
        let r = wrap(
            &token,
            &sel("Signing"),
            &kek(),
            &out,
            KeyShape::AllowNonByok,
        )
        .unwrap();
        assert_eq!(r.non_byok_override.len(), 3);
        assert!(r.warnings.iter().any(|w| w.starts_with("NON_BYOK_KEY")));
        let (pkg, _) =
            package::inspect(&std::fs::read(&out).unwrap(), Some(&kek()), Mode::Ceremony).unwrap();
        assert!(
            pkg.generator.contains("NON-BYOK KEY WRAPPED BY OVERRIDE"),
            "{}",
            pkg.generator
        );
        // A BYOK key needs no override and records none.
        token.add_key("Good", 2048, byok_facts());
        let good = d.path().join("g.byok");
        let r = wrap(&token, &sel("Good"), &kek(), &good, KeyShape::AllowNonByok).unwrap();
        assert!(r.non_byok_override.is_empty());
        assert!(serde_json::to_value(&r)
            .unwrap()
            .get("non_byok_override")
            .is_none());
    }

    #[test]
    fn selftest_wraps_a_throwaway_key_and_leaves_the_token_as_it_was() {
        let token = FakeToken::default();
        token.add_key("Existing", 2048, byok_facts());
        let r = selftest(&token).unwrap();
        assert!(r.passed);
        assert_eq!(r.token_objects_before, r.token_objects_after);
        assert_eq!(
            token.private_labels(),
            ["Existing"],
            "the throwaway pair is gone"
        );
        assert_eq!(r.trailing_zero_bytes, 0);
        assert!(r.oaep_sha256, "{:?}", r.oaep_sha256_problem);
        let mut unsupported = FakeToken::default();
        unsupported.verdict = Verdict::Unsupported;
        assert!(selftest(&unsupported).is_err());
    }

    #[test]
    fn a_token_that_ignores_the_hash_is_caught_by_the_probe() {
        let honest = FakeToken::default();
        probe_hash(&honest, OaepHash::Sha1).unwrap();
        probe_hash(&honest, OaepHash::Sha256).unwrap();
        // SoftHSM 2.7.0: asked for SHA-256, wraps with SHA-1 and says nothing.
        let mut liar = FakeToken::default();
        liar.oaep_always_sha1 = true;
        probe_hash(&liar, OaepHash::Sha1).unwrap();
        let e = probe_hash(&liar, OaepHash::Sha256).unwrap_err();
        assert!(e.message().contains("does not honour the hash"), "{e}");
        assert!(e.message().contains("Fake HSM"), "the token is named: {e}");
        assert_eq!(liar.token_objects().unwrap(), 0, "no object left behind");
        let r = selftest(&liar).unwrap();
        assert!(r.passed, "Azure's SHA-1 still works");
        assert!(!r.oaep_sha256);
        assert!(r.oaep_sha256_problem.unwrap().contains("SHA-256"));
    }

    #[test]
    fn the_generator_names_byok_the_hsm_and_the_mechanism() {
        let g = generator(
            &FakeToken::default().identity(),
            Verdict::Composite(crate::hsm::Kwp::Pad),
        );
        assert!(
            g.starts_with(&format!(
                "byok {}; HSM: Fake Fake HSM firmware 1.0; CKM_AES_KEY_WRAP_PAD",
                env!("CARGO_PKG_VERSION")
            )),
            "{g}"
        );
    }
}
