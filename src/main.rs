//! `byok`: the command-line layer. Parses arguments, calls the library, prints reports.
//! Every failure is one line `error: …` and exit status 1.

use byok_core::hsm::Target;
use byok_core::kek::Kek;
use byok_core::{bail, words, Result};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[path = "cli/console.rs"]
mod console;
#[cfg(feature = "network")]
#[path = "cli/net.rs"]
mod main_net;

#[derive(Parser)]
#[command(
    name = "byok",
    version,
    about = "Hardware-backed key ceremonies for Azure Key Vault BYOK (Office 365 Customer Key)",
    long_about = "Generate RSA keys in a PKCS#11 HSM, wrap them under a Key Vault Key Exchange Key (KEK) \
                  into Azure BYOK packages, and check every step.\n\n\
                  PINs are never taken from the command line: byok asks without echo, or reads \
                  --pin-file (a file only you can read) or BYOK_PIN."
)]
struct Cli {
    /// Rehearse against the local simulator: accept loopback vault addresses and key ids
    /// (warned every time, recorded in transcripts). Never for a real ceremony.
    #[arg(long, global = true)]
    rehearsal: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Look at the HSM: its token, mechanisms and BYOK ability.
    #[command(subcommand)]
    Hsm(HsmCmd),
    /// Read, check and trust Key Exchange Keys.
    #[command(subcommand)]
    Kek(KekCmd),
    /// Generate an RSA key pair on the token for BYOK.
    Keygen(KeygenArgs),
    /// Wrap a key on the token under a KEK into an Azure BYOK package.
    Wrap(WrapArgs),
    /// Check BYOK packages.
    #[command(subcommand)]
    Package(PackageCmd),
    /// Plan, check and run a key ceremony.
    #[command(subcommand)]
    Ceremony(CeremonyCmd),
    /// Verify and print a ceremony transcript.
    #[command(subcommand)]
    Transcript(TranscriptCmd),
    /// Verify HSM key attestations (Marvell LiquidSecurity: Managed HSM, Cloud HSM).
    #[command(subcommand)]
    Attestation(AttestationCmd),
    /// Upload a BYOK package to Key Vault as a key (connected side).
    #[cfg(feature = "network")]
    Upload(main_net::UploadArgs),
    /// Check that the vault holds exactly the HSM's key, as Customer Key requires.
    #[cfg(feature = "network")]
    Verify(main_net::VerifyArgs),
    /// Back up a key from the vault (or check backups: `byok backup verify DIR`).
    #[cfg(feature = "network")]
    Backup(main_net::BackupCmd),
}

#[derive(Subcommand)]
enum AttestationCmd {
    /// Verify a key attestation: chain to the pinned Marvell root, signatures, the key.
    Verify {
        /// The Azure MRVL-1 attestation (the REST answer of GET /keys/NAME/VERSION/attestation,
        /// a KEK file from `byok kek fetch --attestation`, or what `az keyvault key
        /// get-attestation --file` writes), or a generic Marvell blob (gzip-wrapped or not).
        file: PathBuf,
        /// The expected public key (PEM, JWK or KeyBundle JSON); needed for the az file form.
        #[arg(long, value_name = "KEYFILE")]
        key: Option<PathBuf>,
        /// The certificate chain (PEM) of a generic Marvell blob.
        #[arg(long, value_name = "PEM")]
        chain: Option<PathBuf>,
        #[command(flatten)]
        trust: TrustArgs,
        /// The key's versioned id: the attested id must name this key and version.
        #[arg(long, value_name = "URL")]
        kid: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Clone)]
struct TrustArgs {
    /// An extra trust root (PEM certificate or public key) besides the pinned Marvell
    /// roots, e.g. the simulator's attestation-root.pem. For rehearsals only: warned
    /// every time.
    #[arg(long, value_name = "PEM")]
    trust_root: Vec<PathBuf>,
}

impl TrustArgs {
    /// The roots, with the extra-root warnings printed.
    fn roots(&self) -> Result<byok_core::attestation::TrustRoots> {
        let (roots, warnings) = byok_core::attestation::policy::trust_roots(&self.trust_root)?;
        warn_all(&warnings);
        Ok(roots)
    }
}

#[derive(Args, Clone)]
struct KekAttestationArgs {
    /// Refuse a KEK without a valid HSM attestation (Managed HSM KEKs only).
    #[arg(long)]
    require_attestation: bool,
    /// The KEK's attestation, when the KEK file does not carry it (the vault's answer,
    /// or what `az keyvault key get-attestation --file` writes).
    #[arg(long, value_name = "FILE")]
    attestation: Option<PathBuf>,
    #[command(flatten)]
    trust: TrustArgs,
}

impl KekAttestationArgs {
    fn check(
        &self,
        kek_path: &Path,
        kek: &Kek,
    ) -> Result<byok_core::attestation::policy::KekAttestation> {
        let roots = self.trust.roots()?;
        byok_core::attestation::policy::check_kek_files(
            kek_path,
            self.attestation.as_deref(),
            kek,
            self.require_attestation,
            &roots,
        )
    }
}

#[derive(Subcommand)]
enum CeremonyCmd {
    /// Check a ceremony plan against every rule before anything runs.
    Check {
        /// The plan (JSON).
        plan: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the offline ceremony: preflight, KEK checks, keygen, wrap, manifest, transcript.
    Run(CeremonyRunArgs),
    /// The connected run: upload, verify and back up every key; print the Office 365 commands.
    #[cfg(feature = "network")]
    Import(main_net::CeremonyImportArgs),
}

#[derive(Args)]
struct CeremonyRunArgs {
    /// The plan (JSON).
    plan: PathBuf,
    /// The ceremony directory: new or empty, or the interrupted ceremony's with --resume.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Finish an interrupted ceremony in DIR.
    #[arg(long)]
    resume: bool,
    /// Print every step (the officers' script) and touch nothing: no HSM, no files.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask the officers to confirm KEK fingerprints; rely on the plan's pins
    /// (recorded as such in the transcript).
    #[arg(long)]
    non_interactive: bool,
    /// PKCS#11 library of the HSM.
    #[arg(long, env = "BYOK_PKCS11_MODULE", value_name = "PATH")]
    module: Option<PathBuf>,
    /// Narrow the plan's token, e.g. pkcs11:token=LABEL;serial=SERIAL (the label must be
    /// the plan's). BYOK_TOKEN is ignored: the plan names the token.
    #[arg(long, value_name = "LABEL|URI")]
    token: Option<String>,
    #[command(flatten)]
    login: LoginArgs,
    #[command(flatten)]
    trust: TrustArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum TranscriptCmd {
    /// Verify a transcript: hash chain, order, close record and HSM signature.
    Verify {
        file: PathBuf,
        /// Also check that the transcript starts from this plan.
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a printable record (transcript.html and transcript.md) of a verified transcript.
    Render {
        file: PathBuf,
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
    },
}

#[derive(Args, Clone)]
struct HsmArgs {
    /// PKCS#11 library of the HSM.
    #[arg(long, env = "BYOK_PKCS11_MODULE", value_name = "PATH")]
    module: Option<PathBuf>,
    /// Token label, or a PKCS#11 URI (pkcs11:token=…).
    #[arg(long, env = "BYOK_TOKEN", value_name = "LABEL|URI")]
    token: Option<String>,
}

#[derive(Args, Clone)]
struct LoginArgs {
    /// File holding the user PIN; refused when group- or world-readable. Default: prompt,
    /// or BYOK_PIN.
    #[arg(long, value_name = "PATH")]
    pin_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum HsmCmd {
    /// Library, token, firmware, the mechanisms BYOK needs, and a verdict.
    Info {
        #[command(flatten)]
        hsm: HsmArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Wrap a throwaway key under a throwaway KEK in the HSM and check it in software.
    Selftest {
        #[command(flatten)]
        hsm: HsmArgs,
        #[command(flatten)]
        login: LoginArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum KekCmd {
    /// Create a KEK in the vault: RSA-HSM, key_ops import only (connected side).
    #[cfg(feature = "network")]
    Create(main_net::KekCreateArgs),
    /// Fetch a KEK's KeyBundle JSON for the offline side; prints its fingerprint.
    #[cfg(feature = "network")]
    Fetch(main_net::KekFetchArgs),
    /// Read a KEK file, check it as Azure would, print its fingerprint.
    Inspect {
        /// PEM or DER public key, or the KeyBundle JSON of `az keyvault key show`.
        file: PathBuf,
        /// The KEK's versioned key URL, when the file does not carry it.
        #[arg(long, value_name = "URL")]
        kid: Option<String>,
        #[command(flatten)]
        att: KekAttestationArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Security Officer step: store a checked KEK on the token as a trusted wrapping key.
    Trust {
        #[command(flatten)]
        hsm: HsmArgs,
        /// The KEK file.
        #[arg(long, value_name = "FILE")]
        kek: PathBuf,
        #[arg(long, value_name = "URL")]
        kid: Option<String>,
        /// The KEK fingerprint (hex SHA-256 of its SPKI) the officers confirmed.
        #[arg(long, value_name = "HEX")]
        sha256: String,
        /// File holding the Security Officer PIN. Default: prompt, or BYOK_SO_PIN.
        #[arg(long, value_name = "PATH")]
        so_pin_file: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct KeygenArgs {
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

#[derive(Args)]
struct WrapArgs {
    #[command(flatten)]
    hsm: HsmArgs,
    #[command(flatten)]
    login: LoginArgs,
    /// Label of the key to wrap, or a PKCS#11 URI (pkcs11:token=…;object=…).
    #[arg(long, value_name = "LABEL|URI")]
    key: String,
    /// The vault's KEK (PEM, DER or KeyBundle JSON).
    #[arg(long, value_name = "FILE")]
    kek: PathBuf,
    /// The KEK's versioned key URL, when the file does not carry it.
    #[arg(long, value_name = "URL")]
    kid: Option<String>,
    /// The package to write (must not exist).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    att: KekAttestationArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum PackageCmd {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn emit<T: Serialize>(json: bool, report: &T, text: impl FnOnce(&T)) -> Result<()> {
    if json {
        let s = serde_json::to_string_pretty(report)
            .map_err(|e| byok_core::err!("cannot print JSON: {e}"))?;
        println!("{s}");
    } else {
        text(report);
    }
    Ok(())
}

fn warn_all<S: AsRef<str>>(warnings: impl IntoIterator<Item = S>) {
    for w in warnings {
        let w = w.as_ref();
        eprintln!("warning: {w}");
    }
}

fn target(hsm: &HsmArgs, key: Option<&str>, pin_file: Option<&Path>) -> Result<Target> {
    Target::resolve(
        hsm.module.clone(),
        hsm.token.as_deref(),
        key,
        pin_file.map(Path::to_path_buf),
    )
}

fn fingerprint_lines(hex_fp: &str) -> String {
    let bytes = hex::decode(hex_fp).unwrap_or_default();
    words::to_word_lines(&bytes)
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn run(cli: Cli) -> Result<()> {
    let mode = byok_core::Mode::rehearsal_if(cli.rehearsal);
    if let Some(w) = mode.warning() {
        eprintln!("warning: {w}");
    }
    match cli.cmd {
        Cmd::Hsm(HsmCmd::Info { hsm, json }) => {
            let t = target(&hsm, None, None)?;
            let h = t.open()?;
            let r = byok_core::wrap::info(&h)?;
            emit(json, &r, |r| {
                println!("module:    {}", r.module.display());
                println!(
                    "library:   {} {} {}",
                    r.library_manufacturer, r.library_description, r.library_version
                );
                println!(
                    "token:     \"{}\" {} {} serial {} firmware {} hardware {}",
                    r.token.label,
                    r.token.manufacturer,
                    r.token.model,
                    r.token.serial,
                    r.token.firmware,
                    r.token.hardware
                );
                println!("mechanisms:");
                for m in &r.mechanisms {
                    let sizes = match (m.min_key_size, m.max_key_size) {
                        (Some(a), Some(b)) => format!(" (key sizes {a}-{b})"),
                        _ => String::new(),
                    };
                    println!(
                        "  {:<26} {}{sizes}",
                        m.name,
                        if m.present { "yes" } else { "no" }
                    );
                }
                println!(
                    "verdict:   {} ({})",
                    serde_json::to_value(r.verdict)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or(""),
                    r.verdict_mechanism
                );
            })
        }
        Cmd::Hsm(HsmCmd::Selftest { hsm, login, json }) => {
            let t = target(&hsm, None, login.pin_file.as_deref())?;
            let h = t.open()?;
            let s = h.login(t.pin_file.as_deref(), &console::Terminal::default())?;
            let r = byok_core::wrap::selftest(&s)?;
            drop(s);
            warn_all(&r.warnings);
            emit(json, &r, |r| {
                println!(
                    "self-test passed: a throwaway RSA-2048 key wrapped in the HSM with {} unwraps in software to the HSM's key",
                    r.mechanism
                );
                println!(
                    "token objects before and after: {} and {}",
                    r.token_objects_before, r.token_objects_after
                );
            })
        }
        Cmd::Kek(KekCmd::Inspect {
            file,
            kid,
            att,
            json,
        }) => {
            let kek = Kek::load(&file, kid.as_deref(), mode)?;
            let attestation = att.check(&file, &kek)?;
            #[derive(Serialize)]
            struct Out {
                #[serde(flatten)]
                kek: byok_core::kek::KekReport,
                attestation: byok_core::attestation::policy::KekAttestation,
            }
            let out = Out {
                kek: kek.report(),
                attestation,
            };
            emit(json, &out, |o| {
                let r = &o.kek;
                println!("KEK:       {} ({})", file.display(), r.format);
                println!("key:       RSA-{} e={}", r.bits, r.exponent);
                match &r.kid {
                    Some(k) => println!("kid:       {k}"),
                    None => println!("kid:       (none in the file; `byok wrap` will need --kid)"),
                }
                if let Some(kty) = &r.kty {
                    println!("kty:       {kty}");
                }
                if let Some(ops) = &r.key_ops {
                    println!("key_ops:   {}", ops.join(", "));
                }
                println!("SHA-256:   {}", r.sha256);
                println!("words:\n{}", fingerprint_lines(&r.sha256));
                println!("attestation: {}", o.attestation.summary);
                if let Some(rep) = &o.attestation.report {
                    print!("{rep}");
                }
            })
        }
        Cmd::Kek(KekCmd::Trust {
            hsm,
            kek,
            kid,
            sha256,
            so_pin_file,
            json,
        }) => {
            let k = Kek::load(&kek, kid.as_deref(), mode)?;
            let t = target(&hsm, None, None)?;
            let h = t.open()?;
            let r = byok_core::keygen::trust_kek(
                &h,
                &k,
                &sha256,
                so_pin_file.as_deref(),
                &console::Terminal::default(),
            )?;
            emit(json, &r, |r| {
                println!(
                    "stored the KEK as trusted wrapping key \"{}\" on token \"{}\"",
                    r.label,
                    h.identity().label
                );
                println!(
                    "SHA-256:   {}\nwords:\n{}",
                    r.sha256,
                    fingerprint_lines(&r.sha256)
                );
            })
        }
        Cmd::Keygen(a) => {
            let t = target(&a.hsm, None, a.login.pin_file.as_deref())?;
            byok_core::keygen::check_label(&a.label)?;
            byok_core::keygen::check_bits(a.size)?;
            byok_core::fsutil::refuse_existing(&byok_core::keygen::pub_pem_path(
                &a.out_dir, &a.label,
            ))?;
            let h = t.open()?;
            let s = h.login(t.pin_file.as_deref(), &console::Terminal::default())?;
            let req = byok_core::keygen::KeygenRequest {
                label: &a.label,
                bits: a.size,
                out_dir: &a.out_dir,
                wrap_with_trusted: a.wrap_with_trusted,
            };
            let r = byok_core::keygen::keygen(&s, &req)?;
            drop(s);
            if h.is_softhsm() {
                eprintln!("warning: {}", byok_core::wrap::softhsm_warning());
            }
            emit(a.json, &r, |r| {
                println!(
                    "generated RSA-{} key \"{}\" (id {}) on token \"{}\"",
                    r.bits, r.label, r.id, r.token.label
                );
                println!("public key: {}", r.public_key_file.display());
                println!(
                    "SHA-256:    {}\nwords:\n{}",
                    r.spki_sha256,
                    fingerprint_lines(&r.spki_sha256)
                );
            })
        }
        Cmd::Wrap(a) => {
            let t = target(&a.hsm, Some(&a.key), a.login.pin_file.as_deref())?;
            let kek = Kek::load(&a.kek, a.kid.as_deref(), mode)?;
            if kek.kid.is_none() {
                bail!("the KEK has no kid: give --kid https://VAULT.vault.azure.net/keys/NAME/VERSION, or use the KEK's JSON from `az keyvault key show`");
            }
            let attestation = a.att.check(&a.kek, &kek)?;
            byok_core::fsutil::refuse_existing(&a.out)?;
            let h = t.open()?;
            let s = h.login(t.pin_file.as_deref(), &console::Terminal::default())?;
            let sel = byok_core::wrap::KeySelector {
                label: t.key_label.as_deref(),
                id: t.key_id.as_deref(),
            };
            let r = byok_core::wrap::wrap(&s, &sel, &kek, &a.out)?;
            drop(s);
            warn_all(&r.warnings);
            #[derive(Serialize)]
            struct Out {
                #[serde(flatten)]
                wrap: byok_core::wrap::WrapReport,
                kek_attestation: byok_core::attestation::policy::KekAttestation,
            }
            let out = Out {
                wrap: r,
                kek_attestation: attestation,
            };
            emit(a.json, &out, |o| {
                let r = &o.wrap;
                println!("KEK attestation: {}", o.kek_attestation.summary);
                println!(
                    "wrapped key \"{}\" (RSA-{}) under KEK {}",
                    r.key_label, r.key_bits, r.kek_kid
                );
                println!("mechanism: {}", r.mechanism);
                println!("package:   {}", r.package.display());
                println!("SHA-256:   {}", r.sha256);
            })
        }
        Cmd::Ceremony(CeremonyCmd::Check { plan, trust, json }) => {
            let roots = trust.roots()?;
            let (r, _) = byok_core::ceremony::plan::check(&plan, &roots, mode)?;
            warn_all(
                r.warnings
                    .iter()
                    .filter(|w| mode.warning() != Some(w.as_str())),
            );
            emit(json, &r, |r| {
                if r.ok {
                    println!(
                        "plan {} is sound: {} policies, {} keys (SHA-256 {})",
                        r.plan, r.policies, r.keys, r.plan_sha256
                    );
                }
            })?;
            if !r.ok {
                return Err(byok_core::ceremony::plan::violations_error(&r.violations));
            }
            Ok(())
        }
        Cmd::Ceremony(CeremonyCmd::Run(a)) => ceremony_run(a, mode),
        #[cfg(feature = "network")]
        Cmd::Ceremony(CeremonyCmd::Import(a)) => main_net::ceremony_import(a, mode),
        #[cfg(feature = "network")]
        Cmd::Kek(KekCmd::Create(a)) => main_net::kek_create(a, mode),
        #[cfg(feature = "network")]
        Cmd::Kek(KekCmd::Fetch(a)) => main_net::kek_fetch(a, mode),
        #[cfg(feature = "network")]
        Cmd::Upload(a) => main_net::upload(a, mode),
        #[cfg(feature = "network")]
        Cmd::Verify(a) => main_net::verify(a, mode),
        #[cfg(feature = "network")]
        Cmd::Backup(a) => main_net::backup(a, mode),
        Cmd::Attestation(AttestationCmd::Verify {
            file,
            key,
            chain,
            trust,
            kid,
            json,
        }) => {
            let roots = trust.roots()?;
            let limit = 1 << 20;
            let bytes = byok_core::fsutil::read_limited(&file, limit, "attestation file")?;
            let key = key
                .map(|k| byok_core::fsutil::read_limited(&k, limit, "key file"))
                .transpose()?;
            let chain = chain
                .map(|c| byok_core::fsutil::read_limited(&c, limit, "chain file"))
                .transpose()?;
            let r = byok_core::attestation::policy::verify_file(
                &bytes,
                key.as_deref(),
                chain.as_deref(),
                kid.as_deref(),
                &roots,
                mode,
            )
            .map_err(|e| e.context(file.display()))?;
            if r.extra_root_used {
                eprintln!("warning: this attestation chains to an EXTRA trust root, not to a pinned Marvell root: it proves nothing about real HSM hardware");
            }
            emit(json, &r, |r| print!("{r}"))
        }
        Cmd::Transcript(TranscriptCmd::Verify { file, plan, json }) => {
            let v = byok_core::transcript::verify(&file)?;
            if let Some(p) = plan {
                let bytes = byok_core::fsutil::read_limited(&p, 1 << 20, "plan")?;
                let sha = byok_core::transcript::sha256_hex(&bytes);
                if sha != v.report.plan_sha256 {
                    bail!(
                        "{} does not start from plan {} (its SHA-256 is {sha}, the transcript's {})",
                        file.display(),
                        p.display(),
                        v.report.plan_sha256
                    );
                }
            }
            emit(json, &v.report, |r| {
                println!(
                    "transcript {} verifies: {} records, closed {}",
                    r.file, r.records, r.last_time
                );
                match &r.signer_spki_sha256 {
                    Some(k) => println!("signature: verified (HSM key SPKI SHA-256 {k})"),
                    None => println!(
                        "signature: none ({})",
                        r.unsigned_reason.as_deref().unwrap_or("")
                    ),
                }
                println!(
                    "digest:    {}\nwords:\n{}",
                    r.digest,
                    fingerprint_lines(&r.digest)
                );
            })
        }
        Cmd::Transcript(TranscriptCmd::Render { file, out_dir }) => {
            let v = byok_core::transcript::verify(&file)?;
            for p in byok_core::ceremony::render::render(&v, &out_dir)? {
                println!("wrote {}", p.display());
            }
            Ok(())
        }
        Cmd::Package(PackageCmd::Inspect { file, kek, json }) => {
            let bytes = byok_core::fsutil::read_limited(&file, 1 << 20, "package")?;
            let kek = kek.map(|k| Kek::load(&k, None, mode)).transpose()?;
            let (_, r) = byok_core::package::inspect(&bytes, kek.as_ref(), mode)
                .map_err(|e| e.context(file.display()))?;
            emit(json, &r, |r| {
                println!("package:   {} ({} bytes)", file.display(), r.size);
                println!("SHA-256:   {}", r.sha256);
                println!("KEK kid:   {}", r.kid);
                println!("generator: {}", r.generator);
                let target = r
                    .target_key_bits
                    .map(|b| format!(", an RSA-{b} key"))
                    .unwrap_or_default();
                match (r.rsa_part_bytes, r.kwp_part_bytes) {
                    (Some(a), Some(b)) if r.kek_checked => println!("ciphertext: {} bytes = RSA-OAEP {a} + AES-KWP {b}{target} (checked against the KEK)", r.ciphertext_bytes),
                    (Some(a), Some(b)) => println!(
                        "ciphertext: {} bytes = RSA-OAEP {a} (a {}-bit KEK) + AES-KWP {b}{target}; give --kek to check it against the KEK",
                        r.ciphertext_bytes,
                        a * 8
                    ),
                    _ => println!(
                        "ciphertext: {} bytes, fits a KEK of {} bits (give --kek to check it against the KEK)",
                        r.ciphertext_bytes,
                        r.fits_kek_bits.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(" or ")
                    ),
                }
            })
        }
    }
}

fn ceremony_run(a: CeremonyRunArgs, mode: byok_core::Mode) -> Result<()> {
    use byok_core::ceremony::{plan, run, script};
    let roots = a.trust.roots()?;
    let p = plan::load(&a.plan, &roots, mode)?;
    warn_all(
        p.warnings
            .iter()
            .filter(|w| mode.warning() != Some(w.as_str())),
    );
    if a.dry_run {
        print!("{}", script::script(&p, &a.plan, &a.out, a.non_interactive));
        return Ok(());
    }
    let opts = run::RunOptions {
        out: a.out.clone(),
        resume: a.resume,
        non_interactive: a.non_interactive,
        module: a.module,
        token: a.token,
        pin_file: a.login.pin_file,
    };
    let r = run::run(&p, &opts, &console::Terminal::default())?;
    warn_all(&r.warnings);
    emit(a.json, &r, |r| {
        println!(
            "ceremony {} closed: {} keys generated and wrapped into {}",
            r.ceremony,
            r.keys.len(),
            r.out.display()
        );
        for k in &r.keys {
            println!("  {}  {} ({})", k.package, k.vault, k.policy);
        }
        println!("manifest:   {} ({})", run::MANIFEST, r.manifest_sha256);
        println!(
            "transcript: {} ({})",
            r.transcript.display(),
            if r.signed {
                "signed by the HSM"
            } else {
                "unsigned"
            }
        );
        println!(
            "digest:     {}\nwords:\n{}",
            r.transcript_digest,
            fingerprint_lines(&r.transcript_digest)
        );
    })
}
