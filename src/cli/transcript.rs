//! `byok transcript verify` and `byok transcript render`.

use super::output::{emit, print_stdout, Words};
use super::version::Lines;
use byok_core::ceremony::render;
use byok_core::text::Printable as P;
use byok_core::transcript::{self, VerifyReport};
use byok_core::util::sha256_hex;
use byok_core::{bail, fsutil, Result};
use clap::Subcommand;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum TranscriptCmd {
    /// Verify a transcript: hash chain, order, close record and HSM signature.
    Verify {
        file: PathBuf,
        /// Also check that the transcript starts from this plan.
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        /// Accept a transcript whose close the HSM did not sign (a rehearsal on a token
        /// that cannot sign, or an import run's transcript): it is still checked and
        /// reported as UNSIGNED, but exits 0.
        #[arg(long)]
        allow_unsigned: bool,
        /// The digest on the officers' signed record (hex or the PGP words): the
        /// transcript must be the one they signed.
        #[arg(long, value_name = "HEX_OR_WORDS")]
        digest: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a printable record (transcript.html and transcript.md) of a verified transcript.
    Render {
        file: PathBuf,
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
    },
}

pub fn run(cmd: TranscriptCmd) -> Result<()> {
    match cmd {
        TranscriptCmd::Verify {
            file,
            plan,
            allow_unsigned,
            digest,
            json,
        } => {
            let mut v = transcript::verify(&file)?;
            if let Some(d) = digest {
                let want =
                    hex::encode(transcript::parse_digest(&d).map_err(|e| e.context("--digest"))?);
                if want != v.report.digest {
                    let found = hex::decode(&v.report.digest).unwrap_or_default();
                    let (f, l) = byok_core::words::first_last(&found);
                    bail!(
                        Integrity,
                        "{}: its digest ({f} … {l}) is not the one the officers signed ({want}): it is not their ceremony's transcript",
                        P(file.display())
                    );
                }
            }
            if let Some(p) = plan {
                let bytes = fsutil::read_limited(&p, 1 << 20, "plan")?;
                let sha = sha256_hex(&bytes);
                if sha != v.report.plan_sha256 {
                    bail!(
                        "{} does not start from plan {} (its SHA-256 is {sha}, the transcript's {})",
                        file.display(),
                        p.display(),
                        v.report.plan_sha256
                    );
                }
            }
            let unsigned = !v.report.signed;
            v.report.ok = !unsigned || allow_unsigned;
            emit(json, &Verified(v.report))?;
            if unsigned && !allow_unsigned {
                bail!(
                    Integrity,
                    "{} is UNSIGNED: its close carries no HSM signature, so nothing but its digest on a signed paper record vouches for it; pass --allow-unsigned to accept it (auditing a rehearsal or an import run)",
                    file.display()
                );
            }
            Ok(())
        }
        TranscriptCmd::Render { file, out_dir } => {
            let v = transcript::verify(&file)?;
            let written = render::render(&v, &out_dir)?;
            print_stdout(&wrote_lines(&written))
        }
    }
}

/// One `wrote FILE` line for each file written.
fn wrote_lines(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|p| format!("wrote {}\n", P(p.display())))
        .collect()
}

/// What `byok transcript verify` prints.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Verified(pub VerifyReport);

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.0;
        writeln!(
            f,
            "transcript {} verifies: {} records, closed {}",
            P(&r.file),
            r.records,
            P(&r.last_time)
        )?;
        if let Some(h) = &r.hsm {
            writeln!(
                f,
                "hsm:       {} {} serial {} (token \"{}\")",
                P(&h.manufacturer),
                P(&h.model),
                P(&h.serial),
                P(&h.label)
            )?;
        }
        match &r.binary {
            Some(b) => {
                writeln!(f, "binary:    byok {}", P(&b.version))?;
                Lines(b, "  ").fmt(f)?;
            }
            None => writeln!(
                f,
                "binary:    not recorded (a transcript from before byok recorded it)"
            )?,
        }
        for b in &r.resumed_by {
            writeln!(f, "resumed by another binary: byok {}", P(&b.version))?;
            Lines(b, "  ").fmt(f)?;
        }
        match &r.signer_spki_sha256 {
            Some(k) => writeln!(
                f,
                "signature: verified, by the key its signer record names (SPKI SHA-256 {}); not evidence of an HSM: compare the digest with the signed record",
                P(k)
            )?,
            None => writeln!(
                f,
                "signature: UNSIGNED: NO HSM SIGNATURE ({})",
                P(r.unsigned_reason.as_deref().unwrap_or("no reason given"))
            )?,
        }
        write!(f, "digest:    {}\nwords:\n{}", r.digest, Words(&r.digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> VerifyReport {
        VerifyReport {
            file: "cer/transcript.jsonl".into(),
            ok: true,
            records: 17,
            ceremony: Some("c1".into()),
            plan_sha256: "00".repeat(32),
            hsm: None,
            signed: false,
            signer_spki_sha256: None,
            unsigned_reason: Some("rehearsal on SoftHSM".into()),
            digest: "E58294F2E9A227486E8B061B31CC528FD7FA3F19".into(),
            digest_words: String::new(),
            first_time: "2026-01-01T00:00:00Z".into(),
            last_time: "2026-01-01T00:10:00Z".into(),
            binary: None,
            resumed_by: vec![],
        }
    }

    #[test]
    fn unsigned_text() {
        assert_eq!(
            Verified(report()).to_string(),
            "transcript cer/transcript.jsonl verifies: 17 records, closed 2026-01-01T00:10:00Z\n\
             binary:    not recorded (a transcript from before byok recorded it)\n\
             signature: UNSIGNED: NO HSM SIGNATURE (rehearsal on SoftHSM)\n\
             digest:    E58294F2E9A227486E8B061B31CC528FD7FA3F19\n\
             words:\n\
             \x20   topmost Istanbul Pluto vagabond\n\
             \x20   treadmill Pacific brackish dictator\n\
             \x20   goldfish Medusa afflict bravado\n\
             \x20   chatter revolver Dupont midsummer\n\
             \x20   stopwatch whimsical cowbell bottomless\n"
        );
    }

    #[test]
    fn signed_text() {
        let mut r = report();
        r.signed = true;
        r.signer_spki_sha256 = Some("ab".into());
        let text = Verified(r).to_string();
        assert_eq!(
            text.lines().nth(2),
            Some("signature: verified, by the key its signer record names (SPKI SHA-256 ab); not evidence of an HSM: compare the digest with the signed record")
        );
    }

    #[test]
    fn the_binary_and_any_other_that_resumed() {
        let id = |sha: &str| byok_core::identity::BinaryIdentity {
            version: "0.1.0".into(),
            commit: "c0ffee".into(),
            exe_sha256: sha.into(),
            target: "x86_64-unknown-linux-gnu".into(),
            rustc: "rustc 1.95.0".into(),
            features: vec![],
            cargo_lock_sha256: "cd".into(),
        };
        let mut r = report();
        r.binary = Some(id("aa"));
        r.resumed_by = vec![id("bb")];
        let text = Verified(r).to_string();
        assert!(
            text.contains(
                "closed 2026-01-01T00:10:00Z\n\
                 binary:    byok 0.1.0\n\
                 \x20 commit:      c0ffee\n\
                 \x20 exe SHA-256: aa\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "resumed by another binary: byok 0.1.0\n\
                 \x20 commit:      c0ffee\n\
                 \x20 exe SHA-256: bb\n"
            ),
            "{text}"
        );
        let v = serde_json::to_value(Verified(report())).unwrap();
        assert!(v["binary"].is_null());
    }

    #[test]
    fn wrote() {
        assert_eq!(
            wrote_lines(&["d/transcript.html".into(), "d/transcript.md".into()]),
            "wrote d/transcript.html\nwrote d/transcript.md\n"
        );
        assert_eq!(wrote_lines(&[]), "");
    }
}
