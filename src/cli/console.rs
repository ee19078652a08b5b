//! The terminal as byok's [`Console`]: PINs without echo (`rpassword`), the officers'
//! answers from standard input, warnings on standard error, and progress as a bar on a
//! terminal (`indicatif`) or as plain `[n/total]` lines otherwise.

use byok_core::console::Console;
use byok_core::text;
use byok_core::{err, Result};
use std::cell::{Cell, RefCell};
use std::io::{BufRead, IsTerminal};
use zeroize::Zeroizing;

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
        if std::io::stderr().is_terminal() {
            let b = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("[{pos}/{len}] {wide_bar} {msg}")
            {
                b.set_style(style);
            }
            *self.bar.borrow_mut() = Some(b);
        }
    }

    fn step(&self, msg: &str) {
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
        self.line(msg);
    }

    fn end(&self) {
        if let Some(b) = self.bar.borrow_mut().take() {
            b.finish_and_clear();
        }
    }
}
