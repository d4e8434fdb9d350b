//! The legacy transport (cargo feature `legacy-tls`): OpenSSL for Intel AMT 9 to 12, whose
//! firmware offers only what rustls refuses by design (TLS 1.1, RSA key exchange, DHE, CBC) and
//! lacks RFC 5746 secure renegotiation.
//!
//! OpenSSL is told to verify nothing; the deployment's [`TrustPolicy`] runs on the peer's chain
//! once the handshake is done and before the stream is handed to HTTP, so no byte of a request
//! (credentials included) is written to a workstation the policy has not accepted, and the
//! refusals are the same [`TrustError`](amt_trust::TrustError)s as on the modern path.
//!
//! The `openssl` crate offers no safe client-certificate callback, so the TCP stream under
//! OpenSSL is watched instead: TLS 1.2 and older send every handshake message before the
//! server's ChangeCipherSpec in the clear, and a CertificateRequest among them tells a server
//! that demands a client certificate from one that cannot negotiate.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use amt_trust::{CertificateDer, TrustPolicy, UnixTime};
use openssl::error::ErrorStack;
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslContextBuilder, SslMethod, SslMode, SslOptions,
    SslSessionCacheMode, SslVerifyMode, SslVersion,
};
use rustls::time_provider::TimeProvider;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout_at;
use tokio_openssl::SslStream;

use crate::config::SessionConfig;
use crate::error::{self, Error, NetworkFailure, Phase};
use crate::transport::{self, Deadline, Established};

/// The cipher suites the legacy transport offers, in OpenSSL's notation, most preferred first:
/// the AES suites Intel AMT 9 to 12 firmware offers, with forward secrecy (ECDHE, DHE) and
/// AEAD first, then plain RSA key exchange, which is all Intel AMT 11 and older speak.
///
/// `@SECLEVEL=0` lifts OpenSSL's security floor, which would otherwise refuse TLS 1.1 and the
/// small DH groups and RSA keys of old firmware; the trust policy refuses leaf RSA keys below
/// 2048 bits itself.
pub const LEGACY_CIPHER_LIST: &str = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:\
     DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:\
     AES256-GCM-SHA384:AES128-GCM-SHA256:\
     ECDHE-RSA-AES256-SHA:ECDHE-RSA-AES128-SHA:DHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA:\
     AES256-SHA256:AES128-SHA256:AES256-SHA:AES128-SHA:@SECLEVEL=0";

/// The legacy TLS transport's configuration for the workstations of one deployment: an
/// OpenSSL client context (TLS 1.1 to 1.2, [`LEGACY_CIPHER_LIST`], legacy server connect
/// allowed, renegotiation refused, no certificate verification by OpenSSL, no client
/// certificate, no SNI for IP addresses) and the deployment's [`TrustPolicy`], which runs on
/// the peer's chain after every handshake.
///
/// Use it through [`TlsMode::Legacy`](crate::TlsMode::Legacy), only for a workstation whose
/// legacy TLS switch is on: it weakens the connection. Cheap to clone; build one per deployment
/// and share it.
///
/// TLS sessions are not resumed on this transport (resuming needs an `unsafe` call of the
/// `openssl` crate, and the workspace forbids `unsafe`): every connection makes a full handshake.
#[derive(Clone)]
pub struct LegacyTlsConfig {
    inner: Arc<Inner>,
}

struct Inner {
    context: SslContext,
    policy: Arc<TrustPolicy>,
    time: Option<Arc<dyn TimeProvider>>,
}

impl LegacyTlsConfig {
    /// A configuration running `policy`, with the system clock.
    ///
    /// Fails with [`Error::Local`] if the linked OpenSSL cannot be configured so (it lacks every
    /// suite of [`LEGACY_CIPHER_LIST`], or TLS 1.1 and 1.2).
    pub fn new(policy: Arc<TrustPolicy>) -> Result<Self, Error> {
        Self::build(policy, None)
    }

    /// [`new`](Self::new) with another clock for the policy's validity checks (tests inject a
    /// fixed one, as [`ClientTlsOptions::time_provider`](amt_trust::ClientTlsOptions::time_provider)
    /// does for the modern transport).
    pub fn with_time_provider(
        policy: Arc<TrustPolicy>,
        time: Arc<dyn TimeProvider>,
    ) -> Result<Self, Error> {
        Self::build(policy, Some(time))
    }

    fn build(policy: Arc<TrustPolicy>, time: Option<Arc<dyn TimeProvider>>) -> Result<Self, Error> {
        let context = client_context().map_err(|e| Error::Local {
            detail: error::bounded(&format!(
                "the legacy TLS transport cannot be configured with this OpenSSL: {e}"
            )),
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                context,
                policy,
                time,
            }),
        })
    }

    /// The trust policy it runs.
    pub fn policy(&self) -> &TrustPolicy {
        &self.inner.policy
    }

    fn now(&self) -> UnixTime {
        self.inner
            .time
            .as_ref()
            .and_then(|time| time.current_time())
            .unwrap_or_else(UnixTime::now)
    }
}

impl fmt::Debug for LegacyTlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyTlsConfig")
            .field("root", &self.inner.policy.root())
            .finish_non_exhaustive()
    }
}

/// The OpenSSL client context of the legacy transport.
fn client_context() -> Result<SslContext, ErrorStack> {
    client_context_builder().map(SslContextBuilder::build)
}

fn client_context_builder() -> Result<SslContextBuilder, ErrorStack> {
    let mut builder = SslContextBuilder::new(SslMethod::tls_client())?;
    let mut options = SslOptions::ALL
        | SslOptions::NO_COMPRESSION
        | SslOptions::NO_SSLV2
        | SslOptions::NO_SSLV3
        // The firmware never offers RFC 5746 secure renegotiation, and OpenSSL 3 refuses
        // such a server unless told otherwise...
        | SslOptions::from_bits_retain(openssl_sys::SSL_OP_LEGACY_SERVER_CONNECT)
        // ...so a renegotiation, which could then be an attacker's splice, is refused.
        | SslOptions::NO_RENEGOTIATION
        | SslOptions::NO_TICKET;
    // Keep OpenSSL's countermeasure against BEAST on (SSL_OP_ALL turns it off). `remove`, not
    // `&= !`: bitflags' `!` drops the bits it has no name for, such as legacy server connect.
    options.remove(SslOptions::DONT_INSERT_EMPTY_FRAGMENTS);
    builder.set_options(options);
    builder.set_mode(SslMode::AUTO_RETRY | SslMode::ACCEPT_MOVING_WRITE_BUFFER);
    builder.set_min_proto_version(Some(SslVersion::TLS1_1))?;
    builder.set_max_proto_version(Some(SslVersion::TLS1_2))?;
    builder.set_cipher_list(LEGACY_CIPHER_LIST)?;
    // The trust policy decides, after the handshake; OpenSSL's own verification (and the
    // system's roots) play no part.
    builder.set_verify(SslVerifyMode::NONE);
    builder.set_session_cache_mode(SslSessionCacheMode::OFF);
    Ok(builder)
}

/// Opens a connection with the legacy transport: TCP, the OpenSSL handshake, then the trust
/// policy on the peer's chain.
pub(crate) async fn establish(
    config: &SessionConfig,
    legacy: &LegacyTlsConfig,
    deadline: &Deadline,
) -> Result<Established, Error> {
    let tcp = transport::connect_tcp(config, deadline).await?;
    let (end, phase, limit) = deadline.phase(Phase::TlsHandshake, config.timeouts.tls_handshake);
    let local = |e: ErrorStack| Error::Local {
        detail: error::bounded(&format!("setting up the legacy TLS connection: {e}")),
    };
    let mut ssl = Ssl::new(&legacy.inner.context).map_err(local)?;
    // SNI names a DNS host only (RFC 6066 forbids IP literals); old firmware ignores it anyway.
    if let Some(name) = config.host.dns_name() {
        ssl.set_hostname(name).map_err(local)?;
    }
    let mut stream = SslStream::new(ssl, Watched::new(tcp)).map_err(local)?;
    let handshake = timeout_at(end, Pin::new(&mut stream).connect())
        .await
        .map_err(|_| Error::Timeout {
            phase,
            limit,
            request_sent: false,
        })?;
    let client_certificate_requested = stream.get_ref().certificate_requested();
    handshake.map_err(|e| from_handshake(&e, client_certificate_requested))?;

    let chain = peer_chain(&stream)?;
    legacy
        .inner
        .policy
        .verify(&chain, &config.host, legacy.now())
        .map_err(Error::Trust)?;
    let ssl = stream.ssl();
    tracing::debug!(
        version = ssl.version_str(),
        cipher = ssl.current_cipher().map_or("none", |c| c.name()),
        "legacy TLS handshake"
    );
    let resumed = ssl.session_reused();
    Ok(Established {
        stream: Box::new(stream),
        client_certificate_requested,
        tls13: false,
        resumed,
    })
}

/// The peer's chain as it sent it, leaf first (OpenSSL's client-side chain includes the leaf).
fn peer_chain<S>(stream: &SslStream<S>) -> Result<Vec<CertificateDer<'static>>, Error> {
    let Some(stack) = stream.ssl().peer_cert_chain() else {
        return Ok(Vec::new());
    };
    stack
        .iter()
        .map(|cert| cert.to_der().map(CertificateDer::from))
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Local {
            detail: error::bounded(&format!("encoding the peer's certificate: {e}")),
        })
}

/// Sorts a failed OpenSSL handshake. Nothing here suggests another transport: this one is the
/// last resort. `client_certificate_requested` says whether the server sent a
/// CertificateRequest; nothing was written yet, so no error here may have reached the device.
fn from_handshake(error: &openssl::ssl::Error, client_certificate_requested: bool) -> Error {
    if client_certificate_requested {
        // This transport never offers a certificate, so a server that asked for one and then
        // failed the handshake (OpenSSL servers say handshake_failure under TLS 1.2) or hung
        // up did so because it got none.
        return Error::ClientCertificateRequired;
    }
    if let Some(io) = error.io_error() {
        return Error::Unreachable {
            failure: NetworkFailure::from_io_kind(io.kind()),
            detail: error::bounded(&io.to_string()),
            request_sent: false,
        };
    }
    if error.code() == ErrorCode::SYSCALL || error.code() == ErrorCode::ZERO_RETURN {
        return Error::Tls {
            detail: "the workstation closed the connection during the TLS handshake".to_owned(),
            request_sent: false,
        };
    }
    let detail = match error.ssl_error() {
        Some(stack) => describe(stack),
        None => error.to_string(),
    };
    Error::Tls {
        detail: error::bounded(&detail),
        request_sent: false,
    }
}

/// The TCP stream under OpenSSL, its incoming bytes fed to a [`HandshakeScanner`].
#[derive(Debug)]
struct Watched {
    tcp: TcpStream,
    scanner: HandshakeScanner,
}

impl Watched {
    fn new(tcp: TcpStream) -> Self {
        Self {
            tcp,
            scanner: HandshakeScanner::default(),
        }
    }

    fn certificate_requested(&self) -> bool {
        self.scanner.certificate_requested
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if polled.is_ready() && !this.scanner.done {
            this.scanner
                .feed(buf.filled().get(before..).unwrap_or_default());
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}

const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const CERTIFICATE_REQUEST: u8 = 13;

/// Reads the TLS records a server sends up to its ChangeCipherSpec, across any split of the
/// bytes into reads and of the handshake messages into records, and notes a CertificateRequest.
/// Message bodies are skipped, not kept; anything that is not a handshake or alert record ends
/// the scan.
#[derive(Debug, Default)]
struct HandshakeScanner {
    record_header: [u8; 5],
    record_header_len: usize,
    record_type: u8,
    record_left: usize,
    message_header: [u8; 4],
    message_header_len: usize,
    message_left: usize,
    certificate_requested: bool,
    done: bool,
}

impl HandshakeScanner {
    fn feed(&mut self, mut bytes: &[u8]) {
        while !self.done && !bytes.is_empty() {
            if self.record_left == 0 {
                if !fill(
                    &mut self.record_header,
                    &mut self.record_header_len,
                    &mut bytes,
                ) {
                    return;
                }
                self.record_header_len = 0;
                let [kind, _, _, high, low] = self.record_header;
                self.record_type = kind;
                self.record_left = usize::from(u16::from_be_bytes([high, low]));
                // The ChangeCipherSpec ends the messages sent in the clear; anything but a
                // handshake or alert record before it is not TLS 1.2 as this side knows it.
                self.done = !matches!(kind, HANDSHAKE | ALERT);
                continue;
            }
            let (payload, rest) = bytes.split_at(self.record_left.min(bytes.len()));
            bytes = rest;
            self.record_left -= payload.len();
            if self.record_type == HANDSHAKE {
                self.scan_messages(payload);
            }
        }
    }

    fn scan_messages(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.message_left == 0 {
                if !fill(
                    &mut self.message_header,
                    &mut self.message_header_len,
                    &mut bytes,
                ) {
                    return;
                }
                self.message_header_len = 0;
                let [kind, a, b, c] = self.message_header;
                self.certificate_requested |= kind == CERTIFICATE_REQUEST;
                self.message_left =
                    usize::try_from(u32::from_be_bytes([0, a, b, c])).unwrap_or(usize::MAX);
                continue;
            }
            let skipped = self.message_left.min(bytes.len());
            bytes = bytes.get(skipped..).unwrap_or_default();
            self.message_left -= skipped;
        }
    }
}

/// Moves bytes from the front of `src` into `dst` after its first `filled`; whether `dst` is
/// then full.
fn fill<const N: usize>(dst: &mut [u8; N], filled: &mut usize, src: &mut &[u8]) -> bool {
    let take = N.saturating_sub(*filled).min(src.len());
    let (head, rest) = src.split_at(take);
    if let Some(slot) = dst.get_mut(*filled..*filled + take) {
        slot.copy_from_slice(head);
    }
    *filled += take;
    *src = rest;
    *filled >= N
}

/// OpenSSL's reasons, without its file names and line numbers.
fn describe(stack: &ErrorStack) -> String {
    let reasons: Vec<&str> = stack
        .errors()
        .iter()
        .filter_map(openssl::error::Error::reason)
        .collect();
    if reasons.is_empty() {
        stack.to_string()
    } else {
        format!("OpenSSL: {}", reasons.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_is_the_documented_one() {
        let mut builder = client_context_builder().unwrap();
        let options = builder.options();
        assert!(options.contains(SslOptions::from_bits_retain(
            openssl_sys::SSL_OP_LEGACY_SERVER_CONNECT
        )));
        assert!(options.contains(SslOptions::NO_RENEGOTIATION));
        assert!(options.contains(SslOptions::NO_SSLV3));
        assert!(!options.contains(SslOptions::DONT_INSERT_EMPTY_FRAGMENTS));
        assert_eq!(builder.min_proto_version(), Some(SslVersion::TLS1_1));
        assert_eq!(builder.max_proto_version(), Some(SslVersion::TLS1_2));
        let context = builder.build();
        assert_eq!(context.verify_mode(), SslVerifyMode::NONE);
        assert_eq!(context.security_level(), 0);
    }

    #[test]
    fn every_suite_of_the_list_is_known_to_this_openssl() {
        // set_cipher_list fails only when nothing matches, so try the suites one by one.
        let suites: Vec<&str> = LEGACY_CIPHER_LIST
            .split(':')
            .filter(|name| !name.starts_with('@'))
            .collect();
        assert_eq!(suites.len(), 14);
        for suite in suites {
            let mut builder = SslContextBuilder::new(SslMethod::tls_client()).unwrap();
            assert!(
                builder
                    .set_cipher_list(&format!("{suite}:@SECLEVEL=0"))
                    .is_ok(),
                "{suite}"
            );
        }
        let mut builder = SslContextBuilder::new(SslMethod::tls_client()).unwrap();
        assert!(builder.set_cipher_list("NO-SUCH-SUITE").is_err());
    }

    fn message(kind: u8, body_len: usize) -> Vec<u8> {
        let len = u32::try_from(body_len).unwrap().to_be_bytes();
        let mut message = vec![kind, len[1], len[2], len[3]];
        message.resize(4 + body_len, 0x0d);
        message
    }

    fn record(kind: u8, payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(payload.len()).unwrap().to_be_bytes();
        let mut record = vec![kind, 3, 3, len[0], len[1]];
        record.extend_from_slice(payload);
        record
    }

    /// A TLS 1.2 server's first flight: ServerHello, Certificate, [CertificateRequest,]
    /// ServerHelloDone, the messages split over two records in the middle of the Certificate.
    fn server_flight(with_request: bool) -> Vec<u8> {
        let mut messages = message(2, 70);
        messages.extend(message(11, 1200));
        if with_request {
            messages.extend(message(CERTIFICATE_REQUEST, 40));
        }
        messages.extend(message(14, 0));
        let (first, second) = messages.split_at(500);
        let mut flight = record(HANDSHAKE, first);
        flight.extend(record(HANDSHAKE, second));
        flight
    }

    fn scan(bytes: &[u8], read_size: usize) -> HandshakeScanner {
        let mut scanner = HandshakeScanner::default();
        for chunk in bytes.chunks(read_size) {
            scanner.feed(chunk);
        }
        scanner
    }

    #[test]
    fn a_certificate_request_is_seen_however_the_bytes_are_read() {
        for read_size in [1, 2, 3, 5, 7, 64, 4096] {
            assert!(
                scan(&server_flight(true), read_size).certificate_requested,
                "{read_size}"
            );
            let without = scan(&server_flight(false), read_size);
            assert!(!without.certificate_requested, "{read_size}");
            assert!(!without.done, "{read_size}");
        }
        // Message bodies are skipped: a body byte that reads as a CertificateRequest type
        // (0x0d fills them all) is not taken for one.
        assert!(!scan(&record(HANDSHAKE, &message(11, 300)), 1).certificate_requested);
    }

    #[test]
    fn the_scan_ends_at_the_change_cipher_spec() {
        let mut bytes = server_flight(false);
        bytes.extend(record(20, &[1]));
        // What follows is encrypted: a record that would parse as a CertificateRequest.
        bytes.extend(record(HANDSHAKE, &message(CERTIFICATE_REQUEST, 8)));
        let scanner = scan(&bytes, 3);
        assert!(scanner.done);
        assert!(!scanner.certificate_requested);
    }

    #[test]
    fn anything_but_tls_ends_the_scan_without_a_verdict() {
        let scanner = scan(b"HTTP/1.1 400 Bad Request\r\n\r\n", 4);
        assert!(scanner.done && !scanner.certificate_requested);
        // Arbitrary bytes never panic the scanner.
        let mut state = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..10_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state.to_le_bytes()[0] % 24
            })
            .collect();
        for read_size in [1, 9, 1000] {
            let _ = scan(&noise, read_size);
        }
    }

    #[test]
    fn a_server_that_asked_for_a_certificate_and_failed_demands_one() {
        let mut builder = SslContextBuilder::new(SslMethod::tls_client()).unwrap();
        let stack = builder.set_cipher_list("NO-SUCH-SUITE").unwrap_err();
        let error = openssl::ssl::Error::from(stack);
        assert_eq!(
            from_handshake(&error, true),
            Error::ClientCertificateRequired
        );
        assert!(matches!(from_handshake(&error, false), Error::Tls { .. }));
    }

    #[test]
    fn openssl_reasons_are_kept_without_file_names() {
        let mut builder = SslContextBuilder::new(SslMethod::tls_client()).unwrap();
        let stack = builder.set_cipher_list("NO-SUCH-SUITE").unwrap_err();
        let described = describe(&stack);
        assert!(described.starts_with("OpenSSL: "), "{described}");
        assert!(!described.contains(".c:"), "{described}");
        let error = from_handshake(&openssl::ssl::Error::from(stack), false);
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
    }
}
