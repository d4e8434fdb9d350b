//! Replays the fuzz entry points on stable: arbitrary bytes, and mutations of real inputs.

use amt_trust::fuzz;
use proptest::prelude::*;

use crate::support::{Ca, Leaf, data};

fn real_leaves() -> Vec<Vec<u8>> {
    let ca = Ca::root("Provider CA");
    let mut leaves: Vec<Vec<u8>> = [
        Leaf::sans(&["localhost", "127.0.0.1", "::1"]),
        Leaf::cn("localhost").with_cn("127.0.0.1"),
    ]
    .iter()
    .map(|leaf| ca.issue(leaf).der.to_vec())
    .collect();
    for name in [
        "rsa2048-leaf.pem",
        "rsa1024-leaf.pem",
        "sha1-leaf.pem",
        "two-cn-leaf.pem",
    ] {
        leaves.push(crate::support::data_cert(name).to_vec());
    }
    leaves
}

#[test]
fn real_inputs_do_not_panic() {
    for leaf in real_leaves() {
        fuzz::leaf_der(&leaf);
    }
    for name in [
        "rsa2048-ca.pem",
        "rsa2048-leaf.pem",
        "rsa2048-leaf.TEST-ONLY-KEY.pem",
        "README.md",
    ] {
        fuzz::provider_root_pem(&data(name));
    }
}

#[test]
fn every_truncation_of_real_leaves() {
    for leaf in real_leaves() {
        for end in 0..leaf.len() {
            fuzz::leaf_der(&leaf[..end]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_as_pem(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        fuzz::provider_root_pem(&data);
    }

    #[test]
    fn any_text_inside_pem_armour(body in "[A-Za-z0-9+/=\\n -]{0,600}") {
        let text = format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n");
        fuzz::provider_root_pem(text.as_bytes());
    }

    #[test]
    fn any_bytes_as_leaf(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        fuzz::leaf_der(&data);
    }

    #[test]
    fn mutated_real_leaves(index in any::<prop::sample::Index>(), position in any::<prop::sample::Index>(), value in any::<u8>()) {
        let leaves = real_leaves_cached();
        let mut leaf = index.get(leaves).clone();
        let at = position.index(leaf.len());
        leaf[at] = value;
        fuzz::leaf_der(&leaf);
    }
}

fn real_leaves_cached() -> &'static [Vec<u8>] {
    static LEAVES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    LEAVES.get_or_init(real_leaves)
}
