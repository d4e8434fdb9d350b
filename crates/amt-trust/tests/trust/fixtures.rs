//! The committed RSA fixtures under tests/data, which later issues reuse for the legacy
//! OpenSSL transport.

use amt_trust::{NameMatch, TrustError};
use der::{Decode, Encode};

use crate::support::{Ca, Leaf, NOW, data_cert, host, is_root_mismatch, rsa_policy};

#[test]
fn rsa2048_leaf_is_trusted_for_its_three_names() {
    let policy = rsa_policy();
    let chain = [data_cert("rsa2048-leaf.pem")];
    for name in ["localhost", "127.0.0.1", "::1", "[::1]", "LOCALHOST."] {
        assert_eq!(
            policy.verify(&chain, &host(name), NOW),
            Ok(NameMatch::SubjectAltName),
            "{name}"
        );
    }
    assert!(matches!(
        policy.verify(&chain, &host("127.0.0.2"), NOW),
        Err(TrustError::NameMismatch { .. })
    ));
}

#[test]
fn rsa2048_leaf_is_valid_for_a_century() {
    let policy = rsa_policy();
    let chain = [data_cert("rsa2048-leaf.pem")];
    let year_2120 =
        rustls_pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(4_733_510_400));
    assert!(policy.verify(&chain, &host("localhost"), year_2120).is_ok());
}

#[test]
fn rsa1024_leaf_is_a_weak_key() {
    let policy = rsa_policy();
    let chain = [data_cert("rsa1024-leaf.pem")];
    match policy.verify(&chain, &host("localhost"), NOW) {
        Err(error @ TrustError::WeakKey { bits: 1024 }) => assert_eq!(
            error.to_string(),
            "the certificate's RSA key has 1024 bits; at least 2048 are required"
        ),
        other => panic!("{other:?}"),
    }
    // The name is checked before the key size.
    assert!(matches!(
        policy.verify(&chain, &host("other.example"), NOW),
        Err(TrustError::NameMismatch { .. })
    ));
}

#[test]
fn sha1_signed_leaf_is_unsupported() {
    let policy = rsa_policy();
    let chain = [data_cert("sha1-leaf.pem")];
    match policy.verify(&chain, &host("localhost"), NOW) {
        Err(TrustError::UnsupportedSignature { algorithm }) => {
            assert_eq!(algorithm, "sha1WithRSAEncryption, 1.2.840.113549.1.1.5");
        }
        other => panic!("{other:?}"),
    }
    // Signed with SHA-1 by another CA: still the wrong root first.
    let other = Ca::root("Other CA").policy();
    assert!(is_root_mismatch(&other.verify(
        &chain,
        &host("localhost"),
        NOW
    )));
}

#[test]
fn two_cn_leaf_never_matches() {
    let policy = rsa_policy();
    let chain = [data_cert("two-cn-leaf.pem")];
    for name in ["localhost", "other.localhost"] {
        assert!(
            matches!(
                policy.verify(&chain, &host(name), NOW),
                Err(TrustError::NameMismatch { .. })
            ),
            "{name}"
        );
    }
}

#[test]
fn rsa_leaf_against_an_ecdsa_root_of_another_name() {
    let other = Ca::root("Provider CA").policy();
    let chain = [data_cert("rsa2048-leaf.pem")];
    assert!(is_root_mismatch(&other.verify(
        &chain,
        &host("localhost"),
        NOW
    )));
}

#[test]
fn rsa_leaf_against_an_ecdsa_root_of_the_same_name() {
    // The leaf's issuer name is the pinned root's subject, but an ECDSA key cannot have made an
    // RSA signature: another CA, not an unsupported algorithm.
    let impostor = Ca::impostor_of_rsa_ca();
    assert_eq!(
        impostor.policy().root().subject(),
        rsa_policy().root().subject()
    );
    let chain = [data_cert("rsa2048-leaf.pem")];
    assert!(matches!(
        impostor.policy().verify(&chain, &host("localhost"), NOW),
        Err(TrustError::RootMismatch { .. })
    ));
}

#[test]
fn ecdsa_leaf_from_a_same_name_ecdsa_ca_against_the_rsa_root() {
    let impostor = Ca::impostor_of_rsa_ca();
    let leaf = impostor.issue(&Leaf::sans(&["localhost"]));
    for chain in [leaf.chain(), vec![leaf.der.clone(), impostor.der()]] {
        assert!(matches!(
            rsa_policy().verify(&chain, &host("localhost"), NOW),
            Err(TrustError::RootMismatch { .. })
        ));
    }
    // The same leaf from the real RSA CA is trusted, so only the signer differs.
    let genuine = Ca::committed_rsa().issue(&Leaf::sans(&["localhost"]));
    assert_eq!(
        rsa_policy().verify(&genuine.chain(), &host("localhost"), NOW),
        Ok(NameMatch::SubjectAltName)
    );
}

#[test]
fn weak_rsa1024_intermediate_under_the_right_root_is_a_weak_key() {
    let policy = rsa_policy();
    let chain = [
        data_cert("under-rsa1024-ca-leaf.pem"),
        data_cert("rsa1024-intermediate-ca.pem"),
    ];
    match policy.verify(&chain, &host("localhost"), NOW) {
        Err(error @ TrustError::WeakKey { bits: 1024 }) => assert_eq!(
            error.to_string(),
            "the certificate's RSA key has 1024 bits; at least 2048 are required"
        ),
        other => panic!("{other:?}"),
    }
    // Without the intermediate, nothing leads to the root.
    assert!(matches!(
        policy.verify(&chain[..1], &host("localhost"), NOW),
        Err(TrustError::RootMismatch { .. })
    ));
}

#[test]
fn weak_intermediate_of_another_ca_is_a_root_mismatch() {
    // The same weak key and subject, but certified by a foreign CA: nothing of ours.
    let weak = data_cert("rsa1024-intermediate-ca.pem");
    let parsed = x509_cert::Certificate::from_der(weak.as_ref()).unwrap();
    let spki = parsed
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    let key = rcgen::SubjectPublicKeyInfo::from_der(&spki).unwrap();
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(rcgen::DnType::OrganizationName, "amt-manager tests");
    subject.push(
        rcgen::DnType::CommonName,
        "amt-trust test RSA-1024 intermediate CA",
    );
    let foreign = Ca::root("Other CA").issue_ca_named(subject, &key);
    assert_eq!(
        x509_cert::Certificate::from_der(foreign.as_ref())
            .unwrap()
            .tbs_certificate()
            .subject(),
        parsed.tbs_certificate().subject()
    );
    let chain = [data_cert("under-rsa1024-ca-leaf.pem"), foreign];
    assert!(matches!(
        rsa_policy().verify(&chain, &host("localhost"), NOW),
        Err(TrustError::RootMismatch { .. })
    ));
}
