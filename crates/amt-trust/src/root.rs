//! The provider root CA: the deployment's one trust anchor.

use std::fmt;

use der::Decode;
use rustls_pki_types::pem::{self, PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, TrustAnchor};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};

use crate::chain::{IssuerKey, key_name, rsa_modulus_bits};
use crate::error::TrustError;
use crate::policy::ring_algorithms;

/// Keys below this many bits are refused, for the root and for leaves.
pub(crate) const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus ring verifies signatures with.
const MAX_RSA_BITS: usize = 8192;

/// The Intel AMT provider root CA of a deployment, loaded from the PEM the operator uploaded
/// or pasted.
///
/// It must hold exactly one certificate, and that certificate must be a CA (basicConstraints
/// `cA` set, and keyCertSign if it has a keyUsage extension) with a key the signature
/// algorithms can verify with: RSA of 2048 to 8192 bits, ECDSA P-256 or P-384, or Ed25519. It
/// need not be self-signed: whatever it is, it is the only trust anchor. Its
/// own validity period is not checked (as in webpki): the leaf's is.
#[derive(Clone)]
pub struct ProviderRoot {
    der: CertificateDer<'static>,
    anchor: TrustAnchor<'static>,
    issuer_key: IssuerKey,
    subject: String,
    fingerprint: Sha256Fingerprint,
}

impl ProviderRoot {
    /// Loads the root from PEM text: a file's contents or pasted text, as `&str` or bytes.
    ///
    /// Text around the PEM block is ignored. Refused, each with its own [`TrustError`]: no PEM
    /// at all ([`RootNotPem`](TrustError::RootNotPem)), PEM without a CERTIFICATE block
    /// ([`RootMissing`](TrustError::RootMissing)), several certificates
    /// ([`RootSeveral`](TrustError::RootSeveral)), any private key block, even beside the
    /// certificate ([`RootHasPrivateKey`](TrustError::RootHasPrivateKey)), broken PEM or DER,
    /// a certificate that is not a CA ([`RootNotCa`](TrustError::RootNotCa)), and a key below
    /// 2048 RSA bits ([`RootWeakKey`](TrustError::RootWeakKey)) or of a type or size nothing
    /// could be verified with ([`RootUnusableKey`](TrustError::RootUnusableKey)).
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Self, TrustError> {
        let pem = pem.as_ref();
        let mut blocks = 0;
        for label in begin_labels(pem) {
            if contains(label, b"PRIVATE KEY") {
                return Err(TrustError::RootHasPrivateKey);
            }
            blocks += 1;
        }
        if blocks == 0 {
            return Err(TrustError::RootNotPem);
        }
        // Pasted text is often indented; the PEM reader wants armour lines at the line start.
        let trimmed: Vec<u8> = pem
            .split(|&b| b == b'\n' || b == b'\r')
            .flat_map(|line| line.trim_ascii().iter().copied().chain([b'\n']))
            .collect();
        let mut certificates = Vec::new();
        for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(&trimmed) {
            match section {
                Ok((SectionKind::Certificate, der)) => certificates.push(der),
                Ok((
                    SectionKind::PrivateKey
                    | SectionKind::RsaPrivateKey
                    | SectionKind::EcPrivateKey,
                    _,
                )) => return Err(TrustError::RootHasPrivateKey),
                Ok(_) => {}
                Err(error) => {
                    return Err(TrustError::RootMalformedPem {
                        detail: describe_pem_error(&error),
                    });
                }
            }
        }
        match <[Vec<u8>; 1]>::try_from(certificates) {
            Ok([der]) => Self::from_der(CertificateDer::from(der)),
            Err(certificates) if certificates.is_empty() => Err(TrustError::RootMissing),
            Err(certificates) => Err(TrustError::RootSeveral {
                count: certificates.len(),
            }),
        }
    }

    /// Loads the root from one DER certificate, with the same CA checks as
    /// [`from_pem`](Self::from_pem).
    pub fn from_der(der: CertificateDer<'_>) -> Result<Self, TrustError> {
        let der = der.into_owned();
        let unparsable = |detail: String| TrustError::RootUnparsable { detail };
        let cert = Certificate::from_der(der.as_ref()).map_err(|e| unparsable(e.to_string()))?;
        let anchor = webpki::anchor_from_trusted_cert(&der)
            .map_err(|e| unparsable(format!("{e:?}")))?
            .to_owned();
        let tbs = cert.tbs_certificate();
        let subject = tbs.subject().to_string();
        let is_ca = tbs
            .get_extension::<BasicConstraints>()
            .map_err(|e| unparsable(format!("basicConstraints: {e}")))?
            .is_some_and(|(_critical, constraints)| constraints.ca);
        let signs_certificates = tbs
            .get_extension::<KeyUsage>()
            .map_err(|e| unparsable(format!("keyUsage: {e}")))?
            .is_none_or(|(_critical, usage)| usage.0.contains(KeyUsages::KeyCertSign));
        if !is_ca || !signs_certificates {
            return Err(TrustError::RootNotCa { subject });
        }
        let spki = tbs.subject_public_key_info();
        let rsa_bits = match rsa_modulus_bits(spki) {
            Some(Ok(bits)) if bits < MIN_RSA_BITS => return Err(TrustError::RootWeakKey { bits }),
            Some(Ok(bits)) if bits > MAX_RSA_BITS => {
                return Err(TrustError::RootUnusableKey {
                    key: format!("RSA with {bits} bits"),
                });
            }
            Some(Ok(bits)) => Some(bits),
            Some(Err(())) => return Err(unparsable("malformed RSA public key".to_owned())),
            None => None,
        };
        let issuer_key = IssuerKey::of(&cert)
            .ok_or_else(|| unparsable("unencodable subject or key".to_owned()))?;
        // Refused now rather than at the first handshake, where every workstation would look
        // like it belongs to another CA.
        if !issuer_key.usable_with(ring_algorithms().all) {
            let key = match rsa_bits {
                Some(bits) => format!("RSA with {bits} bits and unusual algorithm parameters"),
                None => key_name(spki),
            };
            return Err(TrustError::RootUnusableKey { key });
        }
        let fingerprint = Sha256Fingerprint(Sha256::digest(der.as_ref()).into());
        Ok(Self {
            der,
            anchor,
            issuer_key,
            subject,
            fingerprint,
        })
    }

    /// The subject, as an RFC 4514 string (`CN=…,O=…`), for display.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The SHA-256 fingerprint of the DER certificate, for display and comparison.
    pub fn sha256_fingerprint(&self) -> Sha256Fingerprint {
        self.fingerprint
    }

    /// The certificate, DER-encoded.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    pub(crate) fn anchor(&self) -> &TrustAnchor<'static> {
        &self.anchor
    }

    pub(crate) fn issuer_key(&self) -> &IssuerKey {
        &self.issuer_key
    }
}

impl fmt::Debug for ProviderRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderRoot")
            .field("subject", &self.subject)
            .field("sha256", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// A SHA-256 certificate fingerprint. Displays as upper-case hex pairs joined by colons, the
/// way `openssl x509 -fingerprint -sha256` prints it, so operators can compare the two.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Fingerprint([u8; 32]);

impl Sha256Fingerprint {
    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Sha256Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, byte) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sha256Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Fingerprint({self})")
    }
}

/// The labels of all `-----BEGIN <label>-----` lines, so that any private key (including the
/// encrypted and unusual kinds the PEM reader skips) is refused.
fn begin_labels(pem: &[u8]) -> impl Iterator<Item = &[u8]> {
    pem.split(|&b| b == b'\n' || b == b'\r').filter_map(|line| {
        line.trim_ascii()
            .strip_prefix(b"-----BEGIN ")?
            .strip_suffix(b"-----")
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn describe_pem_error(error: &pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { .. } => "a block has no -----END line".to_owned(),
        pem::Error::IllegalSectionStart { .. } => "a -----BEGIN line is malformed".to_owned(),
        pem::Error::Base64Decode(detail) => format!("bad base64 ({detail})"),
        pem::Error::SectionTooLarge => "a block is too large".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_found_on_any_line_ending() {
        let text = b"junk\r\n-----BEGIN CERTIFICATE-----\rAAAA\n  -----BEGIN ENCRYPTED PRIVATE KEY-----  \n";
        let labels: Vec<&[u8]> = begin_labels(text).collect();
        assert_eq!(labels, [&b"CERTIFICATE"[..], &b"ENCRYPTED PRIVATE KEY"[..]]);
    }

    #[test]
    fn fingerprint_display() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0xab;
        bytes[31] = 0x01;
        let shown = Sha256Fingerprint(bytes).to_string();
        assert!(shown.starts_with("AB:00:"));
        assert!(shown.ends_with(":00:01"));
        assert_eq!(shown.len(), 32 * 3 - 1);
    }
}
