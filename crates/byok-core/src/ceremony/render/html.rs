//! The HTML ceremony record: one self-contained page (no script, no external resource)
//! with print CSS for A4, black on white, that carries what a key ceremony's report is
//! audited against (CA/Browser Forum BR §6.1.1.1, the IANA root KSK ceremony scripts):
//!
//! 1. the ceremony: id, location, times, mode, the plan's SHA-256 (hex and words), the
//!    HSM's signature on the close record;
//! 2. the software: the binary identity the open record carries (`detail.binary`), or
//!    "not recorded" for a transcript written before byok recorded it;
//! 3. the HSM: label, manufacturer, model, serial, firmware, the PKCS#11 library, and
//!    its tamper-evident bags before and after;
//! 4. the participants, officers and witnesses, each with role and an identity-check box;
//! 5. every step with its time, who did it and an initials box;
//! 6. the KEK fingerprints in PGP words, every key's and output's hash;
//! 7. the deviations;
//! 8. the transcript digest, hex and words, and a signature block per officer and witness,
//!    on a page of its own.
//!
//! Every value from the transcript is outside input (names and descriptions come from the
//! plan, labels from the token) and goes through [`esc`].

use super::{fingerprints, json_text as value_text, people, summary, Fp};
use crate::transcript::{Record, Verified};
use crate::{text, words};
use serde_json::Value;
use std::fmt::Write;

/// A value inside the HTML record: [`text::html`] (control characters shown escaped,
/// `& < > " '` as references).
fn esc(t: &str) -> String {
    text::html(t)
}

/// The print style: A4, black on white, tables that repeat their header and keep rows
/// whole, headings kept with what follows, the sign-off on a page of its own.
const CSS: &str = "\
@page{size:A4;margin:16mm 15mm 18mm 15mm;}
*{color:#000;background:#fff;}
body{font-family:'DejaVu Serif','Liberation Serif',serif;font-size:10pt;line-height:1.3;max-width:180mm;margin:1em auto;}
h1{font-size:16pt;margin:0 0 .2em 0;}
h2{font-size:12pt;margin:1.2em 0 .4em 0;border-bottom:1.5pt solid #000;page-break-after:avoid;break-after:avoid;}
p{margin:.3em 0;}
code,.mono,.words{font-family:'DejaVu Sans Mono','Liberation Mono',monospace;font-size:8.5pt;}
code{word-break:break-all;}
.words{font-size:9pt;}
table{border-collapse:collapse;width:100%;margin:.3em 0;}
thead{display:table-header-group;}
tr{page-break-inside:avoid;break-inside:avoid;}
th,td{border:.75pt solid #000;padding:2pt 4pt;text-align:left;vertical-align:top;}
th{font-weight:bold;}
table.kv th{width:28%;}
td.box{width:14mm;}
.tick{display:inline-block;width:9pt;height:9pt;border:.75pt solid #000;vertical-align:middle;margin-right:4pt;}
.note{font-style:italic;}
.banner{border:2pt solid #000;padding:4pt;font-weight:bold;text-align:center;margin:.5em 0;}
.keep{page-break-inside:avoid;break-inside:avoid;}
.fp{margin:.4em 0;}
.digest{border:1.5pt solid #000;padding:6pt;margin:.6em 0;}
.digest .words{font-size:11pt;line-height:1.5;}
.signoff{page-break-before:always;break-before:page;}
.sig{page-break-inside:avoid;break-inside:avoid;margin-top:12mm;}
.line{display:inline-block;border-bottom:.75pt solid #000;width:70mm;height:1.2em;}
.short{width:35mm;}
@media print{body{margin:0;max-width:none;}}
";

/// Hex as words, one line of four each, `<br>`-separated; nothing when not hex.
fn word_lines(hex_text: &str) -> String {
    match hex::decode(hex_text) {
        Ok(b) if !b.is_empty() => words::to_word_lines(&b)
            .iter()
            .map(|l| esc(l))
            .collect::<Vec<_>>()
            .join("<br>"),
        _ => String::new(),
    }
}

fn row(s: &mut String, th: &str, td: &str) {
    let _ = writeln!(s, "<tr><th>{}</th><td>{td}</td></tr>", esc(th));
}

fn not_recorded(what: &str) -> String {
    format!("<span class=\"note\">not recorded{what}</span>")
}

/// The software that wrote the transcript: the open record's `binary` object, field by
/// field (the shared contract: version, commit, exe_sha256, target, rustc, features,
/// cargo_lock_sha256; any other field after them).
fn software(s: &mut String, open: Option<&Record>, resumed_by: &[crate::identity::BinaryIdentity]) {
    let _ = writeln!(s, "<h2>Software</h2><table class=\"kv\">");
    let tool = open
        .map(|r| format!("{} {}", r.tool.name, r.tool.version))
        .unwrap_or_default();
    row(s, "tool", &esc(&tool));
    match open.and_then(|r| r.detail.get("binary")) {
        Some(Value::Object(b)) => {
            const ORDER: [&str; 7] = crate::identity::BinaryIdentity::FIELDS;
            let rest = b.keys().filter(|k| !ORDER.contains(&k.as_str()));
            for k in ORDER.iter().copied().chain(rest.map(String::as_str)) {
                let Some(v) = b.get(k) else {
                    if ORDER.contains(&k) {
                        row(s, k, &not_recorded(""));
                    }
                    continue;
                };
                let t = value_text(v);
                let cell = if k.ends_with("sha256") {
                    format!(
                        "<code>{}</code><br><span class=\"words\">{}</span>",
                        esc(&t),
                        word_lines(&t)
                    )
                } else {
                    esc(&t)
                };
                row(s, &format!("binary {k}"), &cell);
            }
        }
        Some(other) => row(
            s,
            "binary",
            &format!(
                "{} <code>{}</code>",
                not_recorded(": the open record's binary is not an object"),
                esc(&other.to_string())
            ),
        ),
        None => row(
            s,
            "binary",
            &not_recorded(
                " (this transcript's open record carries no binary identity: compare the tool version above with the release)",
            ),
        ),
    }
    // A resume by another binary than the one that opened the ceremony: the paper names
    // it, so the auditors check that one too.
    for b in resumed_by {
        row(
            s,
            "resumed by another binary",
            &format!(
                "{} {}<br><code>{}</code><br><span class=\"words\">{}</span>",
                esc(&b.version),
                esc(&b.commit),
                esc(&b.exe_sha256),
                word_lines(&b.exe_sha256)
            ),
        );
    }
    let _ = writeln!(s, "</table>");
}

/// One `hsm_bags_in` / `hsm_bags_out` detail as a cell.
fn bags_cell(v: Option<&Value>) -> String {
    let Some(b) = v else {
        return not_recorded("");
    };
    let bags = b.get("bags").map(value_text).unwrap_or_default();
    let mut cell = format!("<b class=\"mono\">{}</b>", esc(&bags));
    for (k, label) in [("source", "source"), ("method", "how")] {
        if let Some(t) = b.get(k).and_then(|v| v.as_str()) {
            let _ = write!(cell, "<br>{label}: {}", esc(t));
        }
    }
    if let Some(p) = b.get("planned") {
        let _ = write!(cell, "<br>the plan's: {}", esc(&value_text(p)));
    }
    cell
}

/// The self-contained HTML record, with print CSS.
pub fn html(v: &Verified) -> String {
    let r = &v.report;
    let open = v.records.first();
    let close = v.records.last().filter(|c| c.step.as_str() == "close");
    let preflight = v.records.iter().find(|c| c.step.as_str() == "preflight");
    let od = |k: &str| open.and_then(|o| o.detail.get(k));
    let c = esc(&r.ceremony.clone().unwrap_or_default());
    let mut s = String::new();
    let _ = writeln!(s, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Ceremony record: {c}</title>\n<style>\n{CSS}</style></head><body>");
    let _ = writeln!(s, "<h1>Key ceremony record: {c}</h1>");
    if od("rehearsal").and_then(Value::as_bool) == Some(true) {
        let _ = writeln!(
            s,
            "<p class=\"banner\">REHEARSAL: not a real ceremony (loopback vaults allowed)</p>"
        );
    }
    let _ = writeln!(s, "<p>The record of the offline ceremony, printed from its transcript by <code>byok transcript render</code>, which verified the transcript's hash chain{}. The officers and witnesses initial every step, check the digest against the one byok showed at the close, and sign.</p>", if r.signed { " and the HSM's signature on its close" } else { "" });

    // 1. The ceremony.
    let _ = writeln!(s, "<h2>Ceremony</h2><table class=\"kv\">");
    row(&mut s, "ceremony", &c);
    let location = od("location")
        .and_then(|v| v.as_str())
        .map(esc)
        .unwrap_or_else(|| not_recorded(""));
    row(&mut s, "location", &location);
    row(&mut s, "opened", &esc(&r.first_time));
    row(&mut s, "closed", &esc(&r.last_time));
    let mode = od("mode").map(value_text).unwrap_or_default();
    row(&mut s, "mode", &esc(&mode));
    row(&mut s, "records", &r.records.to_string());
    row(
        &mut s,
        "plan SHA-256",
        &format!(
            "<code>{}</code><br><span class=\"words\">{}</span>",
            esc(&r.plan_sha256),
            word_lines(&r.plan_sha256)
        ),
    );
    let sig = if r.signed {
        format!(
            "verified: made in the HSM by the transcript signer, key SPKI SHA-256 <code>{}</code>",
            esc(&r.signer_spki_sha256.clone().unwrap_or_default())
        )
    } else {
        format!(
            "none: {}",
            esc(&r.unsigned_reason.clone().unwrap_or_default())
        )
    };
    row(&mut s, "close signature", &sig);
    let _ = writeln!(s, "</table>");

    // 2. The software.
    software(&mut s, open, &r.resumed_by);

    // 3. The HSM.
    let _ = writeln!(s, "<h2>HSM</h2><table class=\"kv\">");
    match &r.hsm {
        Some(h) => {
            for (k, t) in [
                ("token label", &h.label),
                ("manufacturer", &h.manufacturer),
                ("model", &h.model),
                ("serial", &h.serial),
                ("firmware", &h.firmware),
                ("hardware", &h.hardware),
            ] {
                row(&mut s, k, &esc(t));
            }
        }
        None => row(&mut s, "token", &not_recorded("")),
    }
    if let Some(p) = preflight {
        for (k, label) in [
            ("library", "PKCS#11 library"),
            ("mechanism", "wrap mechanism"),
        ] {
            if let Some(t) = p.detail.get(k) {
                row(&mut s, label, &esc(&value_text(t)));
            }
        }
    }
    row(
        &mut s,
        "bags before (opened)",
        &bags_cell(od("hsm_bags_in")),
    );
    row(
        &mut s,
        "bags after (sealed)",
        &bags_cell(close.and_then(|c| c.detail.get("hsm_bags_out"))),
    );
    let _ = writeln!(s, "</table>");

    // 4. The participants.
    let _ = writeln!(s, "<h2>Participants</h2><table><thead><tr><th>name</th><th>role</th><th>as</th><th>identity checked (document, by whom)</th><th>initials</th></tr></thead><tbody>");
    let mut everyone: Vec<(String, String, &str)> = Vec::new();
    if let Some(o) = open {
        everyone.extend(
            people(o, "officers")
                .into_iter()
                .map(|(n, r)| (n, r, "officer")),
        );
        everyone.extend(
            people(o, "witnesses")
                .into_iter()
                .map(|(n, r)| (n, r, "witness")),
        );
    }
    for (name, role, what) in &everyone {
        let _ = writeln!(s, "<tr><td>{}</td><td>{}</td><td>{what}</td><td><span class=\"tick\"></span></td><td class=\"box\"></td></tr>", esc(name), esc(role));
    }
    let _ = writeln!(s, "</tbody></table>");

    // 5. Every step.
    let _ = writeln!(s, "<h2>Steps</h2><table><thead><tr><th>#</th><th>time (UTC)</th><th>step</th><th>by</th><th>what</th><th>initials</th></tr></thead><tbody>");
    for rec in &v.records {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"box\"></td></tr>",
            rec.seq,
            esc(&rec.time),
            esc(rec.step.as_str()),
            esc(&rec.actor),
            esc(&summary(rec))
        );
    }
    let _ = writeln!(s, "</tbody></table>");

    // 6. Fingerprints: the KEKs first (what the officers compared), then keys and outputs.
    let fps = fingerprints(v);
    let (keks, others): (Vec<&Fp>, Vec<&Fp>) = fps.iter().partition(|f| f.what.starts_with("KEK "));
    let _ = writeln!(s, "<h2>Key encryption keys (KEKs)</h2>");
    if keks.is_empty() {
        let _ = writeln!(s, "<p>{}</p>", not_recorded(""));
    }
    for f in keks {
        fp_block(&mut s, f);
    }
    let _ = writeln!(s, "<h2>Keys and outputs</h2>");
    for f in others {
        fp_block(&mut s, f);
    }
    if let Some(cl) = close {
        if !cl.outputs.is_empty() {
            let _ = writeln!(s, "<table class=\"keep\"><thead><tr><th>file</th><th>SHA-256</th></tr></thead><tbody>");
            for (name, sha) in &cl.outputs {
                let _ = writeln!(
                    s,
                    "<tr><td>{}</td><td><code>{}</code></td></tr>",
                    esc(name),
                    esc(sha)
                );
            }
            let _ = writeln!(s, "</tbody></table>");
        }
    }

    // 7. Deviations.
    let _ = writeln!(s, "<h2>Deviations</h2>");
    match close.and_then(|c| c.detail.get("deviations")) {
        Some(Value::Array(d)) if d.is_empty() => {
            let _ = writeln!(s, "<p>None recorded.</p>");
        }
        Some(Value::Array(d)) => {
            let _ = writeln!(s, "<table><thead><tr><th>#</th><th>deviation and how it was resolved</th><th>recorded from</th><th>initials</th></tr></thead><tbody>");
            for (i, x) in d.iter().enumerate() {
                let t = x.get("text").map(value_text).unwrap_or_default();
                let src = x.get("source").map(value_text).unwrap_or_default();
                let _ = writeln!(
                    s,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"box\"></td></tr>",
                    i + 1,
                    esc(&t),
                    esc(&src)
                );
            }
            let _ = writeln!(s, "</tbody></table>");
        }
        _ => {
            let _ = writeln!(
                s,
                "<p>{}</p>",
                not_recorded(" (this transcript's close record has no deviations list)")
            );
        }
    }

    // 8. The digest and the sign-off, on a page of their own.
    let _ = writeln!(
        s,
        "<div class=\"signoff\"><h2>Transcript digest and sign-off</h2>"
    );
    let _ = writeln!(
        s,
        "<p>Ceremony <b>{c}</b>, closed {}.</p>",
        esc(&r.last_time)
    );
    let _ = writeln!(s, "<div class=\"digest keep\">SHA-256 of the closing record:<br><code>{}</code><br><span class=\"words\">{}</span></div>", esc(&r.digest), word_lines(&r.digest));
    let _ = writeln!(s, "<p>By signing, each of us states that we were present, that the steps above were done as recorded (deviations included), and that the digest above is the one byok showed at the close of the ceremony.</p>");
    for (name, role, what) in &everyone {
        let _ = writeln!(s, "<div class=\"sig\"><b>{}</b> ({}, {what})<br><span class=\"tick\"></span>digest checked against the screen<br><br>Signature: <span class=\"line\"></span> Date: <span class=\"line short\"></span></div>", esc(name), esc(role));
    }
    let _ = writeln!(s, "</div></body></html>");
    s
}

fn fp_block(s: &mut String, f: &Fp) {
    let _ = writeln!(
        s,
        "<div class=\"fp keep\"><b>{}</b> ({})<br><code>{}</code><br><span class=\"words\">{}</span></div>",
        esc(&f.what),
        esc(&f.note),
        esc(&f.hex),
        f.words.iter().map(|l| esc(l)).collect::<Vec<_>>().join("<br>")
    );
}
