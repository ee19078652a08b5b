//! What an interrupted ceremony left, and the checks before `--resume` changes anything.
//!
//! - [`Prior`]: the records of the earlier run, read from its transcript;
//! - [`check_dir`]: every file the transcript recorded is there and unchanged, and the
//!   directory holds nothing byok would not have made (its own temp files aside);
//! - [`check_token`]: every key the transcript recorded is on the token, once, and the
//!   same key; no other object carries a label of the plan unless this ceremony started
//!   to generate it;
//! - [`keygen_or_adopt`] and [`find_signer`]: a key whose generation was recorded as
//!   started but not as done is adopted when the token holds exactly one such key of the
//!   planned kind, or generated when it holds none. A label on the token without a
//!   `keygen-started` record is never adopted: it is not this ceremony's key.

use super::manifest::{pub_file, MANIFEST, TRANSCRIPT};
use super::plan::{CheckedPlan, KeyPlan};
use crate::fsutil;
use crate::hsm::{KeyRef, Token};
use crate::keygen::{self, KeygenRequest};
use crate::transcript::{Record, StepName};
use crate::util::sha256_hex;
use crate::{bail, err, words, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The records of an earlier, interrupted run (none for a fresh one).
#[derive(Debug, Default, Clone)]
pub struct Prior {
    pub records: Vec<Record>,
}

impl Prior {
    /// The record of `step` for `label`.
    pub fn find(&self, step: StepName, label: &str) -> Option<&Record> {
        self.records
            .iter()
            .find(|r| r.step == step && r.detail_str("label") == Some(label))
    }

    pub fn has(&self, step: StepName, label: &str) -> bool {
        self.find(step, label).is_some()
    }

    /// The first record of `step`.
    pub fn step(&self, step: StepName) -> Option<&Record> {
        self.records.iter().find(|r| r.step == step)
    }

    /// Did the officers confirm the KEK file `rel` with these bytes (`file_sha`)?
    pub fn kek_confirmed(&self, rel: &str, file_sha: &str) -> bool {
        self.records.iter().any(|r| {
            r.step == StepName::KekConfirmed
                && r.inputs.get(rel).map(String::as_str) == Some(file_sha)
        })
    }

    /// Every file output the transcript recorded, name → SHA-256.
    pub fn outputs(&self) -> BTreeMap<String, String> {
        outputs(&self.records)
    }
}

/// Every file output recorded in `records`, name → SHA-256.
pub fn outputs(records: &[Record]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for r in records {
        for (k, v) in &r.outputs {
            m.insert(k.clone(), v.clone());
        }
    }
    m
}

/// Check the files in `dir` against the transcript before a resume changes anything.
/// Returns byok's leftover temp files (to delete once the resume is recorded).
pub fn check_dir(plan: &CheckedPlan, dir: &Path, prior: &Prior) -> Result<Vec<String>> {
    check_kek_files(plan, prior)?;
    for (name, sha) in &prior.outputs() {
        let p = dir.join(name);
        if std::fs::symlink_metadata(&p).is_err() {
            bail!(
                NotFound,
                "{} is missing, but the transcript recorded it: restore it from the ceremony's copy before resuming",
                p.display()
            );
        }
        let bytes = fsutil::read_limited(&p, 64 << 20, "ceremony file")?;
        let now = sha256_hex(&bytes);
        if &now != sha {
            bail!(
                Integrity,
                "{} was altered since the transcript recorded it (SHA-256 {now}, recorded {sha}): stop and investigate",
                p.display()
            );
        }
    }
    let mut expected: BTreeSet<String> = BTreeSet::new();
    expected.insert(TRANSCRIPT.into());
    expected.insert(MANIFEST.into());
    for k in &plan.keys {
        expected.insert(pub_file(&k.label));
        expected.insert(k.output_file());
    }
    let mut temps = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| err!(Io, "cannot read {}: {e}", dir.display()))?;
    for e in entries {
        let e = e.map_err(|e| err!(Io, "cannot read {}: {e}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let is_file = e.file_type().map(|t| t.is_file()).unwrap_or(false);
        if is_file && fsutil::is_temp_name(&name) {
            temps.push(name);
        } else if !is_file || !expected.contains(&name) {
            bail!(
                Integrity,
                "{} holds {name:?}, which this ceremony does not write: move it out before resuming",
                dir.display()
            );
        }
    }
    temps.sort();
    Ok(temps)
}

/// Every KEK file is byte for byte what the transcript recorded of it (the `open` record
/// names each file's SHA-256, and so does each `kek-confirmed` record). The plan pins only
/// the key (its SPKI SHA-256), so a file re-serialised around the same key passes the plan
/// check; but the officers confirmed, and the transcript recorded, that file: a changed
/// recorded file is refused, KEKs as any other.
fn check_kek_files(plan: &CheckedPlan, prior: &Prior) -> Result<()> {
    for k in super::steps::keks(plan) {
        let rel = &k.key.kek;
        let recorded: Vec<&String> = prior
            .records
            .iter()
            .filter(|r| r.step == StepName::Open || r.step == StepName::KekConfirmed)
            .filter_map(|r| r.inputs.get(rel))
            .collect();
        if recorded.is_empty() {
            continue;
        }
        let now = sha256_hex(&fsutil::read_limited(&k.kek_path, 1 << 20, "KEK file")?);
        if let Some(sha) = recorded.iter().find(|sha| ***sha != now) {
            bail!(
                Integrity,
                "KEK file {} changed since the transcript recorded it (SHA-256 {now}, recorded {sha}), though it may hold the same key: resume with the very file the ceremony began with",
                crate::text::printable(&k.kek_path.display().to_string())
            );
        }
    }
    // The other targets' inputs (AWS's import token, Google's import-job description),
    // as the open record pinned them.
    for k in &plan.keys {
        for (rel, path) in k.side_files() {
            let Some(sha) = prior
                .records
                .iter()
                .filter(|r| r.step == StepName::Open)
                .find_map(|r| r.inputs.get(&rel))
            else {
                continue;
            };
            let now = sha256_hex(&fsutil::read_limited(&path, 1 << 20, "plan input")?);
            if &now != sha {
                bail!(
                    Integrity,
                    "{} changed since the transcript recorded it (SHA-256 {now}, recorded {sha}): resume with the very file the ceremony began with",
                    crate::text::printable(&rel)
                );
            }
        }
    }
    Ok(())
}

/// Check the token against the transcript: recorded keys present, once, and the same;
/// other labels of the plan absent unless a keygen was started for them.
pub fn check_token(plan: &CheckedPlan, token: &dyn Token, prior: &Prior) -> Result<()> {
    let mut labels: Vec<String> = plan.keys.iter().map(|k| k.label.clone()).collect();
    labels.push(plan.signer_label());
    for label in &labels {
        let found = token.private_keys(label)?;
        let recorded = prior
            .find(StepName::Keygen, label)
            .or_else(|| prior.find(StepName::Signer, label));
        match recorded {
            Some(r) => {
                let [key] = found.as_slice() else {
                    bail!(
                        Integrity,
                        "key \"{label}\" was generated in this ceremony, but the token holds {} private keys with that label: stop; no key may be lost or doubled",
                        found.len()
                    );
                };
                let spki = token.key_facts(*key)?.spki_sha256()?;
                if Some(spki.as_str()) != r.detail_str("spki_sha256") {
                    bail!(Integrity, "key \"{label}\" on the token is not the key the transcript recorded: stop and investigate");
                }
            }
            None => {
                if token.objects_labelled(label)? > 0 && !prior.has(StepName::KeygenStarted, label)
                {
                    bail!(
                        Exists,
                        "the token already has an object labelled \"{label}\" that this ceremony did not make: byok never reuses a label; use a fresh token or rename the key in the plan"
                    );
                }
                if found.len() > 1 {
                    bail!(
                        Integrity,
                        "the token holds {} private keys labelled \"{label}\": stop and investigate",
                        found.len()
                    );
                }
            }
        }
    }
    Ok(())
}

/// Generate key `k` into `dir`, or adopt the one an interrupted run generated (`intent`:
/// the transcript recorded `keygen-started` for it). Returns its `keygen` record.
pub fn keygen_or_adopt(token: &dyn Token, dir: &Path, k: &KeyPlan, intent: bool) -> Result<Record> {
    // The token label, which also names the public key file (the key name, or a
    // roll's label).
    let name = &k.label;
    let pem_path = keygen::pub_pem_path(dir, name);
    let found = if intent {
        token.private_keys(name)?
    } else {
        Vec::new()
    };
    match found.as_slice() {
        [] => {
            if pem_path.exists() {
                bail!(
                    Integrity,
                    "{} exists but the token has no key \"{name}\": the key was lost; stop and investigate",
                    pem_path.display()
                );
            }
            let req = KeygenRequest {
                label: name,
                bits: k.key.size,
                out_dir: dir,
                wrap_with_trusted: k.wrap_with_trusted,
            };
            let r = keygen::keygen(token, &req)?;
            let pem = fsutil::read_limited(&pem_path, 1 << 16, "public key")?;
            Ok(Record::new(StepName::Keygen, "byok")
                .output(&pub_file(name), &sha256_hex(&pem))
                .detail("label", name)
                .detail("id", &r.id)
                .detail("size", r.bits)
                .detail("spki_sha256", &r.spki_sha256)
                .detail("spki_sha256_words", &r.spki_sha256_words)
                .detail("attributes", &r.attributes)
                .detail("token", &r.token)
                .detail("adopted", false))
        }
        [key] => {
            let facts = token.key_facts(*key)?;
            let p = &facts.private;
            if facts.bits != k.key.size
                || !p.is_byok_key()
                || p.wrap_with_trusted != k.wrap_with_trusted
            {
                bail!(
                    Integrity,
                    "the key \"{name}\" on the token is not the key this ceremony started to generate (RSA-{}, local {}, sensitive {}, extractable {}, wrap with trusted {}): stop and investigate",
                    facts.bits,
                    p.local,
                    p.sensitive,
                    p.extractable,
                    p.wrap_with_trusted
                );
            }
            let pem = facts.public_pem()?;
            if std::fs::symlink_metadata(&pem_path).is_ok() {
                if fsutil::read_limited(&pem_path, 1 << 16, "public key")? != pem.as_bytes() {
                    bail!(
                        Integrity,
                        "{} is not the public key of key \"{name}\" on the token: stop and investigate",
                        pem_path.display()
                    );
                }
            } else {
                fsutil::write_new(&pem_path, pem.as_bytes(), 0o644)?;
            }
            let fp = crate::util::sha256(&facts.spki_der()?);
            Ok(Record::new(StepName::Keygen, "byok")
                .output(&pub_file(name), &sha256_hex(pem.as_bytes()))
                .detail("label", name)
                .detail("id", &facts.id)
                .detail("size", facts.bits)
                .detail("spki_sha256", hex::encode(fp))
                .detail("spki_sha256_words", words::to_words(&fp))
                .detail("attributes", &facts.private)
                .detail("token", token.identity())
                .detail("adopted", true))
        }
        many => bail!(
            Integrity,
            "the token holds {} private keys labelled \"{name}\": stop and investigate",
            many.len()
        ),
    }
}

/// The transcript signer on the token.
#[derive(Debug, Clone)]
pub struct Signer {
    pub label: String,
    pub key: KeyRef,
    pub spki: Vec<u8>,
    pub spki_sha256: String,
}

/// The signer labelled `label`, checked to be a signer (sensitive, not extractable, for
/// signing).
pub fn signer_from(token: &dyn Token, label: &str, key: KeyRef) -> Result<Signer> {
    let facts = token.key_facts(key)?;
    if !facts.private.is_signer() {
        bail!(Integrity, "the key \"{label}\" on the token is not a transcript signer (it must be sensitive, not extractable, for signing): stop and investigate");
    }
    let spki = facts.spki_der()?;
    Ok(Signer {
        label: label.to_string(),
        key,
        spki_sha256: sha256_hex(&spki),
        spki,
    })
}

/// What to do about the signer in a run that has not recorded one: adopt the key an
/// interrupted run generated (`intent`: its `keygen-started` is recorded), or generate it.
pub enum SignerPlan {
    Adopt(KeyRef),
    Generate,
}

/// Decide [`SignerPlan`] from the token: a key with the signer's label is adopted only
/// when this ceremony recorded starting to generate it, and only if it is the only one.
pub fn find_signer(token: &dyn Token, label: &str, intent: bool) -> Result<SignerPlan> {
    let found = token.private_keys(label)?;
    match (intent, found.as_slice()) {
        (true, [key]) => Ok(SignerPlan::Adopt(*key)),
        (_, []) => Ok(SignerPlan::Generate),
        (_, many) => bail!(
            Integrity,
            "the token holds {} private keys labelled \"{label}\" that this ceremony did not record: stop and investigate",
            many.len()
        ),
    }
}

#[cfg(test)]
mod tests;
