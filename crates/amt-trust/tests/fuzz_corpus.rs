//! Replays the committed seed corpora of the `trust_pem` and `trust_der_leaf` fuzz targets through
//! the harness code the targets run (`fuzz/src/`), so that CI covers them on a stable toolchain. A
//! corpus directory that is missing or empty fails the test.

#[path = "../../../fuzz/src/replay.rs"]
pub mod replay;
#[path = "../../../fuzz/src/trust_der_leaf.rs"]
pub mod trust_der_leaf;
#[path = "../../../fuzz/src/trust_pem.rs"]
pub mod trust_pem;

#[test]
fn trust_pem_corpus() {
    replay::corpus(env!("CARGO_MANIFEST_DIR"), "trust_pem", trust_pem::run);
}

#[test]
fn trust_der_leaf_corpus() {
    replay::corpus(
        env!("CARGO_MANIFEST_DIR"),
        "trust_der_leaf",
        trust_der_leaf::run,
    );
}
