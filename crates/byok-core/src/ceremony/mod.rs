//! Ceremonies: the plan, its checks, the offline run and its paper script.
//!
//! - [`plan`]: the strict JSON plan; `rules`: every rule `byok ceremony check` applies;
//! - [`steps`]: the one description of a ceremony, the list of its steps;
//! - [`script`]: the dry run, that list printed as the paper script the officers follow;
//! - [`run`]: `byok ceremony run`, that list executed, resumable after a crash at any point;
//! - [`resume`]: what an interrupted run left, and the checks before a resume;
//! - [`custody`]: the tamper-evident bags confirmed and entered, and the deviations noted;
//! - [`manifest`]: the ceremony directory's files and `manifest.json`;
//! - [`render`]: the printable record of a transcript (HTML and Markdown);
//!
//! The transcript format itself is in [`crate::transcript`]. The connected half,
//! `byok ceremony import`, reads the same plan, the `manifest.json` the run wrote, and
//! continues in its own transcript (see `docs/transcript.md`).

pub mod custody;
mod execute;
pub mod manifest;
pub mod plan;
pub mod render;
pub mod resume;
mod rules;
pub mod run;
pub mod script;
pub mod steps;
#[cfg(test)]
pub(crate) mod testplan;

pub use steps::{steps, Step};
