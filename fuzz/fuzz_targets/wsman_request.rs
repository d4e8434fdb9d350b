//! Fuzz target wsman_request: see [`amt_fuzz::wsman_request`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| amt_fuzz::wsman_request::run(data));
