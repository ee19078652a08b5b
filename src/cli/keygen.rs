//! `byok keygen`: an RSA key pair on the token.

use super::args::{HsmArgs, LoginArgs};
use super::output::{emit, warn, Words};
use byok_core::keygen::{self, KeygenReport, KeygenRequest};
use byok_core::text::Printable as P;
use byok_core::{fsutil, wrap, Result};
use clap::Args;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Args)]
pub struct KeygenArgs {
    #[command(flatten)]
    hsm: HsmArgs,
    #[command(flatten)]
    login: LoginArgs,
    /// Label of the new key (use the Key Vault key name).
    #[arg(long)]
    label: String,
    /// RSA key size: 2048, 3072 or 4096.
    #[arg(long, default_value_t = 4096)]
    size: usize,
    /// Where to write LABEL.pub.pem.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out_dir: PathBuf,
    /// Allow wrapping only under a KEK the Security Officer stored (`byok kek trust`).
    #[arg(long)]
    wrap_with_trusted: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Every argument is checked, and the public key file refused if it exists, before the
/// token is opened.
pub fn run(a: KeygenArgs) -> Result<()> {
    let t = a.hsm.target(None, a.login.pin_file.as_deref())?;
    keygen::check_label(&a.label)?;
    keygen::check_bits(a.size)?;
    fsutil::refuse_existing(&keygen::pub_pem_path(&a.out_dir, &a.label))?;
    let h = t.open()?;
    let s = h.login(
        t.pin_file.as_deref(),
        &crate::cli::console::Terminal::default(),
    )?;
    let req = KeygenRequest {
        label: &a.label,
        bits: a.size,
        out_dir: &a.out_dir,
        wrap_with_trusted: a.wrap_with_trusted,
    };
    let r = keygen::keygen(&s, &req)?;
    drop(s);
    if h.is_softhsm() {
        warn(&wrap::softhsm_warning());
    }
    emit(a.json, &Generated(r))
}

/// What `byok keygen` prints.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Generated(pub KeygenReport);

impl fmt::Display for Generated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.0;
        writeln!(
            f,
            "generated RSA-{} key \"{}\" (id {}) on token \"{}\"",
            r.bits,
            P(&r.label),
            P(&r.id),
            P(&r.token.label)
        )?;
        writeln!(f, "public key: {}", P(r.public_key_file.display()))?;
        write!(
            f,
            "SHA-256:    {}\nwords:\n{}",
            r.spki_sha256,
            Words(&r.spki_sha256)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::Cli;
    use clap::Parser;

    #[test]
    fn defaults_and_required() {
        let cli = Cli::try_parse_from(["byok", "keygen", "--label", "k1"]).unwrap();
        let super::super::Cmd::Keygen(a) = cli.cmd else {
            panic!("not keygen");
        };
        assert_eq!(a.size, 4096);
        assert_eq!(a.out_dir, std::path::Path::new("."));
        assert!(!a.wrap_with_trusted && !a.json);
        // --label is required; --size takes a number.
        assert!(Cli::try_parse_from(["byok", "keygen"]).is_err());
        assert!(Cli::try_parse_from(["byok", "keygen", "--label", "k", "--size", "big"]).is_err());
    }
}
