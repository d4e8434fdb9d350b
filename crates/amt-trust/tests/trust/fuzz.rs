//! Replays the fuzz entry points on stable: arbitrary bytes, and mutations of real inputs,
//! leaves alone and whole chains.

use amt_trust::{CertificateDer, NameMatch, TrustError, fuzz};
use proptest::prelude::*;

use crate::support::{Ca, Leaf, NOW, data, data_cert, host, rsa_policy};

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
        leaves.push(data_cert(name).to_vec());
    }
    leaves
}

/// Chains under the fuzz target's root (the committed RSA CA) and a foreign one, as the target
/// reads them: the weak intermediate, two CAs certifying each other (with and without the way
/// out to the root), a chain padded with every other certificate, and a foreign chain with the
/// device's own root appended.
fn real_chains() -> Vec<Vec<u8>> {
    let root = Ca::committed_rsa();
    let x = root.intermediate("Cycle CA X");
    let y = x.intermediate("Cycle CA Y");
    // X again, with its own key, certified by Y: X and Y certify each other.
    let x_by_y = y.issue_ca_for("Cycle CA X", x.key());
    let valid = y.issue(&Leaf::sans(&["localhost"]));
    let expired = y.issue(&Leaf::sans(&["localhost"]).expired());
    let cn_only = y.issue(&Leaf::cn("127.0.0.1"));
    let foreign = Ca::root("Other CA");
    let foreign_leaf = foreign.issue(&Leaf::sans(&["localhost"]).expired());
    let weak = [
        data_cert("under-rsa1024-ca-leaf.pem"),
        data_cert("rsa1024-intermediate-ca.pem"),
    ];
    let chains = [
        vec![weak[0].to_vec(), weak[1].to_vec()],
        vec![
            valid.der.to_vec(),
            x_by_y.to_vec(),
            y.der().to_vec(),
            x.der().to_vec(),
        ],
        vec![
            expired.der.to_vec(),
            x_by_y.to_vec(),
            y.der().to_vec(),
            x_by_y.to_vec(),
        ],
        vec![
            cn_only.der.to_vec(),
            y.der().to_vec(),
            x.der().to_vec(),
            root.der().to_vec(),
        ],
        {
            // The way to the root last, behind everything that leads nowhere or in circles.
            let mut padded = vec![valid.der.to_vec()];
            for _ in 0..2 {
                padded.extend([x_by_y.to_vec(), weak[1].to_vec(), foreign.der().to_vec()]);
            }
            padded.extend([y.der().to_vec(), x.der().to_vec(), root.der().to_vec()]);
            padded
        },
        vec![foreign_leaf.der.to_vec(), foreign.der().to_vec()],
    ];
    chains
        .iter()
        .map(|chain| {
            let parts: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
            fuzz::join_chain(&parts)
        })
        .collect()
}

#[test]
fn real_inputs_do_not_panic() {
    for leaf in real_leaves() {
        fuzz::der_chain(&leaf);
    }
    for chain in real_chains() {
        fuzz::der_chain(&chain);
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
fn real_chains_read_back_as_chains() {
    let chains = real_chains();
    let lengths: Vec<usize> = chains
        .iter()
        .map(|chain| fuzz::split_chain(chain).len())
        .collect();
    assert_eq!(lengths, [2, 4, 4, 4, 10, 2]);
    for chain in &chains {
        for certificate in fuzz::split_chain(chain) {
            assert_eq!(certificate.first(), Some(&0x30));
        }
    }
    // The target's root and time: accepted chains among them, so the accepted-name checks run.
    let policy = rsa_policy();
    let verdicts: Vec<Result<NameMatch, TrustError>> = chains
        .iter()
        .zip([
            "localhost",
            "localhost",
            "localhost",
            "127.0.0.1",
            "localhost",
            "localhost",
        ])
        .map(|(chain, name)| {
            let parts: Vec<CertificateDer<'_>> = fuzz::split_chain(chain)
                .into_iter()
                .map(CertificateDer::from)
                .collect();
            policy.verify(&parts, &host(name), NOW)
        })
        .collect();
    assert!(matches!(
        verdicts[0],
        Err(TrustError::WeakKey { bits: 1024 })
    ));
    assert_eq!(verdicts[1], Ok(NameMatch::SubjectAltName));
    // A closed cycle: X and Y certify each other, and the X that the root certified is missing.
    assert!(matches!(verdicts[2], Err(TrustError::RootMismatch { .. })));
    assert_eq!(verdicts[3], Ok(NameMatch::CommonName));
    assert_eq!(verdicts[4], Ok(NameMatch::SubjectAltName));
    assert!(matches!(verdicts[5], Err(TrustError::RootMismatch { .. })));
}

/// The seed names, in the order of [`real_chains`].
const CHAIN_SEEDS: [&str; 6] = [
    "seed-chain-weak-intermediate",
    "seed-chain-cross-signed",
    "seed-chain-closed-cycle",
    "seed-chain-cn-only-with-root",
    "seed-chain-padded-ten",
    "seed-chain-foreign-with-root",
];

#[test]
#[ignore = "writes the chain seeds of fuzz/corpus/trust_der_leaf; run by hand to refresh them"]
fn write_chain_seeds() {
    let corpus = format!(
        "{}/../../fuzz/corpus/trust_der_leaf",
        env!("CARGO_MANIFEST_DIR")
    );
    for (name, chain) in CHAIN_SEEDS.iter().zip(real_chains()) {
        std::fs::write(format!("{corpus}/{name}"), chain).unwrap();
    }
}

#[test]
fn every_truncation_of_real_leaves() {
    for leaf in real_leaves() {
        for end in 0..leaf.len() {
            fuzz::der_chain(&leaf[..end]);
        }
    }
}

#[test]
fn truncations_of_real_chains() {
    // Every 13th length (each verdict costs several signature checks).
    for chain in real_chains() {
        for end in (0..chain.len()).step_by(13) {
            fuzz::der_chain(&chain[..end]);
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
    fn any_bytes_as_a_chain(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        fuzz::der_chain(&data);
    }

    #[test]
    fn mutated_real_leaves(index in any::<prop::sample::Index>(), position in any::<prop::sample::Index>(), value in any::<u8>()) {
        let leaves = real_leaves_cached();
        let mut leaf = index.get(leaves).clone();
        let at = position.index(leaf.len());
        leaf[at] = value;
        fuzz::der_chain(&leaf);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn mutated_real_chains(index in any::<prop::sample::Index>(), position in any::<prop::sample::Index>(), value in any::<u8>()) {
        let chains = real_chains_cached();
        let mut chain = index.get(chains).clone();
        let at = position.index(chain.len());
        chain[at] = value;
        fuzz::der_chain(&chain);
    }
}

fn real_leaves_cached() -> &'static [Vec<u8>] {
    static LEAVES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    LEAVES.get_or_init(real_leaves)
}

fn real_chains_cached() -> &'static [Vec<u8>] {
    static CHAINS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    CHAINS.get_or_init(real_chains)
}
