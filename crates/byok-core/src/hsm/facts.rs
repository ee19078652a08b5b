//! The public facts byok reads back about a key on the token: its label, id, modulus and
//! exponent, and the attributes that tell where it came from and what it may do. Never a
//! secret attribute.

use serde::Serialize;

/// Public facts about an RSA key on the token, read back after generation.
#[derive(Debug, Clone, Serialize)]
pub struct KeyFacts {
    pub label: String,
    pub id: String,
    pub bits: usize,
    pub modulus: Vec<u8>,
    pub exponent: Vec<u8>,
    pub private: PrivateKeyFacts,
}

/// The private key's attributes that tell where it came from and what it may do.
#[derive(Debug, Clone, Serialize)]
pub struct PrivateKeyFacts {
    pub token: bool,
    pub private: bool,
    pub sensitive: bool,
    pub always_sensitive: bool,
    pub extractable: bool,
    pub never_extractable: bool,
    pub local: bool,
    pub key_gen_mechanism: String,
    pub wrap_with_trusted: bool,
    pub sign: bool,
    pub decrypt: bool,
    pub unwrap: bool,
    pub derive: bool,
    pub modifiable: bool,
}

impl KeyFacts {
    /// The SubjectPublicKeyInfo DER of the key.
    pub fn spki_der(&self) -> crate::Result<Vec<u8>> {
        use rsa::pkcs8::EncodePublicKey;
        let key = crate::kek::rsa_from_parts(&self.modulus, &self.exponent)?;
        Ok(key
            .to_public_key_der()
            .map_err(|e| crate::err!(Internal, "cannot encode the public key: {e}"))?
            .as_bytes()
            .to_vec())
    }

    /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`), as `N.pub.pem` files hold it.
    pub fn public_pem(&self) -> crate::Result<String> {
        pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &self.spki_der()?)
            .map_err(|e| crate::err!(Internal, "cannot encode the public key: {e}"))
    }

    /// Hex SHA-256 of the SubjectPublicKeyInfo DER: the key's fingerprint.
    pub fn spki_sha256(&self) -> crate::Result<String> {
        Ok(crate::util::sha256_hex(&self.spki_der()?))
    }
}

impl PrivateKeyFacts {
    /// What a BYOK key generated in this HSM must be: a token object, local, sensitive
    /// since generation, extractable (only wrapped, for BYOK) and of no local use.
    pub fn is_byok_key(&self) -> bool {
        self.byok_faults().is_empty()
    }

    /// How the key falls short of [`is_byok_key`](Self::is_byok_key), one phrase per
    /// fault (none for a BYOK key): what `byok wrap` names when it refuses a key.
    pub fn byok_faults(&self) -> Vec<&'static str> {
        [
            (!self.token, "not a token object"),
            (!self.local, "not generated on this token (CKA_LOCAL false)"),
            (!self.sensitive, "not sensitive"),
            (
                !self.always_sensitive,
                "not sensitive since generation (CKA_ALWAYS_SENSITIVE false)",
            ),
            (!self.extractable, "not extractable"),
            (self.sign, "usable to sign (CKA_SIGN)"),
            (self.decrypt, "usable to decrypt (CKA_DECRYPT)"),
            (self.unwrap, "usable to unwrap (CKA_UNWRAP)"),
            (self.derive, "usable to derive (CKA_DERIVE)"),
        ]
        .into_iter()
        .filter_map(|(fault, what)| fault.then_some(what))
        .collect()
    }

    /// What the transcript signer must be: sensitive, never extractable, for signing.
    pub fn is_signer(&self) -> bool {
        self.sensitive && !self.extractable && self.sign
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hsm::fake::byok_facts;

    #[test]
    fn byok_key_and_signer_rules() {
        let f = byok_facts();
        assert!(f.is_byok_key() && !f.is_signer());
        for broken in [
            PrivateKeyFacts {
                local: false,
                ..f.clone()
            },
            PrivateKeyFacts {
                always_sensitive: false,
                ..f.clone()
            },
            PrivateKeyFacts {
                extractable: false,
                ..f.clone()
            },
            PrivateKeyFacts {
                sign: true,
                ..f.clone()
            },
            PrivateKeyFacts {
                unwrap: true,
                ..f.clone()
            },
            PrivateKeyFacts {
                token: false,
                ..f.clone()
            },
        ] {
            assert!(!broken.is_byok_key(), "{broken:?}");
        }
        let s = PrivateKeyFacts {
            extractable: false,
            sign: true,
            ..f
        };
        assert!(s.is_signer());
    }

    #[test]
    fn spki_and_pem_of_a_key() {
        use rsa::traits::PublicKeyParts;
        let k = rsa::PrivateKey::new(&mut rand::rng(), 2048).unwrap();
        let facts = KeyFacts {
            label: "k".into(),
            id: "01".into(),
            bits: 2048,
            modulus: k.n().to_be_bytes_trimmed_vartime().to_vec(),
            exponent: k.e().to_be_bytes_trimmed_vartime().to_vec(),
            private: byok_facts(),
        };
        let pem = facts.public_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert_eq!(facts.spki_sha256().unwrap().len(), 64);
    }
}
