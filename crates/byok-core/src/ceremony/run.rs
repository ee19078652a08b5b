//! `byok ceremony run`: the offline, air-gapped half of a Customer Key ceremony.
//!
//! One login for the whole run. The run executes the plan's step list
//! ([`super::steps`]) in order, one small function per step, each recording what it did
//! in `DIR/transcript.jsonl` before it is reported done:
//!
//! 1. preflight: `open` (or `resume`) with the plan's hash, the officers and the token;
//!    `preflight` (the token's BYOK verdict: native or composite; unsupported stops) and
//!    `selftest` (a throwaway session key wrapped and checked in software);
//! 2. signer: the transcript signer `<ceremony>-transcript-signer` (RSA-3072, sign only,
//!    sensitive, not extractable), generated once per ceremony; its SPKI fingerprint is
//!    recorded so the chain binds it;
//! 3. `kek-confirmed`, once per KEK file: officers read the fingerprint's PGP words and
//!    type the first and last word (or `yes`); `--non-interactive` relies on the plan's
//!    pinned `kek_sha256` and says so in the record;
//! 4. `keygen-started` (the intent, written **before** the HSM is asked) then `keygen`
//!    for every key: label = key name, public key into `DIR/<name>.pub.pem`;
//! 5. `wrap` for every key, under its vault's KEK, into `DIR/<name>.byok`;
//! 6. `manifest`: `DIR/manifest.json`, the SHA-256 of every package and public key
//!    (deterministic: no times), written atomically;
//! 7. `close`, signed in the HSM by the transcript signer.
//!
//! When the plan lists `hsm_bags`, the officers confirm the bags at the preflight (the
//! `open` record) and enter the new ones at the close; the close record also carries the
//! deviations (`--deviation`, and those typed at the close): see [`super::custody`].
//!
//! ## Crash windows and `--resume`
//!
//! Every file is written whole or not at all (`fsutil::write_new`), every record is
//! synced before the next step starts, and the keygen intent precedes the key. After a
//! kill at any point, `--resume` takes the same step list and skips what the transcript
//! shows done. Before it changes anything it refuses when the plan's hash, the token
//! (label, serial, model, manufacturer) or any file the transcript recorded differs,
//! when DIR holds a file byok would not have made, or when a key the transcript
//! recorded is gone from the token or doubled ([`super::resume`]). Then it:
//!
//! - cuts a torn last transcript line (never reported done) and deletes byok's own
//!   temp files (`.NAME.tmp-…`), noting both in the `resume` record;
//! - for a key with a `keygen-started` record but no `keygen` record: adopts the one key
//!   on the token with that label (checking it is a local, sensitive, extractable RSA
//!   key of the planned size, and that a public key file already written is exactly its
//!   public key), or generates it when the token has none;
//! - for a package without a `wrap` record: deletes it (it cannot be told apart from a
//!   package of another key, and wrapping again is harmless) and wraps again, noting
//!   the deleted file's hash in the `wrap` record;
//! - for `manifest.json` without a record: keeps it only if it is byte for byte the
//!   manifest byok computes now.

use super::execute::Run;
use super::manifest::{ManifestKey, TRANSCRIPT};
use super::plan::CheckedPlan;
use super::resume::{self, Prior};
use super::steps::steps;
use crate::console::Console;
use crate::fsutil;
use crate::hsm::{Target, Token, Verdict};
use crate::identity::BinaryIdentity;
use crate::transcript::{self, HsmId};
use crate::{bail, err, Result};
use serde::Serialize;
use std::path::PathBuf;

/// Size of the transcript signer key.
pub const SIGNER_BITS: usize = 3072;

/// How `byok ceremony run` was asked to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out: PathBuf,
    pub resume: bool,
    pub non_interactive: bool,
    pub module: Option<PathBuf>,
    /// `--token`: may narrow the plan's token (a URI with `serial=`), never rename it.
    pub token: Option<String>,
    pub pin_file: Option<PathBuf>,
    /// The running binary, recorded in the `open` record (detail `binary`).
    pub binary: BinaryIdentity,
    /// `--deviation`: deviations from the script, recorded in the close record
    /// ([`super::custody`]).
    pub deviations: Vec<String>,
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
    pub rehearsal: bool,
    pub warnings: Vec<String>,
}

/// Run (or resume) the offline ceremony: check the directory and the token against the
/// transcript, log in once, then execute the plan's steps.
pub fn run(plan: &CheckedPlan, opts: &RunOptions, console: &dyn Console) -> Result<RunReport> {
    for d in &opts.deviations {
        super::custody::check_deviation(d).map_err(|e| e.context("--deviation"))?;
    }
    let dir = &opts.out;
    let prior = match read_prior(plan, opts)? {
        Some(p) => p,
        None => {
            // `--resume` of a transcript with no complete record: nothing was done on the
            // token yet (every token change follows the open record), so start afresh.
            let path = dir.join(TRANSCRIPT);
            std::fs::remove_file(&path).map_err(|e| {
                err!(
                    Io,
                    "cannot remove the empty transcript {}: {e}",
                    path.display()
                )
            })?;
            fsutil::sync_dir(dir);
            let fresh = RunOptions {
                resume: false,
                ..opts.clone()
            };
            return run(plan, &fresh, console);
        }
    };
    check_same_mode(&prior, plan)?;
    let target = plan_target(plan, opts)?;
    let hsm = target.open().map_err(|e| match &plan.plan.token_serial {
        Some(pin) if e.is(crate::ErrorKind::NotFound) => e.hint(format!(
            "the plan pins token_serial {pin:?}: insert the ceremony's token"
        )),
        _ => e,
    })?;
    check_pinned_serial(plan, &hsm.identity(), console)?;
    check_same_token(&prior, &hsm.identity())?;
    let verdict = hsm.verdict()?;
    if verdict == Verdict::Unsupported {
        bail!(Hsm, "token \"{}\" cannot make BYOK packages (`byok hsm info` says unsupported): use an HSM with CKM_RSA_AES_KEY_WRAP, or CKM_AES_KEY_WRAP_KWP or CKM_AES_KEY_WRAP_PAD with CKM_RSA_PKCS_OAEP", hsm.identity().label);
    }
    let trusted: Vec<&super::plan::KeyPlan> =
        plan.keys.iter().filter(|k| k.wrap_with_trusted).collect();
    if let Some(k) = trusted.first() {
        if verdict != Verdict::Native {
            bail!(Hsm, "the plan asks for dual control (wrap_with_trusted, key \"{}\"), which needs CKM_RSA_AES_KEY_WRAP, and token \"{}\" has not it (`byok hsm info` says {}): such a key could never be exported; run the ceremony on an HSM with the native mechanism or drop wrap_with_trusted", k.key.name, hsm.identity().label, verdict.name());
        }
    }
    // Files in DIR, checked before anything changes.
    let temp_files = if opts.resume {
        resume::check_dir(plan, dir, &prior)?
    } else {
        Vec::new()
    };
    let session = hsm.login(target.pin_file.as_deref(), console)?;
    // Dual control: each such key's KEK must be on the token as the SO's trusted key
    // before anything is generated.
    for k in &trusted {
        if session.trusted_kek(&k.kek.public_modulus())?.is_none() {
            bail!(
                NotFound,
                "the plan asks for key \"{}\" to be wrapped only under a trusted KEK, and the Security Officer has not stored {} on token \"{}\": run `byok kek trust --kek {} --sha256 {}` as SO first",
                k.key.name,
                k.key.kek,
                hsm.identity().label,
                k.key.kek,
                k.key.kek_sha256
            );
        }
    }
    // A target that takes SHA-256 OAEP (AWS, Google Cloud, OpenBao methods): prove the
    // token does it before any key is generated, not half-way through the run.
    // (SoftHSM 2.6 refuses it; SoftHSM 2.7.0 accepts it and wraps with SHA-1.)
    if let Some(k) = plan
        .keys
        .iter()
        .find(|k| k.target.hash() == crate::hsm::OaepHash::Sha256)
    {
        crate::wrap::probe_hash(&session, crate::hsm::OaepHash::Sha256).map_err(|e| {
            e.context(format!(
                "key \"{}\" ({}, {})",
                k.key.name,
                k.target.method(),
                k.destination()
            ))
        })?;
    }
    execute(plan, opts, console, &session, prior, temp_files)
}

/// The earlier run's records (resume), or an empty [`Prior`] after checking that DIR is
/// new or empty (fresh). `None`: `--resume` found a transcript with no complete record.
fn read_prior(plan: &CheckedPlan, opts: &RunOptions) -> Result<Option<Prior>> {
    let dir = &opts.out;
    let path = dir.join(TRANSCRIPT);
    // The ceremony's files go where the officers named, not where a link points.
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => bail!(
            "{} is a symbolic link: give the ceremony directory itself",
            dir.display()
        ),
        Ok(m) if !m.is_dir() => bail!(
            Exists,
            "{} is not a directory: give a new or empty directory with --out",
            dir.display()
        ),
        _ => {}
    }
    if !opts.resume {
        let non_empty = dir.exists()
            && std::fs::read_dir(dir)
                .map_err(|e| err!(Io, "cannot read {}: {e}", dir.display()))?
                .next()
                .is_some();
        if non_empty {
            bail!(
                Exists,
                "{} is not empty: a ceremony writes into a new or empty directory (use --resume to finish an interrupted ceremony there)",
                dir.display()
            );
        }
        return Ok(Some(Prior::default()));
    }
    if !path.is_file() {
        bail!(
            NotFound,
            "{} has no {TRANSCRIPT}: there is no ceremony to resume there (run without --resume to start one)",
            dir.display()
        );
    }
    let (records, _) = transcript::read_unfinished(&path)?;
    let Some(open) = records.first() else {
        let others = std::fs::read_dir(dir)
            .map_err(|e| err!(Io, "cannot read {}: {e}", dir.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name() != TRANSCRIPT)
            .count();
        if others > 0 {
            bail!(
                Integrity,
                "{}: the transcript is empty but {} holds other files: move them out and run `byok ceremony run --resume` again",
                path.display(),
                dir.display()
            );
        }
        return Ok(None);
    };
    if open.prev != plan.sha256_hex() {
        bail!(
            Integrity,
            "the plan changed since the ceremony started: its SHA-256 is {}, the transcript's is {}; resume with the plan the ceremony began with",
            plan.sha256_hex(),
            open.prev
        );
    }
    Ok(Some(Prior { records }))
}

/// The token: the plan names it; `--token` may narrow it but not rename it.
fn plan_target(plan: &CheckedPlan, opts: &RunOptions) -> Result<Target> {
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
    // A rehearsal runs the ceremony's plan on a throwaway token, so the pin is checked
    // (and warned about) after opening instead; a ceremony opens only the pinned token.
    if let Some(pin) = plan
        .plan
        .token_serial
        .as_ref()
        .filter(|_| !plan.mode.is_rehearsal())
    {
        match &target.token.serial {
            Some(s) if s != pin => bail!(
                "--token names serial {s:?}, but the plan pins token_serial {pin:?}: a ceremony runs on the plan's token"
            ),
            _ => target.token.serial = Some(pin.clone()),
        }
    }
    Ok(target)
}

/// The token opened is the one the plan pins (the module matched it by serial; this
/// says so again on what the token itself reports, before any login). A rehearsal on
/// another token is warned about; the transcript records both serials.
fn check_pinned_serial(plan: &CheckedPlan, id: &HsmId, console: &dyn Console) -> Result<()> {
    match &plan.plan.token_serial {
        Some(pin) if *pin != id.serial => {
            if plan.mode.is_rehearsal() {
                console.warn(&format!(
                    "REHEARSAL: token \"{}\" has serial {:?}, not the plan's token_serial {pin:?}; a ceremony would refuse it",
                    id.label, id.serial
                ));
                return Ok(());
            }
            bail!(
                Hsm,
                "token \"{}\" has serial {:?}, but the plan pins token_serial {pin:?}: insert the ceremony's token",
                id.label,
                id.serial
            )
        }
        _ => Ok(()),
    }
}

/// A resumed ceremony is what it began as: a rehearsal stays one, a real ceremony never
/// becomes one (which would let it reach loopback addresses half-way).
fn check_same_mode(prior: &Prior, plan: &CheckedPlan) -> Result<()> {
    let Some(open) = prior.records.first() else {
        return Ok(());
    };
    let began = open.detail.get("rehearsal").and_then(|v| v.as_bool());
    let now = plan.mode.is_rehearsal();
    if began != Some(now) {
        let what = |r: bool| if r { "a rehearsal" } else { "a real ceremony" };
        bail!(
            Integrity,
            "the ceremony began as {}, and this run is {}: resume it as it began ({})",
            began.map(what).unwrap_or("a ceremony of unknown mode"),
            what(now),
            if now {
                "without --rehearsal"
            } else {
                "with --rehearsal, or the plan's \"rehearsal\": true"
            }
        );
    }
    Ok(())
}

/// A resumed ceremony runs on the token it began on.
fn check_same_token(prior: &Prior, id: &HsmId) -> Result<()> {
    let Some(open) = prior.records.first() else {
        return Ok(());
    };
    let was = open
        .hsm
        .clone()
        .ok_or_else(|| err!(Integrity, "the open record names no token"))?;
    for (what, a, b) in [
        ("label", &was.label, &id.label),
        ("serial", &was.serial, &id.serial),
        ("model", &was.model, &id.model),
        ("manufacturer", &was.manufacturer, &id.manufacturer),
    ] {
        if a != b {
            bail!(
                Integrity,
                "this is not the ceremony's token: its {what} is {b:?}, the transcript's is {a:?}; resume on the token the ceremony began on"
            );
        }
    }
    Ok(())
}

/// Execute the plan's steps on a logged-in `token` whose directory and transcript
/// [`run`] has checked (the unit tests call it with a fake token).
pub(crate) fn execute(
    plan: &CheckedPlan,
    opts: &RunOptions,
    console: &dyn Console,
    token: &dyn Token,
    prior: Prior,
    temp_files: Vec<String>,
) -> Result<RunReport> {
    let list = steps(plan);
    let mut run = Run::new(plan, opts, console, token, prior, temp_files);
    console.begin(list.len());
    let result = list.iter().try_for_each(|step| {
        let msg = if run.is_done(step) {
            run.restore(step)?
        } else {
            run.step(step)?
        };
        console.step(&msg);
        Ok(())
    });
    console.end();
    result?;
    run.report()
}

#[cfg(test)]
mod tests;
