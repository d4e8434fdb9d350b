//! Benchmarks for the amt-manager workspace.
//!
//! The criterion micro-benchmarks live in `benches/`; run them with
//! `cargo bench -p amt-benches`. See `benches/README.md` for the figures and how to reproduce them.
