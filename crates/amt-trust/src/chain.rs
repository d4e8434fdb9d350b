//! Signature-only lineage: does a chain lead to the pinned root at all?
//!
//! webpki checks a certificate's own validity period, basic constraints and extended key usage
//! *before* it looks for the issuer. An expired leaf or a CA-as-leaf from a foreign CA would
//! therefore be reported as expired or unsuitable, while the product says "wrong CA" wins. When
//! webpki refuses a chain for such a reason, this walk decides whether the chain is signed by
//! the pinned root at all, looking at names and signatures only.

use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, UintRef};
use der::{Decode, Encode, Reader, SliceReader};
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm};
use x509_cert::Certificate;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::root::MIN_RSA_BITS;

/// rsaEncryption and RSASSA-PSS public keys (RFC 8017) share the RSAPublicKey encoding.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// id-ecPublicKey (RFC 5480), whose parameters name the curve.
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// Deeper chains are not AMT's (which sends a leaf, at most an intermediate or two).
const MAX_DEPTH: usize = 6;
/// Intermediates beyond this are ignored by the walk.
const MAX_INTERMEDIATES: usize = 8;
/// Signature checks one walk may spend, so that hostile chains stay cheap.
const SIGNATURE_BUDGET: usize = 32;

/// What a certificate's issuer needs to be compared and to check a signature.
#[derive(Debug, Clone)]
pub(crate) struct IssuerKey {
    /// The subject name, DER as x509-cert encodes it (compared with children's issuer names
    /// encoded the same way).
    subject: Vec<u8>,
    /// The SubjectPublicKeyInfo algorithm, AlgorithmIdentifier contents without the outer tag.
    algorithm: Vec<u8>,
    /// The subjectPublicKey bits.
    public_key: Vec<u8>,
    /// The modulus size of an RSA key below the floor, whose signatures ring never checks.
    weak_rsa_bits: Option<usize>,
}

impl IssuerKey {
    pub(crate) fn of(cert: &Certificate) -> Option<Self> {
        let tbs = cert.tbs_certificate();
        let spki = tbs.subject_public_key_info();
        Some(Self {
            subject: tbs.subject().to_der().ok()?,
            algorithm: contents(&spki.algorithm.to_der().ok()?)?.to_vec(),
            public_key: spki.subject_public_key.raw_bytes().to_vec(),
            weak_rsa_bits: match rsa_modulus_bits(spki) {
                Some(Ok(bits)) if bits < MIN_RSA_BITS => Some(bits),
                _ => None,
            },
        })
    }

    /// Whether some algorithm takes keys of this key's type (size limits aside).
    pub(crate) fn usable_with(&self, algorithms: &[&dyn SignatureVerificationAlgorithm]) -> bool {
        algorithms
            .iter()
            .any(|a| a.public_key_alg_id().as_ref() == self.algorithm.as_slice())
    }
}

/// The signed parts of a certificate, borrowed from its DER.
#[derive(Debug, Clone, Copy)]
struct SignedParts<'a> {
    tbs: &'a [u8],
    algorithm: &'a [u8],
    signature: &'a [u8],
}

impl<'a> SignedParts<'a> {
    fn of(der: &'a [u8]) -> Option<Self> {
        let mut reader = SliceReader::new(der).ok()?;
        let parts = reader
            .sequence(|r| {
                let tbs = r.tlv_bytes()?;
                let algorithm = r.tlv_bytes()?;
                let signature = BitStringRef::decode(r)?;
                Ok::<_, der::Error>((tbs, algorithm, signature))
            })
            .ok()?;
        let (tbs, algorithm, signature) = parts;
        Some(Self {
            tbs,
            algorithm: contents(algorithm)?,
            signature: signature.raw_bytes(),
        })
    }
}

/// The contents of one DER TLV.
fn contents(tlv: &[u8]) -> Option<&[u8]> {
    AnyRef::from_der(tlv).ok().map(|any| any.value())
}

/// The outcome of a lineage walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lineage {
    /// Some path of valid signatures leads from the leaf to the root.
    FromRoot,
    /// No path does: the chain belongs to another CA.
    NotFromRoot,
    /// A path leads to the root through an issuing CA whose RSA key has `bits` bits, below the
    /// floor: ring checks no signature with such a key, so the link below it is taken on trust
    /// (harmless, as the chain is refused either way; this only picks the reason).
    WeakIssuer {
        /// The weak key's modulus size.
        bits: usize,
    },
    /// A signature could not be checked (unsupported algorithm, unreadable certificate, budget
    /// spent), so the walk can't tell.
    Unknown,
}

enum Signature {
    Valid,
    Invalid,
    Unsupported,
}

struct Candidate<'a> {
    issuer: Vec<u8>,
    key: IssuerKey,
    signed: SignedParts<'a>,
}

impl<'a> Candidate<'a> {
    fn of(der: &'a [u8]) -> Option<Self> {
        let cert = Certificate::from_der(der).ok()?;
        Some(Self {
            issuer: cert.tbs_certificate().issuer().to_der().ok()?,
            key: IssuerKey::of(&cert)?,
            signed: SignedParts::of(der)?,
        })
    }
}

struct Walk<'a> {
    root: &'a IssuerKey,
    intermediates: Vec<Candidate<'a>>,
    algorithms: &'a [&'a dyn SignatureVerificationAlgorithm],
    budget: usize,
}

/// Decides whether `leaf` is signed by `root`, directly or through `intermediates`.
pub(crate) fn lineage(
    leaf: &[u8],
    intermediates: &[CertificateDer<'_>],
    root: &IssuerKey,
    algorithms: &[&dyn SignatureVerificationAlgorithm],
) -> Lineage {
    let Some(leaf) = Candidate::of(leaf) else {
        return Lineage::Unknown;
    };
    let mut walk = Walk {
        root,
        intermediates: intermediates
            .iter()
            .take(MAX_INTERMEDIATES)
            .filter_map(|der| Candidate::of(der.as_ref()))
            .collect(),
        algorithms,
        budget: SIGNATURE_BUDGET,
    };
    walk.from(&leaf.issuer, leaf.signed, 0)
}

impl Walk<'_> {
    fn from(&mut self, issuer: &[u8], signed: SignedParts<'_>, depth: usize) -> Lineage {
        let mut unknown = false;
        let mut weak = None;
        if issuer == self.root.subject.as_slice() {
            match self.check(signed, self.root) {
                Some(Signature::Valid) => return Lineage::FromRoot,
                Some(Signature::Unsupported) | None => unknown = true,
                Some(Signature::Invalid) => {}
            }
        }
        if depth < MAX_DEPTH {
            for index in 0..self.intermediates.len() {
                let Some(candidate) = self.intermediates.get(index) else {
                    break;
                };
                if candidate.key.subject != issuer {
                    continue;
                }
                let (key, next_issuer, next_signed) = (
                    candidate.key.clone(),
                    candidate.issuer.clone(),
                    candidate.signed,
                );
                let above = match key.weak_rsa_bits {
                    // Its signature can't be checked; whether the weak CA itself is ours
                    // decides between a weak key and another CA.
                    Some(bits) => match self.from(&next_issuer, next_signed, depth + 1) {
                        Lineage::FromRoot => Lineage::WeakIssuer { bits },
                        other => other,
                    },
                    None => match self.check(signed, &key) {
                        Some(Signature::Valid) => self.from(&next_issuer, next_signed, depth + 1),
                        Some(Signature::Unsupported) | None => Lineage::Unknown,
                        Some(Signature::Invalid) => Lineage::NotFromRoot,
                    },
                };
                match above {
                    Lineage::FromRoot => return Lineage::FromRoot,
                    Lineage::WeakIssuer { bits } => weak = weak.or(Some(bits)),
                    Lineage::Unknown => unknown = true,
                    Lineage::NotFromRoot => {}
                }
            }
        }
        match weak {
            Some(bits) => Lineage::WeakIssuer { bits },
            None if unknown => Lineage::Unknown,
            None => Lineage::NotFromRoot,
        }
    }

    /// Checks one signature; `None` once the budget is spent.
    ///
    /// When the provider knows both the signature algorithm and the key's algorithm but pairs
    /// none of its algorithms with both (an RSA signature and an ECDSA key, say), the key is of
    /// another family and cannot have made the signature: `Invalid`, so that a same-name CA of
    /// another key type counts as foreign. `Unsupported` is left for an algorithm or key type
    /// the provider does not know at all, where the walk cannot tell.
    fn check(&mut self, signed: SignedParts<'_>, key: &IssuerKey) -> Option<Signature> {
        self.budget = self.budget.checked_sub(1)?;
        let signature_known = self
            .algorithms
            .iter()
            .any(|a| a.signature_alg_id().as_ref() == signed.algorithm);
        if !signature_known || !key.usable_with(self.algorithms) {
            return Some(Signature::Unsupported);
        }
        let valid = self
            .algorithms
            .iter()
            .filter(|a| {
                a.signature_alg_id().as_ref() == signed.algorithm
                    && a.public_key_alg_id().as_ref() == key.algorithm.as_slice()
            })
            .any(|a| {
                a.verify_signature(&key.public_key, signed.tbs, signed.signature)
                    .is_ok()
            });
        Some(if valid {
            Signature::Valid
        } else {
            Signature::Invalid
        })
    }
}

/// The modulus size of an RSA public key; `None` for other key types, `Some(Err(()))` for an
/// RSA key that does not parse.
pub(crate) fn rsa_modulus_bits(spki: &SubjectPublicKeyInfoOwned) -> Option<Result<usize, ()>> {
    let oid = spki.algorithm.oid;
    if oid != RSA_ENCRYPTION && oid != RSASSA_PSS {
        return None;
    }
    let bits = spki.subject_public_key.as_bytes().and_then(|key| {
        let mut reader = SliceReader::new(key).ok()?;
        let modulus = reader
            .sequence(|r| {
                let modulus = UintRef::decode(r)?;
                let _exponent = UintRef::decode(r)?;
                Ok::<_, der::Error>(modulus)
            })
            .ok()?;
        reader.is_finished().then_some(())?;
        let bytes = modulus.as_bytes();
        let first = bytes.first()?;
        Some(bytes.len() * 8 - first.leading_zeros() as usize)
    });
    Some(bits.ok_or(()))
}

/// A key's type in words ("ECDSA P-521", "DSA"), with the OID when it is none we name.
pub(crate) fn key_name(spki: &SubjectPublicKeyInfoOwned) -> String {
    let oid = spki.algorithm.oid;
    if oid == EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        return match curve.map(|c| c.to_string()).as_deref() {
            Some("1.2.840.10045.3.1.7") => "ECDSA P-256".to_owned(),
            Some("1.3.132.0.34") => "ECDSA P-384".to_owned(),
            Some("1.3.132.0.35") => "ECDSA P-521".to_owned(),
            Some(other) => format!("ECDSA on curve {other}"),
            None => "ECDSA without a named curve".to_owned(),
        };
    }
    let known = match oid.to_string().as_str() {
        "1.2.840.113549.1.1.1" => "RSA",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.10040.4.1" => "DSA",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        other => return format!("key algorithm {other}"),
    };
    known.to_owned()
}

/// The dotted OID (with a familiar name where we know one) of an AlgorithmIdentifier's
/// contents, for messages.
pub(crate) fn algorithm_name(algorithm_id: &[u8]) -> String {
    let Some(oid): Option<ObjectIdentifier> = SliceReader::new(algorithm_id)
        .ok()
        .and_then(|mut r| ObjectIdentifier::decode(&mut r).ok())
    else {
        return "unknown".to_owned();
    };
    let known = match oid.to_string().as_str() {
        "1.2.840.113549.1.1.4" => Some("md5WithRSAEncryption"),
        "1.2.840.113549.1.1.5" => Some("sha1WithRSAEncryption"),
        "1.2.840.10045.4.1" => Some("ecdsa-with-SHA1"),
        "1.2.840.10040.4.3" => Some("dsa-with-SHA1"),
        "2.16.840.1.101.3.4.3.2" => Some("dsa-with-SHA256"),
        _ => None,
    };
    match known {
        Some(name) => format!("{name}, {oid}"),
        None => oid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_has_no_signed_parts() {
        assert!(SignedParts::of(&[]).is_none());
        assert!(SignedParts::of(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_none());
        assert!(contents(&[0x30, 0x05]).is_none());
    }

    #[test]
    fn unreadable_leaf_has_unknown_lineage() {
        let root = IssuerKey {
            subject: vec![0x30, 0x00],
            algorithm: vec![],
            public_key: vec![],
            weak_rsa_bits: None,
        };
        assert_eq!(lineage(b"junk", &[], &root, &[]), Lineage::Unknown);
    }

    #[test]
    fn algorithm_names() {
        // OID 1.2.840.113549.1.1.5 followed by NULL parameters.
        let sha1_rsa = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
        ];
        assert_eq!(
            algorithm_name(&sha1_rsa),
            "sha1WithRSAEncryption, 1.2.840.113549.1.1.5"
        );
        // ecdsa-with-SHA512, not in the table.
        let ecdsa_sha512 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
        assert_eq!(algorithm_name(&ecdsa_sha512), "1.2.840.10045.4.3.4");
        assert_eq!(algorithm_name(&[0xff]), "unknown");
    }
}
