//! `byok package inspect`: check a .byok package, alone or against its KEK.

use super::output::emit;
use byok_core::kek::Kek;
use byok_core::package::{self, PackageReport};
use byok_core::text::Printable as P;
use byok_core::{fsutil, Mode, Result};
use clap::Subcommand;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum PackageCmd {
    /// Validate a .byok package: fields, kid, ciphertext length against the KEK size.
    Inspect {
        file: PathBuf,
        /// Also check the package against this KEK.
        #[arg(long, value_name = "FILE")]
        kek: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: PackageCmd, mode: Mode) -> Result<()> {
    let PackageCmd::Inspect { file, kek, json } = cmd;
    let bytes = fsutil::read_limited(&file, 1 << 20, "package")?;
    let kek = kek.map(|k| Kek::load(&k, None, mode)).transpose()?;
    let (_, report) =
        package::inspect(&bytes, kek.as_ref(), mode).map_err(|e| e.context(file.display()))?;
    emit(json, &Inspected { file, report })
}

/// What `byok package inspect` prints.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Inspected {
    pub report: PackageReport,
    #[serde(skip)]
    pub file: PathBuf,
}

impl fmt::Display for Inspected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.report;
        writeln!(
            f,
            "package:   {} ({} bytes)",
            P(self.file.display()),
            r.size
        )?;
        writeln!(f, "SHA-256:   {}", r.sha256)?;
        writeln!(f, "KEK kid:   {}", P(&r.kid))?;
        writeln!(f, "generator: {}", P(&r.generator))?;
        let target = r
            .target_key_bits
            .map(|b| format!(", an RSA-{b} key"))
            .unwrap_or_default();
        let n = r.ciphertext_bytes;
        match (r.rsa_part_bytes, r.kwp_part_bytes) {
            (Some(a), Some(b)) if r.kek_checked => writeln!(
                f,
                "ciphertext: {n} bytes = RSA-OAEP {a} + AES-KWP {b}{target} (checked against the KEK)"
            ),
            (Some(a), Some(b)) => writeln!(
                f,
                "ciphertext: {n} bytes = RSA-OAEP {a} (a {}-bit KEK) + AES-KWP {b}{target}; give --kek to check it against the KEK",
                a * 8
            ),
            _ => writeln!(
                f,
                "ciphertext: {n} bytes, fits a KEK of {} bits (give --kek to check it against the KEK)",
                r.fits_kek_bits
                    .iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> PackageReport {
        PackageReport {
            sha256: "12".repeat(32),
            size: 2345,
            kid: "https://v.vault.azure.net/keys/kek/1".into(),
            vault: "https://v.vault.azure.net".into(),
            kek_name: "kek".into(),
            kek_version: "1".into(),
            generator: "byok 0.1.0".into(),
            ciphertext_bytes: 1024,
            rsa_part_bytes: None,
            kwp_part_bytes: None,
            fits_kek_bits: vec![2048, 3072],
            target_key_bits: None,
            kek_checked: false,
        }
    }

    #[test]
    fn text_without_the_kek() {
        let text = Inspected {
            report: report(),
            file: "k1.byok".into(),
        }
        .to_string();
        assert_eq!(
            text,
            format!(
                "package:   k1.byok (2345 bytes)\n\
                 SHA-256:   {}\n\
                 KEK kid:   https://v.vault.azure.net/keys/kek/1\n\
                 generator: byok 0.1.0\n\
                 ciphertext: 1024 bytes, fits a KEK of 2048 or 3072 bits (give --kek to check it against the KEK)\n",
                "12".repeat(32)
            )
        );
    }

    #[test]
    fn ciphertext_line_by_what_is_known() {
        let mut r = report();
        r.rsa_part_bytes = Some(384);
        r.kwp_part_bytes = Some(640);
        r.target_key_bits = Some(3072);
        let line = |r: PackageReport| {
            let text = Inspected {
                report: r,
                file: "p".into(),
            }
            .to_string();
            text.lines().last().unwrap_or_default().to_owned()
        };
        let mut checked = report();
        checked.rsa_part_bytes = Some(384);
        checked.kwp_part_bytes = Some(640);
        checked.target_key_bits = Some(3072);
        checked.kek_checked = true;
        assert_eq!(
            line(r),
            "ciphertext: 1024 bytes = RSA-OAEP 384 (a 3072-bit KEK) + AES-KWP 640, an RSA-3072 key; give --kek to check it against the KEK"
        );
        assert_eq!(
            line(checked),
            "ciphertext: 1024 bytes = RSA-OAEP 384 + AES-KWP 640, an RSA-3072 key (checked against the KEK)"
        );
    }

    #[test]
    fn json_is_the_library_report() {
        let v = serde_json::to_value(Inspected {
            report: report(),
            file: "k1.byok".into(),
        })
        .unwrap();
        assert_eq!(v["size"], 2345);
        assert!(v.get("file").is_none());
    }
}
