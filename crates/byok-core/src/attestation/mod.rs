//! Verification of Marvell LiquidSecurity HSM key attestations.
//!
//! Azure Managed HSM and Google Cloud HSM run on Marvell LiquidSecurity
//! adapters. The adapter can sign a statement of a key object's PKCS#11
//! attributes (modulus, exponent, extractable, sensitive, ...) with the key of
//! its *partition*. Checking such a statement before wrapping a key under a
//! KEK proves that the KEK's private half lives in a real HSM, cannot leave it,
//! and is the key we are about to use.
//!
//! Two inputs are supported:
//!
//! 1. Azure `MRVL-1` ([`verify_azure`]): the KeyBundle returned by
//!    `GET /keys/{name}/{version}/attestation`, or the attestation object that
//!    `az keyvault key get-attestation --file` writes (then the key is given
//!    separately, see [`ExpectedKey::parse`]).
//! 2. A generic Marvell blob, gzip-wrapped or not, with its PEM chain
//!    ([`verify_marvell_blob`]): this is what Google Cloud HSM hands out.
//!
//! What is checked, link by link (the card certificate is X.509 v1 without
//! extensions, so a generic path builder would refuse it):
//!
//! * the card certificate is signed by a pinned Marvell root **key** (the
//!   key, not the certificate: the root was reissued in 2024 with the same key
//!   and serial number 0), or by an extra root passed for rehearsals;
//! * the partition certificate is signed by the card certificate;
//! * the blob's trailing signature verifies under the partition key: the
//!   whole PKCS#1 v1.5 type-1 block is rebuilt and compared, for either form
//!   in use (with DigestInfo, as Google's firmware 3.x signs, or the bare
//!   SHA-256 digest, as Azure's firmware 2.x signs);
//! * the owner's partition certificate carries the same key as Marvell's
//!   (Azure: and is signed by a self-signed per-HSM root in the bundle);
//! * the attested modulus and exponent equal the expected key's, and the
//!   attested id names the key and version of the kid when a kid is known.
//!
//! Certificate validity dates are deliberately not checked: the HSM's
//! statement is about the moment it was made, and the 2015 Marvell root
//! certificate has expired while its key remains the trust anchor.
//!
//! All parsing is hand-written (no crate parses Marvell attestations, and
//! strict X.509 parsers refuse parts of this chain); see [`blob`] and the
//! private `der` module. Every length is checked: bad input gives an error,
//! never a panic.

pub mod blob;
mod der;
pub mod policy;

use std::fmt;

use base64::Engine;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, PublicKey};
use serde::Serialize;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::error::Result;
use crate::{bail, err};
use blob::RawObject;
use der::Cert;

/// Public keys of Marvell's LiquidSecurity roots (SubjectPublicKeyInfo PEM):
/// the LiquidSecurity root (same key in the 2015 v1 and 2024 v3 certificates)
/// and the LiquidSecurity 2 root (RSA-4096). Taken from the certificates
/// Marvell publishes; a test checks them against those certificates.
const PINNED_ROOT_KEYS: &str = include_str!("marvell-root-keys.pem");
const PINNED_ROOT_NAMES: [&str; 2] = [
    "Marvell LiquidSecurity root (localca.liquidsecurity.cavium.com)",
    "Marvell LiquidSecurity 2 root (cavium-liquidsecurity-ls2)",
];

// PKCS#11 attribute types (CKA_*) as they appear in the blobs.
pub const ATTR_CLASS: u32 = 0x0000;
pub const ATTR_TOKEN: u32 = 0x0001;
pub const ATTR_PRIVATE: u32 = 0x0002;
pub const ATTR_LABEL: u32 = 0x0003;
pub const ATTR_TRUSTED: u32 = 0x0086;
pub const ATTR_KEY_TYPE: u32 = 0x0100;
pub const ATTR_ID: u32 = 0x0102;
pub const ATTR_SENSITIVE: u32 = 0x0103;
pub const ATTR_ENCRYPT: u32 = 0x0104;
pub const ATTR_DECRYPT: u32 = 0x0105;
pub const ATTR_WRAP: u32 = 0x0106;
pub const ATTR_UNWRAP: u32 = 0x0107;
pub const ATTR_SIGN: u32 = 0x0108;
pub const ATTR_VERIFY: u32 = 0x010A;
pub const ATTR_DERIVE: u32 = 0x010C;
pub const ATTR_MODULUS: u32 = 0x0120;
pub const ATTR_MODULUS_BITS: u32 = 0x0121;
pub const ATTR_PUBLIC_EXPONENT: u32 = 0x0122;
pub const ATTR_VALUE_LEN: u32 = 0x0161;
pub const ATTR_EXTRACTABLE: u32 = 0x0162;
pub const ATTR_LOCAL: u32 = 0x0163;
pub const ATTR_NEVER_EXTRACTABLE: u32 = 0x0164;
pub const ATTR_ALWAYS_SENSITIVE: u32 = 0x0165;
pub const ATTR_KCV: u32 = 0x0173;
pub const ATTR_WRAP_WITH_TRUSTED: u32 = 0x0210;

const KNOWN_ATTRIBUTES: [u32; 25] = [
    ATTR_CLASS,
    ATTR_TOKEN,
    ATTR_PRIVATE,
    ATTR_LABEL,
    ATTR_TRUSTED,
    ATTR_KEY_TYPE,
    ATTR_ID,
    ATTR_SENSITIVE,
    ATTR_ENCRYPT,
    ATTR_DECRYPT,
    ATTR_WRAP,
    ATTR_UNWRAP,
    ATTR_SIGN,
    ATTR_VERIFY,
    ATTR_DERIVE,
    ATTR_MODULUS,
    ATTR_MODULUS_BITS,
    ATTR_PUBLIC_EXPONENT,
    ATTR_VALUE_LEN,
    ATTR_EXTRACTABLE,
    ATTR_LOCAL,
    ATTR_NEVER_EXTRACTABLE,
    ATTR_ALWAYS_SENSITIVE,
    ATTR_KCV,
    ATTR_WRAP_WITH_TRUSTED,
];

pub(crate) fn is_known_attribute(ty: u32) -> bool {
    KNOWN_ATTRIBUTES.contains(&ty)
}

/// CKO_PUBLIC_KEY and CKO_PRIVATE_KEY.
pub const CLASS_PUBLIC_KEY: u64 = 2;
pub const CLASS_PRIVATE_KEY: u64 = 3;
/// CKK_RSA, CKK_EC, CKK_AES.
pub const KEY_TYPE_RSA: u64 = 0;
pub const KEY_TYPE_EC: u64 = 3;
pub const KEY_TYPE_AES: u64 = 0x1f;

// ---------------------------------------------------------------------------
// Report

/// One attested key object, decoded. `None` means the attribute is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttestedObject {
    pub handle: u32,
    pub class: Option<u64>,
    pub class_name: String,
    pub key_type: Option<u64>,
    pub key_type_name: String,
    /// RSA modulus bits, EC field size, or AES key bits.
    pub key_bits: Option<u32>,
    /// CKA_TOKEN as the HSM reports it (Marvell uses 2 where PKCS#11
    /// would say true, so this is kept as a number).
    pub token: Option<u64>,
    pub private: Option<bool>,
    pub sensitive: Option<bool>,
    pub always_sensitive: Option<bool>,
    pub extractable: Option<bool>,
    pub never_extractable: Option<bool>,
    /// Generated in the HSM (CKA_LOCAL).
    pub local: Option<bool>,
    pub encrypt: Option<bool>,
    pub decrypt: Option<bool>,
    pub wrap: Option<bool>,
    pub unwrap: Option<bool>,
    pub sign: Option<bool>,
    pub verify: Option<bool>,
    pub derive: Option<bool>,
    pub trusted: Option<bool>,
    pub wrap_with_trusted: Option<bool>,
    pub label: Option<String>,
    /// CKA_ID as text (Azure: `/keys/{name}/{version}`), or hex if not UTF-8.
    pub id: Option<String>,
    /// RSA modulus, hex (no leading zeros).
    pub modulus: Option<String>,
    /// RSA public exponent, hex (no leading zeros).
    pub public_exponent: Option<String>,
    /// EC public point (uncompressed), hex: Marvell stores it in 0x0120.
    pub ec_point: Option<String>,
    pub value_len: Option<u64>,
    pub key_check_value: Option<String>,
    /// Attribute types not decoded here (vendor-defined and others), hex.
    pub other_attributes: Vec<String>,
}

/// The result of a successful verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttestationReport {
    /// `"MRVL-1"` (Azure) or `"marvell"` (generic blob with a separate chain).
    pub format: String,
    /// How the blob was signed by the partition key.
    pub signature_form: String,
    /// The trust root that signed the card certificate.
    pub root: String,
    /// True when that root is an extra root passed in, not a pinned Marvell key.
    pub extra_root_used: bool,
    pub card_certificate: String,
    pub partition_certificate: String,
    pub owner_partition_certificate: String,
    /// CN of the self-signed owner root that signed the owner partition
    /// certificate, when the bundle holds it (Azure); `None` otherwise
    /// (Google's owner root is not in the bundle and is not checked).
    pub owner_root: Option<String>,
    /// HSM serial, e.g. `5.3G1953-ICM001225`.
    pub hsm_serial: Option<String>,
    /// Partition number/name from the partition certificate CN.
    pub partition: Option<String>,
    /// `"FIPS"`, `"non-FIPS"` or `"unknown"`.
    pub mode: String,
    /// Whether the attested key was compared with an expected key.
    pub key_compared: bool,
    pub kid: Option<String>,
    /// Key name and version from the attested id (Azure).
    pub key_name: Option<String>,
    pub key_version: Option<String>,
    pub objects: Vec<AttestedObject>,
}

impl AttestationReport {
    /// The attested private-key object, if any.
    pub fn private_object(&self) -> Option<&AttestedObject> {
        self.objects
            .iter()
            .find(|o| o.class == Some(CLASS_PRIVATE_KEY))
    }

    /// Human-readable rendering (several lines).
    pub fn to_text(&self) -> String {
        self.to_string()
    }
}

fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => "(not attested)",
    }
}

impl fmt::Display for AttestationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "HSM key attestation: VERIFIED ({})", self.format)?;
        writeln!(
            f,
            "  HSM serial:          {}",
            self.hsm_serial.as_deref().unwrap_or("(unknown)")
        )?;
        writeln!(
            f,
            "  partition:           {}",
            self.partition.as_deref().unwrap_or("(unknown)")
        )?;
        writeln!(f, "  mode:                {}", self.mode)?;
        writeln!(f, "  trust root:          {}", self.root)?;
        if self.extra_root_used {
            writeln!(
                f,
                "  WARNING: the chain ends at an extra trust root, not a pinned Marvell key"
            )?;
        }
        writeln!(f, "  card certificate:    {}", self.card_certificate)?;
        writeln!(f, "  partition cert:      {}", self.partition_certificate)?;
        writeln!(
            f,
            "  owner partition:     {}",
            self.owner_partition_certificate
        )?;
        writeln!(
            f,
            "  owner root:          {}",
            self.owner_root
                .as_deref()
                .unwrap_or("(not in the bundle; not checked)")
        )?;
        writeln!(f, "  signature:           {}", self.signature_form)?;
        if let Some(kid) = &self.kid {
            writeln!(f, "  kid:                 {kid}")?;
        }
        if let (Some(n), Some(v)) = (&self.key_name, &self.key_version) {
            writeln!(f, "  attested key:        {n} version {v}")?;
        }
        writeln!(
            f,
            "  key compared:        {}",
            if self.key_compared {
                "yes, modulus and exponent match"
            } else {
                "no (no expected key given)"
            }
        )?;
        for o in &self.objects {
            writeln!(
                f,
                "  object 0x{:x}: {} {}",
                o.handle, o.class_name, o.key_type_name
            )?;
            if let Some(b) = o.key_bits {
                writeln!(f, "    size:              {b} bits")?;
            }
            if let Some(id) = &o.id {
                writeln!(f, "    id:                {id}")?;
            }
            if let Some(l) = &o.label {
                writeln!(f, "    label:             {l}")?;
            }
            writeln!(f, "    extractable:       {}", yes_no(o.extractable))?;
            writeln!(f, "    never extractable: {}", yes_no(o.never_extractable))?;
            writeln!(f, "    local (generated): {}", yes_no(o.local))?;
            writeln!(f, "    sensitive:         {}", yes_no(o.sensitive))?;
            writeln!(f, "    always sensitive:  {}", yes_no(o.always_sensitive))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Attribute decoding

fn be_uint(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 8 {
        return None;
    }
    Some(v.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn attr_bool(o: &RawObject, ty: u32, name: &str) -> Result<Option<bool>> {
    match o.get(ty) {
        None => Ok(None),
        Some(v) => match be_uint(v) {
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            _ => bail!(
                "attestation: attribute {name} (0x{ty:04x}) is not a boolean ({} bytes: {}); the attestation is malformed",
                v.len(),
                hex::encode(v)
            ),
        },
    }
}

fn attr_uint(o: &RawObject, ty: u32, name: &str) -> Result<Option<u64>> {
    match o.get(ty) {
        None => Ok(None),
        Some(v) => be_uint(v).map(Some).ok_or_else(|| {
            err!(
                "attestation: attribute {name} (0x{ty:04x}) is not an integer ({} bytes); the attestation is malformed",
                v.len()
            )
        }),
    }
}

fn trim_zeros(v: &[u8]) -> &[u8] {
    let skip = v.iter().take_while(|b| **b == 0).count();
    v.get(skip..).unwrap_or_default()
}

fn text_or_hex(v: &[u8]) -> String {
    let end = v.len() - v.iter().rev().take_while(|b| **b == 0).count();
    let t = v.get(..end).unwrap_or_default();
    match std::str::from_utf8(t) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => s.to_string(),
        _ => format!("0x{}", hex::encode(v)),
    }
}

fn bit_len(v: &[u8]) -> u32 {
    let t = trim_zeros(v);
    match t.first() {
        None => 0,
        Some(b) => (t.len() as u32 - 1) * 8 + (8 - b.leading_zeros()),
    }
}

fn class_name(c: Option<u64>) -> String {
    match c {
        Some(0) => "data".into(),
        Some(1) => "certificate".into(),
        Some(2) => "public key".into(),
        Some(3) => "private key".into(),
        Some(4) => "secret key".into(),
        Some(x) => format!("class 0x{x:x}"),
        None => "(no class)".into(),
    }
}

fn key_type_name(t: Option<u64>) -> String {
    match t {
        Some(KEY_TYPE_RSA) => "RSA".into(),
        Some(KEY_TYPE_EC) => "EC".into(),
        Some(KEY_TYPE_AES) => "AES".into(),
        Some(0x10) => "generic secret".into(),
        Some(0x15) => "DES3".into(),
        Some(x) => format!("key type 0x{x:x}"),
        None => "(no key type)".into(),
    }
}

/// Decode the attributes of one object.
pub(crate) fn decode_object(o: &RawObject) -> Result<AttestedObject> {
    let class = attr_uint(o, ATTR_CLASS, "class")?;
    let key_type = attr_uint(o, ATTR_KEY_TYPE, "key type")?;
    let modulus_attr = o.get(ATTR_MODULUS);
    let (modulus, ec_point) = match (key_type, modulus_attr) {
        (Some(KEY_TYPE_EC), Some(p)) => (None, Some(hex::encode(p))),
        (_, Some(m)) => (Some(hex::encode(trim_zeros(m))), None),
        (_, None) => (None, None),
    };
    let value_len = attr_uint(o, ATTR_VALUE_LEN, "value length")?;
    let key_bits = match key_type {
        Some(KEY_TYPE_RSA) => match attr_uint(o, ATTR_MODULUS_BITS, "modulus bits")? {
            Some(b) => u32::try_from(b).ok(),
            None => modulus_attr.map(bit_len),
        },
        // Uncompressed point 04 || X || Y: field size = len(X) * 8.
        Some(KEY_TYPE_EC) => modulus_attr
            .filter(|p| p.len() > 1 && p.first() == Some(&4))
            .map(|p| ((p.len() as u32 - 1) / 2) * 8),
        Some(_) => value_len.and_then(|v| u32::try_from(v.saturating_mul(8)).ok()),
        None => None,
    };
    let other_attributes = o
        .attributes
        .iter()
        .filter(|(t, _)| !is_known_attribute(*t))
        .map(|(t, _)| format!("0x{t:04x}"))
        .collect();
    Ok(AttestedObject {
        handle: o.handle,
        class,
        class_name: class_name(class),
        key_type,
        key_type_name: key_type_name(key_type),
        key_bits,
        token: attr_uint(o, ATTR_TOKEN, "token")?,
        private: attr_bool(o, ATTR_PRIVATE, "private")?,
        sensitive: attr_bool(o, ATTR_SENSITIVE, "sensitive")?,
        always_sensitive: attr_bool(o, ATTR_ALWAYS_SENSITIVE, "always sensitive")?,
        extractable: attr_bool(o, ATTR_EXTRACTABLE, "extractable")?,
        never_extractable: attr_bool(o, ATTR_NEVER_EXTRACTABLE, "never extractable")?,
        local: attr_bool(o, ATTR_LOCAL, "local")?,
        encrypt: attr_bool(o, ATTR_ENCRYPT, "encrypt")?,
        decrypt: attr_bool(o, ATTR_DECRYPT, "decrypt")?,
        wrap: attr_bool(o, ATTR_WRAP, "wrap")?,
        unwrap: attr_bool(o, ATTR_UNWRAP, "unwrap")?,
        sign: attr_bool(o, ATTR_SIGN, "sign")?,
        verify: attr_bool(o, ATTR_VERIFY, "verify")?,
        derive: attr_bool(o, ATTR_DERIVE, "derive")?,
        trusted: attr_bool(o, ATTR_TRUSTED, "trusted")?,
        wrap_with_trusted: attr_bool(o, ATTR_WRAP_WITH_TRUSTED, "wrap with trusted")?,
        label: o.get(ATTR_LABEL).map(text_or_hex),
        id: o.get(ATTR_ID).map(text_or_hex),
        modulus,
        public_exponent: o
            .get(ATTR_PUBLIC_EXPONENT)
            .map(|e| hex::encode(trim_zeros(e))),
        ec_point,
        value_len,
        key_check_value: o.get(ATTR_KCV).map(hex::encode),
        other_attributes,
    })
}

/// Parse a blob (gzip-wrapped or not) and decode its objects, WITHOUT any
/// verification: for inspection only (e.g. a blob whose chain is unknown).
pub fn parse_blob_unverified(data: &[u8]) -> Result<Vec<AttestedObject>> {
    let raw = blob::maybe_gunzip(data)?;
    let parsed = blob::parse(&raw)?;
    parsed.objects.iter().map(decode_object).collect()
}

// ---------------------------------------------------------------------------
// RSA

const DI_SHA256: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const DI_SHA384: &[u8] = &[
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];
const DI_SHA512: &[u8] = &[
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
    0x00, 0x04, 0x40,
];

/// The raw RSA public operation `s^e mod n`, as `k` bytes (k = modulus size).
fn rsa_public_raw(key: &PublicKey, sig: &[u8]) -> Option<Vec<u8>> {
    let k = key.size();
    if sig.len() != k {
        return None;
    }
    let s = BoxedUint::from_be_slice(sig, key.n_bits_precision()).ok()?;
    if s >= *key.n().as_ref() {
        return None;
    }
    let m = rsa::hazmat::rsa_encrypt(key, &s).ok()?;
    let bytes = m.to_be_bytes();
    let extra = bytes.len().checked_sub(k)?;
    let (high, low) = bytes.split_at(extra);
    if high.iter().any(|b| *b != 0) {
        return None;
    }
    Some(low.to_vec())
}

/// Verify a PKCS#1 v1.5 signature by rebuilding the WHOLE encoded block
/// `00 01 FF..FF 00 || prefix || digest` and comparing all of it. An empty
/// prefix is the "bare digest" form (no DigestInfo).
fn pkcs1v15_verify(key: &PublicKey, prefix: &[u8], digest: &[u8], sig: &[u8]) -> bool {
    let k = key.size();
    let t_len = prefix.len() + digest.len();
    let Some(ps_len) = k.checked_sub(t_len + 3) else {
        return false;
    };
    if ps_len < 8 {
        return false;
    }
    let Some(em) = rsa_public_raw(key, sig) else {
        return false;
    };
    let expected = [&[0u8, 1][..], &vec![0xffu8; ps_len], &[0u8], prefix, digest].concat();
    em == expected
}

fn rsa_key_from_spki(spki: &[u8]) -> Option<PublicKey> {
    use pkcs8::DecodePublicKey;
    PublicKey::from_public_key_der(spki).ok()
}

/// Does `issuer_key` sign `cert`?
fn cert_signed_by(cert: &Cert, issuer_key: &PublicKey) -> bool {
    let (prefix, digest): (&[u8], Vec<u8>) = if cert.sig_alg == der::OID_SHA256_RSA {
        (DI_SHA256, Sha256::digest(&cert.tbs).to_vec())
    } else if cert.sig_alg == der::OID_SHA384_RSA {
        (DI_SHA384, Sha384::digest(&cert.tbs).to_vec())
    } else if cert.sig_alg == der::OID_SHA512_RSA {
        (DI_SHA512, Sha512::digest(&cert.tbs).to_vec())
    } else {
        return false;
    };
    pkcs1v15_verify(issuer_key, prefix, &digest, &cert.signature)
}

// ---------------------------------------------------------------------------
// Trust roots

#[derive(Debug, Clone)]
struct TrustRoot {
    name: String,
    spki: Vec<u8>,
    key: PublicKey,
    extra: bool,
}

/// The keys a card certificate may chain to: the pinned Marvell root keys,
/// plus extra roots passed in for rehearsals (the CLI must warn about those).
#[derive(Debug, Clone)]
pub struct TrustRoots {
    roots: Vec<TrustRoot>,
}

impl TrustRoots {
    /// The pinned Marvell LiquidSecurity root keys.
    pub fn marvell() -> Result<TrustRoots> {
        let mut roots = Vec::new();
        for (i, (label, spki)) in der::pem_blocks(PINNED_ROOT_KEYS)?.into_iter().enumerate() {
            if label != "PUBLIC KEY" {
                continue;
            }
            let key = rsa_key_from_spki(&spki)
                .ok_or_else(|| err!("internal: pinned Marvell root key #{i} does not parse"))?;
            let name = PINNED_ROOT_NAMES
                .get(i)
                .map(|s| s.to_string())
                .unwrap_or_else(|| format!("Marvell root #{i}"));
            roots.push(TrustRoot {
                name,
                spki,
                key,
                extra: false,
            });
        }
        Ok(TrustRoots { roots })
    }

    /// No roots at all (useful with [`TrustRoots::add_extra_pem`] in tests).
    pub fn empty() -> TrustRoots {
        TrustRoots { roots: Vec::new() }
    }

    /// Add extra roots from PEM: `CERTIFICATE` blocks (their key is used) or
    /// `PUBLIC KEY` blocks. Returns how many were added.
    pub fn add_extra_pem(&mut self, pem: &str) -> Result<usize> {
        let mut added = 0;
        for (label, der) in der::pem_blocks(pem)? {
            let (name, spki) = match label.as_str() {
                "CERTIFICATE" => {
                    let c = Cert::parse(&der).map_err(|e| e.context("extra trust root"))?;
                    (format!("extra root {}", c.describe()), c.spki)
                }
                "PUBLIC KEY" => ("extra root (public key)".to_string(), der),
                _ => continue,
            };
            let key = rsa_key_from_spki(&spki).ok_or_else(|| {
                err!("extra trust root {name}: not an RSA public key; pass the root certificate in PEM")
            })?;
            self.roots.push(TrustRoot {
                name,
                spki,
                key,
                extra: true,
            });
            added += 1;
        }
        if added == 0 {
            bail!("extra trust root: no CERTIFICATE or PUBLIC KEY block in the PEM given");
        }
        Ok(added)
    }

    pub fn has_extra(&self) -> bool {
        self.roots.iter().any(|r| r.extra)
    }
}

// ---------------------------------------------------------------------------
// Expected key

/// The key the attestation must be about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedKey {
    /// Modulus, big-endian without leading zeros.
    pub n: Vec<u8>,
    /// Public exponent, big-endian without leading zeros.
    pub e: Vec<u8>,
    /// Key Vault key id (`https://.../keys/{name}/{version}`), if known.
    pub kid: Option<String>,
}

impl ExpectedKey {
    pub fn from_rsa(key: &PublicKey, kid: Option<String>) -> ExpectedKey {
        ExpectedKey {
            n: trim_zeros(&key.n_bytes()).to_vec(),
            e: trim_zeros(&key.e_bytes()).to_vec(),
            kid,
        }
    }

    /// Read a public key from PEM (`PUBLIC KEY` = SPKI, `RSA PUBLIC KEY` =
    /// PKCS#1), a KeyBundle JSON (`{"key": {jwk}}`), or a bare JWK.
    pub fn parse(text: &str) -> Result<ExpectedKey> {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(trimmed)
                .map_err(|e| err!("expected key: not valid JSON ({e}); pass a PEM public key, a JWK or the key's JSON from Key Vault"))?;
            let jwk = if v.get("key").is_some_and(|k| k.is_object()) {
                v.get("key").unwrap_or(&v)
            } else {
                &v
            };
            return Self::from_jwk(jwk)?
                .ok_or_else(|| err!("expected key: the JSON holds no RSA key (no \"n\" and \"e\"); pass the KEK's public key"));
        }
        use pkcs1::DecodeRsaPublicKey;
        use pkcs8::DecodePublicKey;
        for (label, der) in der::pem_blocks(text)? {
            let key = match label.as_str() {
                "PUBLIC KEY" => PublicKey::from_public_key_der(&der).map_err(|e| {
                    err!("expected key: the PUBLIC KEY block is not an RSA key ({e})")
                })?,
                "RSA PUBLIC KEY" => PublicKey::from_pkcs1_der(&der).map_err(|e| {
                    err!("expected key: the RSA PUBLIC KEY block does not parse ({e})")
                })?,
                _ => continue,
            };
            return Ok(Self::from_rsa(&key, None));
        }
        bail!("expected key: no PUBLIC KEY or RSA PUBLIC KEY PEM block and not JSON; pass the KEK's public key")
    }

    /// From a JWK object; `Ok(None)` if it has no `n`/`e`.
    fn from_jwk(jwk: &serde_json::Value) -> Result<Option<ExpectedKey>> {
        let (Some(n), Some(e)) = (
            jwk.get("n").and_then(|v| v.as_str()),
            jwk.get("e").and_then(|v| v.as_str()),
        ) else {
            return Ok(None);
        };
        let n = b64_any(n).map_err(|e| e.context("key \"n\""))?;
        let e = b64_any(e).map_err(|e| e.context("key \"e\""))?;
        if trim_zeros(&n).is_empty() || trim_zeros(&e).is_empty() {
            bail!("key: \"n\" or \"e\" is zero; the key JSON is damaged");
        }
        Ok(Some(ExpectedKey {
            n: trim_zeros(&n).to_vec(),
            e: trim_zeros(&e).to_vec(),
            kid: jwk.get("kid").and_then(|v| v.as_str()).map(str::to_string),
        }))
    }
}

/// Decode base64 in either alphabet (standard or URL-safe), padded or not.
fn b64_any(s: &str) -> Result<Vec<u8>> {
    let cleaned: String = s
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(cleaned)
        .map_err(|e| err!("not valid base64 ({e}); the file is damaged, get a fresh copy"))
}

/// Split `.../keys/{name}/{version}` into name and optional version.
fn key_name_version(s: &str) -> Option<(String, Option<String>)> {
    let path = s.split(['?', '#']).next().unwrap_or_default();
    let segs: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let pos = segs.iter().rposition(|p| p.eq_ignore_ascii_case("keys"))?;
    let name = segs.get(pos + 1)?.to_string();
    let version = segs.get(pos + 2).map(|v| v.to_string());
    Some((name, version))
}

// ---------------------------------------------------------------------------
// Chain

struct Chain {
    root: String,
    extra_root: bool,
    card: Cert,
    partition: Cert,
    partition_key: PublicKey,
    owner_partition: Cert,
    owner_root: Option<String>,
}

fn parse_bundle(pem: &str) -> Result<Vec<Cert>> {
    let ders = der::pem_certificates(pem).map_err(|e| e.context("attestation certificates"))?;
    if ders.is_empty() {
        bail!("attestation: the certificate bundle holds no certificate; get a fresh attestation from the vault");
    }
    ders.iter()
        .enumerate()
        .map(|(i, d)| {
            Cert::parse(d).map_err(|e| e.context(format!("attestation certificate #{}", i + 1)))
        })
        .collect()
}

fn build_chain(certs: &[Cert], roots: &TrustRoots, need_owner_root: bool) -> Result<Chain> {
    if roots.roots.is_empty() {
        bail!("attestation: no trust root configured; this is a bug");
    }
    // 1. The card certificate: signed by a trusted root key (skip copies of
    //    the self-signed roots themselves, which some bundles include; a card
    //    certificate that is also given as an extra root is still a card).
    //    Roots are tried in order, the pinned ones first.
    let mut card = None;
    'outer: for r in &roots.roots {
        for c in certs {
            if c.is_self_issued() && roots.roots.iter().any(|r| r.spki == c.spki) {
                continue;
            }
            if cert_signed_by(c, &r.key) {
                card = Some((c, r));
                break 'outer;
            }
        }
    }
    let Some((card, root)) = card else {
        let hint = certs
            .iter()
            .find(|c| c.version == 1 || c.issuer_cn.contains("liquidsecurity"))
            .map(|c| {
                format!(
                    " (the card certificate {} is not signed by it)",
                    c.describe()
                )
            })
            .unwrap_or_default();
        bail!(UntrustedRoot, "attestation: no certificate in the bundle is signed by a pinned Marvell root key{hint}: the chain does not reach Marvell; get a fresh attestation from the vault");
    };
    let card_key = rsa_key_from_spki(&card.spki).ok_or_else(|| {
        err!("attestation: the card certificate ({}) does not carry an RSA key; the chain is malformed", card.describe())
    })?;

    // 2. The Marvell partition certificate: signed by the card key.
    let partition = certs
        .iter()
        .find(|c| c.spki != card.spki && cert_signed_by(c, &card_key));
    let Some(partition) = partition else {
        let named = certs
            .iter()
            .find(|c| c.spki != card.spki && c.issuer_der == card.subject_der);
        match named {
            Some(p) => bail!("attestation: partition certificate ({}) is not signed by the card certificate ({}): the chain is broken; get a fresh attestation from the vault", p.describe(), card.describe()),
            None => bail!("attestation: the bundle has no partition certificate issued by the card certificate ({}): the chain is incomplete; get a fresh attestation from the vault", card.describe()),
        }
    };
    let partition_key = rsa_key_from_spki(&partition.spki).ok_or_else(|| {
        err!("attestation: the partition certificate ({}) does not carry an RSA key; the chain is malformed", partition.describe())
    })?;

    // 3. The owner's partition certificate: another certificate with the
    //    same key. Any other partition certificate with another key is an
    //    error: the bundle would describe two partitions.
    //    Likewise an owner card certificate (same CN as Marvell's card
    //    certificate, as in Google's bundles) must carry the card key.
    for c in certs {
        if c.der == partition.der || c.der == card.der {
            continue;
        }
        if (c.subject_cn.contains(":PARTN:") || c.subject_cn == partition.subject_cn)
            && c.spki != partition.spki
        {
            bail!("attestation: owner partition certificate ({}) carries a different public key than the Marvell partition certificate ({}): the chain is inconsistent; get a fresh attestation from the vault", c.describe(), partition.describe());
        }
        if c.subject_cn == card.subject_cn && c.spki != card.spki {
            bail!("attestation: owner card certificate ({}) carries a different public key than the Marvell card certificate: the chain is inconsistent; get a fresh attestation from the vault", c.describe());
        }
    }
    let owners: Vec<&Cert> = certs
        .iter()
        .filter(|c| c.der != partition.der && c.spki == partition.spki)
        .collect();
    let Some(first_owner) = owners.first() else {
        bail!("attestation: the bundle has no owner partition certificate carrying the Marvell partition key ({}): the owner chain is missing; get a fresh attestation from the vault", partition.describe());
    };

    // 4. The owner root: a self-signed certificate in the bundle that signs
    //    an owner partition certificate (Azure: the per-HSM Microsoft root).
    let self_signed: Vec<(&Cert, PublicKey)> = certs
        .iter()
        .filter(|c| c.is_self_issued() && c.spki != partition.spki && c.spki != card.spki)
        .filter_map(|c| rsa_key_from_spki(&c.spki).map(|k| (c, k)))
        .filter(|(c, k)| cert_signed_by(c, k))
        .collect();
    let mut owner = None;
    for o in &owners {
        if let Some((r, _)) = self_signed.iter().find(|(_, k)| cert_signed_by(o, k)) {
            owner = Some(((*o).clone(), Some(r.subject_cn.clone())));
            break;
        }
    }
    let (owner_partition, owner_root) = match owner {
        Some(x) => x,
        None if need_owner_root => bail!("attestation: owner partition certificate ({}) is not signed by a self-signed owner root in the bundle: the owner chain is broken; get a fresh attestation from the vault", first_owner.describe()),
        None => ((*first_owner).clone(), None),
    };

    Ok(Chain {
        root: root.name.clone(),
        extra_root: root.extra,
        card: card.clone(),
        partition: partition.clone(),
        partition_key,
        owner_partition,
        owner_root,
    })
}

/// Verify the blob's signature under the partition key; returns the form.
fn verify_blob_signature(
    parsed: &blob::ParsedBlob<'_>,
    key: &PublicKey,
    partition: &Cert,
    which: &str,
) -> Result<&'static str> {
    if key.size() != blob::SIGNATURE_LEN {
        bail!(
            "attestation: the partition key ({}) is {} bits but the {which} carries a 2048-bit signature; the chain does not belong to this attestation",
            partition.describe(),
            key.size() * 8
        );
    }
    let digest = Sha256::digest(parsed.signed);
    if pkcs1v15_verify(key, DI_SHA256, &digest, parsed.signature) {
        return Ok("RSA PKCS#1 v1.5 SHA-256 (with DigestInfo)");
    }
    if pkcs1v15_verify(key, &[], &digest, parsed.signature) {
        return Ok("RSA PKCS#1 v1.5 type 1 over the bare SHA-256 digest (MRVL-1)");
    }
    bail!("attestation: the {which} is not signed by the partition certificate ({}): the attestation was altered or belongs to another HSM; get a fresh attestation from the vault", partition.describe())
}

/// Parse "HSM:<serial>:PARTN:<n>, for FIPS mode" (Marvell partition CN).
fn parse_partition_cn(cn: &str) -> (Option<String>, Option<String>, String) {
    let lower = cn.to_ascii_lowercase();
    let mode = if lower.contains("non-fips mode") {
        "non-FIPS"
    } else if lower.contains("fips mode") {
        "FIPS"
    } else {
        "unknown"
    };
    let main = cn.split(", ").next().unwrap_or_default();
    let main = main.strip_prefix("HSM:").unwrap_or(main);
    let (serial, partition) = match main.split_once(":PARTN:") {
        Some((s, p)) => (Some(s.to_string()), Some(p.to_string())),
        None => (None, None),
    };
    (
        serial.filter(|s| !s.is_empty()),
        partition.filter(|p| !p.is_empty()),
        mode.to_string(),
    )
}

/// Compare attested objects with the expected key and kid.
fn check_expected(
    objects: &[AttestedObject],
    expected: &[&ExpectedKey],
) -> Result<(Option<String>, Option<String>, Option<String>)> {
    for exp in expected {
        let with_modulus: Vec<&AttestedObject> =
            objects.iter().filter(|o| o.modulus.is_some()).collect();
        if with_modulus.is_empty() {
            bail!("attestation: no attested object carries an RSA modulus, so it cannot be compared with the expected key; this attestation is not for an RSA key");
        }
        let n = hex::encode(&exp.n);
        let e = hex::encode(&exp.e);
        for o in with_modulus {
            if o.key_type != Some(KEY_TYPE_RSA) {
                bail!("attestation: the attested {} is a {} key, not RSA: this attestation is for another key; do not use this KEK", o.class_name, o.key_type_name);
            }
            if o.modulus.as_deref() != Some(n.as_str()) {
                bail!("attestation: the attested {} modulus differs from the expected key's: this attestation is for another key; do not use this KEK", o.class_name);
            }
            if o.public_exponent.as_deref() != Some(e.as_str()) {
                bail!("attestation: the attested {} public exponent differs from the expected key's: this attestation is for another key; do not use this KEK", o.class_name);
            }
        }
    }
    let (mut name, mut version) = (None, None);
    for o in objects {
        if let Some((n, v)) = o.id.as_deref().and_then(key_name_version) {
            name = Some(n);
            version = v;
            break;
        }
    }
    let kids: Vec<&String> = expected.iter().filter_map(|e| e.kid.as_ref()).collect();
    for kid in &kids {
        let Some((want_name, want_version)) = key_name_version(kid) else {
            bail!("attestation: the key id {kid} does not name a Key Vault key (/keys/NAME/VERSION); pass the key's full id");
        };
        for o in objects {
            let Some(id) = &o.id else {
                bail!("attestation: the attested {} carries no id, so it cannot be tied to {kid}; get a fresh attestation from the vault", o.class_name);
            };
            let Some((n, v)) = key_name_version(id) else {
                bail!("attestation: the attested id {id:?} does not name a Key Vault key; this attestation is not for {kid}");
            };
            if !n.eq_ignore_ascii_case(&want_name) {
                bail!("attestation: the attested id names key {n:?}, not {want_name:?}: this attestation is for another key; do not use this KEK");
            }
            if let Some(want_v) = &want_version {
                if !v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case(want_v)) {
                    bail!(
                        "attestation: the attested id names version {}, not {want_v}: this attestation is for another key version; do not use this KEK",
                        v.as_deref().unwrap_or("(none)")
                    );
                }
            }
        }
    }
    Ok((kids.first().map(|k| k.to_string()), name, version))
}

fn make_report(
    format: &str,
    signature_form: &str,
    chain: &Chain,
    objects: Vec<AttestedObject>,
    expected: &[&ExpectedKey],
) -> Result<AttestationReport> {
    let (kid, key_name, key_version) = check_expected(&objects, expected)?;
    let (hsm_serial, partition, mode) = parse_partition_cn(&chain.partition.subject_cn);
    Ok(AttestationReport {
        format: format.to_string(),
        signature_form: signature_form.to_string(),
        root: chain.root.clone(),
        extra_root_used: chain.extra_root,
        card_certificate: chain.card.describe(),
        partition_certificate: chain.partition.describe(),
        owner_partition_certificate: chain.owner_partition.describe(),
        owner_root: chain.owner_root.clone(),
        hsm_serial,
        partition,
        mode,
        key_compared: !expected.is_empty(),
        kid,
        key_name,
        key_version,
        objects,
    })
}

// ---------------------------------------------------------------------------
// Entry points

/// Verify a generic Marvell attestation blob (gzip-wrapped or not) with its
/// PEM chain, as Google Cloud HSM provides them. The owner chain's root
/// (Google's) is not in the bundle: only the owner partition certificate's
/// key is compared. `expected`, when given, must be an RSA key equal to the
/// attested one.
pub fn verify_marvell_blob(
    data: &[u8],
    chain_pem: &str,
    expected: Option<&ExpectedKey>,
    roots: &TrustRoots,
) -> Result<AttestationReport> {
    let raw = blob::maybe_gunzip(data)?;
    let parsed = blob::parse(&raw)?;
    let certs = parse_bundle(chain_pem)?;
    let chain = build_chain(&certs, roots, false)?;
    let form = verify_blob_signature(
        &parsed,
        &chain.partition_key,
        &chain.partition,
        "attestation blob",
    )?;
    let objects = parsed
        .objects
        .iter()
        .map(decode_object)
        .collect::<Result<Vec<_>>>()?;
    let expected: Vec<&ExpectedKey> = expected.into_iter().collect();
    make_report("marvell", form, &chain, objects, &expected)
}

/// Verify an Azure `MRVL-1` attestation: the KeyBundle JSON returned by
/// `GET /keys/{name}/{version}/attestation` (base64url fields; its `key` is
/// the expected key and its `kid` is checked against the attested id), or the
/// attestation object written by `az keyvault key get-attestation --file`
/// (standard base64), in which case `expected` must be given.
pub fn verify_azure(
    json: &str,
    expected: Option<&ExpectedKey>,
    roots: &TrustRoots,
) -> Result<AttestationReport> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| {
        err!("attestation: not valid JSON ({e}); pass the output of the vault's attestation call or of az keyvault key get-attestation")
    })?;
    let bundle_key = match v.get("key") {
        Some(k) if k.is_object() => ExpectedKey::from_jwk(k)?,
        _ => None,
    };
    let att = v
        .get("attributes")
        .and_then(|a| a.get("attestation"))
        .or_else(|| v.get("attestation"))
        .unwrap_or(&v);
    let field = |name: &str| att.get(name).and_then(|x| x.as_str());
    let version = field("version").ok_or_else(|| {
        err!("attestation: no \"version\" field; this is not a Key Vault key attestation")
    })?;
    if version != "MRVL-1" {
        bail!("attestation: unknown attestation version {version:?} (only MRVL-1 is supported); upgrade byok or check the vault");
    }
    let certs_field = field("certificatePemFile")
        .or_else(|| field("certificates"))
        .ok_or_else(|| err!("attestation: no \"certificatePemFile\" field; the attestation is incomplete, get a fresh one from the vault"))?;
    let pem = if certs_field.trim_start().starts_with("-----BEGIN") {
        certs_field.to_string()
    } else {
        let bytes =
            b64_any(certs_field).map_err(|e| e.context("attestation: certificatePemFile"))?;
        String::from_utf8(bytes).map_err(|_| {
            err!("attestation: certificatePemFile does not decode to PEM text; the attestation is damaged, get a fresh one")
        })?
    };
    let private_b64 = field("privateKeyAttestation").ok_or_else(|| {
        err!("attestation: no \"privateKeyAttestation\" field; the attestation is incomplete, get a fresh one from the vault")
    })?;
    let private_blob = blob::maybe_gunzip(
        &b64_any(private_b64).map_err(|e| e.context("attestation: privateKeyAttestation"))?,
    )?;
    let public_blob = match field("publicKeyAttestation").filter(|s| !s.is_empty()) {
        Some(s) => {
            Some(blob::maybe_gunzip(&b64_any(s).map_err(|e| {
                e.context("attestation: publicKeyAttestation")
            })?)?)
        }
        None => None,
    };

    let mut expected_all: Vec<&ExpectedKey> = Vec::new();
    if let Some(k) = &bundle_key {
        expected_all.push(k);
    }
    if let Some(k) = expected {
        expected_all.push(k);
    }
    if expected_all.is_empty() {
        bail!("attestation: no public key to compare with: this attestation file holds no key; pass the KEK's public key (PEM or JSON)");
    }

    let certs = parse_bundle(&pem)?;
    let chain = build_chain(&certs, roots, true)?;

    let parsed = blob::parse(&private_blob).map_err(|e| e.context("private key attestation"))?;
    let form = verify_blob_signature(
        &parsed,
        &chain.partition_key,
        &chain.partition,
        "private key attestation",
    )?;
    let mut objects = Vec::new();
    for o in &parsed.objects {
        let d = decode_object(o)?;
        if d.class != Some(CLASS_PRIVATE_KEY) {
            bail!("attestation: the private key attestation describes a {}, not a private key; get a fresh attestation from the vault", d.class_name);
        }
        objects.push(d);
    }
    if let Some(pb) = &public_blob {
        let parsed = blob::parse(pb).map_err(|e| e.context("public key attestation"))?;
        verify_blob_signature(
            &parsed,
            &chain.partition_key,
            &chain.partition,
            "public key attestation",
        )?;
        for o in &parsed.objects {
            let d = decode_object(o)?;
            if d.class != Some(CLASS_PUBLIC_KEY) {
                bail!("attestation: the public key attestation describes a {}, not a public key; get a fresh attestation from the vault", d.class_name);
            }
            objects.push(d);
        }
    }
    make_report("MRVL-1", form, &chain, objects, &expected_all)
}

/// Require what a KEK must be: a private key object that is not extractable,
/// was never extractable, is sensitive, and was generated in the HSM.
pub fn check_kek_properties(report: &AttestationReport) -> Result<()> {
    let Some(o) = report.private_object() else {
        bail!("attestation: no private key object is attested, so the KEK's protection is unproven; get the attestation of the KEK itself");
    };
    let checks: [(&str, Option<bool>, bool); 4] = [
        ("extractable", o.extractable, false),
        ("never-extractable", o.never_extractable, true),
        ("sensitive", o.sensitive, true),
        ("local (generated in the HSM)", o.local, true),
    ];
    for (name, got, want) in checks {
        match got {
            None => bail!("attestation: the KEK's private key does not attest {name}; a KEK must prove it, do not use this KEK"),
            Some(g) if g != want => bail!("attestation: the KEK's private key has {name} = {g}, a KEK needs {want}; create a new KEK in the HSM"),
            Some(_) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_roots_parse() {
        let r = TrustRoots::marvell().expect("pinned roots");
        assert_eq!(r.roots.len(), 2);
        assert!(!r.has_extra());
    }

    #[test]
    fn partition_cn() {
        let (s, p, m) = parse_partition_cn("HSM:5.3G1953-ICM001225:PARTN:1, for FIPS mode");
        assert_eq!(s.as_deref(), Some("5.3G1953-ICM001225"));
        assert_eq!(p.as_deref(), Some("1"));
        assert_eq!(m, "FIPS");
        let (_, _, m) = parse_partition_cn("HSM:X:PARTN:2, for non-FIPS mode");
        assert_eq!(m, "non-FIPS");
        let (s, p, m) = parse_partition_cn("");
        assert_eq!((s, p, m.as_str()), (None, None, "unknown"));
    }

    #[test]
    fn key_ids() {
        assert_eq!(
            key_name_version("https://v.vault.azure.net/keys/kek/0123abc"),
            Some(("kek".into(), Some("0123abc".into())))
        );
        assert_eq!(key_name_version("/keys/kek"), Some(("kek".into(), None)));
        assert_eq!(key_name_version("d06cc801f7dffdbdd7a9240"), None);
    }

    #[test]
    fn base64_both_alphabets() {
        assert_eq!(b64_any("-_8=").unwrap(), b64_any("+/8").unwrap());
        assert!(b64_any("@@@").is_err());
    }
}

#[cfg(test)]
mod fixture_tests {
    use super::*;

    const ROOTS: &str =
        include_str!("../../../../tests/fixtures/attestation/marvell-liquidsecurity-roots.pem");

    /// The pinned keys are exactly the keys of Marvell's published roots,
    /// and the lenient parser reads the serial-0 reissue.
    #[test]
    fn pins_match_published_root_certificates() {
        let pinned = TrustRoots::marvell().expect("pins");
        let certs = der::pem_certificates(ROOTS).expect("pem");
        assert_eq!(certs.len(), 2);
        for (der, root) in certs.iter().zip(&pinned.roots) {
            let c = Cert::parse(der).expect("lenient parse of a serial-0 root");
            assert_eq!(c.spki, root.spki, "{}", root.name);
            assert!(c.is_self_issued());
            assert!(
                cert_signed_by(&c, &root.key),
                "{} is self-signed",
                root.name
            );
        }
    }
    /// Extra roots never make a chain to a pinned root fail, even when they
    /// are certificates of that chain.
    #[test]
    fn extra_roots_do_not_break_a_pinned_chain() {
        let blob =
            include_bytes!("../../../../tests/fixtures/attestation/gcp-ec-p256-attestation.bin");
        let chain = include_str!("../../../../tests/fixtures/attestation/gcp-ec-p256-chain.pem");
        let mut roots = TrustRoots::marvell().expect("pins");
        roots.add_extra_pem(chain).expect("extra");
        let r = verify_marvell_blob(blob, chain, None, &roots).expect("still verifies");
        assert!(!r.extra_root_used);
    }
}
