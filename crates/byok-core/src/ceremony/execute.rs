//! The steps of `byok ceremony run`, one small function each ([`Run::step`]), and what a
//! resumed run takes up from a step the transcript shows done ([`Run::restore`]). Every
//! record goes through [`Run::record`], where the crash hook's `done:` and `recorded:`
//! points sit. Tested with whole runs against the fake token in `run/tests.rs`.

use super::custody;
use super::manifest::{self, pub_file, ManifestKey, MANIFEST, TRANSCRIPT};
use super::plan::{signer_label, CheckedPlan, KeyPlan};
use super::resume::{self, Prior, Signer, SignerPlan};
use super::run::{RunOptions, RunReport, SIGNER_BITS};
use super::steps::{keks, Step};
use crate::console::Console;
use crate::crashpoint::{self, CrashPoint};
use crate::fsutil;
use crate::hsm::Token;
use crate::text::Printable;
use crate::transcript::{self, HsmId, Record, Signature, StepName, Writer};
use crate::util::sha256_hex;
use crate::{bail, err, words, Result};
use base64::Engine;
use std::collections::BTreeMap;
use std::path::Path;

/// A run in progress.
pub(super) struct Run<'a> {
    plan: &'a CheckedPlan,
    opts: &'a RunOptions,
    console: &'a dyn Console,
    token: &'a dyn Token,
    id: HsmId,
    prior: Prior,
    temp_files: Vec<String>,
    /// The transcript, once the preflight started or reopened it.
    w: Option<Writer>,
    signer: Option<Signer>,
    /// Each key's SPKI fingerprint as its keygen record has it.
    spki_of: BTreeMap<String, String>,
    /// The manifest and its SHA-256, once computed.
    manifest: Option<(Vec<ManifestKey>, String)>,
    warnings: Vec<String>,
    /// The step being executed: its records are the only ones [`Run::record`] writes.
    current: Option<Step>,
}

impl<'a> Run<'a> {
    pub(super) fn new(
        plan: &'a CheckedPlan,
        opts: &'a RunOptions,
        console: &'a dyn Console,
        token: &'a dyn Token,
        prior: Prior,
        temp_files: Vec<String>,
    ) -> Run<'a> {
        Run {
            plan,
            opts,
            console,
            token,
            id: token.identity(),
            prior,
            temp_files,
            w: None,
            signer: None,
            spki_of: BTreeMap::new(),
            manifest: None,
            warnings: Vec::new(),
            current: None,
        }
    }

    fn writer(&mut self) -> Result<&mut Writer> {
        self.w
            .as_mut()
            .ok_or_else(|| err!(Internal, "internal: no transcript before the preflight"))
    }

    /// Append a record; the crash hook's `done:` and `recorded:` points sit either side.
    /// A record whose step the current [`Step`] does not name is a bug: refused.
    fn record(&mut self, rec: Record) -> Result<Record> {
        let step = rec.step;
        if !self.current.is_some_and(|s| s.records().contains(&step)) {
            bail!(
                Internal,
                "internal: a {step} record outside the step that writes it ({:?})",
                self.current
            );
        }
        crashpoint::hit(CrashPoint::Done(step));
        let rec = self.writer()?.append(rec)?;
        crashpoint::hit(CrashPoint::Recorded(step));
        Ok(rec)
    }

    fn key(&self, i: usize) -> Result<&KeyPlan> {
        self.plan
            .keys
            .get(i)
            .ok_or_else(|| err!(Internal, "internal: no key {i} in the plan"))
    }

    fn dir(&self) -> &Path {
        &self.opts.out
    }

    /// Did the interrupted run finish this step?
    pub(super) fn is_done(&self, step: &Step) -> bool {
        let p = &self.prior;
        match *step {
            Step::Preflight | Step::Close => false,
            Step::Signer => p.step(StepName::Signer).is_some(),
            Step::ConfirmKek { kek } => keks(self.plan).get(kek).is_some_and(|k| {
                fsutil::read_limited(&k.kek_path, 1 << 20, "KEK file")
                    .is_ok_and(|b| p.kek_confirmed(&k.key.kek, &sha256_hex(&b)))
            }),
            Step::Keygen { key } => self
                .plan
                .keys
                .get(key)
                .is_some_and(|k| p.has(StepName::Keygen, &k.label)),
            Step::Wrap { key } => self
                .plan
                .keys
                .get(key)
                .is_some_and(|k| p.has(StepName::Wrap, &k.label)),
            Step::Manifest => p.step(StepName::Manifest).is_some(),
        }
    }

    /// Take up what a done step left: the state later steps need.
    pub(super) fn restore(&mut self, step: &Step) -> Result<String> {
        match *step {
            Step::Signer => {
                let label = self.plan.signer_label();
                let has_key = self
                    .prior
                    .step(StepName::Signer)
                    .is_some_and(|r| r.detail_str("spki_sha256").is_some());
                if has_key {
                    let [key] = self.token.private_keys(&label)?[..] else {
                        bail!(Integrity, "the transcript signer \"{label}\" is not on the token once: stop and investigate");
                    };
                    self.signer = Some(resume::signer_from(self.token, &label, key)?);
                }
                Ok("transcript signer already recorded".into())
            }
            Step::ConfirmKek { kek } => Ok(format!(
                "KEK {} already confirmed",
                keks(self.plan)
                    .get(kek)
                    .map(|k| k.key.kek.as_str())
                    .unwrap_or("?")
            )),
            Step::Keygen { key } => {
                let k = self.key(key)?;
                let (name, label) = (k.key.name.clone(), k.label.clone());
                let spki = self
                    .prior
                    .find(StepName::Keygen, &label)
                    .and_then(|r| r.detail_str("spki_sha256"))
                    .unwrap_or("")
                    .to_string();
                self.spki_of.insert(name.clone(), spki);
                Ok(format!("key {name} already generated"))
            }
            Step::Wrap { key } => Ok(format!("key {} already wrapped", self.key(key)?.key.name)),
            Step::Manifest => {
                self.compute_manifest()?;
                Ok(format!("{MANIFEST} already recorded"))
            }
            Step::Preflight | Step::Close => {
                Err(err!(Internal, "internal: {step:?} is never done before"))
            }
        }
    }

    /// Execute one step; returns what was done, for the progress line.
    pub(super) fn step(&mut self, step: &Step) -> Result<String> {
        self.current = Some(*step);
        match *step {
            Step::Preflight => self.preflight(),
            Step::Signer => self.signer(),
            Step::ConfirmKek { kek } => self.confirm_kek(kek),
            Step::Keygen { key } => self.keygen(key),
            Step::Wrap { key } => self.wrap(key),
            Step::Manifest => self.write_manifest(),
            Step::Close => self.close(),
        }
    }

    /// Check the token, run the self-test, and start (or reopen) the transcript.
    fn preflight(&mut self) -> Result<String> {
        let (plan, token) = (self.plan, self.token);
        resume::check_token(plan, token, &self.prior)?;
        let selftest = crate::wrap::selftest(token)?;
        self.warnings.extend(selftest.warnings.iter().cloned());
        // SoftHSM 2.6's zero-padded PKCS#8: OpenBao reads past the padding, strict
        // parsers (Python's cryptography; likely AWS and Google Cloud) refuse it.
        let strict: Vec<&str> = self
            .plan
            .keys
            .iter()
            .filter(|k| {
                matches!(
                    k.target.kind(),
                    super::plan::TargetKind::AwsKms | super::plan::TargetKind::GcpKms
                )
            })
            .map(|k| k.key.name.as_str())
            .collect();
        if selftest.trailing_zero_bytes > 0 && !strict.is_empty() {
            self.warnings.push(format!(
                "{}: this token pads the PKCS#8 key with zero bytes before AES-KWP; AWS KMS and Google Cloud KMS parse the key strictly and may refuse the blobs of {}: a rehearsal only, never a real ceremony on this token",
                crate::wrap::ZERO_PADDING_WARNING,
                strict.join(", ")
            ));
        }
        let path = self.dir().join(TRANSCRIPT);
        if self.opts.resume {
            let (w, torn) = Writer::reopen(&path)?;
            self.w = Some(w);
            for t in &self.temp_files {
                let p = self.opts.out.join(t);
                std::fs::remove_file(&p)
                    .map_err(|e| err!(Io, "cannot remove byok's temp file {}: {e}", p.display()))?;
            }
            fsutil::sync_dir(self.dir());
            let removed = self.temp_files.clone();
            self.record(
                Record::new(StepName::Resume, "byok")
                    .hsm(&self.id)
                    .detail("rehearsal", self.plan.mode.is_rehearsal())
                    .detail("torn_line_sha256", torn)
                    .detail("removed_temp_files", removed)
                    .detail("binary", &self.opts.binary)
                    .detail("deviations_given", &self.opts.deviations),
            )?;
        } else {
            // The bags are checked before anything is written: a bag that is not the
            // plan's stops the ceremony with the directory untouched.
            let bags_in =
                super::custody::confirm_bags_in(plan, self.console, self.opts.non_interactive)?;
            std::fs::create_dir_all(self.dir())
                .map_err(|e| err!(Io, "cannot create {}: {e}", self.dir().display()))?;
            self.w = Some(Writer::create(&path, plan.sha256)?);
            let rec = record_fields(self.open_record()?, plan, bags_in)
                .detail("deviations_given", &self.opts.deviations);
            self.record(rec)?;
        }
        let decision = token.decision()?;
        let verdict = decision.verdict;
        let (module, library) = token.library();
        self.record(
            Record::new(StepName::Preflight, "byok")
                .hsm(&self.id)
                .detail("module", module)
                .detail("library", library)
                .detail("verdict", verdict)
                .detail("mechanism", verdict.mechanism_text())
                .detail("verdict_reason", &decision.reason)
                .detail("softhsm", token.is_softhsm()),
        )?;
        self.record(
            Record::new(StepName::Selftest, "byok")
                .hsm(&self.id)
                .detail("passed", selftest.passed)
                .detail("mechanism", selftest.mechanism)
                .detail("warnings", &selftest.warnings),
        )?;
        Ok(format!(
            "preflight and self-test passed ({}); transcript {}",
            verdict.mechanism_text(),
            if self.opts.resume {
                "reopened"
            } else {
                "opened"
            }
        ))
    }

    /// The `open` record: the plan, the token, the officers, the mode, the binary
    /// (`byok version`), every KEK file.
    fn open_record(&self) -> Result<Record> {
        let plan = self.plan;
        let mut rec = Record::new(StepName::Open, "byok")
            .input("plan", &plan.sha256_hex())
            .hsm(&self.id)
            .detail("format", transcript::FORMAT)
            .detail("binary", &self.opts.binary)
            .detail("ceremony", &plan.plan.ceremony)
            .detail(
                "plan_file",
                plan.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
            .detail("token", &plan.plan.token)
            .detail("token_serial", &plan.plan.token_serial)
            .detail("rehearsal", plan.mode.is_rehearsal())
            .detail("officers", &plan.plan.officers)
            .detail(
                "mode",
                if self.opts.non_interactive {
                    "non-interactive"
                } else {
                    "interactive"
                },
            )
            .detail(
                "keys",
                plan.keys
                    .iter()
                    .map(|k| k.key.name.clone())
                    .collect::<Vec<_>>(),
            );
        let rolls: Vec<&str> = plan
            .keys
            .iter()
            .filter(|k| k.key.roll)
            .map(|k| k.key.name.as_str())
            .collect();
        if !rolls.is_empty() {
            // New versions of existing keys, named here so the record says so from the
            // start.
            rec = rec.detail("rolls", rolls);
        }
        for k in keks(plan) {
            let bytes = fsutil::read_limited(&k.kek_path, 1 << 20, "KEK file")?;
            rec = rec.input(&k.key.kek, &sha256_hex(&bytes));
        }
        // The other targets' inputs: AWS's import token, Google's import-job description.
        for k in &plan.keys {
            for (rel, path) in k.side_files() {
                let bytes = fsutil::read_limited(&path, 1 << 20, "plan input")?;
                rec = rec.input(&rel, &sha256_hex(&bytes));
            }
        }
        Ok(rec)
    }

    /// Make (once per ceremony) or adopt the transcript signer; none when the token
    /// cannot sign with `CKM_SHA256_RSA_PKCS`.
    fn signer(&mut self) -> Result<String> {
        let token = self.token;
        let label = signer_label(&self.plan.plan.ceremony);
        if !token.can_sign()? {
            self.record(
                Record::new(StepName::Signer, "byok")
                    .hsm(&self.id)
                    .detail("unavailable", "the token has no CKM_SHA256_RSA_PKCS"),
            )?;
            return Ok("this token cannot sign the transcript; it will close unsigned".into());
        }
        let intent = self.prior.has(StepName::KeygenStarted, &label);
        let (key, adopted) = match resume::find_signer(token, &label, intent)? {
            SignerPlan::Adopt(key) => (key, true),
            SignerPlan::Generate => {
                if !intent {
                    self.record(
                        Record::new(StepName::KeygenStarted, "byok")
                            .hsm(&self.id)
                            .detail("label", &label)
                            .detail("size", SIGNER_BITS)
                            .detail("purpose", "transcript signer"),
                    )?;
                }
                let pair = token.generate_signer(&label, SIGNER_BITS)?;
                crashpoint::hit(CrashPoint::Generated(StepName::Signer));
                (pair.private, false)
            }
        };
        let signer = resume::signer_from(token, &label, key)?;
        let fp = hex::decode(&signer.spki_sha256).unwrap_or_default();
        self.record(
            Record::new(StepName::Signer, "byok")
                .hsm(&self.id)
                .detail("label", &label)
                .detail("size", SIGNER_BITS)
                .detail("mechanism", "CKM_SHA256_RSA_PKCS")
                .detail("spki_sha256", &signer.spki_sha256)
                .detail("spki_sha256_words", words::to_words(&fp))
                .detail("adopted", adopted),
        )?;
        self.signer = Some(signer);
        Ok("transcript signer ready".into())
    }

    /// The officers confirm KEK `kek` (or, non-interactive, the plan's pin stands for them).
    fn confirm_kek(&mut self, kek: usize) -> Result<String> {
        let k = *keks(self.plan)
            .get(kek)
            .ok_or_else(|| err!(Internal, "internal: no KEK {kek} in the plan"))?;
        let bytes = fsutil::read_limited(&k.kek_path, 1 << 20, "KEK file")?;
        let fp = k.kek.sha256();
        let kid = k.kek.kid.as_ref().map(|x| x.url()).unwrap_or_default();
        let (actor, method) = if self.opts.non_interactive {
            (
                "byok".to_string(),
                "non-interactive: checked against the plan's pinned kek_sha256 only; no officer read the words".to_string(),
            )
        } else {
            (
                officers_actor(self.plan),
                ask_officers(self.console, k, &kid, &fp)?,
            )
        };
        self.record(
            Record::new(StepName::KekConfirmed, &actor)
                .input(&k.key.kek, &sha256_hex(&bytes))
                .detail("kid", &kid)
                .detail("vault", &k.vault)
                .detail("target", k.target.kind().name())
                .detail("destination", k.destination())
                .detail("spki_sha256", hex::encode(fp))
                .detail("spki_sha256_words", words::to_words(&fp))
                .detail("pinned_sha256", k.key.kek_sha256.to_lowercase())
                .detail("method", method)
                .detail(
                    "attestation",
                    match (&k.attestation, &k.target) {
                        (Some(a), _) => format!("{}: {}", a.status, a.summary),
                        // Google's import job: its description's attestation, checked
                        // when the plan was loaded.
                        (
                            None,
                            super::plan::KeyTarget::Gcp {
                                attestation: Some(a),
                                ..
                            },
                        ) => format!("{}: {}", a.file, a.summary),
                        _ => String::new(),
                    },
                ),
        )?;
        if kid.is_empty() {
            Ok(format!("KEK {} confirmed ({})", k.key.kek, k.destination()))
        } else {
            Ok(format!("KEK {} confirmed ({kid})", k.key.kek))
        }
    }

    /// Generate key `i` (the intent recorded first), or adopt it after a crash.
    fn keygen(&mut self, i: usize) -> Result<String> {
        let k = self
            .plan
            .keys
            .get(i)
            .ok_or_else(|| err!(Internal, "internal: no key {i}"))?;
        let name = k.key.name.clone();
        let label = k.label.clone();
        let intent = self.prior.has(StepName::KeygenStarted, &label);
        if !intent {
            let mut r = Record::new(StepName::KeygenStarted, "byok")
                .hsm(&self.id)
                .detail("label", &label)
                .detail("size", k.key.size)
                .detail("purpose", "BYOK key")
                .detail("policy", &k.policy);
            if k.key.roll {
                r = r.detail("roll", true).detail("key", &name);
            }
            self.record(r)?;
        }
        let rec = resume::keygen_or_adopt(self.token, &self.opts.out, k, intent)?;
        let rec = self.record(rec.hsm(&self.id))?;
        let spki = rec.detail_str("spki_sha256").unwrap_or("").to_string();
        self.spki_of.insert(name.clone(), spki);
        if k.key.roll {
            Ok(format!(
                "generated key {label} (RSA-{}), a new version of {name}",
                k.key.size
            ))
        } else {
            Ok(format!("generated key {name} (RSA-{})", k.key.size))
        }
    }

    /// Wrap key `i` under its vault's KEK into its package.
    fn wrap(&mut self, i: usize) -> Result<String> {
        let k = self
            .plan
            .keys
            .get(i)
            .ok_or_else(|| err!(Internal, "internal: no key {i}"))?;
        let name = &k.key.name;
        // The token label, which also names the key's files.
        let label = &k.label;
        let out_file = k.output_file();
        let pkg = self.opts.out.join(&out_file);
        let mut replaced = None;
        if std::fs::symlink_metadata(&pkg).is_ok() {
            let old = fsutil::read_limited(&pkg, 1 << 20, "package")?;
            replaced = Some(sha256_hex(&old));
            std::fs::remove_file(&pkg).map_err(|e| {
                err!(
                    Io,
                    "cannot remove the unrecorded package {}: {e}",
                    pkg.display()
                )
            })?;
            fsutil::sync_dir(self.dir());
            self.console.note(&format!(
                "note: {} was written but not recorded before the interruption; wrapping again",
                Printable(pkg.display())
            ));
        }
        let sel = crate::wrap::KeySelector {
            label: Some(label),
            id: None,
        };
        let r = crate::wrap::wrap_as(
            self.token,
            &sel,
            &k.kek,
            &pkg,
            crate::wrap::KeyShape::ByokOnly,
            k.target.form(),
        )?;
        if self.spki_of.get(name).map(String::as_str) != Some(r.key_spki_sha256.as_str()) {
            let _ = std::fs::remove_file(&pkg);
            bail!(Integrity, "the key labelled \"{label}\" on the token is not the one the transcript recorded: stop and investigate");
        }
        let kek_bytes = fsutil::read_limited(&k.kek_path, 1 << 20, "KEK file")?;
        let pub_bytes =
            fsutil::read_limited(&self.opts.out.join(pub_file(label)), 1 << 16, "public key")?;
        let mut rec = Record::new(StepName::Wrap, "byok")
            .hsm(&self.id)
            .input(&k.key.kek, &sha256_hex(&kek_bytes))
            .input(&pub_file(label), &sha256_hex(&pub_bytes))
            .output(&out_file, &r.sha256)
            .detail("label", label);
        if k.key.roll {
            rec = rec.detail("roll", true).detail("key", name);
        }
        if k.target.kind() != super::plan::TargetKind::Azure {
            rec = rec
                .detail("target", k.target.kind().name())
                .detail("destination", k.destination())
                .detail("method", k.target.method())
                .detail("oaep_hash", r.oaep_hash.name());
        }
        self.record(
            rec.detail("kek_kid", &r.kek_kid)
                .detail("kek_sha256", &r.kek_sha256)
                .detail("key_spki_sha256", &r.key_spki_sha256)
                .detail("mechanism", r.mechanism)
                .detail("trusted_kek", r.trusted_kek)
                .detail("replaced_unrecorded_package_sha256", replaced),
        )?;
        if r.kek_kid.is_empty() {
            Ok(format!(
                "wrapped {name} for {} ({}) into {out_file}",
                k.destination(),
                k.target.method()
            ))
        } else {
            Ok(format!("wrapped {name} under {}", r.kek_kid))
        }
    }

    fn compute_manifest(&mut self) -> Result<Vec<u8>> {
        let signer = self.signer.as_ref().map(|s| s.spki_sha256.clone());
        let (m, bytes) = manifest::build(self.plan, self.dir(), &self.id, signer, &self.spki_of)?;
        self.manifest = Some((m.keys, sha256_hex(&bytes)));
        Ok(bytes)
    }

    /// Write `manifest.json` (or keep the one an interrupted run wrote, if it is the same).
    fn write_manifest(&mut self) -> Result<String> {
        let bytes = self.compute_manifest()?;
        let path = self.dir().join(MANIFEST);
        if std::fs::symlink_metadata(&path).is_ok() {
            if fsutil::read_limited(&path, 1 << 20, "manifest")? != bytes {
                bail!(
                    Integrity,
                    "{} differs from the manifest of this ceremony's recorded files: stop and investigate",
                    path.display()
                );
            }
        } else {
            fsutil::write_new(&path, &bytes, 0o644)?;
        }
        let keys = self.manifest.as_ref().map(|m| m.0.len()).unwrap_or(0);
        self.record(
            Record::new(StepName::Manifest, "byok")
                .output(MANIFEST, &sha256_hex(&bytes))
                .detail("keys", keys),
        )?;
        Ok(format!("wrote {MANIFEST}"))
    }

    /// The close record, signed in the HSM by the transcript signer where there is one.
    fn close(&mut self) -> Result<String> {
        if self.current != Some(Step::Close) {
            bail!(Internal, "internal: a close record outside the close step");
        }
        let keys = self.manifest.as_ref().map(|m| m.0.len()).unwrap_or(0);
        let mut close = Record::new(StepName::Close, &officers_actor(self.plan))
            .hsm(&self.id)
            .detail("keys", keys);
        close = self.close_fields(close)?;
        let outputs = resume::outputs(&self.writer()?.records);
        for (name, sha) in outputs {
            close = close.output(&name, &sha);
        }
        crashpoint::hit(CrashPoint::Done(StepName::Close));
        let token = self.token;
        match self.signer.clone() {
            Some(s) => {
                self.writer()?
                    .append_signed(close, |body| sign(token, &s, body))?;
            }
            None => {
                self.writer()?.append(close.detail(
                    "unsigned",
                    "the token has no CKM_SHA256_RSA_PKCS: the close record is unsigned; the officers' signatures on the printed digest stand for it",
                ))?;
            }
        }
        Ok("closed the transcript".into())
    }

    /// The close record's `hsm_bags_out` and `deviations` ([`super::custody`]).
    fn close_fields(&self, mut close: Record) -> Result<Record> {
        let ni = self.opts.non_interactive;
        // Every --deviation given to this ceremony: those of an interrupted run (in its
        // open or resume record, hash-chained when given) and this run's, each once.
        let mut given: Vec<String> = Vec::new();
        let earlier = self
            .prior
            .records
            .iter()
            .filter(|r| matches!(r.step, StepName::Open | StepName::Resume))
            .filter_map(|r| r.detail.get("deviations_given"))
            .filter_map(|v| v.as_array())
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string));
        for t in earlier.chain(self.opts.deviations.iter().cloned()) {
            if !given.contains(&t) {
                given.push(t);
            }
        }
        let mut deviations: Vec<custody::Deviation> = given
            .into_iter()
            .map(|text| custody::Deviation {
                text,
                source: "--deviation",
            })
            .collect();
        if let Some((bags, d)) = custody::bags_out(self.plan, self.console, ni)? {
            close = close.detail("hsm_bags_out", bags);
            deviations.extend(d);
        }
        if !ni {
            deviations.extend(custody::ask_deviations(self.console, deviations.len())?);
        }
        Ok(close.detail("deviations", deviations))
    }

    pub(super) fn report(self) -> Result<RunReport> {
        let w = self
            .w
            .ok_or_else(|| err!(Internal, "internal: the run made no transcript"))?;
        let (keys, manifest_sha256) = self
            .manifest
            .ok_or_else(|| err!(Internal, "internal: the run made no manifest"))?;
        let digest = w.last_hash();
        Ok(RunReport {
            ceremony: self.plan.plan.ceremony.clone(),
            out: self.opts.out.clone(),
            keys,
            manifest_sha256,
            transcript: w.path.clone(),
            transcript_digest: hex::encode(digest),
            transcript_digest_words: words::to_words(&digest),
            signed: w.records.last().is_some_and(|r| r.signature.is_some()),
            resumed: self.opts.resume,
            rehearsal: self.plan.mode.is_rehearsal(),
            warnings: self.warnings,
        })
    }
}

/// The open record's fields for the printed record: the plan's location and witnesses,
/// and the bags the officers confirmed.
fn record_fields(mut rec: Record, plan: &CheckedPlan, bags_in: Option<custody::Bags>) -> Record {
    if let Some(l) = &plan.plan.location {
        rec = rec.detail("location", l);
    }
    if !plan.plan.witnesses.is_empty() {
        rec = rec.detail("witnesses", &plan.plan.witnesses);
    }
    if let Some(b) = bags_in {
        rec = rec.detail("hsm_bags_in", b);
    }
    rec
}

/// The officers as one actor: `Alice (ceremony administrator), Bob (crypto officer)`.
fn officers_actor(plan: &CheckedPlan) -> String {
    plan.plan
        .officers
        .iter()
        .map(|o| format!("{} ({})", o.name, o.role))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Ask the officers to confirm a KEK's fingerprint. Returns how they confirmed.
fn ask_officers(console: &dyn Console, k: &KeyPlan, kid: &str, fp: &[u8; 32]) -> Result<String> {
    let (first, last) = words::first_last(fp);
    let mut text = format!(
        "\nKEK {} for {}\n",
        Printable(&k.key.kek),
        Printable(k.destination()),
    );
    if !kid.is_empty() {
        text.push_str(&format!("  kid:     {}\n", Printable(kid)));
    }
    text.push_str(&format!("  SHA-256: {}\n", hex::encode(fp)));
    for l in words::to_word_lines(fp) {
        text.push_str(&format!("           {l}\n"));
    }
    text.push_str(if k.target.kind() == super::plan::TargetKind::Azure {
        "Read the words aloud and compare them with the fingerprint taken from the vault."
    } else {
        "Read the words aloud and compare them with the fingerprint taken on the connected side."
    });
    let answer = console.ask(
        &text,
        "Type the first and the last word, or \"yes\" if every word matched: ",
    )?;
    if answer.is_empty() {
        bail!("no answer for KEK {}: the officers must confirm every KEK (or run with --non-interactive to rely on the plan's pins)", k.key.kek);
    }
    if answer.eq_ignore_ascii_case("yes") {
        return Ok("officers read the words aloud and answered yes".into());
    }
    let typed: Vec<&str> = answer.split_whitespace().collect();
    if let [a, b] = typed[..] {
        if a.eq_ignore_ascii_case(first) && b.eq_ignore_ascii_case(last) {
            return Ok("officers typed the first and last words".into());
        }
    }
    bail!(
        Integrity,
        "the words typed for KEK {} do not match its fingerprint: stop; the KEK may not be the vault's. Fetch it again and compare on the connected side",
        k.key.kek
    )
}

/// The close record's signature, made in the HSM.
fn sign(token: &dyn Token, signer: &Signer, body: &[u8]) -> Result<Signature> {
    let value = token
        .sign_sha256(signer.key, body)
        .map_err(|e| e.context("signing the close record"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(Signature {
        alg: transcript::SIG_ALG.into(),
        signer: signer.label.clone(),
        spki: b64.encode(&signer.spki),
        spki_sha256: signer.spki_sha256.clone(),
        value: b64.encode(value),
    })
}

#[cfg(test)]
mod tests;
