//! `byok transcript render`: the printable record of a verified transcript.
//!
//! Writes `transcript.md` and `transcript.html` (self-contained, with print CSS): the
//! ceremony, the token, every KEK and key fingerprint as hex and PGP words, every
//! record, the transcript digest the officers sign, and a signature and date line for
//! each officer. Only a transcript that verifies is rendered.

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

fn officers(open: &Record) -> Vec<(String, String)> {
    open.detail
        .get("officers")
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
                format!("KEK {}", d("kid")),
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
                    out.push(fp(
                        format!("package {name}"),
                        sha,
                        format!("file SHA-256; KEK {}", d("kek_kid")),
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
    let _ = writeln!(s, "\n## Signatures\n");
    let _ = writeln!(s, "We compared the transcript digest above with the one byok printed at the close of the ceremony.\n");
    if let Some(open) = v.records.first() {
        for (name, role) in officers(open) {
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

/// A value inside the HTML record: [`text::html`] (control characters shown escaped,
/// `& < > " '` as references).
fn esc(t: &str) -> String {
    text::html(t)
}

/// The self-contained HTML record, with print CSS.
pub fn html(v: &Verified) -> String {
    let r = &v.report;
    let c = esc(&r.ceremony.clone().unwrap_or_default());
    let mut s = String::new();
    let _ = writeln!(s, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Ceremony record: {c}</title>");
    let _ = writeln!(s, "<style>body{{font-family:serif;max-width:60em;margin:2em auto;}} code,.words{{font-family:monospace;}} table{{border-collapse:collapse;width:100%;}} td,th{{border:1px solid #444;padding:.2em .4em;text-align:left;vertical-align:top;font-size:90%;}} .fp{{page-break-inside:avoid;margin:.6em 0;}} .sig{{margin-top:2.5em;page-break-inside:avoid;}} .line{{display:inline-block;border-bottom:1px solid #000;width:18em;}} .short{{width:8em;}} @media print{{body{{margin:0;max-width:none;}} h2{{page-break-after:avoid;}} .signatures{{page-break-before:always;}}}}</style></head><body>");
    let _ = writeln!(s, "<h1>Ceremony record: {c}</h1><table>");
    if let Some(h) = &r.hsm {
        let _ = writeln!(
            s,
            "<tr><th>token</th><td>\"{}\" {} {} serial {} firmware {}</td></tr>",
            esc(&h.label),
            esc(&h.manufacturer),
            esc(&h.model),
            esc(&h.serial),
            esc(&h.firmware)
        );
    }
    let _ = writeln!(s, "<tr><th>records</th><td>{}</td></tr><tr><th>opened</th><td>{}</td></tr><tr><th>closed</th><td>{}</td></tr>", r.records, esc(&r.first_time), esc(&r.last_time));
    let sig = if r.signed {
        format!(
            "verified: HSM key <code>{}</code>",
            esc(&r.signer_spki_sha256.clone().unwrap_or_default())
        )
    } else {
        format!(
            "none: {}",
            esc(&r.unsigned_reason.clone().unwrap_or_default())
        )
    };
    let _ = writeln!(s, "<tr><th>signature</th><td>{sig}</td></tr></table>");
    let _ = writeln!(s, "<h2>Transcript digest</h2><p>SHA-256 of the closing record: <code>{}</code></p><p class=\"words\">", esc(&r.digest));
    for l in words::to_word_lines(&hex::decode(&r.digest).unwrap_or_default()) {
        let _ = writeln!(s, "{}<br>", esc(&l));
    }
    let _ = writeln!(s, "</p><h2>Fingerprints</h2>");
    for f in fingerprints(v) {
        let _ = writeln!(s, "<div class=\"fp\"><b>{}</b> ({})<br><code>{}</code><br><span class=\"words\">{}</span></div>", esc(&f.what), esc(&f.note), esc(&f.hex), f.words.iter().map(|l| esc(l)).collect::<Vec<_>>().join("<br>"));
    }
    let _ = writeln!(s, "<h2>Records</h2><table><tr><th>seq</th><th>time</th><th>step</th><th>actor</th><th>what</th></tr>");
    for rec in &v.records {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            rec.seq,
            esc(&rec.time),
            esc(rec.step.as_str()),
            esc(&rec.actor),
            esc(&summary(rec))
        );
    }
    let _ = writeln!(s, "</table><div class=\"signatures\"><h2>Signatures</h2><p>We compared the transcript digest above with the one byok printed at the close of the ceremony.</p>");
    if let Some(open) = v.records.first() {
        for (name, role) in officers(open) {
            let _ = writeln!(s, "<div class=\"sig\">{} ({})<br><br>Signature: <span class=\"line\"></span> Date: <span class=\"line short\"></span></div>", esc(&name), esc(&role));
        }
    }
    let _ = writeln!(s, "</div></body></html>");
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
}
