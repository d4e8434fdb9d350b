//! `amt-sim`: simulated Intel® AMT devices over HTTPS on loopback.
//!
//! Tests, the demo, benchmarks and users without hardware need a peer that behaves like a
//! provisioned AMT device. A [`SimDevice`] is one: it serves `POST /wsman` over TLS, challenges
//! with HTTP Digest the way AMT does, answers the WS-Management calls of power management, runs
//! a power state machine with realistic delays, locks logins out after repeated failures, and
//! counts everything it sees so tests can assert on the wire economy. A [`Fleet`] serves many.
//!
//! The simulator speaks from the same definitions as the client: requests are read and replies
//! written by the device side of `amt-wsman`, and challenges issued and answers verified by the
//! device side of `amt-digest`.
//!
//! # Example
//!
//! ```
//! use amt_sim::{DeviceConfig, SimCa, SimDevice};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), amt_sim::Error> {
//! let ca = SimCa::generate("amt-sim example CA")?;
//! // Any free port on 127.0.0.1; AMT 16.1.25, powered on, LMS running.
//! let device = SimDevice::start(DeviceConfig::new("P@ssw0rd").on("127.0.0.1:0".parse().unwrap()), &ca).await?;
//! assert!(device.url().starts_with("https://127.0.0.1:"));
//! assert!(device.realm().starts_with("Digest:"));
//! assert!(device.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! assert_eq!(device.counters().requests, 0);
//! # Ok(())
//! # }
//! ```
//!
//! # Behaviour
//!
//! - **TLS**: TLS 1.2 and 1.3 (rustls, ring), session resumption, no client certificate. Each
//!   device has a leaf certificate from the simulator CA ([`SimCa`]), or a deliberately wrong one
//!   ([`LeafSpec`]: SAN or CN-only names, other names, expired, not yet valid, foreign CA).
//!   [`TlsProfile`] narrows this to TLS 1.2 or emulates old firmware refusing a modern client.
//! - **Legacy TLS** (cargo feature `legacy-tls`): `TlsProfile::LegacyAmt11` (TLS 1.1 only) and
//!   `TlsProfile::LegacyAmt12` (TLS 1.2 only) serve through OpenSSL with RSA key exchange only
//!   and an RSA-2048 leaf (`SimCa::issue_rsa`; one key per CA, shared by its devices), as Intel
//!   AMT 11 and 12 do. Renegotiation is refused; unlike the firmware, OpenSSL still answers
//!   the RFC 5746 secure renegotiation signal, which cannot be turned off.
//! - **HTTP**: `POST /wsman`; other paths get 404. Every response carries
//!   `Server: Intel(R) Active Management Technology <version>`.
//! - **Digest**: realm `Digest:<32 hex>` fixed per device, MD5, `qop="auth"` (`"auth-int, auth"`
//!   from AMT 14), nonces expire, replays are refused; a 401 has an HTML body and
//!   `Connection: close`. Every challenge says `stale="false"`, as AMT's do, even for an
//!   expired nonce (`DeviceConfig::announce_stale_nonces` gives RFC 7616's `stale="true"`). After 10 consecutive failed logins every login is refused for 5 s,
//!   doubling up to 80 s while failures go on, forgotten after an hour without failures
//!   ([`lockout`]); time comes from a [`SimClock`], real or manual.
//! - **WS-Management**: Get of `CIM_AssociatedPowerManagementService`,
//!   `CIM_PowerManagementCapabilities`, `IPS_PowerManagementService` (AMT 10+) and
//!   `CIM_SoftwareIdentity` (by `InstanceID`); Enumerate/Pull of `CIM_SoftwareIdentity` and
//!   `CIM_AssociatedPowerManagementService`; `RequestPowerStateChange`; Identify. Unknown
//!   resources get `DestinationUnreachable`, unknown methods and actions `ActionNotSupported`,
//!   wrong or unreadable selectors `InvalidSelectors`, unknown enumeration contexts
//!   `InvalidEnumerationContext`, all relating to the request's `MessageID`.
//!   `RequestPowerStateChange` may select the power service by none, some or all of its four
//!   keys, with their right values; its `ManagedElement` must name `CIM_ComputerSystem`
//!   `Name=ManagedSystem` (a missing or other one gets `wsman:InvalidParameter`).
//! - **Power**: `AvailableRequestedPowerStates` as devices report it (off: `[2]`; on:
//!   `[10, 8, 5, 11]`, plus with LMS 12 from AMT 9 and 4, 7, 14 from AMT 10); unavailable
//!   transitions answer `ReturnValue` 2, as do power off and power cycle during a redirection
//!   session; accepted changes take effect after a delay (2 s, graceful ones 6 s) through
//!   transitional states.
//! - **Faults** ([`FaultRule`]): latency (on the device's clock, added to any other fault),
//!   dropping the connection after a request, stalling, HTTP 500, malformed XML, oversized
//!   bodies, SOAP faults; closing keep-alive connections after N requests.
//! - **Counters** ([`CounterSnapshot`]): TCP connections, full and resumed TLS handshakes,
//!   requests, 401s, failed logins, lockout refusals, invokes by `PowerState` value.
//!
//! # How many devices one process serves
//!
//! A device costs one listening socket plus one socket per open client connection (AMT-style
//! clients keep one). With the 20 000 open files this machine allows per process, one process
//! serves about 9 000 devices that all hold a connection at once (2 descriptors each, plus a
//! margin); split larger fleets over processes (the `amt-sim` binary's `--devices` and
//! `--listen` make that a matter of running it twice).

mod ca;
mod clock;
mod counters;
mod device;
mod fault;
#[cfg(feature = "legacy-tls")]
mod legacy;
pub mod lockout;
mod power;
mod server;
mod sessions;

pub use ca::{LeafIssuer, LeafSpec, ServerIdentity, SimCa, Validity};
pub use clock::SimClock;
pub use counters::{CounterSnapshot, Counters};
pub use device::{DEFAULT_LISTEN, DeviceConfig, MAX_REQUEST_BODY, TlsProfile};
pub use fault::{Fault, FaultRule, FaultTarget};
pub use power::{PowerModel, Timing};
pub use server::{Addressing, Fleet, SimDevice};

/// What can go wrong starting a simulated device.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A certificate or key could not be generated, loaded or encoded.
    #[error("certificate error: {detail}")]
    Certificate {
        /// What went wrong.
        detail: String,
    },
    /// The TLS configuration was refused.
    #[error("TLS configuration error: {0}")]
    Tls(#[source] rustls::Error),
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration cannot be carried out.
    #[error("invalid simulator configuration: {0}")]
    InvalidConfig(String),
}

impl Error {
    pub(crate) fn certificate(error: rcgen::Error) -> Self {
        Self::Certificate {
            detail: error.to_string(),
        }
    }
}
