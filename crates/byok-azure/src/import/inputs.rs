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
use byok_core::transcript::{self, StepName};
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
    pub(super) policy: String,
    pub(super) vault: String,
    pub(super) name: String,
    pub(super) kek_kid: String,
    pub(super) public_key: String,
    pub(super) public_key_sha256: String,
    pub(super) package: String,
    pub(super) package_sha256: String,
}

/// What the checks hand to the import.
#[derive(Debug)]
pub(super) struct Checked {
    pub(super) manifest: Manifest,
    /// SHA-256 of the offline transcript file.
    pub(super) transcript_sha256: String,
    /// The offline transcript's digest (of its close record).
    pub(super) transcript_digest: String,
}

/// Check the carried-over directory `dir` against `plan` before anything is sent.
pub(super) fn check_inputs(plan: &CheckedPlan, dir: &Path) -> Result<Checked> {
    let tpath = dir.join(TRANSCRIPT);
    let tbytes = byok_core::fsutil::read_limited(&tpath, 64 << 20, "offline transcript")?;
    let verified = transcript::verify(&tpath).map_err(|e| {
        rekind(
            e,
            ErrorKind::Integrity,
            "the offline transcript does not verify; stop: the ceremony directory was altered or is incomplete",
        )
    })?;
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
    for pk in &plan.keys {
        let Some(mk) = manifest.keys.iter().find(|m| m.name == pk.key.name) else {
            bail!("the manifest has no key {} of the plan", pk.key.name);
        };
        if mk.policy != pk.policy {
            bail!(
                "the manifest puts {} in policy {}, the plan in {}",
                mk.name,
                mk.policy,
                pk.policy
            );
        }
        if check_vault_url(&mk.vault, plan.mode)? != check_vault_url(&pk.key.vault, plan.mode)? {
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
        transcript_digest: verified.report.digest,
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
            kek_attestation: Default::default(),
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
                key: k.clone(),
                vault: VAULT.into(),
                kek_path: dir.join("kek.json"),
                kek: kek.clone(),
                attestation: None,
            })
            .collect();
        CheckedPlan {
            path: dir.join("plan.json"),
            plan: Plan {
                ceremony: "contoso-2026".into(),
                token: "T".into(),
                officers: vec![],
                policies: vec![policy],
                rehearsal: false,
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
                "package": pkg, "package_sha256": sha256_hex(format!("package of {name}").as_bytes()),
            }));
        }
        let manifest = serde_json::to_vec_pretty(&serde_json::json!({
            "ceremony": plan.plan.ceremony, "plan_sha256": plan.sha256_hex(), "keys": keys,
        }))
        .unwrap();
        std::fs::write(dir.join(MANIFEST), &manifest).unwrap();
        let mut w = Writer::create(&dir.join(TRANSCRIPT), plan.sha256).unwrap();
        w.append(Record::new(StepName::Open, "byok").input("plan", &plan.sha256_hex()))
            .unwrap();
        w.append(Record::new(StepName::Manifest, "byok").output(MANIFEST, &sha256_hex(&manifest)))
            .unwrap();
        w.append(Record::new(StepName::Close, "byok").detail("unsigned", "test"))
            .unwrap();
    }

    fn setup() -> (tempfile::TempDir, PathBuf, CheckedPlan) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let plan = plan(&dir);
        ceremony_dir(&plan, &dir);
        (tmp, dir, plan)
    }

    #[test]
    fn an_intact_directory_passes() {
        let (_tmp, dir, plan) = setup();
        let c = check_inputs(&plan, &dir).unwrap();
        assert_eq!(c.manifest.keys.len(), 2);
        assert_eq!(
            c.transcript_sha256,
            sha256_hex(&std::fs::read(dir.join(TRANSCRIPT)).unwrap())
        );
        assert_eq!(c.transcript_digest.len(), 64);
    }

    #[test]
    fn a_flipped_byte_in_a_package_is_an_integrity_error() {
        let (_tmp, dir, plan) = setup();
        let p = dir.join("k2.byok");
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[3] ^= 1;
        std::fs::write(&p, bytes).unwrap();
        let e = check_inputs(&plan, &dir).unwrap_err();
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
        assert_eq!(
            check_inputs(&plan, &dir).unwrap_err().kind(),
            ErrorKind::Integrity
        );
        std::fs::write(&m, &orig).unwrap();
        check_inputs(&plan, &dir).unwrap();
        let t = dir.join(TRANSCRIPT);
        let text = std::fs::read_to_string(&t).unwrap();
        std::fs::write(&t, text.replacen("\"manifest\"", "\"manifesto\"", 1)).unwrap();
        let e = check_inputs(&plan, &dir).unwrap_err();
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
        let e = check_inputs(&plan, &dir).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadInput);
        assert!(e.message().contains("was made from another plan"), "{e}");
        let (_tmp, dir, mut plan) = setup();
        plan.keys[1].key.name = "k3".into();
        let e = check_inputs(&plan, &dir).unwrap_err();
        assert_eq!(e.message(), "the manifest has no key k3 of the plan");
        let (_tmp, dir, mut plan) = setup();
        plan.keys[0].policy = "other".into();
        assert!(check_inputs(&plan, &dir)
            .unwrap_err()
            .message()
            .contains("in policy USA_mailboxes, the plan in other"));
        let (_tmp, dir, mut plan) = setup();
        plan.keys[0].key.vault = "https://contoso-vault2.vault.azure.net".into();
        assert!(check_inputs(&plan, &dir)
            .unwrap_err()
            .message()
            .contains("the plan in https://contoso-vault2"));
    }

    #[test]
    fn a_missing_package_is_refused() {
        let (_tmp, dir, plan) = setup();
        std::fs::remove_file(dir.join("k1.pub.pem")).unwrap();
        let e = check_inputs(&plan, &dir).unwrap_err();
        assert!(e.message().contains("k1.pub.pem"), "{e}");
    }
}
