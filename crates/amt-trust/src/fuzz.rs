//! Fuzzing entry points: plain functions a `cargo fuzz` target calls with its input, and that
//! ordinary tests replay. Whatever the bytes, they must not panic, except on purpose when one of
//! the properties they check fails, which is a bug.
//!
//! Only built with the `fuzzing` feature: [`der_chain`] verifies against the committed test CA,
//! whose private key is public, and that certificate must not be in a product build.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use der::Decode;
use der::asn1::ObjectIdentifier;
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::{DirectoryString, GeneralName};

use crate::chain::lineage;
use crate::host::Host;
use crate::names::{CnFallback, LeafNames, NameMatch};
use crate::policy::TrustPolicy;
use crate::root::ProviderRoot;

/// The fixed root the chain target verifies against: the committed test CA.
const FIXED_ROOT_PEM: &str = include_str!("../tests/data/rsa2048-ca.pem");
/// 2030-01-01T00:00:00Z, inside the committed test certificates' validity.
const FIXED_TIME: UnixTime = UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000));
/// One host of each kind.
const HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// The most certificates one input is split into: the leaf and nine intermediates, one more
/// than the lineage walk looks at, so that its cut-off is exercised too.
pub const MAX_CERTIFICATES: usize = 10;
/// The first byte of every DER certificate (a SEQUENCE).
const DER_SEQUENCE: u8 = 0x30;

/// subjectAltName and commonName, for the independent name check.
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// Loads `data` as a provider root PEM, and displays what it can.
pub fn provider_root_pem(data: &[u8]) {
    match ProviderRoot::from_pem(data) {
        Ok(root) => {
            let _ = (root.subject().len(), root.sha256_fingerprint().to_string());
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
}

/// Splits a fuzz input into a presented chain, leaf first.
///
/// An input starting with 0x30 is one DER certificate, the leaf alone (the format of the
/// corpus's first inputs). Otherwise the first byte `b` says the chain has `b % 10 + 1`
/// certificates; each but the last follows as a big-endian `u16` length and that many bytes,
/// and the last is the rest of the input. Lengths that run past the end are cut short, so every
/// input is some chain.
pub fn split_chain(data: &[u8]) -> Vec<&[u8]> {
    let Some((&first, mut rest)) = data.split_first() else {
        return vec![data];
    };
    if first == DER_SEQUENCE {
        return vec![data];
    }
    let count = usize::from(first) % MAX_CERTIFICATES + 1;
    let mut certificates = Vec::with_capacity(count);
    for _ in 1..count {
        let Some((length, tail)) = rest.split_first_chunk::<2>() else {
            break;
        };
        let length = usize::from(u16::from_be_bytes(*length)).min(tail.len());
        let (certificate, tail) = tail.split_at(length);
        certificates.push(certificate);
        rest = tail;
    }
    certificates.push(rest);
    certificates
}

/// The inverse of [`split_chain`], for seeds and tests: `chain` (leaf first, at most
/// [`MAX_CERTIFICATES`], each but the last at most 65 535 bytes) as one input.
///
/// # Panics
///
/// When `chain` is empty, too long, or a certificate too large to be prefixed.
pub fn join_chain(chain: &[&[u8]]) -> Vec<u8> {
    assert!(
        (1..=MAX_CERTIFICATES).contains(&chain.len()),
        "a chain input holds 1 to {MAX_CERTIFICATES} certificates"
    );
    // One of the counts that say `chain.len()` and is not the DER tag.
    let count = (0..=u8::MAX)
        .find(|&b| b != DER_SEQUENCE && usize::from(b) % MAX_CERTIFICATES + 1 == chain.len())
        .unwrap_or_default();
    let mut data = vec![count];
    let (last, prefixed) = chain.split_last().expect("checked above");
    for certificate in prefixed {
        let length = u16::try_from(certificate.len()).expect("a certificate of at most 64 KiB");
        data.extend_from_slice(&length.to_be_bytes());
        data.extend_from_slice(certificate);
    }
    data.extend_from_slice(last);
    data
}

/// Treats `data` as a presented chain ([`split_chain`]): extracts and matches the leaf's names,
/// walks its lineage through the intermediates, and runs the whole policy for a DNS, an IPv4
/// and an IPv6 host against a fixed root at a fixed time.
///
/// # Panics
///
/// Only when a property fails: the same chain gets the same verdict twice, from
/// [`TrustPolicy::verify`] and [`TrustPolicy::verify_parts`] alike; a verdict of
/// [`NameMatch::SubjectAltName`] or [`NameMatch::CommonName`] names a SAN or the single CN
/// equal to the host, as read here independently of the policy's own name code.
pub fn der_chain(data: &[u8]) {
    static POLICY: OnceLock<Option<TrustPolicy>> = OnceLock::new();
    let Some(policy) = POLICY
        .get_or_init(|| {
            ProviderRoot::from_pem(FIXED_ROOT_PEM)
                .ok()
                .map(TrustPolicy::new)
        })
        .as_ref()
    else {
        return;
    };
    let parts = split_chain(data);
    let chain: Vec<CertificateDer<'_>> = parts.iter().map(|&der| der.into()).collect();
    let Some((leaf, intermediates)) = chain.split_first() else {
        return;
    };
    let hosts: Vec<Host> = HOSTS.iter().filter_map(|h| h.parse().ok()).collect();
    if let Ok(cert) = Certificate::from_der(leaf.as_ref())
        && let Ok(names) = LeafNames::of(&cert)
    {
        for host in &hosts {
            for fallback in [CnFallback::Allowed, CnFallback::NameConstrained] {
                let _ = names.match_host(host, fallback);
            }
        }
        let _ = names.presented();
    }
    let _ = lineage(
        leaf.as_ref(),
        intermediates,
        policy.root().issuer_key(),
        policy.algorithms().all,
    );
    for host in &hosts {
        let verdict = policy.verify(&chain, host, FIXED_TIME);
        assert_eq!(
            verdict,
            policy.verify(&chain, host, FIXED_TIME),
            "two verdicts for one chain"
        );
        assert_eq!(
            verdict,
            policy.verify_parts(leaf, intermediates, host, FIXED_TIME),
            "verify and verify_parts disagree"
        );
        match verdict {
            Ok(matched) => assert_names_host(leaf.as_ref(), host, matched),
            Err(error) => {
                let _ = error.to_string();
            }
        }
    }
}

/// The names of a leaf, read straight from the extension and the subject attributes.
#[derive(Default)]
struct RawNames {
    dns: Vec<String>,
    ips: Vec<IpAddr>,
    common_names: Vec<Option<String>>,
}

impl RawNames {
    fn of(der: &[u8]) -> Option<Self> {
        let cert = Certificate::from_der(der).ok()?;
        let tbs = cert.tbs_certificate();
        let mut names = Self::default();
        for extension in tbs.extensions().into_iter().flatten() {
            if extension.extn_id != SUBJECT_ALT_NAME {
                continue;
            }
            let san = SubjectAltName::from_der(extension.extn_value.as_bytes()).ok()?;
            for name in san.0 {
                match name {
                    GeneralName::DnsName(dns) => names.dns.push(dns.to_string()),
                    GeneralName::IpAddress(octets) => match octets.as_bytes().len() {
                        4 => names.ips.extend(
                            <[u8; 4]>::try_from(octets.as_bytes())
                                .ok()
                                .map(IpAddr::from),
                        ),
                        16 => names.ips.extend(
                            <[u8; 16]>::try_from(octets.as_bytes())
                                .ok()
                                .map(IpAddr::from),
                        ),
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
        for rdn in tbs.subject().iter_rdn() {
            for attribute in rdn.iter() {
                if attribute.oid == COMMON_NAME {
                    let value = attribute.value.decode_as::<DirectoryString>().ok();
                    names
                        .common_names
                        .push(value.map(|v| v.value().into_owned()));
                }
            }
        }
        Some(names)
    }

    /// Whether `presented` names `host`: an IP by address, a DNS name ignoring ASCII case and a
    /// trailing dot.
    fn names(presented: &str, host: &Host) -> bool {
        match host.ip() {
            Some(ip) => presented.parse::<IpAddr>().is_ok_and(|p| p == ip),
            None => {
                let presented = presented.strip_suffix('.').unwrap_or(presented);
                host.dns_name()
                    .is_some_and(|name| presented.eq_ignore_ascii_case(name))
            }
        }
    }

    fn san_names(&self, host: &Host) -> bool {
        match host.ip() {
            Some(ip) => self.ips.contains(&ip),
            None => self.dns.iter().any(|dns| Self::names(dns, host)),
        }
    }
}

/// The accepted-name property of [`der_chain`].
fn assert_names_host(leaf: &[u8], host: &Host, matched: NameMatch) {
    let Some(names) = RawNames::of(leaf) else {
        panic!("{host} accepted ({matched:?}) on a leaf whose names can't be read");
    };
    match matched {
        NameMatch::SubjectAltName => {
            assert!(names.san_names(host), "{host} accepted by a SAN it lacks");
        }
        NameMatch::CommonName => {
            assert!(
                !names.san_names(host),
                "{host} accepted by the CN although a SAN names it"
            );
            let [Some(cn)] = names.common_names.as_slice() else {
                panic!("{host} accepted by the CN without a single readable CN");
            };
            assert!(
                RawNames::names(cn, host),
                "{host} accepted by the CN {cn:?}"
            );
            assert!(!cn.contains('*'), "{host} accepted by a wildcard CN {cn:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_root_loads() {
        assert!(ProviderRoot::from_pem(FIXED_ROOT_PEM).is_ok());
    }

    #[test]
    fn empty_and_tiny_inputs() {
        for data in [
            &b""[..],
            b"\0",
            b"0",
            b"\x30\x80",
            b"\x09\xff\xff",
            b"-----BEGIN CERTIFICATE-----",
        ] {
            provider_root_pem(data);
            der_chain(data);
        }
    }

    #[test]
    fn a_der_certificate_is_a_leaf_alone() {
        let data = [DER_SEQUENCE, 0x03, 0x02, 0x01, 0x00];
        assert_eq!(split_chain(&data), [&data[..]]);
        assert_eq!(split_chain(b""), [&b""[..]]);
    }

    #[test]
    fn prefixed_chains() {
        // Two certificates: "ab" with a length, then the rest.
        assert_eq!(split_chain(b"\x01\x00\x02abcd"), [&b"ab"[..], &b"cd"[..]]);
        // The count wraps at ten: 0x0b is two certificates as well.
        assert_eq!(split_chain(b"\x0b\x00\x00xyz"), [&b""[..], &b"xyz"[..]]);
        // A length past the end takes what is there; missing certificates are left out.
        assert_eq!(split_chain(b"\x09\x00\x09abc"), [&b"abc"[..], &b""[..]]);
        assert_eq!(split_chain(b"\x02\x00"), [&b"\x00"[..]]);
    }

    #[test]
    fn join_inverts_split() {
        let certificates: Vec<Vec<u8>> = (0..MAX_CERTIFICATES as u8)
            .map(|i| vec![i; usize::from(i) * 3])
            .collect();
        for count in 1..=MAX_CERTIFICATES {
            let chain: Vec<&[u8]> = certificates[..count].iter().map(Vec::as_slice).collect();
            let joined = join_chain(&chain);
            assert_ne!(joined[0], DER_SEQUENCE);
            assert_eq!(split_chain(&joined), chain, "{count}");
        }
    }
}
