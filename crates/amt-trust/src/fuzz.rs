//! Fuzzing entry points: plain functions a `cargo fuzz` target calls with its input, and that
//! ordinary tests replay. They must never panic, whatever the bytes; they return nothing
//! because the result does not matter, only that there is one.

use std::sync::OnceLock;
use std::time::Duration;

use der::Decode;
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_cert::Certificate;

use crate::chain::lineage;
use crate::host::Host;
use crate::names::{CnFallback, LeafNames};
use crate::policy::TrustPolicy;
use crate::root::ProviderRoot;

/// The fixed root the leaf target verifies against: the committed test CA.
const FIXED_ROOT_PEM: &str = include_str!("../tests/data/rsa2048-ca.pem");
/// 2030-01-01T00:00:00Z, inside the committed test certificates' validity.
const FIXED_TIME: UnixTime = UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000));
/// One host of each kind.
const HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

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

/// Treats `data` as a DER leaf: extracts and matches its names, walks its lineage, and runs the
/// whole policy for a DNS, an IPv4 and an IPv6 host against a fixed root at a fixed time.
pub fn leaf_der(data: &[u8]) {
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
    let hosts: Vec<Host> = HOSTS.iter().filter_map(|h| h.parse().ok()).collect();
    if let Ok(cert) = Certificate::from_der(data)
        && let Ok(names) = LeafNames::of(&cert)
    {
        for host in &hosts {
            let _ = names.match_host(host, CnFallback::Allowed);
        }
        let _ = names.presented();
    }
    let _ = lineage(
        data,
        &[],
        policy.root().issuer_key(),
        policy.algorithms().all,
    );
    let chain = [CertificateDer::from(data)];
    for host in &hosts {
        if let Err(error) = policy.verify(&chain, host, FIXED_TIME) {
            let _ = error.to_string();
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
            b"-----BEGIN CERTIFICATE-----",
        ] {
            provider_root_pem(data);
            leaf_der(data);
        }
    }
}
