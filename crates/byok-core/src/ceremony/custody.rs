//! What `byok ceremony run` records for the ceremony's report beyond the keys: the
//! tamper-evident bags the HSM and its smartcards come out of and go back into, and the
//! deviations from the script the officers note.
//!
//! - At the start (the preflight, before the transcript is opened), the officers confirm
//!   the plan's `hsm_bags.in`: they type the numbers printed on the bags, or `yes` when
//!   every number matched. A bag that is not the plan's stops the ceremony. The open
//!   record carries `hsm_bags_in`: `{"bags": [..], "source": "officers"|"plan", "method"}`.
//! - At the close, the officers type the numbers of the new bags (`hsm_bags.out`; `yes`
//!   takes the plan's). New bags other than the plan's are recorded as typed, with a
//!   deviation saying so. `--non-interactive` records the plan's, with `"source": "plan"`.
//!   The close record carries `hsm_bags_out` (as above, plus `planned`).
//! - Deviations: each `--deviation TEXT`, then (interactive) one line per deviation the
//!   officers type at the close, an empty line to finish. The close record carries
//!   `deviations`: `[{"text", "source": "--deviation"|"officers"|"byok"}]`, empty when
//!   there was none, so the record says so. All of it is in the close record, under the
//!   HSM's signature.

use super::plan::CheckedPlan;
use super::rules::valid_bag_number;
use crate::console::Console;
use crate::text::Printable;
use crate::{bail, Result};
use serde::Serialize;

/// Longest deviation text.
pub const DEVIATION_MAX: usize = 1024;
/// Most deviations one close records from the officers' prompt.
const DEVIATIONS_MAX: usize = 100;

/// Bag numbers as recorded.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Bags {
    pub bags: Vec<String>,
    /// `officers` (typed or confirmed at the keyboard) or `plan` (`--non-interactive`).
    pub source: &'static str,
    pub method: String,
    /// The plan's list, where the officers typed other bags (`hsm_bags_out`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned: Option<Vec<String>>,
}

/// One deviation from the script.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Deviation {
    pub text: String,
    /// `--deviation` (the command line), `officers` (typed at the close) or `byok`
    /// (noted by byok itself, e.g. new bags other than the plan's).
    pub source: &'static str,
}

/// Is `t` a deviation text byok records? 1-[`DEVIATION_MAX`] bytes without control or
/// invisible formatting characters.
pub fn check_deviation(t: &str) -> Result<()> {
    if t.trim().is_empty() || t.len() > DEVIATION_MAX || crate::text::has_hidden(t) {
        bail!(
            "deviation {:?} is not recordable: write it as one line of 1-{DEVIATION_MAX} printable characters, without control or invisible formatting characters",
            crate::text::printable(t)
        );
    }
    Ok(())
}

/// Split what the officers typed into bag numbers: separated by spaces or commas.
fn typed_bags(answer: &str) -> Vec<String> {
    answer
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The same bags, in any order and letter case.
fn same_bags(a: &[String], b: &[String]) -> bool {
    let norm = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_ascii_uppercase()).collect();
        v.sort();
        v
    };
    norm(a) == norm(b)
}

/// The officers confirm the bags the HSM and smartcards come out of (none when the plan
/// lists none).
pub fn confirm_bags_in(
    plan: &CheckedPlan,
    console: &dyn Console,
    non_interactive: bool,
) -> Result<Option<Bags>> {
    let Some(bags) = &plan.plan.hsm_bags else {
        return Ok(None);
    };
    let want = &bags.bags_in;
    if non_interactive {
        return Ok(Some(Bags {
            bags: want.clone(),
            source: "plan",
            method: "non-interactive: the plan's bag numbers; no officer confirmed them".into(),
            planned: None,
        }));
    }
    let text = format!(
        "\nTamper-evident bags: the HSM and its smartcards must come out of bag{} {}.\nCheck each bag is intact and its number is the plan's before opening it.",
        if want.len() == 1 { "" } else { "s" },
        want.join(", ")
    );
    let answer = console.ask(
        &text,
        "Type the numbers printed on the bags, or \"yes\" if every bag is intact and its number matched: ",
    )?;
    if answer.is_empty() {
        bail!("no answer for the tamper-evident bags: the officers must confirm them (or run with --non-interactive to record the plan's numbers unconfirmed)");
    }
    if answer.eq_ignore_ascii_case("yes") {
        return Ok(Some(Bags {
            bags: want.clone(),
            source: "officers",
            method: "officers checked every bag and answered yes".into(),
            planned: None,
        }));
    }
    let typed = typed_bags(&answer);
    if !same_bags(&typed, want) {
        bail!(
            Integrity,
            "the bags typed ({}) are not the plan's hsm_bags.in ({}): stop; the HSM may have been tampered with. Record the incident and investigate before any key is made",
            Printable(typed.join(", ")),
            want.join(", ")
        );
    }
    Ok(Some(Bags {
        bags: want.clone(),
        source: "officers",
        method: "officers typed the bag numbers".into(),
        planned: None,
    }))
}

/// The bags the HSM and smartcards go into at the end (none when the plan lists none),
/// and a deviation when they are not the plan's.
pub fn bags_out(
    plan: &CheckedPlan,
    console: &dyn Console,
    non_interactive: bool,
) -> Result<Option<(Bags, Option<Deviation>)>> {
    let Some(bags) = &plan.plan.hsm_bags else {
        return Ok(None);
    };
    let want = &bags.bags_out;
    if non_interactive {
        return Ok(Some((
            Bags {
                bags: want.clone(),
                source: "plan",
                method: "non-interactive: the plan's bag numbers; no officer entered them".into(),
                planned: None,
            },
            None,
        )));
    }
    let text = format!(
        "\nSeal the HSM and its smartcards in new tamper-evident bags (the plan's: {}).",
        want.join(", ")
    );
    let answer = console.ask(
        &text,
        "Type the numbers of the new bags, or \"yes\" if they are the plan's: ",
    )?;
    if answer.is_empty() {
        bail!("no bag numbers entered: type the new bags' numbers at the close (run again with --resume)");
    }
    if answer.eq_ignore_ascii_case("yes") {
        return Ok(Some((
            Bags {
                bags: want.clone(),
                source: "officers",
                method: "officers sealed the plan's bags and answered yes".into(),
                planned: None,
            },
            None,
        )));
    }
    let typed = typed_bags(&answer);
    if let Some(b) = typed.iter().find(|b| !valid_bag_number(b)) {
        bail!(
            "{:?} is not a bag number (ASCII letters, digits, '-', '_', '.' and '/'): type the numbers again (run again with --resume)",
            crate::text::printable(b)
        );
    }
    // An opened tamper-evident bag is never sealed again, and a bag holds one seal.
    let opened: Vec<String> = bags
        .bags_in
        .iter()
        .map(|b| b.to_ascii_uppercase())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for b in &typed {
        let up = b.to_ascii_uppercase();
        if opened.contains(&up) {
            bail!(
                "bag {} is one the HSM came out of at the start: an opened tamper-evident bag cannot be sealed again; seal the HSM in new bags and type their numbers (run again with --resume)",
                Printable(b)
            );
        }
        if !seen.insert(up) {
            bail!(
                "bag {} is typed twice: each new bag has its own number; type them again (run again with --resume)",
                Printable(b)
            );
        }
    }
    if same_bags(&typed, want) {
        return Ok(Some((
            Bags {
                bags: typed,
                source: "officers",
                method: "officers typed the bag numbers".into(),
                planned: None,
            },
            None,
        )));
    }
    let deviation = Deviation {
        text: format!(
            "the HSM and smartcards were sealed in bags {}, not the plan's {}",
            typed.join(", "),
            want.join(", ")
        ),
        source: "byok",
    };
    Ok(Some((
        Bags {
            bags: typed,
            source: "officers",
            method: "officers typed the bag numbers; they are not the plan's".into(),
            planned: Some(want.clone()),
        },
        Some(deviation),
    )))
}

/// The officers' deviations, typed at the close: one per line, an empty line to finish.
/// A line byok cannot record is refused with a warning and asked again.
pub fn ask_deviations(console: &dyn Console, recorded: usize) -> Result<Vec<Deviation>> {
    let mut out = Vec::new();
    let mut text = format!(
        "\nDeviations from the script: anything that did not go as written, and how it was resolved.{}",
        if recorded > 0 {
            format!(" ({recorded} already recorded.)")
        } else {
            String::new()
        }
    );
    while out.len() < DEVIATIONS_MAX {
        let line = console.ask(
            &text,
            "Any deviation to record? Type it on one line, or an empty line to finish: ",
        )?;
        text = String::new();
        if line.is_empty() {
            break;
        }
        match check_deviation(&line) {
            Ok(()) => out.push(Deviation {
                text: line,
                source: "officers",
            }),
            Err(e) => console.warn(e.message()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ceremony::testplan;
    use crate::console::Scripted;
    use serde_json::json;

    fn plan() -> (tempfile::TempDir, CheckedPlan) {
        let dir = tempfile::tempdir().unwrap();
        let mut v = testplan::value(2);
        v["hsm_bags"] = json!({"in": ["TEB-1", "TEB-2"], "out": ["TEB-9"]});
        let (_, p) = testplan::check(dir.path(), &v);
        (dir, p.expect("sound"))
    }

    #[test]
    fn bags_in_are_confirmed_by_number_or_yes_and_a_wrong_bag_stops() {
        let (_d, p) = plan();
        for (answer, method) in [
            ("yes", "answered yes"),
            ("teb-2, TEB-1", "typed the bag numbers"),
        ] {
            let c = Scripted::answering(&[answer]);
            let b = confirm_bags_in(&p, &c, false).unwrap().unwrap();
            assert_eq!(b.bags, ["TEB-1", "TEB-2"]);
            assert_eq!(b.source, "officers");
            assert!(b.method.contains(method), "{b:?}");
            assert!(c.transcript().contains("TEB-1, TEB-2"));
        }
        for answer in ["TEB-1", "TEB-1 TEB-3", ""] {
            let c = Scripted::answering(&[answer]);
            assert!(confirm_bags_in(&p, &c, false).is_err(), "{answer:?}");
        }
        let e = confirm_bags_in(&p, &Scripted::answering(&["TEB-1 TEB-3"]), false).unwrap_err();
        assert!(e.message().contains("may have been tampered with"), "{e}");
        let b = confirm_bags_in(&p, &Scripted::default(), true)
            .unwrap()
            .unwrap();
        assert_eq!((b.source, b.bags.len()), ("plan", 2));
        let (_d, none) = testplan::checked(2);
        assert_eq!(
            confirm_bags_in(&none, &Scripted::default(), false).unwrap(),
            None
        );
    }

    #[test]
    fn bags_out_are_recorded_as_typed_and_others_than_the_plan_s_are_a_deviation() {
        let (_d, p) = plan();
        let (b, d) = bags_out(&p, &Scripted::answering(&["yes"]), false)
            .unwrap()
            .unwrap();
        assert_eq!(
            (b.bags.clone(), b.source, d),
            (vec!["TEB-9".into()], "officers", None)
        );
        let (b, d) = bags_out(&p, &Scripted::answering(&["TEB-10"]), false)
            .unwrap()
            .unwrap();
        assert_eq!(b.bags, ["TEB-10"]);
        assert_eq!(b.planned, Some(vec!["TEB-9".to_string()]));
        let d = d.expect("a deviation");
        assert_eq!(d.source, "byok");
        assert!(d.text.contains("TEB-10, not the plan's TEB-9"), "{d:?}");
        assert!(bags_out(&p, &Scripted::answering(&["<b>"]), false).is_err());
        // The bag the HSM came out of, or one bag twice: refused, not a deviation.
        for typed in ["teb-1", "TEB-10 TEB-10"] {
            let e = bags_out(&p, &Scripted::answering(&[typed]), false).unwrap_err();
            assert!(
                e.message().contains("cannot be sealed again")
                    || e.message().contains("typed twice"),
                "{e}"
            );
        }
        assert!(bags_out(&p, &Scripted::answering(&[""]), false).is_err());
        let (b, d) = bags_out(&p, &Scripted::default(), true).unwrap().unwrap();
        assert_eq!(
            (b.source, b.bags.clone(), d),
            ("plan", vec!["TEB-9".into()], None)
        );
    }

    #[test]
    fn deviations_are_lines_until_an_empty_one() {
        let c = Scripted::answering(&["Bob arrived 10 min late", "bad\u{1b}[2J", "second", ""]);
        let d = ask_deviations(&c, 1).unwrap();
        assert_eq!(
            d.iter().map(|d| d.text.as_str()).collect::<Vec<_>>(),
            ["Bob arrived 10 min late", "second"]
        );
        assert!(d.iter().all(|d| d.source == "officers"));
        assert!(
            c.transcript().contains("warning: deviation"),
            "{}",
            c.transcript()
        );
        assert!(c.transcript().contains("1 already recorded"));
        assert!(check_deviation("").is_err());
        assert!(check_deviation(&"x".repeat(DEVIATION_MAX + 1)).is_err());
        assert!(check_deviation("a \u{202e} b").is_err());
        check_deviation("Spare smartcard 3 was not used; it stays in bag TEB-7").unwrap();
    }
}
