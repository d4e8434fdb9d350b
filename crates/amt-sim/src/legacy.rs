//! Legacy listeners (cargo feature `legacy-tls`): OpenSSL speaking what Intel AMT 11 and 12
//! firmware speaks, so that the client's legacy transport has a peer.
//!
//! One thing cannot be reproduced: the firmware lacks RFC 5746 secure renegotiation, but an
//! OpenSSL server always answers the client's renegotiation signal. The listeners refuse
//! renegotiation altogether instead, which is what a client of such firmware must assume.

use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::ssl::{
    Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions, SslVerifyMode, SslVersion,
};
use openssl::x509::X509;
use openssl::x509::store::X509StoreBuilder;
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use crate::device::TlsProfile;
use crate::{Error, ServerIdentity, SimCa};

/// Intel AMT 11: RSA key exchange, AES-CBC with SHA-1, the only suites TLS 1.1 allows it.
const AMT11_CIPHERS: &str = "AES128-SHA:AES256-SHA:@SECLEVEL=0";

/// Intel AMT 12 offers RSA key exchange and DHE; this listener offers RSA key exchange only,
/// the harder case for a client (no rustls suite matches, no forward secrecy).
const AMT12_CIPHERS: &str = "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256:AES128-SHA:AES256-SHA:\
     @SECLEVEL=0";

/// A new RSA-2048 private key, PKCS#8 DER.
pub(crate) fn generate_rsa_pkcs8() -> Result<Vec<u8>, Error> {
    let openssl = |e: openssl::error::ErrorStack| Error::Certificate {
        detail: format!("generating an RSA key with OpenSSL: {e}"),
    };
    let rsa = Rsa::generate(2048).map_err(openssl)?;
    PKey::from_rsa(rsa)
        .and_then(|key| key.private_key_to_pkcs8())
        .map_err(openssl)
}

/// The OpenSSL server context of a legacy listener; with `client_ca`, a client certificate
/// from that CA is demanded.
pub(crate) fn server_context(
    identity: &ServerIdentity,
    profile: TlsProfile,
    client_ca: Option<&SimCa>,
) -> Result<SslContext, Error> {
    let (version, ciphers) = match profile {
        TlsProfile::LegacyAmt11 => (SslVersion::TLS1_1, AMT11_CIPHERS),
        TlsProfile::LegacyAmt12 => (SslVersion::TLS1_2, AMT12_CIPHERS),
        other => {
            return Err(Error::InvalidConfig(format!(
                "{other:?} is not a legacy TLS profile"
            )));
        }
    };
    let openssl = |e: openssl::error::ErrorStack| Error::Certificate {
        detail: format!("configuring the legacy listener: {e}"),
    };
    let mut builder = SslContextBuilder::new(SslMethod::tls_server()).map_err(openssl)?;
    builder.set_options(
        SslOptions::NO_COMPRESSION | SslOptions::NO_RENEGOTIATION | SslOptions::NO_TICKET,
    );
    builder
        .set_min_proto_version(Some(version))
        .map_err(openssl)?;
    builder
        .set_max_proto_version(Some(version))
        .map_err(openssl)?;
    builder.set_cipher_list(ciphers).map_err(openssl)?;
    let (leaf, intermediates) = identity
        .chain
        .split_first()
        .ok_or_else(|| Error::InvalidConfig("a legacy listener needs a certificate".to_owned()))?;
    let leaf = X509::from_der(leaf).map_err(openssl)?;
    builder.set_certificate(&leaf).map_err(openssl)?;
    for intermediate in intermediates {
        builder
            .add_extra_chain_cert(X509::from_der(intermediate).map_err(openssl)?)
            .map_err(openssl)?;
    }
    let key = PKey::private_key_from_der(identity.key.secret_der()).map_err(openssl)?;
    builder.set_private_key(&key).map_err(openssl)?;
    builder.check_private_key().map_err(openssl)?;
    if let Some(ca) = client_ca {
        let mut store = X509StoreBuilder::new().map_err(openssl)?;
        store
            .add_cert(X509::from_der(&ca.cert_der()?).map_err(openssl)?)
            .map_err(openssl)?;
        builder
            .set_verify_cert_store(store.build())
            .map_err(openssl)?;
        builder.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    }
    Ok(builder.build())
}

/// The server side of a handshake; `None` if it fails.
pub(crate) async fn accept(tcp: TcpStream, context: &SslContext) -> Option<SslStream<TcpStream>> {
    let ssl = Ssl::new(context).ok()?;
    let mut stream = SslStream::new(ssl, tcp).ok()?;
    std::pin::Pin::new(&mut stream).accept().await.ok()?;
    Some(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_legacy_profiles_get_a_legacy_listener() {
        let ca = SimCa::generate("legacy unit test CA").unwrap();
        let identity = ca
            .issue_rsa(&crate::LeafSpec::default(), "127.0.0.1".parse().unwrap())
            .unwrap();
        assert!(server_context(&identity, TlsProfile::LegacyAmt11, None).is_ok());
        assert!(server_context(&identity, TlsProfile::LegacyAmt12, Some(&ca)).is_ok());
        assert!(matches!(
            server_context(&identity, TlsProfile::Modern, None),
            Err(Error::InvalidConfig(_))
        ));
    }

    #[test]
    fn rsa_leaves_of_one_ca_share_a_2048_bit_key() {
        let ca = SimCa::generate("legacy unit test CA").unwrap();
        let ip = "127.0.0.1".parse().unwrap();
        let first = ca.issue_rsa(&crate::LeafSpec::default(), ip).unwrap();
        let second = ca
            .issue_rsa(&crate::LeafSpec::names(["ws01.example.com"]), ip)
            .unwrap();
        assert_eq!(first.key.secret_der(), second.key.secret_der());
        assert_ne!(first.chain, second.chain);
        let key = PKey::private_key_from_der(first.key.secret_der()).unwrap();
        assert_eq!(key.rsa().unwrap().size() * 8, 2048);
        let cert = X509::from_der(&first.chain[0]).unwrap();
        assert!(cert.public_key().unwrap().public_eq(&key));
    }
}
