//! The simulator's TLS: a private CA and a server certificate for 127.0.0.1, ::1 and
//! localhost, made with rcgen on first start and kept in the state directory
//! (`ca.pem`, `server.pem`, `server-key.pem`), so clients keep trusting `ca.pem`
//! across restarts. The CA's private key is not kept: nothing else can be issued under it.

use byok_core::{err, fsutil, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

pub const CA_FILE: &str = "ca.pem";
const CERT_FILE: &str = "server.pem";
const KEY_FILE: &str = "server-key.pem";

/// Make the CA and server certificate unless all three files exist already.
pub fn ensure_certificates(dir: &Path) -> Result<()> {
    let all = [CA_FILE, CERT_FILE, KEY_FILE]
        .iter()
        .all(|f| dir.join(f).is_file());
    if all {
        return Ok(());
    }
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let rc = |e: rcgen::Error| err!("cannot make the simulator's TLS certificates: {e}");
    let ca_key = KeyPair::generate().map_err(rc)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(rc)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "byok-vault-sim local CA (testing only)");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(rc)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(rc)?;
    let mut params = CertificateParams::new(vec![
        "127.0.0.1".to_string(),
        "::1".to_string(),
        "localhost".to_string(),
    ])
    .map_err(rc)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "byok-vault-sim");
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&server_key, &issuer).map_err(rc)?;

    // Key first, CA last: a partial run leaves ca.pem missing, and the next start remakes all.
    fsutil::write_replace(
        &dir.join(KEY_FILE),
        server_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    let chain = format!("{}{}", cert.pem(), ca_cert.pem());
    fsutil::write_replace(&dir.join(CERT_FILE), chain.as_bytes(), 0o644)?;
    fsutil::write_replace(&dir.join(CA_FILE), ca_cert.pem().as_bytes(), 0o644)?;
    Ok(())
}

/// The rustls server configuration from the files in `dir` (HTTP/1.1 only).
pub fn server_config(dir: &Path) -> Result<Arc<rustls::ServerConfig>> {
    let cert_path = dir.join(CERT_FILE);
    let key_path = dir.join(KEY_FILE);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect())
        .map_err(|e| err!("cannot read {}: {e}", cert_path.display()))?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| err!("cannot read {}: {e}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| err!("the simulator's server certificate is unusable: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
