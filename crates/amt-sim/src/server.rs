//! Listening: TCP, TLS (rustls) and HTTP/1.1 (hyper), one task per connection.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use amt_power::PowerState;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::server::StoresServerSessions;
use rustls::{HandshakeKind, ServerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::counters::{CounterSnapshot, Counters};
use crate::device::{ConnectionRequests, DeviceConfig, DeviceCore, TlsProfile};
use crate::fault::FaultRule;
use crate::sessions::SessionStore;
use crate::{Error, ServerIdentity, SimCa};

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may sit idle before its request headers arrive.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// A running simulated device. Dropping the handle stops it.
#[derive(Debug)]
pub struct SimDevice {
    core: Arc<DeviceCore>,
    ca_pem: String,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for DeviceCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCore")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Builds the rustls server configuration for one device.
pub(crate) fn server_config(
    identity: ServerIdentity,
    sessions: Arc<dyn StoresServerSessions>,
    profile: TlsProfile,
    client_ca: Option<&SimCa>,
) -> Result<Arc<ServerConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match profile {
        TlsProfile::Tls12Only => &[&rustls::version::TLS12],
        _ => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(Error::Tls)?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.cert_der()?).map_err(Error::Tls)?;
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| Error::InvalidConfig(format!("client certificate verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(identity.chain, identity.key)
        .map_err(Error::Tls)?;
    config.session_storage = sessions;
    Ok(Arc::new(config))
}

impl SimDevice {
    /// Starts a device with a certificate from `ca`. Must run inside a tokio runtime.
    pub async fn start(config: DeviceConfig, ca: &SimCa) -> Result<Self, Error> {
        let sessions = Arc::new(SessionStore::new(256));
        Self::start_with(config, ca, sessions).await
    }

    pub(crate) async fn start_with(
        config: DeviceConfig,
        ca: &SimCa,
        sessions: Arc<dyn StoresServerSessions>,
    ) -> Result<Self, Error> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Io {
                context: format!("listening on {}", config.listen),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Io {
            context: "reading the listen address".into(),
            source,
        })?;
        let client_ca = config.require_client_certificate.then_some(ca);
        let acceptor = if config.tls.is_legacy() {
            legacy_acceptor(&config, ca, addr, client_ca)?
        } else {
            let identity = ca.issue(&config.leaf, addr.ip())?;
            let tls = server_config(identity, sessions, config.tls, client_ca)?;
            match config.tls {
                TlsProfile::RefuseModern => Acceptor::RefuseModern,
                _ => Acceptor::Rustls(TlsAcceptor::from(tls)),
            }
        };
        let core = Arc::new(DeviceCore::new(&config, addr));
        let (shutdown, stop) = watch::channel(false);
        tokio::spawn(accept_loop(listener, acceptor, Arc::clone(&core), stop));
        Ok(Self {
            core,
            ca_pem: ca.cert_pem().to_owned(),
            shutdown,
        })
    }

    /// The address the device listens on.
    pub fn addr(&self) -> SocketAddr {
        self.core.addr
    }

    /// The device's WS-Man endpoint, `https://<addr>/wsman` (with the loopback address when the
    /// device listens on the unspecified address).
    pub fn url(&self) -> String {
        let addr = SocketAddr::new(
            crate::ca::reachable_ip(self.core.addr.ip()),
            self.core.addr.port(),
        );
        format!("https://{addr}/wsman")
    }

    /// The PEM of the CA that issued the device's certificate chain's root (the one to trust;
    /// for a foreign-CA leaf, trusting it is exactly what fails).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The device's digest realm.
    pub fn realm(&self) -> &str {
        self.core.realm().as_str()
    }

    /// The counters now.
    pub fn counters(&self) -> CounterSnapshot {
        self.core.snapshot()
    }

    /// The device's clock (a manual one moves with [`crate::SimClock::advance`]).
    pub fn clock(&self) -> &crate::SimClock {
        &self.core.clock
    }

    /// Adds a fault rule.
    pub fn inject(&self, rule: FaultRule) {
        self.core.inject(rule);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.core.clear_faults();
    }

    /// The platform's power state now.
    pub fn power_state(&self) -> PowerState {
        self.core.with_power(|power, now| power.state(now))
    }

    /// Forces the platform's power state at once.
    pub fn set_power_state(&self, state: PowerState) {
        self.core.with_power(|power, _| power.set_state(state));
    }

    /// Starts or stops the OS agent (Intel LMS).
    pub fn set_lms(&self, running: bool) {
        self.core.with_power(|power, _| power.lms = running);
    }

    /// Opens or closes a redirection (KVM) session.
    pub fn set_redirection_session(&self, open: bool) {
        self.core
            .with_power(|power, _| power.redirection_session = open);
    }

    /// Stops listening and closes the open connections.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

impl Drop for SimDevice {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// How a device answers a TLS client.
#[derive(Clone)]
enum Acceptor {
    Rustls(TlsAcceptor),
    /// Old firmware: every modern ClientHello is answered with a `protocol_version` alert.
    RefuseModern,
    /// Old firmware for real: OpenSSL with the profile's versions and suites.
    #[cfg(feature = "legacy-tls")]
    OpenSsl(openssl::ssl::SslContext),
}

/// The acceptor of a legacy profile: an RSA-2048 leaf and an OpenSSL context.
#[cfg(feature = "legacy-tls")]
fn legacy_acceptor(
    config: &DeviceConfig,
    ca: &SimCa,
    addr: SocketAddr,
    client_ca: Option<&SimCa>,
) -> Result<Acceptor, Error> {
    let identity = ca.issue_rsa(&config.leaf, addr.ip())?;
    crate::legacy::server_context(&identity, config.tls, client_ca).map(Acceptor::OpenSsl)
}

#[cfg(not(feature = "legacy-tls"))]
fn legacy_acceptor(
    config: &DeviceConfig,
    _ca: &SimCa,
    _addr: SocketAddr,
    _client_ca: Option<&SimCa>,
) -> Result<Acceptor, Error> {
    Err(Error::InvalidConfig(format!(
        "TLS profile {:?} needs the legacy-tls feature",
        config.tls
    )))
}

/// A TLS record: fatal alert, `protocol_version` (70), in a TLS 1.0 record as old stacks write it.
const PROTOCOL_VERSION_ALERT: [u8; 7] = [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46];

async fn refuse_modern(mut tcp: TcpStream, core: Arc<DeviceCore>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut hello = [0u8; 4096];
    if let Ok(Ok(read)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.read(&mut hello)).await
        && read > 0
    {
        let _ = tcp.write_all(&PROTOCOL_VERSION_ALERT).await;
        let _ = tcp.shutdown().await;
        // Let the client read the alert before the socket goes.
        let _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, tcp.read(&mut hello)).await;
    }
    Counters::bump(&core.counters.tls_failed_handshakes);
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Acceptor,
    core: Arc<DeviceCore>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        match accepted {
            Ok((tcp, _peer)) => {
                Counters::bump(&core.counters.tcp_connections);
                let _ = tcp.set_nodelay(true);
                match &acceptor {
                    Acceptor::Rustls(tls) => {
                        tokio::spawn(serve(tcp, tls.clone(), Arc::clone(&core), stop.clone()));
                    }
                    Acceptor::RefuseModern => {
                        tokio::spawn(refuse_modern(tcp, Arc::clone(&core)));
                    }
                    #[cfg(feature = "legacy-tls")]
                    Acceptor::OpenSsl(context) => {
                        tokio::spawn(serve_legacy(
                            tcp,
                            context.clone(),
                            Arc::clone(&core),
                            stop.clone(),
                        ));
                    }
                }
            }
            // Out of file descriptors or a connection reset before accept: back off briefly.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn serve(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    core: Arc<DeviceCore>,
    stop: watch::Receiver<bool>,
) {
    let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await else {
        Counters::bump(&core.counters.tls_failed_handshakes);
        return;
    };
    match tls.get_ref().1.handshake_kind() {
        Some(HandshakeKind::Resumed) => Counters::bump(&core.counters.tls_resumed_handshakes),
        _ => Counters::bump(&core.counters.tls_full_handshakes),
    }
    serve_http(tls, core, stop).await;
}

#[cfg(feature = "legacy-tls")]
async fn serve_legacy(
    tcp: TcpStream,
    context: openssl::ssl::SslContext,
    core: Arc<DeviceCore>,
    stop: watch::Receiver<bool>,
) {
    let accepted =
        tokio::time::timeout(HANDSHAKE_TIMEOUT, crate::legacy::accept(tcp, &context)).await;
    let Ok(Some(tls)) = accepted else {
        Counters::bump(&core.counters.tls_failed_handshakes);
        return;
    };
    if tls.ssl().session_reused() {
        Counters::bump(&core.counters.tls_resumed_handshakes);
    } else {
        Counters::bump(&core.counters.tls_full_handshakes);
    }
    serve_http(tls, core, stop).await;
}

/// HTTP/1.1 over an established TLS stream, until the client or the device closes it.
async fn serve_http<S>(tls: S, core: Arc<DeviceCore>, mut stop: watch::Receiver<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let served = Arc::new(ConnectionRequests::default());
    let service = {
        let core = Arc::clone(&core);
        let stop = stop.clone();
        service_fn(move |request| {
            let core = Arc::clone(&core);
            let served = Arc::clone(&served);
            let stop = stop.clone();
            async move {
                let close = served.count(core.close_after_requests());
                let mut response = core.handle(request, stop).await?;
                if close {
                    response.headers_mut().insert(
                        http::header::CONNECTION,
                        http::HeaderValue::from_static("close"),
                    );
                }
                Ok::<_, crate::device::DropConnection>(response)
            }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = stop.changed() => {}
    }
}

/// How the devices of a fleet are addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// One address, device `i` on `first_port + i` (or every device on a free port when
    /// `first_port` is 0).
    ConsecutivePorts {
        /// The address.
        ip: IpAddr,
        /// The first device's port.
        first_port: u16,
    },
    /// One port, device `i` on the `i`-th loopback address from `first` (127.0.0.2, 127.0.0.3,
    /// ...), each with a certificate for its own address.
    LoopbackAddresses {
        /// The first device's address.
        first: Ipv4Addr,
        /// The port (0 for a free port per device).
        port: u16,
    },
}

impl Addressing {
    /// The listen address of device `index`.
    pub fn address(&self, index: usize) -> Result<SocketAddr, Error> {
        let too_many = || Error::InvalidConfig(format!("no address for device {index}"));
        match *self {
            Self::ConsecutivePorts { ip, first_port: 0 } => Ok(SocketAddr::new(ip, 0)),
            Self::ConsecutivePorts { ip, first_port } => {
                let port =
                    u16::try_from(usize::from(first_port) + index).map_err(|_| too_many())?;
                Ok(SocketAddr::new(ip, port))
            }
            Self::LoopbackAddresses { first, port } => {
                let ip =
                    u32::from(first).checked_add(u32::try_from(index).map_err(|_| too_many())?);
                let ip = Ipv4Addr::from(ip.ok_or_else(too_many)?);
                if ip.octets()[0] != 127 {
                    return Err(too_many());
                }
                Ok(SocketAddr::new(IpAddr::V4(ip), port))
            }
        }
    }
}

/// Many simulated devices served from one process.
///
/// Each device has its own listener, certificate, realm, power state and counters. The devices
/// share one TLS session cache, so that a client that keys its resumption cache by server name
/// resumes even when the devices share an address (consecutive ports).
#[derive(Debug)]
pub struct Fleet {
    devices: Vec<SimDevice>,
}

impl Fleet {
    /// Starts `count` devices configured like `template` and addressed by `addressing`; device `i`
    /// gets `configure(i, &mut config)` applied after its address is set.
    pub async fn start(
        template: &DeviceConfig,
        count: usize,
        addressing: Addressing,
        ca: &SimCa,
        mut configure: impl FnMut(usize, &mut DeviceConfig),
    ) -> Result<Self, Error> {
        let sessions: Arc<dyn StoresServerSessions> =
            Arc::new(SessionStore::new(count.saturating_mul(4).max(256)));
        let mut devices = Vec::with_capacity(count);
        for index in 0..count {
            let mut config = template.clone().on(addressing.address(index)?);
            configure(index, &mut config);
            devices.push(SimDevice::start_with(config, ca, Arc::clone(&sessions)).await?);
        }
        Ok(Self { devices })
    }

    /// The devices, in order.
    pub fn devices(&self) -> &[SimDevice] {
        &self.devices
    }

    /// The counters of all devices, summed.
    pub fn counters(&self) -> CounterSnapshot {
        self.devices
            .iter()
            .map(SimDevice::counters)
            .fold(CounterSnapshot::default(), |a, b| a.sum(&b))
    }

    /// Stops every device.
    pub fn shutdown(&self) {
        self.devices.iter().for_each(SimDevice::shutdown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addressing_counts_ports_and_addresses() {
        let ports = Addressing::ConsecutivePorts {
            ip: Ipv4Addr::LOCALHOST.into(),
            first_port: 16993,
        };
        assert_eq!(
            ports.address(2).unwrap(),
            "127.0.0.1:16995".parse().unwrap()
        );
        assert!(ports.address(70_000).is_err());
        let ips = Addressing::LoopbackAddresses {
            first: Ipv4Addr::new(127, 0, 0, 2),
            port: 16993,
        };
        assert_eq!(
            ips.address(300).unwrap(),
            "127.0.1.46:16993".parse().unwrap()
        );
        assert!(ips.address(1 << 24).is_err());
    }
}
