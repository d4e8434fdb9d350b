//! Replays the committed seed corpus of the `cooldown_ops` fuzz target through the harness code
//! the targets run (`fuzz/src/`), so that CI covers them on a stable toolchain. A corpus
//! directory that is missing or empty fails the test.

#[path = "../../../fuzz/src/cooldown_ops.rs"]
pub mod cooldown_ops;
#[path = "../../../fuzz/src/replay.rs"]
pub mod replay;

#[test]
fn cooldown_ops_corpus() {
    replay::corpus(
        env!("CARGO_MANIFEST_DIR"),
        "cooldown_ops",
        cooldown_ops::run,
    );
}
