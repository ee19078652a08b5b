//! What byok asks of the people at the keyboard, and what it tells them while it works.
//!
//! The library never reads the terminal itself: PIN prompts, the officers' answers
//! during a ceremony, warnings and progress all go through a [`Console`], which the
//! command-line layer implements (no echo for secrets, a progress bar on a terminal).
//! Unit tests implement it with scripted answers (`Scripted`) or none (`Unattended`).

use crate::Result;
use zeroize::Zeroizing;

/// The people at the keyboard, as the library sees them.
pub trait Console {
    /// Ask for a secret (a PIN) without echo. `None` when no one can be asked (no
    /// terminal).
    fn secret(&self, prompt: &str) -> Option<Zeroizing<String>>;

    /// Show `text` (several lines) to the officers, then ask `question` and return their
    /// answer line, trimmed. An error when no one can answer.
    fn ask(&self, text: &str, question: &str) -> Result<String>;

    /// Tell the people something that needs their attention (`warning: …`).
    fn warn(&self, text: &str);

    /// A run of `total` steps begins.
    fn begin(&self, total: usize);

    /// One step of the run is done; `msg` says what was done.
    fn step(&self, msg: &str);

    /// Something to know between steps.
    fn note(&self, msg: &str);

    /// The run is over (finished or stopped).
    fn end(&self);
}

/// A run of steps shown on a console: [`Console::begin`] when made,
/// [`Console::end`] when dropped, so a run stopped by an error (`?`) still ends its
/// progress bar.
pub struct Steps<'a>(&'a dyn Console);

impl<'a> Steps<'a> {
    /// Begin a run of `total` steps on `console`.
    pub fn begin(console: &'a dyn Console, total: usize) -> Steps<'a> {
        console.begin(total);
        Steps(console)
    }

    /// One step is done.
    pub fn step(&self, msg: &str) {
        self.0.step(msg);
    }
}

impl Drop for Steps<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A console with no one at it, for unit tests: asks fail, secrets are absent, warnings
/// and notes go to standard error, progress is silent.
#[cfg(test)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Unattended;

#[cfg(test)]
impl Console for Unattended {
    fn secret(&self, _prompt: &str) -> Option<Zeroizing<String>> {
        None
    }

    fn ask(&self, _text: &str, question: &str) -> Result<String> {
        crate::bail!("no one to answer {question:?}: run on a terminal, or use the command's non-interactive form")
    }

    fn warn(&self, text: &str) {
        eprintln!("warning: {text}");
    }

    fn begin(&self, _total: usize) {}

    fn step(&self, _msg: &str) {}

    fn note(&self, msg: &str) {
        eprintln!("{msg}");
    }

    fn end(&self) {}
}

/// A console that answers from a script, for tests: secrets and answers are taken in
/// order; everything shown is kept so a test can read it back. Unit tests only.
#[cfg(test)]
#[derive(Debug, Default)]
pub struct Scripted {
    pub secrets: std::cell::RefCell<Vec<String>>,
    pub answers: std::cell::RefCell<Vec<String>>,
    /// Every line shown: questions, warnings (`warning: …`), steps (`done: …`), notes.
    pub shown: std::cell::RefCell<Vec<String>>,
}

#[cfg(test)]
impl Scripted {
    /// A console that will answer `answers`, in order.
    pub fn answering(answers: &[&str]) -> Scripted {
        Scripted {
            answers: std::cell::RefCell::new(answers.iter().rev().map(|s| s.to_string()).collect()),
            ..Scripted::default()
        }
    }

    /// Everything shown so far, one line each.
    pub fn transcript(&self) -> String {
        self.shown.borrow().join("\n")
    }
}

#[cfg(test)]
impl Console for Scripted {
    fn secret(&self, prompt: &str) -> Option<Zeroizing<String>> {
        self.shown.borrow_mut().push(prompt.to_string());
        self.secrets.borrow_mut().pop().map(Zeroizing::new)
    }

    fn ask(&self, text: &str, question: &str) -> Result<String> {
        let mut shown = self.shown.borrow_mut();
        shown.extend(text.lines().map(str::to_string));
        shown.push(question.to_string());
        match self.answers.borrow_mut().pop() {
            Some(a) => Ok(a.trim().to_string()),
            None => crate::bail!("the script has no answer to {question:?}"),
        }
    }

    fn warn(&self, text: &str) {
        self.shown.borrow_mut().push(format!("warning: {text}"));
    }

    fn begin(&self, total: usize) {
        self.shown
            .borrow_mut()
            .push(format!("begin: {total} steps"));
    }

    fn step(&self, msg: &str) {
        self.shown.borrow_mut().push(format!("done: {msg}"));
    }

    fn note(&self, msg: &str) {
        self.shown.borrow_mut().push(msg.to_string());
    }

    fn end(&self) {
        self.shown.borrow_mut().push("end".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_end_when_dropped_even_on_an_error() {
        let c = Scripted::default();
        let stopped = || -> Result<()> {
            let s = Steps::begin(&c, 3);
            s.step("one");
            crate::bail!("stopped")
        };
        assert!(stopped().is_err());
        assert_eq!(c.transcript(), "begin: 3 steps\ndone: one\nend");
    }

    #[test]
    fn unattended_answers_nothing() {
        let c = Unattended;
        assert!(c.secret("PIN: ").is_none());
        let e = c.ask("KEK a", "Type the words: ").unwrap_err();
        assert!(e.message().contains("no one to answer"), "{e}");
    }

    #[test]
    fn scripted_answers_in_order_and_keeps_what_it_showed() {
        let c = Scripted::answering(&["first", "  second  "]);
        assert_eq!(c.ask("line 1\nline 2", "Q1? ").unwrap(), "first");
        assert_eq!(c.ask("", "Q2? ").unwrap(), "second");
        assert!(c.ask("", "Q3? ").is_err());
        c.warn("careful");
        c.step("did it");
        let t = c.transcript();
        assert!(t.starts_with("line 1\nline 2\nQ1? "), "{t}");
        assert!(
            t.contains("warning: careful") && t.contains("done: did it"),
            "{t}"
        );
    }
}
