//! `byok man`: the manual pages (`clap_mangen`). Without `--out-dir`, byok(1) on stdout;
//! with it, one page per command written there: byok.1, byok-ceremony-run.1, …

use byok_core::text::Printable as P;
use byok_core::{err, Result};
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ManArgs {
    /// Write a page per command (byok.1, byok-kek-inspect.1, …) into DIR (which must
    /// exist) instead of byok.1 on standard output.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

/// byok(1), the top page: the one `--out-dir` writes (whose commands are pages of their
/// own, so clap's `help` command is left out).
pub fn top_page() -> Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(super::command().disable_help_subcommand(true))
        .render(&mut out)
        .map_err(|e| err!(Internal, "cannot render the manual page: {e}"))?;
    Ok(out)
}

/// Every page, rendered: (file name, roff), byok.1 first.
fn pages() -> Result<Vec<(String, Vec<u8>)>> {
    fn walk(cmd: clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
        let man = clap_mangen::Man::new(cmd.clone());
        let mut roff = Vec::new();
        man.render(&mut roff)
            .map_err(|e| err!(Internal, "cannot render the manual page: {e}"))?;
        out.push((man.get_filename(), roff));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            walk(sub, out)?;
        }
        Ok(())
    }
    let mut cmd = super::command().disable_help_subcommand(true);
    // Built once, so each subcommand carries its full name (byok-ceremony-run).
    cmd.build();
    let mut out = Vec::new();
    walk(cmd, &mut out)?;
    Ok(out)
}

/// Every page into `dir`, as new files: a page already there (or a link in its place) is
/// refused before anything is written, and each page goes through a temp file, so
/// nothing is overwritten, followed or left half-written.
pub fn write_pages(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        byok_core::bail!(
            NotFound,
            "--out-dir {}: no such directory; create it first (mkdir -p)",
            P(dir.display())
        );
    }
    let pages = pages()?;
    for (name, _) in &pages {
        byok_core::fsutil::refuse_existing(&dir.join(name))?;
    }
    for (name, roff) in &pages {
        byok_core::fsutil::write_new(&dir.join(name), roff, 0o644)?;
    }
    Ok(())
}

pub fn run(a: ManArgs) -> Result<()> {
    match a.out_dir {
        Some(dir) => write_pages(&dir),
        None => {
            // roff made from byok's own command definitions: written as it is.
            let mut out = std::io::stdout().lock();
            out.write_all(&top_page()?)
                .and_then(|()| out.flush())
                .map_err(|e| err!(Io, "cannot write to standard output: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_per_command() {
        let d = tempfile::tempdir().unwrap();
        write_pages(d.path()).unwrap();
        for page in [
            "byok.1",
            "byok-ceremony-run.1",
            "byok-kek-inspect.1",
            "byok-hsm-info.1",
            "byok-completions.1",
        ] {
            let text = std::fs::read_to_string(d.path().join(page)).unwrap();
            assert!(text.starts_with(".ie"), "{page}: {}", &text[..40]);
        }
        let run = std::fs::read_to_string(d.path().join("byok-ceremony-run.1")).unwrap();
        assert!(run.contains("non\\-interactive"), "{run}");
        assert!(write_pages(&d.path().join("nosuch")).is_err());
        // Into a directory that already holds a page, or a link where one goes: refused,
        // nothing written, nothing followed.
        let d2 = tempfile::tempdir().unwrap();
        let target = d2.path().join("victim");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, d2.path().join("byok-hsm-info.1")).unwrap();
        let e = write_pages(d2.path()).unwrap_err();
        assert!(e.message().contains("byok never overwrites"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(
            std::fs::read_dir(d2.path()).unwrap().count(),
            2,
            "nothing written"
        );
    }

    #[test]
    fn the_top_page_lists_the_commands() {
        let page = String::from_utf8(top_page().unwrap()).unwrap();
        for word in ["keygen", "ceremony", "rehearsal", "SUBCOMMANDS"] {
            assert!(page.contains(word), "{word} missing:\n{page}");
        }
    }
}
