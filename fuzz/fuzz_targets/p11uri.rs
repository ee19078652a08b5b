#![no_main]
// What is checked: byok_fuzz::p11uri (fuzz/src/lib.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| byok_fuzz::p11uri(data));
