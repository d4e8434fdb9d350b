//! Shared test scaffolding: simulated devices, sessions, and hand-made TLS peers for the
//! failures the simulator does not commit.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use amt_client::{Session, SessionConfig, Timeouts, tls_config};
use amt_sim::{DeviceConfig, LeafSpec, SimCa, SimDevice};
use amt_trust::{ClientTlsOptions, Host, ProviderRoot, TrustPolicy};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

pub(crate) const PASSWORD: &str = "P@ssw0rd-Sim1";

/// Short limits: everything happens on loopback.
pub(crate) const TIMEOUTS: Timeouts = Timeouts::uniform(Duration::from_secs(5));

pub(crate) fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub(crate) fn ca() -> SimCa {
    SimCa::generate("amt-client test CA").unwrap()
}

pub(crate) fn device_config() -> DeviceConfig {
    DeviceConfig::new(PASSWORD).on(any_port())
}

pub(crate) async fn start(config: DeviceConfig) -> (SimDevice, SimCa) {
    let ca = ca();
    let device = SimDevice::start(config, &ca).await.unwrap();
    (device, ca)
}

pub(crate) fn tls(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let root = ProviderRoot::from_pem(ca_pem).unwrap();
    tls_config(Arc::new(TrustPolicy::new(root)), &ClientTlsOptions::new())
}

pub(crate) fn config_for(
    addr: SocketAddr,
    host: &str,
    tls: Arc<rustls::ClientConfig>,
    password: &str,
) -> SessionConfig {
    let mut config = SessionConfig::new(
        Host::parse(host).unwrap(),
        tls,
        "admin",
        SecretString::from(password.to_owned()),
    );
    config.port = addr.port();
    config.timeouts = TIMEOUTS;
    config
}

/// A session with the device at 127.0.0.1, trusting its CA.
pub(crate) fn session(device: &SimDevice, password: &str) -> Session {
    Session::new(config_for(
        device.addr(),
        "127.0.0.1",
        tls(device.ca_pem()),
        password,
    ))
}

/// A device and a session with the right password.
pub(crate) async fn device_and_session(config: DeviceConfig) -> (SimDevice, Session) {
    let (device, _ca) = start(config).await;
    let session = session(&device, PASSWORD);
    (device, session)
}

/// The device's counters after `f`, minus those before.
pub(crate) async fn delta<F: Future>(
    device: &SimDevice,
    f: F,
) -> (F::Output, amt_sim::CounterSnapshot) {
    let before = device.counters();
    let output = f.await;
    let after = device.counters();
    let mut invokes = after.invokes;
    for (a, b) in invokes.iter_mut().zip(before.invokes) {
        *a -= b;
    }
    let delta = amt_sim::CounterSnapshot {
        tcp_connections: after.tcp_connections - before.tcp_connections,
        tls_full_handshakes: after.tls_full_handshakes - before.tls_full_handshakes,
        tls_resumed_handshakes: after.tls_resumed_handshakes - before.tls_resumed_handshakes,
        tls_failed_handshakes: after.tls_failed_handshakes - before.tls_failed_handshakes,
        requests: after.requests - before.requests,
        unauthorized: after.unauthorized - before.unauthorized,
        failed_logins: after.failed_logins - before.failed_logins,
        lockout_refusals: after.lockout_refusals - before.lockout_refusals,
        faults: after.faults - before.faults,
        invokes,
    };
    (output, delta)
}

/// A reply to `request` as the device would make it.
pub(crate) fn answer(
    request: &[u8],
    response: &amt_wsman::Response,
    relates_to: Option<&str>,
) -> Response<Full<Bytes>> {
    let parsed = amt_wsman::device::parse_request(request, amt_wsman::Limits::default()).unwrap();
    let relates_to = relates_to
        .map(|id| amt_wsman::MessageId::new(id).unwrap())
        .or(parsed.message_id);
    let body = amt_wsman::device::build_response(
        response,
        relates_to.as_ref(),
        &amt_wsman::MessageId::amt(1),
    );
    Response::new(Full::new(Bytes::from(body)))
}

pub(crate) fn power_status_reply() -> amt_wsman::Response {
    amt_wsman::Response::PowerState(amt_wsman::PowerStatus {
        power_state: 2,
        available_requested_power_states: vec![8],
        requested_power_state: None,
    })
}

pub(crate) fn challenge(realm: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(http::StatusCode::UNAUTHORIZED)
        .header(
            http::header::WWW_AUTHENTICATE,
            format!(r#"Digest realm="{realm}", nonce="bm9uY2U{realm}",stale="false",qop="auth""#),
        )
        .header(http::header::CONNECTION, "close")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// A TLS server with the simulator CA's certificate for 127.0.0.1, answering each request with
/// `respond(index, request head, body)`; for replies the simulator never gives.
pub(crate) struct ScriptedServer {
    pub(crate) addr: SocketAddr,
    pub(crate) ca_pem: String,
    pub(crate) requests: Arc<AtomicU32>,
}

pub(crate) type Script =
    dyn Fn(u32, &http::request::Parts, &[u8]) -> Response<Full<Bytes>> + Send + Sync;

/// What a [`ScriptedServer`] does with a request.
pub(crate) enum Answer {
    /// Sends this reply.
    Reply(Response<Full<Bytes>>),
    /// Closes the connection without a word.
    HangUp,
    /// Never answers.
    Stall,
}

pub(crate) type Scenario = dyn Fn(u32, &http::request::Parts, &[u8]) -> Answer + Send + Sync;

/// How a [`ScriptedServer`] speaks TLS (1.3 only, always).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ServerTls {
    /// Ask for a client certificate in every handshake, and go on without one.
    pub(crate) optional_client_auth: bool,
    /// No TLS session resumption: every connection makes a full handshake.
    pub(crate) no_resumption: bool,
}

impl ScriptedServer {
    pub(crate) async fn start(respond: Arc<Script>) -> Self {
        Self::start_with(
            ServerTls::default(),
            Arc::new(move |index, parts, body| Answer::Reply(respond(index, parts, body))),
        )
        .await
    }

    pub(crate) async fn start_with(options: ServerTls, scenario: Arc<Scenario>) -> Self {
        let ca = ca();
        let listener = TcpListener::bind(any_port()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let identity = ca.issue(&LeafSpec::default(), addr.ip()).unwrap();
        let client_auth = if options.optional_client_auth {
            ClientAuth::Optional(ca.cert_pem())
        } else {
            ClientAuth::None
        };
        let mut config = Arc::unwrap_or_clone(server_config(
            identity,
            client_auth,
            &[&rustls::version::TLS13],
        ));
        if options.no_resumption {
            config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
            config.send_tls13_tickets = 0;
        }
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let requests = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&requests);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let scenario = Arc::clone(&scenario);
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |request: Request<Incoming>| {
                        let scenario = Arc::clone(&scenario);
                        let counter = Arc::clone(&counter);
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map_err(std::io::Error::other)?
                                .to_bytes();
                            let index = counter.fetch_add(1, Ordering::SeqCst);
                            match scenario(index, &parts, &body) {
                                Answer::Reply(response) => Ok(response),
                                Answer::HangUp => Err(std::io::Error::other("hang up")),
                                Answer::Stall => std::future::pending().await,
                            }
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            ca_pem: ca.cert_pem().to_owned(),
            requests,
        }
    }

    pub(crate) fn session(&self) -> Session {
        Session::new(config_for(
            self.addr,
            "127.0.0.1",
            tls(&self.ca_pem),
            PASSWORD,
        ))
    }
}

/// Whether a test server asks for client certificates, and which root it trusts for them.
pub(crate) enum ClientAuth<'a> {
    None,
    /// Asks, and refuses the handshake without one.
    Required(&'a str),
    /// Asks, and goes on without one.
    Optional(&'a str),
}

/// A rustls server configuration.
pub(crate) fn server_config(
    identity: amt_sim::ServerIdentity,
    client_auth: ClientAuth<'_>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ServerConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .unwrap();
    let (pem, optional) = match client_auth {
        ClientAuth::None => ("", false),
        ClientAuth::Required(pem) => (pem, false),
        ClientAuth::Optional(pem) => (pem, true),
    };
    let builder = if pem.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if optional {
            verifier.allow_unauthenticated()
        } else {
            verifier
        };
        builder.with_client_cert_verifier(verifier.build().unwrap())
    };
    Arc::new(
        builder
            .with_single_cert(identity.chain, identity.key)
            .unwrap(),
    )
}

/// A TCP server that reads the ClientHello, writes `reply` and hangs up: an old TLS stack
/// refusing the handshake.
pub(crate) async fn refusing_tls_server(reply: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut hello = [0u8; 4096];
                let _ = tcp.read(&mut hello).await;
                let _ = tcp.write_all(&reply).await;
                let _ = tcp.shutdown().await;
                // Wait for the client to hang up, so that it reads the reply before a reset.
                let _ = tcp.read(&mut hello).await;
            });
        }
    });
    addr
}

/// A TCP server that accepts and never says a word.
pub(crate) async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    addr
}

/// A TLS server that requires a client certificate. With `rewrite_alerts`, a TCP relay in
/// front of it turns every plaintext alert into `handshake_failure`, as many TLS 1.2 stacks
/// answer a missing certificate (rustls says `certificate_required`).
pub(crate) async fn mutual_tls_server(
    versions: &[&'static rustls::SupportedProtocolVersion],
    rewrite_alerts: bool,
) -> (SocketAddr, String) {
    let ca = ca();
    let listener = TcpListener::bind(any_port()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let identity = ca.issue(&LeafSpec::default(), addr.ip()).unwrap();
    let acceptor = TlsAcceptor::from(server_config(
        identity,
        ClientAuth::Required(ca.cert_pem()),
        versions,
    ));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let mut buf = [0u8; 1024];
                    let _ = tls.read(&mut buf).await;
                }
            });
        }
    });
    if !rewrite_alerts {
        return (addr, ca.cert_pem().to_owned());
    }
    let relay = TcpListener::bind(any_port()).await.unwrap();
    let relay_addr = relay.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = relay.accept().await {
            tokio::spawn(relay_rewriting_alerts(client, addr));
        }
    });
    (relay_addr, ca.cert_pem().to_owned())
}

async fn relay_rewriting_alerts(client: TcpStream, server: SocketAddr) {
    let Ok(upstream) = TcpStream::connect(server).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = upstream.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    // Server to client, record by record.
    loop {
        let mut header = [0u8; 5];
        if server_read.read_exact(&mut header).await.is_err() {
            break;
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let mut payload = vec![0u8; len];
        if server_read.read_exact(&mut payload).await.is_err() {
            break;
        }
        // A plaintext alert record: level, description.
        if header[0] == 0x15 && len == 2 {
            payload[1] = 40; // handshake_failure
        }
        if client_write.write_all(&header).await.is_err()
            || client_write.write_all(&payload).await.is_err()
        {
            break;
        }
    }
    let _ = client_write.shutdown().await;
}
