#![no_main]
// What is checked: byok_fuzz::plan (fuzz/src/lib.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| byok_fuzz::plan(data));
