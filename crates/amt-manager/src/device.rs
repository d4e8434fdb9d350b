//! The manager's side of a device session: amt-client calls, and their errors mapped to the
//! product's error table.

use std::fmt;
use std::sync::Arc;

use amt_client::{Session, SessionConfig, TlsMode};
use amt_power::{AmtVersion, PowerState, ReturnValue};
use amt_trust::{ClientTlsOptions, Host, ProviderRoot, TrustPolicy};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, from_trust};

pub use amt_client::Timeouts;

/// What a session is made from; two equal settings make interchangeable sessions.
#[derive(Debug, Clone)]
pub(crate) struct SessionSettings {
    pub(crate) host: Host,
    pub(crate) port: u16,
    pub(crate) provider_root_pem: String,
    pub(crate) username: String,
    pub(crate) password: SecretString,
    pub(crate) allow_legacy_tls: bool,
}

impl PartialEq for SessionSettings {
    fn eq(&self, other: &Self) -> bool {
        self.host == other.host
            && self.port == other.port
            && self.provider_root_pem == other.provider_root_pem
            && self.username == other.username
            && self.password.expose_secret() == other.password.expose_secret()
            && self.allow_legacy_tls == other.allow_legacy_tls
    }
}

/// The TLS configurations of one deployment (one provider root), shared by its workstations:
/// the rustls one, and the legacy OpenSSL one (feature `legacy-tls`), built when a workstation
/// first needs it.
pub(crate) struct DeploymentTls {
    modern: Arc<rustls::ClientConfig>,
    #[cfg(feature = "legacy-tls")]
    policy: Arc<TrustPolicy>,
    #[cfg(feature = "legacy-tls")]
    legacy: std::sync::Mutex<Option<amt_client::LegacyTlsConfig>>,
}

impl DeploymentTls {
    pub(crate) fn new(root: ProviderRoot, session_cache_hosts: usize) -> Self {
        let policy = Arc::new(TrustPolicy::new(root));
        Self {
            modern: amt_client::tls_config(
                Arc::clone(&policy),
                &ClientTlsOptions::new().session_cache_hosts(session_cache_hosts),
            ),
            #[cfg(feature = "legacy-tls")]
            policy,
            #[cfg(feature = "legacy-tls")]
            legacy: std::sync::Mutex::new(None),
        }
    }

    /// The transport a workstation's legacy TLS switch asks for. Without the `legacy-tls`
    /// feature that is always the modern one (see [`DeviceSession::map_error`]).
    fn mode(&self, allow_legacy_tls: bool) -> Result<TlsMode, Error> {
        #[cfg(feature = "legacy-tls")]
        if allow_legacy_tls {
            let mut legacy = self
                .legacy
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let config = match legacy.as_ref() {
                Some(config) => config.clone(),
                None => {
                    let config = amt_client::LegacyTlsConfig::new(Arc::clone(&self.policy))
                        .map_err(|e| {
                            Error::Unsupported(format!("Legacy TLS cannot be used: {e}"))
                        })?;
                    legacy.insert(config).clone()
                }
            };
            return Ok(TlsMode::Legacy(config));
        }
        // Without the feature the switch cannot change the transport; it only changes what a
        // failed modern handshake says.
        let _ = allow_legacy_tls;
        Ok(TlsMode::Modern)
    }
}

impl fmt::Debug for DeploymentTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeploymentTls").finish_non_exhaustive()
    }
}

/// One device session, as the manager uses it.
#[derive(Debug, Clone)]
pub(crate) struct DeviceSession {
    session: Session,
    /// The workstation's legacy TLS switch is on, but this build has no legacy transport: a
    /// modern handshake failing for lack of a version or cipher says so.
    legacy_tls_missing: bool,
}

impl DeviceSession {
    pub(crate) fn new(
        settings: &SessionSettings,
        tls: &DeploymentTls,
        timeouts: &Timeouts,
    ) -> Result<Self, Error> {
        let mut config = SessionConfig::new(
            settings.host.clone(),
            Arc::clone(&tls.modern),
            settings.username.clone(),
            settings.password.clone(),
        );
        config.port = settings.port;
        config.timeouts = *timeouts;
        config.tls_mode = tls.mode(settings.allow_legacy_tls)?;
        Ok(Self {
            session: Session::new(config),
            legacy_tls_missing: settings.allow_legacy_tls && !cfg!(feature = "legacy-tls"),
        })
    }

    /// Maps a client error to its row of the error table; a legacy-TLS hint for a workstation
    /// whose switch is already on, in a build without the `legacy-tls` feature, becomes
    /// [`Error::Unsupported`] saying so (the switch cannot help).
    pub(crate) fn map_error(&self, error: amt_client::Error) -> Error {
        match error {
            amt_client::Error::LegacyTlsRequired { .. } if self.legacy_tls_missing => {
                Error::Unsupported(LEGACY_TLS_NOT_BUILT.to_owned())
            }
            other => map_error(other),
        }
    }

    /// [`validation_error`] with [`map_error`](Self::map_error)'s view of legacy TLS.
    pub(crate) fn validation_error(&self, error: amt_client::Error) -> Error {
        credentials_invalid(self.map_error(error))
    }

    pub(crate) async fn power_status(&self) -> Result<(PowerState, Vec<u16>), Error> {
        let status = self
            .session
            .power_status()
            .await
            .map_err(|e| self.map_error(e))?;
        Ok((status.power_state, status.available))
    }

    /// The version from the last `Server` header AMT sent, if any.
    pub(crate) fn server_version(&self) -> Option<AmtVersion> {
        self.session.last_server_version()
    }

    pub(crate) async fn amt_version(&self) -> Result<AmtVersion, Error> {
        self.session
            .amt_version()
            .await
            .map_err(|e| self.map_error(e))
    }

    pub(crate) async fn os_power_state(&self) -> Result<u16, Error> {
        self.session
            .os_power_state()
            .await
            .map_err(|e| self.map_error(e))
    }

    /// An authenticated call that proves the password; returns the AMT version it read.
    pub(crate) async fn validate(&self) -> Result<AmtVersion, amt_client::Error> {
        self.session.validate_credentials().await?;
        self.session.amt_version().await
    }

    /// The power change, at most once; the error is the client's, so the caller can tell
    /// whether the request may have reached the device.
    pub(crate) async fn request_power_state_change(
        &self,
        power_state: u16,
        on_send: &mut (dyn FnMut() + Send),
    ) -> Result<ReturnValue, amt_client::Error> {
        self.session
            .request_power_state_change(power_state, on_send)
            .await
    }

    /// Closes the kept-alive connection (the next call reconnects, resuming TLS).
    pub(crate) fn close(&self) {
        self.session.disconnect();
    }
}

/// Maps a client error to its row of the error table.
pub(crate) fn map_error(error: amt_client::Error) -> Error {
    use amt_client::Error as C;
    match error {
        C::Timeout { .. } => Error::NetworkTimeout {
            source: Box::new(error),
        },
        C::Trust(trust) => from_trust(trust),
        C::LegacyTlsRequired { .. } => Error::LegacyTlsRequired {
            source: Box::new(error),
        },
        C::ClientCertificateRequired => Error::ClientCertificateRequired,
        C::CredentialsRejected { .. } => Error::CredentialsInvalid {
            detail: "the workstation refused the user name or password".to_owned(),
            source: Some(Box::new(error)),
        },
        C::Fault(fault) => Error::WsmanFault {
            subcode: fault.subcode.as_ref().map_or_else(
                || fault.code.qualified_name().local_name,
                |subcode| subcode.local_name.clone(),
            ),
            reason: fault.reason.clone(),
        },
        C::Unreachable {
            failure,
            ref detail,
            ..
        } => Error::Unreachable {
            detail: format!("{failure} ({detail})"),
            source: Some(Box::new(error)),
        },
        // The row's message already says "Unexpected response from Intel AMT".
        C::Protocol { detail, .. } => Error::Protocol { detail },
        C::RealmChanged { .. } | C::Tls { .. } | C::Local { .. } => Error::Protocol {
            detail: error.to_string(),
        },
        other => Error::Protocol {
            detail: other.to_string(),
        },
    }
}

/// The message of [`Error::Unsupported`] when a workstation's legacy TLS switch is on but the
/// build has no legacy transport.
pub(crate) const LEGACY_TLS_NOT_BUILT: &str = "TLS handshake failed: the workstation may need \
     legacy TLS (Intel AMT 12 or lower); its legacy TLS switch is on, but this build has no \
     legacy TLS transport (rebuild with the cargo feature legacy-tls)";

/// Makes a failure while validating credentials a credentials validation error, with the
/// row's message as the detail.
fn credentials_invalid(error: Error) -> Error {
    match error {
        invalid @ Error::CredentialsInvalid { .. } => invalid,
        other => Error::CredentialsInvalid {
            detail: other.to_string(),
            source: Some(Box::new(other)),
        },
    }
}
