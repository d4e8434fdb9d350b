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
    MessageId::new(REQUEST_ID).unwrap()
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

/// `bytes` with the text of every `RelatesTo` element replaced by the `MessageID` the response
/// fuzzer pretends to have sent, so that its round trips run on the vector.
pub(crate) fn relating_to_fuzz_id(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).expect("vectors are UTF-8");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("RelatesTo") {
        let (before, tail) = rest.split_at(at);
        out.push_str(before);
        // A start tag: `<RelatesTo` or `<prefix:RelatesTo`, not `</…` nor text.
        let is_start_tag = before.rfind('<').is_some_and(|open| {
            let name_start = &before[open + 1..];
            !name_start.starts_with('/')
                && (name_start.is_empty()
                    || name_start.strip_suffix(':').is_some_and(|p| {
                        !p.is_empty() && !p.contains(|c: char| c.is_whitespace() || c == '>')
                    }))
        });
        let content = tail.find('>').map(|end| end + 1);
        match content {
            Some(start) if is_start_tag && !tail[..start].ends_with("/>") => {
                out.push_str(&tail[..start]);
                let end = tail[start..].find('<').map_or(tail.len(), |e| start + e);
                out.push_str(amt_wsman::fuzzing::FUZZ_MESSAGE_ID);
                rest = &tail[end..];
            }
            _ => {
                out.push_str("RelatesTo");
                rest = &tail["RelatesTo".len()..];
            }
        }
    }
    out.push_str(rest);
    out.into_bytes()
}

#[test]
fn relating_to_fuzz_id_rewrites_only_relates_to_text() {
    let reply = b"<a:H><b:RelatesTo>\n 7 \n</b:RelatesTo><b:To>x</b:To></a:H><RelatesTo xmlns=\"u\">9</RelatesTo>";
    let rewritten = String::from_utf8(relating_to_fuzz_id(reply)).unwrap();
    let id = amt_wsman::fuzzing::FUZZ_MESSAGE_ID;
    assert_eq!(
        rewritten,
        format!(
            "<a:H><b:RelatesTo>{id}</b:RelatesTo><b:To>x</b:To></a:H><RelatesTo xmlns=\"u\">{id}</RelatesTo>"
        )
    );
}
