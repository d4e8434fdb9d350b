//! The trust policy: chain to the pinned root, validity, name, key size, in that order.

use der::asn1::AnyRef;
use der::{Decode, Tag};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::EndEntityCert;
use x509_cert::Certificate;
use x509_cert::name::Name;

use crate::chain::{Lineage, algorithm_name, lineage, rsa_modulus_bits};
use crate::error::TrustError;
use crate::host::Host;
use crate::names::{CnFallback, LeafNames, NameMatch};
use crate::root::{MIN_RSA_BITS, ProviderRoot};

/// The trust policy of one deployment: its provider root, and the signature algorithms of
/// rustls's ring provider (no SHA-1, no MD5, RSA of 2048 to 8192 bits, ECDSA P-256/P-384,
/// Ed25519).
///
/// [`verify`](Self::verify) is the one entry point, for rustls (through
/// [`PinnedRootVerifier`](crate::PinnedRootVerifier)) and for any other TLS stack that hands
/// over the peer's DER chain, such as the legacy OpenSSL transport.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    root: ProviderRoot,
    algorithms: WebPkiSupportedAlgorithms,
}

impl TrustPolicy {
    /// A policy trusting `root` only.
    pub fn new(root: ProviderRoot) -> Self {
        Self {
            root,
            algorithms: ring_algorithms(),
        }
    }

    /// The pinned provider root.
    pub fn root(&self) -> &ProviderRoot {
        &self.root
    }

    pub(crate) fn algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.algorithms
    }

    /// Verifies a presented chain (leaf first, then any intermediates, in the order the server
    /// sent them) for `host` at time `now`, and says which name matched.
    ///
    /// A root certificate the server includes is treated as one more intermediate: only the
    /// pinned root anchors trust. The checks and their order are in the crate docs.
    pub fn verify(
        &self,
        chain: &[CertificateDer<'_>],
        host: &Host,
        now: UnixTime,
    ) -> Result<NameMatch, TrustError> {
        let (leaf, intermediates) = chain.split_first().ok_or(TrustError::NoCertificate)?;
        self.verify_parts(leaf, intermediates, host, now)
    }

    /// [`verify`](Self::verify) with the leaf apart from the intermediates, as rustls hands them.
    pub fn verify_parts(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        host: &Host,
        now: UnixTime,
    ) -> Result<NameMatch, TrustError> {
        let end_entity = EndEntityCert::try_from(leaf).map_err(|e| malformed(&e))?;
        // Steps 2 and 3 (and key usage): webpki path validation against the pinned anchor only.
        let path = self
            .validate_path(&end_entity, intermediates, now)
            .map_err(|error| self.classify(error, &end_entity, leaf, intermediates))?;
        let cn_fallback = CnFallback::for_path(
            path.anchor().name_constraints.is_some(),
            path.intermediate_certificates().map(|cert| cert.der()),
        );

        // Step 4: the CN-or-SAN rule.
        let cert =
            Certificate::from_der(leaf.as_ref()).map_err(|e| TrustError::MalformedCertificate {
                detail: e.to_string(),
            })?;
        let names = LeafNames::of(&cert)?;
        let matched =
            names
                .match_host(host, cn_fallback)
                .ok_or_else(|| TrustError::NameMismatch {
                    host: host.clone(),
                    presented: names.presented(),
                })?;

        // Step 5: RSA key floor. Always applied: rustls (ring) would refuse such a key's handshake
        // signature anyway, and with RSA key exchange (legacy OpenSSL) nothing else checks it.
        match rsa_modulus_bits(cert.tbs_certificate().subject_public_key_info()) {
            Some(Ok(bits)) if bits < MIN_RSA_BITS => Err(TrustError::WeakKey { bits }),
            Some(Err(())) => Err(TrustError::MalformedCertificate {
                detail: "malformed RSA public key".to_owned(),
            }),
            _ => Ok(matched),
        }
    }

    /// webpki path validation against the pinned anchor only, for TLS server use.
    fn validate_path<'p>(
        &'p self,
        end_entity: &'p EndEntityCert<'p>,
        intermediates: &'p [CertificateDer<'p>],
        at: UnixTime,
    ) -> Result<webpki::VerifiedPath<'p>, webpki::Error> {
        end_entity.verify_for_usage(
            self.algorithms.all,
            std::slice::from_ref(self.root.anchor()),
            intermediates,
            at,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
    }

    /// Whether webpki, asked at `at`, says the chain does not lead to the pinned root.
    fn foreign_at(
        &self,
        end_entity: &EndEntityCert<'_>,
        intermediates: &[CertificateDer<'_>],
        at: UnixTime,
    ) -> bool {
        use webpki::Error as E;
        matches!(
            self.validate_path(end_entity, intermediates, at),
            Err(E::UnknownIssuer | E::InvalidSignatureForPublicKey | E::CertDistrusted)
        )
    }

    /// A root mismatch naming the leaf's issuer and the pinned root.
    fn root_mismatch(&self, end_entity: &EndEntityCert<'_>) -> TrustError {
        // webpki hands out the issuer Name without its SEQUENCE header.
        let leaf_issuer = AnyRef::new(Tag::Sequence, end_entity.issuer())
            .and_then(|any| any.decode_as::<Name>())
            .ok()
            .map(|name| name.to_string());
        TrustError::RootMismatch {
            leaf_issuer,
            root: self.root.subject().to_owned(),
        }
    }

    /// Maps a webpki refusal to the policy's error, letting "wrong root" win over every reason
    /// webpki finds before it looks for the issuer.
    fn classify(
        &self,
        error: webpki::Error,
        end_entity: &EndEntityCert<'_>,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> TrustError {
        use webpki::Error as E;
        // A moment at which the certificate webpki found out of date is valid.
        let inside_validity = match &error {
            E::CertExpired { not_after, .. } => Some(*not_after),
            E::CertNotValidYet { not_before, .. } => Some(*not_before),
            _ => None,
        };
        let walk = || {
            lineage(
                leaf.as_ref(),
                intermediates,
                self.root.issuer_key(),
                self.algorithms.all,
            )
        };
        let reason = match error {
            // ring refuses every signature of an RSA key below 2048 bits as invalid; if that
            // key is an issuing CA of ours, the key is what is wrong, not the CA.
            E::UnknownIssuer | E::InvalidSignatureForPublicKey | E::CertDistrusted => {
                return match walk() {
                    Lineage::WeakIssuer { bits } => TrustError::WeakKey { bits },
                    _ => self.root_mismatch(end_entity),
                };
            }
            E::CertExpired { time, not_after } => TrustError::Expired {
                not_after,
                now: time,
            },
            E::CertNotValidYet { time, not_before } => TrustError::NotYetValid {
                not_before,
                now: time,
            },
            E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => TrustError::NotForServerAuth,
            E::CaUsedAsEndEntity => TrustError::CaCertificateAsLeaf,
            E::UnsupportedSignatureAlgorithmContext(context) => TrustError::UnsupportedSignature {
                algorithm: algorithm_name(&context.signature_algorithm_id),
            },
            E::UnsupportedSignatureAlgorithmForPublicKeyContext(context) => {
                TrustError::UnsupportedSignature {
                    algorithm: algorithm_name(&context.signature_algorithm_id),
                }
            }
            E::BadDer
            | E::BadDerTime
            | E::TrailingData(_)
            | E::MalformedExtensions
            | E::ExtensionValueInvalid
            | E::InvalidSerialNumber
            | E::UnsupportedCertVersion
            | E::MalformedDnsIdentifier
            | E::MalformedNameConstraint => malformed(&error),
            other => TrustError::Rejected {
                detail: describe(&other),
            },
        };
        match walk() {
            Lineage::NotFromRoot => self.root_mismatch(end_entity),
            Lineage::FromRoot | Lineage::WeakIssuer { .. } => reason,
            // The walk could not read the chain (x509-cert is stricter than webpki in places,
            // e.g. on serial numbers longer than 20 octets). For a validity refusal, DESIGN's
            // method still works: ask webpki again at a moment the certificate is valid, when
            // it goes on to look for the issuer.
            Lineage::Unknown => match inside_validity {
                Some(at) if self.foreign_at(end_entity, intermediates, at) => {
                    self.root_mismatch(end_entity)
                }
                _ => reason,
            },
        }
    }
}

/// The signature algorithms of rustls's ring provider, which both the policy and the root's key
/// check use.
pub(crate) fn ring_algorithms() -> WebPkiSupportedAlgorithms {
    rustls::crypto::ring::default_provider().signature_verification_algorithms
}

fn malformed(error: &webpki::Error) -> TrustError {
    use webpki::Error as E;
    let detail = match error {
        E::BadDer => "bad DER encoding".to_owned(),
        E::BadDerTime => "bad validity time encoding".to_owned(),
        E::TrailingData(what) => format!("trailing data after {what:?}"),
        E::MalformedExtensions | E::ExtensionValueInvalid => "malformed extension".to_owned(),
        E::InvalidSerialNumber => "invalid serial number".to_owned(),
        E::UnsupportedCertVersion => "only X.509 version 3 certificates are supported".to_owned(),
        E::MalformedDnsIdentifier => "malformed DNS name".to_owned(),
        E::MalformedNameConstraint => "malformed name constraint".to_owned(),
        other => format!("{other:?}"),
    };
    TrustError::MalformedCertificate { detail }
}

fn describe(error: &webpki::Error) -> String {
    use webpki::Error as E;
    match error {
        E::InvalidCertValidity => "its validity period ends before it begins".to_owned(),
        E::EndEntityUsedAsCa => "an intermediate certificate is not a CA certificate".to_owned(),
        E::PathLenConstraintViolated => {
            "the chain is longer than an issuing CA's path length allows".to_owned()
        }
        E::NameConstraintViolation => "an issuing CA's name constraints exclude it".to_owned(),
        E::UnsupportedCriticalExtension => {
            "it has a critical extension this policy does not know".to_owned()
        }
        E::MaximumPathDepthExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumSignatureChecksExceeded
        | E::MaximumNameConstraintComparisonsExceeded => {
            "the presented chain is too long or too complex".to_owned()
        }
        other => format!("{other:?}"),
    }
}
