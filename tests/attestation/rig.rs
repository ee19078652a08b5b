//! The fixtures (the real Google Cloud HSM sample, generated MRVL-1 chains) and helpers
//! shared by the attestation tests.

use base64::Engine;
use byok_core::attestation::*;
use byok_testkit::testchain::{KeyFlags, Mrvl1Attestation, TestChain};
use rsa::{PrivateKey, PublicKey};
use std::io::Write;
use std::sync::OnceLock;

pub(crate) const SAMPLE: &[u8] =
    include_bytes!("../fixtures/attestation/gcp-ec-p256-attestation.bin");
pub(crate) const SAMPLE_CHAIN: &str = include_str!("../fixtures/attestation/gcp-ec-p256-chain.pem");
pub(crate) const RSA_NOCHAIN: &[u8] =
    include_bytes!("../fixtures/attestation/gcp-rsa-attestation-nochain.bin");
pub(crate) const MARVELL_ROOTS: &str =
    include_str!("../fixtures/attestation/marvell-liquidsecurity-roots.pem");

pub(crate) const KID: &str =
    "https://test-hsm.managedhsm.azure.net/keys/kek1/0123456789abcdef0123456789abcdef";
pub(crate) const ATTESTED_ID: &str = "/keys/kek1/0123456789abcdef0123456789abcdef";

pub(crate) fn pinned() -> TrustRoots {
    TrustRoots::marvell().expect("pinned roots")
}

pub(crate) fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

pub(crate) fn pem_certs(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut body = String::new();
    for line in pem.lines() {
        if line.starts_with("-----BEGIN") {
            body.clear();
        } else if line.starts_with("-----END") {
            out.push(
                base64::engine::general_purpose::STANDARD
                    .decode(&body)
                    .expect("b64"),
            );
        } else {
            body.push_str(line.trim());
        }
    }
    out
}

pub(crate) fn to_pem(certs: &[Vec<u8>]) -> String {
    certs
        .iter()
        .map(|d| {
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                b64(d)
            )
        })
        .collect()
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

pub(crate) struct Fixture {
    pub(crate) chain: TestChain,
    pub(crate) kek: PublicKey,
    pub(crate) other: PublicKey,
    pub(crate) att: Mrvl1Attestation,
}

pub(crate) fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let chain = TestChain::generate("5.3G2201-ICM000042", true).expect("chain");
        let mut rng = rand::rng();
        let kek = PrivateKey::new(&mut rng, 2048)
            .expect("kek")
            .to_public_key();
        let other = PrivateKey::new(&mut rng, 2048)
            .expect("other")
            .to_public_key();
        let att = chain
            .mrvl1_attestation(&kek, KeyFlags::default(), ATTESTED_ID)
            .expect("attestation");
        Fixture {
            chain,
            kek,
            other,
            att,
        }
    })
}

pub(crate) fn chain() -> &'static TestChain {
    &fixture().chain
}

pub(crate) fn test_roots() -> TrustRoots {
    let mut r = pinned();
    r.add_extra_pem(&chain().root_pem()).expect("test root");
    assert!(r.has_extra());
    r
}

pub(crate) fn spki_pem(key: &PublicKey) -> String {
    use pkcs8::EncodePublicKey;
    key.to_public_key_pem(pkcs8::LineEnding::LF).expect("pem")
}
