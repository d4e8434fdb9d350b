//! TLS outcomes: the trust policy's verdicts, legacy firmware, mutual TLS, resumption.

use std::sync::Arc;

use amt_client::{Error, Session};
use amt_sim::{LeafIssuer, LeafSpec, SimDevice, Validity};
use amt_trust::{ClientTlsOptions, ProviderRoot, TrustError, TrustPolicy};

use crate::support::{
    PASSWORD, ca, config_for, device_config, mutual_tls_server, refusing_tls_server, tls,
};

async fn verdict(leaf: LeafSpec, host: &str) -> (Result<(), Error>, SimDevice) {
    let mut config = device_config();
    config.leaf = leaf;
    let ca = ca();
    let device = SimDevice::start(config, &ca).await.unwrap();
    let session = Session::new(config_for(
        device.addr(),
        host,
        tls(ca.cert_pem()),
        PASSWORD,
    ));
    let mut sends = 0;
    let result = session
        .request_power_state_change(8, &mut || sends += 1)
        .await
        .map(drop);
    if result.is_err() {
        assert_eq!(sends, 0, "nothing is sent over an untrusted connection");
    }
    (result, device)
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_a_root_mismatch() {
    let leaf = LeafSpec {
        issuer: LeafIssuer::ForeignCa,
        ..LeafSpec::default()
    };
    let (result, device) = verdict(leaf, "127.0.0.1").await;
    let error = result.unwrap_err();
    assert!(matches!(
        error,
        Error::Trust(TrustError::RootMismatch { .. })
    ));
    assert!(!error.may_have_reached_device());
    assert_eq!(device.counters().requests, 0);
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_name_mismatch() {
    let (result, _device) = verdict(LeafSpec::names(["ws99.example.com"]), "127.0.0.1").await;
    assert!(
        matches!(result, Err(Error::Trust(TrustError::NameMismatch { .. }))),
        "{result:?}"
    );
}

#[tokio::test]
async fn an_expired_certificate_is_reported_as_expired() {
    let leaf = LeafSpec {
        validity: Validity::Expired,
        ..LeafSpec::default()
    };
    let (result, _device) = verdict(leaf, "127.0.0.1").await;
    assert!(
        matches!(result, Err(Error::Trust(TrustError::Expired { .. }))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_dns_name_is_resolved_and_checked_against_the_certificate() {
    // The default leaf names localhost; the CN-only one names it in the subject alone.
    let (result, _device) = verdict(LeafSpec::default(), "localhost").await;
    result.unwrap();
    let cn_only = LeafSpec {
        names: vec!["localhost".into()],
        cn_only: true,
        ..LeafSpec::default()
    };
    let (result, _device) = verdict(cn_only, "localhost").await;
    result.unwrap();
}

#[tokio::test]
async fn a_handshake_failure_alert_suggests_legacy_tls() {
    // A TLS 1.2 fatal handshake_failure alert, as an old stack sends when it shares no suite.
    let addr = refusing_tls_server(vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 40]).await;
    let session = Session::new(config_for(
        addr,
        "127.0.0.1",
        tls(ca().cert_pem()),
        PASSWORD,
    ));
    let error = session.power_status().await.unwrap_err();
    assert!(
        matches!(error, Error::LegacyTlsRequired { .. }),
        "{error:?}"
    );
    assert!(!error.may_have_reached_device());
}

#[tokio::test]
async fn a_protocol_version_alert_suggests_legacy_tls() {
    let addr = refusing_tls_server(vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 70]).await;
    let session = Session::new(config_for(
        addr,
        "127.0.0.1",
        tls(ca().cert_pem()),
        PASSWORD,
    ));
    let error = session.power_status().await.unwrap_err();
    assert!(
        matches!(error, Error::LegacyTlsRequired { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_tls_1_1_server_hello_suggests_legacy_tls() {
    // ServerHello choosing TLS 1.1 and TLS_RSA_WITH_AES_128_CBC_SHA, as AMT 11 answers.
    let mut hello = vec![0x03, 0x02];
    hello.extend_from_slice(&[0x5a; 32]); // random
    hello.push(0); // no session id
    hello.extend_from_slice(&[0x00, 0x2f, 0x00]); // suite, null compression
    let mut handshake = vec![0x02, 0x00, 0x00, u8::try_from(hello.len()).unwrap()];
    handshake.extend_from_slice(&hello);
    let mut record = vec![
        0x16,
        0x03,
        0x02,
        0x00,
        u8::try_from(handshake.len()).unwrap(),
    ];
    record.extend_from_slice(&handshake);
    let addr = refusing_tls_server(record).await;
    let session = Session::new(config_for(
        addr,
        "127.0.0.1",
        tls(ca().cert_pem()),
        PASSWORD,
    ));
    let error = session.power_status().await.unwrap_err();
    assert!(
        matches!(error, Error::LegacyTlsRequired { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_peer_that_does_not_speak_tls_is_a_tls_error() {
    let addr = refusing_tls_server(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()).await;
    let session = Session::new(config_for(
        addr,
        "127.0.0.1",
        tls(ca().cert_pem()),
        PASSWORD,
    ));
    let error = session.power_status().await.unwrap_err();
    assert!(matches!(error, Error::Tls { .. }), "{error:?}");
}

#[tokio::test]
async fn a_server_demanding_a_client_certificate_is_reported_under_tls_1_3() {
    let (addr, ca_pem) = mutual_tls_server(&[&rustls::version::TLS13], false).await;
    let session = Session::new(config_for(addr, "127.0.0.1", tls(&ca_pem), PASSWORD));
    let mut sends = 0;
    let error = session
        .request_power_state_change(8, &mut || sends += 1)
        .await
        .unwrap_err();
    assert_eq!(error, Error::ClientCertificateRequired);
    assert!(!error.may_have_reached_device());
}

#[tokio::test]
async fn a_server_demanding_a_client_certificate_is_reported_under_tls_1_2() {
    let (addr, ca_pem) = mutual_tls_server(&[&rustls::version::TLS12], false).await;
    let session = Session::new(config_for(addr, "127.0.0.1", tls(&ca_pem), PASSWORD));
    assert_eq!(
        session.power_status().await.unwrap_err(),
        Error::ClientCertificateRequired
    );
}

#[tokio::test]
async fn a_certificate_request_is_noticed_whatever_alert_follows() {
    // The server answers the missing certificate with handshake_failure, which alone would
    // suggest legacy TLS; the configuration from `tls_config` saw the CertificateRequest.
    let (addr, ca_pem) = mutual_tls_server(&[&rustls::version::TLS12], true).await;
    let session = Session::new(config_for(addr, "127.0.0.1", tls(&ca_pem), PASSWORD));
    assert_eq!(
        session.power_status().await.unwrap_err(),
        Error::ClientCertificateRequired
    );

    // amt-trust's plain configuration cannot tell: the alert is all it has.
    let plain = amt_trust::client_config(
        Arc::new(TrustPolicy::new(ProviderRoot::from_pem(&ca_pem).unwrap())),
        &ClientTlsOptions::new(),
    );
    let session = Session::new(config_for(addr, "127.0.0.1", plain, PASSWORD));
    assert!(matches!(
        session.power_status().await.unwrap_err(),
        Error::LegacyTlsRequired { .. }
    ));
}

#[tokio::test]
async fn sessions_sharing_a_configuration_resume_each_others_tls_sessions() {
    let ca = ca();
    let device = SimDevice::start(device_config(), &ca).await.unwrap();
    let shared = tls(ca.cert_pem());
    let first = Session::new(config_for(
        device.addr(),
        "127.0.0.1",
        Arc::clone(&shared),
        PASSWORD,
    ));
    first.power_status().await.unwrap();
    drop(first);
    // A new session for the same workstation (the manager rebuilds them) resumes at once.
    let second = Session::new(config_for(device.addr(), "127.0.0.1", shared, PASSWORD));
    second.power_status().await.unwrap();
    let counters = device.counters();
    assert_eq!(counters.tls_full_handshakes, 1, "{counters}");
    assert_eq!(counters.tls_resumed_handshakes, 3, "{counters}");
}
