//! Keygen and wrap: every key and KEK size unwraps in software; the BYOK attributes on the
//! token.

use crate::common::*;
use crate::rig::*;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use std::fs;

#[test]
fn every_size_of_key_and_kek_unwraps_in_software_to_the_hsm_key() {
    let tok = Token::new("sizes");
    for key_bits in [2048, 3072, 4096] {
        let label = format!("Key-{key_bits}");
        let pem = keygen(&tok, &label, key_bits);
        let (n, e) = pem_public(&pem);
        assert_eq!(n.len() * 8, key_bits);
        for kek_bits in [2048, 3072, 4096] {
            let kek_file = write_kek(&tok.dir(), kek_bits);
            let out = format!("{label}-under-{kek_bits}.byok");
            let o = tok.byok(&[
                "wrap",
                "--key",
                &label,
                "--kek",
                kek_file.to_str().unwrap(),
                "--out",
                &out,
                "--json",
            ]);
            let report: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
            // The report names the mechanism actually used: 0x210A on SoftHSM 2.6.1,
            // 0x1054 on 2.7.0, 0x210B on Kryoptic.
            let kind = tok.t.kind;
            assert_eq!(report["mechanism"], kind.mechanism());
            let bytes = fs::read(tok.dir().join(&out)).unwrap();
            // The printed SHA-256 is the file's.
            assert_eq!(
                report["sha256"],
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
            );
            // Independent software unwrap equals the HSM's key.
            let check =
                byok_testkit::testkek::check_package(&kek(kek_bits).private, &bytes, &n, &e)
                    .unwrap_or_else(|err| panic!("{out}: {err}"));
            assert!(check.modulus_matches);
            // Exact PKCS#8 wherever the token does not zero-pad it.
            if !kind.pads_pkcs8() {
                assert_eq!(check.trailing_zero_bytes, 0, "{}: {out}", kind.name());
            }
            // The package is exactly the four fields, base64url without padding.
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let obj = v.as_object().unwrap();
            let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
            keys.sort();
            assert_eq!(
                keys,
                ["ciphertext", "generator", "header", "schema_version"]
            );
            assert_eq!(v["schema_version"], "1.0.0");
            assert_eq!(v["header"]["alg"], "dir");
            assert_eq!(v["header"]["enc"], "CKM_RSA_AES_KEY_WRAP");
            assert_eq!(v["header"]["kid"], kek(kek_bits).kid.as_str());
            let ct = v["ciphertext"].as_str().unwrap();
            assert!(ct
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            let g = v["generator"].as_str().unwrap();
            assert!(
                g.contains(env!("CARGO_PKG_VERSION"))
                    && g.contains(kind.manufacturer())
                    && g.contains("firmware ")
                    && g.ends_with(kind.mechanism()),
                "{g}"
            );
            // package inspect agrees, with and without the KEK.
            let o = tok.byok(&[
                "package",
                "inspect",
                &out,
                "--kek",
                kek_file.to_str().unwrap(),
                "--json",
            ]);
            let r: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
            assert_eq!(r["rsa_part_bytes"], kek_bits / 8);
            assert_eq!(r["target_key_bits"], key_bits);
            assert_eq!(r["kek_checked"], true);
            let o = tok.byok(&["package", "inspect", &out, "--json"]);
            let r: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
            assert_eq!(r["fits_kek_bits"], serde_json::json!([kek_bits]));
            assert_eq!(r["target_key_bits"], key_bits);
        }
    }
    // Only the three key pairs are on the token: no session KEK or AES key stayed.
    let labels = tok.labels();
    assert_eq!(
        labels,
        ["Key-2048", "Key-2048", "Key-3072", "Key-3072", "Key-4096", "Key-4096"]
    );
}

#[test]
fn keygen_sets_byok_attributes_on_the_token() {
    let tok = Token::new("attrs");
    let o = tok.byok(&[
        "keygen",
        "--label",
        "Attr-Key001",
        "--size",
        "2048",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(report["attributes"]["local"], true);
    assert_eq!(report["attributes"]["always_sensitive"], true);
    assert_eq!(
        report["attributes"]["key_gen_mechanism"],
        "CKM_RSA_PKCS_KEY_PAIR_GEN"
    );
    // Read the attributes back from the token ourselves.
    tok.with_session(|s| {
        let privs = s
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(b"Attr-Key001".to_vec()),
            ])
            .unwrap();
        assert_eq!(privs.len(), 1);
        let want = [
            (AttributeType::Token, true),
            (AttributeType::Private, true),
            (AttributeType::Sensitive, true),
            (AttributeType::Extractable, true),
            (AttributeType::Sign, false),
            (AttributeType::SignRecover, false),
            (AttributeType::Decrypt, false),
            (AttributeType::Unwrap, false),
            (AttributeType::Derive, false),
            (AttributeType::Local, true),
            (AttributeType::AlwaysSensitive, true),
            (AttributeType::Modifiable, false),
        ];
        for (t, v) in want {
            let got = s.get_attributes(privs[0], &[t]).unwrap();
            assert_eq!(bool_of(&got), Some(v), "private {t:?}");
        }
        let pubs = s
            .find_objects(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::Label(b"Attr-Key001".to_vec()),
            ])
            .unwrap();
        assert_eq!(pubs.len(), 1);
        for (t, v) in [
            (AttributeType::Encrypt, false),
            (AttributeType::Verify, false),
            (AttributeType::Wrap, false),
            (AttributeType::Token, true),
        ] {
            let got = s.get_attributes(pubs[0], &[t]).unwrap();
            assert_eq!(bool_of(&got), Some(v), "public {t:?}");
        }
        // Both halves share a random 16-byte CKA_ID.
        let id = |h| match s.get_attributes(h, &[AttributeType::Id]).unwrap().pop() {
            Some(Attribute::Id(v)) => v,
            _ => panic!("no id"),
        };
        assert_eq!(id(privs[0]), id(pubs[0]));
        assert_eq!(id(privs[0]).len(), 16);
        assert_eq!(hex::encode(id(privs[0])), report["id"].as_str().unwrap());
    });
}

fn bool_of(attrs: &[Attribute]) -> Option<bool> {
    attrs.iter().find_map(|a| match a {
        Attribute::Token(b)
        | Attribute::Private(b)
        | Attribute::Sensitive(b)
        | Attribute::Extractable(b)
        | Attribute::Sign(b)
        | Attribute::SignRecover(b)
        | Attribute::Decrypt(b)
        | Attribute::Unwrap(b)
        | Attribute::Derive(b)
        | Attribute::Local(b)
        | Attribute::AlwaysSensitive(b)
        | Attribute::Modifiable(b)
        | Attribute::Encrypt(b)
        | Attribute::Verify(b)
        | Attribute::Wrap(b) => Some(*b),
        _ => None,
    })
}
