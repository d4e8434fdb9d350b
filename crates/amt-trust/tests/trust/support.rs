//! Certificates made on the fly with rcgen (ECDSA P-256), and the committed fixtures.

use std::time::Duration;

use amt_trust::{Host, ProviderRoot, TrustError, TrustPolicy};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, date_time_ymd,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};

/// 2030-01-01T00:00:00Z: the time every test verifies at unless it says otherwise.
pub(crate) const NOW: UnixTime = UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000));

/// A certificate authority that can issue.
pub(crate) struct Ca {
    der: CertificateDer<'static>,
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A self-signed root CA.
    pub(crate) fn root(name: &str) -> Self {
        Self::root_named(ca_params(name))
    }

    /// A self-signed ECDSA root CA with exactly the committed RSA-2048 test CA's subject.
    pub(crate) fn impostor_of_rsa_ca() -> Self {
        let mut params = ca_params("unused");
        params.distinguished_name = rsa_ca_subject();
        Self::root_named(params)
    }

    /// The committed RSA-2048 test CA, issuing with its committed key.
    pub(crate) fn committed_rsa() -> Self {
        let pem = String::from_utf8(data("rsa2048-ca.pem")).unwrap();
        let key =
            KeyPair::from_pem(&pem_from_begin(&data("rsa2048-ca.TEST-ONLY-KEY.pem"))).unwrap();
        let issuer = Issuer::from_ca_cert_pem(&pem, key).unwrap();
        Self {
            der: data_cert("rsa2048-ca.pem"),
            pem,
            issuer,
        }
    }

    fn root_named(params: CertificateParams) -> Self {
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
            der: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// An intermediate CA issued by this one.
    pub(crate) fn intermediate(&self, name: &str) -> Self {
        self.intermediate_until(name, (4096, 1, 1))
    }

    /// An intermediate CA issued by this one, valid from 2000 until `(year, month, day)`.
    pub(crate) fn intermediate_until(&self, name: &str, (y, m, d): (i32, u8, u8)) -> Self {
        let mut params = ca_params(name);
        params.not_before = date_time_ymd(2000, 1, 1);
        params.not_after = date_time_ymd(y, m, d);
        self.intermediate_with(params)
    }

    /// An intermediate CA issued by this one with a nameConstraints extension permitting only
    /// the DNS names under `dns_subtree`.
    pub(crate) fn intermediate_permitting(&self, name: &str, dns_subtree: &str) -> Self {
        let mut params = ca_params(name);
        params.name_constraints = Some(rcgen::NameConstraints {
            permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName(dns_subtree.to_owned())],
            excluded_subtrees: vec![],
        });
        self.intermediate_with(params)
    }

    fn intermediate_with(&self, params: CertificateParams) -> Self {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Self {
            der: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A CA certificate this CA issues for someone else's public key, which need not be a key
    /// anyone holds (the provider root's own signature is never checked).
    pub(crate) fn issue_ca_for(
        &self,
        name: &str,
        key: &impl PublicKeyData,
    ) -> CertificateDer<'static> {
        let mut subject = rcgen::DistinguishedName::new();
        subject.push(DnType::CommonName, name);
        self.issue_ca_named(subject, key)
    }

    /// [`issue_ca_for`](Self::issue_ca_for) with a whole subject.
    pub(crate) fn issue_ca_named(
        &self,
        subject: rcgen::DistinguishedName,
        key: &impl PublicKeyData,
    ) -> CertificateDer<'static> {
        let mut params = ca_params("unused");
        params.distinguished_name = subject;
        params.signed_by(key, &self.issuer).unwrap().der().clone()
    }

    /// The CA's key pair.
    pub(crate) fn key(&self) -> &KeyPair {
        self.issuer.key()
    }

    pub(crate) fn der(&self) -> CertificateDer<'static> {
        self.der.clone()
    }

    pub(crate) fn pem(&self) -> &str {
        &self.pem
    }

    pub(crate) fn policy(&self) -> TrustPolicy {
        TrustPolicy::new(ProviderRoot::from_pem(&self.pem).unwrap())
    }

    /// Issues a leaf described by `spec`.
    pub(crate) fn issue(&self, spec: &Leaf) -> Issued {
        let key = KeyPair::generate().unwrap();
        let sans: Vec<String> = spec.sans.iter().map(|s| (*s).to_owned()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let mut cns = spec.cns.iter();
        if let Some(first) = cns.next() {
            params.distinguished_name.push(DnType::CommonName, *first);
        }
        if let Some(second) = cns.next() {
            // rcgen keeps one value per attribute type; a custom type with the CN OID adds a
            // second CN attribute.
            params
                .distinguished_name
                .push(DnType::CustomDnType(vec![2, 5, 4, 3]), *second);
        }
        params
            .distinguished_name
            .push(DnType::OrganizationName, "amt-trust tests");
        if let Some((y, m, d)) = spec.not_before {
            params.not_before = date_time_ymd(y, m, d);
        }
        if let Some((y, m, d)) = spec.not_after {
            params.not_after = date_time_ymd(y, m, d);
        }
        params.extended_key_usages = spec.eku.clone();
        if spec.ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        if let Some(serial) = &spec.serial {
            params.serial_number = Some(rcgen::SerialNumber::from_slice(serial));
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Issued {
            der: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        }
    }
}

/// The subject of the committed RSA-2048 test CA, attribute for attribute (UTF8String, O first).
pub(crate) fn rsa_ca_subject() -> rcgen::DistinguishedName {
    let mut name = rcgen::DistinguishedName::new();
    name.push(DnType::OrganizationName, "amt-manager tests");
    name.push(DnType::CommonName, "amt-trust test RSA-2048 root CA");
    name
}

/// A committed key file from its BEGIN line on (the files start with a notice line).
fn pem_from_begin(text: &[u8]) -> String {
    let text = String::from_utf8(text.to_vec()).unwrap();
    let begin = text.find("-----BEGIN").unwrap();
    text[begin..].to_owned()
}

/// An RSA public key with a modulus of exactly `bits` bits that nobody has the private key of:
/// enough for a certificate whose signatures are never checked, at any size, without the cost
/// of generating a real key.
pub(crate) struct FakeRsaKey(Vec<u8>);

impl FakeRsaKey {
    pub(crate) fn with_bits(bits: usize) -> Self {
        assert!(bits >= 16);
        // Top bit set, then 0x55 filler, odd. A leading zero keeps the INTEGER positive when the
        // top bit is a byte's high bit, and only then (DER wants the minimal form).
        let top = (bits - 1) % 8;
        let mut modulus = if top == 7 { vec![0u8] } else { Vec::new() };
        modulus.push(1 << top);
        modulus.resize(modulus.len() + (bits - 1) / 8, 0x55);
        if let Some(last) = modulus.last_mut() {
            *last |= 1;
        }
        let mut body = der_tlv(0x02, &modulus);
        body.extend(der_tlv(0x02, &[0x01, 0x00, 0x01]));
        Self(der_tlv(0x30, &body))
    }
}

impl PublicKeyData for FakeRsaKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

/// One DER TLV with a definite length.
pub(crate) fn der_tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, name);
    params
}

/// What a leaf looks like. Defaults: no names, rcgen's validity (1975 to 4096), no EKU.
#[derive(Default, Clone)]
pub(crate) struct Leaf {
    pub(crate) sans: Vec<&'static str>,
    pub(crate) cns: Vec<&'static str>,
    pub(crate) not_before: Option<(i32, u8, u8)>,
    pub(crate) not_after: Option<(i32, u8, u8)>,
    pub(crate) eku: Vec<ExtendedKeyUsagePurpose>,
    pub(crate) ca: bool,
    pub(crate) serial: Option<Vec<u8>>,
}

impl Leaf {
    pub(crate) fn sans(sans: &[&'static str]) -> Self {
        Self {
            sans: sans.to_vec(),
            eku: vec![ExtendedKeyUsagePurpose::ServerAuth],
            ..Self::default()
        }
    }

    pub(crate) fn cn(cn: &'static str) -> Self {
        Self {
            cns: vec![cn],
            ..Self::default()
        }
    }

    pub(crate) fn with_cn(mut self, cn: &'static str) -> Self {
        self.cns.push(cn);
        self
    }

    pub(crate) fn expired(mut self) -> Self {
        self.not_before = Some((2020, 1, 1));
        self.not_after = Some((2021, 1, 1));
        self
    }

    /// A 24-octet serial number: RFC 5280 allows 20, webpki takes any length (as "non-conforming
    /// CAs" exist), x509-cert refuses more than 21.
    pub(crate) fn long_serial(mut self) -> Self {
        self.serial = Some(vec![0x42; 24]);
        self
    }

    pub(crate) fn not_yet_valid(mut self) -> Self {
        self.not_before = Some((2040, 1, 1));
        self.not_after = Some((2041, 1, 1));
        self
    }
}

/// An issued leaf and its key.
pub(crate) struct Issued {
    pub(crate) der: CertificateDer<'static>,
    pub(crate) key: PrivateKeyDer<'static>,
}

impl Issued {
    pub(crate) fn chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.der.clone()]
    }
}

/// Whether a verdict is a root mismatch, whatever its diagnostic fields.
pub(crate) fn is_root_mismatch<T>(result: &Result<T, TrustError>) -> bool {
    matches!(result, Err(TrustError::RootMismatch { .. }))
}

pub(crate) fn host(s: &str) -> Host {
    s.parse().unwrap()
}

/// A committed file under tests/data.
pub(crate) fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The first certificate of a committed PEM file.
pub(crate) fn data_cert(name: &str) -> CertificateDer<'static> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(&data(name)).unwrap()
}

/// The policy trusting the committed RSA-2048 test CA.
pub(crate) fn rsa_policy() -> TrustPolicy {
    TrustPolicy::new(ProviderRoot::from_pem(data("rsa2048-ca.pem")).unwrap())
}
