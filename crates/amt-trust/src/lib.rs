//! `amt-trust`: whether an Intel AMT workstation's TLS certificate is trusted.
//!
//! A deployment trusts exactly one certificate authority, the Intel AMT *provider root* the
//! operator uploads ([`ProviderRoot`]). Every workstation's certificate is checked against it by
//! one [`TrustPolicy`], whichever TLS stack carried the handshake: rustls through
//! [`PinnedRootVerifier`] and [`client_config`], or the legacy OpenSSL transport, which hands
//! the peer's DER chain to [`TrustPolicy::verify`] before writing a byte. Workstations are
//! addressed by a normalised [`Host`]. No I/O happens here: time is an argument.
//!
//! # The policy
//!
//! Checked in this order; the first failure is the answer.
//!
//! 1. **One root.** The provider PEM holds exactly one certificate, a CA certificate whose key
//!    the signature algorithms can verify with (RSA of 2048 to 8192 bits, ECDSA P-256 or P-384,
//!    Ed25519; anything else is refused when it is loaded, not at the first handshake), and it is
//!    the only trust anchor. A root the workstation sends in its chain is treated like any
//!    other intermediate and anchors nothing. (Loading errors: [`TrustError::RootNotPem`] and
//!    its siblings.)
//! 2. **Chain to that root**, through the intermediates the workstation sent, by RFC 5280 path
//!    validation (rustls-webpki, ring signature algorithms: no SHA-1 or MD5 signatures, RSA
//!    2048 to 8192 bits). Else [`TrustError::RootMismatch`] — also when the leaf is expired,
//!    not yet valid or otherwise unsuitable *and* was issued by another CA: "wrong CA" wins,
//!    decided by a signature-only walk from the leaf to the root. When the walk cannot read a
//!    certificate and the refusal was about the validity period, path validation is asked
//!    again at a moment inside that period, and an unknown issuer there is a root mismatch.
//! 3. **Validity period** of every certificate of the path at the given time, else
//!    [`TrustError::Expired`] or [`TrustError::NotYetValid`]. Path validation also refuses a CA
//!    certificate as the leaf ([`TrustError::CaCertificateAsLeaf`]), an extended key usage
//!    without serverAuth ([`TrustError::NotForServerAuth`]; no EKU at all is fine) and
//!    unsupported signatures ([`TrustError::UnsupportedSignature`]).
//! 4. **Name.** The normalised host must equal a subject alternative name of its own kind
//!    (dNSName for a DNS name, iPAddress for an IP) **or** the subject common name. The CN is
//!    used only if the subject has exactly one CN, written in ASCII without a wildcard; a CN
//!    holding an IP address is compared as an address (`2001:db8::7` equals
//!    `2001:0db8:0:0::7`). DNS names compare case-insensitively, ignoring a trailing dot.
//!    Wildcards never match, in SANs or CN. The CN is not used at all when any CA of the
//!    verified path, the pinned root included, has a nameConstraints extension: path
//!    validation applies name constraints to SANs only, so a CN would slip past them. This is
//!    deliberately simple and conservative: a CN inside the permitted names is refused too
//!    under such a CA, where only a SAN can match. Else [`TrustError::NameMismatch`].
//! 5. **Key size.** A leaf RSA key below 2048 bits is refused ([`TrustError::WeakKey`]). This
//!    floor is applied on every transport, not only in legacy mode: ring would refuse such a
//!    key's handshake signature anyway, and with RSA key exchange nothing else would check it.
//!    An issuing CA below the floor breaks the chain already in step 2, as ring checks no
//!    signature with its key; when that CA is itself certified by the pinned root, the answer
//!    is [`TrustError::WeakKey`] too, not a root mismatch.
//!
//! [`TrustError::RootMismatch`] and [`TrustError::NameMismatch`] display the product's exact
//! messages. Through rustls the error travels inside the `rustls::Error` (and the `io::Error`
//! of tokio-rustls); [`trust_error_in_rustls`], [`trust_error_in_io`] and [`find_trust_error`]
//! get it back.
//!
//! # Specifications and deviations
//!
//! - RFC 5280 path validation, as implemented by rustls-webpki, without revocation checking
//!   (AMT workstations don't staple OCSP responses and the provider CA rarely publishes CRLs).
//!   The root's own validity period is not checked, as in webpki.
//! - RFC 6125 server identity, **with one deliberate deviation**: RFC 6125 §6.4.4 says a client
//!   must not look at the subject CN when the certificate has DNS SANs. This policy accepts a
//!   matching CN even when SANs exist, because the product's rule is "CN *or* SAN", AMT
//!   certificates are often CN-only (MeshCommander issues them without SANs), and the root is
//!   the operator's own CA rather than a public one. It is also stricter than RFC 6125 in two
//!   ways: wildcards are never honoured, and under name constraints the CN is never used.
//! - RFC 5952 text form for IPv6 hosts.
//!
//! # Cargo features
//!
//! - `fuzzing` (off by default): the entry points the fuzz targets and the corpus replay tests
//!   call. They verify against the committed test CA, whose private key is public, so no
//!   product build should turn it on.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use amt_trust::{Host, NameMatch, ProviderRoot, TrustError, TrustPolicy};
//! use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
//! use rustls_pki_types::UnixTime;
//!
//! // A provider CA and a workstation certificate without SANs, as MeshCommander makes them.
//! let ca_key = KeyPair::generate()?;
//! let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
//! ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
//! ca_params.distinguished_name.push(DnType::CommonName, "Example provider CA");
//! let ca_pem = ca_params.self_signed(&ca_key)?.pem();
//! let issuer = Issuer::new(ca_params, ca_key);
//! let mut leaf_params = CertificateParams::new(Vec::<String>::new())?;
//! leaf_params.distinguished_name.push(DnType::CommonName, "ws01.example.com");
//! let leaf = leaf_params.signed_by(&KeyPair::generate()?, &issuer)?;
//!
//! let policy = TrustPolicy::new(ProviderRoot::from_pem(&ca_pem)?);
//! assert_eq!(policy.root().subject(), "CN=Example provider CA");
//! let now = UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000)); // 2030-01-01
//! let chain = [leaf.der().clone()];
//!
//! let host: Host = "WS01.example.com.".parse()?;
//! assert_eq!(policy.verify(&chain, &host, now)?, NameMatch::CommonName);
//!
//! let other: Host = "ws02.example.com".parse()?;
//! let refused = policy.verify(&chain, &other, now).unwrap_err();
//! assert!(matches!(refused, TrustError::NameMismatch { .. }));
//! assert_eq!(refused.to_string(), "FQDN/IP does not match AMT certificate subject");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod chain;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzz;
mod host;
mod names;
mod policy;
mod root;
mod tls;

pub use error::TrustError;
pub use host::Host;
pub use names::{NameMatch, PresentedName};
pub use policy::TrustPolicy;
pub use root::{ProviderRoot, Sha256Fingerprint};
/// rustls-pki-types, whose certificate, time and server-name types appear in this crate's
/// signatures, re-exported (as rustls does) so callers need not depend on it themselves.
pub use rustls_pki_types as pki_types;
pub use rustls_pki_types::{CertificateDer, UnixTime};
pub use tls::{
    ClientTlsOptions, PinnedRootVerifier, client_config, find_trust_error, trust_error_in_io,
    trust_error_in_rustls,
};
