//! `amt-client`: one Intel AMT workstation session over HTTPS.
//!
//! A [`Session`] talks to one workstation: TLS through the deployment's rustls configuration
//! (the trust policy of `amt-trust`), HTTP/1.1 through hyper's per-connection API, HTTP Digest
//! through `amt-digest`, and WS-Management messages through `amt-wsman`. Its calls are typed:
//! they return `amt-power` and `amt-wsman` values, or one [`Error`] from which every row of the
//! product's error table can be told apart.
//!
//! # Example
//!
//! A simulated AMT 16 workstation on loopback (`amt-sim`), its certificate issued by a test CA
//! that plays the deployment's provider root:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//!
//! use amt_client::{Session, SessionConfig, tls_config};
//! use amt_power::{PowerState, ReturnValue};
//! use amt_sim::{DeviceConfig, SimCa, SimDevice};
//! use amt_trust::{ClientTlsOptions, Host, ProviderRoot, TrustPolicy};
//! use secrecy::SecretString;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ca = SimCa::generate("Example provider CA")?;
//! let device = SimDevice::start(
//!     DeviceConfig::new("P@ssw0rd-16").on("127.0.0.1:0".parse()?),
//!     &ca,
//! )
//! .await?;
//!
//! // One TLS configuration per deployment, shared by all its sessions.
//! let policy = TrustPolicy::new(ProviderRoot::from_pem(ca.cert_pem())?);
//! let tls = tls_config(Arc::new(policy), &ClientTlsOptions::new());
//!
//! let host = Host::parse("127.0.0.1")?;
//! let mut config = SessionConfig::new(host, tls, "admin", SecretString::from("P@ssw0rd-16"));
//! config.port = device.addr().port(); // 16993 by default
//! let session = Session::new(config);
//!
//! session.validate_credentials().await?;
//! let status = session.power_status().await?;
//! assert_eq!(status.power_state, PowerState::On);
//! assert!(status.available.contains(&10)); // a reset is possible now
//!
//! // The callback runs when the authenticated request is handed to the connection:
//! // that is when a cooldown starts.
//! let mut sent_at = None;
//! let value = session
//!     .request_power_state_change(10, &mut || sent_at = Some(Instant::now()))
//!     .await?;
//! assert_eq!(value, ReturnValue::Completed);
//! assert!(sent_at.is_some());
//! assert_eq!(session.amt_version().await?.to_string(), "16.1.25");
//!
//! // Four calls, five HTTP requests: only the first call drew a digest challenge.
//! assert_eq!(device.counters().requests, 5);
//! # Ok(())
//! # }
//! ```
//!
//! # What a session does
//!
//! - **One connection, one call at a time.** Calls from any number of tasks queue on the
//!   session (first come, first served) and run one at a time over one kept-alive HTTP/1.1
//!   connection (`POST /wsman`, origin-form URI, explicit `Host` header with IPv6 in brackets,
//!   `Content-Type: application/soap+xml;charset=UTF-8`). The connection is opened on the first
//!   call and again whenever the device closed it; TLS sessions resume through the shared
//!   configuration's cache, across sessions too.
//! - **Digest, pre-emptively.** The challenge of the first 401 is cached and answered with `nc`
//!   incremented, so a call costs one HTTP request in steady state. A 401 on a cached nonce is
//!   answered once with the new challenge (on a new connection: AMT's 401 closes it). A 401 on
//!   a fresh nonce is [`Error::CredentialsRejected`] and is never retried, since Intel AMT locks
//!   logins after ten failures: a call costs the device at most two failed logins. A challenge
//!   from another realm is [`Error::RealmChanged`]. cnonces and `MessageID`s come from the
//!   operating system's random source.
//! - **Timeouts.** Connecting (name resolution and TCP), the TLS handshake, and the call as a
//!   whole each have a limit ([`Timeouts`]: 5 s, 5 s, 30 s by default). The call's limit covers
//!   everything from its first connection attempt to the end of the reply, a digest retry or a
//!   reconnection included; time spent queued behind other calls is not counted.
//! - **Bounded replies.** Bodies are read up to [`SessionConfig::max_body_bytes`] (1 MiB by
//!   default; a reply that declares a longer one is refused before its body is read) and
//!   parsed under [`amt_wsman::Limits`]; a reply must relate (`RelatesTo`) to its request.
//!   Redirects are never followed.
//! - **Tracing.** Each call runs in a `debug` span `amt_call` with `host`, `port`, `action`,
//!   `status`, `queued_ms` and `duration_ms`. `status` is recorded as soon as a reply's headers
//!   arrive, so failed calls (faults, 5xx, an unreadable body, a refused login) show it too; a
//!   401 that is answered is left out, the next reply's status being the call's. `queued_ms` is
//!   the time spent waiting behind the session's other calls, `duration_ms` the time from then
//!   to the end of the call. Events say when a connection is opened (resumed or not), a 401 is
//!   answered, or a request is sent again. No password, `Authorization` value or digest response
//!   is ever logged.
//!
//! # At most once
//!
//! [`Session::request_power_state_change`] writes its authenticated request **at most once**.
//! Its `on_send` callback runs each time the authenticated request is handed to a connection;
//! once it may have been written, it is never sent again, whatever follows (timeout, reset, a
//! TLS alert, HTTP 5xx, an unreadable reply). Two cases send it again, and `on_send` runs again
//! (the last run is the send time; the two requests cannot both have reached the device):
//!
//! - a 401: it proves the device did not act, so the new challenge is answered (once);
//! - a kept-alive connection found closed before a byte of the request was written (hyper
//!   hands back a request it never began to serialise): it is sent once on a new connection.
//!
//! On failure, [`Error::may_have_reached_device`] says whether the device may have acted:
//! `false` for connection and TLS handshake failures, a 401 of any kind, and a failure while
//! only the session's first, unauthenticated request was out (Intel AMT acts on no request
//! without credentials: it answers it with the digest challenge); `true` once the authenticated
//! request may have been written, or once the device answered with anything but a challenge.
//!
//! Reads (everything else) are sent again once when a kept-alive connection turns out to be
//! closed before any byte of the reply arrived.
//!
//! # Errors and the product's error table
//!
//! | [`Error`] | row (DESIGN.md section 5) |
//! |---|---|
//! | [`Error::Timeout`] (with its [`Phase`] and limit) | `network_timeout` |
//! | [`Error::Unreachable`] (refused, DNS, reset, closed: [`NetworkFailure`]) | `unreachable` |
//! | [`Error::Trust`] with `TrustError::RootMismatch` | `root_mismatch` |
//! | [`Error::Trust`] with `TrustError::NameMismatch` | `name_mismatch` |
//! | [`Error::Trust`] with any other `TrustError` (expired, not yet valid, …) | `certificate_invalid` |
//! | [`Error::LegacyTlsRequired`] | `legacy_tls_required` |
//! | [`Error::ClientCertificateRequired`] | `client_certificate_required` |
//! | [`Error::CredentialsRejected`] | `credentials_invalid` |
//! | [`Error::Fault`] | `wsman_fault` |
//! | [`Error::Protocol`], [`Error::Tls`], [`Error::RealmChanged`], [`Error::Local`] | `protocol` |
//!
//! A handshake is taken to lack a shared version or cipher (so, legacy TLS) when rustls reports
//! the peer incompatible, receives a `handshake_failure`, `protocol_version` or
//! `insufficient_security` alert, or the peer hangs up during the handshake without a word. A
//! server that sent a CertificateRequest is reported as demanding a client certificate whatever
//! alert ends the handshake; that needs the configuration from [`tls_config`] (with any other,
//! only a `certificate_required` alert says so).
//!
//! Once the handshake is done, no alert suggests legacy TLS, and the only certificate demand is
//! TLS 1.3's: the client's side of a TLS 1.3 handshake ends before the server has judged its
//! (empty) certificate, so the request is written before the verdict arrives. A
//! `certificate_required` alert as the first thing read on a TLS 1.3 connection is that
//! verdict, given before the server read any application data (this client offers neither 0-RTT
//! data nor post-handshake authentication), so it is [`Error::ClientCertificateRequired`] and the
//! request did not reach the device. Any other alert, reset or hang-up then is an [`Error::Tls`]
//! or [`Error::Unreachable`] that may have reached it, its detail saying that the server had
//! asked for a certificate; only while nothing the device may act on was out (the session's
//! first request carries no credentials) is such a failure taken as the refusal, as during the
//! handshake.
//!
//! # Specifications
//!
//! - HTTP/1.1 (RFC 9110, RFC 9112) over TLS 1.3 (RFC 8446) and TLS 1.2 (RFC 5246), ECDHE suites
//!   only, with session resumption (tickets and session ids).
//! - HTTP Digest (RFC 7616, RFC 2617) as Intel AMT speaks it, through `amt-digest`.
//! - DMTF DSP0226 (WS-Management): WS-Transfer Get, WS-Enumeration Enumerate and Pull, Invoke,
//!   Identify (DSP8012); DSP1027 `RequestPowerStateChange`; through `amt-wsman`.
//!
//! # Deviations
//!
//! - Identify is sent with credentials, as Intel AMT wants, not anonymously.
//! - Any 401 closes the connection (Intel AMT's always do).
//! - The reply's `Content-Type` is not checked; the body must parse as SOAP.
//! - A SOAP fault is [`Error::Fault`] with HTTP 400, which Intel AMT sends, and also with
//!   HTTP 500, which SOAP 1.2's HTTP binding (part 2, section 7.5) prescribes for faults not
//!   caused by the request and other WS-Management services send. With HTTP 200, which that
//!   binding never uses for a fault, it is an [`Error::Protocol`] that quotes it.
//! - The legacy transport (below) speaks TLS 1.1, CBC suites and RSA key exchange, which
//!   RFC 8996 and RFC 9325 deprecate, because Intel AMT 9 to 12 offer nothing else.
//! - The legacy transport's "legacy server connect" (a server without RFC 5746 secure
//!   renegotiation, as that firmware is) is not exercised end to end: an OpenSSL server always
//!   answers the client's renegotiation signal, so the simulator's legacy listeners cannot leave
//!   it out (`amt-sim` says so too). Only the option itself is tested.
//!
//! # Legacy TLS (cargo feature `legacy-tls`)
//!
//! Intel AMT 11 and older speak only TLS 1.0/1.1 with RSA key exchange, and Intel AMT 12
//! TLS 1.1/1.2 with RSA key exchange or DHE; neither supports RFC 5746 secure renegotiation.
//! rustls reaches none of that, by design. With the feature on, `TlsMode::Legacy` carries a
//! `LegacyTlsConfig` (one per deployment, built from the same `TrustPolicy`) and the session
//! connects through OpenSSL instead:
//!
//! - TLS 1.1 to 1.2 (never 1.0), the AES suites of `LEGACY_CIPHER_LIST` (ECDHE, DHE, then RSA
//!   key exchange) at OpenSSL security level 0, servers without secure renegotiation accepted
//!   (`SSL_OP_LEGACY_SERVER_CONNECT`) but renegotiation refused, no SNI for IP addresses, no
//!   client certificate, no TLS session resumption;
//! - OpenSSL verifies nothing; once the handshake is done the deployment's trust policy runs on
//!   the chain the workstation sent, before the connection is handed to HTTP, so nothing (least
//!   of all credentials) is written to an untrusted peer, and the refusals are the same
//!   [`Error::Trust`] values as on the modern transport. The policy also refuses leaf RSA keys
//!   below 2048 bits, which nothing else checks under RSA key exchange;
//! - a failed legacy handshake is [`Error::Tls`] (or [`Error::Unreachable`] for a socket
//!   failure): there is nothing further to fall back to. A server that sent a CertificateRequest
//!   and then failed the handshake (OpenSSL servers answer a missing certificate with
//!   `handshake_failure` under TLS 1.2) is [`Error::ClientCertificateRequired`], as on the modern
//!   transport: the `openssl` crate has no safe client-certificate callback, so the transport
//!   reads the server's handshake messages, which TLS 1.2 and older send in the clear, off the
//!   socket as they pass.
//!
//! A session uses the transport its configuration names and never switches: the modern
//! transport failing for lack of a shared version or cipher is [`Error::LegacyTlsRequired`],
//! which tells the operator to turn on the workstation's legacy TLS switch.
//!
//! The feature links the system's OpenSSL (1.1.1 or 3.x; building needs its headers and
//! `pkg-config`, e.g. Debian's `libssl-dev`). Without it, no OpenSSL is in the dependency tree.

mod config;
mod error;
#[cfg(feature = "legacy-tls")]
mod legacy;
mod session;
mod status;
mod transport;

pub use config::{DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, SessionConfig, Timeouts, TlsMode};
pub use error::{Error, NetworkFailure, Phase};
#[cfg(feature = "legacy-tls")]
pub use legacy::{LEGACY_CIPHER_LIST, LegacyTlsConfig};
pub use session::{MAX_ENUMERATED_ITEMS, MAX_PULLS, Session};
pub use status::PowerStatus;
pub use transport::tls_config;
