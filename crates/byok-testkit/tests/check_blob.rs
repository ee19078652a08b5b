//! `tests/python/check_blob.py` (through `pycheck::python_check_blob`) on blobs made in
//! software: it takes what every target takes, in both forms and with both hashes, and
//! refuses the wrong hash, the wrong key, a damaged blob, and the zero bytes SoftHSM
//! 2.6.1 pads the PKCS#8 with (which byok's own software unwrap reports and accepts).

use byok_core::hsm::OaepHash;
use byok_testkit::bao::{software_wrap, software_wrap_bytes};
use byok_testkit::pycheck::{python_check_blob, BlobForm};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

struct Keys {
    /// Wrapping keys: RSA-3072 (Google's job), RSA-4096 (OpenBao's).
    kek3072: rsa::PrivateKey,
    kek4096: rsa::PrivateKey,
    /// The keys wrapped (the HSM's).
    key: rsa::PrivateKey,
    other: rsa::PrivateKey,
}

fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let new = |bits| rsa::PrivateKey::new(&mut rand::rng(), bits).unwrap();
        Keys {
            kek3072: new(3072),
            kek4096: new(4096),
            key: new(2048),
            other: new(2048),
        }
    })
}

fn public_pem(k: &rsa::PrivateKey) -> String {
    k.to_public_key().to_public_key_pem(LineEnding::LF).unwrap()
}

/// The files the checker reads: the wrapping key's private PEM, the expected public PEM.
struct Files {
    dir: tempfile::TempDir,
    kek: PathBuf,
    public: PathBuf,
}

fn files(kek: &rsa::PrivateKey, expected: &rsa::PrivateKey) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let kek_path = dir.path().join("kek.pem");
    std::fs::write(
        &kek_path,
        kek.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    let public = dir.path().join("key.pub.pem");
    std::fs::write(&public, public_pem(expected)).unwrap();
    Files {
        dir,
        kek: kek_path,
        public,
    }
}

/// Write `blob` in `form` as DIR/NAME (a new name per blob: none overwrites another).
fn write_blob(dir: &Path, blob: &[u8], form: BlobForm) -> PathBuf {
    use base64::Engine as _;
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (name, bytes) = match form {
        BlobForm::Raw => (format!("key{n}.bin"), blob.to_vec()),
        BlobForm::Base64 => (
            format!("key{n}.b64"),
            base64::engine::general_purpose::STANDARD
                .encode(blob)
                .into_bytes(),
        ),
    };
    let p = dir.join(name);
    assert!(!p.exists());
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn a_sound_blob_passes_in_both_forms_with_both_hashes() {
    let k = keys();
    for kek in [&k.kek3072, &k.kek4096] {
        let f = files(kek, &k.key);
        for hash in [OaepHash::Sha1, OaepHash::Sha256] {
            let blob = software_wrap(&public_pem(kek), &k.key, hash);
            for form in [BlobForm::Raw, BlobForm::Base64] {
                let p = write_blob(f.dir.path(), &blob, form);
                let r = python_check_blob(&f.kek, &p, form, hash, &f.public)
                    .unwrap_or_else(|e| panic!("{hash} {form:?}: {e}"));
                assert_eq!(r["ok"], true);
                assert_eq!(r["kek_bits"], kek.size() * 8);
                assert_eq!(r["key_bits"], 2048);
                assert_eq!(r["blob_bytes"], blob.len());
                assert_eq!(
                    r["pkcs8_bytes"],
                    k.key.to_pkcs8_der().unwrap().as_bytes().len()
                );
            }
        }
    }
}

#[test]
fn the_wrong_hash_key_or_form_is_refused() {
    let k = keys();
    let f = files(&k.kek3072, &k.key);
    let blob = software_wrap(&public_pem(&k.kek3072), &k.key, OaepHash::Sha256);
    let raw = write_blob(f.dir.path(), &blob, BlobForm::Raw);
    let b64 = write_blob(f.dir.path(), &blob, BlobForm::Base64);
    let refused = |kek: &Path, blob: &Path, form, hash, public: &Path, words: &str| {
        let e = python_check_blob(kek, blob, form, hash, public).expect_err("refused");
        assert!(e.contains(words), "{words:?} not in {e}");
    };
    // SHA-1 OAEP of a SHA-256 wrap (and the other way round).
    refused(
        &f.kek,
        &raw,
        BlobForm::Raw,
        OaepHash::Sha1,
        &f.public,
        "RSA-OAEP (sha1)",
    );
    let sha1 = software_wrap(&public_pem(&k.kek3072), &k.key, OaepHash::Sha1);
    let sha1 = write_blob(f.dir.path(), &sha1, BlobForm::Raw);
    refused(
        &f.kek,
        &sha1,
        BlobForm::Raw,
        OaepHash::Sha256,
        &f.public,
        "RSA-OAEP (sha256)",
    );
    // Another key than the HSM's.
    let other = f.dir.path().join("other.pub.pem");
    std::fs::write(&other, public_pem(&k.other)).unwrap();
    refused(
        &f.kek,
        &raw,
        BlobForm::Raw,
        OaepHash::Sha256,
        &other,
        "public numbers differ",
    );
    // Another wrapping key.
    let f4096 = files(&k.kek4096, &k.key);
    refused(
        &f4096.kek,
        &raw,
        BlobForm::Raw,
        OaepHash::Sha256,
        &f.public,
        "RSA-OAEP",
    );
    // Raw bytes read as base64, base64 read as raw.
    refused(
        &f.kek,
        &raw,
        BlobForm::Base64,
        OaepHash::Sha256,
        &f.public,
        "not base64",
    );
    refused(
        &f.kek,
        &b64,
        BlobForm::Raw,
        OaepHash::Sha256,
        &f.public,
        "RSA-OAEP",
    );
    // A flipped bit in the KWP part; a blob cut short; one no longer than the modulus.
    let mut bad = blob.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let p = write_blob(f.dir.path(), &bad, BlobForm::Raw);
    refused(
        &f.kek,
        &p,
        BlobForm::Raw,
        OaepHash::Sha256,
        &f.public,
        "AES-KWP",
    );
    let p = write_blob(f.dir.path(), &blob[..blob.len() - 8], BlobForm::Raw);
    refused(
        &f.kek,
        &p,
        BlobForm::Raw,
        OaepHash::Sha256,
        &f.public,
        "AES-KWP",
    );
    let p = write_blob(f.dir.path(), &blob[..384], BlobForm::Raw);
    refused(
        &f.kek,
        &p,
        BlobForm::Raw,
        OaepHash::Sha256,
        &f.public,
        "not more than",
    );
    // A missing file.
    let p = f.dir.path().join("missing.bin");
    refused(
        &f.kek,
        &p,
        BlobForm::Raw,
        OaepHash::Sha256,
        &f.public,
        "cannot read blob",
    );
}

/// SoftHSM 2.6.1 zero-pads the PKCS#8 before KWP: byok's software unwrap reports the
/// padding and takes the key; the strict checker refuses it (as a strict target would).
#[test]
fn softhsm_261_padding_is_refused_by_the_strict_checker() {
    let k = keys();
    let f = files(&k.kek4096, &k.key);
    let mut padded = k.key.to_pkcs8_der().unwrap().as_bytes().to_vec();
    let der_len = padded.len();
    padded.extend([0u8; 3]);
    for hash in [OaepHash::Sha1, OaepHash::Sha256] {
        let blob = software_wrap_bytes(&public_pem(&k.kek4096), &padded, hash);
        let un = byok_core::package::software_unwrap(&k.kek4096, &blob, hash).unwrap();
        assert_eq!(un.trailing_zeros, 3);
        assert_eq!(un.pkcs8.len(), der_len);
        let p = write_blob(f.dir.path(), &blob, BlobForm::Base64);
        let e = python_check_blob(&f.kek, &p, BlobForm::Base64, hash, &f.public)
            .expect_err("the padded PKCS#8 is refused");
        assert!(
            e.contains(&format!(
                "the unwrapped {} bytes are not exactly one PKCS#8",
                der_len + 3
            )),
            "{e}"
        );
        // The same key unpadded passes: the refusal is the padding's.
        let blob = software_wrap_bytes(&public_pem(&k.kek4096), &padded[..der_len], hash);
        let p = write_blob(f.dir.path(), &blob, BlobForm::Base64);
        python_check_blob(&f.kek, &p, BlobForm::Base64, hash, &f.public).unwrap();
    }
}
