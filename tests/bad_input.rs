//! The bad-input corpus: every hostile file in `tests/fixtures/bad/GROUP/` fed to the real
//! `byok` binary, one case at a time, against one real SoftHSM2 token and three real
//! simulated vaults (`byok-vault-sim` over HTTPS) shared by all cases.
//!
//! Each case is a sidecar `GROUP/NAME.case` (JSON; `tests/fixtures/bad/README.md`
//! describes it) naming the command line, the expected exit status (1, or 2 for a usage
//! error) and a substring of the error line. Every case must:
//!
//! - print exactly one line starting `error: ` on stderr (exit 1: every other line a
//!   `warning: `), containing the substring (case-insensitive), and no panic or
//!   backtrace (the child runs with `RUST_BACKTRACE=1`, so a panic would show), and no
//!   raw control character or bidi override (a hostile name must not reach the
//!   terminal as it is);
//! - exit with the expected status, within [`TIMEOUT`] (a FIFO read would hang);
//! - leave its work directory exactly as it found it (names, types, sizes and contents)
//!   and its `TMPDIR` empty;
//! - leave the token's objects as they were;
//! - send nothing to any vault: the simulators' logs (one line per connection problem
//!   and per request) do not grow.
//!
//! Each case runs in a fresh work directory: a copy of its group directory (without
//! the sidecars), the items of the "world" it asks for (the vaults' KEKs, the genuine
//! plan, a genuine signed ceremony directory, a backup directory, …, made once at the
//! start), then its setup steps (FIFOs, symlinks, sparse files, forged transcripts; none
//! of them can live in git). `@NAME@` placeholders in the arguments and in the group's
//! files become the world's values (vault URLs, the genuine digest, serials).
//!
//! Cases listed in [`PENDING`] test findings of issue 9 that other branches fix: they
//! may fail until those branches are merged (and must then be removed from the list: a
//! pending case that passes fails the test, so the list cannot go stale).

mod common;

use byok_core::transcript::{Record, Signature, StepName, FORMAT, SIG_ALG};
use common::sim::SimProc;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Cases allowed to fail while the fix they test is being made elsewhere (empty: every
/// case of the corpus holds). A pending case that passes fails the test, so the list
/// cannot go stale.
const PENDING: &[&str] = &[];

/// The longest a case may run: a hostile input must be refused at once.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The token label of the genuine plan (`_world/plan.json`).
const TOKEN: &str = "Contoso-Ceremony";

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad")
}

/// One case's sidecar.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What is hostile about it (for the reader and the failure message).
    about: String,
    args: Vec<String>,
    exit: i32,
    /// A substring of the error line (case-insensitive); "" when the text is not settled.
    error: String,
    /// World items copied into the work directory first.
    #[serde(default)]
    world: Vec<String>,
    /// Steps run in the work directory before the command ([`setup`]).
    #[serde(default)]
    setup: Vec<Vec<String>>,
    /// Give the command the vaults' CA and an access token.
    #[serde(default)]
    connected: bool,
    /// `ceremony import`: add `--digest` with the genuine ceremony's digest.
    #[serde(default)]
    digest: bool,
}

/// What the world set up once: the token, the vaults, and the values of the placeholders.
struct World {
    tok: Token,
    sims: Vec<SimProc>,
    ca: PathBuf,
    dir: PathBuf,
    vars: BTreeMap<String, String>,
}

#[test]
fn every_hostile_input_is_refused_cleanly() {
    let started = Instant::now();
    let world = World::new();
    eprintln!("bad-input corpus: world ready in {:?}", started.elapsed());
    let cases = load_cases();
    assert!(
        cases.len() >= 150,
        "the corpus holds {} cases; issue 9 asks for at least 150",
        cases.len()
    );
    for p in PENDING {
        assert!(
            cases.iter().any(|(n, _)| n == p),
            "PENDING names {p}, which is no case of the corpus"
        );
    }
    let scratch = tempfile::tempdir().unwrap();
    let mut failed = Vec::new();
    let mut pending_failed = Vec::new();
    let mut pending_passed = Vec::new();
    for (i, (name, case)) in cases.iter().enumerate() {
        let work = scratch.path().join(format!("{i:03}"));
        let result = run_case(&world, name, case, &work);
        let pending = PENDING.contains(&name.as_str());
        match (result, pending) {
            (Ok(()), false) => {}
            (Ok(()), true) => pending_passed.push(name.clone()),
            (Err(e), false) => failed.push(format!("{name} ({}): {e}", case.about)),
            (Err(e), true) => pending_failed.push(format!("{name}: {e}")),
        }
    }
    // A connection or request that reached a simulator after its case ended.
    std::thread::sleep(Duration::from_millis(200));
    let late: Vec<String> = world.sims.iter().map(|s| s.log_text()).collect();
    eprintln!(
        "bad-input corpus: {} cases in {:?}; {} pending case(s) still failing",
        cases.len(),
        started.elapsed(),
        pending_failed.len()
    );
    for p in &pending_failed {
        eprintln!("  pending: {p}");
    }
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{}",
        failed.len(),
        failed.join("\n\n")
    );
    assert!(
        pending_passed.is_empty(),
        "these PENDING cases pass now: remove them from PENDING in tests/bad_input.rs: {pending_passed:?}"
    );
    for (s, text) in world.sims.iter().zip(late) {
        assert_eq!(s.log_text(), text, "a simulator was contacted after a case");
    }
}

/// Every `GROUP/NAME.case` of the corpus, by name (`GROUP/NAME`).
fn load_cases() -> Vec<(String, Case)> {
    let mut cases = Vec::new();
    let mut groups: Vec<PathBuf> = fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    groups.sort();
    for g in groups {
        let group = g.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = fs::read_dir(&g)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "case"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{group}: no cases");
        for f in files {
            let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
            let case: Case = serde_json::from_slice(&fs::read(&f).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            assert!(
                [1, 2].contains(&case.exit),
                "{}: exit must be 1 or 2",
                f.display()
            );
            cases.push((format!("{group}/{stem}"), case));
        }
    }
    cases
}

impl World {
    fn new() -> World {
        let tok = Token::new(TOKEN);
        let dir = tok.dir().join("world");
        fs::create_dir_all(dir.join("keks")).unwrap();
        let sub = tok.dir().join("subscription.key");
        let sub = sub.to_str().unwrap();
        let flags = ["--subscription-key", sub, "--accept-padded-pkcs8"];
        let sims = vec![
            SimProc::start(&tok.dir().join("vault-a"), &flags),
            SimProc::start(&tok.dir().join("vault-b"), &flags),
            SimProc::start(
                &tok.dir().join("scratch"),
                &[
                    "--subscription-key",
                    sub,
                    "--recovery-level",
                    "Recoverable+Purgeable",
                ],
            ),
        ];
        let ca = tok.dir().join("cas.pem");
        fs::write(
            &ca,
            sims.iter()
                .flat_map(|s| fs::read(&s.ca).unwrap())
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        let mut w = World {
            tok,
            sims,
            ca,
            dir,
            vars: BTreeMap::new(),
        };
        w.vars.insert("VAULT_A".into(), w.sims[0].url.clone());
        w.vars.insert("VAULT_B".into(), w.sims[1].url.clone());
        w.vars.insert("SCRATCH".into(), w.sims[2].url.clone());
        let host = w.sims[0].url.trim_start_matches("https://").to_string();
        w.vars.insert("VAULT_A_HOST".into(), host);
        // A KEK in each vault, fetched as the plan's KEK files.
        for (i, ab) in ["a", "b"].iter().enumerate() {
            let url = w.sims[i].url.clone();
            let name = format!("KEK-{ab}");
            w.ok(&[
                "kek", "create", "--vault", &url, "--name", &name, "--size", "2048",
            ]);
            let out = format!("keks/{ab}.json");
            let r = w.ok_json(&[
                "kek", "fetch", "--vault", &url, "--name", &name, "--out", &out, "--json",
            ]);
            w.vars.insert(
                format!("KEK_{}_SHA256", ab.to_uppercase()),
                r["sha256"].as_str().unwrap().into(),
            );
        }
        // The genuine plan and its ceremony, signed by the token.
        for plan in ["plan.json", "plan-resume.json", "plan-fresh.json"] {
            let t = w.expand_bytes(&fs::read(corpus().join("_world").join(plan)).unwrap());
            fs::write(w.dir.join(plan), t).unwrap();
        }
        let run = [
            "ceremony",
            "run",
            "plan.json",
            "--out",
            "ceremony",
            "--non-interactive",
        ];
        w.ok(&run);
        let v = w.ok_json(&[
            "transcript",
            "verify",
            "ceremony/transcript.jsonl",
            "--json",
        ]);
        assert_eq!(v["signed"], true, "{v}");
        w.vars
            .insert("DIGEST".into(), v["digest"].as_str().unwrap().into());
        let words = v["digest_words"].as_str().unwrap().to_string();
        // One word misspelt: the officers' typo.
        let typo = words.replacen(' ', "x ", 1);
        w.vars.insert("DIGEST_WORDS".into(), words);
        w.vars.insert("DIGEST_WORDS_TYPO".into(), typo);
        w.vars.insert(
            "TOKEN_SERIAL".into(),
            v["hsm"]["serial"].as_str().unwrap().trim().into(),
        );
        // The same plan run on another token with the same label (attack 2 of issue 9).
        let other = Token::new(TOKEN);
        fs::create_dir_all(other.dir().join("keks")).unwrap();
        for f in ["plan.json", "keks/a.json", "keks/b.json"] {
            fs::copy(w.dir.join(f), other.dir().join(f)).unwrap();
        }
        ok(&other.byok(&run));
        copy_tree(&other.dir().join("ceremony"), &w.dir.join("other-token"));
        let v: Value = serde_json::from_str(&ok(&other.byok(&[
            "transcript",
            "verify",
            "ceremony/transcript.jsonl",
            "--json",
        ])))
        .unwrap();
        let other_serial = v["hsm"]["serial"].as_str().unwrap().trim().to_string();
        assert_ne!(other_serial, w.vars["TOKEN_SERIAL"]);
        w.vars.insert("OTHER_SERIAL".into(), other_serial);
        drop(other);
        // A ceremony killed after its first key, to be resumed (needs the crash hook).
        let o = w
            .cmd(&[
                "ceremony",
                "run",
                "plan-resume.json",
                "--out",
                "resume",
                "--non-interactive",
            ])
            .env("BYOK_TEST_CRASH_AFTER", "done:keygen:1")
            .output()
            .unwrap();
        assert!(
            o.status.code().is_none(),
            "the crash hook did not fire (build with --features byok/test-hooks): {}",
            stderr(&o)
        );
        // A backup directory of one key.
        fs::create_dir_all(w.dir.join("backups")).unwrap();
        w.ok(&[
            "backup",
            "--vault",
            &w.sims[0].url.clone(),
            "--name",
            "KEK-a",
            "--out-dir",
            "backups",
        ]);
        // A key for `wrap` and one that is not BYOK-shaped (a signing key, extractable).
        w.ok(&["keygen", "--label", "Victim", "--size", "2048"]);
        make_signing_key(&w.tok, "Sign-Key");
        w
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.tok.cmd(args);
        c.current_dir(&self.dir)
            .env("BYOK_CA_FILE", &self.ca)
            .env("BYOK_ACCESS_TOKEN", "corpus-token");
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        ok(&self.cmd(args).output().unwrap())
    }

    fn ok_json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// `@NAME@` placeholders replaced by the world's values.
    fn expand(&self, s: &str) -> String {
        let mut s = s.to_string();
        for (k, v) in &self.vars {
            s = s.replace(&format!("@{k}@"), v);
        }
        s
    }

    fn expand_bytes(&self, b: &[u8]) -> Vec<u8> {
        let mut b = b.to_vec();
        for (k, v) in &self.vars {
            b = replace_bytes(&b, format!("@{k}@").as_bytes(), v.as_bytes(), usize::MAX);
        }
        b
    }

    /// The logs of the simulators, as their lengths.
    fn vault_logs(&self) -> Vec<usize> {
        self.sims.iter().map(|s| s.log_text().len()).collect()
    }
}

/// An RSA key pair on the token that `pkcs11-tool` could have made: sign and decrypt,
/// extractable. `byok wrap` must not wrap it (it is not a BYOK key).
fn make_signing_key(tok: &Token, label: &str) {
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::Attribute;
    tok.with_session(|s| {
        let pubt = [
            Attribute::Token(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::ModulusBits(2048.into()),
            Attribute::PublicExponent(vec![1, 0, 1]),
            Attribute::Verify(true),
            Attribute::Encrypt(true),
        ];
        let privt = [
            Attribute::Token(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(true),
            Attribute::Sign(true),
            Attribute::Decrypt(true),
        ];
        s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &pubt, &privt)
            .unwrap();
    });
}

fn replace_bytes(hay: &[u8], from: &[u8], to: &[u8], max: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    let mut n = 0;
    while i < hay.len() {
        if n < max && !from.is_empty() && hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
            n += 1;
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        let dst = to.join(e.file_name());
        if t.is_dir() {
            copy_tree(&e.path(), &dst);
        } else if t.is_file() {
            fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// Everything in `dir`, recursively, without following links or opening FIFOs: each
/// path with its type, size and (for regular files up to 1 MiB) SHA-256.
fn listing(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let m = fs::symlink_metadata(&p).unwrap();
            let t = m.file_type();
            let what = if t.is_symlink() {
                format!("link -> {}", fs::read_link(&p).unwrap().display())
            } else if t.is_dir() {
                walk(base, &p, out);
                "dir".to_string()
            } else if t.is_fifo() {
                "fifo".to_string()
            } else if t.is_file() && m.len() <= 1 << 20 {
                format!(
                    "file {} {:o} {}",
                    m.len(),
                    m.permissions().mode() & 0o777,
                    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                        fs::read(&p).unwrap()
                    ))
                )
            } else {
                format!("file {} (large)", m.len())
            };
            out.insert(rel, what);
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn run_case(w: &World, name: &str, case: &Case, work: &Path) -> Result<(), String> {
    let group = name.split('/').next().unwrap();
    let tmp = work.with_extension("tmp");
    fs::create_dir_all(work).unwrap();
    fs::create_dir_all(&tmp).unwrap();
    // The group's files (not the sidecars), placeholders expanded.
    copy_group(w, &corpus().join(group), work);
    for item in &case.world {
        let from = w.dir.join(item);
        let to = work.join(item);
        if from.is_dir() {
            copy_tree(&from, &to);
        } else {
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::copy(&from, &to).unwrap_or_else(|e| panic!("{name}: world item {item}: {e}"));
        }
    }
    for step in &case.setup {
        let step: Vec<String> = step.iter().map(|s| w.expand(s)).collect();
        setup(work, &step).map_err(|e| format!("setup {step:?}: {e}"))?;
    }
    let mut args: Vec<String> = case.args.iter().map(|a| w.expand(a)).collect();
    if case.digest {
        args.push("--digest".into());
        args.push(w.vars["DIGEST"].clone());
    }
    let before = listing(work);
    let labels = w.tok.labels();
    let logs = w.vault_logs();

    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = Command::new("setsid");
    c.arg(byok_testkit::bin("byok"))
        .args(rehearsal(&argv))
        .current_dir(work)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TMPDIR", &tmp)
        .env("RUST_BACKTRACE", "1")
        .env(w.tok.t.kind.conf_var(), &w.tok.t.conf)
        .env("BYOK_PKCS11_MODULE", &w.tok.t.module)
        .env("BYOK_TOKEN", &w.tok.t.label)
        .env(
            "BYOK_PIN",
            fs::read_to_string(&w.tok.t.user_pin_file).unwrap(),
        );
    if case.connected {
        c.env("BYOK_CA_FILE", &w.ca)
            .env("BYOK_ACCESS_TOKEN", "corpus-token");
    }
    let t0 = Instant::now();
    let (code, err) = run_with_timeout(c)?;
    let ms = t0.elapsed().as_millis();
    if case.connected {
        // The simulator logs a request as it answers it.
        std::thread::sleep(Duration::from_millis(30));
    }

    if let Some(dump) = std::env::var_os("BYOK_CORPUS_DUMP") {
        // For whoever edits the corpus: every case's exit status and stderr.
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dump)
            .unwrap();
        let line = json!({"case": name, "exit": code, "stderr": err, "ms": ms});
        writeln!(f, "{line}").unwrap();
    }
    let mut problems = Vec::new();
    if code != Some(case.exit) {
        problems.push(format!("exit {code:?}, expected {}", case.exit));
    }
    for bad in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
        if err.contains(bad) {
            problems.push(format!("stderr contains {bad:?}"));
        }
    }
    // What a hostile input carries (escape sequences, carriage returns, bidi
    // overrides) must not reach the terminal raw.
    let raw: Vec<char> = err
        .chars()
        .filter(|c| {
            (c.is_control() && *c != '\n')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    if !raw.is_empty() {
        problems.push(format!("raw control characters on stderr: {raw:?}"));
    }
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    if errors.len() != 1 {
        problems.push(format!("{} error lines", errors.len()));
    } else if !errors[0]
        .to_lowercase()
        .contains(&w.expand(&case.error).to_lowercase())
    {
        problems.push(format!("the error line lacks {:?}", case.error));
    }
    if case.exit == 1 {
        // `ceremony import` shows the offline ceremony it found (digest, HSM, signer,
        // keys) before it contacts a vault; that block is expected, nothing else.
        let custody = err.contains("the officers' digest matches");
        let other: Vec<&str> = err
            .lines()
            .filter(|l| !l.starts_with("error: ") && !l.starts_with("warning: "))
            .filter(|l| !(custody && (l.starts_with("offline ceremony ") || l.starts_with("  "))))
            .collect();
        if !other.is_empty() {
            problems.push(format!(
                "stderr lines besides error and warnings: {other:?}"
            ));
        }
    }
    let after = listing(work);
    if after != before {
        let changed: Vec<String> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .map(|k| {
                format!(
                    "{k}: {} -> {}",
                    before.get(k).map_or("-", String::as_str),
                    after.get(k).map_or("-", String::as_str)
                )
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        problems.push(format!("the work directory changed: {changed:?}"));
    }
    let left: Vec<String> = listing(&tmp).into_keys().collect();
    if !left.is_empty() {
        problems.push(format!("files left in TMPDIR: {left:?}"));
    }
    let labels_after = w.tok.labels();
    if labels_after != labels {
        problems.push(format!(
            "the token's objects changed: {} -> {} ({labels_after:?})",
            labels.len(),
            labels_after.len()
        ));
    }
    let logs_after = w.vault_logs();
    for (i, (a, b)) in logs.iter().zip(&logs_after).enumerate() {
        if a != b {
            let text = w.sims[i].log_text();
            problems.push(format!(
                "vault {} was contacted: {:?}",
                w.sims[i].url,
                text.get(*a..).unwrap_or("")
            ));
        }
    }
    if problems.is_empty() {
        let _ = fs::remove_dir_all(work);
        let _ = fs::remove_dir_all(&tmp);
        Ok(())
    } else {
        Err(format!(
            "{}\n    args: {args:?}\n    stderr: {}",
            problems.join("; "),
            err.trim_end().replace('\n', "\n            ")
        ))
    }
}

/// Run the command with piped output; kill it (it is our child) after [`TIMEOUT`].
fn run_with_timeout(mut c: Command) -> Result<(Option<i32>, String), String> {
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run byok: {e}"))?;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {TIMEOUT:?}: killed"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = t_out.join();
    let err = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    Ok((status.code(), err))
}

/// Copy the group directory's files and subdirectories (not the sidecars), with the
/// placeholders of their contents expanded.
fn copy_group(w: &World, from: &Path, to: &Path) {
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let dst = to.join(e.file_name());
        if p.is_dir() {
            fs::create_dir_all(&dst).unwrap();
            copy_group(w, &p, &dst);
        } else if p.extension().is_none_or(|x| x != "case") {
            fs::write(&dst, w.expand_bytes(&fs::read(&p).unwrap())).unwrap();
        }
    }
}

/// One setup step, run in the work directory `d`:
///
/// - `fifo PATH`, `mkdir PATH`, `symlink LINK TARGET`, `sparse PATH BYTES`,
///   `chmod PATH OCTAL`, `write PATH TEXT`, `copy FROM TO`, `remove PATH`,
///   `fill PATH TEXT N` (TEXT N times), `deep PATH N [object]` (N nested arrays or
///   objects);
/// - `replace PATH FROM TO [N]`: the first N (default 1) occurrences of FROM replaced
///   (TO given as `hex:…` for bytes that are not UTF-8);
/// - `truncate PATH N`, `delete-line PATH N`, `append-line PATH N` (a copy of line N),
///   `strip-signature PATH` (the close record's signature cut off);
/// - `json-line-set PATH POINTER JSON`: as `json-set`, on the first line of a JSONL file;
/// - `sparse-listed DIR N`, `fifo-listed DIR`, `flip-listed DIR`, `remove-listed DIR`:
///   the first backup file DIR/manifest.jsonl lists, replaced, altered or removed;
/// - `flip PATH`: one byte near the end of the file changed;
/// - `json-set PATH POINTER JSON`: a value set in a JSON file (rewritten compact);
/// - `reserialize PATH`: a JSON file rewritten pretty-printed (same value, new bytes);
/// - `forge DIR HOW`: DIR/transcript.jsonl replaced by a forged transcript chained on
///   `plan.json` and recording DIR/manifest.json as it now is ([`forge`]).
fn setup(d: &Path, step: &[String]) -> Result<(), String> {
    let p = |i: usize| d.join(&step[i]);
    let io = |e: std::io::Error| e.to_string();
    match step.first().map(String::as_str) {
        Some("fifo") => mkfifo(&p(1))?,
        Some("mkdir") => fs::create_dir_all(p(1)).map_err(io)?,
        Some("symlink") => std::os::unix::fs::symlink(&step[2], p(1)).map_err(io)?,
        Some("sparse") => {
            let f = fs::File::create(p(1)).map_err(io)?;
            f.set_len(step[2].parse().unwrap()).map_err(io)?;
        }
        Some("chmod") => fs::set_permissions(
            p(1),
            fs::Permissions::from_mode(u32::from_str_radix(&step[2], 8).unwrap()),
        )
        .map_err(io)?,
        Some("write") => fs::write(p(1), &step[2]).map_err(io)?,
        Some("copy") => {
            fs::copy(p(1), p(2)).map_err(io)?;
        }
        Some("remove") => fs::remove_file(p(1)).map_err(io)?,
        Some("replace") => {
            let b = fs::read(p(1)).map_err(io)?;
            let n = step.get(4).map_or(1, |n| n.parse().unwrap());
            let to = match step[3].strip_prefix("hex:") {
                Some(h) => hex::decode(h).unwrap(),
                None => step[3].as_bytes().to_vec(),
            };
            let r = replace_bytes(&b, step[2].as_bytes(), &to, n);
            if r == b {
                return Err(format!("{:?} not found", step[2]));
            }
            fs::write(p(1), r).map_err(io)?;
        }
        Some("flip") => {
            let mut b = fs::read(p(1)).map_err(io)?;
            let i = b.len() - 20;
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            fs::write(p(1), b).map_err(io)?;
        }
        Some("json-set") => {
            let mut v: Value =
                serde_json::from_slice(&fs::read(p(1)).map_err(io)?).map_err(|e| e.to_string())?;
            json_set(&mut v, &step[2], &step[3])?;
            fs::write(p(1), serde_json::to_vec(&v).unwrap()).map_err(io)?;
        }
        Some("json-line-set") => {
            let mut lines = lines_of(&p(1))?;
            let mut v: Value = serde_json::from_slice(&lines[0]).map_err(|e| e.to_string())?;
            json_set(&mut v, &step[2], &step[3])?;
            lines[0] = serde_json::to_vec(&v).unwrap();
            write_lines(&p(1), &lines)?;
        }
        Some("truncate") => {
            let b = fs::read(p(1)).map_err(io)?;
            let n: usize = step[2].parse().unwrap();
            fs::write(p(1), &b[..b.len() - n]).map_err(io)?;
        }
        Some("delete-line") => {
            let mut lines = lines_of(&p(1))?;
            lines.remove(step[2].parse::<usize>().unwrap() - 1);
            write_lines(&p(1), &lines)?;
        }
        Some("append-line") => {
            let mut lines = lines_of(&p(1))?;
            lines.push(lines[step[2].parse::<usize>().unwrap() - 1].clone());
            write_lines(&p(1), &lines)?;
        }
        Some("strip-signature") => {
            let mut lines = lines_of(&p(1))?;
            let last = lines.last_mut().ok_or("empty")?;
            let key = b",\"signature\":";
            let i = last
                .windows(key.len())
                .rposition(|w| w == key)
                .ok_or("no signature")?;
            last.truncate(i);
            last.push(b'}');
            write_lines(&p(1), &lines)?;
        }
        Some("sparse-listed") => {
            let f = listed(&p(1))?;
            fs::remove_file(&f).map_err(io)?;
            let file = fs::File::create(&f).map_err(io)?;
            file.set_len(step[2].parse().unwrap()).map_err(io)?;
        }
        Some("fifo-listed") => {
            let f = listed(&p(1))?;
            fs::remove_file(&f).map_err(io)?;
            mkfifo(&f)?;
        }
        Some("flip-listed") => {
            let f = listed(&p(1))?;
            let mut b = fs::read(&f).map_err(io)?;
            let i = b.len() - 20;
            b[i] ^= 1;
            fs::write(&f, b).map_err(io)?;
        }
        Some("remove-listed") => fs::remove_file(listed(&p(1))?).map_err(io)?,
        Some("reserialize") => {
            let v: Value =
                serde_json::from_slice(&fs::read(p(1)).map_err(io)?).map_err(|e| e.to_string())?;
            let mut b = serde_json::to_vec_pretty(&v).unwrap();
            b.extend_from_slice(b"\n\n");
            fs::write(p(1), b).map_err(io)?;
        }
        Some("forge") => forge(d, &p(1), &step[2])?,
        Some("deep") => {
            let n: usize = step[2].parse().unwrap();
            let (open, close) = match step.get(3).map(String::as_str) {
                Some("object") => ("{\"a\":", "}"),
                _ => ("[", "]"),
            };
            let mut b = open.repeat(n);
            if open.starts_with('{') {
                b.push('1');
            }
            b.push_str(&close.repeat(n));
            b.push('\n');
            fs::write(p(1), b).map_err(io)?;
        }
        Some("fill") => fs::write(p(1), step[2].repeat(step[3].parse().unwrap())).map_err(io)?,
        _ => return Err("unknown setup step".into()),
    }
    Ok(())
}

fn mkfifo(path: &Path) -> Result<(), String> {
    let o = Command::new("mkfifo")
        .arg(path)
        .output()
        .map_err(|e| e.to_string())?;
    if !o.status.success() {
        return Err(stderr(&o));
    }
    Ok(())
}

/// The lines of a file, each without its newline.
fn lines_of(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    let b = fs::read(path).map_err(|e| e.to_string())?;
    Ok(b.split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) -> Result<(), String> {
    let mut b = Vec::new();
    for l in lines {
        b.extend_from_slice(l);
        b.push(b'\n');
    }
    fs::write(path, b).map_err(|e| e.to_string())
}

/// Set `value` (JSON text) at `pointer` in `v`, adding the last member when missing.
fn json_set(v: &mut Value, pointer: &str, value: &str) -> Result<(), String> {
    let value: Value = serde_json::from_str(value).map_err(|e| e.to_string())?;
    if let Some(slot) = v.pointer_mut(pointer) {
        *slot = value;
        return Ok(());
    }
    let (parent, key) = pointer.rsplit_once('/').ok_or("bad pointer")?;
    let obj = v
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .ok_or("no such object")?;
    obj.insert(key.to_string(), value);
    Ok(())
}

/// The first backup file `DIR/manifest.jsonl` lists.
fn listed(dir: &Path) -> Result<PathBuf, String> {
    let first = lines_of(&dir.join("manifest.jsonl"))?
        .into_iter()
        .next()
        .ok_or("empty manifest")?;
    let v: Value = serde_json::from_slice(&first).map_err(|e| e.to_string())?;
    Ok(dir.join(v["file"].as_str().ok_or("no file")?))
}

/// Replace `dir`/transcript.jsonl with a forged transcript: open (chained on
/// `plan.json`), [signer], manifest (recording `dir`/manifest.json as it is), close.
///
/// - `unsigned`: no signer record; the close record says why it is unsigned (attack 1
///   of issue 9: a ceremony forged without any HSM);
/// - `signed`: a software key's signer record and a valid signature by it: the chain is
///   whole, only the digest the officers signed can tell it is not theirs;
/// - `other-signer`: the signer record names one key, another key signs;
/// - `no-signer`: signed, with no signer record.
fn forge(work: &Path, dir: &Path, how: &str) -> Result<(), String> {
    use base64::Engine;
    use rsa::pkcs8::EncodePublicKey;
    let plan_bytes = fs::read(work.join("plan.json")).map_err(|e| e.to_string())?;
    let plan: Value = serde_json::from_slice(&plan_bytes).map_err(|e| e.to_string())?;
    let manifest = fs::read(dir.join("manifest.json")).map_err(|e| e.to_string())?;
    let sha = |b: &[u8]| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b));
    let b64 = base64::engine::general_purpose::STANDARD;
    // Two software keys, made once: the forger's signer and another key.
    static KEYS: std::sync::OnceLock<[rsa::PrivateKey; 2]> = std::sync::OnceLock::new();
    let [signer, other] = KEYS.get_or_init(|| {
        let key = || rsa::PrivateKey::new(&mut rand::rng(), 2048).unwrap();
        [key(), key()]
    });
    let spki = |k: &rsa::PrivateKey| k.to_public_key().to_public_key_der().unwrap().into_vec();
    let signed = how != "unsigned";
    let named = match how {
        "unsigned" | "no-signer" => None,
        "signed" => Some(signer),
        "other-signer" => Some(other),
        _ => return Err(format!("unknown forgery {how}")),
    };
    let ceremony = plan["ceremony"].as_str().unwrap_or_default();
    let mut records = vec![Record::new(StepName::Open, "byok")
        .input("plan", &sha(&plan_bytes))
        .detail("format", FORMAT)
        .detail("ceremony", ceremony)];
    if let Some(k) = named {
        records.push(
            Record::new(StepName::Signer, "byok")
                .detail("label", format!("{ceremony}-transcript-signer"))
                .detail("spki_sha256", sha(&spki(k))),
        );
    }
    records.push(Record::new(StepName::Manifest, "byok").output("manifest.json", &sha(&manifest)));
    let mut close = Record::new(StepName::Close, "byok");
    if !signed {
        close = close.detail("unsigned", "no HSM on this workstation");
    }
    records.push(close);
    let mut text = Vec::new();
    let mut prev = sha(&plan_bytes);
    let n = records.len();
    for (i, mut r) in records.into_iter().enumerate() {
        r.seq = i as u64;
        r.prev = prev.clone();
        r.time = format!("2026-12-01T09:0{i}:00Z");
        let mut line = serde_json::to_vec(&r).unwrap();
        if i + 1 == n && signed {
            let sig = signer
                .sign(
                    rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                    &<sha2::Sha256 as sha2::Digest>::digest(&line),
                )
                .unwrap();
            r.signature = Some(Signature {
                alg: SIG_ALG.into(),
                signer: format!("{ceremony}-transcript-signer"),
                spki: b64.encode(spki(signer)),
                spki_sha256: sha(&spki(signer)),
                value: b64.encode(sig),
            });
            line = serde_json::to_vec(&r).unwrap();
        }
        prev = sha(&line);
        text.extend_from_slice(&line);
        text.push(b'\n');
    }
    fs::write(dir.join("transcript.jsonl"), text).map_err(|e| e.to_string())
}
