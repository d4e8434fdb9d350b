//! The workstation's address, parsed and normalised once.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use rustls_pki_types::{DnsName, ServerName};

use crate::error::TrustError;

/// A workstation's host: a fully qualified domain name or an IP address, normalised.
///
/// Normal form: DNS names in lower case without a trailing dot; IPv4 in dotted decimal; IPv6 in
/// the RFC 5952 text form (`2001:db8::7`), without brackets. [`Display`](fmt::Display) prints
/// the normal form, and equality, ordering and hashing use it, so one `Host` serves as the TLS
/// server name, the name checked against the certificate, the cooldown key and the text in
/// messages.
///
/// Accepted input: DNS names of letters, digits, `-` and `_` (labels of 1 to 63 characters, not
/// starting or ending with `-`, 253 characters at most, last label not all digits; single-label
/// intranet names are allowed), IPv4, and IPv6 with or without `[…]`. Surrounding whitespace is
/// ignored. Internationalised names must be given in their `xn--` form; IPv6 zone identifiers
/// are refused. IPv4-mapped IPv6 addresses stay IPv6.
///
/// ```
/// use amt_trust::Host;
///
/// let host: Host = " AMT-WS01.Example.COM. ".parse()?;
/// assert_eq!(host.to_string(), "amt-ws01.example.com");
/// let v6: Host = "[2001:DB8:0:0::7]".parse()?;
/// assert_eq!(v6.to_string(), "2001:db8::7");
/// assert_eq!(v6, "2001:db8::7".parse()?);
/// # Ok::<(), amt_trust::TrustError>(())
/// ```
#[derive(Clone)]
pub struct Host {
    repr: Repr,
    server_name: ServerName<'static>,
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Repr {
    Dns(String),
    Ip(IpAddr),
}

const MAX_NAME_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

impl Host {
    /// Parses and normalises user input (see the type docs for what is accepted).
    pub fn parse(input: &str) -> Result<Self, TrustError> {
        let invalid = |reason| TrustError::InvalidHost {
            input: input.to_owned(),
            reason,
        };
        let text = input.trim();
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        if let Some(inner) = text.strip_prefix('[') {
            let Some(inner) = inner.strip_suffix(']') else {
                // "[::1]:16993", the URL form, is the likely slip here.
                return Err(invalid(if inner.contains("]:") {
                    "a port after ']'; give the IPv6 address alone and the port separately"
                } else {
                    "'[' without a closing ']'"
                }));
            };
            return inner
                .parse::<Ipv6Addr>()
                .map(|ip| Self::from_ip(IpAddr::V6(ip)))
                .map_err(|_| invalid("brackets must enclose an IPv6 address"));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Self::from_ip(ip));
        }
        if text.contains('%') {
            return Err(invalid("IPv6 zone identifiers are not supported"));
        }
        if text.contains(':') {
            return Err(invalid(
                "not a valid IPv6 address (and a DNS name has no ':'; give the port separately)",
            ));
        }
        if !text.is_ascii() {
            return Err(invalid(
                "non-ASCII characters; give an internationalised name in its xn-- form",
            ));
        }
        let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
        validate_dns_name(&name).map_err(invalid)?;
        let dns = DnsName::try_from(name.clone())
            .map_err(|_| invalid("not a valid DNS name"))?
            .to_owned();
        Ok(Self {
            repr: Repr::Dns(name),
            server_name: ServerName::DnsName(dns),
        })
    }

    /// A host for an IP address.
    pub fn from_ip(ip: IpAddr) -> Self {
        Self {
            repr: Repr::Ip(ip),
            server_name: ServerName::IpAddress(ip.into()),
        }
    }

    /// The IP address, when the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self.repr {
            Repr::Ip(ip) => Some(ip),
            Repr::Dns(_) => None,
        }
    }

    /// The normalised DNS name, when the host is one.
    pub fn dns_name(&self) -> Option<&str> {
        match &self.repr {
            Repr::Dns(name) => Some(name),
            Repr::Ip(_) => None,
        }
    }

    /// The server name to hand to rustls (no SNI is sent for IP addresses).
    pub fn server_name(&self) -> ServerName<'static> {
        self.server_name.clone()
    }

    /// The host rustls verifies a certificate for. Only DNS names and IP addresses exist today;
    /// a future kind is refused.
    pub(crate) fn from_server_name(name: &ServerName<'_>) -> Result<Self, TrustError> {
        match name {
            ServerName::DnsName(dns) => Self::parse(dns.as_ref()),
            ServerName::IpAddress(ip) => Ok(Self::from_ip(IpAddr::from(*ip))),
            other => Err(TrustError::InvalidHost {
                input: format!("{other:?}"),
                reason: "unsupported kind of TLS server name",
            }),
        }
    }
}

/// Checks a lower-case ASCII name without trailing dot; returns why it is invalid.
fn validate_dns_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is only a dot");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("longer than 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("it has an empty label (two dots in a row, or a leading dot)");
        }
        if label.len() > MAX_LABEL_LEN {
            return Err("a label is longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("only letters, digits, '-', '_' and '.' may appear in a DNS name");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with '-'");
        }
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err("looks like an IPv4 address but is not a valid one");
    }
    Ok(())
}

impl FromStr for Host {
    type Err = TrustError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for Host {
    type Error = TrustError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        Self::from_ip(ip)
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Dns(name) => f.write_str(name),
            Repr::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Host({self})")
    }
}

impl PartialEq for Host {
    fn eq(&self, other: &Self) -> bool {
        self.repr == other.repr
    }
}

impl Eq for Host {}

impl Hash for Host {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.repr.hash(state);
    }
}

impl PartialOrd for Host {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Host {
    fn cmp(&self, other: &Self) -> Ordering {
        self.repr.cmp(&other.repr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(input: &str) -> String {
        Host::parse(input).unwrap().to_string()
    }

    fn reason(input: &str) -> &'static str {
        match Host::parse(input) {
            Err(TrustError::InvalidHost { reason, .. }) => reason,
            other => panic!("{input:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn dns_names_are_lower_case_without_trailing_dot() {
        assert_eq!(normal("AMT.Example.COM."), "amt.example.com");
        assert_eq!(normal("  ws-01.corp  "), "ws-01.corp");
        assert_eq!(normal("ws01"), "ws01");
        assert_eq!(normal("win_host.corp"), "win_host.corp");
        assert_eq!(normal("xn--bcher-kva.example"), "xn--bcher-kva.example");
        let host = Host::parse("A.B").unwrap();
        assert_eq!(host.dns_name(), Some("a.b"));
        assert_eq!(host.ip(), None);
    }

    #[test]
    fn ips_are_canonical() {
        assert_eq!(normal("192.0.2.7"), "192.0.2.7");
        assert_eq!(normal("[::1]"), "::1");
        assert_eq!(normal("2001:DB8:0000:0::7"), "2001:db8::7");
        assert_eq!(normal("::ffff:192.0.2.7"), "::ffff:192.0.2.7");
        let host = Host::parse("[2001:db8::7]").unwrap();
        assert_eq!(host.ip(), Some("2001:db8::7".parse().unwrap()));
        assert_eq!(host.dns_name(), None);
        assert_eq!(
            host.server_name(),
            ServerName::try_from("2001:db8::7").unwrap()
        );
    }

    #[test]
    fn equal_inputs_are_one_key() {
        use std::collections::HashSet;
        let set: HashSet<Host> = ["amt.example", "AMT.EXAMPLE.", " amt.example"]
            .into_iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(set.len(), 1);
        let mut sorted: Vec<Host> = ["b.example", "a.example", "10.0.0.1"]
            .into_iter()
            .map(|s| s.parse().unwrap())
            .collect();
        sorted.sort();
        let texts: Vec<String> = sorted.iter().map(Host::to_string).collect();
        assert_eq!(texts, ["a.example", "b.example", "10.0.0.1"]);
    }

    #[test]
    fn invalid_inputs_say_why() {
        assert_eq!(reason(""), "it is empty");
        assert_eq!(reason("."), "it is only a dot");
        assert!(reason("a..b").contains("empty label"));
        assert!(reason(".a").contains("empty label"));
        assert!(reason("-a.example").contains("'-'"));
        assert!(reason("a-.example").contains("'-'"));
        assert!(reason("a b.example").contains("only letters"));
        assert!(reason("*.example").contains("only letters"));
        assert!(reason("bücher.example").contains("xn--"));
        assert!(reason("256.1.1.1").contains("IPv4"));
        assert!(reason("01.02.03.04").contains("IPv4"));
        assert!(reason("127.1").contains("IPv4"));
        assert!(reason("[192.0.2.1]").contains("IPv6"));
        assert_eq!(reason("[::1"), "'[' without a closing ']'");
        assert_eq!(
            reason("[::1]:16993"),
            "a port after ']'; give the IPv6 address alone and the port separately"
        );
        assert!(reason(" [2001:db8::7]:16992 ").contains("port separately"));
        assert!(reason("fe80::1%eth0").contains("zone"));
        assert!(reason("amt.example:16993").contains("port"));
        assert!(reason(&format!("{}.example", "a".repeat(64))).contains("63"));
        let long = vec!["a".repeat(60); 5].join(".");
        assert!(reason(&long).contains("253"));
        assert_eq!(normal(&vec!["a".repeat(63); 3].join(".")).len(), 191);
    }

    #[test]
    fn server_names_round_trip() {
        for input in ["amt.example", "192.0.2.7", "2001:db8::7"] {
            let host = Host::parse(input).unwrap();
            let back = Host::from_server_name(&host.server_name()).unwrap();
            assert_eq!(back, host);
        }
    }

    #[test]
    fn debug_shows_the_normal_form() {
        assert_eq!(
            format!("{:?}", Host::parse("A.example").unwrap()),
            "Host(a.example)"
        );
    }
}
