//! The policy as a rustls certificate verifier, and the client configuration built on it.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature};
use rustls::time_provider::TimeProvider;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, OtherError, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::error::TrustError;
use crate::host::Host;
use crate::policy::TrustPolicy;

/// A rustls [`ServerCertVerifier`] that runs the [`TrustPolicy`] for the server name rustls
/// hands it, so one verifier (and one [`ClientConfig`]) serves every workstation of a
/// deployment.
///
/// A refusal reaches rustls as `Error::InvalidCertificate(CertificateError::Other(..))`
/// carrying the [`TrustError`]; get it back with [`trust_error_in_rustls`] or
/// [`find_trust_error`].
#[derive(Debug, Clone)]
pub struct PinnedRootVerifier {
    policy: Arc<TrustPolicy>,
}

impl PinnedRootVerifier {
    /// A verifier running `policy`.
    pub fn new(policy: Arc<TrustPolicy>) -> Self {
        Self { policy }
    }

    /// The policy it runs.
    pub fn policy(&self) -> &TrustPolicy {
        &self.policy
    }
}

impl ServerCertVerifier for PinnedRootVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let host = Host::from_server_name(server_name).map_err(into_rustls)?;
        self.policy
            .verify_parts(end_entity, intermediates, &host, now)
            .map_err(into_rustls)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, self.policy.algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, self.policy.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.policy.algorithms().supported_schemes()
    }
}

fn into_rustls(error: TrustError) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(error))))
}

/// Options for [`client_config`].
#[derive(Clone)]
pub struct ClientTlsOptions {
    session_cache_hosts: usize,
    time_provider: Option<Arc<dyn TimeProvider>>,
}

/// rustls's in-memory cache counts TLS 1.3 tickets, and keeps up to 8 per server.
const TICKETS_PER_HOST: usize = 8;

impl ClientTlsOptions {
    /// The default number of hosts whose sessions are cached.
    pub const DEFAULT_SESSION_CACHE_HOSTS: usize = 256;

    /// Defaults: sessions of 256 hosts cached, the system clock.
    pub fn new() -> Self {
        Self {
            session_cache_hosts: Self::DEFAULT_SESSION_CACHE_HOSTS,
            time_provider: None,
        }
    }

    /// How many hosts' sessions the in-memory resumption cache keeps (the oldest host is
    /// evicted first). Size it to the number of workstations one configuration talks to, e.g.
    /// 10 000 for a fleet, or resumption silently stops for the rest. 0 disables resumption.
    ///
    /// (rustls's own default, 256 *tickets*, holds only 32 hosts.)
    pub fn session_cache_hosts(mut self, hosts: usize) -> Self {
        self.session_cache_hosts = hosts;
        self
    }

    /// The clock rustls uses for certificate validity and ticket ages; tests inject a fixed one.
    pub fn time_provider(mut self, time: Arc<dyn TimeProvider>) -> Self {
        self.time_provider = Some(time);
        self
    }
}

impl Default for ClientTlsOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ClientTlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTlsOptions")
            .field("session_cache_hosts", &self.session_cache_hosts)
            .field("time_provider", &self.time_provider)
            .finish()
    }
}

/// The rustls client configuration for the workstations of one deployment.
///
/// ring provider (passed explicitly, never the process default), TLS 1.3 and 1.2, the
/// [`PinnedRootVerifier`] for `policy`, no client certificate, session resumption (TLS 1.3 tickets, TLS 1.2 session ids and
/// tickets) in an in-memory cache sized by `options`, no ALPN. SNI is sent for
/// DNS names only. Use one configuration for all hosts of a deployment, and build a new one
/// when its provider root changes (which also drops the cached sessions).
pub fn client_config(policy: Arc<TrustPolicy>, options: &ClientTlsOptions) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match &options.time_provider {
        Some(time) => ClientConfig::builder_with_details(provider, Arc::clone(time)),
        None => ClientConfig::builder_with_provider(provider),
    };
    let mut config = builder
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        // Not input-dependent: ring's default provider has suites for both versions.
        .expect("the ring provider supports TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedRootVerifier::new(policy)))
        .with_no_client_auth();
    config.resumption = Resumption::in_memory_sessions(
        options.session_cache_hosts.saturating_mul(TICKETS_PER_HOST),
    );
    Arc::new(config)
}

/// The [`TrustError`] inside a rustls error, if the [`PinnedRootVerifier`] refused the server.
pub fn trust_error_in_rustls(error: &rustls::Error) -> Option<&TrustError> {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<TrustError>()
        }
        _ => None,
    }
}

/// The [`TrustError`] inside an I/O error, as tokio-rustls and other stream adapters return
/// (an `io::Error` of kind `InvalidData` wrapping the `rustls::Error`).
pub fn trust_error_in_io(error: &io::Error) -> Option<&TrustError> {
    find_trust_error(error.get_ref()?)
}

/// Finds a [`TrustError`] anywhere in an error chain: the error itself, a `rustls::Error`, an
/// `io::Error`'s inner error (which `source()` skips), or any `source()`.
pub fn find_trust_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a TrustError> {
    // Bounded, because a hand-written `source()` could cycle.
    const MAX_DEPTH: usize = 32;
    let mut current = error;
    for _ in 0..MAX_DEPTH {
        if let Some(found) = current.downcast_ref::<TrustError>() {
            return Some(found);
        }
        if let Some(rustls_error) = current.downcast_ref::<rustls::Error>() {
            return trust_error_in_rustls(rustls_error);
        }
        let next = match current.downcast_ref::<io::Error>() {
            Some(io_error) => match io_error.get_ref() {
                Some(inner) => inner as &(dyn StdError + 'static),
                None => return None,
            },
            None => current.source()?,
        };
        current = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(io::Error);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("wrapper")
        }
    }

    impl StdError for Wrapper {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn trust_errors_are_found_through_wrappers() {
        let mismatch = TrustError::RootMismatch {
            leaf_issuer: None,
            root: "CN=Provider CA".into(),
        };
        let rustls_error = into_rustls(mismatch.clone());
        assert_eq!(trust_error_in_rustls(&rustls_error), Some(&mismatch));

        let io_error = io::Error::new(
            io::ErrorKind::InvalidData,
            into_rustls(TrustError::NoCertificate),
        );
        assert_eq!(
            trust_error_in_io(&io_error),
            Some(&TrustError::NoCertificate)
        );

        let wrapped = Wrapper(io::Error::other(io_error));
        assert_eq!(find_trust_error(&wrapped), Some(&TrustError::NoCertificate));
        assert_eq!(
            find_trust_error(&TrustError::RootMissing),
            Some(&TrustError::RootMissing)
        );
    }

    #[test]
    fn other_errors_hold_no_trust_error() {
        assert_eq!(trust_error_in_rustls(&rustls::Error::DecryptError), None);
        assert_eq!(
            trust_error_in_io(&io::Error::from(io::ErrorKind::ConnectionReset)),
            None
        );
        let foreign = io::Error::other("plain text");
        assert_eq!(trust_error_in_io(&foreign), None);
        assert_eq!(find_trust_error(&Wrapper(foreign)), None);
    }
}
