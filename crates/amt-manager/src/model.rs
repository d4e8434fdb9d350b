//! The product model: deployments with their provider account, workstations, pools.

use std::fmt;

use amt_power::AmtVersion;
use amt_trust::Host;

/// The port Intel AMT serves WS-Management over TLS on.
pub const AMT_TLS_PORT: u16 = 16993;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A deployment's identifier in the inventory.
    DeploymentId
);
id_type!(
    /// A workstation's identifier in the inventory (also bound into its sealed credentials).
    WorkstationId
);
id_type!(
    /// A pool's identifier in the inventory.
    PoolId
);

/// A name of a deployment, workstation or pool: 1 to 64 characters, no control characters, no
/// leading or trailing space.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    /// The longest name accepted.
    pub const MAX_LEN: usize = 64;

    /// Checks a name.
    pub fn parse(input: &str) -> Result<Self, InvalidName> {
        let problem = if input.is_empty() {
            Some("is empty")
        } else if input.chars().count() > Self::MAX_LEN {
            Some("is longer than 64 characters")
        } else if input.chars().any(char::is_control) {
            Some("contains control characters")
        } else if input.trim() != input {
            Some("starts or ends with white space")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(InvalidName {
                input: input.chars().take(80).collect(),
                problem,
            }),
            None => Ok(Self(input.to_owned())),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A name that [`Name::parse`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the name {input:?} {problem}")]
pub struct InvalidName {
    /// The text given (shortened).
    pub input: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// A deployment: a set of workstations provisioned by one Intel AMT provider account, whose root
/// CA certificate issued every workstation's TLS certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The inventory identifier.
    pub id: DeploymentId,
    /// The deployment's name.
    pub name: Name,
    /// The provider root CA certificate (PEM, exactly one CA certificate).
    pub provider_root_pem: String,
}

/// A workstation: one Intel AMT device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workstation {
    /// The inventory identifier.
    pub id: WorkstationId,
    /// The deployment it belongs to.
    pub deployment: DeploymentId,
    /// The workstation's name.
    pub name: Name,
    /// The FQDN or IP it is reached at; its certificate must name it (CN or SAN).
    pub host: Host,
    /// The AMT TLS port (16993).
    pub port: u16,
    /// Whether the product manages its power.
    pub managed: bool,
    /// The legacy TLS switch: whether the workstation is reached through the legacy TLS
    /// transport (TLS 1.1/1.2 with RSA key exchange, for Intel AMT 9 to 12; cargo feature
    /// `legacy-tls`). Off by default: it weakens the connection's security. When on, the legacy
    /// transport is the only one used for this workstation; there is never a fallback between
    /// transports (crate docs, "Legacy TLS").
    pub allow_legacy_tls: bool,
    /// The user name of the stored credentials, when there are any.
    pub username: Option<String>,
    /// The AMT firmware version last read from the workstation.
    pub amt_version: Option<AmtVersion>,
}

impl Workstation {
    /// The cooldown key: the normalised host and the port, as `host:port` (`[v6]:port`).
    pub fn device_key(&self) -> String {
        device_key(&self.host, self.port)
    }

    /// Whether credentials are stored.
    pub fn has_credentials(&self) -> bool {
        self.username.is_some()
    }
}

/// The cooldown key of a device: the normalised host and the port.
pub fn device_key(host: &Host, port: u16) -> String {
    match host.ip() {
        Some(std::net::IpAddr::V6(_)) => format!("[{host}]:{port}"),
        _ => format!("{host}:{port}"),
    }
}

/// What a new workstation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWorkstation {
    /// The deployment it belongs to.
    pub deployment: DeploymentId,
    /// Its name.
    pub name: Name,
    /// Its FQDN or IP.
    pub host: Host,
    /// Its AMT TLS port.
    pub port: u16,
    /// Whether the legacy TLS transport may be used.
    pub allow_legacy_tls: bool,
}

/// The changeable settings of a workstation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkstationSettings {
    /// Its name.
    pub name: Name,
    /// Its FQDN or IP.
    pub host: Host,
    /// Its AMT TLS port.
    pub port: u16,
    /// Whether the product manages its power.
    pub managed: bool,
    /// Whether the legacy TLS transport may be used.
    pub allow_legacy_tls: bool,
}

/// A pool: a named set of workstations, the unit of bulk operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// The inventory identifier.
    pub id: PoolId,
    /// The pool's name.
    pub name: Name,
    /// Its members.
    pub members: Vec<WorkstationId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(Name::parse("ws-01").is_ok());
        assert!(Name::parse("Büro 3").is_ok());
        for bad in ["", " ws", "ws ", "a\nb", &"x".repeat(65)] {
            assert!(Name::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn device_keys_bracket_ipv6() {
        let key = |h: &str| device_key(&Host::parse(h).unwrap(), 16993);
        assert_eq!(key("WS1.Example.com."), "ws1.example.com:16993");
        assert_eq!(key("192.0.2.7"), "192.0.2.7:16993");
        assert_eq!(key("[2001:db8::7]"), "[2001:db8::7]:16993");
    }
}
