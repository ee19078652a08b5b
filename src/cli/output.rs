//! Printing: a report as JSON (`--json`) or as its text, warnings and the error line on
//! stderr, and the PGP-word lines of a fingerprint.

use byok_core::{err, text, words, Mode, Result};
use serde::Serialize;
use std::fmt::{self, Display};
use std::io::Write;

/// Print a report on stdout: its serde form with `json`, else its text (`Display`,
/// which ends every line it writes with a newline). A stdout that cannot be written
/// (a closed pipe) is an error, not a panic. Either way no character from the report's
/// values can act on the terminal (see [`print_stdout`] and [`render`]).
pub fn emit<T: Serialize + Display>(json: bool, report: &T) -> Result<()> {
    print_stdout(&render(json, report)?)
}

/// What [`emit`] prints. JSON escapes C0 control characters itself; the others a
/// terminal acts on (DEL, C1 controls such as U+009B, bidi overrides, invisible
/// characters) can only sit inside its strings, where `\uXXXX` means the same: they are
/// written so, and the JSON stays the same value.
fn render<T: Serialize + Display>(json: bool, report: &T) -> Result<String> {
    if json {
        let s = serde_json::to_string_pretty(report)
            .map_err(|e| err!(Internal, "cannot print JSON: {e}"))?;
        let mut out = String::with_capacity(s.len() + 1);
        for c in s.chars() {
            if text::is_hidden(c) && c != '\n' {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            } else {
                out.push(c);
            }
        }
        out.push('\n');
        Ok(out)
    } else {
        Ok(report.to_string())
    }
}

/// Write text to stdout. The reports escape every value they print
/// ([`byok_core::text::Printable`]); this is the last guard: whatever reaches it, only
/// its line breaks act on the terminal ([`text::printable_lines`]).
pub fn print_stdout(text: &str) -> Result<()> {
    let text = text::printable_lines(text);
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| err!(Io, "cannot write to standard output: {e}"))
}

/// One `warning: …` line on stderr. A stderr that cannot be written has nowhere to
/// report it: the warning is dropped rather than the command stopped by a panic.
pub fn warn(w: &str) {
    let w = text::printable(w);
    let _ = writeln!(std::io::stderr().lock(), "warning: {w}");
}

pub fn warn_all<S: AsRef<str>>(warnings: impl IntoIterator<Item = S>) {
    for w in warnings {
        warn(w.as_ref());
    }
}

/// A plan's warnings, less the rehearsal warning already printed for `--rehearsal`.
pub fn warn_plan(warnings: &[String], mode: Mode) {
    warn_all(
        warnings
            .iter()
            .filter(|w| mode.warning() != Some(w.as_str())),
    );
}

/// The one line a failed command prints.
pub fn error(e: &byok_core::Error) {
    let _ = writeln!(std::io::stderr().lock(), "error: {e}");
}

/// The PGP words of a hex fingerprint, four to a line, each line indented four spaces
/// and ended by a newline: what follows a `words:` line.
pub struct Words<'a>(pub &'a str);

impl Display for Words<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = hex::decode(self.0).unwrap_or_default();
        for line in words::to_word_lines(&bytes) {
            writeln!(f, "    {line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_indented_four_to_a_line() {
        // The PGP word list's documented vector (20 bytes: 5 lines of 4 words).
        let w = Words("E58294F2E9A227486E8B061B31CC528FD7FA3F19").to_string();
        let lines: Vec<&str> = w.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], "    topmost Istanbul Pluto vagabond");
        assert!(w.ends_with('\n'));
        assert!(lines
            .iter()
            .all(|l| l.starts_with("    ") && l.split(' ').filter(|x| !x.is_empty()).count() == 4));
    }

    #[test]
    fn words_of_bad_hex_are_one_empty_line() {
        // Never a panic; the line is there so the `words:` block keeps its shape.
        assert_eq!(Words("not hex").to_string(), "    \n");
    }

    /// Nothing from a value acts on the terminal: JSON gets `\uXXXX` for what serde_json
    /// leaves raw (DEL, C1, bidi), and stays the same JSON.
    #[test]
    fn values_cannot_act_on_the_terminal() {
        #[derive(Serialize)]
        struct G {
            generator: String,
        }
        impl Display for G {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                writeln!(f, "generator: {}", text::Printable(&self.generator))
            }
        }
        let g = G {
            generator: "byok\u{1b}[2J\u{7}\r\u{202e}\u{9b}31m\u{7f}".into(),
        };
        let json = render(true, &g).unwrap();
        assert!(
            !json.chars().any(|c| text::is_hidden(c) && c != '\n'),
            "{json:?}"
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["generator"], g.generator.as_str());
        let t = render(false, &g).unwrap();
        assert_eq!(
            t,
            "generator: byok\\u{1b}[2J\\u{7}\\r\\u{202e}\\u{9b}31m\\u{7f}\n"
        );
    }

    #[test]
    fn json_is_pretty_with_a_newline() {
        #[derive(Serialize)]
        struct R {
            a: u8,
        }
        impl Display for R {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                writeln!(f, "a is {}", self.a)
            }
        }
        let r = R { a: 1 };
        assert_eq!(render(true, &r).unwrap(), "{\n  \"a\": 1\n}\n");
        assert_eq!(render(false, &r).unwrap(), "a is 1\n");
    }
}
