#![no_main]
// What is checked: byok_fuzz::sim_request (fuzz/src/lib.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| byok_fuzz::sim_request(data));
