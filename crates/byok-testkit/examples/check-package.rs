//! The independent software check of a package: unwrap it with the KEK's private key
//! (the `rsa` and `aes-kw` crates, not the HSM) and compare with the HSM's public key.
//!   check-package KEK-PRIVATE.pem PACKAGE.byok KEY.pub.pem
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;

fn run() -> byok_core::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        byok_core::bail!("usage: check-package KEK-PRIVATE.pem PACKAGE.byok KEY.pub.pem");
    }
    let read = |p: &str| std::fs::read(p).map_err(|e| byok_core::err!("cannot read {p}: {e}"));
    let kek = rsa::PrivateKey::from_pkcs8_pem(&String::from_utf8_lossy(&read(&args[1])?))
        .map_err(|e| byok_core::err!("bad KEK private key: {e}"))?;
    let public = rsa::PublicKey::from_public_key_pem(&String::from_utf8_lossy(&read(&args[3])?))
        .map_err(|e| byok_core::err!("bad public key: {e}"))?;
    let r = byok_testkit::testkek::check_package(
        &kek,
        &read(&args[2])?,
        &public.n().to_be_bytes_trimmed_vartime(),
        &public.e().to_be_bytes_trimmed_vartime(),
    )?;
    println!(
        "software check: {} unwraps (rsa + aes-kw crates) to the key in {} ({} bytes of PKCS#8, {} zero bytes after it)",
        args[2], args[3], r.pkcs8_bytes, r.trailing_zero_bytes
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
