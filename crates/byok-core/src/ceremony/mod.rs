//! Ceremonies: the plan, its checks, the offline run and its paper script.
//!
//! - [`plan`]: the strict JSON plan and every rule `byok ceremony check` applies;
//! - [`run`]: `byok ceremony run`, resumable after a crash at any point;
//! - [`script`]: the dry run, the paper script the officers follow;
//! - [`render`]: the printable record of a transcript (HTML and Markdown);
//!
//! The transcript format itself is in [`crate::transcript`]. The connected half,
//! `byok ceremony import`, reads the same plan, the `manifest.json` the run wrote, and
//! continues in its own transcript (see `docs/transcript.md`).

pub mod plan;
pub mod render;
pub mod run;
pub mod script;
