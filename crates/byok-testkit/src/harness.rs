//! The test harness: throwaway SoftHSM2 tokens in temp dirs, the real `byok` binary run
//! against them, in-process PKCS#11 access to read what is on a token, software KEKs,
//! and the assertions every CLI test makes (one `error:` line, exit 1, no panic).

use crate::softhsm::TestToken;
use crate::testkek::TestKek;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

/// SoftHSM (and Kryoptic) keep one state per process and read their configuration
/// variable when initialized: in-process PKCS#11 use is serialized. The byok binary runs
/// in its own process.
static PKCS11_LOCK: Mutex<()> = Mutex::new(());

pub struct Token {
    pub t: TestToken,
    pub _tmp: tempfile::TempDir,
}

impl Token {
    /// A token of the kind `BYOK_TEST_TOKEN` names (SoftHSM 2.6.1 by default).
    pub fn new(label: &str) -> Token {
        Token::of(crate::softhsm::TokenKind::from_env(), label)
    }

    /// A token of `kind`.
    pub fn of(kind: crate::softhsm::TokenKind, label: &str) -> Token {
        let tmp = tempfile::tempdir().expect("temp dir");
        let t = {
            let _g = PKCS11_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            crate::softhsm::make_token_of(kind, &tmp.path().join("hsm"), label)
                .unwrap_or_else(|e| panic!("make a {} token: {e}", kind.name()))
        };
        Token { t, _tmp: tmp }
    }

    pub fn dir(&self) -> PathBuf {
        self._tmp.path().to_path_buf()
    }

    /// `byok ARGS` against this token, PIN from the token's PIN file.
    pub fn byok(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run byok")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(crate::bin("byok"));
        c.args(rehearsal(args));
        self.env(c)
    }

    /// `byok ARGS` exactly as given: without the `--rehearsal` that [`Token::cmd`] adds.
    pub fn cmd_for_real(&self, args: &[&str]) -> Command {
        let mut c = Command::new(crate::bin("byok"));
        c.args(args);
        self.env(c)
    }

    /// `byok ARGS` in a new session without a controlling terminal (`setsid`), so that
    /// a prompt cannot wait for someone at the terminal running the tests.
    pub fn cmd_without_terminal(&self, args: &[&str]) -> Command {
        let mut c = Command::new("setsid");
        c.arg("-w").arg(crate::bin("byok")).args(rehearsal(args));
        self.env(c)
    }

    fn env(&self, mut c: Command) -> Command {
        c.current_dir(self.dir())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(self.t.kind.conf_var(), &self.t.conf)
            .env("BYOK_PKCS11_MODULE", &self.t.module)
            .env("BYOK_TOKEN", &self.t.label)
            .env(
                "BYOK_PIN",
                std::fs::read_to_string(&self.t.user_pin_file).unwrap(),
            );
        c
    }

    /// Run `f` with a logged-in session on this token, in this process.
    pub fn with_session<R>(&self, f: impl FnOnce(&Session) -> R) -> R {
        let _g = PKCS11_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        std::env::set_var(self.t.kind.conf_var(), &self.t.conf);
        let ctx = Pkcs11::new(&self.t.module).unwrap();
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .unwrap();
        let slot = ctx
            .get_slots_with_token()
            .unwrap()
            .into_iter()
            .find(|s| {
                ctx.get_token_info(*s)
                    .map(|i| i.label().trim() == self.t.label)
                    .unwrap_or(false)
            })
            .expect("token slot");
        let r = {
            let s = ctx.open_rw_session(slot).unwrap();
            let pin = std::fs::read_to_string(&self.t.user_pin_file).unwrap();
            s.login(UserType::User, Some(&AuthPin::new(pin.into())))
                .unwrap();
            let r = f(&s);
            let _ = s.logout();
            r
        };
        ctx.finalize().unwrap();
        std::env::remove_var(self.t.kind.conf_var());
        r
    }

    /// Labels of every object on the token (token objects only: sessions are gone).
    pub fn labels(&self) -> Vec<String> {
        self.with_session(|s| {
            let mut v: Vec<String> = s
                .find_objects(&[Attribute::Token(true)])
                .unwrap()
                .into_iter()
                .map(|h| label_of(s, h))
                .collect();
            v.sort();
            v
        })
    }
}

/// The arguments of a test run of `byok`: every test rehearses against software KEKs
/// and simulators on loopback addresses, so commands get `--rehearsal`; ceremony
/// commands take it from their plan (the tests' plans say `"rehearsal": true`).
pub fn rehearsal<'a>(args: &[&'a str]) -> Vec<&'a str> {
    match args.first() {
        Some(&"ceremony") | None => args.to_vec(),
        Some(_) => std::iter::once("--rehearsal")
            .chain(args.iter().copied())
            .collect(),
    }
}

/// `byok ARGS` in `dir`, with no token and no network settings, rehearsing as
/// [`rehearsal`] says.
pub fn byok_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(crate::bin("byok"))
        .args(rehearsal(args))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("run byok")
}

pub fn label_of(s: &Session, h: ObjectHandle) -> String {
    for a in s.get_attributes(h, &[AttributeType::Label]).unwrap() {
        if let Attribute::Label(l) = a {
            return String::from_utf8_lossy(&l).into_owned();
        }
    }
    String::new()
}

/// Software KEKs of each size, made once per test process.
pub fn kek(bits: usize) -> &'static TestKek {
    static K2048: OnceLock<TestKek> = OnceLock::new();
    static K3072: OnceLock<TestKek> = OnceLock::new();
    static K4096: OnceLock<TestKek> = OnceLock::new();
    let cell = match bits {
        2048 => &K2048,
        3072 => &K3072,
        4096 => &K4096,
        _ => panic!("no test KEK of {bits} bits"),
    };
    cell.get_or_init(|| {
        TestKek::generate(bits, "https://127.0.0.1:8443", &format!("kek-{bits}")).expect("test KEK")
    })
}

/// Write a test KEK's KeyBundle JSON into `dir` and return its path.
pub fn write_kek(dir: &Path, bits: usize) -> PathBuf {
    let p = dir.join(format!("kek-{bits}.json"));
    if !p.exists() {
        std::fs::write(&p, kek(bits).key_bundle_json()).unwrap();
    }
    p
}

/// An HTTP agent that trusts only the CA in `ca_pem` and returns error statuses as answers.
pub fn agent_trusting(ca_pem: &Path) -> ureq::Agent {
    let pem = std::fs::read(ca_pem).expect("read the CA");
    let cert = ureq::tls::Certificate::from_pem(&pem)
        .expect("a PEM CA")
        .to_owned();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
            cert,
        ])))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(60)))
        .build()
        .into()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert success and return stdout.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "byok failed: {}\n{}",
        stderr(o),
        stdout(o)
    );
    stdout(o)
}

/// Assert a clean failure: exit 1, one line `error: …` on stderr containing every
/// one of `words` (case-insensitive), and no panic.
pub fn fails(o: &Output, words: &[&str]) -> String {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit 1, got {:?}: {err}",
        o.status.code()
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("warning: "))
        .collect();
    assert_eq!(errors.len(), 1, "expected one error line, got: {err}");
    assert!(errors[0].starts_with("error: "), "not an error line: {err}");
    let lower = errors[0].to_lowercase();
    for w in words {
        assert!(
            lower.contains(&w.to_lowercase()),
            "error lacks {w:?}: {err}"
        );
    }
    errors[0].to_string()
}

/// The modulus and exponent of a PEM public key written by keygen.
pub fn pem_public(path: &Path) -> (Vec<u8>, Vec<u8>) {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    let k = rsa::PublicKey::from_public_key_pem(&std::fs::read_to_string(path).unwrap()).unwrap();
    (
        k.n().to_be_bytes_trimmed_vartime().to_vec(),
        k.e().to_be_bytes_trimmed_vartime().to_vec(),
    )
}

/// The command failed with exit status 1 and, after what it printed on the way (the
/// import's custody block, warnings, progress), one `error:` line, its last, holding
/// every one of `words`. Returns stderr.
pub fn fails_after_custody(o: &Output, words: &[&str]) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap_or("");
    assert!(last.starts_with("error: "), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    for w in words {
        assert!(last.contains(w), "{w:?} not in {last}");
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_runs_rehearse_and_ceremonies_take_it_from_their_plan() {
        assert_eq!(
            rehearsal(&["kek", "inspect", "k.json"]),
            ["--rehearsal", "kek", "inspect", "k.json"]
        );
        assert_eq!(
            rehearsal(&["ceremony", "run", "plan.json"]),
            ["ceremony", "run", "plan.json"]
        );
        assert!(rehearsal(&[]).is_empty());
    }

    #[test]
    fn fails_wants_exactly_one_error_line() {
        use std::os::unix::process::ExitStatusExt;
        let out = |code: i32, err: &str| Output {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: Vec::new(),
            stderr: err.as_bytes().to_vec(),
        };
        let line = fails(&out(1, "warning: w\nerror: no such KEK\n"), &["KEK"]);
        assert_eq!(line, "error: no such KEK");
        for bad in [
            out(1, "error: a\nerror: b\n"),
            out(2, "error: a\n"),
            out(1, "oops\n"),
        ] {
            assert!(std::panic::catch_unwind(|| fails(&bad, &[])).is_err());
        }
    }
}
