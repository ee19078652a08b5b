//! `byok completions` and `byok man` as the shells and man read them: the bash script
//! parses and completes a command when sourced, zsh and fish name the commands, and
//! every page renders without a warning (`groff -k -ww`, as `man -l` runs it) and
//! carries its options. Needs bash and groff (softhsm/setup.sh --tests installs
//! groff-base and man-db); zsh and fish are not needed (their scripts are checked as
//! text).

use std::path::Path;
use std::process::{Command, Output};

const BYOK: &str = env!("CARGO_BIN_EXE_byok");

fn byok(args: &[&str]) -> Output {
    let o = Command::new(BYOK).args(args).output().unwrap();
    assert!(o.status.success(), "byok {args:?}: {o:?}");
    o
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

/// What bash's completion offers for the words `line` (the cursor after the last word).
fn bash_complete(script: &Path, line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let (cur, prev) = (words[words.len() - 1], words[words.len() - 2]);
    let cword = words.len() - 1;
    let o = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(format!(
            "source {}; complete -p byok >&2; COMP_WORDS=({line} {empty}); COMP_CWORD={cword}; \
             COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; _byok byok '{cur}' '{prev}'; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            empty = if cur.is_empty() { "''" } else { "" },
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    assert!(text(&o.stderr).contains("-F _byok"), "{o:?}");
    text(&o.stdout).lines().map(str::to_string).collect()
}

#[test]
fn bash_completion_parses_and_completes() {
    let d = tempfile::tempdir().unwrap();
    let script = d.path().join("byok");
    std::fs::write(&script, byok(&["completions", "bash"]).stdout).unwrap();
    let n = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(n.status.success(), "bash -n: {n:?}");

    let top = bash_complete(&script, "byok cer");
    assert_eq!(top, ["ceremony"], "{top:?}");
    let sub = bash_complete(&script, "byok ceremony ");
    for w in ["check", "run"] {
        assert!(sub.contains(&w.to_string()), "{sub:?}");
    }
    let opts = bash_complete(&script, "byok ceremony run --non");
    assert_eq!(opts, ["--non-interactive"], "{opts:?}");
}

#[test]
fn zsh_and_fish_name_the_commands() {
    for shell in ["zsh", "fish"] {
        let s = text(&byok(&["completions", shell]).stdout);
        for w in [
            "keygen",
            "ceremony",
            "transcript",
            "inspect",
            "non-interactive",
        ] {
            assert!(s.contains(w), "{shell}: {w} missing");
        }
    }
    let zsh = text(&byok(&["completions", "zsh"]).stdout);
    assert!(zsh.starts_with("#compdef byok"), "{}", &zsh[..40]);
    let fish = text(&byok(&["completions", "fish"]).stdout);
    assert!(fish.contains("complete -c byok"), "{fish}");
    let bad = Command::new(BYOK)
        .args(["completions", "powershell"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

/// `page` as groff renders it for a terminal; a warning fails the test.
fn render(page: &Path) -> String {
    let o = Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-P", "-cbou"])
        .arg(page)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("groff (apt-get install groff-base, or softhsm/setup.sh --tests)");
    assert!(o.status.success(), "{o:?}");
    assert!(
        o.stderr.is_empty(),
        "{}: {}",
        page.display(),
        text(&o.stderr)
    );
    text(&o.stdout)
}

#[test]
fn man_pages_render_with_their_commands_and_options() {
    let d = tempfile::tempdir().unwrap();
    byok(&["man", "--out-dir", d.path().to_str().unwrap()]);
    let mut pages: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    for p in [
        "byok.1",
        "byok-ceremony-run.1",
        "byok-ceremony-check.1",
        "byok-kek-inspect.1",
        "byok-transcript-verify.1",
        "byok-man.1",
    ] {
        assert!(pages.contains(&p.to_string()), "{p} not in {pages:?}");
    }
    for p in &pages {
        let out = render(&d.path().join(p));
        assert!(
            out.contains("NAME") && out.contains("SYNOPSIS"),
            "{p}:\n{out}"
        );
    }
    let top = render(&d.path().join("byok.1"));
    for w in [
        "keygen",
        "ceremony",
        "transcript",
        "--rehearsal",
        "completions",
    ] {
        assert!(top.contains(w), "byok.1: {w} missing:\n{top}");
    }
    let run = render(&d.path().join("byok-ceremony-run.1"));
    for w in [
        "--out",
        "--resume",
        "--non-interactive",
        "--pin-file",
        "PLAN",
    ] {
        assert!(run.contains(w), "byok-ceremony-run.1: {w} missing:\n{run}");
    }
    // Without --out-dir: byok.1 on stdout, the same page.
    let stdout = text(&byok(&["man"]).stdout);
    assert!(
        stdout == std::fs::read_to_string(d.path().join("byok.1")).unwrap(),
        "byok man differs from byok man --out-dir's byok.1"
    );

    // man(1) itself, when there.
    if Command::new("man").arg("--version").output().is_ok() {
        let o = Command::new("man")
            .arg("-l")
            .arg(d.path().join("byok-kek-inspect.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        assert!(
            text(&o.stdout).contains("byok-kek-inspect - Read a KEK file"),
            "{o:?}"
        );
    }
}
