#![no_main]
// What is checked: byok_fuzz::attestation_json (fuzz/src/lib.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| byok_fuzz::attestation_json(data));
