//! `byok transcript render`: the printable record of a verified transcript.
//!
//! Writes `transcript.html` (self-contained, with print CSS for A4: the record a key
//! ceremony is audited against, see [`html`]) and `transcript.md` (the same facts as
//! text): the ceremony, its location, the software, the token and its tamper-evident
//! bags, the participants, every record, every KEK and key fingerprint as hex and PGP
//! words, the deviations, the transcript digest the officers sign, and a signature and
//! date line for each officer and witness. Only a transcript that verifies is rendered.

mod html;

pub use html::html;

use crate::transcript::{Record, Verified};
use crate::{err, fsutil, text, words, Result};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// One fingerprint on the printed record.
struct Fp {
    what: String,
    hex: String,
    words: Vec<String>,
    note: String,
}

fn fp(what: String, hex_fp: &str, note: String) -> Fp {
    let bytes = hex::decode(hex_fp).unwrap_or_default();
    Fp {
        what,
        hex: hex_fp.to_string(),
        words: words::to_word_lines(&bytes),
        note,
    }
}

/// A detail value as text: a string as is, a list joined with `, `, anything else as JSON.
fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a.iter().map(json_text).collect::<Vec<_>>().join(", "),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn officers(open: &Record) -> Vec<(String, String)> {
    people(open, "officers")
}

fn witnesses(open: &Record) -> Vec<(String, String)> {
    people(open, "witnesses")
}

/// The people the open record lists under `key` (`officers`, `witnesses`): name and role.
fn people(open: &Record, key: &str) -> Vec<(String, String)> {
    open.detail
        .get(key)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .map(|o| {
                    (
                        o.get("name")
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                            .to_string(),
                        o.get("role")
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn fingerprints(v: &Verified) -> Vec<Fp> {
    let r = &v.report;
    let mut out = vec![fp("plan".into(), &r.plan_sha256, "file SHA-256".into())];
    for rec in &v.records {
        let d = |k: &str| rec.detail_str(k).unwrap_or("").to_string();
        match rec.step.as_str() {
            "signer" if !d("spki_sha256").is_empty() => out.push(fp(
                format!("transcript signer {}", d("label")),
                &d("spki_sha256"),
                "SPKI SHA-256".into(),
            )),
            "kek-confirmed" => out.push(fp(
                if d("kid").is_empty() {
                    // Another target's wrapping key: named by where it goes.
                    format!("wrapping key for {}", d("destination"))
                } else {
                    format!("KEK {}", d("kid"))
                },
                &d("spki_sha256"),
                format!("SPKI SHA-256; confirmed by {}: {}", rec.actor, d("method")),
            )),
            "keygen" => out.push(fp(
                format!(
                    "key {} (RSA-{})",
                    d("label"),
                    rec.detail.get("size").and_then(|v| v.as_u64()).unwrap_or(0)
                ),
                &d("spki_sha256"),
                "public key SPKI SHA-256".into(),
            )),
            "wrap" => {
                for (name, sha) in &rec.outputs {
                    let under = if d("kek_kid").is_empty() {
                        format!(
                            "{}, {} (RSA-OAEP {})",
                            d("destination"),
                            d("method"),
                            d("oaep_hash")
                        )
                    } else {
                        format!("KEK {}", d("kek_kid"))
                    };
                    out.push(fp(
                        format!("package {name}"),
                        sha,
                        format!("file SHA-256; {under}"),
                    ));
                }
            }
            "manifest" => {
                for (name, sha) in &rec.outputs {
                    out.push(fp(format!("manifest {name}"), sha, "file SHA-256".into()));
                }
            }
            _ => {}
        }
    }
    out
}

fn summary(rec: &Record) -> String {
    if rec.step.as_str() == "close" {
        // The close lists every output again: counted here, listed with their hashes.
        let n = |k: &str| {
            rec.detail
                .get(k)
                .and_then(|v| v.as_array())
                .map(|a| a.len())
        };
        let mut t = format!("closed: {} output files hashed", rec.outputs.len());
        if let Some(b) = rec.detail.get("hsm_bags_out").and_then(|b| b.get("bags")) {
            t.push_str(&format!("; new bags {}", json_text(b)));
        }
        if let Some(d) = n("deviations") {
            t.push_str(&format!("; {d} deviation{}", if d == 1 { "" } else { "s" }));
        }
        return t;
    }
    let mut parts = Vec::new();
    if let Some(l) = rec.detail_str("label") {
        parts.push(l.to_string());
    }
    for k in rec.outputs.keys() {
        parts.push(format!("→ {k}"));
    }
    if let Some(m) = rec.detail_str("method") {
        parts.push(m.to_string());
    }
    parts.join("; ")
}

/// A fingerprint or digest inside Markdown: as code when it is hex (what byok writes),
/// else escaped text ([`text::markdown`]): a backtick in a code span would end it.
fn md_hex(h: &str) -> String {
    if !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("`{h}`")
    } else {
        text::markdown(h)
    }
}

/// The Markdown record. Every value from the transcript (names, labels, the token's
/// strings, file names, KEK ids) goes through [`text::markdown`], so that `|` cannot
/// break the tables, `*`, `_` and backticks cannot restyle it, and `<script>` stays text.
pub fn markdown(v: &Verified) -> String {
    let r = &v.report;
    let m = |t: &str| text::markdown(t);
    let mut s = String::new();
    let c = r.ceremony.clone().unwrap_or_default();
    let _ = writeln!(s, "# Ceremony record: {}\n", m(&c));
    let _ = writeln!(s, "| | |\n|---|---|");
    if let Some(h) = &r.hsm {
        let _ = writeln!(
            s,
            "| token | \"{}\" {} {} serial {} firmware {} |",
            m(&h.label),
            m(&h.manufacturer),
            m(&h.model),
            m(&h.serial),
            m(&h.firmware)
        );
    }
    let open = v.records.first();
    let close = v.records.last().filter(|c| c.step.as_str() == "close");
    let od = |k: &str| open.and_then(|o| o.detail.get(k));
    let _ = writeln!(
        s,
        "| location | {} |",
        od("location")
            .and_then(|l| l.as_str())
            .map(m)
            .unwrap_or_else(|| "not recorded".into())
    );
    let _ = writeln!(
        s,
        "| binary | {} |",
        match od("binary") {
            Some(serde_json::Value::Object(b)) => b
                .iter()
                .map(|(k, v)| format!("{}: {}", m(k), m(&json_text(v))))
                .collect::<Vec<_>>()
                .join("; "),
            _ => "not recorded".into(),
        }
    );
    for b in &r.resumed_by {
        let _ = writeln!(
            s,
            "| resumed by another binary | {} {}, SHA-256 {} |",
            m(&b.version),
            m(&b.commit),
            md_hex(&b.exe_sha256)
        );
    }
    for (label, bags) in [
        ("bags before", od("hsm_bags_in")),
        (
            "bags after",
            close.and_then(|c| c.detail.get("hsm_bags_out")),
        ),
    ] {
        // The bags, and who vouched for them: the officers, or the plan alone
        // (--non-interactive).
        let _ = writeln!(
            s,
            "| {label} | {} |",
            bags.map(|b| {
                let null = serde_json::Value::Null;
                let field = |k: &str| m(&json_text(b.get(k).unwrap_or(&null)));
                format!(
                    "{} (source: {}; how: {})",
                    field("bags"),
                    field("source"),
                    field("method")
                )
            })
            .unwrap_or_else(|| "not recorded".into())
        );
    }
    let _ = writeln!(s, "| records | {} |", r.records);
    let _ = writeln!(s, "| opened | {} |", m(&r.first_time));
    let _ = writeln!(s, "| closed | {} |", m(&r.last_time));
    let _ = writeln!(
        s,
        "| signature | {} |",
        if r.signed {
            format!(
                "verified: HSM key {}",
                md_hex(&r.signer_spki_sha256.clone().unwrap_or_default())
            )
        } else {
            format!(
                "none: {}",
                m(&r.unsigned_reason.clone().unwrap_or_default())
            )
        }
    );
    let _ = writeln!(s, "\n## Transcript digest\n");
    let _ = writeln!(s, "SHA-256 of the closing record: {}\n", md_hex(&r.digest));
    for l in words::to_word_lines(&hex::decode(&r.digest).unwrap_or_default()) {
        let _ = writeln!(s, "    {l}");
    }
    let _ = writeln!(s, "\n## Fingerprints\n");
    for f in fingerprints(v) {
        let _ = writeln!(s, "**{}** ({})\n", m(&f.what), m(&f.note));
        let _ = writeln!(s, "{}\n", md_hex(&f.hex));
        for l in f.words {
            let _ = writeln!(s, "    {l}");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "## Records\n");
    let _ = writeln!(
        s,
        "| seq | time | step | actor | what |\n|---|---|---|---|---|"
    );
    for rec in &v.records {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            rec.seq,
            m(&rec.time),
            m(rec.step.as_str()),
            m(&rec.actor),
            m(&summary(rec))
        );
    }
    let _ = writeln!(s, "\n## Deviations\n");
    match close.and_then(|c| c.detail.get("deviations")) {
        Some(serde_json::Value::Array(d)) if d.is_empty() => {
            let _ = writeln!(s, "None recorded.");
        }
        Some(serde_json::Value::Array(d)) => {
            for (i, x) in d.iter().enumerate() {
                let t = x.get("text").map(json_text).unwrap_or_default();
                let src = x.get("source").map(json_text).unwrap_or_default();
                let _ = writeln!(s, "{}. {} ({})", i + 1, m(&t), m(&src));
            }
        }
        _ => {
            let _ = writeln!(s, "Not recorded.");
        }
    }
    let _ = writeln!(s, "\n## Signatures\n");
    let _ = writeln!(s, "We compared the transcript digest above with the one byok printed at the close of the ceremony.\n");
    if let Some(open) = v.records.first() {
        for (name, role) in officers(open).into_iter().chain(witnesses(open)) {
            let _ = writeln!(
                s,
                "{} ({})\n\nSignature: ______________________________ Date: ______________\n",
                m(&name),
                m(&role)
            );
        }
    }
    s
}

/// Write `transcript.md` and `transcript.html` into `out_dir` (created if missing;
/// existing files are never overwritten).
pub fn render(v: &Verified, out_dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| err!(Io, "cannot create {}: {e}", out_dir.display()))?;
    let md = out_dir.join("transcript.md");
    let html_path = out_dir.join("transcript.html");
    fsutil::refuse_existing(&md)?;
    fsutil::refuse_existing(&html_path)?;
    fsutil::write_new(&md, markdown(v).as_bytes(), 0o644)?;
    fsutil::write_new(&html_path, html(v).as_bytes(), 0o644)?;
    Ok(vec![html_path, md])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ceremony::run::{execute, RunOptions};
    use crate::ceremony::{resume::Prior, testplan};
    use crate::console::Scripted;
    use crate::hsm::fake::FakeToken;

    #[test]
    fn the_record_escapes_what_the_plan_says_and_shows_every_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = testplan::value(2);
        v["officers"][1]["name"] = serde_json::json!("<b>Eve</b> & \"Mallory\" | x");
        v["officers"][0]["name"] = serde_json::json!("<script>alert(1)</script> *Al* `ice` [x](y)");
        let (_, plan) = testplan::check(dir.path(), &v);
        let plan = plan.expect("a sound plan");
        let opts = RunOptions {
            out: dir.path().join("out"),
            resume: false,
            non_interactive: true,
            module: None,
            token: None,
            pin_file: None,
            binary: crate::identity::BinaryIdentity::for_tests(),
            deviations: vec![],
        };
        let r = execute(
            &plan,
            &opts,
            &Scripted::default(),
            &FakeToken::default(),
            Prior::default(),
            vec![],
        )
        .unwrap();
        let mut verified = crate::transcript::verify(&r.transcript).unwrap();
        // What the HSM says of itself is outside input too (a token label of 32 bytes).
        if let Some(h) = verified.report.hsm.as_mut() {
            h.label = "Tok\u{1b}[2J|<img src=x>\u{202e}".into();
        }
        let html = html(&verified);
        assert!(!html.contains("<b>Eve"), "officer names are escaped");
        assert!(html.contains("&lt;b&gt;Eve&lt;/b&gt; &amp; &quot;Mallory&quot;"));
        assert!(html.contains(&r.transcript_digest));
        assert!(!html.contains("<script>") && !html.contains("<img"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains('\u{1b}') && !html.contains('\u{202e}'));
        let md = markdown(&verified);
        assert!(md.contains(&r.transcript_digest));
        // Markdown: no raw HTML, no emphasis, code or link from a name, no cell broken by
        // a `|`, no control character: every value escaped.
        let unescaped = |pat: &str| {
            md.match_indices(pat)
                .any(|(i, _)| i == 0 || md.as_bytes()[i - 1] != b'\\')
        };
        for raw in [
            "<script>", "<b>", "<img", "*Al*", "`ice`", "[x](y)", "| x", "\u{1b}", "\u{202e}",
        ] {
            assert!(!unescaped(raw), "{raw:?} raw in the Markdown:\n{md}");
        }
        assert!(
            md.contains("\\<script\\>alert\\(1\\)\\<\\/script\\> \\*Al\\* \\`ice\\`"),
            "{md}"
        );
        assert!(
            md.contains("\\<b\\>Eve\\<\\/b\\> \\& \\\"Mallory\\\" \\| x"),
            "{md}"
        );
        let token_row = md.lines().find(|l| l.starts_with("| token |")).unwrap();
        assert_eq!(token_row.matches(" | ").count() + 2, 3, "{token_row}");
        assert!(
            token_row.contains("Tok\\\\u\\{1b\\}\\[2J\\|\\<img src\\=x\\>"),
            "{token_row}"
        );
        for k in &r.keys {
            assert!(md.contains(&k.package_sha256), "{}", k.name);
            assert!(md.contains(&k.spki_sha256), "{}", k.name);
        }
        // Written once, never over an earlier print.
        let out = dir.path().join("print");
        assert_eq!(render(&verified, &out).unwrap().len(), 2);
        assert!(render(&verified, &out).is_err());
    }

    /// A run of a plan with every record field, its transcript verified.
    fn rendered_run(
        plan_edit: impl Fn(&mut serde_json::Value),
        deviations: Vec<String>,
    ) -> (tempfile::TempDir, Verified) {
        let dir = tempfile::tempdir().unwrap();
        let mut v = testplan::value(2);
        plan_edit(&mut v);
        let (report, plan) = testplan::check(dir.path(), &v);
        let plan = plan.unwrap_or_else(|| panic!("{:?}", report.violations));
        let opts = RunOptions {
            out: dir.path().join("out"),
            resume: false,
            non_interactive: true,
            module: None,
            token: None,
            pin_file: None,
            binary: crate::identity::BinaryIdentity::for_tests(),
            deviations,
        };
        let r = execute(
            &plan,
            &opts,
            &Scripted::default(),
            &FakeToken::default(),
            Prior::default(),
            vec![],
        )
        .unwrap();
        let verified = crate::transcript::verify(&r.transcript).unwrap();
        (dir, verified)
    }

    #[test]
    fn the_record_carries_location_people_bags_deviations_and_escapes_them() {
        let hostile = "<script>alert('x')</script> \"Eve\" & O'Brien";
        let (_d, v) = rendered_run(
            |p| {
                p["location"] = serde_json::json!("Room <b>4.12</b> & \"vault\"");
                p["witnesses"] = serde_json::json!([{"name": hostile, "role": "auditor <i>"}]);
                p["hsm_bags"] = serde_json::json!({"in": ["TEB-100231"], "out": ["TEB-100298"]});
            },
            vec!["spare card <img src=x onerror=alert(1)> unused".into()],
        );
        let h = html(&v);
        for raw in ["<script", "<b>4.12", "<img", "<i>", "'x'"] {
            assert!(!h.contains(raw), "{raw:?} raw in the HTML");
        }
        assert!(
            h.contains(
                "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &quot;Eve&quot; &amp; O&#39;Brien"
            ),
            "{h}"
        );
        assert!(h.contains("Room &lt;b&gt;4.12&lt;/b&gt; &amp; &quot;vault&quot;"));
        assert!(h.contains("spare card &lt;img src=x onerror=alert(1)&gt; unused"));
        assert!(h.contains("TEB-100231") && h.contains("TEB-100298"));
        assert!(h.contains("source: plan"), "non-interactive bags say so");
        // Everyone signs: two officers and the witness, each with a signature line and
        // an identity-check box; every step has an initials box.
        assert_eq!(h.matches("<div class=\"sig\">").count(), 3);
        assert_eq!(
            h.matches("<td class=\"box\"></td></tr>").count(),
            3 + v.records.len() + 1
        );
        assert!(h.contains("@page{size:A4"));
        assert!(h.contains(&v.report.digest));
        let words = crate::words::to_word_lines(&hex::decode(&v.report.digest).unwrap());
        assert!(h.contains(&words[0]) && h.contains(&words[words.len() - 1]));
        let md = markdown(&v);
        assert!(
            md.contains("TEB\\-100298") && md.contains("spare card \\<img"),
            "{md}"
        );
        assert!(md
            .match_indices("<script")
            .all(|(i, _)| i > 0 && md.as_bytes()[i - 1] == b'\\'));
        assert_eq!(md.matches("Signature: ").count(), 3);
    }

    #[test]
    fn the_binary_identity_is_shown_when_recorded_and_said_missing_otherwise() {
        let (_d, mut v) = rendered_run(|_| {}, vec![]);
        // Every run records its binary; a transcript from before byok did is rendered
        // without one.
        assert!(v.records[0].detail.contains_key("binary"));
        v.records[0].detail.remove("binary");
        let h = html(&v);
        assert!(
            h.contains("<th>binary</th><td><span class=\"note\">not recorded"),
            "{h}"
        );
        assert!(
            h.contains("<p>None recorded.</p>"),
            "an empty deviations list says none"
        );
        // The open record as the identity helper writes it (a handcrafted record: the
        // renderer reads what the transcript says, the chain was verified before).
        let exe = "ab".repeat(32);
        v.records[0].detail.insert(
            "binary".into(),
            serde_json::json!({"version": "0.1.0", "commit": "52194db<x>", "exe_sha256": exe,
                "target": "x86_64-unknown-linux-gnu", "rustc": "rustc 1.90.0",
                "features": ["network", "test-hooks"], "cargo_lock_sha256": "cd".repeat(32)}),
        );
        let h = html(&v);
        assert!(!h.contains("<th>binary</th><td><span class=\"note\">not recorded"));
        assert!(
            h.contains("<th>binary commit</th><td>52194db&lt;x&gt;</td>"),
            "{h}"
        );
        assert!(h.contains(&format!("<code>{exe}</code>")));
        let exe_words = crate::words::to_word_lines(&[0xab; 32]);
        assert!(h.contains(&exe_words[0]));
        assert!(h.contains("<th>binary features</th><td>network, test-hooks</td>"));
        assert!(markdown(&v).contains("commit: 52194db\\<x\\>"));
        // A record that is not what the contract says is shown as such, not trusted.
        v.records[0]
            .detail
            .insert("binary".into(), serde_json::json!("<b>1.0</b>"));
        let h = html(&v);
        assert!(h.contains("not an object") && h.contains("&lt;b&gt;1.0&lt;/b&gt;"));
        // Older transcripts: no deviations list in the close record.
        v.records.last_mut().unwrap().detail.remove("deviations");
        assert!(html(&v).contains("close record has no deviations list"));
    }

    /// A resume by another binary is on the paper (HTML and Markdown), and the Markdown
    /// says who vouched for the bags (here the plan alone: non-interactive).
    #[test]
    fn another_resuming_binary_and_the_bags_source_are_printed() {
        let (_d, mut v) = rendered_run(
            |p| p["hsm_bags"] = serde_json::json!({"in": ["TEB-1"], "out": ["TEB-2"]}),
            vec![],
        );
        let other = crate::identity::BinaryIdentity {
            exe_sha256: "cd".repeat(32),
            commit: "feedface".into(),
            ..crate::identity::BinaryIdentity::for_tests()
        };
        v.report.resumed_by.push(other);
        let h = html(&v);
        assert!(h.contains("<th>resumed by another binary</th>"), "{h}");
        assert!(h.contains(&"cd".repeat(32)), "{h}");
        let md = markdown(&v);
        assert!(
            md.contains("| resumed by another binary |") && md.contains("feedface"),
            "{md}"
        );
        assert!(md.contains("source: plan"), "{md}");
    }
}
