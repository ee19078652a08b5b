//! RSA PKCS#1 v1.5 signature checks, through the `rsa` crate.
//!
//! Two encodings are in use: with a DigestInfo (certificates; Google's firmware 3.x
//! signing attestation blobs) and over the bare SHA-256 digest (Azure's firmware 2.x,
//! `MRVL-1`), which is `rsa`'s "unprefixed" form.
//!
//! Strictness: `rsa` 0.10's `Pkcs1v15Sign` verification (`pkcs1v15_sign_unpad` in
//! `src/algorithms/pkcs1v15.rs`) requires a signature of exactly the modulus size and a
//! value below the modulus, then compares the WHOLE encoded message
//! `00 01 FF..FF 00 || prefix || digest` (at least 8 bytes of FF) with what it expects;
//! it does not parse the block leniently (no skipping of padding, no trailing data), so
//! a block with the right digest but wrong padding or separator is refused. The unit
//! tests below forge such blocks to keep it so.

use const_oid::db::rfc5912::{
    SHA_256_WITH_RSA_ENCRYPTION, SHA_384_WITH_RSA_ENCRYPTION, SHA_512_WITH_RSA_ENCRYPTION,
};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, PublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::blob::{ParsedBlob, SIGNATURE_LEN};
use super::der::Cert;
use crate::bail;
use crate::error::Result;

/// How an attestation blob is signed by the partition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BlobForm {
    /// PKCS#1 v1.5 with the SHA-256 DigestInfo (Google's firmware 3.x).
    DigestInfo,
    /// PKCS#1 v1.5 type 1 over the bare SHA-256 digest (Azure's firmware 2.x).
    BareDigest,
}

impl BlobForm {
    pub(super) fn describe(self) -> &'static str {
        match self {
            BlobForm::DigestInfo => "RSA PKCS#1 v1.5 SHA-256 (with DigestInfo)",
            BlobForm::BareDigest => "RSA PKCS#1 v1.5 type 1 over the bare SHA-256 digest (MRVL-1)",
        }
    }
}

/// Does `sig` verify as PKCS#1 v1.5 over SHA-256(`data`) in `form` under `key`?
pub(super) fn verify_sha256(key: &PublicKey, form: BlobForm, data: &[u8], sig: &[u8]) -> bool {
    let scheme = match form {
        BlobForm::DigestInfo => Pkcs1v15Sign::new::<Sha256>(),
        BlobForm::BareDigest => Pkcs1v15Sign::new_unprefixed(),
    };
    key.verify(scheme, &Sha256::digest(data), sig).is_ok()
}

/// An RSA public key from SubjectPublicKeyInfo DER; `None` if it is not one.
pub(super) fn rsa_key_from_spki(spki: &[u8]) -> Option<PublicKey> {
    use pkcs8::DecodePublicKey;
    PublicKey::from_public_key_der(spki).ok()
}

/// Does `issuer_key` sign `cert` (sha256/384/512WithRSAEncryption)?
pub(super) fn cert_signed_by(cert: &Cert, issuer_key: &PublicKey) -> bool {
    let (scheme, digest) = if cert.sig_alg == SHA_256_WITH_RSA_ENCRYPTION {
        (
            Pkcs1v15Sign::new::<Sha256>(),
            Sha256::digest(&cert.tbs).to_vec(),
        )
    } else if cert.sig_alg == SHA_384_WITH_RSA_ENCRYPTION {
        (
            Pkcs1v15Sign::new::<Sha384>(),
            Sha384::digest(&cert.tbs).to_vec(),
        )
    } else if cert.sig_alg == SHA_512_WITH_RSA_ENCRYPTION {
        (
            Pkcs1v15Sign::new::<Sha512>(),
            Sha512::digest(&cert.tbs).to_vec(),
        )
    } else {
        return false;
    };
    issuer_key.verify(scheme, &digest, &cert.signature).is_ok()
}

/// Verify a blob's signature under the partition key; returns the form it uses.
pub(super) fn verify_blob_signature(
    parsed: &ParsedBlob<'_>,
    key: &PublicKey,
    partition: &Cert,
    which: &str,
) -> Result<BlobForm> {
    if key.size() != SIGNATURE_LEN {
        bail!(
            Integrity,
            "attestation: the partition key ({}) is {} bits but the {which} carries a 2048-bit signature; the chain does not belong to this attestation",
            partition.describe(),
            key.size() * 8
        );
    }
    for form in [BlobForm::DigestInfo, BlobForm::BareDigest] {
        if verify_sha256(key, form, parsed.signed, parsed.signature) {
            return Ok(form);
        }
    }
    bail!(Integrity, "attestation: the {which} is not signed by the partition certificate ({}): the attestation was altered or belongs to another HSM; get a fresh attestation from the vault", partition.describe())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::{BoxedUint, PrivateKey};
    use std::sync::OnceLock;

    fn key() -> &'static PrivateKey {
        static K: OnceLock<PrivateKey> = OnceLock::new();
        K.get_or_init(|| PrivateKey::new(&mut rand::rng(), 2048).expect("key"))
    }

    /// The raw RSA private operation on a chosen encoded block: a signature whose
    /// recovered block is exactly `em`.
    fn forge(em: &[u8]) -> Vec<u8> {
        let pk = key();
        let m = BoxedUint::from_be_slice(em, pk.n_bits_precision()).expect("m");
        let s = rsa::hazmat::rsa_decrypt(Some(&mut rand::rng()), pk, &m).expect("raw");
        let bytes = s.to_be_bytes();
        bytes[bytes.len() - pk.size()..].to_vec()
    }

    /// `00 01 FF.. 00 || t` for a 2048-bit key.
    fn block(t: &[u8]) -> Vec<u8> {
        let k = key().size();
        let mut em = vec![0xffu8; k];
        em[0] = 0;
        em[1] = 1;
        em[k - t.len() - 1] = 0;
        em[k - t.len()..].copy_from_slice(t);
        em
    }

    #[test]
    fn each_form_accepted_and_one_byte_change_refused() {
        let pk = key().to_public_key();
        let data = b"attested bytes";
        let bare = key()
            .sign(Pkcs1v15Sign::new_unprefixed(), &Sha256::digest(data))
            .expect("sign");
        let with_di = key()
            .sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(data))
            .expect("sign");
        assert!(verify_sha256(&pk, BlobForm::BareDigest, data, &bare));
        assert!(verify_sha256(&pk, BlobForm::DigestInfo, data, &with_di));
        // Each form is only its own.
        assert!(!verify_sha256(&pk, BlobForm::DigestInfo, data, &bare));
        assert!(!verify_sha256(&pk, BlobForm::BareDigest, data, &with_di));
        for sig in [&bare, &with_di] {
            for i in [0, 1, 100, sig.len() - 1] {
                let mut bad = sig.clone();
                bad[i] ^= 0x01;
                for form in [BlobForm::BareDigest, BlobForm::DigestInfo] {
                    assert!(!verify_sha256(&pk, form, data, &bad), "byte {i}");
                }
            }
            assert!(!verify_sha256(
                &pk,
                BlobForm::BareDigest,
                b"attested bytez",
                sig
            ));
            assert!(!verify_sha256(&pk, BlobForm::BareDigest, data, &sig[1..]));
            assert!(!verify_sha256(
                &pk,
                BlobForm::BareDigest,
                data,
                &[sig.as_slice(), &[0]].concat()
            ));
        }
        // A value at or above the modulus is not a signature.
        let n = pk.n_bytes();
        assert!(!verify_sha256(&pk, BlobForm::BareDigest, data, &n));
    }

    #[test]
    fn forged_blocks_with_the_right_digest_but_wrong_padding_are_refused() {
        let pk = key().to_public_key();
        let data = b"attested bytes";
        let digest = Sha256::digest(data);
        // The forging is sound: the correct block verifies.
        assert!(verify_sha256(
            &pk,
            BlobForm::BareDigest,
            data,
            &forge(&block(&digest))
        ));
        let k = key().size();
        let mut variants = Vec::new();
        // No FF padding at all.
        let mut em = vec![0u8; k];
        em[1] = 1;
        em[k - 32..].copy_from_slice(&digest);
        variants.push(em);
        // FE instead of FF.
        let mut em = block(&digest);
        em[2..k - 33].fill(0xfe);
        variants.push(em);
        // Wrong separator.
        let mut em = block(&digest);
        em[k - 33] = 1;
        variants.push(em);
        // Block type 2 instead of 1.
        let mut em = block(&digest);
        em[1] = 2;
        variants.push(em);
        // Garbage between the padding and the digest (digest still at the end).
        let mut em = block(&digest);
        em[k - 40..k - 33].fill(0xab);
        variants.push(em);
        for (i, em) in variants.iter().enumerate() {
            let sig = forge(em);
            assert!(
                !verify_sha256(&pk, BlobForm::BareDigest, data, &sig),
                "variant {i}"
            );
            assert!(
                !verify_sha256(&pk, BlobForm::DigestInfo, data, &sig),
                "variant {i}"
            );
        }
    }

    #[test]
    fn certificates_by_algorithm() {
        use const_oid::db::rfc5912::SHA_1_WITH_RSA_ENCRYPTION;
        let pk = key().to_public_key();
        let tbs = b"to be signed".to_vec();
        let cert = |sig_alg, signature| Cert {
            der: Vec::new(),
            tbs: tbs.clone(),
            sig_alg,
            signature,
            version: 3,
            issuer_der: Vec::new(),
            subject_der: Vec::new(),
            issuer_cn: String::new(),
            subject_cn: String::new(),
            spki: Vec::new(),
        };
        let s256 = key()
            .sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(&tbs))
            .expect("s");
        let s384 = key()
            .sign(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(&tbs))
            .expect("s");
        let s512 = key()
            .sign(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(&tbs))
            .expect("s");
        assert!(cert_signed_by(
            &cert(SHA_256_WITH_RSA_ENCRYPTION, s256.clone()),
            &pk
        ));
        assert!(cert_signed_by(
            &cert(SHA_384_WITH_RSA_ENCRYPTION, s384.clone()),
            &pk
        ));
        assert!(cert_signed_by(
            &cert(SHA_512_WITH_RSA_ENCRYPTION, s512),
            &pk
        ));
        // The algorithm named must be the one used; unknown algorithms are refused.
        assert!(!cert_signed_by(
            &cert(SHA_384_WITH_RSA_ENCRYPTION, s256.clone()),
            &pk
        ));
        assert!(!cert_signed_by(
            &cert(SHA_1_WITH_RSA_ENCRYPTION, s256.clone()),
            &pk
        ));
        let mut bad = s384;
        bad[7] ^= 0x80;
        assert!(!cert_signed_by(
            &cert(SHA_384_WITH_RSA_ENCRYPTION, bad),
            &pk
        ));
        let other = PrivateKey::new(&mut rand::rng(), 2048)
            .expect("other")
            .to_public_key();
        assert!(!cert_signed_by(
            &cert(SHA_256_WITH_RSA_ENCRYPTION, s256),
            &other
        ));
    }

    #[test]
    fn spki_must_be_rsa() {
        use pkcs8::EncodePublicKey;
        let pk = key().to_public_key();
        let der = pk.to_public_key_der().expect("der");
        assert_eq!(rsa_key_from_spki(der.as_bytes()), Some(pk));
        assert!(rsa_key_from_spki(&[0x30, 0x00]).is_none());
        assert!(rsa_key_from_spki(&[]).is_none());
    }
}
