//! The manager's side of a device session: amt-client calls, and their errors mapped to the
//! product's error table.

use std::sync::Arc;

use amt_client::{Session, SessionConfig};
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

/// The rustls configuration for one provider root.
pub(crate) fn tls_config(
    root: ProviderRoot,
    session_cache_hosts: usize,
) -> Arc<rustls::ClientConfig> {
    amt_client::tls_config(
        Arc::new(TrustPolicy::new(root)),
        &ClientTlsOptions::new().session_cache_hosts(session_cache_hosts),
    )
}

/// One device session, as the manager uses it.
#[derive(Debug, Clone)]
pub(crate) struct DeviceSession {
    session: Session,
}

impl DeviceSession {
    pub(crate) fn new(
        settings: &SessionSettings,
        tls: Arc<rustls::ClientConfig>,
        timeouts: &Timeouts,
    ) -> Result<Self, Error> {
        let mut config = SessionConfig::new(
            settings.host.clone(),
            tls,
            settings.username.clone(),
            settings.password.clone(),
        );
        config.port = settings.port;
        config.timeouts = *timeouts;
        Ok(Self {
            session: Session::new(config),
        })
    }

    pub(crate) async fn power_status(&self) -> Result<(PowerState, Vec<u16>), Error> {
        let status = self.session.power_status().await.map_err(map_error)?;
        Ok((status.power_state, status.available))
    }

    /// The version from the last `Server` header AMT sent, if any.
    pub(crate) fn server_version(&self) -> Option<AmtVersion> {
        self.session.last_server_version()
    }

    pub(crate) async fn amt_version(&self) -> Result<AmtVersion, Error> {
        self.session.amt_version().await.map_err(map_error)
    }

    pub(crate) async fn os_power_state(&self) -> Result<u16, Error> {
        self.session.os_power_state().await.map_err(map_error)
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
        C::RealmChanged { .. } | C::Tls { .. } | C::Protocol { .. } | C::Local { .. } => {
            Error::Protocol {
                detail: error.to_string(),
            }
        }
        other => Error::Protocol {
            detail: other.to_string(),
        },
    }
}

/// Maps a failure while validating credentials: every failure is a credentials validation
/// error, with the row's message as the detail.
pub(crate) fn validation_error(error: amt_client::Error) -> Error {
    match map_error(error) {
        invalid @ Error::CredentialsInvalid { .. } => invalid,
        other => Error::CredentialsInvalid {
            detail: other.to_string(),
            source: Some(Box::new(other)),
        },
    }
}
