//! The crate's one error type, and how transport failures are sorted into it.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

use amt_digest::Realm;
use amt_trust::TrustError;
use amt_wsman::Fault;
use rustls::AlertDescription;

/// Longest piece of foreign text (a library's message, a header) copied into an error.
const MAX_DETAIL_CHARS: usize = 200;

/// Which phase of a call ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Resolving the name and opening the TCP connection
    /// ([`Timeouts::connect`](crate::Timeouts::connect)).
    Connect,
    /// The TLS handshake ([`Timeouts::tls_handshake`](crate::Timeouts::tls_handshake)).
    TlsHandshake,
    /// The call as a whole ([`Timeouts::request`](crate::Timeouts::request)): waiting for the
    /// reply, or any phase that the call's remaining time cut short.
    Request,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connecting",
            Self::TlsHandshake => "the TLS handshake",
            Self::Request => "the request",
        })
    }
}

/// How the network failed, for [`Error::Unreachable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NetworkFailure {
    /// The name did not resolve to any address.
    Dns,
    /// The workstation refused the TCP connection (nothing listens on the port).
    Refused,
    /// No route to the workstation or its network.
    NoRoute,
    /// The connection was reset or aborted.
    Reset,
    /// The workstation closed the connection before the reply was complete.
    Closed,
    /// Another socket error.
    Other,
}

impl NetworkFailure {
    pub(crate) fn from_io_kind(kind: io::ErrorKind) -> Self {
        use io::ErrorKind as K;
        match kind {
            K::ConnectionRefused => Self::Refused,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => Self::Reset,
            K::UnexpectedEof => Self::Closed,
            K::NetworkUnreachable | K::HostUnreachable | K::NetworkDown => Self::NoRoute,
            _ => Self::Other,
        }
    }
}

impl fmt::Display for NetworkFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Dns => "the name does not resolve",
            Self::Refused => "the connection was refused",
            Self::NoRoute => "there is no route to it",
            Self::Reset => "the connection was reset",
            Self::Closed => "the connection was closed",
            Self::Other => "the network failed",
        })
    }
}

/// Everything that can go wrong with a call.
///
/// Each variant maps to one row of the product's error table (the crate docs list the
/// mapping). No variant carries a password, an `Authorization` value or anything derived from
/// them.
///
/// [`Error::may_have_reached_device`] tells whether the request may have been acted on, which
/// decides whether a power change starts the cooldown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A phase did not finish within its time limit.
    #[error("network timeout: {phase} took longer than {limit:?}")]
    Timeout {
        /// The phase that ran out of time.
        phase: Phase,
        /// Its limit.
        limit: Duration,
        /// Whether a request the device may act on may have been written: see
        /// [`Error::may_have_reached_device`].
        request_sent: bool,
    },

    /// The workstation could not be reached, or the connection broke.
    #[error("the workstation could not be reached: {failure} ({detail})")]
    Unreachable {
        /// What happened.
        failure: NetworkFailure,
        /// The operating system's or library's words for it.
        detail: String,
        /// Whether a request the device may act on may have been written: see
        /// [`Error::may_have_reached_device`].
        request_sent: bool,
    },

    /// The workstation's certificate failed the deployment's trust policy: root mismatch, name
    /// mismatch, expired, not yet valid, …
    #[error("the workstation's certificate is not trusted: {0}")]
    Trust(#[source] TrustError),

    /// The TLS handshake failed for lack of a protocol version or cipher suite both sides
    /// support: the workstation probably runs Intel AMT 12 or older, which only the legacy
    /// transport reaches.
    #[error(
        "TLS handshake failed: the workstation may need legacy TLS (Intel AMT 12 or lower); \
         turn on its legacy TLS switch ({detail})"
    )]
    LegacyTlsRequired {
        /// What the handshake reported.
        detail: String,
    },

    /// The workstation asked for a client certificate (mutual TLS), which is not supported.
    #[error("the workstation requires mutual TLS (a client certificate), which is not supported")]
    ClientCertificateRequired,

    /// Another TLS failure: the peer does not speak TLS, or broke the protocol, or sent an alert
    /// once the handshake was done.
    #[error("TLS failed: {detail}")]
    Tls {
        /// What the TLS library reported.
        detail: String,
        /// Whether a request the device may act on may have been written: see
        /// [`Error::may_have_reached_device`].
        request_sent: bool,
    },

    /// The workstation refused the credentials: a 401 answered a fresh digest nonce. The user
    /// name or password is wrong, or Intel AMT has locked logins after repeated failures. Never
    /// retried, so that a wrong password does not lock the account.
    #[error(
        "the workstation refused the credentials of {username:?} (wrong user name or password, \
         or logins are locked after repeated failures)"
    )]
    CredentialsRejected {
        /// The user name that was refused.
        username: String,
    },

    /// A 401 named another digest realm than this session's: another device answered (an
    /// address was reused, or traffic is intercepted).
    #[error("the digest realm changed from {expected} to {found}: another device answered")]
    RealmChanged {
        /// The realm the session was pinned to.
        expected: Realm,
        /// The realm of the new challenge.
        found: Realm,
    },

    /// The device answered with a SOAP fault (HTTP 400, or 500, with a `Fault` body).
    #[error("Intel AMT returned a fault: {0}")]
    Fault(Box<Fault>),

    /// Any other unexpected reply: another HTTP status (redirects are never followed), a body
    /// that is not the expected XML, an oversized body, a `RelatesTo` naming another request,
    /// a SOAP fault with HTTP 200, a digest challenge that cannot be used.
    #[error("unexpected response from Intel AMT: {detail}")]
    Protocol {
        /// What was wrong.
        detail: String,
        /// Whether a request the device may act on may have been written: see
        /// [`Error::may_have_reached_device`]. `false` for a 401 (whatever its challenge) and for
        /// a challenge that could not be answered, so nothing was sent.
        request_sent: bool,
    },

    /// A local failure that is not the workstation's doing (the operating system's random
    /// source failed).
    #[error("local failure: {detail}")]
    Local {
        /// What failed.
        detail: String,
    },
}

impl Error {
    /// Whether the request may have reached the device (and been acted on): whether the
    /// cooldown of a power change must start.
    ///
    /// `true` once a request the device may act on may have been written: an authenticated
    /// request handed to the connection (whatever follows: a timeout, a reset, a closed
    /// connection, a TLS alert, HTTP 5xx, an unreadable reply), or any request the device
    /// answered with something other than a digest challenge (a device that answers requests
    /// without credentials may act on them). So also for every [`Error::Fault`].
    ///
    /// `false` when the failure is known to come before the device could act: connection and TLS
    /// handshake failures ([`Error::Trust`], [`Error::LegacyTlsRequired`],
    /// [`Error::ClientCertificateRequired`]), a 401 (refused credentials, a realm change, a
    /// challenge that cannot be used: a 401 proves the device did not act), and a failure while
    /// only the unauthenticated digest probe was out (a session's first request carries no
    /// credentials, and Intel AMT acts on no request without them).
    pub fn may_have_reached_device(&self) -> bool {
        match self {
            Self::Timeout { request_sent, .. }
            | Self::Unreachable { request_sent, .. }
            | Self::Tls { request_sent, .. }
            | Self::Protocol { request_sent, .. } => *request_sent,
            Self::Fault(_) => true,
            Self::Trust(_)
            | Self::LegacyTlsRequired { .. }
            | Self::ClientCertificateRequired
            | Self::CredentialsRejected { .. }
            | Self::RealmChanged { .. }
            | Self::Local { .. } => false,
        }
    }

    /// The SOAP fault, when the device sent one.
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            Self::Fault(fault) => Some(fault),
            _ => None,
        }
    }

    /// A reply that is not what was expected (so the request reached the device).
    pub(crate) fn protocol(detail: impl fmt::Display) -> Self {
        Self::Protocol {
            detail: bounded(&detail.to_string()),
            request_sent: true,
        }
    }

    /// A protocol failure that proves the device did not act: a 401 without a usable challenge,
    /// or a challenge this side cannot answer (so nothing was sent).
    pub(crate) fn protocol_unsent(detail: impl fmt::Display) -> Self {
        Self::Protocol {
            detail: bounded(&detail.to_string()),
            request_sent: false,
        }
    }

    /// Marks the error as coming after an earlier attempt of the same call that may have
    /// reached the device, if there was one. Only a read is ever made again after such an
    /// attempt, and for a read the answer decides nothing, so the variants without the flag
    /// (handshake refusals on the reconnection) are left as they are.
    pub(crate) fn after_attempt_at_risk(mut self, earlier_at_risk: bool) -> Self {
        if earlier_at_risk {
            match &mut self {
                Self::Timeout { request_sent, .. }
                | Self::Unreachable { request_sent, .. }
                | Self::Tls { request_sent, .. }
                | Self::Protocol { request_sent, .. } => *request_sent = true,
                _ => {}
            }
        }
        self
    }

    /// A connection that broke mid-call (not a timeout, not a TLS verdict): the kind a read
    /// may be resent after once, on a reused connection.
    pub(crate) fn is_broken_connection(&self) -> bool {
        matches!(
            self,
            Self::Unreachable {
                failure: NetworkFailure::Closed | NetworkFailure::Reset,
                ..
            }
        )
    }
}

/// Cuts foreign text to [`MAX_DETAIL_CHARS`] at a character boundary.
pub(crate) fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_owned(),
    }
}

/// Sorts a failed TLS handshake. `client_certificate_requested` says whether the server sent a
/// CertificateRequest (seen by [`tls_config`](crate::tls_config)'s resolver). Nothing was
/// written yet, so no error here may have reached the device.
pub(crate) fn from_handshake(error: &io::Error, client_certificate_requested: bool) -> Error {
    if let Some(trust) = amt_trust::trust_error_in_io(error) {
        return Error::Trust(trust.clone());
    }
    if let Some(tls) = rustls_error_in_io(error) {
        return from_rustls_handshake(tls, client_certificate_requested);
    }
    if client_certificate_requested {
        // The server asked for a certificate, got none and hung up.
        return Error::ClientCertificateRequired;
    }
    if error.kind() == io::ErrorKind::UnexpectedEof {
        // Firmware that cannot negotiate anything rustls offers may hang up on the
        // ClientHello without an alert.
        return Error::LegacyTlsRequired {
            detail: "the workstation closed the connection during the TLS handshake".to_owned(),
        };
    }
    from_io(error, false)
}

/// Sorts a rustls error of a handshake.
fn from_rustls_handshake(error: &rustls::Error, client_certificate_requested: bool) -> Error {
    use rustls::{Error as E, PeerIncompatible as P, PeerMisbehaved as M};
    let detail = bounded(&error.to_string());
    match error {
        E::AlertReceived(AlertDescription::CertificateRequired)
        | E::PeerIncompatible(P::NoCertificateRequestSignatureSchemesInCommon) => {
            Error::ClientCertificateRequired
        }
        // A server that asked for a certificate and then failed the handshake did so because
        // it got none, whatever alert it chose (TLS 1.2 servers often say handshake_failure).
        E::AlertReceived(_) if client_certificate_requested => Error::ClientCertificateRequired,
        E::AlertReceived(
            AlertDescription::HandshakeFailure
            | AlertDescription::ProtocolVersion
            | AlertDescription::InsufficientSecurity,
        )
        | E::PeerIncompatible(_)
        | E::PeerMisbehaved(
            M::SelectedUnofferedCipherSuite
            | M::SelectedUnusableCipherSuiteForVersion
            | M::SelectedTls12UsingTls13VersionExtension
            | M::SelectedUnofferedKxGroup,
        ) => Error::LegacyTlsRequired { detail },
        _ => Error::Tls {
            detail,
            request_sent: false,
        },
    }
}

/// What a session knew about a request on an established connection when the connection
/// failed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Attempt {
    /// A request the device may act on may have been written (the value of the error's
    /// `request_sent`).
    pub(crate) request_sent: bool,
    /// The connection's handshake was TLS 1.3 and nothing has been read on it yet, so the
    /// server may still be judging the client's (empty) certificate: see
    /// [`from_rustls_established`].
    pub(crate) handshake_verdict_pending: bool,
    /// The server asked for a client certificate in the handshake (said in the detail only).
    pub(crate) client_certificate_requested: bool,
}

impl Attempt {
    /// Nothing the device may act on was written, and the server asked for a client
    /// certificate in a TLS 1.3 handshake whose verdict may be pending: a failure now is taken
    /// as that verdict, whatever form it takes (some servers hang up without an alert). Since
    /// nothing was at risk, the guess cannot cost the at-most-once rule anything.
    fn presumed_certificate_refusal(self) -> bool {
        !self.request_sent && self.client_certificate_requested && self.handshake_verdict_pending
    }
}

/// Sorts an error of an established connection, as hyper reports it while sending a request or
/// reading its reply.
pub(crate) fn from_hyper(error: &hyper::Error, attempt: Attempt) -> Error {
    let request_sent = attempt.request_sent;
    if let Some(io_error) = io_error_in(error) {
        if let Some(trust) = amt_trust::trust_error_in_io(io_error) {
            return Error::Trust(trust.clone());
        }
        if let Some(tls) = rustls_error_in_io(io_error) {
            return from_rustls_established(tls, attempt);
        }
        if attempt.presumed_certificate_refusal() {
            return Error::ClientCertificateRequired;
        }
        return Error::Unreachable {
            failure: NetworkFailure::from_io_kind(io_error.kind()),
            detail: with_certificate_hint(&io_error.to_string(), attempt),
            request_sent,
        };
    }
    if error.is_incomplete_message() || error.is_canceled() || error.is_closed() {
        if attempt.presumed_certificate_refusal() {
            return Error::ClientCertificateRequired;
        }
        return Error::Unreachable {
            failure: NetworkFailure::Closed,
            detail: with_certificate_hint(&error.to_string(), attempt),
            request_sent,
        };
    }
    if error.is_parse() || error.is_parse_too_large() || error.is_parse_status() {
        return Error::Protocol {
            detail: bounded(&format!("the reply is not valid HTTP/1.1: {error}")),
            request_sent,
        };
    }
    Error::Unreachable {
        failure: NetworkFailure::Other,
        detail: bounded(&error.to_string()),
        request_sent,
    }
}

/// Sorts a rustls error of an established connection.
///
/// A `certificate_required` alert that may be the server's verdict on the handshake is
/// [`Error::ClientCertificateRequired`] even once the request was written, and it proves that
/// the request was not acted on: under TLS 1.3 the client's handshake ends when it has sent its
/// (empty) Certificate and its Finished, so it writes the request at once, while the server
/// judges that Certificate before it completes its own side of the handshake, and it reads no
/// application data before that (this client offers neither 0-RTT data nor post-handshake
/// authentication, the only ways around it). A server sends `certificate_required` only as
/// that verdict (RFC 8446, section 6.2), so before the first reply of a TLS 1.3 connection it
/// says that the handshake failed and the request was never read. Any other alert, or one at
/// another time, is an [`Error::Tls`] that keeps a written request at risk (unless nothing
/// was at risk: [`Attempt::presumed_certificate_refusal`]); it never suggests legacy TLS,
/// since a handshake succeeded.
fn from_rustls_established(error: &rustls::Error, attempt: Attempt) -> Error {
    match error {
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired)
            if attempt.handshake_verdict_pending =>
        {
            Error::ClientCertificateRequired
        }
        rustls::Error::AlertReceived(_) if attempt.presumed_certificate_refusal() => {
            Error::ClientCertificateRequired
        }
        _ => Error::Tls {
            detail: with_certificate_hint(&error.to_string(), attempt),
            request_sent: attempt.request_sent,
        },
    }
}

/// Bounds `detail`, and says that the server had asked for a client certificate on this
/// connection's first exchange, a likely cause that this side cannot prove.
fn with_certificate_hint(detail: &str, attempt: Attempt) -> String {
    let detail = bounded(detail);
    if attempt.client_certificate_requested && attempt.handshake_verdict_pending {
        format!("{detail} (the workstation had asked for a client certificate)")
    } else {
        detail
    }
}

/// Sorts an I/O error that is not a TLS verdict.
fn from_io(error: &io::Error, request_sent: bool) -> Error {
    Error::Unreachable {
        failure: NetworkFailure::from_io_kind(error.kind()),
        detail: bounded(&error.to_string()),
        request_sent,
    }
}

/// Sorts a TCP connection failure.
pub(crate) fn from_connect(error: &io::Error) -> Error {
    from_io(error, false)
}

fn rustls_error_in_io(error: &io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

/// The first `io::Error` in an error's `source()` chain.
fn io_error_in<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a io::Error> {
    // Bounded, because a hand-written `source()` could cycle.
    let mut current = error;
    for _ in 0..16 {
        if let Some(found) = current.downcast_ref::<io::Error>() {
            return Some(found);
        }
        current = current.source()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake_alert(description: AlertDescription, requested: bool) -> Error {
        let io = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(description),
        );
        from_handshake(&io, requested)
    }

    #[test]
    fn may_have_reached_device_follows_the_sending() {
        let timeout = |request_sent| Error::Timeout {
            phase: Phase::Request,
            limit: Duration::from_secs(1),
            request_sent,
        };
        assert!(timeout(true).may_have_reached_device());
        assert!(!timeout(false).may_have_reached_device());
        assert!(Error::protocol("HTTP 500").may_have_reached_device());
        assert!(!Error::protocol_unsent("a 401 without a challenge").may_have_reached_device());
        assert!(Error::Fault(Box::new(Fault::access_denied())).may_have_reached_device());
        let rejected = Error::CredentialsRejected {
            username: "admin".into(),
        };
        assert!(!rejected.may_have_reached_device());
        let mismatch = TrustError::RootMismatch {
            leaf_issuer: None,
            root: "CN=Provider CA".into(),
        };
        assert!(!Error::Trust(mismatch).may_have_reached_device());
        assert!(!Error::ClientCertificateRequired.may_have_reached_device());
    }

    #[test]
    fn an_earlier_attempt_at_risk_marks_the_flagged_errors() {
        let unsent = Error::protocol_unsent("x");
        assert!(
            !unsent
                .clone()
                .after_attempt_at_risk(false)
                .may_have_reached_device()
        );
        assert!(unsent.after_attempt_at_risk(true).may_have_reached_device());
        let refused = from_connect(&io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(
            refused
                .after_attempt_at_risk(true)
                .may_have_reached_device()
        );
        assert_eq!(
            Error::ClientCertificateRequired.after_attempt_at_risk(true),
            Error::ClientCertificateRequired
        );
    }

    fn established(request_sent: bool, pending: bool, requested: bool) -> Attempt {
        Attempt {
            request_sent,
            handshake_verdict_pending: pending,
            client_certificate_requested: requested,
        }
    }

    #[test]
    fn after_the_handshake_only_the_tls_1_3_verdict_is_a_certificate_demand() {
        use rustls::Error as E;
        let required = E::AlertReceived(AlertDescription::CertificateRequired);
        // The verdict on the first read of a TLS 1.3 connection: the request was never read.
        for request_sent in [false, true] {
            let error = from_rustls_established(&required, established(request_sent, true, true));
            assert_eq!(error, Error::ClientCertificateRequired);
            assert!(!error.may_have_reached_device());
        }
        // At any other time it is no handshake verdict, and the request stays at risk.
        let later = from_rustls_established(&required, established(true, false, true));
        assert!(
            matches!(
                later,
                Error::Tls {
                    request_sent: true,
                    ..
                }
            ),
            "{later:?}"
        );
        // Other alerts after the handshake neither suggest legacy TLS nor demand a certificate,
        // even when the server had asked for one; the detail says that it had.
        for alert in [
            AlertDescription::HandshakeFailure,
            AlertDescription::ProtocolVersion,
            AlertDescription::InsufficientSecurity,
            AlertDescription::BadCertificate,
        ] {
            let error =
                from_rustls_established(&E::AlertReceived(alert), established(true, true, true));
            let Error::Tls {
                detail,
                request_sent: true,
            } = &error
            else {
                panic!("{alert:?}: {error:?}");
            };
            assert!(
                detail.contains("asked for a client certificate"),
                "{detail}"
            );
            assert!(error.may_have_reached_device());
        }
        // With nothing at risk, a server that asked for a certificate is taken at its word
        // whatever it says, as during the handshake; without a request for one, it is not.
        let probe = from_rustls_established(
            &E::AlertReceived(AlertDescription::HandshakeFailure),
            established(false, true, true),
        );
        assert_eq!(probe, Error::ClientCertificateRequired);
        let unsent = from_rustls_established(
            &E::AlertReceived(AlertDescription::HandshakeFailure),
            established(false, true, false),
        );
        assert!(
            matches!(unsent, Error::Tls { request_sent: false, ref detail } if !detail.contains("certificate")),
            "{unsent:?}"
        );
    }

    #[test]
    fn handshake_alerts_are_sorted() {
        assert!(matches!(
            handshake_alert(AlertDescription::HandshakeFailure, false),
            Error::LegacyTlsRequired { .. }
        ));
        assert!(matches!(
            handshake_alert(AlertDescription::ProtocolVersion, false),
            Error::LegacyTlsRequired { .. }
        ));
        assert_eq!(
            handshake_alert(AlertDescription::HandshakeFailure, true),
            Error::ClientCertificateRequired
        );
        assert_eq!(
            handshake_alert(AlertDescription::CertificateRequired, false),
            Error::ClientCertificateRequired
        );
        assert!(matches!(
            handshake_alert(AlertDescription::DecodeError, false),
            Error::Tls {
                request_sent: false,
                ..
            }
        ));
        let incompatible = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::ServerDoesNotSupportTls12Or13,
            ),
        );
        assert!(matches!(
            from_handshake(&incompatible, false),
            Error::LegacyTlsRequired { .. }
        ));
    }

    #[test]
    fn socket_errors_are_network_failures() {
        let refused = from_connect(&io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(matches!(
            refused,
            Error::Unreachable {
                failure: NetworkFailure::Refused,
                request_sent: false,
                ..
            }
        ));
        let eof = from_handshake(&io::Error::from(io::ErrorKind::UnexpectedEof), false);
        assert!(matches!(eof, Error::LegacyTlsRequired { .. }));
        let hung_up = from_handshake(&io::Error::from(io::ErrorKind::UnexpectedEof), true);
        assert_eq!(hung_up, Error::ClientCertificateRequired);
        let reset = from_handshake(&io::Error::from(io::ErrorKind::ConnectionReset), false);
        assert!(reset.is_broken_connection());
        assert!(!reset.may_have_reached_device());
    }

    #[test]
    fn details_are_bounded() {
        let long = "é".repeat(1000);
        let Error::Protocol { detail, .. } = Error::protocol(&long) else {
            unreachable!("protocol() makes a Protocol error")
        };
        assert_eq!(detail.chars().count(), MAX_DETAIL_CHARS + 1);
    }

    #[test]
    fn displays_say_what_happened() {
        let timeout = Error::Timeout {
            phase: Phase::TlsHandshake,
            limit: Duration::from_millis(300),
            request_sent: false,
        };
        assert_eq!(
            timeout.to_string(),
            "network timeout: the TLS handshake took longer than 300ms"
        );
        let legacy = Error::LegacyTlsRequired { detail: "x".into() };
        assert!(legacy.to_string().contains("legacy TLS switch"));
    }
}
