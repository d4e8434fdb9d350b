//! The policy matrix of issue 5, with rcgen certificates, verified at a fixed time.

use amt_trust::{NameMatch, PresentedName, TrustError};
use der::Decode;
use rcgen::ExtendedKeyUsagePurpose;

use crate::support::{Ca, Leaf, NOW, host, is_root_mismatch};

fn verify(ca: &Ca, leaf: &Leaf, name: &str) -> Result<NameMatch, TrustError> {
    let issued = ca.issue(leaf);
    ca.policy().verify(&issued.chain(), &host(name), NOW)
}

fn is_name_mismatch(result: Result<NameMatch, TrustError>) -> bool {
    matches!(result, Err(TrustError::NameMismatch { .. }))
}

#[test]
fn san_dns_match_and_mismatch() {
    let ca = Ca::root("Provider CA");
    let leaf = Leaf::sans(&["amt.example.com", "ws01.example.com"]);
    assert_eq!(
        verify(&ca, &leaf, "ws01.example.com"),
        Ok(NameMatch::SubjectAltName)
    );
    assert_eq!(
        verify(&ca, &leaf, "amt.example.com"),
        Ok(NameMatch::SubjectAltName)
    );
    assert!(is_name_mismatch(verify(&ca, &leaf, "ws02.example.com")));
    assert!(is_name_mismatch(verify(&ca, &leaf, "example.com")));
    assert!(is_name_mismatch(verify(&ca, &leaf, "amt.example.com.evil")));
}

#[test]
fn san_ipv4_and_ipv6_match_and_mismatch() {
    let ca = Ca::root("Provider CA");
    let leaf = Leaf::sans(&["192.0.2.7", "2001:db8::7"]);
    assert_eq!(
        verify(&ca, &leaf, "192.0.2.7"),
        Ok(NameMatch::SubjectAltName)
    );
    assert_eq!(
        verify(&ca, &leaf, "[2001:db8::7]"),
        Ok(NameMatch::SubjectAltName)
    );
    assert_eq!(
        verify(&ca, &leaf, "2001:DB8:0:0:0:0:0:7"),
        Ok(NameMatch::SubjectAltName)
    );
    assert!(is_name_mismatch(verify(&ca, &leaf, "192.0.2.8")));
    assert!(is_name_mismatch(verify(&ca, &leaf, "2001:db8::8")));
    // An IPv4 SAN does not match its IPv4-mapped IPv6 form, nor a DNS name spelling it.
    assert!(is_name_mismatch(verify(&ca, &leaf, "::ffff:192.0.2.7")));
}

#[test]
fn cn_only_leaf_dns_and_ip() {
    let ca = Ca::root("Provider CA");
    let dns = Leaf::cn("ws01.example.com");
    assert_eq!(
        verify(&ca, &dns, "ws01.example.com"),
        Ok(NameMatch::CommonName)
    );
    assert!(is_name_mismatch(verify(&ca, &dns, "ws02.example.com")));

    let ipv4 = Leaf::cn("192.0.2.7");
    assert_eq!(verify(&ca, &ipv4, "192.0.2.7"), Ok(NameMatch::CommonName));
    assert!(is_name_mismatch(verify(&ca, &ipv4, "192.0.2.70")));

    let ipv6 = Leaf::cn("2001:0db8:0000::0007");
    assert_eq!(verify(&ca, &ipv6, "2001:db8::7"), Ok(NameMatch::CommonName));
    assert!(is_name_mismatch(verify(&ca, &ipv6, "2001:db8::70")));
}

#[test]
fn cn_matches_while_sans_exist() {
    // The product rule: CN or SAN. RFC 6125 would refuse this; we accept it.
    let ca = Ca::root("Provider CA");
    let leaf = Leaf::sans(&["san.example.com", "192.0.2.7"]).with_cn("cn.example.com");
    assert_eq!(
        verify(&ca, &leaf, "cn.example.com"),
        Ok(NameMatch::CommonName)
    );
    assert_eq!(
        verify(&ca, &leaf, "san.example.com"),
        Ok(NameMatch::SubjectAltName)
    );
    let ip_cn = Leaf::sans(&["san.example.com"]).with_cn("192.0.2.9");
    assert_eq!(verify(&ca, &ip_cn, "192.0.2.9"), Ok(NameMatch::CommonName));
}

#[test]
fn wildcards_never_match() {
    let ca = Ca::root("Provider CA");
    let san = Leaf::sans(&["*.example.com"]);
    assert!(is_name_mismatch(verify(&ca, &san, "ws01.example.com")));
    let cn = Leaf::cn("*.example.com");
    assert!(is_name_mismatch(verify(&ca, &cn, "ws01.example.com")));
    let partial = Leaf::sans(&["ws*.example.com"]).with_cn("ws*.example.com");
    assert!(is_name_mismatch(verify(&ca, &partial, "ws01.example.com")));
}

#[test]
fn case_and_trailing_dot_normalisation() {
    let ca = Ca::root("Provider CA");
    let upper_san = Leaf::sans(&["WS01.Example.COM"]);
    assert_eq!(
        verify(&ca, &upper_san, "ws01.example.com"),
        Ok(NameMatch::SubjectAltName)
    );
    assert_eq!(
        verify(&ca, &upper_san, "Ws01.EXAMPLE.com."),
        Ok(NameMatch::SubjectAltName)
    );
    let dotted_san = Leaf::sans(&["ws01.example.com."]);
    assert_eq!(
        verify(&ca, &dotted_san, "WS01.example.com"),
        Ok(NameMatch::SubjectAltName)
    );
    let upper_cn = Leaf::cn("WS01.EXAMPLE.COM.");
    assert_eq!(
        verify(&ca, &upper_cn, "ws01.example.com"),
        Ok(NameMatch::CommonName)
    );
}

#[test]
fn two_cns_are_refused() {
    let ca = Ca::root("Provider CA");
    let leaf = Leaf::cn("ws01.example.com").with_cn("ws02.example.com");
    for name in ["ws01.example.com", "ws02.example.com"] {
        match verify(&ca, &leaf, name) {
            Err(TrustError::NameMismatch { presented, .. }) => assert_eq!(
                presented,
                [
                    PresentedName::CommonName("ws01.example.com".into()),
                    PresentedName::CommonName("ws02.example.com".into()),
                ]
            ),
            other => panic!("{name}: {other:?}"),
        }
    }
    // A SAN still matches beside two CNs.
    let with_san = Leaf::sans(&["ws03.example.com"])
        .with_cn("a.example")
        .with_cn("b.example");
    assert_eq!(
        verify(&ca, &with_san, "ws03.example.com"),
        Ok(NameMatch::SubjectAltName)
    );
}

#[test]
fn name_mismatch_reports_host_and_presented_names() {
    let ca = Ca::root("Provider CA");
    let leaf = Leaf::sans(&["amt.example.com", "192.0.2.7"]).with_cn("IntelAMT-0123456789ab");
    match verify(&ca, &leaf, "WS01.example.com") {
        Err(TrustError::NameMismatch { host, presented }) => {
            assert_eq!(host.to_string(), "ws01.example.com");
            let shown: Vec<String> = presented.iter().map(ToString::to_string).collect();
            assert_eq!(
                shown,
                [
                    "DNS:amt.example.com",
                    "IP:192.0.2.7",
                    "CN=IntelAMT-0123456789ab"
                ]
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn chain_through_an_intermediate() {
    let root = Ca::root("Provider CA");
    let intermediate = root.intermediate("Provider issuing CA");
    let leaf = intermediate.issue(&Leaf::sans(&["ws01.example.com"]));
    let policy = root.policy();
    let ws01 = host("ws01.example.com");

    let chain = vec![leaf.der.clone(), intermediate.der()];
    assert_eq!(
        policy.verify(&chain, &ws01, NOW),
        Ok(NameMatch::SubjectAltName)
    );
    // The device may append the root; it is only one more (unneeded) certificate.
    let with_root = vec![leaf.der.clone(), intermediate.der(), root.der()];
    assert_eq!(
        policy.verify(&with_root, &ws01, NOW),
        Ok(NameMatch::SubjectAltName)
    );
    // Without the intermediate the leaf does not reach the root.
    assert!(is_root_mismatch(&policy.verify(&leaf.chain(), &ws01, NOW)));
    // Pinning the intermediate itself works too: the provider CA need not be self-signed.
    let pinned = intermediate.policy();
    assert_eq!(
        pinned.verify(&leaf.chain(), &ws01, NOW),
        Ok(NameMatch::SubjectAltName)
    );
}

#[test]
fn name_constraints_bind_the_cn_fallback() {
    // webpki applies an issuing CA's name constraints to SANs only, so a CN match under a
    // constrained CA is never taken: the CN would bypass the constraint.
    let root = Ca::root("Provider CA");
    let constrained = root.intermediate_permitting("Corp issuing CA", ".corp.example");
    let policy = root.policy();
    let verify_under = |leaf: &Leaf, name: &str| {
        let issued = constrained.issue(leaf);
        policy.verify(&[issued.der.clone(), constrained.der()], &host(name), NOW)
    };
    assert!(is_name_mismatch(verify_under(
        &Leaf::cn("ws.other.example"),
        "ws.other.example"
    )));
    // Conservatively also a CN inside the permitted subtree.
    assert!(is_name_mismatch(verify_under(
        &Leaf::cn("ws.corp.example"),
        "ws.corp.example"
    )));
    // A SAN inside the subtree is accepted, also beside a CN.
    assert_eq!(
        verify_under(&Leaf::sans(&["ws.corp.example"]), "ws.corp.example"),
        Ok(NameMatch::SubjectAltName)
    );
    assert_eq!(
        verify_under(
            &Leaf::sans(&["ws.corp.example"]).with_cn("ws.other.example"),
            "ws.corp.example"
        ),
        Ok(NameMatch::SubjectAltName)
    );
    // A SAN outside the subtree is webpki's to refuse.
    assert!(matches!(
        verify_under(&Leaf::sans(&["ws.other.example"]), "ws.other.example"),
        Err(TrustError::Rejected { .. })
    ));
    // The same CN-only leaf from an unconstrained intermediate matches by CN.
    let open = root.intermediate("Open issuing CA");
    let leaf = open.issue(&Leaf::cn("ws.other.example"));
    assert_eq!(
        policy.verify(
            &[leaf.der.clone(), open.der()],
            &host("ws.other.example"),
            NOW
        ),
        Ok(NameMatch::CommonName)
    );
    // Pinning the constrained CA itself: the anchor's constraints count too.
    let leaf = constrained.issue(&Leaf::cn("ws.other.example"));
    assert!(is_name_mismatch(constrained.policy().verify(
        &leaf.chain(),
        &host("ws.other.example"),
        NOW
    )));
}

#[test]
fn a_root_sent_by_the_device_is_not_trusted() {
    let ours = Ca::root("Provider CA");
    let theirs = Ca::root("Device's own CA");
    let leaf = theirs.issue(&Leaf::sans(&["ws01.example.com"]));
    let chain = vec![leaf.der.clone(), theirs.der()];
    assert!(is_root_mismatch(&ours.policy().verify(
        &chain,
        &host("ws01.example.com"),
        NOW
    )));
}

#[test]
fn foreign_root_with_right_and_wrong_name() {
    let ours = Ca::root("Provider CA");
    let foreign = Ca::root("Other CA");
    let leaf = foreign.issue(&Leaf::sans(&["ws01.example.com"]));
    let policy = ours.policy();
    assert!(is_root_mismatch(&policy.verify(
        &leaf.chain(),
        &host("ws01.example.com"),
        NOW
    )));
    assert!(is_root_mismatch(&policy.verify(
        &leaf.chain(),
        &host("ws02.example.com"),
        NOW
    )));
}

#[test]
fn root_mismatch_names_the_leafs_issuer_and_the_root() {
    let ours = Ca::root("Provider CA");
    let foreign = Ca::root("Other CA");
    let ws01 = host("ws01.example.com");
    for leaf in [
        Leaf::sans(&["ws01.example.com"]),
        // Refused first as expired, and unreadable to x509-cert: the issuer is still named.
        Leaf::sans(&["ws01.example.com"]).expired().long_serial(),
    ] {
        let issued = foreign.issue(&leaf);
        match ours.policy().verify(&issued.chain(), &ws01, NOW) {
            Err(error @ TrustError::RootMismatch { .. }) => {
                assert_eq!(
                    error,
                    TrustError::RootMismatch {
                        leaf_issuer: Some("CN=Other CA".into()),
                        root: "CN=Provider CA".into(),
                    }
                );
                assert_eq!(
                    error.to_string(),
                    "AMT root certificate does not match Intel provider CA certificate"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn foreign_root_with_the_same_name_is_caught_by_signature() {
    let ours = Ca::root("Provider CA");
    let impostor = Ca::root("Provider CA");
    let policy = ours.policy();
    let ws01 = host("ws01.example.com");
    let good = impostor.issue(&Leaf::sans(&["ws01.example.com"]));
    assert!(is_root_mismatch(&policy.verify(&good.chain(), &ws01, NOW)));
    let expired = impostor.issue(&Leaf::sans(&["ws01.example.com"]).expired());
    assert!(is_root_mismatch(&policy.verify(
        &expired.chain(),
        &ws01,
        NOW
    )));
}

#[test]
fn expired_leaf_from_the_right_root() {
    let ca = Ca::root("Provider CA");
    match verify(
        &ca,
        &Leaf::sans(&["ws01.example.com"]).expired(),
        "ws01.example.com",
    ) {
        Err(error @ TrustError::Expired { not_after, now }) => {
            assert_eq!(now, NOW);
            assert_eq!(not_after.as_secs(), 1_609_459_200); // 2021-01-01
            assert_eq!(
                error.to_string(),
                "the certificate expired at 2021-01-01T00:00:00Z (checked at 2030-01-01T00:00:00Z)"
            );
        }
        other => panic!("{other:?}"),
    }
    // Validity is checked before the name.
    let wrong_name = verify(
        &ca,
        &Leaf::sans(&["ws01.example.com"]).expired(),
        "ws02.example.com",
    );
    assert!(matches!(wrong_name, Err(TrustError::Expired { .. })));
}

#[test]
fn expired_leaf_from_a_foreign_root_is_a_root_mismatch() {
    let ours = Ca::root("Provider CA");
    let foreign = Ca::root("Other CA");
    let leaf = foreign.issue(&Leaf::sans(&["ws01.example.com"]).expired());
    assert!(is_root_mismatch(&ours.policy().verify(
        &leaf.chain(),
        &host("ws01.example.com"),
        NOW
    )));
}

#[test]
fn out_of_date_leaf_the_walk_cannot_read() {
    // webpki reads a 24-octet serial, x509-cert does not, so the signature-only walk can't
    // tell whose leaf it is; asking webpki again inside the validity period can.
    let ours = Ca::root("Provider CA");
    let foreign = Ca::root("Other CA");
    let impostor = Ca::root("Provider CA");
    let ws01 = host("ws01.example.com");
    let policy = ours.policy();
    for leaf in [
        Leaf::sans(&["ws01.example.com"]).expired().long_serial(),
        Leaf::sans(&["ws01.example.com"])
            .not_yet_valid()
            .long_serial(),
    ] {
        let mine = ours.issue(&leaf);
        assert!(
            x509_cert::Certificate::from_der(mine.der.as_ref()).is_err(),
            "x509-cert reads the long serial now; this test needs another unreadable leaf"
        );
        assert!(matches!(
            policy.verify(&mine.chain(), &ws01, NOW),
            Err(TrustError::Expired { .. } | TrustError::NotYetValid { .. })
        ));
        for other in [&foreign, &impostor] {
            let theirs = other.issue(&leaf);
            assert!(matches!(
                policy.verify(&theirs.chain(), &ws01, NOW),
                Err(TrustError::RootMismatch { .. })
            ));
        }
    }
    // Under an intermediate of ours, still ours.
    let intermediate = ours.intermediate("Provider issuing CA");
    let leaf = intermediate.issue(&Leaf::sans(&["ws01.example.com"]).expired().long_serial());
    assert!(matches!(
        policy.verify(&[leaf.der.clone(), intermediate.der()], &ws01, NOW),
        Err(TrustError::Expired { .. })
    ));
}

#[test]
fn not_yet_valid() {
    let ours = Ca::root("Provider CA");
    match verify(
        &ours,
        &Leaf::sans(&["ws01.example.com"]).not_yet_valid(),
        "ws01.example.com",
    ) {
        Err(TrustError::NotYetValid { not_before, now }) => {
            assert_eq!(now, NOW);
            assert_eq!(not_before.as_secs(), 2_208_988_800); // 2040-01-01
        }
        other => panic!("{other:?}"),
    }
    let foreign = Ca::root("Other CA");
    let leaf = foreign.issue(&Leaf::sans(&["ws01.example.com"]).not_yet_valid());
    assert!(is_root_mismatch(&ours.policy().verify(
        &leaf.chain(),
        &host("ws01.example.com"),
        NOW
    )));
}

#[test]
fn expired_intermediate() {
    let root = Ca::root("Provider CA");
    let intermediate = root.intermediate_until("Provider issuing CA", (2025, 1, 1));
    let leaf = intermediate.issue(&Leaf::sans(&["ws01.example.com"]));
    let chain = vec![leaf.der.clone(), intermediate.der()];
    match root.policy().verify(&chain, &host("ws01.example.com"), NOW) {
        Err(TrustError::Expired { not_after, .. }) => {
            assert_eq!(not_after.as_secs(), 1_735_689_600)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn ca_certificate_used_as_leaf() {
    let ours = Ca::root("Provider CA");
    let mut leaf = Leaf::sans(&["ws01.example.com"]);
    leaf.ca = true;
    assert_eq!(
        verify(&ours, &leaf, "ws01.example.com"),
        Err(TrustError::CaCertificateAsLeaf)
    );
    // The provider root itself presented as the leaf.
    assert_eq!(
        ours.policy()
            .verify(&[ours.der()], &host("ws01.example.com"), NOW),
        Err(TrustError::CaCertificateAsLeaf)
    );
    // A foreign CA certificate as leaf is first of all from the wrong CA.
    let foreign = Ca::root("Other CA");
    let foreign_leaf = foreign.issue(&leaf);
    assert!(is_root_mismatch(&ours.policy().verify(
        &foreign_leaf.chain(),
        &host("ws01.example.com"),
        NOW
    )));
}

#[test]
fn eku_client_auth_only() {
    let ours = Ca::root("Provider CA");
    let mut leaf = Leaf::sans(&["ws01.example.com"]);
    leaf.eku = vec![ExtendedKeyUsagePurpose::ClientAuth];
    assert_eq!(
        verify(&ours, &leaf, "ws01.example.com"),
        Err(TrustError::NotForServerAuth)
    );
    // No EKU at all is fine, and serverAuth beside clientAuth too.
    leaf.eku = vec![];
    assert_eq!(
        verify(&ours, &leaf, "ws01.example.com"),
        Ok(NameMatch::SubjectAltName)
    );
    leaf.eku = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    assert_eq!(
        verify(&ours, &leaf, "ws01.example.com"),
        Ok(NameMatch::SubjectAltName)
    );
    // From a foreign CA, the wrong root wins.
    leaf.eku = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let foreign = Ca::root("Other CA").issue(&leaf);
    assert!(is_root_mismatch(&ours.policy().verify(
        &foreign.chain(),
        &host("ws01.example.com"),
        NOW
    )));
}

#[test]
fn empty_and_garbage_chains() {
    let ca = Ca::root("Provider CA");
    let policy = ca.policy();
    let ws01 = host("ws01.example.com");
    assert_eq!(
        policy.verify(&[], &ws01, NOW),
        Err(TrustError::NoCertificate)
    );
    let garbage = rustls_pki_types::CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
    assert!(matches!(
        policy.verify(&[garbage], &ws01, NOW),
        Err(TrustError::MalformedCertificate { .. })
    ));
    // Garbage intermediates are ignored, as they lead nowhere.
    let leaf = ca.issue(&Leaf::sans(&["ws01.example.com"]));
    let junk = rustls_pki_types::CertificateDer::from(b"junk".to_vec());
    assert_eq!(
        policy.verify(&[leaf.der.clone(), junk], &ws01, NOW),
        Ok(NameMatch::SubjectAltName)
    );
}

#[test]
fn verify_parts_is_verify() {
    let root = Ca::root("Provider CA");
    let intermediate = root.intermediate("Issuing CA");
    let leaf = intermediate.issue(&Leaf::sans(&["ws01.example.com"]));
    let policy = root.policy();
    let ws01 = host("ws01.example.com");
    assert_eq!(
        policy.verify_parts(&leaf.der, &[intermediate.der()], &ws01, NOW),
        policy.verify(&[leaf.der.clone(), intermediate.der()], &ws01, NOW)
    );
}
