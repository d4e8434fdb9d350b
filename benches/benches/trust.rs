//! amt-trust: the cost of the trust policy on one handshake.
//!
//! - `verify_leaf_and_intermediate_p256`: the whole policy on a two-certificate chain (leaf +
//!   intermediate, ECDSA P-256) against the pinned root: two signature checks, validity, EKU,
//!   the CN-or-SAN name check and the key floor.
//! - `verify_rsa2048_leaf`: the committed RSA-2048 leaf straight under its RSA-2048 root (one
//!   RSA signature check), as the legacy OpenSSL transport would present it.
//! - `expired_leaf_from_foreign_root`: the slow refusal, where the signature-only walk has to
//!   decide that "wrong CA" wins over "expired".

use std::hint::black_box;
use std::time::Duration;

use amt_trust::pki_types::pem::PemObject;
use amt_trust::{CertificateDer, Host, ProviderRoot, TrustPolicy, UnixTime};
use criterion::{Criterion, criterion_group, criterion_main};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    date_time_ymd,
};

const RSA_CA: &str = include_str!("../../crates/amt-trust/tests/data/rsa2048-ca.pem");
const RSA_LEAF: &str = include_str!("../../crates/amt-trust/tests/data/rsa2048-leaf.pem");

/// 2030-01-01, inside every certificate's validity.
const NOW: UnixTime = UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000));

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params
}

fn leaf_params(expired: bool) -> CertificateParams {
    let mut params = CertificateParams::new(vec!["ws01.example.com".to_owned()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    if expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    }
    params
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("trust");
    let host: Host = "ws01.example.com".parse().unwrap();

    let root_key = KeyPair::generate().unwrap();
    let root_params = ca_params("Provider CA");
    let root_pem = root_params.self_signed(&root_key).unwrap().pem();
    let root = Issuer::new(root_params, root_key);
    let intermediate_key = KeyPair::generate().unwrap();
    let intermediate_params = ca_params("Provider issuing CA");
    let intermediate_der = intermediate_params
        .signed_by(&intermediate_key, &root)
        .unwrap()
        .der()
        .clone();
    let intermediate = Issuer::new(intermediate_params, intermediate_key);
    let leaf = leaf_params(false)
        .signed_by(&KeyPair::generate().unwrap(), &intermediate)
        .unwrap();
    let chain = [leaf.der().clone(), intermediate_der];
    let policy = TrustPolicy::new(ProviderRoot::from_pem(&root_pem).unwrap());
    assert!(policy.verify(&chain, &host, NOW).is_ok());
    group.bench_function("verify_leaf_and_intermediate_p256", |b| {
        b.iter(|| policy.verify(black_box(&chain), black_box(&host), NOW))
    });

    let rsa_policy = TrustPolicy::new(ProviderRoot::from_pem(RSA_CA).unwrap());
    let rsa_chain = [CertificateDer::from_pem_slice(RSA_LEAF.as_bytes()).unwrap()];
    let localhost: Host = "localhost".parse().unwrap();
    assert!(rsa_policy.verify(&rsa_chain, &localhost, NOW).is_ok());
    group.bench_function("verify_rsa2048_leaf", |b| {
        b.iter(|| rsa_policy.verify(black_box(&rsa_chain), black_box(&localhost), NOW))
    });

    let foreign_key = KeyPair::generate().unwrap();
    let foreign = Issuer::new(ca_params("Other CA"), foreign_key);
    let expired = [leaf_params(true)
        .signed_by(&KeyPair::generate().unwrap(), &foreign)
        .unwrap()
        .der()
        .clone()];
    assert!(policy.verify(&expired, &host, NOW).is_err());
    group.bench_function("expired_leaf_from_foreign_root", |b| {
        b.iter(|| policy.verify(black_box(&expired), black_box(&host), NOW))
    });

    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
