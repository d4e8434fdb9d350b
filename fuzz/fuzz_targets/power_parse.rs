//! Fuzz target power_parse: see [`amt_fuzz::power_parse`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| amt_fuzz::power_parse::run(data));
