//! Mutated blobs: never a panic, never accepted.

use crate::rig::*;
use byok_core::attestation::*;
use byok_testkit::testchain::{self, KeyFlags};

/// Deterministic pseudo-random mutations (several bytes at once, header
/// fields set to extreme values): never a panic, and never accepted.
#[test]
fn mutated_blobs_never_panic_or_verify() {
    let roots = pinned();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let extremes: [u32; 7] = [0, 1, 8, 12, 0x7fff_ffff, 0xffff_fff4, 0xffff_ffff];
    for sample in [SAMPLE, RSA_NOCHAIN] {
        // Header fields (u32 at 0..16, u16 info header at the data start).
        for field in 0..4 {
            for v in extremes {
                let mut d = sample.to_vec();
                d[field * 4..field * 4 + 4].copy_from_slice(&v.to_be_bytes());
                let _ = parse_blob_unverified(&d);
                if v as usize
                    != u32::from_be_bytes(sample[field * 4..field * 4 + 4].try_into().unwrap())
                        as usize
                {
                    assert!(verify_marvell_blob(&d, SAMPLE_CHAIN, None, &roots).is_err());
                }
            }
        }
        for round in 0..3000 {
            let mut d = sample.to_vec();
            for _ in 0..1 + round % 4 {
                let at = (next() as usize) % d.len();
                d[at] = next() as u8;
            }
            let cut = (next() as usize) % (d.len() + 1);
            if round % 5 == 0 {
                d.truncate(cut);
            }
            let _ = parse_blob_unverified(&d);
            if d.as_slice() != sample {
                assert!(verify_marvell_blob(&d, SAMPLE_CHAIN, None, &roots).is_err());
            }
        }
    }
    // Attribute-level mutations of a generated MRVL-1 body: parse only.
    let f = fixture();
    let body = testchain::mrvl1_body(
        1,
        &testchain::rsa_attributes(&f.kek, CLASS_PRIVATE_KEY, KeyFlags::default(), ATTESTED_ID),
    );
    for round in 0..3000 {
        let mut d = body.clone();
        let at = (next() as usize) % d.len();
        d[at] = extremes[round % extremes.len()].to_be_bytes()[round % 4];
        d.extend_from_slice(&[0u8; 256]);
        let _ = parse_blob_unverified(&d);
    }
}
