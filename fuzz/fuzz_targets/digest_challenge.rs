//! Fuzz target digest_challenge: see [`amt_fuzz::digest_challenge`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| amt_fuzz::digest_challenge::run(data));
