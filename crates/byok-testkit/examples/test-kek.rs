//! Make a software KEK standing in for a vault's, for demos without a vault:
//!   test-kek DIR [BITS]
//! writes DIR/kek.json (the KeyBundle `az keyvault key show` prints, loopback kid) and
//! DIR/kek-private.pem (mode 600; exists only for the software check).
use byok_testkit::testkek::TestKek;
use rsa::pkcs8::EncodePrivateKey;
use std::path::Path;

fn run() -> byok_core::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(
        args.get(1)
            .ok_or_else(|| byok_core::err!("usage: test-kek DIR [BITS]"))?,
    );
    let bits = match args.get(2) {
        Some(b) => b
            .parse()
            .map_err(|_| byok_core::err!("BITS must be a number"))?,
        None => 2048,
    };
    let kek = TestKek::generate(bits, "https://127.0.0.1:8443", "demo-kek")?;
    byok_core::fsutil::write_new(
        &dir.join("kek.json"),
        kek.key_bundle_json().as_bytes(),
        0o644,
    )?;
    let pem = kek
        .private
        .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(|e| byok_core::err!("cannot encode: {e}"))?;
    byok_core::fsutil::write_new(&dir.join("kek-private.pem"), pem.as_bytes(), 0o600)?;
    println!("{}", kek.kid);
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
