//! `byok ceremony run --dry-run`: the paper script the officers follow, printed from the
//! same step list the run executes ([`super::steps`]).
//!
//! A dry run reads and checks the plan and its KEK files, and nothing else: it does not
//! load the PKCS#11 module, open the token, log in, or write a file. Its output depends
//! only on the plan, the KEK files and the `--out` path as given, so it is the same on
//! every machine and is snapshot-tested (`tests/snapshots/`).

use super::manifest::{pub_file, MANIFEST, TRANSCRIPT};
use super::plan::{CheckedPlan, KekAttestation};
use super::run::SIGNER_BITS;
use super::steps::{keks, steps, Step};
use crate::text::Printable;
use crate::words;
use std::fmt::Write;
use std::path::Path;

/// The script of the ceremony `plan` would run into `out`.
pub fn script(plan: &CheckedPlan, plan_arg: &Path, out: &Path, non_interactive: bool) -> String {
    let mut s = header(plan, plan_arg, out, non_interactive);
    for (i, step) in steps(plan).iter().enumerate() {
        let _ = writeln!(s);
        let _ = writeln!(s, "STEP {}. {}", i + 1, step.title(plan));
        for line in body(step, plan, out, non_interactive) {
            let _ = writeln!(s, "  {line}");
        }
    }
    s.push_str(&footer(plan));
    s
}

fn header(plan: &CheckedPlan, plan_arg: &Path, out: &Path, non_interactive: bool) -> String {
    let mut s = String::new();
    let p = &plan.plan;
    let _ = writeln!(s, "CEREMONY SCRIPT: {}", p.ceremony);
    let _ = writeln!(
        s,
        "(dry run: byok opened no HSM, logged in nowhere and wrote nothing)"
    );
    if plan.mode.is_rehearsal() {
        let _ = writeln!(
            s,
            "REHEARSAL: loopback vault addresses are allowed; this is not a real ceremony"
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "plan:      {}", Printable(plan_arg.display()));
    let _ = writeln!(s, "SHA-256:   {}", plan.sha256_hex());
    for l in words::to_word_lines(&plan.sha256) {
        let _ = writeln!(s, "           {l}");
    }
    let serial = match &p.token_serial {
        Some(sn) => format!(
            ", serial {} (pinned: no other token is accepted)",
            Printable(sn)
        ),
        None => String::new(),
    };
    let _ = writeln!(s, "token:     \"{}\"{serial} (module and PIN come from --module / BYOK_PKCS11_MODULE and --pin-file / BYOK_PIN / the prompt)", Printable(&p.token));
    let _ = writeln!(s, "output:    {}/", Printable(out.display()));
    let _ = writeln!(
        s,
        "mode:      {}",
        if non_interactive {
            "non-interactive: KEKs are checked against the plan's pins only; no officer confirms them"
        } else {
            "interactive: the officers confirm every KEK fingerprint"
        }
    );
    if let Some(l) = &p.location {
        let _ = writeln!(s, "location:  {l}");
    }
    let _ = writeln!(s, "officers:");
    for (i, o) in p.officers.iter().enumerate() {
        let _ = writeln!(s, "  {}. {} ({})", i + 1, o.name, o.role);
    }
    if !p.witnesses.is_empty() {
        let _ = writeln!(s, "witnesses:");
        for (i, o) in p.witnesses.iter().enumerate() {
            let _ = writeln!(s, "  {}. {} ({})", i + 1, o.name, o.role);
        }
    }
    if !p.policies.is_empty() {
        let _ = writeln!(s, "policies:");
    }
    for pol in &p.policies {
        let extra = pol
            .admin_url
            .as_ref()
            .map(|u| format!(", {u}"))
            .unwrap_or_default();
        let names: Vec<&str> = pol.keys.iter().map(|k| k.name.as_str()).collect();
        let _ = writeln!(
            s,
            "  {} ({}{extra}): {}",
            pol.name,
            pol.service,
            names.join(", ")
        );
    }
    let standalone: Vec<&super::plan::KeyPlan> =
        plan.keys.iter().filter(|k| k.policy.is_empty()).collect();
    if !standalone.is_empty() {
        let _ = writeln!(s, "keys:");
    }
    for k in standalone {
        let _ = writeln!(
            s,
            "  {} ({}): {}, {}",
            k.key.name,
            k.target.kind().name(),
            k.destination(),
            k.target.method()
        );
    }
    s
}

/// What the officers read for one step.
fn body(step: &Step, plan: &CheckedPlan, out: &Path, non_interactive: bool) -> Vec<String> {
    // Paths come from the command line: shown, never acting on the terminal.
    let d = Printable(out.display());
    let bags = plan.plan.hsm_bags.as_ref();
    match *step {
        Step::Preflight => {
            let mut v = Vec::new();
            if let Some(b) = bags {
                v.push(format!(
                    "Tamper-evident bags: the HSM and its smartcards come out of {}.",
                    b.bags_in.join(", ")
                ));
                if non_interactive {
                    v.push("byok records the plan's bag numbers (non-interactive): no officer confirms them.".into());
                } else {
                    v.push("The officers check each bag is intact and its number is the plan's, then type the".into());
                    v.push("numbers (or \"yes\"). A bag that is not the plan's stops the ceremony.".into());
                }
            }
            v.extend([
            format!(
                "byok opens token \"{}\" and checks that it can make BYOK packages",
                plan.plan.token
            ),
            "(`byok hsm info`: native or composite). The crypto officer enters the user PIN once;".into(),
            "byok never retries a failed login. byok runs the self-test: a throwaway session key".into(),
            format!("wrapped in the HSM and checked in software. byok starts {d}/{TRANSCRIPT}."),
            ]);
            if plan
                .keys
                .iter()
                .any(|k| k.target.hash() == crate::hsm::OaepHash::Sha256)
            {
                v.push("The plan's targets take RSA-OAEP SHA-256: byok proves the token does it (a throwaway".into());
                v.push("wrap unwrapped in software with SHA-256) before any key is generated, or stops.".into());
            }
            v
        }
        Step::Signer => vec![
            format!(
                "byok generates RSA-{SIGNER_BITS} key \"{}\" on the token (sign only, not extractable)",
                plan.signer_label()
            ),
            "and records its fingerprint. It signs the transcript's closing record.".into(),
        ],
        Step::ConfirmKek { kek } => {
            let Some(k) = keks(plan).get(kek).copied() else {
                return vec![];
            };
            let fp = k.kek.sha256();
            let kid = k.kek.kid.as_ref().map(|x| x.url()).unwrap_or_default();
            let mut v = Vec::new();
            if kid.is_empty() {
                v.push(format!("for:     {}", k.destination()));
            } else {
                v.push(format!("kid:     {kid}"));
            }
            v.push(format!("SHA-256: {}", hex::encode(fp)));
            if let super::plan::KeyTarget::Gcp {
                attestation: Some(a),
                ..
            } = &k.target
            {
                v.push(format!("import job {}: {}", a.file, a.summary));
            }
            if k.target.kind() == super::plan::TargetKind::Azure
                && k.key.kek_attestation_or_default() == KekAttestation::Required
            {
                v.push("attestation required: byok verifies the HSM's attestation in the KEK file (chain to".into());
                v.push("Marvell's root, same key, not extractable, generated in the HSM) and stops if it fails.".into());
            }
            v.extend(words::to_word_lines(&fp).into_iter().map(|l| format!("         {l}")));
            if non_interactive {
                v.push("byok compares it with the plan's kek_sha256 (non-interactive).".into());
            } else {
                let (first, last) = words::first_last(&fp);
                v.push("One officer reads the words aloud; the other compares them with the fingerprint".into());
                v.push(if k.target.kind() == super::plan::TargetKind::Azure {
                    "taken from the vault on the connected side. Then type the first and last word".into()
                } else {
                    "taken on the connected side. Then type the first and last word".into()
                });
                v.push(format!(
                    "(\"{first} {last}\") or \"yes\". A mismatch stops the ceremony."
                ));
            }
            v
        }
        Step::Keygen { key } => {
            let Some(k) = plan.keys.get(key) else {
                return vec![];
            };
            let mut v = vec![
                if k.policy.is_empty() {
                    format!("RSA-{} for {}", k.key.size, k.destination())
                } else {
                    format!(
                        "RSA-{} for policy {} ({}), vault {}",
                        k.key.size, k.policy, k.service, k.vault
                    )
                },
                "on the token: private, sensitive, extractable only wrapped, no other use".into(),
            ];
            if k.wrap_with_trusted {
                v.push("dual control: CKA_WRAP_WITH_TRUSTED, so it wraps only under a KEK the SO stored as trusted".into());
            }
            if k.key.roll {
                v.push(format!(
                    "a roll: labelled {} on the token; imported as a new version of {}",
                    k.label, k.key.name
                ));
            }
            v.push(format!("public key:  {d}/{}", pub_file(&k.label)));
            v
        }
        Step::Wrap { key } => {
            let Some(k) = plan.keys.get(key) else {
                return vec![];
            };
            let kid = k.kek.kid.as_ref().map(|x| x.url()).unwrap_or_default();
            let how = if k.wrap_with_trusted {
                " (CKM_RSA_AES_KEY_WRAP, the KEK stored as trusted)"
            } else {
                ""
            };
            if kid.is_empty() {
                vec![
                    format!(
                        "under {}'s wrapping key, {} (RSA-OAEP {}){how}",
                        k.destination(),
                        k.target.method(),
                        k.target.hash()
                    ),
                    format!("output:      {d}/{}", k.output_file()),
                ]
            } else {
                vec![
                    format!("under KEK {kid}{how}"),
                    format!("package:     {d}/{}", k.output_file()),
                ]
            }
        }
        Step::Manifest => vec![format!(
            "byok writes {d}/{MANIFEST}: the SHA-256 of every public key and package."
        )],
        Step::Close => {
            let mut v = Vec::new();
            if let Some(b) = bags {
                v.push(format!(
                    "Tamper-evident bags: seal the HSM and its smartcards in new bags {}.",
                    b.bags_out.join(", ")
                ));
                if non_interactive {
                    v.push("byok records the plan's numbers (non-interactive): no officer enters them.".into());
                } else {
                    v.push("The officers type the new bags' numbers (or \"yes\" for the plan's); other bags".into());
                    v.push("are recorded as typed, with a deviation saying so.".into());
                }
            }
            if non_interactive {
                v.push("Deviations from this script: given with --deviation \"TEXT\" (each recorded).".into());
            } else {
                v.push("Deviations from this script: byok asks for each (and how it was resolved), one line".into());
                v.push("each, an empty line to finish; --deviation \"TEXT\" records one more.".into());
            }
            v.extend([
            format!("byok closes {d}/{TRANSCRIPT} with a record signed by the transcript signer and"),
            "prints the transcript digest (hex and words). Print the record with".into(),
            format!("`byok transcript render {d}/{TRANSCRIPT} --out-dir PRINT`; the officers check"),
            "the digest on it against the screen and sign.".into(),
            ]);
            v
        }
    }
}

fn footer(plan: &CheckedPlan) -> String {
    let mut s = String::new();
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "If byok stops or is interrupted, run the same command with --resume: it finishes"
    );
    let _ = writeln!(
        s,
        "the same ceremony and refuses if the token, the plan or any recorded file changed."
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "SIGNATURES");
    for o in plan.plan.officers.iter().chain(&plan.plan.witnesses) {
        let _ = writeln!(s, "  {} ({})", o.name, o.role);
        let _ = writeln!(
            s,
            "  signature: ______________________________  date: ____________"
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ceremony::testplan;

    #[test]
    fn one_numbered_step_per_step_of_the_run() {
        let (_dir, plan) = testplan::checked(4);
        let s = script(&plan, Path::new("plan.json"), Path::new("out"), false);
        let n = steps(&plan).len();
        assert!(s.contains(&format!("\nSTEP {n}. Close\n")), "{s}");
        assert!(!s.contains(&format!("STEP {}.", n + 1)));
        assert!(s.contains("STEP 1. Preflight"));
        assert!(s.contains("\"yes\". A mismatch stops the ceremony."));
        assert!(!s.contains("REHEARSAL"), "a real plan is not a rehearsal");
        let ni = script(&plan, Path::new("plan.json"), Path::new("out"), true);
        assert!(ni.contains("byok compares it with the plan's kek_sha256 (non-interactive)."));
        assert!(!ni.contains("Then type the first and last word"));
        assert!(
            !s.contains("Tamper-evident bags"),
            "no bags in the plan, none in the script"
        );
        assert!(s.contains("an empty line to finish"), "{s}");
    }

    #[test]
    fn the_bags_witnesses_and_location_are_in_the_script() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = testplan::value(2);
        v["location"] = serde_json::json!("Room 4.12");
        v["witnesses"] = serde_json::json!([{"name": "Carol Auditor", "role": "auditor"}]);
        v["hsm_bags"] = serde_json::json!({"in": ["TEB-1", "TEB-2"], "out": ["TEB-9"]});
        let (_, plan) = testplan::check(dir.path(), &v);
        let plan = plan.unwrap();
        let s = script(&plan, Path::new("plan.json"), Path::new("out"), false);
        let step1 = s.split("STEP 2.").next().unwrap();
        assert!(step1.contains("come out of TEB-1, TEB-2."), "{s}");
        assert!(step1.contains("A bag that is not the plan's stops the ceremony."));
        let close = s.rsplit(". Close\n").next().unwrap();
        assert!(close.contains("in new bags TEB-9."), "{close}");
        assert!(close.contains("Deviations from this script"), "{close}");
        assert!(s.contains("location:  Room 4.12\n"));
        assert!(s.contains("witnesses:\n  1. Carol Auditor (auditor)\n"));
        assert!(s.ends_with("Carol Auditor (auditor)\n  signature: ______________________________  date: ____________\n"), "{s}");
        let ni = script(&plan, Path::new("plan.json"), Path::new("out"), true);
        assert!(ni.contains("byok records the plan's bag numbers (non-interactive)"));
        assert!(ni.contains("byok records the plan's numbers (non-interactive)"));
        assert!(ni.contains("given with --deviation"));
    }

    #[test]
    fn dual_control_and_rolls_are_in_the_script() {
        let (_dir, mut plan) = testplan::checked(2);
        plan.keys[0].wrap_with_trusted = true;
        plan.keys[1].key.roll = true;
        plan.keys[1].label = format!("{}-roll", plan.keys[1].key.name);
        let s = script(&plan, Path::new("plan.json"), Path::new("out"), false);
        assert!(s.contains("dual control: CKA_WRAP_WITH_TRUSTED"), "{s}");
        assert!(
            s.contains("(CKM_RSA_AES_KEY_WRAP, the KEK stored as trusted)"),
            "{s}"
        );
        let roll = &plan.keys[1];
        assert!(
            s.contains(&format!(
                "a roll: labelled {} on the token; imported as a new version of {}",
                roll.label, roll.key.name
            )),
            "{s}"
        );
        assert!(s.contains(&format!("out/{}.byok", roll.label)), "{s}");
        assert_eq!(s.matches("dual control:").count(), 1, "{s}");
    }
}
