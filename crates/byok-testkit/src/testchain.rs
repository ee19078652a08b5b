//! Generator of TEST attestation chains and `MRVL-1` blobs.
//!
//! Used by the tests and by the Key Vault simulator: it plays Marvell (root,
//! card, partition certificates) and the cloud owner (self-signed per-HSM
//! root and owner partition certificate with the partition's key), and signs
//! attestation blobs the way Azure's firmware 2.x does (bare SHA-256 digest
//! under PKCS#1 v1.5 type-1 padding).
//!
//! Nothing produced here is trusted by default: a chain verifies only when
//! its root is passed as an extra trust root
//! ([`super::TrustRoots::add_extra_pem`]).
//!
//! Certificates are assembled field by field with the `der` crate's encoders
//! rather than with a certificate builder: the card certificate must be X.509
//! **v1** (no version field, no extensions) and the root has serial number 0,
//! like the real ones, which certificate builders do not produce.

use base64::Engine;
use const_oid::db::{rfc4519, rfc5280, rfc5912};
use der::asn1::{
    AnyRef, BitStringRef, ContextSpecific, Null, OctetStringRef, UtcTime, Utf8StringRef,
};
use der::{DateTime, Encode, Tag, TagMode, TagNumber};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, PrivateKey, PublicKey};
use sha2::{Digest, Sha256};

use byok_core::attestation::*;
use byok_core::{err, Result};

/// Bits of the generated chain keys (fast enough for tests).
pub const TEST_KEY_BITS: usize = 2048;

/// A complete test chain with its private keys.
pub struct TestChain {
    pub hsm_serial: String,
    pub fips: bool,
    pub root_key: PrivateKey,
    pub card_key: PrivateKey,
    pub partition_key: PrivateKey,
    pub owner_root_key: PrivateKey,
    /// DER certificates.
    pub root_cert: Vec<u8>,
    pub card_cert: Vec<u8>,
    pub partition_cert: Vec<u8>,
    pub owner_root_cert: Vec<u8>,
    pub owner_partition_cert: Vec<u8>,
}

/// The attribute flags to attest (defaults: a proper KEK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFlags {
    pub extractable: bool,
    pub never_extractable: bool,
    pub sensitive: bool,
    pub always_sensitive: bool,
    pub local: bool,
}

impl Default for KeyFlags {
    fn default() -> Self {
        KeyFlags {
            extractable: false,
            never_extractable: true,
            sensitive: true,
            always_sensitive: true,
            local: true,
        }
    }
}

/// An `MRVL-1` attestation as Key Vault returns it (raw bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mrvl1Attestation {
    pub certificate_pem: String,
    pub private_blob: Vec<u8>,
    pub public_blob: Vec<u8>,
}

impl Mrvl1Attestation {
    /// The `attestation` object; byte fields in base64url (REST) or standard
    /// base64 (what `az keyvault key get-attestation --file` writes).
    pub fn attestation_json(&self, url_safe: bool) -> serde_json::Value {
        let enc = |b: &[u8]| {
            if url_safe {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
            } else {
                base64::engine::general_purpose::STANDARD.encode(b)
            }
        };
        serde_json::json!({
            "certificatePemFile": enc(self.certificate_pem.as_bytes()),
            "privateKeyAttestation": enc(&self.private_blob),
            "publicKeyAttestation": enc(&self.public_blob),
            "version": "MRVL-1",
        })
    }

    /// The KeyBundle JSON of `GET /keys/{name}/{version}/attestation`.
    pub fn key_bundle_json(&self, kid: &str, key: &PublicKey) -> String {
        let b64u = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        serde_json::json!({
            "key": {
                "kid": kid,
                "kty": "RSA-HSM",
                "key_ops": ["wrapKey", "unwrapKey", "encrypt", "decrypt"],
                "n": b64u(&key.n_bytes()),
                "e": b64u(&key.e_bytes()),
            },
            "attributes": {
                "enabled": true,
                "exportable": false,
                "recoveryLevel": "Recoverable+Purgeable",
                "attestation": self.attestation_json(true),
            }
        })
        .to_string()
    }

    /// What `az keyvault key get-attestation --file` writes.
    pub fn az_file_json(&self) -> String {
        self.attestation_json(false).to_string()
    }
}

fn new_key() -> Result<PrivateKey> {
    let mut rng = rand::rng();
    PrivateKey::new(&mut rng, TEST_KEY_BITS)
        .map_err(|e| err!("test chain: RSA key generation failed ({e})"))
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn der_error(e: der::Error) -> byok_core::Error {
    err!("test chain: DER encoding failed ({e})")
}

/// The DER of one value.
fn encode(v: &impl Encode) -> Result<Vec<u8>> {
    v.to_der().map_err(der_error)
}

/// A constructed element (`SEQUENCE`, `SET`) holding already encoded elements.
fn constructed(tag: Tag, parts: &[Vec<u8>]) -> Result<Vec<u8>> {
    let content = parts.concat();
    encode(&AnyRef::new(tag, &content).map_err(der_error)?)
}

fn sequence(parts: &[Vec<u8>]) -> Result<Vec<u8>> {
    constructed(Tag::Sequence, parts)
}

/// A Name with O and CN.
fn name(org: &str, cn: &str) -> Result<Vec<u8>> {
    let rdn = |oid, v: &str| -> Result<Vec<u8>> {
        let value = Utf8StringRef::new(v).map_err(der_error)?;
        let atv = sequence(&[encode(&oid)?, encode(&value)?])?;
        constructed(Tag::Set, &[atv])
    };
    sequence(&[
        rdn(rfc4519::ORGANIZATION_NAME, org)?,
        rdn(rfc4519::COMMON_NAME, cn)?,
    ])
}

/// sha256WithRSAEncryption with NULL parameters.
fn alg_id() -> Result<Vec<u8>> {
    sequence(&[
        encode(&rfc5912::SHA_256_WITH_RSA_ENCRYPTION)?,
        encode(&Null)?,
    ])
}

fn utc_time(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Result<Vec<u8>> {
    let t = DateTime::new(year, month, day, hour, minute, second).map_err(der_error)?;
    encode(&UtcTime::from_date_time(t).map_err(der_error)?)
}

/// `[n] EXPLICIT` around an encoded element.
fn explicit(n: u32, inner: &[u8]) -> Result<Vec<u8>> {
    let value = <AnyRef<'_> as der::Decode>::from_der(inner).map_err(der_error)?;
    encode(&ContextSpecific {
        tag_number: TagNumber(n),
        tag_mode: TagMode::Explicit,
        value,
    })
}

fn spki_der(key: &PublicKey) -> Result<Vec<u8>> {
    use rsa::pkcs8::EncodePublicKey;
    Ok(key
        .to_public_key_der()
        .map_err(|e| err!("test chain: cannot encode a public key ({e})"))?
        .as_bytes()
        .to_vec())
}

/// PKCS#1 v1.5 SHA-256 signature with DigestInfo.
fn sign_sha256(key: &PrivateKey, data: &[u8]) -> Result<Vec<u8>> {
    key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(data))
        .map_err(|e| err!("test chain: signing failed ({e})"))
}

/// Build and sign a certificate. `v1` omits version and extensions.
fn make_cert(
    serial: u64,
    issuer: &[u8],
    subject: &[u8],
    subject_key: &PublicKey,
    issuer_key: &PrivateKey,
    v1: bool,
    ca: bool,
) -> Result<Vec<u8>> {
    let validity = sequence(&[
        utc_time(2024, 1, 1, 0, 0, 0)?,
        utc_time(2049, 12, 31, 23, 59, 59)?,
    ])?;
    let mut parts: Vec<Vec<u8>> = Vec::new();
    if !v1 {
        parts.push(explicit(0, &encode(&2u8)?)?);
    }
    parts.push(encode(&serial)?);
    parts.push(alg_id()?);
    parts.push(issuer.to_vec());
    parts.push(validity);
    parts.push(subject.to_vec());
    parts.push(spki_der(subject_key)?);
    if !v1 {
        // basicConstraints (critical), cA = ca.
        let bc_value = if ca {
            sequence(&[encode(&true)?])?
        } else {
            sequence(&[])?
        };
        let ext = sequence(&[
            encode(&rfc5280::ID_CE_BASIC_CONSTRAINTS)?,
            encode(&true)?,
            encode(&OctetStringRef::new(&bc_value).map_err(der_error)?)?,
        ])?;
        parts.push(explicit(3, &sequence(&[ext])?)?);
    }
    let tbs = sequence(&parts)?;
    let sig = sign_sha256(issuer_key, &tbs)?;
    let bits = BitStringRef::from_bytes(&sig).map_err(der_error)?;
    sequence(&[tbs, alg_id()?, encode(&bits)?])
}

/// The import job the testkit's descriptions name, unless told another.
pub const GCP_TEST_JOB: &str = "projects/p-1/locations/us-east1/keyRings/ring1/importJobs/job1";

impl TestChain {
    /// Generate a chain for a pretend HSM (four RSA-2048 keys: a second or
    /// so each in an optimised build).
    pub fn generate(hsm_serial: &str, fips: bool) -> Result<TestChain> {
        let root_key = new_key()?;
        let card_key = new_key()?;
        let partition_key = new_key()?;
        let owner_root_key = new_key()?;
        let mode = if fips {
            "for FIPS mode"
        } else {
            "for non-FIPS mode"
        };
        let root_name = name(
            "TEST Marvell (not a real root)",
            "test-localca.liquidsecurity",
        )?;
        let card_name = name("TEST HSM card", &format!("HSM:{hsm_serial}, {mode}"))?;
        let part_cn = format!("HSM:{hsm_serial}:PARTN:2, {mode}");
        let part_name = name("TEST HSM partition", &part_cn)?;
        let owner_root_name = name("TEST owner", &format!("test-hsm-{hsm_serial}"))?;
        let owner_part_name = name("TEST owner partition", &part_cn)?;

        let root_pub = root_key.to_public_key();
        // The root has serial 0, like Marvell's 2024 reissue.
        let root_cert = make_cert(0, &root_name, &root_name, &root_pub, &root_key, false, true)?;
        let card_cert = make_cert(
            1,
            &root_name,
            &card_name,
            &card_key.to_public_key(),
            &root_key,
            true,
            false,
        )?;
        let partition_cert = make_cert(
            1,
            &card_name,
            &part_name,
            &partition_key.to_public_key(),
            &card_key,
            false,
            false,
        )?;
        let owner_root_cert = make_cert(
            7,
            &owner_root_name,
            &owner_root_name,
            &owner_root_key.to_public_key(),
            &owner_root_key,
            false,
            true,
        )?;
        let owner_partition_cert = make_cert(
            8,
            &owner_root_name,
            &owner_part_name,
            &partition_key.to_public_key(),
            &owner_root_key,
            false,
            false,
        )?;
        Ok(TestChain {
            hsm_serial: hsm_serial.to_string(),
            fips,
            root_key,
            card_key,
            partition_key,
            owner_root_key,
            root_cert,
            card_cert,
            partition_cert,
            owner_root_cert,
            owner_partition_cert,
        })
    }

    /// The (test) Marvell root certificate, PEM: pass it as an extra root.
    pub fn root_pem(&self) -> String {
        pem("CERTIFICATE", &self.root_cert)
    }

    /// The bundle Key Vault returns: card, partition, owner root, owner
    /// partition (the Marvell root is not included).
    pub fn bundle_pem(&self) -> String {
        [
            &self.card_cert,
            &self.partition_cert,
            &self.owner_root_cert,
            &self.owner_partition_cert,
        ]
        .iter()
        .map(|d| pem("CERTIFICATE", d))
        .collect()
    }

    /// Build the private and public `MRVL-1` attestations of an RSA key.
    /// `id` is the attested CKA_ID, e.g. `/keys/{name}/{version}`.
    pub fn mrvl1_attestation(
        &self,
        key: &PublicKey,
        flags: KeyFlags,
        id: &str,
    ) -> Result<Mrvl1Attestation> {
        let private_attrs = rsa_attributes(key, CLASS_PRIVATE_KEY, flags, id);
        let public_flags = KeyFlags {
            extractable: true,
            never_extractable: false,
            sensitive: false,
            always_sensitive: false,
            local: flags.local,
        };
        let public_attrs = rsa_attributes(key, CLASS_PUBLIC_KEY, public_flags, id);
        Ok(Mrvl1Attestation {
            certificate_pem: self.bundle_pem(),
            private_blob: build_mrvl1_blob(0x2001, &private_attrs, &self.partition_key)?,
            public_blob: build_mrvl1_blob(0x2002, &public_attrs, &self.partition_key)?,
        })
    }
}

fn b(v: bool) -> Vec<u8> {
    vec![u8::from(v)]
}

/// The attributes a LiquidSecurity reports for an RSA key object, plus one
/// vendor-defined attribute (which verifiers must skip).
pub fn rsa_attributes(
    key: &PublicKey,
    class: u64,
    flags: KeyFlags,
    id: &str,
) -> Vec<(u32, Vec<u8>)> {
    let private = class == CLASS_PRIVATE_KEY;
    let mut label = b"kek".to_vec();
    label.resize(128, 0);
    let bits = u32::try_from(key.n_bytes().len() * 8).unwrap_or(0);
    vec![
        (ATTR_CLASS, vec![class as u8]),
        (ATTR_KEY_TYPE, vec![KEY_TYPE_RSA as u8]),
        (ATTR_TOKEN, b(true)),
        (ATTR_PRIVATE, b(private)),
        (ATTR_LABEL, label),
        (ATTR_ID, id.as_bytes().to_vec()),
        (ATTR_SENSITIVE, b(flags.sensitive)),
        (ATTR_ENCRYPT, b(!private)),
        (ATTR_DECRYPT, b(private)),
        (ATTR_WRAP, b(!private)),
        (ATTR_UNWRAP, b(private)),
        (ATTR_SIGN, b(false)),
        (ATTR_VERIFY, b(false)),
        (ATTR_DERIVE, b(false)),
        (0x8000_0174, vec![0u8; 32]),
        (ATTR_MODULUS, key.n_bytes().to_vec()),
        (ATTR_MODULUS_BITS, bits.to_be_bytes().to_vec()),
        (ATTR_PUBLIC_EXPONENT, key.e_bytes().to_vec()),
        (ATTR_EXTRACTABLE, b(flags.extractable)),
        (ATTR_LOCAL, b(flags.local)),
        (ATTR_NEVER_EXTRACTABLE, b(flags.never_extractable)),
        (ATTR_ALWAYS_SENSITIVE, b(flags.always_sensitive)),
    ]
}

/// Serialise an object: handle, count, size, then the TLVs.
pub fn encode_object(handle: u32, attrs: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut area = Vec::new();
    for (t, v) in attrs {
        area.extend_from_slice(&t.to_be_bytes());
        area.extend_from_slice(&(v.len() as u32).to_be_bytes());
        area.extend_from_slice(v);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&handle.to_be_bytes());
    out.extend_from_slice(&(attrs.len() as u32).to_be_bytes());
    out.extend_from_slice(&(area.len() as u32).to_be_bytes());
    out.extend_from_slice(&area);
    out
}

/// Unsigned `MRVL-1` body: 16 zero bytes, u32 object size, object, padding
/// to a multiple of 16 bytes.
pub fn mrvl1_body(handle: u32, attrs: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let object = encode_object(handle, attrs);
    let mut body = vec![0u8; 16];
    body.extend_from_slice(&(object.len() as u32).to_be_bytes());
    body.extend_from_slice(&object);
    while !body.len().is_multiple_of(16) {
        body.push(0);
    }
    body
}

/// Sign data the `MRVL-1` way: PKCS#1 v1.5 type 1 over the bare SHA-256
/// digest (no DigestInfo), appended to the data.
pub fn sign_mrvl1(body: &[u8], key: &PrivateKey) -> Result<Vec<u8>> {
    let digest = Sha256::digest(body);
    let sig = key
        .sign(Pkcs1v15Sign::new_unprefixed(), &digest)
        .map_err(|e| err!("test chain: signing failed ({e})"))?;
    Ok([body, &sig].concat())
}

/// A complete signed `MRVL-1` blob of one object.
pub fn build_mrvl1_blob(
    handle: u32,
    attrs: &[(u32, Vec<u8>)],
    key: &PrivateKey,
) -> Result<Vec<u8>> {
    sign_mrvl1(&mrvl1_body(handle, attrs), key)
}

impl TestChain {
    /// A generic Marvell blob (firmware 3.x, as Google Cloud HSM makes them) attesting
    /// an RSA key pair: a response header, an info header, the public then the private
    /// key object, and a PKCS#1 v1.5 SHA-256 signature (with DigestInfo) by the
    /// partition key. Not gzipped.
    pub fn generic_blob(&self, key: &PublicKey, flags: KeyFlags) -> Result<Vec<u8>> {
        let public_flags = KeyFlags {
            extractable: true,
            never_extractable: false,
            sensitive: false,
            always_sensitive: false,
            local: flags.local,
        };
        let id = "import-job-key";
        let public = encode_object(1, &rsa_attributes(key, CLASS_PUBLIC_KEY, public_flags, id));
        let private = encode_object(2, &rsa_attributes(key, CLASS_PRIVATE_KEY, flags, id));
        let off2 = 8 + public.len();
        let mut data = Vec::new();
        data.extend_from_slice(&1u16.to_be_bytes());
        data.extend_from_slice(&0u16.to_be_bytes());
        data.extend_from_slice(&8u16.to_be_bytes());
        data.extend_from_slice(
            &u16::try_from(off2)
                .map_err(|_| err!("test chain: object too large"))?
                .to_be_bytes(),
        );
        data.extend_from_slice(&public);
        data.extend_from_slice(&private);
        let total = 16 + data.len() + 256;
        let mut signed = Vec::new();
        for v in [0u32, 0, total as u32, data.len() as u32] {
            signed.extend_from_slice(&v.to_be_bytes());
        }
        signed.extend_from_slice(&data);
        let sig = sign_sha256(&self.partition_key, &signed)?;
        Ok([signed, sig].concat())
    }

    /// The `certChains` object of a Cloud KMS attestation: Marvell's card and
    /// partition certificates, the owner's partition certificate (and, as Google's
    /// card list, the owner root, which the verifier ignores).
    pub fn gcp_cert_chains(&self) -> serde_json::Value {
        serde_json::json!({
            "caviumCerts": [pem("CERTIFICATE", &self.partition_cert), pem("CERTIFICATE", &self.card_cert)],
            "googleCardCerts": [pem("CERTIFICATE", &self.owner_root_cert)],
            "googlePartitionCerts": [pem("CERTIFICATE", &self.owner_partition_cert)],
        })
    }

    /// `gcloud kms import-jobs describe --format=json` of an ACTIVE HSM import job whose
    /// key is `kek_public`, made with `method`, attested by this chain.
    pub fn gcp_import_job_json(&self, kek_public: &PublicKey, method: &str) -> Result<String> {
        self.gcp_import_job_json_named(kek_public, method, GCP_TEST_JOB)
    }

    /// [`TestChain::gcp_import_job_json`] of the import job `name`.
    pub fn gcp_import_job_json_named(
        &self,
        kek_public: &PublicKey,
        method: &str,
        name: &str,
    ) -> Result<String> {
        let blob = self.generic_blob(kek_public, KeyFlags::default())?;
        let json = self.gcp_import_job_json_with_blob(kek_public, method, &blob)?;
        Ok(json.replace(GCP_TEST_JOB, name))
    }

    /// [`TestChain::gcp_import_job_json`] with a given (not gzipped) attestation blob.
    pub fn gcp_import_job_json_with_blob(
        &self,
        kek_public: &PublicKey,
        method: &str,
        blob: &[u8],
    ) -> Result<String> {
        use rsa::pkcs8::EncodePublicKey;
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(blob)
            .map_err(|e| err!("test chain: gzip failed ({e})"))?;
        let gz = gz
            .finish()
            .map_err(|e| err!("test chain: gzip failed ({e})"))?;
        let pem = kek_public
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(|e| err!("test chain: cannot encode a public key ({e})"))?;
        // Made now, expiring in 3 days, as Google's are.
        let now = byok_core::util::unix_now();
        serde_json::to_string_pretty(&serde_json::json!({
            "name": GCP_TEST_JOB,
            "importMethod": method,
            "protectionLevel": "HSM",
            "createTime": byok_core::util::rfc3339(now),
            "generateTime": byok_core::util::rfc3339(now + 1),
            "expireTime": byok_core::util::rfc3339(now + 3 * 86_400),
            "state": "ACTIVE",
            "publicKey": {"pem": pem},
            "attestation": {
                "format": "CAVIUM_V2_COMPRESSED",
                "content": base64::engine::general_purpose::STANDARD.encode(&gz),
                "certChains": self.gcp_cert_chains(),
            }
        }))
        .map_err(|e| err!("test chain: JSON failed ({e})"))
    }
}

impl TestChain {
    /// Serialise the whole chain, private keys included (PKCS#8 DER, base64): for the
    /// simulator's state directory, never for anything real.
    pub fn to_json(&self) -> Result<String> {
        use rsa::pkcs8::EncodePrivateKey;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let key = |k: &PrivateKey| -> Result<String> {
            Ok(b64(k
                .to_pkcs8_der()
                .map_err(|e| err!("test chain: cannot encode a key ({e})"))?
                .as_bytes()))
        };
        Ok(serde_json::json!({
            "hsm_serial": self.hsm_serial,
            "fips": self.fips,
            "root_key": key(&self.root_key)?,
            "card_key": key(&self.card_key)?,
            "partition_key": key(&self.partition_key)?,
            "owner_root_key": key(&self.owner_root_key)?,
            "root_cert": b64(&self.root_cert),
            "card_cert": b64(&self.card_cert),
            "partition_cert": b64(&self.partition_cert),
            "owner_root_cert": b64(&self.owner_root_cert),
            "owner_partition_cert": b64(&self.owner_partition_cert),
        })
        .to_string())
    }

    /// Read what [`TestChain::to_json`] wrote.
    pub fn from_json(text: &str) -> Result<TestChain> {
        use rsa::pkcs8::DecodePrivateKey;
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| err!("test chain: not JSON ({e})"))?;
        let bytes = |f: &str| -> Result<Vec<u8>> {
            let s = v[f]
                .as_str()
                .ok_or_else(|| err!("test chain: field {f:?} missing"))?;
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|_| err!("test chain: field {f:?} is not base64"))
        };
        let key = |f: &str| -> Result<PrivateKey> {
            PrivateKey::from_pkcs8_der(&bytes(f)?)
                .map_err(|e| err!("test chain: key {f:?} does not parse ({e})"))
        };
        Ok(TestChain {
            hsm_serial: v["hsm_serial"]
                .as_str()
                .ok_or_else(|| err!("test chain: no hsm_serial"))?
                .to_string(),
            fips: v["fips"].as_bool().unwrap_or(false),
            root_key: key("root_key")?,
            card_key: key("card_key")?,
            partition_key: key("partition_key")?,
            owner_root_key: key("owner_root_key")?,
            root_cert: bytes("root_cert")?,
            card_cert: bytes("card_cert")?,
            partition_cert: bytes("partition_cert")?,
            owner_root_cert: bytes("owner_root_cert")?,
            owner_partition_cert: bytes("owner_partition_cert")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The content of the DER element at the start of `der` (tag and length skipped).
    fn content(der: &[u8]) -> &[u8] {
        let n = der[1];
        let (len, hdr) = if n < 0x80 {
            (n as usize, 2)
        } else {
            let k = (n & 0x7f) as usize;
            let len = der[2..2 + k]
                .iter()
                .fold(0usize, |a, b| (a << 8) | *b as usize);
            (len, 2 + k)
        };
        &der[hdr..hdr + len]
    }

    /// The generator makes a v1 card certificate and a serial-0 root, like
    /// Marvell's, and a non-FIPS chain is reported as such.
    #[test]
    fn generated_chain_shapes_and_non_fips_mode() {
        let c = TestChain::generate("T-1", false).expect("chain");
        let card_tbs = content(content(&c.card_cert));
        assert_eq!(
            card_tbs[0], 0x02,
            "a v1 certificate starts with its serial: no version field"
        );
        assert!(
            c.root_cert
                .windows(8)
                .any(|w| w == [0xa0, 3, 2, 1, 2, 2, 1, 0]),
            "a v3 root with serial 0"
        );
        let key = c.owner_root_key.to_public_key();
        let att = c
            .mrvl1_attestation(&key, KeyFlags::default(), "/keys/k/v")
            .expect("att");
        let mut roots = TrustRoots::empty();
        roots.add_extra_pem(&c.root_pem()).expect("root");
        let r = verify_azure(
            &att.az_file_json(),
            Some(&ExpectedKey::from_rsa(&key, None)),
            &roots,
        )
        .expect("verifies");
        assert_eq!(r.mode, "non-FIPS");
        assert_eq!(r.hsm_serial.as_deref(), Some("T-1"));
        assert_eq!(
            (r.key_name.as_deref(), r.key_version.as_deref()),
            (Some("k"), Some("v"))
        );
    }
}
