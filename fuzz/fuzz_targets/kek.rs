#![no_main]
// What is checked: byok_fuzz::kek (fuzz/src/lib.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| byok_fuzz::kek(data));
