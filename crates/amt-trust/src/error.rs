//! The crate's one error type.

use std::fmt;
use std::time::Duration;

use rustls_pki_types::UnixTime;

use crate::host::Host;
use crate::names::PresentedName;

/// Why a provider root, a host or a presented certificate chain was refused.
///
/// The verification variants are listed in the order the policy checks them (crate docs,
/// "The policy"). [`TrustError::RootMismatch`] and [`TrustError::NameMismatch`] display the
/// product's exact messages; the others describe the fault in plain words so that a caller can
/// wrap them, e.g. as `AMT certificate is not valid: <this Display>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    // ----- Loading the provider root (ProviderRoot::from_pem).
    /// The provider CA text holds no PEM block at all (binary data, DER, or random text).
    #[error(
        "the provider CA certificate is not PEM text (expected a -----BEGIN CERTIFICATE----- block)"
    )]
    RootNotPem,

    /// The provider CA text holds PEM blocks, but none is a CERTIFICATE.
    #[error("the provider CA PEM holds no CERTIFICATE block")]
    RootMissing,

    /// The provider CA text holds more than one certificate; exactly one is allowed.
    #[error(
        "the provider CA PEM holds {count} certificates; it must hold exactly one, the provider root CA"
    )]
    RootSeveral {
        /// How many CERTIFICATE blocks were found.
        count: usize,
    },

    /// The provider CA text holds a private key. The key is never read into memory further.
    #[error(
        "the provider CA PEM holds a private key; upload only the root CA certificate, never a key"
    )]
    RootHasPrivateKey,

    /// The provider CA text is broken PEM (bad base64, missing END line).
    #[error("the provider CA PEM is malformed: {detail}")]
    RootMalformedPem {
        /// What the PEM reader reported.
        detail: String,
    },

    /// The CERTIFICATE block does not hold a parsable X.509 certificate.
    #[error("the provider CA certificate could not be parsed: {detail}")]
    RootUnparsable {
        /// What the parser reported.
        detail: String,
    },

    /// The certificate is not a CA certificate (no basicConstraints cA, or keyUsage without
    /// keyCertSign): most likely a workstation's own certificate was uploaded.
    #[error("the provider certificate ({subject}) is not a CA certificate")]
    RootNotCa {
        /// The certificate's subject.
        subject: String,
    },

    /// The provider CA has an RSA key too small to verify anything with.
    #[error("the provider CA key is RSA with {bits} bits; at least 2048 are required")]
    RootWeakKey {
        /// The modulus size.
        bits: usize,
    },

    /// The provider CA's key is of a type or size the signature algorithms cannot verify with
    /// (ECDSA P-521, DSA, RSA above 8192 bits, …): no certificate could ever chain to it.
    #[error(
        "the provider CA key ({key}) cannot verify certificates; it must be RSA of 2048 to 8192 bits, ECDSA P-256 or P-384, or Ed25519"
    )]
    RootUnusableKey {
        /// The key's type (and size for RSA), e.g. "ECDSA P-521" or "RSA with 16384 bits".
        key: String,
    },

    // ----- Parsing a host.
    /// The text is not a valid FQDN, IPv4 or IPv6 address.
    #[error("invalid host {input:?}: {reason}")]
    InvalidHost {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    // ----- Verifying a presented chain, in policy order.
    /// The server presented an empty chain.
    #[error("the workstation presented no certificate")]
    NoCertificate,

    /// The leaf is not a certificate this policy can read (bad DER, unsupported version or
    /// extension encoding).
    #[error("the certificate could not be parsed: {detail}")]
    MalformedCertificate {
        /// What the parser reported.
        detail: String,
    },

    /// The chain does not lead to the pinned provider root (policy step 2). Also reported for
    /// an expired or otherwise bad leaf that a foreign CA issued.
    ///
    /// The fields are for diagnostics (logs, `Debug`); the message stays the product's.
    #[error("AMT root certificate does not match Intel provider CA certificate")]
    RootMismatch {
        /// The issuer the leaf names, as an RFC 4514 string (`CN=…,O=…`); `None` when it can't
        /// be read.
        leaf_issuer: Option<String>,
        /// The pinned provider root's subject, as an RFC 4514 string.
        root: String,
    },

    /// A certificate of the chain has expired (step 3).
    #[error("the certificate expired at {} (checked at {})", Moment(*not_after), Moment(*now))]
    Expired {
        /// The end of the validity period.
        not_after: UnixTime,
        /// The time the chain was checked at.
        now: UnixTime,
    },

    /// A certificate of the chain is not valid yet (step 3).
    #[error("the certificate is not valid before {} (checked at {})", Moment(*not_before), Moment(*now))]
    NotYetValid {
        /// The start of the validity period.
        not_before: UnixTime,
        /// The time the chain was checked at.
        now: UnixTime,
    },

    /// Neither a SAN of the host's kind nor the single subject CN equals the host (step 4).
    #[error("FQDN/IP does not match AMT certificate subject")]
    NameMismatch {
        /// The host that was expected.
        host: Host,
        /// The names the leaf presents (SANs first, then CNs), for diagnostics.
        presented: Vec<PresentedName>,
    },

    /// The leaf has an extended key usage without TLS server authentication.
    #[error(
        "the certificate is not for TLS servers: its extended key usage lacks server authentication"
    )]
    NotForServerAuth,

    /// The leaf is a CA certificate, not a server certificate.
    #[error("the certificate is a CA certificate, not a workstation certificate")]
    CaCertificateAsLeaf,

    /// The leaf's RSA key is below 2048 bits (step 5), or an issuing CA of the chain that
    /// leads to the pinned root has such a key (found in step 2: ring checks no signature with
    /// it).
    #[error("the certificate's RSA key has {bits} bits; at least 2048 are required")]
    WeakKey {
        /// The modulus size.
        bits: usize,
    },

    /// A certificate of the chain is signed with an algorithm the policy refuses, such as
    /// SHA-1 or MD5 with RSA.
    #[error(
        "the certificate is signed with an unsupported algorithm ({algorithm}); SHA-1 and MD5 signatures are refused"
    )]
    UnsupportedSignature {
        /// The signature algorithm's OID in dotted form, or "unknown".
        algorithm: String,
    },

    /// The chain breaks another rule of RFC 5280 path validation (path length, name
    /// constraints, unknown critical extension, …).
    #[error("the certificate was rejected: {detail}")]
    Rejected {
        /// What the path validator reported.
        detail: String,
    },
}

/// Formats a [`UnixTime`] as an RFC 3339 UTC timestamp.
struct Moment(UnixTime);

impl fmt::Display for Moment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.as_secs();
        match der::DateTime::from_unix_duration(Duration::from_secs(seconds)) {
            Ok(date) => write!(f, "{date}"),
            Err(_) => write!(f, "{seconds} s after 1970-01-01T00:00:00Z"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_messages_are_exact() {
        let mismatch = TrustError::RootMismatch {
            leaf_issuer: Some("CN=Other CA".into()),
            root: "CN=Provider CA".into(),
        };
        assert_eq!(
            mismatch.to_string(),
            "AMT root certificate does not match Intel provider CA certificate"
        );
        let shown = format!("{mismatch:?}");
        assert!(shown.contains("CN=Other CA") && shown.contains("CN=Provider CA"));
        let host: Host = "amt.example".parse().unwrap();
        let mismatch = TrustError::NameMismatch {
            host,
            presented: vec![PresentedName::Dns("other.example".into())],
        };
        assert_eq!(
            mismatch.to_string(),
            "FQDN/IP does not match AMT certificate subject"
        );
    }

    #[test]
    fn times_display_as_rfc3339() {
        let expired = TrustError::Expired {
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_577_836_800)),
            now: UnixTime::since_unix_epoch(Duration::from_secs(1_577_836_801)),
        };
        assert_eq!(
            expired.to_string(),
            "the certificate expired at 2020-01-01T00:00:00Z (checked at 2020-01-01T00:00:01Z)"
        );
        let far = Moment(UnixTime::since_unix_epoch(Duration::from_secs(
            u64::MAX / 4,
        )));
        assert!(far.to_string().ends_with("s after 1970-01-01T00:00:00Z"));
    }
}
