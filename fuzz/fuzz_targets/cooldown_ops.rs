//! Fuzz target cooldown_ops: see [`amt_fuzz::cooldown_ops`].

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| amt_fuzz::cooldown_ops::run(data));
