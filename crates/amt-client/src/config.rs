//! What a session needs to know about its workstation: address, TLS, credentials, limits.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use amt_trust::Host;
use amt_wsman::Limits;
use rustls::ClientConfig;
use secrecy::SecretString;

/// The port Intel AMT serves WS-Management over TLS on.
pub const DEFAULT_PORT: u16 = 16993;

/// The largest response body read by default (1 MiB): AMT's replies are a few kilobytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// How a session reaches its workstation's TLS endpoint.
///
/// The choice is the caller's, per workstation: a session never falls back from one transport
/// to the other. A modern handshake that fails for lack of a shared version or cipher suite is
/// [`Error::LegacyTlsRequired`](crate::Error::LegacyTlsRequired), never a retry with legacy TLS.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum TlsMode {
    /// rustls with the deployment's [`ClientConfig`]: TLS 1.3 and 1.2 with ECDHE suites only,
    /// which Intel AMT 13 and later offer.
    #[default]
    Modern,
    /// OpenSSL (cargo feature `legacy-tls`): TLS 1.1 and 1.2 with RSA key exchange, DHE or
    /// ECDHE and AES suites, for Intel AMT 9 to 12. It weakens the connection: use it only for a
    /// workstation whose legacy TLS switch is on. The trust policy is the same as the modern
    /// transport's, run on the peer's chain before any HTTP byte is written.
    /// [`SessionConfig::tls`] is not used in this mode.
    #[cfg(feature = "legacy-tls")]
    Legacy(crate::LegacyTlsConfig),
}

impl TlsMode {
    /// Whether this is the legacy transport.
    pub fn is_legacy(&self) -> bool {
        match self {
            Self::Modern => false,
            #[cfg(feature = "legacy-tls")]
            Self::Legacy(_) => true,
        }
    }
}

/// The time limits of one call. Every phase has its own limit, and the call as a whole (both
/// requests of a digest retry, reconnections included) is bounded by [`Timeouts::request`].
/// A limit too large for the clock to count (such as `Duration::MAX`) stands for about 30
/// years, that is, no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Timeouts {
    /// Resolving the name and opening the TCP connection. Default 5 s.
    pub connect: Duration,
    /// The TLS handshake. Default 5 s.
    pub tls_handshake: Duration,
    /// One call, from its first byte on the wire (or its connection attempt) to the end of the
    /// reply. Default 30 s. Time spent queued behind other calls of the session is not counted.
    pub request: Duration,
}

impl Timeouts {
    /// The defaults: 5 s to connect, 5 s for the TLS handshake, 30 s per call.
    pub const DEFAULT: Self = Self {
        connect: Duration::from_secs(5),
        tls_handshake: Duration::from_secs(5),
        request: Duration::from_secs(30),
    };

    /// The same limit for every phase (handy in tests on loopback).
    pub const fn uniform(limit: Duration) -> Self {
        Self {
            connect: limit,
            tls_handshake: limit,
            request: limit,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Everything a [`Session`](crate::Session) needs: build one with [`SessionConfig::new`], then
/// adjust the public fields.
///
/// `Debug` never shows the password.
#[derive(Clone)]
#[non_exhaustive]
pub struct SessionConfig {
    /// The workstation: its normalised FQDN or IP address, used to connect, as the TLS server
    /// name checked against its certificate, and in the `Host` header.
    pub host: Host,
    /// The TCP port, [`DEFAULT_PORT`] (16993) unless the workstation is reached through a
    /// port forward.
    pub port: u16,
    /// The deployment's rustls configuration, shared by all its sessions so that TLS sessions
    /// resume across a fleet. Build it with [`tls_config`](crate::tls_config), which also lets
    /// a session notice a server's request for a client certificate. Unused by the legacy
    /// transport.
    pub tls: Arc<ClientConfig>,
    /// How TLS is spoken.
    pub tls_mode: TlsMode,
    /// The digest user name (Intel AMT's administrator is `admin`).
    pub username: String,
    /// The digest password.
    pub password: SecretString,
    /// Time limits.
    pub timeouts: Timeouts,
    /// The largest response body read; a larger one is a protocol error.
    pub max_body_bytes: usize,
    /// Limits for parsing the SOAP replies.
    pub limits: Limits,
}

impl SessionConfig {
    /// A configuration with the defaults: port 16993, modern TLS, [`Timeouts::DEFAULT`],
    /// a 1 MiB body limit and the default parsing limits.
    pub fn new(
        host: Host,
        tls: Arc<ClientConfig>,
        username: impl Into<String>,
        password: SecretString,
    ) -> Self {
        Self {
            host,
            port: DEFAULT_PORT,
            tls,
            tls_mode: TlsMode::Modern,
            username: username.into(),
            password,
            timeouts: Timeouts::DEFAULT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            limits: Limits::DEFAULT,
        }
    }

    /// The `Host` header value: `host:port`, an IPv6 address in brackets.
    pub(crate) fn authority(&self) -> String {
        match self.host.ip() {
            Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls_mode", &self.tls_mode)
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field("timeouts", &self.timeouts)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(host: &str) -> SessionConfig {
        let policy =
            amt_trust::TrustPolicy::new(amt_trust::ProviderRoot::from_pem(test_ca_pem()).unwrap());
        let tls = crate::tls_config(Arc::new(policy), &amt_trust::ClientTlsOptions::new());
        SessionConfig::new(
            host.parse().unwrap(),
            tls,
            "admin",
            SecretString::from("Sup3r-Secret!"),
        )
    }

    fn test_ca_pem() -> String {
        amt_sim::SimCa::generate("config test CA")
            .unwrap()
            .cert_pem()
            .to_owned()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = config("ws01.example.com");
        assert_eq!(config.port, 16993);
        assert_eq!(config.timeouts.connect, Duration::from_secs(5));
        assert_eq!(config.timeouts.tls_handshake, Duration::from_secs(5));
        assert_eq!(config.timeouts.request, Duration::from_secs(30));
        assert_eq!(config.max_body_bytes, 1 << 20);
        assert!(matches!(config.tls_mode, TlsMode::Modern));
        assert!(!config.tls_mode.is_legacy());
        assert_eq!(Timeouts::default(), Timeouts::DEFAULT);
        assert_eq!(
            Timeouts::uniform(Duration::from_millis(300)).tls_handshake,
            Duration::from_millis(300)
        );
    }

    #[test]
    fn the_authority_brackets_ipv6_only() {
        assert_eq!(
            config("WS01.Example.com.").authority(),
            "ws01.example.com:16993"
        );
        assert_eq!(config("192.0.2.7").authority(), "192.0.2.7:16993");
        let mut v6 = config("[2001:DB8::7]");
        v6.port = 443;
        assert_eq!(v6.authority(), "[2001:db8::7]:443");
    }

    #[test]
    fn debug_hides_the_password() {
        let text = format!("{:?}", config("ws01.example.com"));
        assert!(!text.contains("Sup3r-Secret!"), "{text}");
        assert!(
            text.contains("[REDACTED]") && text.contains("admin"),
            "{text}"
        );
    }
}
