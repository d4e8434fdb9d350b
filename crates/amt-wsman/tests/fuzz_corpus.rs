//! Replays the committed seed corpora of the `wsman_response` and `wsman_request` fuzz targets
//! through the harness code the targets run (`fuzz/src/`), so that CI covers them on a stable
//! toolchain. A corpus directory that is missing or empty fails the test.

#[path = "../../../fuzz/src/replay.rs"]
pub mod replay;
#[path = "../../../fuzz/src/wsman_request.rs"]
pub mod wsman_request;
#[path = "../../../fuzz/src/wsman_response.rs"]
pub mod wsman_response;

#[test]
fn wsman_response_corpus() {
    replay::corpus(
        env!("CARGO_MANIFEST_DIR"),
        "wsman_response",
        wsman_response::run,
    );
}

#[test]
fn wsman_request_corpus() {
    replay::corpus(
        env!("CARGO_MANIFEST_DIR"),
        "wsman_request",
        wsman_request::run,
    );
}
