//! Fuzz target trust_der_leaf: see [`amt_fuzz::trust_der_leaf`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| amt_fuzz::trust_der_leaf::run(data));
