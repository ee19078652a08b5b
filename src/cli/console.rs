//! The terminal as byok's [`Console`]: PINs without echo (`rpassword`), the officers'
//! answers from standard input, warnings on standard error, and progress as a bar with
//! an ETA on a terminal (`indicatif`) or as plain `[n/total]` lines otherwise. `--quiet`
//! ([`set_quiet`]) silences the progress and the notes, never a warning, a question or
//! an error.

use byok_core::console::Console;
use byok_core::text;
use byok_core::{err, Result};
use std::cell::{Cell, RefCell};
use std::io::{BufRead, IsTerminal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use zeroize::Zeroizing;

/// The bar on a terminal: steps done, elapsed time, the estimate of the time left, the
/// last step.
const BAR: &str = "[{pos}/{len}] {wide_bar} {elapsed} (ETA {eta}) {msg}";

static QUIET: AtomicBool = AtomicBool::new(false);

/// `--quiet`: no progress, no notes (warnings, questions and errors still show).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// The terminal byok runs on.
#[derive(Default)]
pub struct Terminal {
    bar: RefCell<Option<indicatif::ProgressBar>>,
    total: Cell<usize>,
    done: Cell<usize>,
}

impl Terminal {
    /// Run `f` (which talks to the people) with the bar hidden.
    fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &*self.bar.borrow() {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    /// One message on stderr (above the bar, if any). Values in it were escaped where
    /// the message was made; only its own line breaks act on the terminal here.
    fn line(&self, msg: &str) {
        let msg = &*text::printable_lines(msg);
        match &*self.bar.borrow() {
            Some(b) => b.println(msg),
            None => eprintln!("{msg}"),
        }
    }
}

impl Console for Terminal {
    fn secret(&self, prompt: &str) -> Option<Zeroizing<String>> {
        self.suspend(|| rpassword::prompt_password(prompt).ok().map(Zeroizing::new))
    }

    fn ask(&self, text: &str, question: &str) -> Result<String> {
        self.suspend(|| {
            eprintln!("{}", text::printable_lines(text));
            eprint!("{}", text::printable(question));
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| err!(Io, "cannot read the officers' answer: {e}"))?;
            if !std::io::stdin().is_terminal() {
                // The answer was not echoed: end the prompt's line.
                eprintln!();
            }
            Ok(line.trim().to_string())
        })
    }

    fn warn(&self, text: &str) {
        self.line(&format!("warning: {}", text::printable(text)));
    }

    fn begin(&self, total: usize) {
        self.total.set(total);
        self.done.set(0);
        if std::io::stderr().is_terminal() && !quiet() {
            let b = indicatif::ProgressBar::new(total as u64);
            // The ETA is the mean time of the steps done so far times the steps left:
            // rough when the steps differ (a 4096-bit keygen and a manifest), but it
            // moves while a long step runs (the tick redraws the elapsed time).
            if let Ok(style) = indicatif::ProgressStyle::with_template(BAR) {
                b.set_style(style);
            }
            b.enable_steady_tick(Duration::from_secs(1));
            *self.bar.borrow_mut() = Some(b);
        }
    }

    fn step(&self, msg: &str) {
        if quiet() {
            return;
        }
        let msg = &*text::printable(msg);
        self.done.set(self.done.get() + 1);
        match &*self.bar.borrow() {
            Some(b) => {
                b.set_message(msg.to_string());
                b.inc(1);
                b.println(format!("done: {msg}"));
            }
            None => eprintln!("[{}/{}] {msg}", self.done.get(), self.total.get()),
        }
    }

    fn note(&self, msg: &str) {
        if !quiet() {
            self.line(msg);
        }
    }

    fn end(&self) {
        if let Some(b) = self.bar.borrow_mut().take() {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_shows_the_eta() {
        // An invalid template would silently fall back to indicatif's default bar.
        let style = indicatif::ProgressStyle::with_template(BAR).unwrap();
        let b = indicatif::ProgressBar::hidden().with_style(style);
        b.set_length(4);
        b.inc(1);
        assert!(BAR.contains("{eta}"));
    }
}
