//! `byok package inspect`: check a .byok package, or another target's wrapped blob
//! (`NAME.aws.bin`, `NAME.gcp.bin`, `NAME.openbao.b64`), alone or against its wrapping key.

use super::output::emit;
use byok_core::hsm::OaepHash;
use byok_core::kek::Kek;
use byok_core::package::{self, BlobReport, PackageReport};
use byok_core::text::Printable as P;
use byok_core::wrap::WrapForm;
use byok_core::{fsutil, Mode, Result};
use clap::{Subcommand, ValueEnum};
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum PackageCmd {
    /// Validate a wrapped key: a .byok package (fields, kid, ciphertext length against the
    /// KEK size), or a raw (.aws.bin, .gcp.bin) or base64 (.openbao.b64) blob (its length
    /// against the wrapping key's size).
    Inspect {
        file: PathBuf,
        /// Also check it against this KEK or wrapping key (for a blob, a bare public key
        /// will do: PEM, DER or AWS's base64 DER).
        #[arg(long, value_name = "FILE")]
        kek: Option<PathBuf>,
        /// The file's form. Default: by its name (`*.aws.bin`, `*.gcp.bin`: raw;
        /// `*.openbao.b64`: base64; else an Azure package).
        #[arg(long, value_enum)]
        form: Option<Form>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The forms `package inspect` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Form {
    /// An Azure BYOK package (JSON, `NAME.byok`).
    Azure,
    /// The raw blob: AWS `EncryptedKeyMaterial`, Google Cloud `wrappedKey`.
    Raw,
    /// The blob in standard base64 on one line: OpenBao's `ciphertext`.
    Base64,
}

impl Form {
    /// The form a file's name says: the names the ceremony run writes.
    pub fn of_name(file: &Path) -> Form {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".aws.bin") || name.ends_with(".gcp.bin") {
            Form::Raw
        } else if name.ends_with(".openbao.b64") {
            Form::Base64
        } else {
            Form::Azure
        }
    }
}

pub fn run(cmd: PackageCmd, mode: Mode) -> Result<()> {
    let PackageCmd::Inspect {
        file,
        kek,
        form,
        json,
    } = cmd;
    let form = form.unwrap_or_else(|| Form::of_name(&file));
    let bytes = fsutil::read_limited(&file, 1 << 20, "package")?;
    let kek = kek.map(|k| Kek::load(&k, None, mode)).transpose()?;
    // The OAEP hash is not in the bytes: the blob's check is the same for either.
    let report = match form {
        Form::Azure => {
            let (_, r) = package::inspect(&bytes, kek.as_ref(), mode)
                .map_err(|e| e.context(file.display()))?;
            Report::Package(r)
        }
        Form::Raw => Report::Blob(
            package::inspect_blob(&bytes, WrapForm::Raw(OaepHash::Sha1), kek.as_ref())
                .map_err(|e| e.context(file.display()))?,
        ),
        Form::Base64 => Report::Blob(
            package::inspect_blob(&bytes, WrapForm::Base64(OaepHash::Sha1), kek.as_ref())
                .map_err(|e| e.context(file.display()))?,
        ),
    };
    emit(json, &Inspected { file, report })
}

/// What was inspected: a package, or a blob.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Report {
    Package(PackageReport),
    Blob(BlobReport),
}

/// What `byok package inspect` prints: the library's report (its JSON as is).
#[derive(Serialize)]
#[serde(transparent)]
pub struct Inspected {
    pub report: Report,
    #[serde(skip)]
    pub file: PathBuf,
}

/// The lengths of a ciphertext, as both reports give them.
struct Lengths<'a> {
    n: usize,
    rsa: Option<usize>,
    kwp: Option<usize>,
    target: Option<usize>,
    checked: bool,
    fits: &'a [usize],
    /// `KEK` or `wrapping key`.
    key: &'static str,
}

impl fmt::Display for Lengths<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Lengths { n, key, .. } = *self;
        let target = self
            .target
            .map(|b| format!(", an RSA-{b} key"))
            .unwrap_or_default();
        match (self.rsa, self.kwp) {
            (Some(a), Some(b)) if self.checked => writeln!(
                f,
                "ciphertext: {n} bytes = RSA-OAEP {a} + AES-KWP {b}{target} (checked against the {key})"
            ),
            (Some(a), Some(b)) => writeln!(
                f,
                "ciphertext: {n} bytes = RSA-OAEP {a} (a {}-bit {key}) + AES-KWP {b}{target}; give --kek to check it against the {key}",
                a * 8
            ),
            _ => writeln!(
                f,
                "ciphertext: {n} bytes, fits a {key} of {} bits (give --kek to check it against the {key})",
                self.fits
                    .iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        }
    }
}

impl fmt::Display for Inspected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.report {
            Report::Package(r) => {
                writeln!(
                    f,
                    "package:   {} ({} bytes)",
                    P(self.file.display()),
                    r.size
                )?;
                writeln!(f, "SHA-256:   {}", r.sha256)?;
                writeln!(f, "KEK kid:   {}", P(&r.kid))?;
                writeln!(f, "generator: {}", P(&r.generator))?;
                write!(
                    f,
                    "{}",
                    Lengths {
                        n: r.ciphertext_bytes,
                        rsa: r.rsa_part_bytes,
                        kwp: r.kwp_part_bytes,
                        target: r.target_key_bits,
                        checked: r.kek_checked,
                        fits: &r.fits_kek_bits,
                        key: "KEK",
                    }
                )
            }
            Report::Blob(r) => {
                writeln!(
                    f,
                    "blob:      {} ({} bytes, {})",
                    P(self.file.display()),
                    r.size,
                    r.form
                )?;
                writeln!(f, "SHA-256:   {}", r.sha256)?;
                write!(
                    f,
                    "{}",
                    Lengths {
                        n: r.ciphertext_bytes,
                        rsa: r.rsa_part_bytes,
                        kwp: r.kwp_part_bytes,
                        target: r.target_key_bits,
                        checked: r.kek_checked,
                        fits: &r.fits_kek_bits,
                        key: "wrapping key",
                    }
                )?;
                writeln!(
                    f,
                    "OAEP hash: not in the bytes; the plan's target says which"
                )
            }
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
            report: Report::Package(report()),
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
                report: Report::Package(r),
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
            report: Report::Package(report()),
            file: "k1.byok".into(),
        })
        .unwrap();
        assert_eq!(v["size"], 2345);
        assert!(v.get("file").is_none());
    }

    #[test]
    fn form_by_file_name() {
        for (name, form) in [
            ("k1.aws.bin", Form::Raw),
            ("dir/k1.gcp.bin", Form::Raw),
            ("k1.openbao.b64", Form::Base64),
            ("k1.byok", Form::Azure),
            ("k1.bin", Form::Azure),
            ("aws.bin.byok", Form::Azure),
            ("", Form::Azure),
        ] {
            assert_eq!(Form::of_name(Path::new(name)), form, "{name}");
        }
    }

    #[test]
    fn blob_text() {
        let text = Inspected {
            report: Report::Blob(BlobReport {
                form: "raw",
                sha256: "ab".repeat(32),
                size: 1608,
                ciphertext_bytes: 1608,
                rsa_part_bytes: Some(384),
                kwp_part_bytes: Some(1224),
                fits_kek_bits: vec![3072],
                target_key_bits: Some(2048),
                kek_checked: true,
            }),
            file: "k1.aws.bin".into(),
        }
        .to_string();
        assert_eq!(
            text,
            format!(
                "blob:      k1.aws.bin (1608 bytes, raw)\n\
                 SHA-256:   {}\n\
                 ciphertext: 1608 bytes = RSA-OAEP 384 + AES-KWP 1224, an RSA-2048 key (checked against the wrapping key)\n\
                 OAEP hash: not in the bytes; the plan's target says which\n",
                "ab".repeat(32)
            )
        );
    }
}
