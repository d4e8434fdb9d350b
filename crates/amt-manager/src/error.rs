//! The product's errors: one variant per row of the error table, each with the product's message.

use std::fmt;

use amt_power::{AmtVersion, PowerOperation, PowerState, ReturnValue};

use crate::store::StoreError;
use crate::vault::VaultError;

/// Everything the manager can fail with.
///
/// `Display` is the message an operator sees, exactly as the product's error table words it;
/// [`Error::kind`] is a stable snake_case code for scripts; `source()` keeps the detail. No
/// variant ever carries a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A connect, TLS or request timeout.
    #[error("Network timeout occurred")]
    NetworkTimeout {
        /// What timed out.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The certificate names neither the FQDN nor the IP used (CN or SAN).
    #[error("FQDN/IP does not match AMT certificate subject")]
    NameMismatch {
        /// The trust policy's verdict, with the names presented.
        #[source]
        source: amt_trust::TrustError,
    },
    /// The certificate does not chain to the deployment's provider root.
    #[error("AMT root certificate does not match Intel provider CA certificate")]
    RootMismatch {
        /// The trust policy's verdict.
        #[source]
        source: amt_trust::TrustError,
    },
    /// The workstation refused the credentials (when saving them, or later).
    #[error("Error validating management credentials: {detail}")]
    CredentialsInvalid {
        /// Why.
        detail: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The workstation has no stored credentials.
    #[error("No credentials found.")]
    NoCredentials,
    /// Management was turned on for a workstation without credentials.
    #[error("This workstation cannot be managed by Intel AMT without administrator credentials")]
    NotManageable,
    /// A power operation was asked of a workstation whose management is off.
    #[error("Workstation {name} is not managed; turn management on to run power operations")]
    NotManaged {
        /// The workstation.
        name: String,
    },
    /// A power operation was sent to this workstation less than 20 seconds ago.
    #[error(
        "A power operation was sent to this workstation {since_secs} s ago; \
         the next is allowed in {remaining_secs} s"
    )]
    CoolingDown {
        /// Whole seconds since the last send.
        since_secs: u64,
        /// Whole seconds (rounded up) until the next send is allowed.
        remaining_secs: u64,
    },
    /// Another power operation on this workstation has not finished.
    #[error("Another power operation on this workstation is in progress")]
    OperationInProgress,
    /// The operation is not possible in the workstation's state now.
    #[error("{operation} is not available while the workstation is {state}")]
    OperationUnavailable {
        /// The operation.
        operation: PowerOperation,
        /// The state it is in.
        state: PowerState,
        /// Why, in detail (the state rule, or the device not offering it).
        reason: amt_power::Unavailable,
    },
    /// The operation needs a newer Intel AMT.
    #[error("{operation} requires Intel AMT {required} or later; this workstation runs {}", version_text(.actual))]
    AmtVersionTooOld {
        /// The operation.
        operation: PowerOperation,
        /// The major version needed.
        required: u32,
        /// What the workstation runs, if known.
        actual: Option<AmtVersion>,
    },
    /// The workstation answered the power change with a failure `ReturnValue`.
    #[error("Intel AMT refused {operation}: {}", .return_value.meaning())]
    OperationRefused {
        /// The operation.
        operation: PowerOperation,
        /// What AMT answered.
        return_value: ReturnValue,
    },
    /// Connection refused, name not resolved, connection reset or closed.
    #[error("The workstation could not be reached: {detail}")]
    Unreachable {
        /// What happened.
        detail: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The certificate is expired, not yet valid, or unsuitable.
    #[error("AMT certificate is not valid: {detail}")]
    CertificateInvalid {
        /// What is wrong with it.
        detail: String,
        /// The trust policy's verdict.
        #[source]
        source: Option<amt_trust::TrustError>,
    },
    /// The handshake failed in a way that suggests old firmware.
    #[error("TLS handshake failed: the workstation may need legacy TLS (Intel AMT 12 or lower)")]
    LegacyTlsRequired {
        /// The TLS error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The workstation asked for a client certificate.
    #[error("The workstation requires mutual TLS, which is not supported")]
    ClientCertificateRequired,
    /// AMT answered with a SOAP fault.
    #[error("Intel AMT returned a fault: {subcode}: {reason}")]
    WsmanFault {
        /// The fault subcode (local name), or the code when there is none.
        subcode: String,
        /// The fault's reason text.
        reason: String,
    },
    /// Anything else the workstation answered that makes no sense.
    #[error("Unexpected response from Intel AMT: {detail}")]
    Protocol {
        /// What was wrong.
        detail: String,
    },
    /// A deployment, workstation or pool name, a host or a port given is not valid.
    #[error("Invalid input: {detail}")]
    InvalidInput {
        /// What is wrong.
        detail: String,
    },
    /// The provider root certificate cannot be used.
    #[error("The Intel provider CA certificate cannot be used: {source}")]
    InvalidProviderRoot {
        /// Why.
        #[source]
        source: amt_trust::TrustError,
    },
    /// A named deployment, workstation or pool does not exist.
    #[error("{0}")]
    NotFound(#[source] StoreError),
    /// A deployment, workstation or pool with that name exists already.
    #[error("{0}")]
    Duplicate(#[source] StoreError),
    /// A deployment still has workstations.
    #[error("{0}")]
    InUse(#[source] StoreError),
    /// The inventory could not be read or written.
    #[error("The inventory could not be read or written: {0}")]
    Inventory(#[source] StoreError),
    /// Stored credentials could not be decrypted or sealed.
    #[error("Stored credentials could not be used: {0}")]
    Vault(#[source] VaultError),
    /// This build cannot do what was asked (a cargo feature is off).
    #[error("{0}")]
    Unsupported(String),
    /// The manager itself failed (a bug, such as a panicked task); it says nothing about the
    /// workstation.
    #[error("Internal error: {detail}")]
    Internal {
        /// What failed.
        detail: String,
    },
}

fn version_text(version: &Option<AmtVersion>) -> String {
    version
        .as_ref()
        .map_or_else(|| "an unknown version".to_owned(), ToString::to_string)
}

impl Error {
    /// The stable code of the error-table row (or of our own rows).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NetworkTimeout { .. } => "network_timeout",
            Self::NameMismatch { .. } => "name_mismatch",
            Self::RootMismatch { .. } => "root_mismatch",
            Self::CredentialsInvalid { .. } => "credentials_invalid",
            Self::NoCredentials => "no_credentials",
            Self::NotManageable => "not_manageable",
            Self::NotManaged { .. } => "not_managed",
            Self::CoolingDown { .. } => "cooling_down",
            Self::OperationInProgress => "operation_in_progress",
            Self::OperationUnavailable { .. } => "operation_unavailable",
            Self::AmtVersionTooOld { .. } => "amt_version_too_old",
            Self::OperationRefused { .. } => "operation_refused",
            Self::Unreachable { .. } => "unreachable",
            Self::CertificateInvalid { .. } => "certificate_invalid",
            Self::LegacyTlsRequired { .. } => "legacy_tls_required",
            Self::ClientCertificateRequired => "client_certificate_required",
            Self::WsmanFault { .. } => "wsman_fault",
            Self::Protocol { .. } => "protocol",
            Self::InvalidInput { .. } => "invalid_input",
            Self::InvalidProviderRoot { .. } => "invalid_provider_root",
            Self::NotFound(_) => "not_found",
            Self::Duplicate(_) => "duplicate",
            Self::InUse(_) => "in_use",
            Self::Inventory(_) => "inventory",
            Self::Vault(_) => "vault",
            Self::Unsupported(_) => "unsupported",
            Self::Internal { .. } => "internal",
        }
    }

    /// The error with its causes, one per line, for logs and `--verbose` output.
    pub fn chain(&self) -> ErrorChain<'_> {
        ErrorChain(self)
    }
}

/// Displays an error and its sources (see [`Error::chain`]).
#[derive(Debug)]
pub struct ErrorChain<'a>(&'a Error);

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = std::error::Error::source(self.0);
        let mut last = self.0.to_string();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !last.contains(&text) {
                write!(f, "\n  caused by: {text}")?;
            }
            last = text;
            source = cause.source();
        }
        Ok(())
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { .. } | StoreError::NotMember { .. } => Self::NotFound(error),
            StoreError::Duplicate { .. } => Self::Duplicate(error),
            StoreError::InUse { .. } => Self::InUse(error),
            _ => Self::Inventory(error),
        }
    }
}

impl From<VaultError> for Error {
    fn from(error: VaultError) -> Self {
        Self::Vault(error)
    }
}

impl From<crate::model::InvalidName> for Error {
    fn from(error: crate::model::InvalidName) -> Self {
        Self::InvalidInput {
            detail: error.to_string(),
        }
    }
}

/// Maps a trust-policy verdict to its row.
pub(crate) fn from_trust(error: amt_trust::TrustError) -> Error {
    use amt_trust::TrustError as T;
    match error {
        T::NameMismatch { .. } => Error::NameMismatch { source: error },
        T::RootMismatch { .. } => Error::RootMismatch { source: error },
        other => Error::CertificateInvalid {
            detail: other.to_string(),
            source: Some(other),
        },
    }
}
