//! Legacy listeners (feature `legacy-tls`): what an OpenSSL client meets, suite by suite.

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use amt_sim::{DeviceConfig, SimCa, SimDevice, TlsProfile};
use amt_trust::{CertificateDer, Host, NameMatch, ProviderRoot, TrustPolicy, UnixTime};
use openssl::ssl::{Ssl, SslContextBuilder, SslMethod, SslVerifyMode, SslVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use crate::support::{ConnectError, TestClient};

const PASSWORD: &str = "P@ssw0rd-legacy";

async fn start(profile: TlsProfile) -> (SimDevice, SimCa) {
    let ca = SimCa::generate("amt-sim legacy test CA").expect("CA");
    let mut config = DeviceConfig::new(PASSWORD).on("127.0.0.1:0".parse().expect("address"));
    config.tls = profile;
    let device = SimDevice::start(config, &ca).await.expect("device starts");
    (device, ca)
}

/// An OpenSSL client limited to `versions` and `ciphers` (security level 0), verifying nothing.
async fn handshake(
    addr: SocketAddr,
    versions: (SslVersion, SslVersion),
    ciphers: &str,
) -> Result<SslStream<TcpStream>, String> {
    let mut builder = SslContextBuilder::new(SslMethod::tls_client()).expect("context");
    builder
        .set_min_proto_version(Some(versions.0))
        .expect("min");
    builder
        .set_max_proto_version(Some(versions.1))
        .expect("max");
    builder
        .set_cipher_list(&format!("{ciphers}:@SECLEVEL=0"))
        .expect("ciphers");
    builder.set_verify(SslVerifyMode::NONE);
    let context = builder.build();
    let tcp = TcpStream::connect(addr).await.expect("TCP");
    let mut stream = SslStream::new(Ssl::new(&context).expect("ssl"), tcp).expect("stream");
    Pin::new(&mut stream)
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

fn negotiated(stream: &SslStream<TcpStream>) -> (&'static str, &'static str) {
    let ssl = stream.ssl();
    (
        ssl.version_str(),
        ssl.current_cipher().expect("a cipher").name(),
    )
}

/// The served chain passes the trust policy for 127.0.0.1, with an RSA-2048 leaf.
fn assert_trusted_rsa_2048(stream: &SslStream<TcpStream>, ca: &SimCa) {
    let chain: Vec<CertificateDer<'static>> = stream
        .ssl()
        .peer_cert_chain()
        .expect("a chain")
        .iter()
        .map(|cert| CertificateDer::from(cert.to_der().expect("DER")))
        .collect();
    assert_eq!(chain.len(), 1);
    let leaf = stream.ssl().peer_certificate().expect("a leaf");
    let key = leaf.public_key().expect("a key");
    assert_eq!(key.rsa().expect("an RSA key").size() * 8, 2048);
    let policy = TrustPolicy::new(ProviderRoot::from_pem(ca.cert_pem()).expect("root"));
    let host = Host::parse("127.0.0.1").expect("host");
    assert_eq!(
        policy.verify(&chain, &host, UnixTime::now()),
        Ok(NameMatch::SubjectAltName)
    );
}

/// An unauthenticated request over the legacy stream gets AMT's digest challenge.
async fn assert_challenged(mut stream: SslStream<TcpStream>) {
    let request = "POST /wsman HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                   Content-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: 0\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut reply = vec![0u8; 4096];
    let read = stream.read(&mut reply).await.expect("read");
    let head = String::from_utf8_lossy(&reply[..read]).to_lowercase();
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(
        head.contains("www-authenticate: digest realm=\"digest:"),
        "{head}"
    );
}

async fn settle() {
    // The device counts a failed handshake when its task sees the client go.
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[tokio::test]
async fn amt11_speaks_tls_1_1_with_rsa_key_exchange_only() {
    let (device, ca) = start(TlsProfile::LegacyAmt11).await;
    let tls11 = (SslVersion::TLS1_1, SslVersion::TLS1_1);

    // At security level 0, TLS 1.1 works with this OpenSSL, with an RSA key exchange suite.
    let stream = handshake(
        device.addr(),
        (SslVersion::TLS1_1, SslVersion::TLS1_2),
        "ALL",
    )
    .await
    .expect("TLS 1.1 handshake");
    let (version, cipher) = negotiated(&stream);
    assert_eq!(version, "TLSv1.1");
    assert!(["AES256-SHA", "AES128-SHA"].contains(&cipher), "{cipher}");
    assert_trusted_rsa_2048(&stream, &ca);
    assert_challenged(stream).await;

    // Each of its two suites on its own.
    for suite in ["AES128-SHA", "AES256-SHA"] {
        let stream = handshake(device.addr(), tls11, suite).await.expect(suite);
        assert_eq!(negotiated(&stream), ("TLSv1.1", suite));
    }
    // No forward secrecy, no TLS 1.2, no TLS 1.0.
    let ecdhe = handshake(
        device.addr(),
        tls11,
        "ECDHE-RSA-AES128-SHA:DHE-RSA-AES128-SHA",
    )
    .await;
    assert!(ecdhe.is_err());
    let tls12 = handshake(
        device.addr(),
        (SslVersion::TLS1_2, SslVersion::TLS1_2),
        "ALL",
    )
    .await;
    assert!(tls12.is_err());
    let tls10 = handshake(device.addr(), (SslVersion::TLS1, SslVersion::TLS1), "ALL").await;
    assert!(tls10.is_err());

    // A modern client is refused.
    let mut modern = TestClient::new(&device, PASSWORD);
    assert!(matches!(modern.connect().await, Err(ConnectError::Io(_))));

    settle().await;
    let counters = device.counters();
    assert_eq!(counters.tls_full_handshakes, 3);
    assert_eq!(counters.tls_failed_handshakes, 4);
    assert_eq!(counters.unauthorized, 1);
}

#[tokio::test]
async fn amt12_speaks_tls_1_2_with_rsa_key_exchange_only() {
    let (device, ca) = start(TlsProfile::LegacyAmt12).await;
    let tls12 = (SslVersion::TLS1_2, SslVersion::TLS1_2);

    let stream = handshake(
        device.addr(),
        (SslVersion::TLS1_1, SslVersion::TLS1_2),
        "ALL",
    )
    .await
    .expect("TLS 1.2 handshake");
    let (version, cipher) = negotiated(&stream);
    assert_eq!(version, "TLSv1.2");
    assert!(cipher.starts_with("AES"), "RSA key exchange: {cipher}");
    assert_trusted_rsa_2048(&stream, &ca);
    assert_challenged(stream).await;

    for suite in ["AES128-GCM-SHA256", "AES256-SHA256", "AES128-SHA"] {
        let stream = handshake(device.addr(), tls12, suite).await.expect(suite);
        assert_eq!(negotiated(&stream), ("TLSv1.2", suite));
    }
    // What rustls offers (ECDHE) is not there, nor DHE, nor TLS 1.1.
    let ecdhe = handshake(
        device.addr(),
        tls12,
        "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384",
    )
    .await;
    assert!(ecdhe.is_err());
    let dhe = handshake(device.addr(), tls12, "DHE-RSA-AES128-GCM-SHA256").await;
    assert!(dhe.is_err());
    let tls11 = handshake(
        device.addr(),
        (SslVersion::TLS1_1, SslVersion::TLS1_1),
        "ALL",
    )
    .await;
    assert!(tls11.is_err());

    let mut modern = TestClient::new(&device, PASSWORD);
    assert!(matches!(modern.connect().await, Err(ConnectError::Io(_))));

    settle().await;
    let counters = device.counters();
    assert_eq!(counters.tls_full_handshakes, 4);
    assert_eq!(counters.tls_failed_handshakes, 4);
}

#[tokio::test]
async fn a_legacy_listener_can_demand_a_client_certificate() {
    let ca = SimCa::generate("amt-sim legacy test CA").expect("CA");
    let mut config = DeviceConfig::new(PASSWORD).on("127.0.0.1:0".parse().expect("address"));
    config.tls = TlsProfile::LegacyAmt12;
    config.require_client_certificate = true;
    let device = SimDevice::start(config, &ca).await.expect("device starts");
    let tls12 = (SslVersion::TLS1_2, SslVersion::TLS1_2);
    // Under TLS 1.2 the refusal arrives with the client's second flight.
    let refused = handshake(device.addr(), tls12, "ALL").await;
    assert!(
        refused.is_err(),
        "a client without a certificate is refused"
    );
}
