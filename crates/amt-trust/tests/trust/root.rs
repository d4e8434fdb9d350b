//! Loading the provider root from PEM.

use amt_trust::{ProviderRoot, TrustError};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

use crate::support::{Ca, FakeRsaKey, data};

fn load(pem: &str) -> Result<ProviderRoot, TrustError> {
    ProviderRoot::from_pem(pem)
}

#[test]
fn one_ca_certificate_loads_with_subject_and_fingerprint() {
    let root = ProviderRoot::from_pem(data("rsa2048-ca.pem")).unwrap();
    assert_eq!(
        root.subject(),
        "CN=amt-trust test RSA-2048 root CA,O=amt-manager tests"
    );
    // As printed by `openssl x509 -in rsa2048-ca.pem -noout -fingerprint -sha256`.
    assert_eq!(
        root.sha256_fingerprint().to_string(),
        "6F:2F:E9:07:12:97:4F:C0:3D:95:C5:A6:7E:75:40:16:AE:74:DB:25:24:B8:52:D6:48:46:A6:B9:D6:CC:A5:77"
    );
    let debug = format!("{root:?}");
    assert!(debug.contains("amt-trust test RSA-2048 root CA"), "{debug}");
}

#[test]
fn der_and_pem_loads_agree() {
    let ca = Ca::root("Provider CA");
    let from_pem = load(ca.pem()).unwrap();
    let from_der = ProviderRoot::from_der(ca.der()).unwrap();
    assert_eq!(from_pem.der(), &ca.der());
    assert_eq!(from_pem.sha256_fingerprint(), from_der.sha256_fingerprint());
    assert_eq!(from_pem.subject(), "CN=Provider CA");
}

#[test]
fn text_around_the_block_is_ignored() {
    let ca = Ca::root("Provider CA");
    let text = format!(
        "subject=CN = Provider CA\r\nissuer=CN = Provider CA\r\n{}\r\n\r\n",
        ca.pem().replace('\n', "\r\n")
    );
    assert!(load(&text).is_ok());
    assert!(ProviderRoot::from_pem(format!("  {}  ", ca.pem()).as_bytes()).is_ok());
}

#[test]
fn none() {
    assert_eq!(load("").unwrap_err(), TrustError::RootNotPem);
    assert_eq!(load("   \n").unwrap_err(), TrustError::RootNotPem);
    let public_key_only = KeyPair::generate().unwrap().public_key_pem();
    assert_eq!(load(&public_key_only).unwrap_err(), TrustError::RootMissing);
}

#[test]
fn several() {
    let a = Ca::root("A");
    let b = Ca::root("B");
    let two = format!("{}{}", a.pem(), b.pem());
    assert_eq!(
        load(&two).unwrap_err(),
        TrustError::RootSeveral { count: 2 }
    );
    let same_twice = format!("{}\n{}", a.pem(), a.pem());
    assert_eq!(
        load(&same_twice).unwrap_err(),
        TrustError::RootSeveral { count: 2 }
    );
    let intermediate = a.intermediate("A1");
    let bundle = format!("{}{}", intermediate.pem(), a.pem());
    assert_eq!(
        load(&bundle).unwrap_err(),
        TrustError::RootSeveral { count: 2 }
    );
}

#[test]
fn a_private_key() {
    let ca = Ca::root("Provider CA");
    let key = KeyPair::generate().unwrap().serialize_pem();
    for text in [
        key.clone(),
        format!("{}{key}", ca.pem()),
        format!("{key}{}", ca.pem()),
        String::from_utf8(data("rsa2048-leaf.TEST-ONLY-KEY.pem")).unwrap(),
        format!(
            "{}-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
            ca.pem()
        ),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
            .to_owned(),
    ] {
        let error = load(&text).unwrap_err();
        assert_eq!(error, TrustError::RootHasPrivateKey);
        // The key never reaches the message.
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("MII") && !shown.contains("b3Bl"), "{shown}");
    }
}

#[test]
fn garbage() {
    // No PEM at all: random text, DER bytes, a base64 blob without armour.
    assert_eq!(load("hello, world").unwrap_err(), TrustError::RootNotPem);
    let ca = Ca::root("Provider CA");
    assert_eq!(
        ProviderRoot::from_pem(ca.der().as_ref()).unwrap_err(),
        TrustError::RootNotPem
    );
    assert_eq!(
        ProviderRoot::from_pem([0xff, 0xfe, 0x00]).unwrap_err(),
        TrustError::RootNotPem
    );
    // Broken armour or base64.
    let bad_base64 = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        load(bad_base64),
        Err(TrustError::RootMalformedPem { .. })
    ));
    let no_end = "-----BEGIN CERTIFICATE-----\nMIIB\n";
    match load(no_end) {
        Err(TrustError::RootMalformedPem { detail }) => assert!(detail.contains("END"), "{detail}"),
        other => panic!("{other:?}"),
    }
    let truncated = ca.pem().lines().take(3).collect::<Vec<_>>().join("\n");
    assert!(matches!(
        load(&truncated),
        Err(TrustError::RootMalformedPem { .. })
    ));
    // Good armour, bad certificate.
    let junk = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    match load(junk) {
        Err(error @ TrustError::RootUnparsable { .. }) => {
            assert!(
                error
                    .to_string()
                    .starts_with("the provider CA certificate could not be parsed")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_leaf() {
    match ProviderRoot::from_pem(data("rsa2048-leaf.pem")) {
        Err(error @ TrustError::RootNotCa { .. }) => assert_eq!(
            error.to_string(),
            "the provider certificate (CN=localhost) is not a CA certificate"
        ),
        other => panic!("{other:?}"),
    }
    // A leaf without any basicConstraints.
    let ca = Ca::root("Provider CA");
    let leaf = ca.issue(&crate::support::Leaf::sans(&["ws01.example.com"]));
    assert!(matches!(
        ProviderRoot::from_der(leaf.der),
        Err(TrustError::RootNotCa { .. })
    ));
}

#[test]
fn a_ca_flagged_certificate_that_cannot_sign_certificates() {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params
        .distinguished_name
        .push(DnType::CommonName, "Not really a CA");
    let cert = params.self_signed(&key).unwrap();
    assert!(matches!(
        load(&cert.pem()),
        Err(TrustError::RootNotCa { .. })
    ));
}

#[test]
fn a_weak_rsa_key() {
    let issuer = Ca::root("Some CA");
    for bits in [1024, 2047] {
        let root = issuer.issue_ca_for("Weak CA", &FakeRsaKey::with_bits(bits));
        match ProviderRoot::from_der(root) {
            Err(error @ TrustError::RootWeakKey { .. }) => {
                assert_eq!(error, TrustError::RootWeakKey { bits });
                assert_eq!(
                    error.to_string(),
                    format!(
                        "the provider CA key is RSA with {bits} bits; at least 2048 are required"
                    )
                );
            }
            other => panic!("{bits}: {other:?}"),
        }
    }
}

#[test]
fn rsa_keys_from_2048_to_8192_bits_load() {
    let issuer = Ca::root("Some CA");
    for bits in [2048, 4096, 8192] {
        let root = issuer.issue_ca_for("RSA CA", &FakeRsaKey::with_bits(bits));
        assert!(ProviderRoot::from_der(root).is_ok(), "{bits}");
    }
}

#[test]
fn ecdsa_p384_and_ed25519_roots_load() {
    for algorithm in [&rcgen::PKCS_ECDSA_P384_SHA384, &rcgen::PKCS_ED25519] {
        let key = KeyPair::generate_for(algorithm).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "CA");
        let cert = params.self_signed(&key).unwrap();
        assert!(load(&cert.pem()).is_ok(), "{algorithm:?}");
    }
}

#[test]
fn a_key_nothing_can_be_verified_with() {
    let issuer = Ca::root("Some CA");
    let huge = issuer.issue_ca_for("Huge RSA CA", &FakeRsaKey::with_bits(8193));
    let mut cases = vec![(
        ProviderRoot::from_der(huge),
        "RSA with 8193 bits".to_owned(),
    )];
    for (file, key) in [("p521-ca.pem", "ECDSA P-521"), ("dsa-ca.pem", "DSA")] {
        cases.push((ProviderRoot::from_pem(data(file)), key.to_owned()));
    }
    for (result, key) in cases {
        match result {
            Err(error @ TrustError::RootUnusableKey { .. }) => {
                assert_eq!(error, TrustError::RootUnusableKey { key: key.clone() });
                assert_eq!(
                    error.to_string(),
                    format!(
                        "the provider CA key ({key}) cannot verify certificates; it must be RSA of \
                         2048 to 8192 bits, ECDSA P-256 or P-384, or Ed25519"
                    )
                );
            }
            other => panic!("{key}: {other:?}"),
        }
    }
}
