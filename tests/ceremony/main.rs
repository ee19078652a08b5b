//! `byok ceremony check|run` and `byok transcript verify|render` on real SoftHSM2 tokens:
//! a whole rehearsal (two policies, four keys, two loopback vaults), kills at every
//! crash window followed by `--resume`, resumes refused when the token or a file
//! changed, every plan rule, every way of tampering with a transcript, and the dry-run
//! script against its snapshot, and the printed record (Chromium → PDF → text).

#[path = "../common/mod.rs"]
mod common;
mod crash;
mod dry_run;
mod identity;
mod plan;
mod quiet;
mod record;
mod resume;
mod rig;
mod run;
mod targets_plan;
mod transcript;
mod trusted;
