//! The simulator's certificate authority and the device certificates it issues.
//!
//! A real deployment has one provider root CA that issued every workstation's TLS certificate. The
//! simulator plays that CA: it is generated at start (or loaded from PEM files, so that a client
//! can keep trusting one root across runs) and issues each simulated device a leaf certificate,
//! optionally a broken one that reproduces a trust error.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
#[cfg(feature = "legacy-tls")]
use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration as TimeDuration, OffsetDateTime};

use crate::Error;

/// Which validity period a leaf certificate gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Validity {
    /// Valid from a day ago for ten years.
    #[default]
    Current,
    /// Expired: valid from sixty days ago until yesterday.
    Expired,
    /// Not yet valid: valid from tomorrow.
    NotYetValid,
}

/// Who signs a leaf certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LeafIssuer {
    /// The simulator CA, the one clients are told to trust.
    #[default]
    SimulatorCa,
    /// A throwaway CA generated for this certificate alone: clients that trust the simulator CA
    /// see a root mismatch.
    ForeignCa,
}

/// What a device's leaf certificate says. The default names `localhost` and the listen address
/// (the loopback address when listening on the unspecified address, which no client dials), as
/// Subject Alternative Names, and is valid now, signed by the simulator CA.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeafSpec {
    /// The names (DNS names or IP addresses). Empty means `localhost` plus the listen IP.
    pub names: Vec<String>,
    /// Put the name in the subject Common Name only (AMT certificates made by some tools carry
    /// no SAN), instead of Subject Alternative Names. A Common Name holds one name: issuing
    /// refuses more than one in [`LeafSpec::names`]; with none it is `localhost`.
    pub cn_only: bool,
    /// The validity period.
    pub validity: Validity,
    /// Who signs it.
    pub issuer: LeafIssuer,
}

impl LeafSpec {
    /// A valid leaf for exactly these names, as SANs.
    pub fn names<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            names: names.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// The names to certify for a device listening on `ip`.
    pub(crate) fn effective_names(&self, ip: IpAddr) -> Vec<String> {
        if self.names.is_empty() {
            vec!["localhost".to_owned(), reachable_ip(ip).to_string()]
        } else {
            self.names.clone()
        }
    }
}

/// The address a client dials to reach a listener on `ip`: the loopback address of its family
/// when `ip` is the unspecified address (`0.0.0.0`, `::`).
pub(crate) fn reachable_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        other => other,
    }
}

/// A certificate chain and its private key, ready for a TLS server.
#[derive(Debug)]
pub struct ServerIdentity {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key (PKCS#8).
    pub key: PrivateKeyDer<'static>,
}

impl Clone for ServerIdentity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// The simulator's certificate authority.
#[derive(Debug, Clone)]
pub struct SimCa {
    inner: Arc<CaInner>,
}

struct CaInner {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    /// The RSA-2048 key (PKCS#8) of every legacy leaf this CA issues: generating one takes
    /// OpenSSL tens of milliseconds, too long to spend on each device of a fleet.
    #[cfg(feature = "legacy-tls")]
    rsa_key: OnceLock<Vec<u8>>,
}

impl std::fmt::Debug for CaInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaInner").finish_non_exhaustive()
    }
}

impl SimCa {
    /// Generates a new CA (ECDSA P-256) named `common_name`.
    pub fn generate(common_name: &str) -> Result<Self, Error> {
        let key = KeyPair::generate().map_err(Error::certificate)?;
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(Error::certificate)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "amt-sim");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - TimeDuration::days(2);
        params.not_after = now + TimeDuration::days(3650);
        let cert = params.self_signed(&key).map_err(Error::certificate)?;
        Ok(Self {
            inner: Arc::new(CaInner {
                cert_pem: cert.pem(),
                issuer: Issuer::new(params, key),
                #[cfg(feature = "legacy-tls")]
                rsa_key: OnceLock::new(),
            }),
        })
    }

    /// Loads a CA from its certificate and private key in PEM.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, Error> {
        let key = KeyPair::from_pem(key_pem).map_err(Error::certificate)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key).map_err(Error::certificate)?;
        Ok(Self {
            inner: Arc::new(CaInner {
                issuer,
                cert_pem: cert_pem.to_owned(),
                #[cfg(feature = "legacy-tls")]
                rsa_key: OnceLock::new(),
            }),
        })
    }

    /// Loads a CA from a certificate file and a key file (PEM).
    pub fn from_files(cert_path: &Path, key_path: &Path) -> Result<Self, Error> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| Error::Io {
                context: format!("reading {}", path.display()),
                source,
            })
        };
        Self::from_pem(&read(cert_path)?, &read(key_path)?)
    }

    /// The CA certificate in PEM, what clients trust.
    pub fn cert_pem(&self) -> &str {
        &self.inner.cert_pem
    }

    /// The CA certificate in DER.
    pub fn cert_der(&self) -> Result<CertificateDer<'static>, Error> {
        use rustls_pki_types::pem::PemObject as _;
        CertificateDer::from_pem_slice(self.inner.cert_pem.as_bytes()).map_err(|e| {
            Error::Certificate {
                detail: format!("the CA certificate PEM: {e}"),
            }
        })
    }

    /// The CA's private key in PEM (to save the CA and load it again with [`SimCa::from_files`]).
    pub fn key_pem(&self) -> String {
        self.inner.issuer.key().serialize_pem()
    }

    /// Writes the CA certificate as PEM to `path`.
    pub fn write_cert_pem(&self, path: &Path) -> Result<(), Error> {
        std::fs::write(path, self.cert_pem()).map_err(|source| Error::Io {
            context: format!("writing {}", path.display()),
            source,
        })
    }

    /// Issues a leaf certificate (ECDSA P-256 key) for a device listening on `ip`.
    pub fn issue(&self, spec: &LeafSpec, ip: IpAddr) -> Result<ServerIdentity, Error> {
        let key = KeyPair::generate().map_err(Error::certificate)?;
        self.issue_for_key(spec, ip, key)
    }

    /// Issues a leaf certificate with an RSA-2048 key, as the legacy listeners need (RSA key
    /// exchange), for a device listening on `ip`. All the RSA leaves of one CA share one key,
    /// generated on first use.
    #[cfg(feature = "legacy-tls")]
    pub fn issue_rsa(&self, spec: &LeafSpec, ip: IpAddr) -> Result<ServerIdentity, Error> {
        let pkcs8 = match self.inner.rsa_key.get() {
            Some(pkcs8) => pkcs8,
            None => {
                let generated = crate::legacy::generate_rsa_pkcs8()?;
                self.inner.rsa_key.get_or_init(|| generated)
            }
        };
        let key = KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(pkcs8.as_slice()),
            &rcgen::PKCS_RSA_SHA256,
        )
        .map_err(Error::certificate)?;
        self.issue_for_key(spec, ip, key)
    }

    fn issue_for_key(
        &self,
        spec: &LeafSpec,
        ip: IpAddr,
        key: KeyPair,
    ) -> Result<ServerIdentity, Error> {
        if spec.cn_only && spec.names.len() > 1 {
            return Err(Error::InvalidConfig(format!(
                "a CN-only certificate holds one name, not {}",
                spec.names.len()
            )));
        }
        let names = spec.effective_names(ip);
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(Error::certificate)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        if spec.cn_only {
            let cn = names.first().map_or("amt-sim device", String::as_str);
            params.distinguished_name.push(DnType::CommonName, cn);
        } else {
            params
                .distinguished_name
                .push(DnType::CommonName, "Intel(R) AMT (amt-sim)");
            params.subject_alt_names = names
                .iter()
                .map(|name| match name.parse::<IpAddr>() {
                    Ok(ip) => Ok(SanType::IpAddress(ip)),
                    Err(_) => name.clone().try_into().map(SanType::DnsName),
                })
                .collect::<Result<_, _>>()
                .map_err(Error::certificate)?;
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        (params.not_before, params.not_after) = match spec.validity {
            Validity::Current => (now - TimeDuration::days(1), now + TimeDuration::days(3650)),
            Validity::Expired => (now - TimeDuration::days(60), now - TimeDuration::days(1)),
            Validity::NotYetValid => (now + TimeDuration::days(1), now + TimeDuration::days(365)),
        };
        let cert = match spec.issuer {
            LeafIssuer::SimulatorCa => params.signed_by(&key, &self.inner.issuer),
            LeafIssuer::ForeignCa => {
                let foreign = Self::generate("amt-sim foreign CA (not trusted)")?;
                params.signed_by(&key, &foreign.inner.issuer)
            }
        }
        .map_err(Error::certificate)?;
        Ok(ServerIdentity {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_ca_loads_again_and_issues_leaves() {
        let ca = SimCa::generate("test CA").unwrap();
        let loaded = SimCa::from_pem(ca.cert_pem(), &ca.key_pem()).unwrap();
        assert_eq!(loaded.cert_pem(), ca.cert_pem());
        let leaf = loaded
            .issue(&LeafSpec::default(), "127.0.0.1".parse().unwrap())
            .unwrap();
        assert_eq!(leaf.chain.len(), 1);
    }

    #[test]
    fn garbage_pem_is_an_error() {
        assert!(SimCa::from_pem("not a certificate", "not a key").is_err());
    }

    #[test]
    fn default_names_are_localhost_and_the_listen_ip() {
        let names = LeafSpec::default().effective_names("127.0.0.7".parse().unwrap());
        assert_eq!(names, ["localhost", "127.0.0.7"]);
        let names = LeafSpec::names(["amt.example"]).effective_names("127.0.0.7".parse().unwrap());
        assert_eq!(names, ["amt.example"]);
        let names = LeafSpec::default().effective_names("0.0.0.0".parse().unwrap());
        assert_eq!(names, ["localhost", "127.0.0.1"]);
        let names = LeafSpec::default().effective_names("::".parse().unwrap());
        assert_eq!(names, ["localhost", "::1"]);
    }

    #[test]
    fn a_cn_only_leaf_takes_one_name() {
        let ca = SimCa::generate("test CA").unwrap();
        let ip = "127.0.0.1".parse().unwrap();
        let two = LeafSpec {
            cn_only: true,
            ..LeafSpec::names(["a.example", "b.example"])
        };
        assert!(matches!(ca.issue(&two, ip), Err(Error::InvalidConfig(_))));
        let one = LeafSpec {
            cn_only: true,
            ..LeafSpec::names(["a.example"])
        };
        assert!(ca.issue(&one, ip).is_ok());
        let default = LeafSpec {
            cn_only: true,
            ..LeafSpec::default()
        };
        assert!(ca.issue(&default, ip).is_ok());
    }
}
