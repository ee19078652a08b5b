//! The one description of a ceremony: the list of steps a plan makes.
//!
//! `byok ceremony run --dry-run` prints this list ([`super::script`]), `run` executes it
//! ([`super::run`], one small function per step), the progress total is its length, and
//! a resumed run finds its place in it by the records the transcript holds. Each step
//! writes the records [`Step::records`] names, whose `step` values are the transcript's
//! [`StepName`]s, which also name the test hook's crash points.

use super::plan::{CheckedPlan, KeyPlan};
use crate::transcript::StepName;
use std::collections::BTreeSet;

/// One step of the offline ceremony.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Open the token, log in once, check the token against the transcript, run the
    /// self-test; start (or reopen) the transcript.
    Preflight,
    /// Generate (once per ceremony) the transcript signer on the token.
    Signer,
    /// The officers confirm a KEK's fingerprint: `kek` indexes [`keks`].
    ConfirmKek { kek: usize },
    /// Generate a key: `key` indexes the plan's keys.
    Keygen { key: usize },
    /// Wrap a key under its vault's KEK into its package.
    Wrap { key: usize },
    /// Write `manifest.json`.
    Manifest,
    /// Close the transcript with a record the signer signs.
    Close,
}

/// The steps of the ceremony `plan` describes, in order.
pub fn steps(plan: &CheckedPlan) -> Vec<Step> {
    let mut s = vec![Step::Preflight, Step::Signer];
    s.extend((0..keks(plan).len()).map(|kek| Step::ConfirmKek { kek }));
    s.extend((0..plan.keys.len()).map(|key| Step::Keygen { key }));
    s.extend((0..plan.keys.len()).map(|key| Step::Wrap { key }));
    s.extend([Step::Manifest, Step::Close]);
    s
}

/// The plan's distinct KEK files, in first-use order (each with the first key using it).
pub fn keks(plan: &CheckedPlan) -> Vec<&KeyPlan> {
    let mut seen = BTreeSet::new();
    plan.keys
        .iter()
        .filter(|k| seen.insert(k.kek_path.clone()))
        .collect()
}

impl Step {
    /// The step's title, as the dry run numbers it.
    pub fn title(&self, plan: &CheckedPlan) -> String {
        let keks = keks(plan);
        let key = |i: usize| plan.keys.get(i).map(|k| k.key.name.as_str()).unwrap_or("?");
        match *self {
            Step::Preflight => "Preflight".into(),
            Step::Signer => "Transcript signer".into(),
            Step::ConfirmKek { kek } => match keks.get(kek) {
                Some(k) => format!("Confirm KEK {} ({})", k.key.kek, k.destination()),
                None => "Confirm KEK ?".into(),
            },
            Step::Keygen { key: i } => match plan.keys.get(i) {
                Some(k) if k.key.roll => format!(
                    "Generate key {} (a roll: a new version of {}, labelled {} on the token)",
                    k.key.name, k.key.name, k.label
                ),
                _ => format!("Generate key {}", key(i)),
            },
            Step::Wrap { key: i } => format!("Wrap key {}", key(i)),
            Step::Manifest => "Manifest".into(),
            Step::Close => "Close".into(),
        }
    }

    /// The transcript records the step may write, in order; the run refuses to write any
    /// other. (`resume` takes the place of `open` when a ceremony is taken up again; the
    /// signer's `keygen-started` is written only when a signer is generated.)
    pub fn records(&self) -> &'static [StepName] {
        match self {
            Step::Preflight => &[
                StepName::Open,
                StepName::Resume,
                StepName::Preflight,
                StepName::Selftest,
            ],
            Step::Signer => &[StepName::KeygenStarted, StepName::Signer],
            Step::ConfirmKek { .. } => &[StepName::KekConfirmed],
            Step::Keygen { .. } => &[StepName::KeygenStarted, StepName::Keygen],
            Step::Wrap { .. } => &[StepName::Wrap],
            Step::Manifest => &[StepName::Manifest],
            Step::Close => &[StepName::Close],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ceremony::testplan;

    #[test]
    fn the_list_follows_the_plan() {
        let (_dir, plan) = testplan::checked(4);
        let s = steps(&plan);
        assert_eq!(
            s.len(),
            4 + 2 + 2 * 4,
            "preflight, signer, 2 KEKs, 4 keygens, 4 wraps, manifest, close"
        );
        assert_eq!(s[0], Step::Preflight);
        assert_eq!(s[1], Step::Signer);
        assert_eq!(s[2], Step::ConfirmKek { kek: 0 });
        assert_eq!(s[3], Step::ConfirmKek { kek: 1 });
        assert_eq!(s[4], Step::Keygen { key: 0 });
        assert_eq!(s[8], Step::Wrap { key: 0 });
        assert_eq!(s[s.len() - 1], Step::Close);
        assert_eq!(keks(&plan).len(), 2, "two vaults' KEKs, each used twice");
        assert_eq!(
            s[4].title(&plan),
            format!("Generate key {}", plan.keys[0].key.name)
        );
        assert!(s[2]
            .title(&plan)
            .starts_with("Confirm KEK keks/a.json (vault https://"));
    }

    #[test]
    fn every_record_a_step_writes_is_a_step_name() {
        for step in [
            Step::Preflight,
            Step::Signer,
            Step::ConfirmKek { kek: 0 },
            Step::Keygen { key: 0 },
            Step::Wrap { key: 0 },
            Step::Manifest,
            Step::Close,
        ] {
            assert!(!step.records().is_empty(), "{step:?}");
        }
        assert_eq!(Step::Close.records(), &[StepName::Close]);
    }
}
