//! A test hook that kills byok at a chosen point, as `kill -9` would.
//!
//! It exists only in builds with the `test-hooks` feature (the tests'); in every other
//! build [`hit`] is an empty function and the hook's variable is not in the binary (CI
//! checks a release `byok` for it).
//!
//! `BYOK_TEST_CRASH_AFTER=POINT:N` makes the process call `std::process::abort()` the
//! N-th time (1-based) it passes the named point. The tests use it to prove that
//! `byok ceremony run --resume` recovers from a kill in every window. It is harmless
//! outside tests: an abort is what a power cut or `kill -9` does anyway, and every
//! step of byok is written to survive that. Unset (the normal case), it does nothing.
//!
//! Points (see `ceremony::run` for where each one sits):
//!
//! | point | where |
//! |---|---|
//! | `keygen-intent` | the `keygen-started` record is on disk; the key is not generated yet |
//! | `keygen-generated` | the key pair is on the token; its public key file is not written yet |
//! | `keygen` | the public key file is written; the `keygen` record is not |
//! | `write-temp` | an output's temp file is written and synced; it is not linked to its name yet |
//! | `wrap` | the package is written; the `wrap` record is not |
//! | `signer-generated` | the transcript signer key is on the token; the `signer` record is not |
//! | `manifest-before` | every package is recorded; `manifest.json` is not written yet |
//! | `manifest` | `manifest.json` is written; the `manifest` record is not |
//! | `close-before` | the `manifest` record is written; the `close` record is not |

/// Without the `test-hooks` feature: nothing.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn hit(_point: &str) {}

#[cfg(feature = "test-hooks")]
pub use hook::hit;

#[cfg(feature = "test-hooks")]
mod hook {
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// The environment variable of the hook.
    const ENV: &str = "BYOK_TEST_CRASH_AFTER";

    static COUNTS: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

    /// Count a pass through `point`; abort when it is the one `BYOK_TEST_CRASH_AFTER` names.
    pub fn hit(point: &str) {
        let Some(spec) = std::env::var_os(ENV) else {
            return;
        };
        let spec = spec.to_string_lossy();
        let Some((name, n)) = spec.rsplit_once(':') else {
            return;
        };
        if name != point {
            return;
        }
        let Ok(n) = n.parse::<usize>() else {
            return;
        };
        let mut guard = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let counts = guard.get_or_insert_with(HashMap::new);
        let c = counts.entry(point.to_string()).or_insert(0);
        *c += 1;
        if *c == n {
            eprintln!("{ENV}: aborting after {point}:{n}");
            std::process::abort();
        }
    }
}
