//! Harnesses for the cargo-fuzz targets of amt-manager, one module per target.
//!
//! Every target in `fuzz_targets/` is one line that hands libFuzzer's bytes to `run` in the
//! module of the same name. Each module is a self-contained file that names only the crate it
//! exercises (plus `http-auth` and `arbitrary` where it needs them), because the workspace's
//! corpus replay tests (`crates/<crate>/tests/fuzz_corpus.rs`) include the same file with
//! `#[path]` and feed it every file of `corpus/<target>/`: CI on a stable toolchain runs the very
//! code the fuzzer runs, without cargo-fuzz.
//!
//! A harness panics only when it has found a bug: a parser that panicked, a round trip that
//! changed a value, a disagreement with the reference implementation outside the documented
//! differences, or a cooldown gate that broke its rules.

pub mod cooldown_ops;
pub mod digest_authorization;
pub mod digest_challenge;
pub mod power_parse;
pub mod replay;
pub mod trust_der_leaf;
pub mod trust_pem;
pub mod wsman_request;
pub mod wsman_response;
