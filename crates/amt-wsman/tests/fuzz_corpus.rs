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

/// The reply seeds must relate to the request the response fuzzer pretends to have sent: one
/// that relates to another stops every parser at the `RelatesTo` check, and the fuzzer would
/// spend its time there.
#[test]
fn wsman_response_seeds_are_read() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/wsman_response");
    let fuzz_id = amt_wsman::MessageId::new(amt_wsman::fuzzing::FUZZ_MESSAGE_ID).unwrap();
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let read = amt_wsman::fuzzing::response_to(&bytes, &fuzz_id);
        // Identify checks no RelatesTo, so it alone reads a fault relating to anything.
        if name.starts_with("seed-fault_") {
            assert_eq!(
                read, 10,
                "{name}: every reply parser should read it; run fuzz/seeds/make_seeds.py"
            );
            seeds += 1;
        } else if name.starts_with("seed-response_") {
            assert!(
                read >= 1,
                "{name} is read by no reply parser; run fuzz/seeds/make_seeds.py"
            );
            seeds += 1;
        }
    }
    assert!(seeds >= 30, "only {seeds} reply seeds");
}
