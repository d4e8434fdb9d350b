//! Reaching the workstation: TCP, then TLS, handed over as one boxed byte stream.
//!
//! [`establish`] is the seam between transports: it returns an [`Established`] stream whatever
//! TLS stack made it (rustls here, OpenSSL in `legacy.rs` with the cargo feature `legacy-tls`),
//! and everything above (HTTP, digest, calls) stays as it is.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use amt_trust::{ClientTlsOptions, TrustPolicy};
use rustls::client::ResolvesClientCert;
use rustls::{ClientConfig, SignatureScheme, sign};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;

use crate::config::{SessionConfig, TlsMode};
use crate::error::{self, Error, NetworkFailure, Phase};

/// A byte stream to the workstation, encrypted by whichever transport made it.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// A connection ready for HTTP.
pub(crate) struct Established {
    pub(crate) stream: Box<dyn Stream>,
    /// The server sent a CertificateRequest, and got no certificate (it accepted none, or, under
    /// TLS 1.3, its verdict is yet to come).
    pub(crate) client_certificate_requested: bool,
    /// The handshake was TLS 1.3: the server's verdict on the client's certificate may arrive
    /// after it, as the first thing read (see `error::from_hyper`).
    pub(crate) tls13: bool,
    /// The TLS session was resumed rather than negotiated in full.
    pub(crate) resumed: bool,
}

/// The end of the current call, and the limits of its phases.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    end: Instant,
    limit: Duration,
}

/// What stands for "never" when a limit is too large to add to the clock: about 30 years, as
/// tokio's own timers do.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `limit` from now, or the far future when the clock cannot count that far (a configured
/// limit of `Duration::MAX` means no limit, not a panic).
fn later_by(limit: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(limit)
        .or_else(|| now.checked_add(FAR_FUTURE))
        .unwrap_or(now)
}

impl Deadline {
    pub(crate) fn after(limit: Duration) -> Self {
        Self {
            end: later_by(limit),
            limit,
        }
    }

    /// When `phase`, limited to `phase_limit`, must end, and which limit it is then: the
    /// phase's own, or the call's when less time than that remains.
    pub(crate) fn phase(&self, phase: Phase, phase_limit: Duration) -> (Instant, Phase, Duration) {
        let phase_end = later_by(phase_limit);
        if phase_end < self.end {
            (phase_end, phase, phase_limit)
        } else {
            (self.end, Phase::Request, self.limit)
        }
    }

    pub(crate) fn end(&self) -> Instant {
        self.end
    }

    pub(crate) fn timeout(&self, request_sent: bool) -> Error {
        Error::Timeout {
            phase: Phase::Request,
            limit: self.limit,
            request_sent,
        }
    }
}

/// Opens a connection to the workstation with the session's transport.
pub(crate) async fn establish(
    config: &SessionConfig,
    deadline: &Deadline,
) -> Result<Established, Error> {
    match &config.tls_mode {
        TlsMode::Modern => establish_modern(config, deadline).await,
        #[cfg(feature = "legacy-tls")]
        TlsMode::Legacy(legacy) => crate::legacy::establish(config, legacy, deadline).await,
    }
}

/// TCP to the host's addresses in turn, within the connect limit.
pub(crate) async fn connect_tcp(
    config: &SessionConfig,
    deadline: &Deadline,
) -> Result<TcpStream, Error> {
    let (end, phase, limit) = deadline.phase(Phase::Connect, config.timeouts.connect);
    let timeout = || Error::Timeout {
        phase,
        limit,
        request_sent: false,
    };
    let connect = async {
        let addresses: Vec<SocketAddr> = match config.host.ip() {
            Some(ip) => vec![SocketAddr::new(ip, config.port)],
            None => {
                let name = config.host.to_string();
                tokio::net::lookup_host((name.as_str(), config.port))
                    .await
                    .map_err(|error| Error::Unreachable {
                        failure: NetworkFailure::Dns,
                        detail: error::bounded(&error.to_string()),
                        request_sent: false,
                    })?
                    .collect()
            }
        };
        let mut last = Error::Unreachable {
            failure: NetworkFailure::Dns,
            detail: "the name resolved to no address".to_owned(),
            request_sent: false,
        };
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(tcp) => return Ok(tcp),
                Err(error) => last = error::from_connect(&error),
            }
        }
        Err(last)
    };
    let tcp = timeout_at(end, connect).await.map_err(|_| timeout())??;
    // Requests go out in one write and replies are awaited: Nagle would only add delay.
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

async fn establish_modern(
    config: &SessionConfig,
    deadline: &Deadline,
) -> Result<Established, Error> {
    let tcp = connect_tcp(config, deadline).await?;
    let (end, phase, limit) = deadline.phase(Phase::TlsHandshake, config.timeouts.tls_handshake);
    let connector = TlsConnector::from(Arc::clone(&config.tls));
    let handshake = CLIENT_CERTIFICATE_REQUESTED.scope(Cell::new(false), async move {
        let result = connector.connect(config.host.server_name(), tcp).await;
        (result, CLIENT_CERTIFICATE_REQUESTED.with(Cell::get))
    });
    let (result, requested) = timeout_at(end, handshake)
        .await
        .map_err(|_| Error::Timeout {
            phase,
            limit,
            request_sent: false,
        })?;
    let tls = result.map_err(|error| error::from_handshake(&error, requested))?;
    let connection = tls.get_ref().1;
    let resumed = connection.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    let tls13 = connection.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
    Ok(Established {
        stream: Box::new(tls),
        client_certificate_requested: requested,
        tls13,
        resumed,
    })
}

tokio::task_local! {
    /// Set by [`NoClientCertificate`] while a handshake of this task runs.
    static CLIENT_CERTIFICATE_REQUESTED: Cell<bool>;
}

/// A client-certificate resolver that has no certificate to offer (like rustls's default) but
/// notes that the server asked for one, for the handshake running in the current task.
///
/// One instance serves a whole [`ClientConfig`]: rustls resumes a TLS session only under the
/// same resolver, so it must not be replaced per session.
#[derive(Debug)]
struct NoClientCertificate;

impl ResolvesClientCert for NoClientCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<sign::CertifiedKey>> {
        // Outside a session's handshake (another user of the configuration) there is nothing
        // to record.
        let _ = CLIENT_CERTIFICATE_REQUESTED.try_with(|requested| requested.set(true));
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

/// The rustls configuration for the workstations of one deployment: exactly
/// [`amt_trust::client_config`] (pinned provider root, TLS 1.3 and 1.2, ring, session
/// resumption cache sized by `options`, no client certificate), plus a resolver that lets a
/// session tell a server that demands a client certificate
/// ([`Error::ClientCertificateRequired`]) from one that cannot negotiate
/// ([`Error::LegacyTlsRequired`]), whatever alert the server sends.
///
/// Build one per deployment (per provider root) and share it between all its sessions.
pub fn tls_config(policy: Arc<TrustPolicy>, options: &ClientTlsOptions) -> Arc<ClientConfig> {
    let mut config = Arc::unwrap_or_clone(amt_trust::client_config(policy, options));
    config.client_auth_cert_resolver = Arc::new(NoClientCertificate);
    Arc::new(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resolver_records_only_inside_a_handshake_scope() {
        let resolver = NoClientCertificate;
        assert!(resolver.resolve(&[], &[]).is_none());
        assert!(!resolver.has_certs());
        let seen = CLIENT_CERTIFICATE_REQUESTED.sync_scope(Cell::new(false), || {
            assert!(resolver.resolve(&[], &[]).is_none());
            CLIENT_CERTIFICATE_REQUESTED.with(Cell::get)
        });
        assert!(seen);
    }

    #[tokio::test]
    async fn a_phase_is_cut_short_by_the_call_deadline() {
        let deadline = Deadline::after(Duration::from_secs(1));
        let (_, phase, limit) = deadline.phase(Phase::Connect, Duration::from_secs(5));
        assert_eq!((phase, limit), (Phase::Request, Duration::from_secs(1)));
        let (end, phase, limit) = deadline.phase(Phase::Connect, Duration::from_millis(10));
        assert_eq!((phase, limit), (Phase::Connect, Duration::from_millis(10)));
        assert!(end < deadline.end());
        assert!(matches!(
            deadline.timeout(true),
            Error::Timeout {
                phase: Phase::Request,
                request_sent: true,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn limits_too_large_for_the_clock_mean_the_far_future() {
        let deadline = Deadline::after(Duration::MAX);
        assert!(deadline.end() >= Instant::now() + Duration::from_secs(86_400 * 365));
        // The phase's far future is taken later than the call's, so the call's end rules.
        let (end, phase, limit) = deadline.phase(Phase::Connect, Duration::MAX);
        assert_eq!(
            (end, phase, limit),
            (deadline.end(), Phase::Request, Duration::MAX)
        );
        let short = Deadline::after(Duration::from_secs(1));
        let (end, phase, _) = short.phase(Phase::TlsHandshake, Duration::MAX);
        assert_eq!((end, phase), (short.end(), Phase::Request));
    }
}
