//! Fuzz target trust_pem: see [`amt_fuzz::trust_pem`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| amt_fuzz::trust_pem::run(data));
