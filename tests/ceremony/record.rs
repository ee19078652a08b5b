//! The printed ceremony record: a rehearsal on a SoftHSM token, its transcript rendered
//! by `byok transcript render`, printed to PDF by headless Chromium (Debian's `chromium`)
//! and read back with poppler (`pdftotext`, `pdfinfo`). CI installs both
//! (`softhsm/setup.sh --tests`); a machine without them fails here, saying so.
//!
//! `BYOK_UPDATE_SNAPSHOTS=1` also writes the record's first page as
//! `docs/ceremony-record.png`, the picture the README shows.

use crate::common::*;
use crate::rig::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The witness's name: quotes and markup are legal in a name, and must print as text.
const WITNESS: &str = "Carol \"CJ\" O'Auditor <script>";

/// Run `program` with `args`, killed after `limit`; a missing program fails the test
/// with what to install.
fn tool(program: &str, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): the record test needs Debian's chromium and poppler-utils; run `softhsm/setup.sh --tests` (as root or with sudo) to install them"
            )
        });
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "{program} did not finish in {limit:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Print `html` to `pdf` with headless Chromium (`--no-sandbox`: CI runs as root).
fn print_pdf(html: &Path, pdf: &Path, profile: &Path) {
    let url = format!("file://{}", html.display());
    tool(
        "chromium",
        &[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--print-to-pdf={}", pdf.display()),
            &url,
        ],
        Duration::from_secs(180),
    );
    assert!(pdf.is_file(), "chromium wrote no {}", pdf.display());
}

fn pdf_pages(pdf: &Path) -> usize {
    let o = tool(
        "pdfinfo",
        &[&pdf.display().to_string()],
        Duration::from_secs(60),
    );
    let info = String::from_utf8_lossy(&o.stdout).into_owned();
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap_or_else(|| panic!("pdfinfo names no page count: {info}"));
    pages.trim().parse().unwrap()
}

/// The text of pages `first..=last`, whitespace collapsed to single spaces.
fn pdf_text(pdf: &Path, first: usize, last: usize) -> String {
    let o = tool(
        "pdftotext",
        &[
            "-f",
            &first.to_string(),
            "-l",
            &last.to_string(),
            &pdf.display().to_string(),
            "-",
        ],
        Duration::from_secs(60),
    );
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_printed_record_carries_the_digest_words_and_everyone_who_signs() {
    let tok = Token::new(TOKEN);
    let mut plan = plan_value();
    plan["location"] = json!("Contoso HQ, secure room 4.12, Redmond");
    plan["witnesses"] = json!([{"name": WITNESS, "role": "internal auditor"}]);
    plan["hsm_bags"] = json!({"in": ["TEB-100231", "TEB-100232"], "out": ["TEB-100298"]});
    write_plan(&tok.dir(), &plan);
    let o = run(
        &tok,
        &[
            "--json",
            "--deviation",
            "Smartcard 3 was not used; it stays sealed in TEB-100232",
        ],
    );
    let report: Value = serde_json::from_str(&ok(&o)).unwrap();
    let digest_words = report["transcript_digest_words"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&tok.byok(&[
        "transcript",
        "render",
        "out/transcript.jsonl",
        "--out-dir",
        "print",
    ]));
    let print = tok.dir().join("print");
    let html = fs::read_to_string(print.join("transcript.html")).unwrap();
    assert!(!html.contains("<script>"), "the witness's name is escaped");
    let pdf = print.join("record.pdf");
    print_pdf(
        &print.join("transcript.html"),
        &pdf,
        &tok.dir().join("chromium"),
    );

    let pages = pdf_pages(&pdf);
    // The record of four keys fits a few A4 pages, the sign-off on a page of its own.
    assert!((3..=8).contains(&pages), "{pages} pages");
    let all = pdf_text(&pdf, 1, pages);
    // The digest's words, in order, as the officers compare them with the screen.
    assert!(all.contains(&digest_words), "digest words missing:\n{all}");
    for name in ["Alice Example", "Bob Example", WITNESS] {
        assert!(all.contains(name), "{name:?} missing:\n{all}");
    }
    for t in [
        "Contoso HQ, secure room 4.12, Redmond",
        "TEB-100231, TEB-100232",
        "TEB-100298",
        "Smartcard 3 was not used; it stays sealed in TEB-100232",
        &fp(&keks().0),
    ] {
        assert!(all.contains(t), "{t:?} missing:\n{all}");
    }
    // The first page opens the record; the last is the sign-off: the digest and a
    // signature line for each officer and the witness, and nothing of the steps.
    let first = pdf_text(&pdf, 1, 1);
    assert!(
        first.contains("Key ceremony record: contoso-rehearsal") && !first.contains("Signature:"),
        "{first}"
    );
    let signoff_start = (1..=pages)
        .find(|p| pdf_text(&pdf, *p, *p).contains("Transcript digest and sign-off"))
        .expect("a sign-off page");
    let signoff = pdf_text(&pdf, signoff_start, pages);
    assert!(
        signoff.starts_with("Transcript digest and sign-off"),
        "{signoff}"
    );
    assert!(signoff.contains(&digest_words), "{signoff}");
    assert_eq!(signoff.matches("Signature:").count(), 3, "{signoff}");
    assert!(!signoff.contains("keygen-started"), "{signoff}");

    if std::env::var_os("BYOK_UPDATE_SNAPSHOTS").is_some() {
        let png = print.join("page");
        tool(
            "pdftoppm",
            &[
                "-png",
                "-r",
                "60",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                &pdf.display().to_string(),
                &png.display().to_string(),
            ],
            Duration::from_secs(60),
        );
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ceremony-record.png");
        fs::copy(print.join("page.png"), &docs).unwrap();
    }
}
