//! The names a leaf certificate presents, and the CN-or-SAN rule.

use std::fmt;
use std::net::IpAddr;

use der::asn1::ObjectIdentifier;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::{DirectoryString, GeneralName};

use crate::error::TrustError;
use crate::host::Host;

/// The subject commonName attribute type (RFC 4519).
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

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
    /// CN (ASCII, no wildcard) equal to it. Wildcards never match, in SANs or CN.
    pub(crate) fn match_host(&self, host: &Host) -> Option<NameMatch> {
        let san_matches = self.sans.iter().any(|san| match (san, host.ip()) {
            (PresentedName::Ip(presented), Some(ip)) => *presented == ip,
            (PresentedName::Dns(presented), None) => dns_equal(presented, host),
            _ => false,
        });
        if san_matches {
            return Some(NameMatch::SubjectAltName);
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
            leaf.match_host(&host("amt.example")),
            Some(NameMatch::SubjectAltName)
        );
        assert_eq!(
            leaf.match_host(&host("192.0.2.7")),
            Some(NameMatch::SubjectAltName)
        );
        assert_eq!(
            leaf.match_host(&host("[2001:db8:0::7]")),
            Some(NameMatch::SubjectAltName)
        );
        assert_eq!(leaf.match_host(&host("192.0.2.8")), None);
        assert_eq!(leaf.match_host(&host("other.example")), None);
    }

    #[test]
    fn a_dns_san_spelling_an_ip_does_not_match_the_ip() {
        let leaf = names(vec![PresentedName::Dns("192.0.2.7".into())], &[]);
        assert_eq!(leaf.match_host(&host("192.0.2.7")), None);
    }

    #[test]
    fn single_cn_matches_even_beside_sans() {
        let leaf = names(
            vec![PresentedName::Dns("san.example".into())],
            &["CN.Example"],
        );
        assert_eq!(
            leaf.match_host(&host("cn.example")),
            Some(NameMatch::CommonName)
        );
        assert_eq!(
            leaf.match_host(&host("san.example")),
            Some(NameMatch::SubjectAltName)
        );
    }

    #[test]
    fn ip_cn_compares_as_an_address() {
        let leaf = names(vec![], &["2001:0db8::0007"]);
        assert_eq!(
            leaf.match_host(&host("2001:db8::7")),
            Some(NameMatch::CommonName)
        );
        let leading_zero = names(vec![], &["192.000.002.007"]);
        assert_eq!(leading_zero.match_host(&host("192.0.2.7")), None);
    }

    #[test]
    fn two_cns_wildcards_and_unreadable_cns_never_match() {
        assert_eq!(
            names(vec![], &["a.example", "b.example"]).match_host(&host("a.example")),
            None
        );
        assert_eq!(
            names(vec![], &["*.example"]).match_host(&host("a.example")),
            None
        );
        let wild_san = names(vec![PresentedName::Dns("*.example".into())], &[]);
        assert_eq!(wild_san.match_host(&host("a.example")), None);
        let unreadable = LeafNames {
            sans: vec![],
            common_names: vec![None],
        };
        assert_eq!(unreadable.match_host(&host("a.example")), None);
        assert_eq!(
            names(vec![], &["bücher.example"]).match_host(&host("xn--bcher-kva.example")),
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
