//! Fuzz target digest_authorization: see [`amt_fuzz::digest_authorization`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| amt_fuzz::digest_authorization::run(data));
