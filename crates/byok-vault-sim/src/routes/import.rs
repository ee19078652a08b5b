//! Import (`PUT /keys/{name}`): a plain RSA JWK, or a BYOK transfer package
//! (`key.key_hsm`) really unwrapped with the key exchange key it names.

use super::body::{self, ImportKey};
use super::keys::{add_version, new_version};
use super::{bad, check_name, internal, live, refused, Reply, Request, R};
use crate::crypto;
use crate::App;
use byok_core::kek::decode_b64url;
use byok_core::keyid::KeyId;

pub fn import(app: &App, req: &Request, name: &str) -> R {
    check_name(name)?;
    let body: ImportKey = body::decode(req.body)?;
    let hsm = body.hsm();
    let Some(jwk) = body.key else {
        return Err(bad("'key' (a JSON Web Key) is required."));
    };
    let kty = jwk
        .kty
        .as_deref()
        .ok_or_else(|| bad("'key.kty' is required."))?;
    let attrs = body::attributes(body.attributes)?;
    let tags = body::tags(body.tags)?.unwrap_or_default();
    let (stored_kty, material) = match jwk.key_hsm.as_deref() {
        Some(blob) => {
            if kty != "RSA-HSM" {
                return Err(bad(format!(
                    "A key_hsm (BYOK) import needs kty RSA-HSM, not {kty:?}; this simulator imports RSA targets only."
                )));
            }
            ("RSA-HSM", byok_import(app, req, blob)?)
        }
        None => {
            let stored = match kty {
                "RSA" if hsm => "RSA-HSM",
                "RSA" => "RSA",
                "RSA-HSM" => {
                    return Err(bad(
                        "kty RSA-HSM needs 'key_hsm' (the BYOK transfer package); a plain JWK has kty RSA.",
                    ))
                }
                other => {
                    return Err(bad(format!(
                        "Key type {other:?} cannot be imported by this simulator; use RSA."
                    )))
                }
            };
            let parts = crypto::RsaJwk {
                n: jwk.n.as_deref(),
                e: jwk.e.as_deref(),
                d: jwk.d.as_deref(),
                p: jwk.p.as_deref(),
                q: jwk.q.as_deref(),
            };
            (stored, crypto::material_from_jwk(&parts).map_err(refused)?)
        }
    };
    let ops = body::key_ops(jwk.key_ops, stored_kty)?.unwrap_or_else(body::default_ops);
    if ops.iter().any(|o| o == "import") {
        return Err(bad("An imported key cannot have key operation 'import'."));
    }
    let v = new_version(req, stored_kty.to_string(), ops, attrs, tags, &material);
    add_version(app, req, name, v)
}

/// Open a BYOK transfer package as the vault does, returning the target key.
fn byok_import(
    app: &App,
    req: &Request,
    blob: &str,
) -> std::result::Result<crypto::KeyMaterial, Reply> {
    let bytes = decode_b64url(blob).map_err(|_| bad("'key.key_hsm' is not base64url."))?;
    let (pkg, report) = byok_core::package::inspect(&bytes, None, byok_core::Mode::Rehearsal)
        .map_err(|e| bad(format!("The BYOK transfer package is invalid: {e}")))?;
    let kid = KeyId::parse(&pkg.header.kid, byok_core::Mode::Rehearsal)
        .map_err(|e| bad(format!("The BYOK transfer package is invalid: {e}")))?;
    if !app.is_own_vault(&kid.vault, &req.vault) {
        return Err(bad(format!(
            "The key exchange key {} is not in this vault ({}): a BYOK package must be made for a KEK of the vault it is imported into.",
            kid.url(),
            req.vault
        )));
    }
    let kek = {
        let store = app.lock();
        let rec = live(&store.state, &kid.name).map_err(|_| {
            bad(format!(
                "The key exchange key {} does not exist in this vault.",
                kid.url()
            ))
        })?;
        let v = rec.version(&kid.version).ok_or_else(|| {
            bad(format!(
                "The key exchange key version {} does not exist in this vault.",
                kid.url()
            ))
        })?;
        v.clone()
    };
    if kek.kty != "RSA-HSM" || kek.key_ops != ["import"] {
        return Err(bad(format!(
            "The key {} is not a key exchange key: a KEK is RSA-HSM with key_ops [\"import\"] only (it is {} with {:?}).",
            kid.url(),
            kek.kty,
            kek.key_ops
        )));
    }
    if !kek.enabled {
        return Err(bad(format!(
            "The key exchange key {} is disabled.",
            kid.url()
        )));
    }
    let private = crypto::private_key(&kek.private_pkcs8).map_err(internal)?;
    let kek_bits = crypto::modulus_bits(&private);
    if report.fits_kek_bits.iter().all(|b| *b != kek_bits) {
        return Err(bad(format!(
            "The BYOK ciphertext ({} bytes) does not fit the {kek_bits}-bit key exchange key {}.",
            report.ciphertext_bytes,
            kid.url()
        )));
    }
    let ct =
        decode_b64url(&pkg.ciphertext).map_err(|_| bad("The BYOK ciphertext is not base64url."))?;
    let unwrapped =
        byok_core::package::software_unwrap(&private, &ct, byok_core::hsm::OaepHash::Sha1)
            .map_err(|e| {
                bad(format!(
                    "The BYOK ciphertext cannot be unwrapped with key exchange key {}: {e}",
                    kid.url()
                ))
            })?;
    if unwrapped.trailing_zeros > 0 && !app.accept_padded_pkcs8 {
        return Err(bad(format!(
            "The unwrapped key has {} zero bytes after its PKCS#8 DER (SoftHSM 2.6 pads before AES-KWP); the vault expects the exact DER. Start the simulator with --accept-padded-pkcs8 to allow it.",
            unwrapped.trailing_zeros
        )));
    }
    crypto::material_from_pkcs8(&unwrapped.pkcs8)
        .map_err(|e| bad(format!("The BYOK package's key cannot be imported: {e}")))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{expect_err, Vault};
    use byok_core::kek::{decode_b64url, encode_b64url, rsa_from_parts};
    use byok_core::keyid::KeyId;
    use byok_core::package::Package;
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    use serde_json::{json, Value};

    /// A `.byok` package for `target` under the KEK `kek` (a KeyBundle), made in
    /// software as an HSM would: RSA-OAEP-SHA-1(KEK, aes) || AES-KWP(aes, PKCS#8).
    fn package(kek: &Value, pkcs8: &[u8]) -> Vec<u8> {
        let n = decode_b64url(kek["key"]["n"].as_str().unwrap()).unwrap();
        let e = decode_b64url(kek["key"]["e"].as_str().unwrap()).unwrap();
        let kek_public = rsa_from_parts(&n, &e).unwrap();
        let aes: [u8; 32] = rand::random();
        let mut ct = kek_public
            .encrypt(&mut rand::rng(), rsa::Oaep::<sha1::Sha1>::new(), &aes)
            .unwrap();
        let kwp = <aes_kw::KwpAes256 as aes_kw::KeyInit>::new_from_slice(&aes).unwrap();
        let mut buf = vec![0u8; pkcs8.len().div_ceil(8) * 8 + 8];
        ct.extend_from_slice(kwp.wrap_key(pkcs8, &mut buf).unwrap());
        let kid = KeyId::parse(
            kek["key"]["kid"].as_str().unwrap(),
            byok_core::Mode::Rehearsal,
        )
        .unwrap();
        Package::new(&kid, &ct, "sim unit test".into()).to_bytes()
    }

    fn import_body(package: &[u8]) -> Value {
        json!({"key": {"kty": "RSA-HSM", "key_ops": ["wrapKey", "unwrapKey"],
                       "key_hsm": encode_b64url(package)}, "Hsm": true})
    }

    #[test]
    fn byok_import_unwraps_with_the_kek() {
        let v = Vault::new("Recoverable", false);
        let kek = v.ok(
            "POST",
            "/keys/kek/create",
            Some(json!({"kty": "RSA-HSM", "key_ops": ["import"]})),
        );
        let target = rsa::PrivateKey::new(&mut rand::rng(), 2048).unwrap();
        let pkcs8 = target.to_pkcs8_der().unwrap();
        let pkg = package(&kek, pkcs8.as_bytes());
        let b = v.ok("PUT", "/keys/target", Some(import_body(&pkg)));
        assert_eq!(b["key"]["kty"], "RSA-HSM");
        assert_eq!(
            decode_b64url(b["key"]["n"].as_str().unwrap()).unwrap(),
            target.n().to_be_bytes_trimmed_vartime().to_vec()
        );
        assert_eq!(
            v.app.lock().state.keys["target"].versions[0]
                .origin
                .as_deref(),
            Some("imported")
        );

        // Refusals, each a 400 that stores nothing.
        let mut padded = pkcs8.as_bytes().to_vec();
        padded.extend_from_slice(&[0, 0, 0]);
        let not_kek = v.ok("POST", "/keys/nk/create", Some(json!({"kty": "RSA-HSM"})));
        let mut foreign = kek.clone();
        foreign["key"]["kid"] = json!(kek["key"]["kid"]
            .as_str()
            .unwrap()
            .replace(&v.app.base_url, "https://contoso.vault.azure.net"));
        for (what, body) in [
            ("padded", import_body(&package(&kek, &padded))),
            (
                "not a KEK",
                import_body(&package(&not_kek, pkcs8.as_bytes())),
            ),
            ("foreign", import_body(&package(&foreign, pkcs8.as_bytes()))),
            ("junk", import_body(&package(&kek, b"not DER"))),
            (
                "not base64url",
                json!({"key": {"kty": "RSA-HSM", "key_hsm": "***"}}),
            ),
            ("not json", import_body(b"not json")),
            (
                "kty",
                json!({"key": {"kty": "RSA", "key_hsm": encode_b64url(&pkg)}}),
            ),
            (
                "import op",
                json!({"key": {"kty": "RSA-HSM", "key_ops": ["import"],
                                          "key_hsm": encode_b64url(&pkg)}}),
            ),
        ] {
            let r = v.call("PUT", "/keys/refused", Some(body));
            expect_err(&r, 400, "BadParameter");
            assert!(!v.app.lock().state.keys.contains_key("refused"), "{what}");
        }
    }

    #[test]
    fn plain_jwk_import_and_hostile_components() {
        let v = Vault::new("Recoverable", false);
        let key = rsa::PrivateKey::new(&mut rand::rng(), 2048).unwrap();
        let b = |x: &rsa::BoxedUint| encode_b64url(&x.to_be_bytes_trimmed_vartime());
        let jwk = json!({"kty": "RSA", "n": b(key.n()), "e": b(key.e()), "d": b(key.d()),
                         "p": b(&key.primes()[0]), "q": b(&key.primes()[1]), "dp": "ignored"});
        let plain = v.ok("PUT", "/keys/plain", Some(json!({"key": jwk})));
        assert_eq!(plain["key"]["kty"], "RSA");
        assert_eq!(plain["key"]["n"], jwk["n"]);
        let hsm = v.ok("PUT", "/keys/hsm", Some(json!({"key": jwk, "hsm": true})));
        assert_eq!(hsm["key"]["kty"], "RSA-HSM");
        for (field, value) in [
            ("d", json!(encode_b64url(&[1u8; 256]))),
            ("n", json!("!!")),
            ("p", json!(null)),
            ("q", json!(5)),
            ("kty", json!("EC")),
            ("kty", json!("RSA-HSM")),
            ("key_ops", json!(["import"])),
        ] {
            let mut broken = jwk.clone();
            broken[field] = value;
            let r = v.call("PUT", "/keys/refused", Some(json!({"key": broken})));
            expect_err(&r, 400, "BadParameter");
        }
        expect_err(
            &v.call("PUT", "/keys/refused", Some(json!({"Hsm": true}))),
            400,
            "BadParameter",
        );
        expect_err(
            &v.call("PUT", "/keys/refused", Some(json!({"key": {}}))),
            400,
            "BadParameter",
        );
        assert!(!v.app.lock().state.keys.contains_key("refused"));
    }
}
