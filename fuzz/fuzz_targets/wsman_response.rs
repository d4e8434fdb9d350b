//! Fuzz target wsman_response: see [`amt_fuzz::wsman_response`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| amt_fuzz::wsman_response::run(data));
