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
    let rc = |e: rcgen::Error| {
        err!(
            Internal,
            "cannot make the simulator's TLS certificates: {e}"
        )
    };
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
        .map_err(|e| err!(Io, "cannot read {}: {e}", cert_path.display()))?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| err!(Io, "cannot read {}: {e}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err!(Internal, "TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            err!(
                Integrity,
                "the simulator's server certificate is unusable: {e}; delete {} and {} to make new ones",
                cert_path.display(),
                key_path.display()
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(dir: &Path, f: &str) -> String {
        std::fs::read_to_string(dir.join(f)).unwrap()
    }

    #[test]
    fn certificates_are_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        ensure_certificates(d).unwrap();
        let (ca, cert, key) = (read(d, CA_FILE), read(d, CERT_FILE), read(d, KEY_FILE));
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
        // The server file is the server certificate followed by the CA.
        assert_eq!(cert.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(cert.ends_with(&ca));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(d.join(KEY_FILE)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o077, 0, "the server key must be private");
        let config = server_config(d).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);

        // A restart keeps all three, so clients keep trusting ca.pem.
        ensure_certificates(d).unwrap();
        assert_eq!(read(d, CA_FILE), ca);
        assert_eq!((read(d, CERT_FILE), read(d, KEY_FILE)), (cert.clone(), key));

        // A partial set is remade whole (a new CA).
        std::fs::remove_file(d.join(CA_FILE)).unwrap();
        ensure_certificates(d).unwrap();
        assert_ne!(read(d, CA_FILE), ca);
        assert_ne!(read(d, CERT_FILE), cert);
        server_config(d).unwrap();
    }

    #[test]
    fn a_damaged_or_missing_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let e = server_config(d).err().unwrap();
        assert_eq!(e.kind(), byok_core::ErrorKind::Io, "{e}");
        ensure_certificates(d).unwrap();
        // The key of another certificate does not match this one.
        let other = tempfile::tempdir().unwrap();
        ensure_certificates(other.path()).unwrap();
        std::fs::copy(other.path().join(KEY_FILE), d.join(KEY_FILE)).unwrap();
        let e = server_config(d).err().unwrap();
        assert_eq!(e.kind(), byok_core::ErrorKind::Integrity, "{e}");
        std::fs::write(d.join(KEY_FILE), "not a key").unwrap();
        assert!(server_config(d).is_err());
    }
}
