//! Replays a committed seed corpus through a harness, for the workspace's ordinary tests.

use std::path::Path;

/// Runs `harness` on every file of `fuzz/corpus/<target>/`, where `manifest_dir` is the
/// `CARGO_MANIFEST_DIR` of a crate under `crates/`. Returns how many inputs were replayed.
///
/// # Panics
///
/// When the directory cannot be read or holds no file (an empty corpus would make the replay
/// test pass while testing nothing), and whenever `harness` panics, naming the input.
pub fn corpus(manifest_dir: &str, target: &str, harness: fn(&[u8])) -> usize {
    let dir = Path::new(manifest_dir)
        .join("../../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read the corpus {}: {error}", dir.display()));
    let mut paths: Vec<_> = entries
        .map(|entry| {
            entry
                .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
                .path()
        })
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "the corpus {} is empty: it would replay nothing",
        dir.display()
    );
    for path in &paths {
        let data = std::fs::read(path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        let outcome = std::panic::catch_unwind(|| harness(&data));
        assert!(
            outcome.is_ok(),
            "{target} panicked on the corpus input {}",
            path.display()
        );
    }
    paths.len()
}
