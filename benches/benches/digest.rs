//! amt-digest: the cost of Digest on both ends of an Intel AMT call.
//!
//! - `parse_and_answer_amt_challenge`: a fresh session reads an AMT 16 401 challenge
//!   (`qop="auth-int, auth"`, sloppy commas) and renders the first `Authorization` (MD5).
//! - `preemptive_authorize`: the steady state, reusing the cached nonce with `nc` incremented.
//! - `verify`: the device side checks a valid header (a new `nc` per iteration).
//! - `issue_challenge`: the device side issues a challenge into a full nonce table (eviction).

use std::hint::black_box;
use std::time::Duration;

use amt_digest::{
    Credentials, DigestSession, Realm, Request, SecretString, Verifier, VerifierConfig,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const AMT_16_CHALLENGE: &str = r#"Digest realm="Digest:2517B2332AFD88353D5F5FD352697901", nonce="Yy3m0RYAAAAAAAAAk4bo6tCQ+jE9xJh/",stale="false",qop="auth-int, auth""#;
const BODY: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><s:Body/></s:Envelope>"#;

fn bench(c: &mut Criterion) {
    let password = SecretString::from("P@ssw0rd-1234");
    let credentials = Credentials::new("admin", &password);
    let request = Request::wsman(BODY);
    let mut rng_state = 0u8;
    let mut rng = move |buf: &mut [u8]| {
        for byte in buf.iter_mut() {
            rng_state = rng_state.wrapping_mul(31).wrapping_add(7);
            *byte = rng_state;
        }
    };

    let mut group = c.benchmark_group("digest");

    group.bench_function("parse_and_answer_amt_challenge", |b| {
        b.iter(|| {
            let mut session = DigestSession::new();
            session
                .on_unauthorized(None, [black_box(AMT_16_CHALLENGE)])
                .unwrap();
            session
                .authorize_with_cnonce(&credentials, &request, "0a4f113b5c6d7e8f")
                .unwrap()
        })
    });

    let mut session = DigestSession::new();
    session.on_unauthorized(None, [AMT_16_CHALLENGE]).unwrap();
    group.bench_function("preemptive_authorize", |b| {
        b.iter(|| session.authorize(&credentials, &request, &mut rng).unwrap())
    });

    let now = Duration::from_secs(60);
    let mut device = Verifier::new(VerifierConfig::new(Realm::amt([0x25; 16])));
    let mut client = DigestSession::new();
    client
        .on_unauthorized(None, [device.challenge(now, &mut rng).as_str()])
        .unwrap();
    group.bench_function("verify", |b| {
        b.iter_batched(
            || {
                client
                    .authorize(&credentials, &request, &mut rng)
                    .unwrap()
                    .unwrap()
            },
            |authorization| {
                device
                    .verify(authorization.as_str(), &request, &credentials, now)
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });

    let mut full = Verifier::new(VerifierConfig::new(Realm::amt([0x25; 16])));
    for _ in 0..VerifierConfig::DEFAULT_MAX_NONCES {
        full.challenge(now, &mut rng);
    }
    group.bench_function("issue_challenge", |b| {
        b.iter(|| full.challenge(now, &mut rng))
    });

    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
