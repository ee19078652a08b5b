//! Text from outside, made safe to show and to compare.
//!
//! Every value byok prints comes from somewhere: the plan (names, labels, descriptions),
//! the HSM (token label, manufacturer, model), a package (`generator`), a file name. A
//! control character in it (an escape sequence, a carriage return, a bell) would act on
//! the officers' terminal: clear the screen, rewrite a line, hide the text before it. A
//! bidirectional override (U+202E) or an invisible character reorders or hides what is
//! shown. So:
//!
//! - [`printable`] / [`Printable`]: one value, every such character written as a visible
//!   escape (`\n`, `\r`, `\t`, `\u{1b}`, `\u{202e}`), a line break included: a value is
//!   one line, always;
//! - [`printable_lines`]: a whole report, the same but keeping its own line breaks (the
//!   last guard where the text leaves byok: stdout, stderr, the console);
//! - [`markdown`] and [`html`]: a value inside the rendered record (`transcript.md`,
//!   `transcript.html`), escaped for that language after [`printable`];
//! - [`is_single_script`] and [`identity_key`]: the plan rules on officers' names, so that
//!   a homoglyph (Cyrillic "А" for Latin "A"), a full-width letter or a case change cannot
//!   make one person two.

use std::borrow::Cow;
use std::fmt;

/// Is `c` a character that acts on a terminal or hides text rather than showing itself?
///
/// Control characters (C0, DEL, C1: `char::is_control`), the line and paragraph
/// separators, and the invisible format characters that reorder or hide text: the bidi
/// marks, embeddings, overrides and isolates (U+061C, U+200E-U+200F, U+202A-U+202E,
/// U+2066-U+2069), the zero-width characters (U+200B-U+200D, U+2060-U+2064, U+FEFF),
/// the deprecated format characters U+206A-U+206F, the interlinear annotation marks
/// (U+FFF9-U+FFFB), the Mongolian vowel separator (U+180E) and the tag characters
/// (U+E0000-U+E007F). (A hand-written list: no crate in byok's tree names the `Cf`
/// category; these are the ones that reorder or hide text.)
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// Does `s` hold a character [`is_hidden`] names?
pub fn has_hidden(s: &str) -> bool {
    s.chars().any(is_hidden)
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => out.extend(c.escape_unicode()),
    }
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let hidden = |c: char| is_hidden(c) && !(keep_newlines && c == '\n');
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if hidden(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One value from outside, as it may be printed: every character [`is_hidden`] names
/// written as a visible escape (`\n`, `\r`, `\t`, `\u{1b}`, `\u{202e}`), so the value
/// shows on one line and cannot act on the terminal. Ordinary text is returned as is.
pub fn printable(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// A whole text (a report of several lines): as [`printable`], but its line breaks stay.
pub fn printable_lines(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// A value shown through [`printable`]: `Printable(&label)`, `Printable(path.display())`.
pub struct Printable<T>(pub T);

impl<T: fmt::Display> fmt::Display for Printable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.to_string();
        f.pad(&printable(&s))
    }
}

/// A value inside Markdown text (a paragraph or a table cell): [`printable`], then every
/// ASCII punctuation character backslash-escaped (CommonMark lets any of them be, and
/// then shows it as itself), so that `|` cannot end a cell, `*`, `_` and backticks cannot
/// start emphasis or code, `<` cannot open raw HTML and `[` cannot make a link; leading
/// spaces (which would start a code block) are dropped.
pub fn markdown(s: &str) -> String {
    let p = printable(s);
    let mut out = String::with_capacity(p.len() + 8);
    for c in p.trim_start().chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A value inside HTML text or a double- or single-quoted attribute: [`printable`], then
/// `&`, `<`, `>`, `"` and `'` as character references.
pub fn html(s: &str) -> String {
    let p = printable(s);
    let mut out = String::with_capacity(p.len() + 8);
    for c in p.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Is every letter of `s` of one script (with the usual mixtures: Japanese kana with Han,
/// Korean Hangul with Han, and so on), by Unicode's script sets (UTS #39 "single script")?
/// Spaces, digits and punctuation belong to every script. "Alice Example" and "山田 太郎"
/// are single-script; "Аlice" with a Cyrillic "А" is not.
pub fn is_single_script(s: &str) -> bool {
    use unicode_security::MixedScript;
    s.is_single_script()
}

/// What two names must differ in to name two people: the name with its outer spaces
/// trimmed, NFKC-normalized (full-width and compatibility forms to their plain letters),
/// lowercased, NFKC again, and then reduced to its UTS #39 confusable skeleton (a letter
/// that looks like another maps to it: Cyrillic "а" to Latin "a", "ӏ" to "l"). Two names
/// with the same key look the same to the officers reading them.
pub fn identity_key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let folded: String = name
        .trim()
        .nfkc()
        .collect::<String>()
        .to_lowercase()
        .nfkc()
        .collect();
    unicode_security::skeleton(&folded).collect::<String>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_escaped_and_ordinary_text_is_not_copied() {
        assert!(matches!(printable("Alice Example"), Cow::Borrowed(_)));
        assert!(matches!(printable("Zoë 山田 €"), Cow::Borrowed(_)));
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("bell\u{7}"), "bell\\u{7}");
        assert_eq!(printable("one\r\ntwo\tx"), "one\\r\\ntwo\\tx");
        assert_eq!(printable("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(printable("x\u{9b}31m"), "x\\u{9b}31m");
        assert_eq!(
            printable("zero\u{200b}width\u{feff}"),
            "zero\\u{200b}width\\u{feff}"
        );
        assert_eq!(printable("\u{7f}"), "\\u{7f}");
        assert_eq!(printable("tag\u{e0041}"), "tag\\u{e0041}");
        // Whole texts keep their own line breaks, nothing else.
        assert_eq!(printable_lines("a\nb\u{1b}c\r\n"), "a\nb\\u{1b}c\\r\n");
        // The wrapper pads like a string.
        assert_eq!(format!("[{:<10}]", Printable("a\u{7}")), "[a\\u{7}    ]");
        assert_eq!(
            Printable(std::path::Path::new("x\u{1b}y").display()).to_string(),
            "x\\u{1b}y"
        );
    }

    #[test]
    fn markdown_and_html_cannot_be_injected() {
        assert_eq!(markdown("Alice Example"), "Alice Example");
        assert_eq!(
            markdown("<script>alert(1)</script>"),
            "\\<script\\>alert\\(1\\)\\<\\/script\\>"
        );
        assert_eq!(
            markdown("a|b *c* `d` [e](f)"),
            "a\\|b \\*c\\* \\`d\\` \\[e\\]\\(f\\)"
        );
        assert_eq!(markdown("    # code"), "\\# code");
        assert_eq!(markdown("x\ny"), "x\\\\ny");
        assert_eq!(
            html("<b>\"Eve\" & 'Mallory'</b>"),
            "&lt;b&gt;&quot;Eve&quot; &amp; &#39;Mallory&#39;&lt;/b&gt;"
        );
        assert_eq!(html("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn scripts_and_identities() {
        assert!(is_single_script("Alice Example"));
        assert!(is_single_script("O'Brien-Smith Jr."));
        assert!(is_single_script("山田 太郎"));
        assert!(is_single_script("やまだ たろう 山田"));
        assert!(is_single_script("Алиса"));
        assert!(!is_single_script("\u{410}lice"), "Cyrillic А + Latin lice");
        // One person, written several ways.
        let alice = identity_key("Alice Example");
        for same in [
            "alice example",
            " ALICE EXAMPLE ",
            "\u{FF21}lice Example", // full-width A
            "\u{410}lice Example",  // Cyrillic А
            "A\u{4CF}ice Example",  // Cyrillic palochka for l
            "Alice Ex\u{430}mple",  // Cyrillic а
        ] {
            assert_eq!(identity_key(same), alice, "{same:?}");
        }
        assert_ne!(identity_key("Alice Exampel"), alice);
        assert_ne!(identity_key("Bob Example"), alice);
    }
}
