//! A test hook that kills byok at a chosen point, as `kill -9` would.
//!
//! It exists only in builds with the `test-hooks` feature (the tests'); in every other
//! build [`hit`] is an empty function and the hook's variable is not in the binary (CI
//! checks a release `byok` for it).
//!
//! `BYOK_TEST_CRASH_AFTER=POINT:N` makes the process call `std::process::abort()` the
//! N-th time (1-based) it passes POINT. The tests use it to prove that
//! `byok ceremony run --resume` recovers from a kill in every window. Points are named
//! after the transcript's step names ([`StepName`]), so they cannot drift from the run:
//!
//! | point | where |
//! |---|---|
//! | `recorded:STEP` | a record of STEP is on disk (e.g. `recorded:keygen-started`: the intent is recorded, the key not generated yet) |
//! | `done:STEP` | the work of a STEP record is done (keys made, files written); the record is not on disk |
//! | `generated:STEP` | the key pair of STEP (`keygen`, `signer`) is on the token; nothing of it is written yet |
//! | `temp-written` | an output's temp file is written and synced; it is not linked to its name yet |

use crate::transcript::StepName;

/// A point in a run where the test hook can kill byok.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// A record of this step is on disk.
    Recorded(StepName),
    /// The work of this step's record is done; the record is not on disk.
    Done(StepName),
    /// The step's key pair is on the token; nothing of it is written yet.
    Generated(StepName),
    /// An output's temp file is written and synced, not yet linked to its name.
    TempWritten,
}

/// Without the `test-hooks` feature: nothing.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn hit(_point: CrashPoint) {}

#[cfg(feature = "test-hooks")]
pub use hook::{hit, parse};

#[cfg(feature = "test-hooks")]
mod hook {
    use super::CrashPoint;
    use crate::transcript::StepName;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// The environment variable of the hook.
    const ENV: &str = "BYOK_TEST_CRASH_AFTER";

    static COUNTS: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

    /// The point's name in `BYOK_TEST_CRASH_AFTER`.
    fn name(p: CrashPoint) -> String {
        match p {
            CrashPoint::Recorded(s) => format!("recorded:{s}"),
            CrashPoint::Done(s) => format!("done:{s}"),
            CrashPoint::Generated(s) => format!("generated:{s}"),
            CrashPoint::TempWritten => "temp-written".into(),
        }
    }

    /// Parse `POINT:N`. `None` when it names no point (the hook then never fires).
    pub fn parse(spec: &str) -> Option<(CrashPoint, usize)> {
        let (point, n) = spec.rsplit_once(':')?;
        let n = n.parse::<usize>().ok()?;
        let p = match point.split_once(':') {
            None if point == "temp-written" => CrashPoint::TempWritten,
            None => return None,
            Some((kind, step)) => {
                let step = StepName::parse(step)?;
                match kind {
                    "recorded" => CrashPoint::Recorded(step),
                    "done" => CrashPoint::Done(step),
                    "generated" => CrashPoint::Generated(step),
                    _ => return None,
                }
            }
        };
        Some((p, n))
    }

    /// Count a pass through `point`; abort when it is the one `BYOK_TEST_CRASH_AFTER` names.
    pub fn hit(point: CrashPoint) {
        let Some(spec) = std::env::var_os(ENV) else {
            return;
        };
        let spec = spec.to_string_lossy();
        let Some((want, n)) = parse(&spec) else {
            eprintln!("{ENV}: {spec:?} names no crash point; ignored");
            return;
        };
        if want != point {
            return;
        }
        let mut guard = COUNTS.lock().unwrap_or_else(|e| e.into_inner());
        let counts = guard.get_or_insert_with(HashMap::new);
        let c = counts.entry(name(point)).or_insert(0);
        *c += 1;
        if *c == n {
            eprintln!("{ENV}: aborting after {}:{n}", name(point));
            std::process::abort();
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn points_are_named_after_steps() {
            for p in [
                CrashPoint::Recorded(StepName::KeygenStarted),
                CrashPoint::Done(StepName::Wrap),
                CrashPoint::Generated(StepName::Signer),
                CrashPoint::TempWritten,
            ] {
                assert_eq!(parse(&format!("{}:3", name(p))), Some((p, 3)), "{p:?}");
            }
            assert_eq!(
                name(CrashPoint::Done(StepName::KekConfirmed)),
                "done:kek-confirmed"
            );
            for bad in [
                "keygen:1",
                "done:keygen",
                "done:nothing:1",
                "later:wrap:1",
                "temp-written:x",
            ] {
                assert_eq!(parse(bad), None, "{bad}");
            }
        }
    }
}
