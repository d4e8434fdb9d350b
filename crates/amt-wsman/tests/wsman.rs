//! Integration tests for `amt-wsman`: wire vectors, round trips and hostile input.

#[path = "wsman/hostile.rs"]
mod hostile;
#[path = "wsman/round_trip.rs"]
mod round_trip;
#[path = "wsman/vectors.rs"]
mod vectors;

use std::path::PathBuf;

use amt_wsman::MessageId;

/// The `MessageID` of the request every response vector relates to.
pub(crate) const REQUEST_ID: &str = "uuid:3f0c2d7e-9a41-4c55-8e0b-6f1d2a9c4b10";

pub(crate) fn request_id() -> MessageId {
    MessageId::new(REQUEST_ID)
}

pub(crate) fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
}

/// The bytes of `tests/data/<name>`.
pub(crate) fn data(name: &str) -> Vec<u8> {
    let path = data_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}
