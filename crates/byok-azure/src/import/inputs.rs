//! The checks on the ceremony directory carried over from the offline run, before
//! anything is sent: the offline transcript verifies and starts from this plan, the
//! manifest is the one the transcript recorded, it lists the plan's keys in their
//! policies and vaults, and every package and public key is byte for byte what the
//! manifest says. Anything altered is `Integrity`; a directory of another plan or
//! ceremony is `BadInput`.

use crate::causes::rekind;
use crate::vault::check_vault_url;
use byok_core::ceremony::manifest::{MANIFEST, TRANSCRIPT};
use byok_core::ceremony::plan::CheckedPlan;
use byok_core::transcript::{self, Custody, StepName};
use byok_core::util::sha256_hex;
use byok_core::{bail, err, ErrorKind, Result};
use serde::Deserialize;
use std::path::Path;

/// Largest manifest, package or public key file read.
const FILE_LIMIT: u64 = 1 << 20;

/// The subset of `manifest.json` the import reads.
#[derive(Debug, Deserialize)]
pub(super) struct Manifest {
    pub(super) ceremony: String,
    pub(super) plan_sha256: String,
    pub(super) keys: Vec<ManifestKey>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct ManifestKey {
    /// `azure` when absent.
    #[serde(default)]
    pub(super) target: byok_core::ceremony::plan::TargetKind,
    pub(super) policy: String,
    pub(super) vault: String,
    pub(super) name: String,
    pub(super) kek_kid: String,
    pub(super) public_key: String,
    pub(super) public_key_sha256: String,
    /// SHA-256 of the key's SubjectPublicKeyInfo DER.
    pub(super) spki_sha256: String,
    pub(super) package: String,
    pub(super) package_sha256: String,
    /// A roll: a new version of an existing key.
    #[serde(default)]
    pub(super) roll: bool,
}

/// What the checks hand to the import.
#[derive(Debug)]
pub(super) struct Checked {
    pub(super) manifest: Manifest,
    /// SHA-256 of the offline transcript file.
    pub(super) transcript_sha256: String,
    /// The offline ceremony as the officers signed it: digest, HSM, signer.
    pub(super) custody: Custody,
}

/// Check the carried-over directory `dir` against `plan` before anything is sent: first
/// that its transcript is the one whose digest the officers signed (`digest`), signed by
/// the HSM, on the plan's token; then that everything in it is what that transcript says.
pub(super) fn check_inputs(plan: &CheckedPlan, dir: &Path, digest: &[u8; 32]) -> Result<Checked> {
    let tpath = dir.join(TRANSCRIPT);
    // The bytes checked are the bytes hashed: one read, verified from memory.
    let tbytes = byok_core::fsutil::read_limited(&tpath, 64 << 20, "offline transcript")?;
    let verified = transcript::verify_bytes(&tbytes, &tpath).map_err(|e| {
        rekind(
            e,
            ErrorKind::Integrity,
            "the offline transcript does not verify; stop: the ceremony directory was altered or is incomplete",
        )
    })?;
    let custody = transcript::check_offline(
        &verified,
        digest,
        plan.plan.token_serial.as_deref(),
        plan.mode,
    )
    .map_err(|e| e.context(tpath.display()))?;
    if verified.report.plan_sha256 != plan.sha256_hex() {
        bail!(
            "{} was made from another plan (SHA-256 {}), not {}: use the plan of that ceremony",
            tpath.display(),
            verified.report.plan_sha256,
            plan.path.display()
        );
    }
    let recorded_manifest = verified
        .records
        .iter()
        .find(|r| r.step == StepName::Manifest)
        .and_then(|r| r.outputs.get(MANIFEST).cloned())
        .ok_or_else(|| {
            err!(
                "{} records no manifest: the offline ceremony did not finish",
                tpath.display()
            )
        })?;
    let mpath = dir.join(MANIFEST);
    let mbytes = byok_core::fsutil::read_limited(&mpath, FILE_LIMIT, "manifest")?;
    if sha256_hex(&mbytes) != recorded_manifest {
        bail!(
            Integrity,
            "{} is not the manifest the transcript recorded: it was altered; stop and investigate",
            mpath.display()
        );
    }
    byok_core::json::check_unique_keys(&mbytes).map_err(|e| e.context(mpath.display()))?;
    let manifest: Manifest = serde_json::from_slice(&mbytes)
        .map_err(|e| err!(Integrity, "{} does not parse ({e})", mpath.display()))?;
    if manifest.plan_sha256 != plan.sha256_hex() || manifest.ceremony != plan.plan.ceremony {
        bail!("{} belongs to another ceremony or plan", mpath.display());
    }
    // The other targets' inputs the plan names (AWS's import token, Google's job
    // description) are not in the ceremony directory: they must be the files the offline
    // run recorded, or the printed commands would pair the blob with another token.
    let open = verified.records.iter().find(|r| r.step == StepName::Open);
    for pk in &plan.keys {
        for (rel, path) in pk.side_files() {
            let recorded = open.and_then(|r| r.inputs.get(&rel));
            let now = sha256_hex(&byok_core::fsutil::read_limited(
                &path,
                FILE_LIMIT,
                "plan input",
            )?);
            if recorded != Some(&now) {
                bail!(
                    Integrity,
                    "{} (SHA-256 {now}) is not the file the offline ceremony recorded ({}): the wrapped key {} goes with that one; use it",
                    byok_core::text::printable(&rel),
                    recorded.map(String::as_str).unwrap_or("none"),
                    pk.key.name
                );
            }
        }
    }
    for pk in &plan.keys {
        let Some(mk) = manifest.keys.iter().find(|m| m.name == pk.key.name) else {
            bail!("the manifest has no key {} of the plan", pk.key.name);
        };
        if mk.roll != pk.key.roll {
            let what = |roll: bool| if roll { "a roll" } else { "not a roll" };
            bail!(
                Integrity,
                "the manifest says {} is {}, the plan says {}: stop and investigate",
                mk.name,
                what(mk.roll),
                what(pk.key.roll)
            );
        }
        if mk.policy != pk.policy {
            bail!(
                "the manifest puts {} in policy {}, the plan in {}",
                mk.name,
                mk.policy,
                pk.policy
            );
        }
        if mk.target != pk.target.kind() || mk.package != pk.output_file() {
            bail!(
                Integrity,
                "the manifest sends {} to {} in {}, the plan to {} in {}: stop and investigate",
                mk.name,
                mk.target.name(),
                mk.package,
                pk.target.kind().name(),
                pk.output_file()
            );
        }
        if mk.target == byok_core::ceremony::plan::TargetKind::Azure
            && check_vault_url(&mk.vault, plan.mode)? != check_vault_url(&pk.key.vault, plan.mode)?
        {
            bail!(
                "the manifest puts {} in {}, the plan in {}",
                mk.name,
                mk.vault,
                pk.key.vault
            );
        }
        for (file, want) in [
            (&mk.package, &mk.package_sha256),
            (&mk.public_key, &mk.public_key_sha256),
        ] {
            if !crate::backup::is_plain_file_name(file) {
                bail!(
                    Integrity,
                    "the manifest names {file:?}, which is not a file of the ceremony directory"
                );
            }
            let bytes =
                byok_core::fsutil::read_limited(&dir.join(file), FILE_LIMIT, "ceremony file")?;
            if &sha256_hex(&bytes) != want {
                bail!(
                    Integrity,
                    "{file} is not the file the ceremony made (its SHA-256 differs from the manifest's): it was altered in transit; stop"
                );
            }
        }
    }
    Ok(Checked {
        manifest,
        transcript_sha256: sha256_hex(&tbytes),
        custody,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use byok_core::ceremony::plan::{KeyPlan, Plan, PlanKey, Policy};
    use byok_core::transcript::{Record, Writer};
    use byok_core::Mode;
    use std::path::PathBuf;

    pub(crate) const VAULT: &str = "https://contoso-vault1.vault.azure.net";

    /// A checked plan of one Exchange policy with keys `k1` and `k2` (the KEK is a test
    /// KEK; the import's checks do not look at it).
    pub(crate) fn plan(dir: &Path) -> CheckedPlan {
        let kek = byok_testkit::harness::kek(2048).kek().unwrap();
        let key = |name: &str| PlanKey {
            vault: VAULT.into(),
            name: name.into(),
            size: 2048,
            kek: "kek.json".into(),
            kek_sha256: String::new(),
            kek_attestation: None,
            wrap_with_trusted: None,
            roll: false,
            key_type: None,
        };
        let policy = Policy {
            name: "USA_mailboxes".into(),
            service: "exchange".into(),
            description: Some("US mailboxes".into()),
            admin_url: None,
            keys: vec![key("k1"), key("k2")],
        };
        let keys = policy
            .keys
            .iter()
            .map(|k| KeyPlan {
                policy: policy.name.clone(),
                service: policy.service.clone(),
                target: byok_core::ceremony::plan::KeyTarget::Azure,
                key: k.clone(),
                label: k.name.clone(),
                vault: VAULT.into(),
                kek_path: dir.join("kek.json"),
                kek: kek.clone(),
                attestation: None,
                wrap_with_trusted: false,
            })
            .collect();
        CheckedPlan {
            path: dir.join("plan.json"),
            plan: Plan {
                ceremony: "contoso-2026".into(),
                token: "T".into(),
                officers: vec![],
                location: None,
                witnesses: vec![],
                hsm_bags: None,
                policies: vec![policy],
                keys: vec![],
                rehearsal: false,
                wrap_with_trusted: false,
                token_serial: None,
            },
            sha256: [7; 32],
            keys,
            warnings: vec![],
            mode: Mode::Ceremony,
        }
    }

    /// A ceremony directory as the offline run leaves it, closed unsigned.
    fn ceremony_dir(plan: &CheckedPlan, dir: &Path) {
        let mut keys = Vec::new();
        for k in &plan.keys {
            let name = &k.key.name;
            let (pkg, pem) = (format!("{name}.byok"), format!("{name}.pub.pem"));
            std::fs::write(dir.join(&pkg), format!("package of {name}")).unwrap();
            std::fs::write(dir.join(&pem), format!("public key of {name}")).unwrap();
            keys.push(serde_json::json!({
                "policy": k.policy, "service": k.service, "vault": VAULT, "name": name,
                "kek_kid": "x", "public_key": pem,
                "public_key_sha256": sha256_hex(format!("public key of {name}").as_bytes()),
                "spki_sha256": "00",
                "package": pkg, "package_sha256": sha256_hex(format!("package of {name}").as_bytes()),
            }));
        }
        let manifest = serde_json::to_vec_pretty(&serde_json::json!({
            "ceremony": plan.plan.ceremony, "plan_sha256": plan.sha256_hex(), "keys": keys,
        }))
        .unwrap();
        std::fs::write(dir.join(MANIFEST), &manifest).unwrap();
        transcript_file(plan, dir, &sha256_hex(&manifest), How::Signed);
    }

    /// How a test transcript ends.
    #[derive(Clone, Copy, PartialEq)]
    enum How {
        /// A signer record and a close signed by it (as a ceremony on an HSM).
        Signed,
        /// No signer record, closed unsigned.
        Unsigned,
        /// A signer record saying the token cannot sign, closed unsigned.
        CannotSign,
        /// A signer record and a close signed by another key.
        SignedByAnother,
        /// No signer record, but a signed close.
        NoSignerRecord,
        /// Signed, but a rehearsal's transcript.
        Rehearsal,
    }

    fn hsm(serial: &str) -> byok_core::hsm::TokenIdentity {
        byok_core::hsm::TokenIdentity {
            label: "T".into(),
            manufacturer: "SoftHSM project".into(),
            model: "SoftHSM v2".into(),
            serial: serial.into(),
            firmware: "2.6".into(),
            hardware: "2.6".into(),
        }
    }

    /// The offline transcript: open, signer, manifest, close; returns its digest.
    fn transcript_file(plan: &CheckedPlan, dir: &Path, manifest_sha: &str, how: How) -> [u8; 32] {
        let key = &byok_testkit::harness::kek(2048).private;
        let other = &byok_testkit::harness::kek(3072).private;
        let id = hsm("0123456789abcdef");
        let path = dir.join(TRANSCRIPT);
        let _ = std::fs::remove_file(&path);
        let mut w = Writer::create(&path, plan.sha256).unwrap();
        w.append(
            Record::new(StepName::Open, "byok")
                .input("plan", &plan.sha256_hex())
                .hsm(&id)
                .detail("format", transcript::FORMAT)
                .detail("rehearsal", how == How::Rehearsal),
        )
        .unwrap();
        match how {
            How::Signed | How::SignedByAnother | How::Rehearsal => {
                let fp = byok_testkit::forge::spki_sha256(key).unwrap();
                w.append(
                    Record::new(StepName::Signer, "byok")
                        .hsm(&id)
                        .detail("spki_sha256", &fp),
                )
                .unwrap();
            }
            How::CannotSign => {
                w.append(
                    Record::new(StepName::Signer, "byok")
                        .hsm(&id)
                        .detail("unavailable", "no CKM_SHA256_RSA_PKCS"),
                )
                .unwrap();
            }
            How::Unsigned | How::NoSignerRecord => {}
        }
        w.append(
            Record::new(StepName::Manifest, "byok")
                .hsm(&id)
                .output(MANIFEST, manifest_sha),
        )
        .unwrap();
        let close = Record::new(StepName::Close, "byok").hsm(&id);
        match how {
            How::Signed | How::NoSignerRecord | How::Rehearsal => {
                w.append_signed(close, |b| byok_testkit::forge::sign_close(key, b))
                    .unwrap();
            }
            How::SignedByAnother => {
                w.append_signed(close, |b| byok_testkit::forge::sign_close(other, b))
                    .unwrap();
            }
            How::Unsigned | How::CannotSign => {
                w.append(close.detail("unsigned", "test")).unwrap();
            }
        }
        w.last_hash()
    }

    fn digest(dir: &Path) -> [u8; 32] {
        byok_core::util::sha256(
            std::fs::read(dir.join(TRANSCRIPT))
                .unwrap()
                .trim_ascii_end()
                .rsplit(|b| *b == b'\n')
                .next()
                .unwrap(),
        )
    }

    fn setup() -> (tempfile::TempDir, PathBuf, CheckedPlan) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let plan = plan(&dir);
        ceremony_dir(&plan, &dir);
        (tmp, dir, plan)
    }

    fn check(plan: &CheckedPlan, dir: &Path) -> Result<Checked> {
        check_inputs(plan, dir, &digest(dir))
    }

    #[test]
    fn only_the_signed_ceremony_with_the_officers_digest_passes() {
        let (_tmp, dir, mut plan) = setup();
        let good = digest(&dir);
        let c = check_inputs(&plan, &dir, &good).unwrap();
        assert_eq!(c.custody.digest, hex::encode(good));
        assert_eq!(c.custody.hsm.serial, "0123456789abcdef");
        // Another digest: refused, naming both.
        let e = check_inputs(&plan, &dir, &[9; 32]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity);
        let (gf, gl) = byok_core::words::first_last(&good);
        assert!(
            e.message()
                .contains(&format!("digest ({gf} … {gl}) is not"))
                && e.message()
                    .contains(&format!("officers signed ({})", hex::encode([9u8; 32])))
                && !e.message().contains(&hex::encode(good)),
            "{e}"
        );
        // The plan pins the token's serial: another serial is refused.
        plan.plan.token_serial = Some("0123456789abcdef".into());
        check_inputs(&plan, &dir, &good).unwrap();
        plan.plan.token_serial = Some("fedcba9876543210".into());
        let e = check_inputs(&plan, &dir, &good).unwrap_err();
        assert!(
            e.message()
                .contains("pins token_serial \"fedcba9876543210\""),
            "{e}"
        );
        // A rehearsal (on a throwaway token) lets it through, with a warning.
        plan.mode = byok_core::Mode::Rehearsal;
        let c = check_inputs(&plan, &dir, &good).unwrap();
        assert!(
            c.custody.warnings[0].starts_with("REHEARSAL: the offline ceremony ran on HSM serial")
        );
        plan.mode = byok_core::Mode::Ceremony;
        // Unsigned, no signer record, a signature by another key: refused even with
        // the transcript's own digest.
        plan.plan.token_serial = None;
        let msha = sha256_hex(&std::fs::read(dir.join(MANIFEST)).unwrap());
        for (how, says) in [
            (How::Unsigned, "UNSIGNED (test)"),
            (How::CannotSign, "UNSIGNED (no CKM_SHA256_RSA_PKCS)"),
            (How::NoSignerRecord, "no signer record precedes it"),
            (How::SignedByAnother, "the signature is not the ceremony's"),
            (
                How::Rehearsal,
                "a rehearsal is never imported as a ceremony",
            ),
        ] {
            let d = transcript_file(&plan, &dir, &msha, how);
            let e = check_inputs(&plan, &dir, &d).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
            assert!(e.message().contains(says), "{says}: {e}");
        }
    }

    #[test]
    fn an_intact_directory_passes() {
        let (_tmp, dir, plan) = setup();
        let c = check(&plan, &dir).unwrap();
        assert_eq!(c.manifest.keys.len(), 2);
        assert_eq!(
            c.transcript_sha256,
            sha256_hex(&std::fs::read(dir.join(TRANSCRIPT)).unwrap())
        );
        assert_eq!(c.custody.digest.len(), 64);
    }

    #[test]
    fn a_flipped_byte_in_a_package_is_an_integrity_error() {
        let (_tmp, dir, plan) = setup();
        let p = dir.join("k2.byok");
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[3] ^= 1;
        std::fs::write(&p, bytes).unwrap();
        let e = check(&plan, &dir).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity);
        assert!(
            e.message()
                .starts_with("k2.byok is not the file the ceremony made"),
            "{e}"
        );
    }

    #[test]
    fn an_altered_manifest_or_transcript_is_an_integrity_error() {
        let (_tmp, dir, plan) = setup();
        let m = dir.join(MANIFEST);
        let orig = std::fs::read(&m).unwrap();
        std::fs::write(&m, [orig.as_slice(), b" "].concat()).unwrap();
        assert_eq!(check(&plan, &dir).unwrap_err().kind(), ErrorKind::Integrity);
        std::fs::write(&m, &orig).unwrap();
        check(&plan, &dir).unwrap();
        let t = dir.join(TRANSCRIPT);
        let text = std::fs::read_to_string(&t).unwrap();
        std::fs::write(&t, text.replacen("\"manifest\"", "\"manifesto\"", 1)).unwrap();
        let e = check(&plan, &dir).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity);
        assert!(
            e.message()
                .starts_with("the offline transcript does not verify"),
            "{e}"
        );
    }

    #[test]
    fn another_plan_is_refused() {
        let (_tmp, dir, mut plan) = setup();
        plan.sha256 = [8; 32];
        let e = check(&plan, &dir).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadInput);
        assert!(e.message().contains("was made from another plan"), "{e}");
        let (_tmp, dir, mut plan) = setup();
        plan.keys[1].key.name = "k3".into();
        let e = check(&plan, &dir).unwrap_err();
        assert_eq!(e.message(), "the manifest has no key k3 of the plan");
        let (_tmp, dir, mut plan) = setup();
        plan.keys[0].policy = "other".into();
        assert!(check(&plan, &dir)
            .unwrap_err()
            .message()
            .contains("in policy USA_mailboxes, the plan in other"));
        let (_tmp, dir, mut plan) = setup();
        plan.keys[0].key.vault = "https://contoso-vault2.vault.azure.net".into();
        assert!(check(&plan, &dir)
            .unwrap_err()
            .message()
            .contains("the plan in https://contoso-vault2"));
    }

    #[test]
    fn a_missing_package_is_refused() {
        let (_tmp, dir, plan) = setup();
        std::fs::remove_file(dir.join("k1.pub.pem")).unwrap();
        let e = check(&plan, &dir).unwrap_err();
        assert!(e.message().contains("k1.pub.pem"), "{e}");
    }
}
