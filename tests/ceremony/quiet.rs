//! `--quiet`: a ceremony run without a terminal prints its `[n/total]` progress lines;
//! with `--quiet` (before or after the command) none, while the warnings and the report
//! stay.

use crate::common::*;
use crate::rig::*;

fn progress_lines(err: &str) -> Vec<&str> {
    err.lines().filter(|l| l.starts_with('[')).collect()
}

#[test]
fn quiet_silences_progress_but_not_warnings() {
    let loud = Token::new(TOKEN);
    write_plan(&loud.dir(), &plan_value());
    let o = run(&loud, &[]);
    let report = ok(&o);
    let err = stderr(&o);
    let lines = progress_lines(&err);
    assert!(lines.len() > 8, "{err}");
    let total = lines[0].split(['/', ']']).nth(1).unwrap();
    assert_eq!(
        lines.last().unwrap().split(' ').next(),
        Some(&*format!("[{total}/{total}]"))
    );
    let warnings = |e: &str| e.lines().filter(|l| l.starts_with("warning: ")).count();
    let loud_warnings = warnings(&err);
    assert!(loud_warnings > 0, "{err}");

    for quiet in [&["--quiet"][..], &["-q"][..]] {
        let tok = Token::new(TOKEN);
        write_plan(&tok.dir(), &plan_value());
        let o = run(&tok, quiet);
        let quiet_report = ok(&o);
        let err = stderr(&o);
        assert!(progress_lines(&err).is_empty(), "{quiet:?}: {err}");
        // The warnings (the rehearsal, the plan's) are all still there.
        assert_eq!(warnings(&err), loud_warnings, "{err}");
        assert!(err.lines().all(|l| l.starts_with("warning: ")), "{err}");
        assert_eq!(quiet_report.lines().count(), report.lines().count());
    }
    // Global: also before the command.
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir(), &plan_value());
    let mut args = vec!["--quiet".to_string()];
    args.extend(run_args(&[]));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = tok.byok(&a);
    ok(&o);
    assert!(progress_lines(&stderr(&o)).is_empty(), "{}", stderr(&o));
}
