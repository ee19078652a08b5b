//! The real Google sample through `byok attestation verify`.

use crate::common::*;
use crate::rig::*;
use std::fs;

#[test]
fn google_sample_verifies_and_a_changed_byte_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let blob = format!("{FIX}/gcp-ec-p256-attestation.bin");
    let chain = format!("{FIX}/gcp-ec-p256-chain.pem");
    let out = ok(&byok_plain(
        d,
        &["attestation", "verify", &blob, "--chain", &chain],
    ));
    assert!(out.contains("VERIFIED"), "{out}");
    assert!(out.contains("extractable"), "{out}");
    let j = json(&byok_plain(
        d,
        &["attestation", "verify", &blob, "--chain", &chain, "--json"],
    ));
    assert_eq!(j["format"], "marvell");
    assert_eq!(j["extra_root_used"], false);
    assert!(j["hsm_serial"].is_string());
    assert!(["FIPS", "non-FIPS"].contains(&j["mode"].as_str().unwrap()));
    let o = &j["objects"][0];
    for f in [
        "class_name",
        "key_type_name",
        "key_bits",
        "extractable",
        "never_extractable",
        "local",
        "sensitive",
    ] {
        assert!(!o[f].is_null(), "{f} missing in {o}");
    }

    // One changed byte in the signed part, and a cut-off blob: refused, no panic.
    let mut bytes = fs::read(&blob).unwrap();
    let i = bytes.len() / 3;
    bytes[i] ^= 0x01;
    fs::write(d.join("changed.bin"), &bytes).unwrap();
    fails(
        &byok_plain(
            d,
            &["attestation", "verify", "changed.bin", "--chain", &chain],
        ),
        &["attestation"],
    );
    let bytes = fs::read(&blob).unwrap();
    fs::write(d.join("cut.bin"), &bytes[..bytes.len() / 2]).unwrap();
    fails(
        &byok_plain(d, &["attestation", "verify", "cut.bin", "--chain", &chain]),
        &["attestation"],
    );
    // A generic blob needs its chain; a missing file is one clear line.
    fails(
        &byok_plain(d, &["attestation", "verify", &blob]),
        &["--chain"],
    );
    fails(
        &byok_plain(d, &["attestation", "verify", "nothing.bin"]),
        &["nothing.bin"],
    );
    fails(
        &byok_plain(
            d,
            &[
                "attestation",
                "verify",
                &blob,
                "--chain",
                &chain,
                "--kid",
                "https://contoso-hsm.managedhsm.azure.net/keys/k/00000000000000000000000000000000",
            ],
        ),
        &["--kid"],
    );
    // The chain without its partition certificate.
    let pem = fs::read_to_string(&chain).unwrap();
    let certs: Vec<&str> = pem.split_inclusive("-----END CERTIFICATE-----\n").collect();
    fs::write(d.join("short.pem"), certs[..1].concat()).unwrap();
    fails(
        &byok_plain(d, &["attestation", "verify", &blob, "--chain", "short.pem"]),
        &["attestation"],
    );
}
