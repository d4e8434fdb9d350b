//! Replays the committed seed corpus of the `power_parse` fuzz target through the harness code
//! the targets run (`fuzz/src/`), so that CI covers them on a stable toolchain. A corpus
//! directory that is missing or empty fails the test.

#[path = "../../../fuzz/src/power_parse.rs"]
pub mod power_parse;
#[path = "../../../fuzz/src/replay.rs"]
pub mod replay;

#[test]
fn power_parse_corpus() {
    replay::corpus(env!("CARGO_MANIFEST_DIR"), "power_parse", power_parse::run);
}
