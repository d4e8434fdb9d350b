//! The names a leaf certificate presents, and the CN-or-SAN rule.

use std::fmt;
use std::net::IpAddr;

use der::Decode;
use der::asn1::ObjectIdentifier;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::{DirectoryString, GeneralName};

use crate::error::TrustError;
use crate::host::Host;

/// The subject commonName attribute type (RFC 4519).
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// The nameConstraints extension (RFC 5280 §4.2.1.10).
const NAME_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.30");

/// Whether the subject CN may stand in for a SAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CnFallback {
    /// No CA of the verified path has name constraints.
    Allowed,
    /// A CA of the verified path has name constraints, which webpki applies to SANs only; a CN
    /// is never checked against them, so it must not be what lets the host in.
    NameConstrained,
}

impl CnFallback {
    /// The rule for a verified path: whether the anchor (`anchor_constrained`) or any of the
    /// intermediates (DER) carries name constraints.
    pub(crate) fn for_path(
        anchor_constrained: bool,
        intermediates: impl IntoIterator<Item = impl AsRef<[u8]>>,
    ) -> Self {
        if anchor_constrained
            || intermediates
                .into_iter()
                .any(|der| carries_name_constraints(der.as_ref()))
        {
            Self::NameConstrained
        } else {
            Self::Allowed
        }
    }
}

/// Whether a CA certificate has a nameConstraints extension. One x509-cert can't read (webpki
/// read it, or it would not be in the path) is assumed to have one.
fn carries_name_constraints(der: &[u8]) -> bool {
    Certificate::from_der(der).map_or(true, |cert| {
        cert.tbs_certificate()
            .extensions()
            .is_some_and(|extensions| extensions.iter().any(|e| e.extn_id == NAME_CONSTRAINTS))
    })
}

/// A name a certificate presents, as shown in [`TrustError::NameMismatch`] for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PresentedName {
    /// A dNSName subject alternative name, as written in the certificate.
    Dns(String),
    /// An iPAddress subject alternative name.
    Ip(IpAddr),
    /// A subject commonName, as written in the certificate.
    CommonName(String),
}

impl fmt::Display for PresentedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(name) => write!(f, "DNS:{name}"),
            Self::Ip(ip) => write!(f, "IP:{ip}"),
            Self::CommonName(name) => write!(f, "CN={name}"),
        }
    }
}

/// Which of the leaf's names matched the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameMatch {
    /// A subject alternative name of the host's kind (dNSName or iPAddress).
    SubjectAltName,
    /// The single subject commonName.
    CommonName,
}

/// The names of a leaf: its SANs of the two kinds we compare, and every subject CN attribute
/// (`None` for a CN whose value is not a readable string).
#[derive(Debug, Default)]
pub(crate) struct LeafNames {
    sans: Vec<PresentedName>,
    common_names: Vec<Option<String>>,
}

impl LeafNames {
    /// Extracts the names. A SAN extension that is duplicated or malformed makes the
    /// certificate malformed; a CN that is not a string is kept as unreadable.
    pub(crate) fn of(cert: &Certificate) -> Result<Self, TrustError> {
        let tbs = cert.tbs_certificate();
        let mut names = Self::default();
        let san = tbs.get_extension::<SubjectAltName>().map_err(|e| {
            TrustError::MalformedCertificate {
                detail: format!("subjectAltName: {e}"),
            }
        })?;
        if let Some((_critical, san)) = san {
            for name in san.0 {
                match name {
                    GeneralName::DnsName(dns) => {
                        names.sans.push(PresentedName::Dns(dns.to_string()))
                    }
                    GeneralName::IpAddress(octets) => {
                        if let Some(ip) = ip_from_octets(octets.as_bytes()) {
                            names.sans.push(PresentedName::Ip(ip));
                        }
                    }
                    _ => {}
                }
            }
        }
        names.common_names = tbs
            .subject()
            .iter()
            .filter(|attribute| attribute.oid == COMMON_NAME)
            .map(|attribute| {
                attribute
                    .value
                    .decode_as::<DirectoryString>()
                    .ok()
                    .map(|s| s.value().into_owned())
            })
            .collect();
        Ok(names)
    }

    /// The CN-or-SAN rule: a SAN of the host's kind equal to the host, else the single subject
    /// CN (ASCII, no wildcard) equal to it, if `cn` allows. Wildcards never match, in SANs or
    /// CN.
    pub(crate) fn match_host(&self, host: &Host, cn: CnFallback) -> Option<NameMatch> {
        let san_matches = self.sans.iter().any(|san| match (san, host.ip()) {
            (PresentedName::Ip(presented), Some(ip)) => *presented == ip,
            (PresentedName::Dns(presented), None) => dns_equal(presented, host),
            _ => false,
        });
        if san_matches {
            return Some(NameMatch::SubjectAltName);
        }
        if cn == CnFallback::NameConstrained {
            return None;
        }
        let [Some(cn)] = self.common_names.as_slice() else {
            return None;
        };
        let cn_matches = match host.ip() {
            Some(ip) => cn.parse::<IpAddr>().is_ok_and(|presented| presented == ip),
            None => dns_equal(cn, host),
        };
        cn_matches.then_some(NameMatch::CommonName)
    }

    /// Every name, SANs first, for diagnostics.
    pub(crate) fn presented(&self) -> Vec<PresentedName> {
        let cns = self
            .common_names
            .iter()
            .flatten()
            .map(|cn| PresentedName::CommonName(cn.clone()));
        self.sans.iter().cloned().chain(cns).collect()
    }
}

/// DNS names compare ASCII case-insensitively, ignoring one trailing dot; a presented name with
/// a wildcard or a non-ASCII character never matches.
fn dns_equal(presented: &str, host: &Host) -> bool {
    let Some(expected) = host.dns_name() else {
        return false;
    };
    // Regression guards, unreachable today: a Host never holds '*' or non-ASCII, so such a
    // name could not compare equal anyway. They keep "wildcards never match" true should
    // matching ever grow wildcard or IDN logic.
    if !presented.is_ascii() || presented.contains('*') {
        return false;
    }
    let presented = presented.strip_suffix('.').unwrap_or(presented);
    presented.eq_ignore_ascii_case(expected)
}

fn ip_from_octets(octets: &[u8]) -> Option<IpAddr> {
    match octets.len() {
        4 => <[u8; 4]>::try_from(octets).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(octets).ok().map(IpAddr::from),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sans: Vec<PresentedName>, cns: &[&str]) -> LeafNames {
        LeafNames {
            sans,
            common_names: cns.iter().map(|cn| Some((*cn).to_owned())).collect(),
        }
    }

    fn host(s: &str) -> Host {
        s.parse().unwrap()
    }

    const ALLOWED: CnFallback = CnFallback::Allowed;

    #[test]
    fn name_constraints_turn_the_cn_fallback_off() {
        let leaf = names(
            vec![PresentedName::Dns("san.example".into())],
            &["cn.example"],
        );
        let constrained = CnFallback::NameConstrained;
        assert_eq!(leaf.match_host(&host("cn.example"), constrained), None);
        assert_eq!(
            leaf.match_host(&host("san.example"), constrained),
            Some(NameMatch::SubjectAltName)
        );
        assert_eq!(
            leaf.match_host(&host("cn.example"), ALLOWED),
            Some(NameMatch::CommonName)
        );
    }

    #[test]
    fn path_rule() {
        assert_eq!(CnFallback::for_path(false, Vec::<&[u8]>::new()), ALLOWED);
        assert_eq!(
            CnFallback::for_path(true, Vec::<&[u8]>::new()),
            CnFallback::NameConstrained
        );
        // An intermediate that can't be read counts as constrained.
        assert_eq!(
            CnFallback::for_path(false, [&b"junk"[..]]),
            CnFallback::NameConstrained
        );
    }

    #[test]
    fn san_of_the_hosts_kind_matches() {
        let leaf = names(
            vec![
                PresentedName::Dns("AMT.example.".into()),
                PresentedName::Ip("192.0.2.7".parse().unwrap()),
                PresentedName::Ip("2001:db8::7".parse().unwrap()),
            ],
            &[],
        );
        assert_eq!(
            leaf.match_host(&host("amt.example"), ALLOWED),
            Some(NameMatch::SubjectAltName)
        );
        assert_eq!(
            leaf.match_host(&host("192.0.2.7"), ALLOWED),
            Some(NameMatch::SubjectAltName)
        );
        assert_eq!(
            leaf.match_host(&host("[2001:db8:0::7]"), ALLOWED),
            Some(NameMatch::SubjectAltName)
        );
        assert_eq!(leaf.match_host(&host("192.0.2.8"), ALLOWED), None);
        assert_eq!(leaf.match_host(&host("other.example"), ALLOWED), None);
    }

    #[test]
    fn a_dns_san_spelling_an_ip_does_not_match_the_ip() {
        let leaf = names(vec![PresentedName::Dns("192.0.2.7".into())], &[]);
        assert_eq!(leaf.match_host(&host("192.0.2.7"), ALLOWED), None);
    }

    #[test]
    fn single_cn_matches_even_beside_sans() {
        let leaf = names(
            vec![PresentedName::Dns("san.example".into())],
            &["CN.Example"],
        );
        assert_eq!(
            leaf.match_host(&host("cn.example"), ALLOWED),
            Some(NameMatch::CommonName)
        );
        assert_eq!(
            leaf.match_host(&host("san.example"), ALLOWED),
            Some(NameMatch::SubjectAltName)
        );
    }

    #[test]
    fn ip_cn_compares_as_an_address() {
        let leaf = names(vec![], &["2001:0db8::0007"]);
        assert_eq!(
            leaf.match_host(&host("2001:db8::7"), ALLOWED),
            Some(NameMatch::CommonName)
        );
        let leading_zero = names(vec![], &["192.000.002.007"]);
        assert_eq!(leading_zero.match_host(&host("192.0.2.7"), ALLOWED), None);
    }

    #[test]
    fn two_cns_wildcards_and_unreadable_cns_never_match() {
        assert_eq!(
            names(vec![], &["a.example", "b.example"]).match_host(&host("a.example"), ALLOWED),
            None
        );
        assert_eq!(
            names(vec![], &["*.example"]).match_host(&host("a.example"), ALLOWED),
            None
        );
        let wild_san = names(vec![PresentedName::Dns("*.example".into())], &[]);
        assert_eq!(wild_san.match_host(&host("a.example"), ALLOWED), None);
        let unreadable = LeafNames {
            sans: vec![],
            common_names: vec![None],
        };
        assert_eq!(unreadable.match_host(&host("a.example"), ALLOWED), None);
        assert_eq!(
            names(vec![], &["bücher.example"]).match_host(&host("xn--bcher-kva.example"), ALLOWED),
            None
        );
    }

    #[test]
    fn presented_lists_sans_then_cns() {
        let leaf = names(
            vec![PresentedName::Ip("192.0.2.7".parse().unwrap())],
            &["a", "b"],
        );
        let shown: Vec<String> = leaf.presented().iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["IP:192.0.2.7", "CN=a", "CN=b"]);
    }
}
