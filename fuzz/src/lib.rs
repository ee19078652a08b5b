//! What each fuzz target checks, one function per target (`fuzz_targets/<name>.rs` only
//! calls it). The root test `tests/fuzz_regressions.rs` includes this file and replays
//! every file of `fuzz/seeds/<name>/` and `fuzz/regressions/<name>/` through the same
//! function, so a crash a fuzzer found stays a test of the normal `cargo test`.
//!
//! Beyond "never panics" (and libFuzzer's time and memory limits), each check asserts
//! what is cheap to know about the answer: an error is one printable line, and what
//! parses re-serialises and parses again to the same thing.

use byok_core::attestation::TrustRoots;
use byok_core::Mode;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A target's check: panics on a finding.
pub type Check = fn(&[u8]);

/// Every target, with its check: the names of `fuzz/seeds/` and `fuzz/regressions/`.
pub const TARGETS: &[(&str, Check)] = &[
    ("kek", kek),
    ("package", package),
    ("plan", plan),
    ("transcript", transcript),
    ("backup_manifest", backup_manifest),
    ("backup_file", backup_file),
    ("attestation_json", attestation_json),
    ("attestation_blob", attestation_blob),
    ("attestation_chain", attestation_chain),
    ("p11uri", p11uri),
    ("keyid", keyid),
    ("sim_request", sim_request),
];

/// An error is shown as one `error: …` line: no line break or other control character.
fn one_line(e: &impl std::fmt::Display) {
    let s = e.to_string();
    assert!(!s.is_empty(), "an empty error message");
    assert!(
        !byok_core::text::has_hidden(&s),
        "an error message with a control or invisible character: {s:?}"
    );
}

fn roots() -> &'static TrustRoots {
    static R: OnceLock<TrustRoots> = OnceLock::new();
    R.get_or_init(|| TrustRoots::marvell().expect("the pinned Marvell roots parse"))
}

const MODES: [Mode; 2] = [Mode::Ceremony, Mode::Rehearsal];

/// KEK files: PEM (SPKI, PKCS#1), DER, KeyBundle and JWK JSON. A KEK that is accepted
/// is one Azure could have made (RSA 2048/3072/4096, e = 65537); its canonical SPKI DER
/// reads back as the same key with the same fingerprint.
pub fn kek(data: &[u8]) {
    for mode in MODES {
        match byok_core::kek::Kek::from_bytes(data, None, mode) {
            Err(e) => one_line(&e),
            Ok(k) => {
                assert!(byok_core::kek::KEK_BITS.contains(&k.bits()), "{}", k.bits());
                assert_eq!(k.exponent(), Some(65537));
                let again = byok_core::kek::Kek::from_bytes(&k.spki_der, None, mode)
                    .expect("an accepted KEK's own SPKI DER is accepted");
                assert_eq!(again.sha256(), k.sha256());
                assert_eq!(again.spki_der, k.spki_der);
                let r = k.report();
                assert_eq!(r.sha256, hex::encode(k.sha256()));
                if let Some(kid) = &k.kid {
                    // A kid given on the command line equal to the file's own is accepted.
                    let with = byok_core::kek::Kek::from_bytes(data, Some(&kid.url()), mode)
                        .expect("--kid equal to the file's kid");
                    assert_eq!(with.kid.as_ref(), Some(kid));
                }
            }
        }
    }
}

/// `.byok` packages: what is accepted is the package written back by `to_bytes` (same
/// fields), and that writing is accepted again with the same report.
pub fn package(data: &[u8]) {
    for mode in MODES {
        match byok_core::package::inspect(data, None, mode) {
            Err(e) => one_line(&e),
            Ok((pkg, report)) => {
                assert_eq!(report.size, data.len());
                assert_eq!(report.sha256, hex::encode(Sha256::digest(data)));
                assert!(!report.fits_kek_bits.is_empty());
                if let (Some(r), Some(k)) = (report.rsa_part_bytes, report.kwp_part_bytes) {
                    assert_eq!(r + k, report.ciphertext_bytes);
                    assert!(k >= 16 && k % 8 == 0);
                }
                let bytes = pkg.to_bytes();
                let (pkg2, report2) = byok_core::package::inspect(&bytes, None, mode)
                    .expect("a package written back is accepted");
                assert_eq!(pkg2, pkg);
                assert_eq!(report2.kid, report.kid);
                assert_eq!(report2.ciphertext_bytes, report.ciphertext_bytes);
                assert_eq!(report2.fits_kek_bits, report.fits_kek_bits);
            }
        }
    }
}

/// A directory holding the KEKs the fixture plan names, so a fuzzed plan can pass every
/// rule; made once per process.
fn plan_dir() -> &'static Path {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("byok-fuzz-plan-{}", std::process::id()));
        let keks = d.join("keks");
        std::fs::create_dir_all(&keks).expect("plan dir");
        for (name, bytes) in [
            (
                "vault-a-kek.json",
                &include_bytes!("../../tests/fixtures/ceremony/keks/vault-a-kek.json")[..],
            ),
            (
                "vault-b-kek.json",
                &include_bytes!("../../tests/fixtures/ceremony/keks/vault-b-kek.json")[..],
            ),
        ] {
            std::fs::write(keks.join(name), bytes).expect("plan KEK");
        }
        d
    })
}

/// Ceremony plans: the report agrees with itself, and a plan that passes every rule
/// passes again when written back (serde) and read.
pub fn plan(data: &[u8]) {
    use byok_core::ceremony::plan::{check_bytes, violations_error};
    let path = plan_dir().join("plan.json");
    for mode in MODES {
        match check_bytes(data, &path, roots(), mode) {
            Err(e) => one_line(&e),
            Ok((report, checked)) => {
                assert_eq!(report.plan_sha256, hex::encode(Sha256::digest(data)));
                assert_eq!(report.ok, report.violations.is_empty());
                assert_eq!(report.ok, checked.is_some());
                if !report.ok {
                    one_line(&violations_error(&report.violations));
                }
                if let Some(c) = checked {
                    assert_eq!(c.keys.len(), report.keys);
                    let bytes = serde_json::to_vec(&c.plan).expect("a plan serialises");
                    let (r2, c2) = check_bytes(&bytes, &path, roots(), mode)
                        .expect("a checked plan written back is a plan");
                    assert!(
                        r2.ok,
                        "a checked plan written back breaks {:?}",
                        r2.violations
                    );
                    let c2 = c2.expect("checked");
                    assert_eq!(c2.keys.len(), c.keys.len());
                    assert_eq!(c2.mode, c.mode);
                }
            }
        }
    }
}

/// Transcripts (`transcript verify`, and the unfinished one a resume or an import
/// reads): a verified transcript's report matches its records; every record re-serialises.
pub fn transcript(data: &[u8]) {
    let path = Path::new("transcript.jsonl");
    match byok_core::transcript::verify_bytes(data, path) {
        Err(e) => one_line(&e),
        Ok(v) => {
            assert_eq!(v.report.records, v.records.len());
            assert_eq!(v.records.len(), v.lines.len());
            assert!(v.report.ok);
            assert_eq!(
                v.report.signed,
                v.records.last().is_some_and(|r| r.signature.is_some())
            );
            for r in &v.records {
                serde_json::to_vec(r).expect("a record serialises");
            }
        }
    }
    match byok_core::transcript::unfinished_bytes(data, path) {
        Err(e) => one_line(&e),
        Ok((records, torn)) => {
            if let Some(t) = torn {
                assert_eq!(t.len(), 64);
            }
            for r in &records {
                serde_json::to_vec(r).expect("a record serialises");
            }
        }
    }
}

/// `manifest.jsonl`: every entry accepted writes back to a line that reads as the same entry.
pub fn backup_manifest(data: &[u8]) {
    let path = Path::new("backups/manifest.jsonl");
    match byok_azure::backup::parse_manifest(data, path) {
        Err(e) => one_line(&e),
        Ok(entries) => {
            let mut text = String::new();
            for e in &entries {
                text.push_str(&serde_json::to_string(e).expect("an entry serialises"));
                text.push('\n');
            }
            let again = byok_azure::backup::parse_manifest(text.as_bytes(), path)
                .expect("entries written back are a manifest");
            assert_eq!(again, entries);
        }
    }
}

/// A backup file's form (`backup verify`, `restore`): the check never panics; what passes
/// starts with the Key Vault marker.
pub fn backup_file(data: &[u8]) {
    match byok_azure::backup::check_backup_form(data) {
        Err(e) => one_line(&e),
        Ok(()) => assert!(data.starts_with(byok_azure::backup::BACKUP_MAGIC)),
    }
}

/// `attestation verify` on an Azure MRVL-1 JSON (and whatever else a file may be): with
/// and without an expected key. Nothing a fuzzer makes verifies against the pinned
/// Marvell roots, so an `Ok` is itself a finding.
pub fn attestation_json(data: &[u8]) {
    use byok_core::attestation::policy::verify_file;
    const KEY: &[u8] = include_bytes!("../../tests/fixtures/ceremony/keks/vault-a-kek.json");
    for key in [None, Some(KEY)] {
        match verify_file(data, key, None, None, roots(), Mode::Rehearsal) {
            Err(e) => one_line(&e),
            Ok(r) => panic!("a fuzzed attestation verified against the Marvell roots: {r:?}"),
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = byok_core::attestation::ExpectedKey::parse(text) {
            one_line(&e);
        }
    }
}

/// Marvell attestation blobs, gzip-wrapped or not: parsed and decoded without the
/// signature; the gzip cap holds (at most 1 MiB out).
pub fn attestation_blob(data: &[u8]) {
    use byok_core::attestation::blob;
    match blob::maybe_gunzip(data) {
        Err(e) => one_line(&e),
        Ok(raw) => {
            assert!(raw.len() <= 1 << 20, "gunzip gave {} bytes", raw.len());
            match blob::parse(&raw) {
                Err(e) => one_line(&e),
                Ok(p) => assert!(p.objects.len() <= raw.len()),
            }
        }
    }
    match byok_core::attestation::parse_blob_unverified(data) {
        Err(e) => one_line(&e),
        Ok(objects) => {
            for o in &objects {
                serde_json::to_vec(o).expect("an attested object serialises");
            }
        }
    }
}

/// The DER certificates of a chain (`--chain`, `--trust-root`, an MRVL-1 attestation's
/// certificates): the input is up to four DER certificates separated by `--8<--`, put
/// into PEM, and checked as the chain of the Google Cloud sample blob, and as extra roots.
pub fn attestation_chain(data: &[u8]) {
    const SEP: &[u8] = b"--8<--";
    const SAMPLE: &[u8] =
        include_bytes!("../../tests/fixtures/attestation/gcp-ec-p256-attestation.bin");
    let mut pem = String::new();
    let mut rest = data;
    for _ in 0..4 {
        let (der, next) = match rest.windows(SEP.len()).position(|w| w == SEP) {
            Some(i) => (&rest[..i], Some(&rest[i + SEP.len()..])),
            None => (rest, None),
        };
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64_std(der);
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
    match byok_core::attestation::verify_marvell_blob(SAMPLE, &pem, None, roots()) {
        Err(e) => one_line(&e),
        Ok(r) => {
            // Only a chain that verifies gets here: the sample's objects, all of them.
            let objects =
                byok_core::attestation::parse_blob_unverified(SAMPLE).expect("the sample parses");
            assert_eq!(r.objects, objects);
        }
    }
    let mut extra = TrustRoots::empty();
    match extra.add_extra_pem(&pem) {
        Err(e) => one_line(&e),
        Ok(n) => assert!(n >= 1 && extra.has_extra()),
    }
}

/// Standard base64 with padding (the PEM body), small and local: the fuzz crate needs
/// no base64 dependency for it.
fn base64_std(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `%XX` sequences decoded, invalid UTF-8 replaced: what a parser's error could show of
/// an input it decoded.
fn percent_decoded_lossy(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// PKCS#11 URIs (`--token`, `--key`): never a PIN accepted; what parses keeps the
/// attributes it was given, and nothing else.
pub fn p11uri(data: &[u8]) {
    use byok_core::p11uri::Pkcs11Uri;
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match Pkcs11Uri::parse(s) {
        Err(e) => {
            one_line(&e);
            // The PIN (the value of a pin-value query attribute) is never in the error;
            // checked where the PIN's text is nowhere else in the input, not even once
            // the rest is percent-decoded (an error may name a decoded `type=%61bcd`),
            // nor in the error's own fixed words (a "PIN" of `pkcs11:` is not leaked by
            // naming it).
            let query = s.split_once('?').map_or("", |(_, q)| q);
            for (k, pin) in query.split('&').filter_map(|a| a.split_once('=')) {
                let item = format!("{k}={pin}");
                let elsewhere = percent_decoded_lossy(&s.replacen(&item, "&", 1));
                if k != "pin-value"
                    || pin.len() < 4
                    || s.matches(pin).count() != 1
                    || elsewhere.contains(pin)
                {
                    continue;
                }
                // The error's fixed words may hold the PIN's text ("anufa" is in
                // "manufacturer"): the error of the same input with another PIN of the
                // same length shows what is not from the PIN.
                let mark = ['#', '~', '^', '*']
                    .into_iter()
                    .find(|c| !pin.contains(*c))
                    .unwrap_or('#');
                let other = s.replacen(
                    &item,
                    &format!("{k}={}", mark.to_string().repeat(pin.chars().count())),
                    1,
                );
                let fixed = Pkcs11Uri::parse(&other)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                if !fixed.contains(pin) {
                    assert!(!e.to_string().contains(pin), "the PIN is in the error");
                }
            }
        }
        Ok(u) => {
            assert!(s.starts_with("pkcs11:"));
            if let Some((_, q)) = s.split_once('?') {
                let names = q
                    .split('&')
                    .map(|a| a.split_once('=').map_or(a, |(k, _)| k));
                assert!(
                    !names.into_iter().any(|k| k == "pin-value"),
                    "a URI with pin-value accepted"
                );
            }
            if u.token.is_some() {
                assert!(s.contains("token="));
            }
            if u.object.is_some() {
                assert!(s.contains("object="));
            }
            if u.id.is_some() {
                assert!(s.contains("id="));
            }
        }
    }
}

/// Key ids (`--kid`, a package's `header.kid`, a KEK's `kid`): what parses is a
/// versioned key URL that reads back as itself.
pub fn keyid(data: &[u8]) {
    use byok_core::keyid::KeyId;
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for mode in MODES {
        match KeyId::parse(s, mode) {
            Err(e) => one_line(&e),
            Ok(k) => {
                let url = k.url();
                assert!(url.starts_with("https://"), "{url}");
                let again = KeyId::parse(&url, mode).expect("a kid's own URL parses");
                assert_eq!(again, k);
                assert!(!k.name.is_empty() && !k.version.is_empty());
            }
        }
    }
}

/// The simulator's request parsing: the query string, and every request body type with
/// the checks on its fields. A refusal is a 400 `BadParameter` in Key Vault's error shape.
pub fn sim_request(data: &[u8]) {
    use byok_vault_sim::http::Query;
    use byok_vault_sim::routes::{body, Reply};
    let bad = |r: Reply| {
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert_eq!(r.code(), Some("BadParameter"), "{:?}", r.body);
        let msg = r.body.as_ref().and_then(|b| b["error"]["message"].as_str());
        assert!(msg.is_some_and(|m| !m.is_empty()), "{:?}", r.body);
    };
    // First line: the query string; the rest: the body.
    let (query, body_bytes) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let q = Query::parse(&String::from_utf8_lossy(query));
    if let Some(v) = &q.api_version {
        let _ = byok_vault_sim::http::api_version_ok(v);
    }
    match body::decode::<body::CreateKey>(body_bytes) {
        Err(r) => bad(r),
        Ok(c) => {
            let kty = c.kty.clone().unwrap_or_default();
            if let Err(r) = body::attributes(c.attributes) {
                bad(r);
            }
            if let Err(r) = body::tags(c.tags) {
                bad(r);
            }
            if let Err(r) = body::key_ops(c.key_ops, &kty) {
                bad(r);
            }
        }
    }
    match body::decode::<body::ImportKey>(body_bytes) {
        Err(r) => bad(r),
        Ok(i) => {
            let _ = i.hsm();
            if let Err(r) = body::attributes(i.attributes) {
                bad(r);
            }
            if let Err(r) = body::tags(i.tags) {
                bad(r);
            }
        }
    }
    match body::decode::<body::UpdateKey>(body_bytes) {
        Err(r) => bad(r),
        Ok(u) => {
            if let Err(r) = body::attributes(u.attributes) {
                bad(r);
            }
            if let Err(r) = body::tags(u.tags) {
                bad(r);
            }
            if let Err(r) = body::key_ops(u.key_ops, "RSA") {
                bad(r);
            }
        }
    }
    if let Err(r) = body::decode::<body::CryptKey>(body_bytes) {
        bad(r);
    }
    if let Err(r) = body::decode::<body::RestoreKey>(body_bytes) {
        bad(r);
    }
}
