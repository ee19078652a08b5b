//! `byok ceremony run --dry-run`: the paper script the officers follow.
//!
//! A dry run reads and checks the plan and its KEK files, and nothing else: it does not
//! load the PKCS#11 module, open the token, log in, or write a file. Its output depends
//! only on the plan, the KEK files and the `--out` path as given, so it is the same on
//! every machine and is snapshot-tested (`tests/snapshots/`).

use super::plan::CheckedPlan;
use super::run::{package_file, pub_file, MANIFEST, SIGNER_BITS, TRANSCRIPT};
use crate::words;
use std::fmt::Write;
use std::path::Path;

/// The script of the ceremony `plan` would run into `out`.
pub fn script(plan: &CheckedPlan, plan_arg: &Path, out: &Path, non_interactive: bool) -> String {
    let mut s = String::new();
    let p = &plan.plan;
    let d = out.display();
    let _ = writeln!(s, "CEREMONY SCRIPT: {}", p.ceremony);
    let _ = writeln!(
        s,
        "(dry run: byok opened no HSM, logged in nowhere and wrote nothing)"
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "plan:      {}", plan_arg.display());
    let _ = writeln!(s, "SHA-256:   {}", plan.sha256_hex());
    for l in words::to_word_lines(&plan.sha256) {
        let _ = writeln!(s, "           {l}");
    }
    let _ = writeln!(s, "token:     \"{}\" (module and PIN come from --module / BYOK_PKCS11_MODULE and --pin-file / BYOK_PIN / the prompt)", p.token);
    let _ = writeln!(s, "output:    {d}/");
    let _ = writeln!(
        s,
        "mode:      {}",
        if non_interactive {
            "non-interactive: KEKs are checked against the plan's pins only; no officer confirms them"
        } else {
            "interactive: the officers confirm every KEK fingerprint"
        }
    );
    let _ = writeln!(s, "officers:");
    for (i, o) in p.officers.iter().enumerate() {
        let _ = writeln!(s, "  {}. {} ({})", i + 1, o.name, o.role);
    }
    let _ = writeln!(s, "policies:");
    for pol in &p.policies {
        let extra = pol
            .admin_url
            .as_ref()
            .map(|u| format!(", {u}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  {} ({}{extra}): {}",
            pol.name,
            pol.service,
            pol.keys
                .iter()
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut n = 0;
    let mut step = |s: &mut String, title: String| {
        n += 1;
        let _ = writeln!(s);
        let _ = writeln!(s, "STEP {n}. {title}");
    };
    step(&mut s, "Preflight".into());
    let _ = writeln!(
        s,
        "  byok opens token \"{}\" and checks that it can make BYOK packages",
        p.token
    );
    let _ = writeln!(
        s,
        "  (`byok hsm info`: native or composite). The crypto officer enters the user PIN once;"
    );
    let _ = writeln!(
        s,
        "  byok never retries a failed login. byok runs the self-test: a throwaway session key"
    );
    let _ = writeln!(
        s,
        "  wrapped in the HSM and checked in software. byok starts {d}/{TRANSCRIPT}."
    );
    step(&mut s, "Transcript signer".into());
    let _ = writeln!(
        s,
        "  byok generates RSA-{SIGNER_BITS} key \"{}\" on the token (sign only, not extractable)",
        plan.signer_label()
    );
    let _ = writeln!(
        s,
        "  and records its fingerprint. It signs the transcript's closing record."
    );
    let mut seen = std::collections::BTreeSet::new();
    for k in &plan.keys {
        if !seen.insert(k.kek_path.clone()) {
            continue;
        }
        let fp = k.kek.sha256();
        step(
            &mut s,
            format!("Confirm KEK {} (vault {})", k.key.kek, k.vault),
        );
        let kid = k.kek.kid.as_ref().map(|x| x.url()).unwrap_or_default();
        let _ = writeln!(s, "  kid:     {kid}");
        let _ = writeln!(s, "  SHA-256: {}", hex::encode(fp));
        if k.key.kek_attestation == crate::ceremony::plan::KekAttestation::Required {
            let _ = writeln!(
                s,
                "  attestation required: byok verifies the HSM's attestation in the KEK file (chain to"
            );
            let _ = writeln!(
                s,
                "  Marvell's root, same key, not extractable, generated in the HSM) and stops if it fails."
            );
        }
        for l in words::to_word_lines(&fp) {
            let _ = writeln!(s, "           {l}");
        }
        if non_interactive {
            let _ = writeln!(
                s,
                "  byok compares it with the plan's kek_sha256 (non-interactive)."
            );
        } else {
            let _ = writeln!(
                s,
                "  One officer reads the words aloud; the other compares them with the fingerprint"
            );
            let _ = writeln!(
                s,
                "  taken from the vault on the connected side. Then type the first and last word"
            );
            let all = words::to_words(&fp);
            let list: Vec<&str> = all.split(' ').collect();
            let _ = writeln!(
                s,
                "  (\"{} {}\") or \"yes\". A mismatch stops the ceremony.",
                list.first().unwrap_or(&""),
                list.last().unwrap_or(&"")
            );
        }
    }
    for k in &plan.keys {
        step(&mut s, format!("Generate key {}", k.key.name));
        let _ = writeln!(
            s,
            "  RSA-{} for policy {} ({}), vault {}",
            k.key.size, k.policy, k.service, k.vault
        );
        let _ = writeln!(
            s,
            "  on the token: private, sensitive, extractable only wrapped, no other use"
        );
        let _ = writeln!(s, "  public key:  {d}/{}", pub_file(&k.key.name));
    }
    for k in &plan.keys {
        step(&mut s, format!("Wrap key {}", k.key.name));
        let kid = k.kek.kid.as_ref().map(|x| x.url()).unwrap_or_default();
        let _ = writeln!(s, "  under KEK {kid}");
        let _ = writeln!(s, "  package:     {d}/{}", package_file(&k.key.name));
    }
    step(&mut s, "Manifest".into());
    let _ = writeln!(
        s,
        "  byok writes {d}/{MANIFEST}: the SHA-256 of every public key and package."
    );
    step(&mut s, "Close".into());
    let _ = writeln!(
        s,
        "  byok closes {d}/{TRANSCRIPT} with a record signed by the transcript signer and"
    );
    let _ = writeln!(
        s,
        "  prints the transcript digest (hex and words). Print the record with"
    );
    let _ = writeln!(
        s,
        "  `byok transcript render {d}/{TRANSCRIPT} --out-dir PRINT`; the officers check"
    );
    let _ = writeln!(s, "  the digest on it against the screen and sign.");
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
    for o in &p.officers {
        let _ = writeln!(s, "  {} ({})", o.name, o.role);
        let _ = writeln!(
            s,
            "  signature: ______________________________  date: ____________"
        );
    }
    s
}
