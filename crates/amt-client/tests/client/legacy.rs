//! The legacy transport (feature `legacy-tls`) against simulated Intel AMT 11 and 12 devices
//! and hand-made OpenSSL peers: calls work, the trust policy gives the modern transport's
//! verdicts before any byte is written, and no transport ever falls back to the other.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use amt_client::{Error, LegacyTlsConfig, Session, TlsMode};
use amt_power::{PowerState, ReturnValue};
use amt_sim::{DeviceConfig, LeafIssuer, LeafSpec, SimClock, SimDevice, TlsProfile, Validity};
use amt_trust::{ProviderRoot, TrustError, TrustPolicy, UnixTime};
use openssl::pkey::PKey;
use openssl::ssl::{Ssl, SslContext, SslContextBuilder, SslMethod, SslVerifyMode, SslVersion};
use openssl::x509::X509;
use rustls::time_provider::TimeProvider;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_openssl::SslStream;

use crate::support::{PASSWORD, any_port, ca, config_for, delta, device_config, tls};

const LEGACY_PROFILES: [TlsProfile; 2] = [TlsProfile::LegacyAmt11, TlsProfile::LegacyAmt12];

fn legacy_tls(ca_pem: &str) -> TlsMode {
    let policy = TrustPolicy::new(ProviderRoot::from_pem(ca_pem).unwrap());
    TlsMode::Legacy(LegacyTlsConfig::new(Arc::new(policy)).unwrap())
}

/// A session over the legacy transport, trusting `ca_pem`.
fn legacy_session(addr: SocketAddr, host: &str, ca_pem: &str) -> Session {
    let mut config = config_for(addr, host, tls(ca_pem), PASSWORD);
    config.tls_mode = legacy_tls(ca_pem);
    Session::new(config)
}

fn modern_session(addr: SocketAddr, host: &str, ca_pem: &str) -> Session {
    Session::new(config_for(addr, host, tls(ca_pem), PASSWORD))
}

fn legacy_device_config(profile: TlsProfile) -> DeviceConfig {
    let mut config = device_config();
    config.tls = profile;
    config.amt_version = match profile {
        TlsProfile::LegacyAmt11 => "11.8.55".parse().unwrap(),
        _ => "12.0.45".parse().unwrap(),
    };
    config
}

#[tokio::test]
async fn legacy_sessions_read_status_and_change_power_on_amt_11_and_12() {
    for profile in LEGACY_PROFILES {
        let mut config = legacy_device_config(profile);
        config.clock = SimClock::manual();
        let ca = ca();
        let device = SimDevice::start(config, &ca).await.unwrap();
        let session = legacy_session(device.addr(), "127.0.0.1", ca.cert_pem());

        session.validate_credentials().await.unwrap();
        let status = session.power_status().await.unwrap();
        assert_eq!(status.power_state, PowerState::On, "{profile:?}");
        assert!(status.available.contains(&10), "{profile:?}");
        let expected_major = if profile == TlsProfile::LegacyAmt11 {
            11
        } else {
            12
        };
        assert_eq!(session.amt_version().await.unwrap().major(), expected_major);

        let mut sends = 0;
        let (value, counted) = delta(
            &device,
            session.request_power_state_change(8, &mut || sends += 1),
        )
        .await;
        assert_eq!(value.unwrap(), ReturnValue::Completed, "{profile:?}");
        assert_eq!(sends, 1);
        assert_eq!(counted.invokes_of(8), 1);
        assert_eq!(
            counted.requests, 1,
            "one request per call, as on the modern path"
        );
        device.clock().advance(Duration::from_secs(3));
        assert_eq!(
            session.power_status().await.unwrap().power_state,
            PowerState::OffSoft
        );
        let counters = device.counters();
        assert_eq!(counters.tls_failed_handshakes, 0, "{profile:?}");
        assert!(counters.tls_full_handshakes >= 1);
    }
}

#[tokio::test]
async fn a_dns_name_is_checked_against_the_certificate_on_the_legacy_path_too() {
    let ca = ca();
    let device = SimDevice::start(legacy_device_config(TlsProfile::LegacyAmt12), &ca)
        .await
        .unwrap();
    let session = legacy_session(device.addr(), "localhost", ca.cert_pem());
    session.power_status().await.unwrap();

    let mut config = legacy_device_config(TlsProfile::LegacyAmt11);
    config.leaf = LeafSpec {
        names: vec!["localhost".into()],
        cn_only: true,
        ..LeafSpec::default()
    };
    let cn_only = SimDevice::start(config, &ca).await.unwrap();
    legacy_session(cn_only.addr(), "localhost", ca.cert_pem())
        .power_status()
        .await
        .unwrap();
}

/// The error a session meets with `leaf` on a device of `profile`, with its device.
async fn verdict(profile: TlsProfile, leaf: &LeafSpec) -> (Error, SimDevice) {
    let mut config = device_config();
    config.tls = profile;
    config.leaf = leaf.clone();
    let ca = ca();
    let device = SimDevice::start(config, &ca).await.unwrap();
    let session = if profile.is_legacy() {
        legacy_session(device.addr(), "127.0.0.1", ca.cert_pem())
    } else {
        modern_session(device.addr(), "127.0.0.1", ca.cert_pem())
    };
    let mut sends = 0;
    let error = session
        .request_power_state_change(8, &mut || sends += 1)
        .await
        .unwrap_err();
    assert_eq!(sends, 0, "nothing is sent over an untrusted connection");
    assert!(!error.may_have_reached_device());
    (error, device)
}

#[tokio::test]
async fn trust_verdicts_are_the_modern_transports_and_come_before_any_request() {
    let cases = [
        LeafSpec::names(["ws99.example.com"]),
        LeafSpec {
            issuer: LeafIssuer::ForeignCa,
            ..LeafSpec::default()
        },
        LeafSpec {
            validity: Validity::Expired,
            ..LeafSpec::default()
        },
        LeafSpec {
            validity: Validity::Expired,
            issuer: LeafIssuer::ForeignCa,
            ..LeafSpec::default()
        },
    ];
    for leaf in &cases {
        let (modern, _device) = verdict(TlsProfile::Modern, leaf).await;
        let Error::Trust(modern) = modern else {
            panic!("the modern transport refuses {leaf:?} with a trust error, not {modern:?}");
        };
        for profile in LEGACY_PROFILES {
            let (legacy, device) = verdict(profile, leaf).await;
            let Error::Trust(legacy) = legacy else {
                panic!("{profile:?} refuses {leaf:?} with a trust error, not {legacy:?}");
            };
            match (&modern, &legacy) {
                // The times differ by the test's duration; the variant is what counts.
                (TrustError::Expired { .. }, TrustError::Expired { .. }) => {}
                _ => assert_eq!(modern, legacy, "{profile:?} {leaf:?}"),
            }
            let counters = device.counters();
            assert_eq!(
                counters.tls_full_handshakes, 1,
                "the handshake itself succeeds"
            );
            assert_eq!(counters.requests, 0, "no HTTP request reached the device");
        }
    }
}

#[tokio::test]
async fn trust_verdicts_name_the_rows_of_the_error_table() {
    let (error, _) = verdict(
        TlsProfile::LegacyAmt11,
        &LeafSpec::names(["ws99.example.com"]),
    )
    .await;
    assert!(
        matches!(error, Error::Trust(TrustError::NameMismatch { .. })),
        "{error:?}"
    );
    let foreign = LeafSpec {
        issuer: LeafIssuer::ForeignCa,
        ..LeafSpec::default()
    };
    let (error, _) = verdict(TlsProfile::LegacyAmt12, &foreign).await;
    assert!(matches!(
        error,
        Error::Trust(TrustError::RootMismatch { .. })
    ));
    let expired = LeafSpec {
        validity: Validity::Expired,
        ..LeafSpec::default()
    };
    let (error, _) = verdict(TlsProfile::LegacyAmt11, &expired).await;
    assert!(
        matches!(error, Error::Trust(TrustError::Expired { .. })),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_modern_session_meets_a_legacy_device_with_the_legacy_hint_and_no_fallback() {
    for profile in LEGACY_PROFILES {
        let ca = ca();
        let device = SimDevice::start(legacy_device_config(profile), &ca)
            .await
            .unwrap();
        let session = modern_session(device.addr(), "127.0.0.1", ca.cert_pem());
        let error = session.power_status().await.unwrap_err();
        assert!(
            matches!(error, Error::LegacyTlsRequired { .. }),
            "{profile:?}: {error:?}"
        );
        assert!(error.to_string().contains("legacy TLS switch"), "{error}");
        assert!(!error.may_have_reached_device());
        // One connection, refused; no second attempt with another transport.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let counters = device.counters();
        assert_eq!(counters.tcp_connections, 1, "{profile:?}");
        assert_eq!(counters.tls_full_handshakes, 0, "{profile:?}");
        assert_eq!(counters.tls_failed_handshakes, 1, "{profile:?}");
        assert_eq!(counters.requests, 0);
    }
}

#[tokio::test]
async fn a_legacy_session_meets_a_modern_ecdsa_device_with_a_tls_error_and_no_fallback() {
    let ca = ca();
    let device = SimDevice::start(device_config(), &ca).await.unwrap();
    let session = legacy_session(device.addr(), "127.0.0.1", ca.cert_pem());
    let error = session.power_status().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Tls {
                request_sent: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("OpenSSL"), "{error}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let counters = device.counters();
    assert_eq!(counters.tcp_connections, 1);
    assert_eq!(counters.requests, 0);
}

#[tokio::test]
async fn a_legacy_device_demanding_a_client_certificate_says_so() {
    for profile in LEGACY_PROFILES {
        let ca = ca();
        let mut config = legacy_device_config(profile);
        config.require_client_certificate = true;
        let device = SimDevice::start(config, &ca).await.unwrap();
        let mut sends = 0;
        let error = legacy_session(device.addr(), "127.0.0.1", ca.cert_pem())
            .request_power_state_change(8, &mut || sends += 1)
            .await
            .unwrap_err();
        assert_eq!(error, Error::ClientCertificateRequired, "{profile:?}");
        assert!(!error.may_have_reached_device());
        assert_eq!(sends, 0);
        assert_eq!(device.counters().requests, 0);
    }
}

// ----- hand-made OpenSSL peers with the committed RSA fixtures of amt-trust -----------------

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../amt-trust/tests/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A TLS 1.1 server (RSA key exchange) with a committed leaf; it counts the application bytes
/// it receives, so a test can tell whether anything was written after the handshake, and
/// answers anything with HTTP 503.
async fn fixture_server(leaf: &str, key: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    fixture_server_asking(leaf, key, false).await
}

/// [`fixture_server`]; with `ask_for_certificate`, its handshake asks for a client certificate
/// (a CertificateRequest) but goes on without one.
async fn fixture_server_asking(
    leaf: &str,
    key: &str,
    ask_for_certificate: bool,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let mut builder = SslContextBuilder::new(SslMethod::tls_server()).unwrap();
    if ask_for_certificate {
        builder.set_verify(SslVerifyMode::PEER);
    }
    builder
        .set_min_proto_version(Some(SslVersion::TLS1_1))
        .unwrap();
    builder
        .set_max_proto_version(Some(SslVersion::TLS1_1))
        .unwrap();
    builder.set_cipher_list("AES128-SHA:@SECLEVEL=0").unwrap();
    builder
        .set_certificate(&X509::from_pem(&fixture(leaf)).unwrap())
        .unwrap();
    builder
        .set_private_key(&PKey::private_key_from_pem(&fixture(key)).unwrap())
        .unwrap();
    let context: SslContext = builder.build();
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let context = context.clone();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut tls = SslStream::new(Ssl::new(&context).unwrap(), tcp).unwrap();
                if Pin::new(&mut tls).accept().await.is_err() {
                    return;
                }
                let mut buf = [0u8; 4096];
                while let Ok(read) = tls.read(&mut buf).await {
                    if read == 0 {
                        break;
                    }
                    counter.fetch_add(read, Ordering::SeqCst);
                    let reply = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
                    if tls.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, received)
}

#[derive(Debug)]
struct FixedTime(UnixTime);

impl TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(self.0)
    }
}

fn at(secs: u64) -> Arc<dyn TimeProvider> {
    Arc::new(FixedTime(UnixTime::since_unix_epoch(Duration::from_secs(
        secs,
    ))))
}

const YEAR_2030: u64 = 1_893_456_000;
const YEAR_2200: u64 = 7_258_118_400;

fn fixture_session(addr: SocketAddr, time: Arc<dyn TimeProvider>) -> Session {
    let ca_pem = String::from_utf8(fixture("rsa2048-ca.pem")).unwrap();
    let policy = Arc::new(TrustPolicy::new(ProviderRoot::from_pem(&ca_pem).unwrap()));
    let mut config = config_for(addr, "localhost", tls(&ca_pem), PASSWORD);
    config.tls_mode = TlsMode::Legacy(LegacyTlsConfig::with_time_provider(policy, time).unwrap());
    Session::new(config)
}

#[tokio::test]
async fn a_leaf_rsa_key_below_2048_bits_is_refused_before_any_byte() {
    let (addr, received) =
        fixture_server("rsa1024-leaf.pem", "rsa1024-leaf.TEST-ONLY-KEY.pem").await;
    let error = fixture_session(addr, at(YEAR_2030))
        .power_status()
        .await
        .unwrap_err();
    assert_eq!(error, Error::Trust(TrustError::WeakKey { bits: 1024 }));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(received.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn validity_follows_the_injected_clock_and_a_trusted_peer_gets_the_request() {
    let (addr, received) =
        fixture_server("rsa2048-leaf.pem", "rsa2048-leaf.TEST-ONLY-KEY.pem").await;
    let error = fixture_session(addr, at(YEAR_2200))
        .power_status()
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Trust(TrustError::Expired { .. })),
        "{error:?}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(received.load(Ordering::SeqCst), 0);

    // In 2030 the chain is trusted: the request goes out, and the peer's 503 comes back.
    let error = fixture_session(addr, at(YEAR_2030))
        .power_status()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Protocol { detail, .. } if detail.contains("503")),
        "{error:?}"
    );
    assert!(received.load(Ordering::SeqCst) > 0);
}

#[tokio::test]
async fn a_legacy_server_that_asks_for_a_certificate_but_needs_none_is_served() {
    // The CertificateRequest alone proves nothing: the handshake succeeds without a
    // certificate, and the request goes out (the peer answers 503).
    let (addr, received) =
        fixture_server_asking("rsa2048-leaf.pem", "rsa2048-leaf.TEST-ONLY-KEY.pem", true).await;
    let error = fixture_session(addr, at(YEAR_2030))
        .power_status()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Protocol { detail, .. } if detail.contains("503")),
        "{error:?}"
    );
    assert!(received.load(Ordering::SeqCst) > 0);
}
