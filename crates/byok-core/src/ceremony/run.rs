//! `byok ceremony run`: the offline, air-gapped half of a Customer Key ceremony.
//!
//! One login for the whole run. In order, each step recorded in `DIR/transcript.jsonl`
//! before it is reported done:
//!
//! 1. `open` (or `resume`): the plan's hash, the officers, the token's identity;
//! 2. `preflight`: the token's BYOK verdict (native or composite; unsupported stops);
//!    `selftest`: a throwaway session key wrapped and checked in software;
//! 3. `signer`: the transcript signer key `<ceremony>-transcript-signer` (RSA-3072, sign
//!    only, sensitive, not extractable), generated once per ceremony; its SPKI
//!    fingerprint is recorded here so the chain binds it;
//! 4. `kek-confirmed`, once per KEK file: officers read the fingerprint's PGP words and
//!    type the first and last word (or `yes`); `--non-interactive` relies on the plan's
//!    pinned `kek_sha256` and says so in the record;
//! 5. `keygen-started` (the intent, written **before** the HSM is asked) then `keygen`
//!    for every key: label = key name, public key into `DIR/<name>.pub.pem`;
//! 6. `wrap` for every key, under its vault's KEK, into `DIR/<name>.byok`;
//! 7. `manifest`: `DIR/manifest.json`, the SHA-256 of every package and public key
//!    (deterministic: no times), written atomically;
//! 8. `close`, signed in the HSM by the transcript signer.
//!
//! ## Crash windows and `--resume`
//!
//! Every file is written whole or not at all (`fsutil::write_new`), every record is
//! synced before the next step starts, and the keygen intent precedes the key. After a
//! kill at any point, `--resume`:
//!
//! - refuses when the plan's hash, the token (label, serial, model, manufacturer) or any
//!   file the transcript recorded differs, when DIR holds a file byok would not have
//!   made, or when a key the transcript recorded is gone from the token;
//! - cuts a torn last transcript line (never reported done) and deletes byok's own
//!   temp files (`.NAME.tmp-…`), noting both in the `resume` record;
//! - for a key with a `keygen-started` record but no `keygen` record: adopts the one key
//!   on the token with that label (checking it is a local, sensitive, extractable RSA
//!   key of the planned size, and that a public key file already written is exactly its
//!   public key), or generates it when the token has none. A label on the token without
//!   a `keygen-started` record is never adopted: it is not this ceremony's key;
//! - for a package without a `wrap` record: deletes it (it cannot be told apart from a
//!   package of another key, and wrapping again is harmless) and wraps again, noting
//!   the deleted file's hash in the `wrap` record;
//! - for `manifest.json` without a record: keeps it only if it is byte for byte the
//!   manifest byok computes now.

use super::plan::{signer_label, CheckedPlan, KeyPlan};
use crate::crashpoint;
use crate::fsutil;
use crate::hsm::{ck, Hsm, HsmSession, Target, Verdict};
use crate::keygen::{self, KeygenRequest};
use crate::transcript::{self, sha256_hex, HsmId, Record, Signature, Writer};
use crate::{bail, err, words, Result};
use base64::Engine;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

/// The transcript's file name in the ceremony directory.
pub const TRANSCRIPT: &str = "transcript.jsonl";
/// The manifest's file name in the ceremony directory.
pub const MANIFEST: &str = "manifest.json";
/// Size of the transcript signer key.
pub const SIGNER_BITS: usize = 3072;

/// How `byok ceremony run` was asked to run.
pub struct RunOptions {
    pub plan: PathBuf,
    pub out: PathBuf,
    pub resume: bool,
    pub non_interactive: bool,
    pub module: Option<PathBuf>,
    /// `--token`: may narrow the plan's token (a URI with `serial=`), never rename it.
    pub token: Option<String>,
    pub pin_file: Option<PathBuf>,
}

/// What `byok ceremony run` reports at the end.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub ceremony: String,
    pub out: PathBuf,
    pub keys: Vec<ManifestKey>,
    pub manifest_sha256: String,
    pub transcript: PathBuf,
    pub transcript_digest: String,
    pub transcript_digest_words: String,
    pub signed: bool,
    pub resumed: bool,
    pub warnings: Vec<String>,
}

/// `DIR/manifest.json`.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub ceremony: String,
    pub plan_sha256: String,
    pub byok_version: String,
    pub token: HsmId,
    pub signer_spki_sha256: Option<String>,
    pub keys: Vec<ManifestKey>,
}

/// One key in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestKey {
    pub policy: String,
    pub service: String,
    pub vault: String,
    pub name: String,
    pub size: usize,
    pub kek_kid: String,
    pub kek_sha256: String,
    pub public_key: String,
    pub public_key_sha256: String,
    pub spki_sha256: String,
    pub package: String,
    pub package_sha256: String,
}

/// The file names byok writes for a key.
pub fn pub_file(name: &str) -> String {
    format!("{name}.pub.pem")
}

pub fn package_file(name: &str) -> String {
    format!("{name}.byok")
}

/// Progress on stderr: a bar on a terminal, plain lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    done: usize,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("[{pos}/{len}] {wide_bar} {msg}")
            {
                b.set_style(style);
            }
            b
        });
        Progress {
            bar,
            total,
            done: 0,
        }
    }

    /// Report a step done.
    fn done(&mut self, msg: &str) {
        self.done += 1;
        match &self.bar {
            Some(b) => {
                b.set_message(msg.to_string());
                b.inc(1);
                b.println(format!("done: {msg}"));
            }
            None => eprintln!("[{}/{}] {msg}", self.done, self.total),
        }
    }

    fn note(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.println(msg),
            None => eprintln!("{msg}"),
        }
    }

    /// Run `f` (which talks to the officers) with the bar hidden.
    fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
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

/// Distinct KEK files of the plan, in first-use order, with their keys.
fn distinct_keks(plan: &CheckedPlan) -> Vec<&KeyPlan> {
    let mut seen = BTreeSet::new();
    plan.keys
        .iter()
        .filter(|k| seen.insert(k.kek_path.clone()))
        .collect()
}

/// The lines of a fingerprint's PGP words, four a line.
fn word_lines(fp: &[u8]) -> Vec<String> {
    words::to_word_lines(fp)
}

/// The state of an earlier, interrupted run, read from its transcript.
#[derive(Default)]
struct Done {
    records: Vec<Record>,
}

impl Done {
    fn find(&self, step: &str, label: &str) -> Option<&Record> {
        self.records
            .iter()
            .find(|r| r.step == step && r.detail_str("label") == Some(label))
    }
    fn has(&self, step: &str, label: &str) -> bool {
        self.find(step, label).is_some()
    }
    fn step(&self, step: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.step == step)
    }
    fn kek_confirmed(&self, rel: &str, file_sha: &str) -> bool {
        self.records.iter().any(|r| {
            r.step == "kek-confirmed" && r.inputs.get(rel).map(String::as_str) == Some(file_sha)
        })
    }
    /// Every file output the transcript recorded, name → SHA-256.
    fn outputs(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        for r in &self.records {
            for (k, v) in &r.outputs {
                m.insert(k.clone(), v.clone());
            }
        }
        m
    }
}

/// Run (or resume) the offline ceremony.
pub fn run(plan: &CheckedPlan, opts: &RunOptions) -> Result<RunReport> {
    let dir = opts.out.clone();
    let transcript_path = dir.join(TRANSCRIPT);
    // The earlier run's records (resume) or a directory check (fresh).
    let done = if opts.resume {
        if !transcript_path.is_file() {
            bail!(
                "{} has no {TRANSCRIPT}: there is no ceremony to resume there (run without --resume to start one)",
                dir.display()
            );
        }
        let (records, _) = transcript::read_unfinished(&transcript_path)?;
        let Some(open) = records.first() else {
            // Killed before the open record was on disk: nothing was done on the token
            // yet (every token change follows the open record), so start afresh, as
            // long as the directory holds nothing else.
            let others = std::fs::read_dir(&dir)
                .map_err(|e| err!("cannot read {}: {e}", dir.display()))?
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name() != TRANSCRIPT)
                .count();
            if others > 0 {
                bail!(
                    "{}: the transcript is empty but {} holds other files: move them out and run again",
                    transcript_path.display(),
                    dir.display()
                );
            }
            return run_fresh_after_empty_transcript(plan, opts);
        };
        if open.prev != plan.sha256_hex() {
            bail!(
                "the plan changed since the ceremony started: its SHA-256 is {}, the transcript's is {}; resume with the plan the ceremony began with",
                plan.sha256_hex(),
                open.prev
            );
        }
        Done { records }
    } else {
        if dir.exists() {
            let non_empty = std::fs::read_dir(&dir)
                .map_err(|e| err!("cannot read {}: {e}", dir.display()))?
                .next()
                .is_some();
            if non_empty {
                bail!(
                    "{} is not empty: a ceremony writes into a new or empty directory (use --resume to finish an interrupted ceremony there)",
                    dir.display()
                );
            }
        }
        Done::default()
    };

    // The token: the plan names it; --token may narrow it but not rename it.
    let mut target = Target::resolve(
        opts.module.clone(),
        Some(opts.token.as_deref().unwrap_or(&plan.plan.token)),
        None,
        opts.pin_file.clone(),
    )?;
    match &target.token.label {
        Some(l) if *l != plan.plan.token => bail!(
            "--token names token {l:?}, but the plan names {:?}: a ceremony runs on the plan's token (label the rehearsal token the same)",
            plan.plan.token
        ),
        Some(_) => {}
        None => target.token.label = Some(plan.plan.token.clone()),
    }
    let hsm = target.open()?;
    let id: HsmId = hsm.identity();
    if let Some(open) = done.records.first() {
        let was = open
            .hsm
            .clone()
            .ok_or_else(|| err!("the open record names no token"))?;
        for (what, a, b) in [
            ("label", &was.label, &id.label),
            ("serial", &was.serial, &id.serial),
            ("model", &was.model, &id.model),
            ("manufacturer", &was.manufacturer, &id.manufacturer),
        ] {
            if a != b {
                bail!(
                    "this is not the ceremony's token: its {what} is {b:?}, the transcript's is {a:?}; resume on the token the ceremony began on"
                );
            }
        }
    }
    let verdict = hsm.verdict()?;
    if verdict == Verdict::Unsupported {
        bail!("token \"{}\" cannot make BYOK packages (`byok hsm info` says unsupported): use an HSM with CKM_RSA_AES_KEY_WRAP, or CKM_AES_KEY_WRAP_PAD with CKM_RSA_PKCS_OAEP", id.label);
    }
    // Files in DIR, checked before anything changes.
    let temp_files = if opts.resume {
        check_dir(plan, &dir, &done)?
    } else {
        Vec::new()
    };

    let session = hsm.login(target.pin_file.as_deref())?;
    check_token(plan, &session, &done)?;
    let selftest = crate::wrap::selftest(&hsm, &session)?;

    // From here on the ceremony writes: directory, transcript, keys.
    let warnings = selftest.warnings.clone();
    let keks = distinct_keks(plan);
    let total = 4 + keks.len() + 2 * plan.keys.len() + 1;
    let mut progress = Progress::new(total);
    let mut w = if opts.resume {
        let (w, torn) = Writer::reopen(&transcript_path)?;
        let mut removed = Vec::new();
        for t in &temp_files {
            std::fs::remove_file(dir.join(t)).map_err(|e| {
                err!(
                    "cannot remove byok's temp file {}: {e}",
                    dir.join(t).display()
                )
            })?;
            removed.push(t.clone());
        }
        fsutil::sync_dir(&dir);
        let mut w = w;
        w.append(
            Record::new("resume", "byok")
                .hsm(&id)
                .detail("torn_line_sha256", torn)
                .detail("removed_temp_files", removed),
        )?;
        progress.done("resumed the ceremony");
        w
    } else {
        std::fs::create_dir_all(&dir).map_err(|e| err!("cannot create {}: {e}", dir.display()))?;
        let mut w = Writer::create(&transcript_path, plan.sha256)?;
        let mut rec = Record::new("open", "byok")
            .input("plan", &plan.sha256_hex())
            .hsm(&id)
            .detail("format", transcript::FORMAT)
            .detail("ceremony", &plan.plan.ceremony)
            .detail(
                "plan_file",
                plan.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
            .detail("token", &plan.plan.token)
            .detail("rehearsal", plan.mode.is_rehearsal())
            .detail("officers", &plan.plan.officers)
            .detail(
                "mode",
                if opts.non_interactive {
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
        for k in &keks {
            let bytes = fsutil::read_limited(&k.kek_path, 1 << 20, "KEK file")?;
            rec = rec.input(&k.key.kek, &sha256_hex(&bytes));
        }
        w.append(rec)?;
        progress.done("opened the transcript");
        w
    };
    w.append(
        Record::new("preflight", "byok")
            .hsm(&id)
            .detail("module", hsm.module.display().to_string())
            .detail(
                "library",
                hsm.library()
                    .map(|(m, d, v)| format!("{m} {d} {v}"))
                    .unwrap_or_default(),
            )
            .detail("verdict", verdict)
            .detail("mechanism", verdict.mechanism_text())
            .detail("softhsm", hsm.is_softhsm()),
    )?;
    w.append(
        Record::new("selftest", "byok")
            .hsm(&id)
            .detail("passed", selftest.passed)
            .detail("mechanism", selftest.mechanism)
            .detail("warnings", &selftest.warnings),
    )?;
    progress.done(&format!(
        "preflight and self-test passed ({})",
        verdict.mechanism_text()
    ));

    // The transcript signer.
    let signer = ensure_signer(plan, &hsm, &session, &mut w, &done, &id)?;
    progress.done(match &signer {
        Some(_) => "transcript signer ready",
        None => "this token cannot sign the transcript; it will close unsigned",
    });

    // KEK confirmations.
    for k in &keks {
        let bytes = fsutil::read_limited(&k.kek_path, 1 << 20, "KEK file")?;
        let file_sha = sha256_hex(&bytes);
        if done.kek_confirmed(&k.key.kek, &file_sha) {
            progress.done(&format!("KEK {} already confirmed", k.key.kek));
            continue;
        }
        let fp = k.kek.sha256();
        let kid = k.kek.kid.as_ref().map(|x| x.url()).unwrap_or_default();
        let (actor, method) = if opts.non_interactive {
            (
                "byok".to_string(),
                "non-interactive: checked against the plan's pinned kek_sha256 only; no officer read the words".to_string(),
            )
        } else {
            let method = progress.suspend(|| confirm_kek(k, &kid, &fp))?;
            (officers_actor(plan), method)
        };
        w.append(
            Record::new("kek-confirmed", &actor)
                .input(&k.key.kek, &file_sha)
                .detail("kid", &kid)
                .detail("vault", &k.vault)
                .detail("spki_sha256", hex::encode(fp))
                .detail("spki_sha256_words", words::to_words(&fp))
                .detail("pinned_sha256", k.key.kek_sha256.to_lowercase())
                .detail("method", method)
                .detail(
                    "attestation",
                    k.attestation
                        .as_ref()
                        .map(|a| format!("{}: {}", a.status, a.summary))
                        .unwrap_or_default(),
                ),
        )?;
        progress.done(&format!("KEK {} confirmed ({kid})", k.key.kek));
    }

    // Keys.
    let mut spki_of: BTreeMap<String, String> = BTreeMap::new();
    for k in &plan.keys {
        let name = &k.key.name;
        if let Some(r) = done.find("keygen", name) {
            spki_of.insert(
                name.clone(),
                r.detail_str("spki_sha256").unwrap_or("").to_string(),
            );
            progress.done(&format!("key {name} already generated"));
            continue;
        }
        let intent = done.has("keygen-started", name);
        if !intent {
            w.append(
                Record::new("keygen-started", "byok")
                    .hsm(&id)
                    .detail("label", name)
                    .detail("size", k.key.size)
                    .detail("purpose", "BYOK key")
                    .detail("policy", &k.policy),
            )?;
            crashpoint::hit("keygen-intent");
        }
        let rec = keygen_or_adopt(&hsm, &session, &dir, k, intent)?;
        crashpoint::hit("keygen");
        let rec = w.append(rec.hsm(&id))?;
        spki_of.insert(
            name.clone(),
            rec.detail_str("spki_sha256").unwrap_or("").to_string(),
        );
        progress.done(&format!("generated key {name} (RSA-{})", k.key.size));
    }

    // Packages.
    for k in &plan.keys {
        let name = &k.key.name;
        if done.has("wrap", name) {
            progress.done(&format!("key {name} already wrapped"));
            continue;
        }
        let pkg = dir.join(package_file(name));
        let mut replaced = None;
        if let Ok(old) = std::fs::read(&pkg) {
            replaced = Some(sha256_hex(&old));
            std::fs::remove_file(&pkg).map_err(|e| {
                err!(
                    "cannot remove the unrecorded package {}: {e}",
                    pkg.display()
                )
            })?;
            fsutil::sync_dir(&dir);
            progress.note(&format!(
                "note: {} was written but not recorded before the interruption; wrapping again",
                pkg.display()
            ));
        }
        let sel = crate::wrap::KeySelector {
            label: Some(name),
            id: None,
        };
        let r = crate::wrap::wrap(&hsm, &session, &sel, &k.kek, &pkg)?;
        if spki_of.get(name).map(String::as_str) != Some(r.key_spki_sha256.as_str()) {
            let _ = std::fs::remove_file(&pkg);
            bail!("the key labelled \"{name}\" on the token is not the one the transcript recorded: stop and investigate");
        }
        crashpoint::hit("wrap");
        let kek_bytes = fsutil::read_limited(&k.kek_path, 1 << 20, "KEK file")?;
        let pub_bytes = fsutil::read_limited(&dir.join(pub_file(name)), 1 << 16, "public key")?;
        w.append(
            Record::new("wrap", "byok")
                .hsm(&id)
                .input(&k.key.kek, &sha256_hex(&kek_bytes))
                .input(&pub_file(name), &sha256_hex(&pub_bytes))
                .output(&package_file(name), &r.sha256)
                .detail("label", name)
                .detail("kek_kid", &r.kek_kid)
                .detail("kek_sha256", &r.kek_sha256)
                .detail("key_spki_sha256", &r.key_spki_sha256)
                .detail("mechanism", r.mechanism)
                .detail("replaced_unrecorded_package_sha256", replaced),
        )?;
        progress.done(&format!("wrapped {name} under {}", r.kek_kid));
    }

    // Manifest.
    crashpoint::hit("manifest-before");
    let (manifest, manifest_bytes) = build_manifest(
        plan,
        &dir,
        &id,
        signer.as_ref().map(|s| s.spki_sha256.clone()),
        &spki_of,
    )?;
    let manifest_sha = sha256_hex(&manifest_bytes);
    if done.step("manifest").is_none() {
        let path = dir.join(MANIFEST);
        match std::fs::read(&path) {
            Ok(old) if old == manifest_bytes => {}
            Ok(_) => bail!(
                "{} differs from the manifest of this ceremony's recorded files: stop and investigate",
                path.display()
            ),
            Err(_) => fsutil::write_new(&path, &manifest_bytes, 0o644)?,
        }
        crashpoint::hit("manifest");
        w.append(
            Record::new("manifest", "byok")
                .output(MANIFEST, &manifest_sha)
                .detail("keys", manifest.keys.len()),
        )?;
    }
    progress.done(&format!("wrote {MANIFEST}"));
    crashpoint::hit("close-before");

    // Close.
    let mut close = Record::new("close", &officers_actor(plan))
        .hsm(&id)
        .detail("keys", manifest.keys.len());
    for (name, sha) in done_outputs(&w) {
        close = close.output(&name, &sha);
    }
    let closed = match &signer {
        Some(s) => {
            let s = s.clone();
            w.append_signed(close, |body| sign(&session, &s, body))?
        }
        None => w.append(close.detail(
            "unsigned",
            "the token has no CKM_SHA256_RSA_PKCS: the close record is unsigned; the officers' signatures on the printed digest stand for it",
        ))?,
    };
    progress.done("closed the transcript");
    progress.finish();
    drop(session);
    let digest = w.last_hash();
    Ok(RunReport {
        ceremony: plan.plan.ceremony.clone(),
        out: dir,
        keys: manifest.keys,
        manifest_sha256: manifest_sha,
        transcript: transcript_path,
        transcript_digest: hex::encode(digest),
        transcript_digest_words: words::to_words(&digest),
        signed: closed.signature.is_some(),
        resumed: opts.resume,
        warnings,
    })
}

/// `--resume` found a transcript with no complete record: remove it and run afresh.
fn run_fresh_after_empty_transcript(plan: &CheckedPlan, opts: &RunOptions) -> Result<RunReport> {
    let path = opts.out.join(TRANSCRIPT);
    std::fs::remove_file(&path)
        .map_err(|e| err!("cannot remove the empty transcript {}: {e}", path.display()))?;
    fsutil::sync_dir(&opts.out);
    let fresh = RunOptions {
        plan: opts.plan.clone(),
        out: opts.out.clone(),
        resume: false,
        non_interactive: opts.non_interactive,
        module: opts.module.clone(),
        token: opts.token.clone(),
        pin_file: opts.pin_file.clone(),
    };
    run(plan, &fresh)
}

/// Every file output recorded so far.
fn done_outputs(w: &Writer) -> BTreeMap<String, String> {
    Done {
        records: w.records.clone(),
    }
    .outputs()
}

/// Ask the officers to confirm a KEK's fingerprint. Returns how they confirmed.
fn confirm_kek(k: &KeyPlan, kid: &str, fp: &[u8; 32]) -> Result<String> {
    let all = words::to_words(fp);
    let list: Vec<&str> = all.split(' ').collect();
    let (first, last) = (
        list.first().copied().unwrap_or(""),
        list.last().copied().unwrap_or(""),
    );
    eprintln!();
    eprintln!("KEK {} for vault {}", k.key.kek, k.vault);
    eprintln!("  kid:     {kid}");
    eprintln!("  SHA-256: {}", hex::encode(fp));
    for l in word_lines(fp) {
        eprintln!("           {l}");
    }
    eprintln!("Read the words aloud and compare them with the fingerprint taken from the vault.");
    eprint!("Type the first and the last word, or \"yes\" if every word matched: ");
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| err!("cannot read the officers' answer: {e}"))?;
    if !std::io::stdin().is_terminal() {
        // The answer was not echoed: end the prompt's line.
        eprintln!();
    }
    let answer = line.trim();
    if answer.is_empty() {
        bail!("no answer for KEK {}: the officers must confirm every KEK (or run with --non-interactive to rely on the plan's pins)", k.key.kek);
    }
    if answer.eq_ignore_ascii_case("yes") {
        return Ok("officers read the words aloud and answered yes".into());
    }
    let typed: Vec<&str> = answer.split_whitespace().collect();
    if typed.len() == 2
        && typed[0].eq_ignore_ascii_case(first)
        && typed[1].eq_ignore_ascii_case(last)
    {
        return Ok("officers typed the first and last words".into());
    }
    bail!(
        "the words typed for KEK {} do not match its fingerprint: stop; the KEK may not be the vault's. Fetch it again and compare on the connected side",
        k.key.kek
    )
}

/// Check the files in DIR against the transcript before a resume changes anything.
/// Returns byok's leftover temp files (to delete once the resume is recorded).
fn check_dir(plan: &CheckedPlan, dir: &Path, done: &Done) -> Result<Vec<String>> {
    let recorded = done.outputs();
    for (name, sha) in &recorded {
        let p = dir.join(name);
        let bytes = std::fs::read(&p).map_err(|_| {
            err!(
                "{} is missing, but the transcript recorded it: restore it from the ceremony's copy before resuming",
                p.display()
            )
        })?;
        let now = sha256_hex(&bytes);
        if &now != sha {
            bail!(
                "{} was altered since the transcript recorded it (SHA-256 {now}, recorded {sha}): stop and investigate",
                p.display()
            );
        }
    }
    let mut expected: BTreeSet<String> = BTreeSet::new();
    expected.insert(TRANSCRIPT.into());
    expected.insert(MANIFEST.into());
    for k in &plan.keys {
        expected.insert(pub_file(&k.key.name));
        expected.insert(package_file(&k.key.name));
    }
    let mut temps = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| err!("cannot read {}: {e}", dir.display()))?;
    for e in entries {
        let e = e.map_err(|e| err!("cannot read {}: {e}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let is_file = e.file_type().map(|t| t.is_file()).unwrap_or(false);
        if is_file && fsutil::is_temp_name(&name) {
            temps.push(name);
        } else if !is_file || !expected.contains(&name) {
            bail!(
                "{} holds {name:?}, which this ceremony does not write: move it out before resuming",
                dir.display()
            );
        }
    }
    temps.sort();
    Ok(temps)
}

/// Check the token against the transcript: recorded keys present and the same, other
/// labels of the plan absent unless a keygen was started for them.
fn check_token(plan: &CheckedPlan, s: &HsmSession<'_>, done: &Done) -> Result<()> {
    let mut labels: Vec<String> = plan.keys.iter().map(|k| k.key.name.clone()).collect();
    labels.push(plan.signer_label());
    for label in &labels {
        let found = s.find(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])?;
        let any = s.find_label(label)?;
        let recorded = done
            .find("keygen", label)
            .or_else(|| done.find("signer", label));
        match recorded {
            Some(r) => {
                if found.len() != 1 {
                    bail!(
                        "key \"{label}\" was generated in this ceremony, but the token holds {} private keys with that label: stop; no key may be lost or doubled",
                        found.len()
                    );
                }
                let spki = keygen::spki_der(&s.key_facts(found[0])?)?;
                if Some(sha256_hex(&spki).as_str()) != r.detail_str("spki_sha256") {
                    bail!("key \"{label}\" on the token is not the key the transcript recorded: stop and investigate");
                }
            }
            None => {
                if !any.is_empty() && !done.has("keygen-started", label) {
                    bail!(
                        "the token already has an object labelled \"{label}\" that this ceremony did not make: byok never reuses a label; use a fresh token or rename the key in the plan"
                    );
                }
                if found.len() > 1 {
                    bail!("the token holds {} private keys labelled \"{label}\": stop and investigate", found.len());
                }
            }
        }
    }
    Ok(())
}

/// Generate a key, or adopt the one an interrupted run generated.
fn keygen_or_adopt(
    hsm: &Hsm,
    s: &HsmSession<'_>,
    dir: &Path,
    k: &KeyPlan,
    intent: bool,
) -> Result<Record> {
    let name = &k.key.name;
    let pem_path = keygen::pub_pem_path(dir, name);
    let found = if intent {
        s.find(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(name.as_bytes().to_vec()),
        ])?
    } else {
        Vec::new()
    };
    match found.len() {
        0 => {
            if pem_path.exists() {
                bail!(
                    "{} exists but the token has no key \"{name}\": the key was lost; stop and investigate",
                    pem_path.display()
                );
            }
            let r = keygen::keygen(
                hsm,
                s,
                &KeygenRequest {
                    label: name,
                    bits: k.key.size,
                    out_dir: dir,
                    wrap_with_trusted: false,
                },
            )?;
            let pem = fsutil::read_limited(&pem_path, 1 << 16, "public key")?;
            Ok(Record::new("keygen", "byok")
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
        1 => {
            let facts = s.key_facts(found[0])?;
            let p = &facts.private;
            if facts.bits != k.key.size
                || !p.token
                || !p.sensitive
                || !p.always_sensitive
                || !p.extractable
                || !p.local
                || p.sign
                || p.decrypt
                || p.unwrap
                || p.derive
            {
                bail!(
                    "the key \"{name}\" on the token is not the key this ceremony started to generate (RSA-{}, local {}, sensitive {}, extractable {}): stop and investigate",
                    facts.bits,
                    p.local,
                    p.sensitive,
                    p.extractable
                );
            }
            let spki = keygen::spki_der(&facts)?;
            let pem = pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &spki)
                .map_err(|e| err!("cannot encode the public key: {e}"))?;
            match std::fs::read(&pem_path) {
                Ok(old) if old == pem.as_bytes() => {}
                Ok(_) => bail!(
                    "{} is not the public key of key \"{name}\" on the token: stop and investigate",
                    pem_path.display()
                ),
                Err(_) => fsutil::write_new(&pem_path, pem.as_bytes(), 0o644)?,
            }
            let fp: [u8; 32] =
                sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&spki))
                    .into();
            Ok(Record::new("keygen", "byok")
                .output(&pub_file(name), &sha256_hex(pem.as_bytes()))
                .detail("label", name)
                .detail("id", &facts.id)
                .detail("size", facts.bits)
                .detail("spki_sha256", hex::encode(fp))
                .detail("spki_sha256_words", words::to_words(&fp))
                .detail("attributes", &facts.private)
                .detail("token", hsm.identity())
                .detail("adopted", true))
        }
        n => bail!("the token holds {n} private keys labelled \"{name}\": stop and investigate"),
    }
}

/// The transcript signer, as the close record needs it.
#[derive(Clone)]
struct Signer {
    label: String,
    handle: ObjectHandle,
    spki: Vec<u8>,
    spki_sha256: String,
}

/// Make (once per ceremony) or find the transcript signer key; `None` when the token
/// cannot sign with `CKM_SHA256_RSA_PKCS`.
fn ensure_signer(
    plan: &CheckedPlan,
    hsm: &Hsm,
    s: &HsmSession<'_>,
    w: &mut Writer,
    done: &Done,
    id: &HsmId,
) -> Result<Option<Signer>> {
    let label = signer_label(&plan.plan.ceremony);
    if let Some(r) = done.step("signer") {
        if r.detail_str("spki_sha256").is_none() {
            return Ok(None);
        }
        let h = s.private_key(&label)?;
        return Ok(Some(signer_from(s, &label, h)?));
    }
    let can_sign = hsm
        .mechanisms()?
        .iter()
        .any(|m| **m == cryptoki_sys::CKM_SHA256_RSA_PKCS);
    if !can_sign {
        w.append(
            Record::new("signer", "byok")
                .hsm(id)
                .detail("unavailable", "the token has no CKM_SHA256_RSA_PKCS"),
        )?;
        return Ok(None);
    }
    let intent = done.has("keygen-started", &label);
    let found = s.find(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Label(label.as_bytes().to_vec()),
    ])?;
    let (h, adopted) = match (intent, found.len()) {
        (true, 1) => (found[0], true),
        (_, 0) => {
            if !intent {
                w.append(
                    Record::new("keygen-started", "byok")
                        .hsm(id)
                        .detail("label", &label)
                        .detail("size", SIGNER_BITS)
                        .detail("purpose", "transcript signer"),
                )?;
                crashpoint::hit("keygen-intent");
            }
            (generate_signer(s, &label)?, false)
        }
        (_, n) => bail!("the token holds {n} private keys labelled \"{label}\" that this ceremony did not record: stop and investigate"),
    };
    crashpoint::hit("signer-generated");
    let signer = signer_from(s, &label, h)?;
    let fp = hex::decode(&signer.spki_sha256).unwrap_or_default();
    w.append(
        Record::new("signer", "byok")
            .hsm(id)
            .detail("label", &label)
            .detail("size", SIGNER_BITS)
            .detail("mechanism", "CKM_SHA256_RSA_PKCS")
            .detail("spki_sha256", &signer.spki_sha256)
            .detail("spki_sha256_words", words::to_words(&fp))
            .detail("adopted", adopted),
    )?;
    Ok(Some(signer))
}

fn signer_from(s: &HsmSession<'_>, label: &str, h: ObjectHandle) -> Result<Signer> {
    let facts = s.key_facts(h)?;
    if facts.private.extractable || !facts.private.sensitive || !facts.private.sign {
        bail!("the key \"{label}\" on the token is not a transcript signer (it must be sensitive, not extractable, for signing): stop and investigate");
    }
    let spki = keygen::spki_der(&facts)?;
    Ok(Signer {
        label: label.to_string(),
        handle: h,
        spki_sha256: sha256_hex(&spki),
        spki,
    })
}

fn generate_signer(s: &HsmSession<'_>, label: &str) -> Result<ObjectHandle> {
    let id =
        s.s.generate_random_vec(16)
            .map_err(ck("drawing a random key id"))?;
    let l = label.as_bytes().to_vec();
    let (_, priv_h) =
        s.s.generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Label(l.clone()),
                Attribute::Id(id.clone()),
                Attribute::KeyType(KeyType::RSA),
                Attribute::ModulusBits((SIGNER_BITS as u64).into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
                Attribute::Verify(true),
                Attribute::Encrypt(false),
                Attribute::Wrap(false),
                Attribute::Modifiable(false),
            ],
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Label(l),
                Attribute::Id(id),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::SignRecover(false),
                Attribute::Decrypt(false),
                Attribute::Unwrap(false),
                Attribute::Derive(false),
                Attribute::Modifiable(false),
            ],
        )
        .map_err(ck("generating the transcript signer key"))?;
    Ok(priv_h)
}

fn sign(s: &HsmSession<'_>, signer: &Signer, body: &[u8]) -> Result<Signature> {
    let value =
        s.s.sign(&Mechanism::Sha256RsaPkcs, signer.handle, body)
            .map_err(ck("signing the close record (CKM_SHA256_RSA_PKCS)"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(Signature {
        alg: transcript::SIG_ALG.into(),
        signer: signer.label.clone(),
        spki: b64.encode(&signer.spki),
        spki_sha256: signer.spki_sha256.clone(),
        value: b64.encode(value),
    })
}

/// The manifest's bytes, computed from the files in DIR (deterministic: no time).
fn build_manifest(
    plan: &CheckedPlan,
    dir: &Path,
    id: &HsmId,
    signer: Option<String>,
    spki_of: &BTreeMap<String, String>,
) -> Result<(Manifest, Vec<u8>)> {
    let mut keys = Vec::new();
    for k in &plan.keys {
        let name = &k.key.name;
        let pem = fsutil::read_limited(&dir.join(pub_file(name)), 1 << 16, "public key")?;
        let pkg = fsutil::read_limited(&dir.join(package_file(name)), 1 << 20, "package")?;
        keys.push(ManifestKey {
            policy: k.policy.clone(),
            service: k.service.clone(),
            vault: k.vault.clone(),
            name: name.clone(),
            size: k.key.size,
            kek_kid: k.kek.kid.as_ref().map(|x| x.url()).unwrap_or_default(),
            kek_sha256: hex::encode(k.kek.sha256()),
            public_key: pub_file(name),
            public_key_sha256: sha256_hex(&pem),
            spki_sha256: spki_of.get(name).cloned().unwrap_or_default(),
            package: package_file(name),
            package_sha256: sha256_hex(&pkg),
        });
    }
    let m = Manifest {
        ceremony: plan.plan.ceremony.clone(),
        plan_sha256: plan.sha256_hex(),
        byok_version: env!("CARGO_PKG_VERSION").into(),
        token: id.clone(),
        signer_spki_sha256: signer,
        keys,
    };
    let mut bytes = serde_json::to_vec_pretty(&m).map_err(|e| err!("internal: manifest: {e}"))?;
    bytes.push(b'\n');
    Ok((m, bytes))
}
