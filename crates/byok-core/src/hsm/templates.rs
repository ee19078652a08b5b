//! Every attribute template byok creates objects with, in one place, so an auditor can
//! read what each object byok makes on a token may and may not do.
//!
//! | object | token object | may | never |
//! |---|---|---|---|
//! | BYOK key (private) | yes | be wrapped (extractable, sensitive) | sign, decrypt, unwrap, derive, be modified |
//! | BYOK key (public) | yes | nothing | encrypt, verify, wrap, be modified |
//! | transcript signer (private) | yes | sign | be extracted, decrypt, unwrap, derive, be modified |
//! | self-test pair | no (session) | be wrapped | sign, decrypt, unwrap, derive |
//! | session copy of a KEK | no (session) | wrap | encrypt, verify |
//! | trusted KEK (SO) | yes | wrap, be trusted | encrypt, verify, be modified |
//! | ephemeral AES key | no (session) | wrap | unwrap, encrypt, decrypt |

use cryptoki::object::{Attribute, KeyType, ObjectClass};

/// The RSA public exponent byok generates keys with (65537).
pub const PUBLIC_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

/// A BYOK key pair: the private key is a token object, private, sensitive and
/// extractable (BYOK exports it, wrapped) with no local use at all; the public key can do
/// nothing. Both share `id`. With `wrap_with_trusted`, the HSM wraps the key only under a
/// key the Security Officer marked trusted.
pub fn byok_key(
    label: &str,
    id: &[u8],
    bits: usize,
    wrap_with_trusted: bool,
) -> (Vec<Attribute>, Vec<Attribute>) {
    let public = vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::ModulusBits((bits as u64).into()),
        Attribute::PublicExponent(PUBLIC_EXPONENT.to_vec()),
        Attribute::Encrypt(false),
        Attribute::Verify(false),
        Attribute::VerifyRecover(false),
        Attribute::Wrap(false),
        Attribute::Modifiable(false),
    ];
    let mut private = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Sensitive(true),
        Attribute::Extractable(true),
        Attribute::Sign(false),
        Attribute::SignRecover(false),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Modifiable(false),
    ];
    if wrap_with_trusted {
        private.push(Attribute::WrapWithTrusted(true));
    }
    (public, private)
}

/// The transcript signer: a token key pair that signs and can never leave the HSM.
pub fn signer(label: &str, id: &[u8], bits: usize) -> (Vec<Attribute>, Vec<Attribute>) {
    let public = vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::KeyType(KeyType::RSA),
        Attribute::ModulusBits((bits as u64).into()),
        Attribute::PublicExponent(PUBLIC_EXPONENT.to_vec()),
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
        Attribute::Modifiable(false),
    ];
    let private = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::SignRecover(false),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Modifiable(false),
    ];
    (public, private)
}

/// The self-test's throwaway RSA-2048 pair: session objects, gone when the session ends.
pub fn session_pair() -> (Vec<Attribute>, Vec<Attribute>) {
    let public = vec![
        Attribute::Token(false),
        Attribute::ModulusBits(2048u64.into()),
        Attribute::PublicExponent(PUBLIC_EXPONENT.to_vec()),
        Attribute::Verify(false),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
    ];
    let private = vec![
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(true),
        Attribute::Sign(false),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
    ];
    (public, private)
}

/// A KEK loaded for one wrap: a session RSA public key that may wrap and nothing else.
pub fn session_kek(modulus: &[u8], exponent: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(false),
        Attribute::Private(false),
        Attribute::Modulus(modulus.to_vec()),
        Attribute::PublicExponent(exponent.to_vec()),
        Attribute::Wrap(true),
        Attribute::Encrypt(false),
        Attribute::Verify(false),
        Attribute::Label(b"byok-kek (session)".to_vec()),
    ]
}

/// A KEK the Security Officer stores as trusted (`byok kek trust`): keys made with
/// `CKA_WRAP_WITH_TRUSTED` can then be wrapped under it and no other key.
pub fn trusted_kek(modulus: &[u8], exponent: &[u8], label: &str, id: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Trusted(true),
        Attribute::Wrap(true),
        Attribute::Encrypt(false),
        Attribute::Verify(false),
        Attribute::Modifiable(false),
        Attribute::Modulus(modulus.to_vec()),
        Attribute::PublicExponent(exponent.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ]
}

/// The composite wrap's ephemeral AES-256 key: a sensitive session key that may only wrap.
pub fn ephemeral_aes() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::ValueLen(32.into()),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(true),
        Attribute::Wrap(true),
        Attribute::Unwrap(false),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Label(b"byok-ephemeral-aes (session)".to_vec()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::object::AttributeType;

    /// The boolean value of attribute `t` in `template`, if the template sets it.
    fn flag(template: &[Attribute], t: AttributeType) -> Option<bool> {
        template.iter().find_map(|a| match (a, t) {
            (Attribute::Token(b), AttributeType::Token)
            | (Attribute::Sensitive(b), AttributeType::Sensitive)
            | (Attribute::Extractable(b), AttributeType::Extractable)
            | (Attribute::Sign(b), AttributeType::Sign)
            | (Attribute::Decrypt(b), AttributeType::Decrypt)
            | (Attribute::Unwrap(b), AttributeType::Unwrap)
            | (Attribute::Derive(b), AttributeType::Derive)
            | (Attribute::Wrap(b), AttributeType::Wrap)
            | (Attribute::Encrypt(b), AttributeType::Encrypt)
            | (Attribute::Verify(b), AttributeType::Verify)
            | (Attribute::Modifiable(b), AttributeType::Modifiable)
            | (Attribute::Trusted(b), AttributeType::Trusted)
            | (Attribute::WrapWithTrusted(b), AttributeType::WrapWithTrusted) => Some(*b),
            _ => None,
        })
    }

    use AttributeType as A;

    #[test]
    fn a_byok_key_can_only_be_wrapped() {
        let (public, private) = byok_key("K", &[1], 4096, false);
        for (t, want) in [
            (A::Token, true),
            (A::Sensitive, true),
            (A::Extractable, true),
            (A::Sign, false),
            (A::Decrypt, false),
            (A::Unwrap, false),
            (A::Derive, false),
            (A::Modifiable, false),
        ] {
            assert_eq!(flag(&private, t), Some(want), "private {t:?}");
        }
        assert_eq!(flag(&private, A::WrapWithTrusted), None);
        for t in [A::Encrypt, A::Verify, A::Wrap, A::Modifiable] {
            assert_eq!(flag(&public, t), Some(false), "public {t:?}");
        }
        let (_, private) = byok_key("K", &[1], 4096, true);
        assert_eq!(flag(&private, A::WrapWithTrusted), Some(true));
    }

    #[test]
    fn the_signer_signs_and_never_leaves() {
        let (public, private) = signer("S", &[2], 3072);
        for (t, want) in [
            (A::Token, true),
            (A::Sensitive, true),
            (A::Extractable, false),
            (A::Sign, true),
            (A::Decrypt, false),
            (A::Unwrap, false),
            (A::Derive, false),
        ] {
            assert_eq!(flag(&private, t), Some(want), "private {t:?}");
        }
        assert_eq!(flag(&public, A::Wrap), Some(false));
    }

    #[test]
    fn throwaway_objects_are_session_objects() {
        let (public, private) = session_pair();
        assert_eq!(flag(&public, A::Token), Some(false));
        assert_eq!(flag(&private, A::Token), Some(false));
        assert_eq!(flag(&private, A::Sign), Some(false));
        let kek = session_kek(&[0xc1; 256], &PUBLIC_EXPONENT);
        assert_eq!(flag(&kek, A::Token), Some(false));
        assert_eq!(flag(&kek, A::Wrap), Some(true));
        assert_eq!(flag(&kek, A::Encrypt), Some(false));
        let aes = ephemeral_aes();
        assert_eq!(flag(&aes, A::Token), Some(false));
        assert_eq!(flag(&aes, A::Sensitive), Some(true));
        assert_eq!(flag(&aes, A::Unwrap), Some(false));
        assert_eq!(flag(&aes, A::Decrypt), Some(false));
    }

    #[test]
    fn a_trusted_kek_is_a_fixed_token_object_that_only_wraps() {
        let t = trusted_kek(&[0xc1; 256], &PUBLIC_EXPONENT, "byok-kek-x", &[3]);
        for (t_, want) in [
            (A::Token, true),
            (A::Trusted, true),
            (A::Wrap, true),
            (A::Encrypt, false),
            (A::Verify, false),
            (A::Modifiable, false),
        ] {
            assert_eq!(flag(&t, t_), Some(want), "{t_:?}");
        }
    }
}
