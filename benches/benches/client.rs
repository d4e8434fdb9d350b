//! amt-client: calls per second on one session against an in-process simulated device, and what
//! each call costs on the wire.
//!
//! - `power_status_steady_state`: a warm session (cached digest nonce, kept-alive connection):
//!   one HTTP request per call. After the run, the simulator's counters give the requests per
//!   call, printed to stderr.
//! - `power_status_after_reconnect`: the connection is closed before each call, so each call
//!   pays a resumed TLS handshake (the digest nonce stays cached).
//! - `power_status_cold`: a new deployment configuration and session per call: full TLS
//!   handshake, the 401, and the authenticated request.
//!
//! The device runs in the same process and runtime (two worker threads), over TLS on loopback,
//! so the figures are the client's and the simulator's CPU cost, not a network's latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use amt_client::{Session, SessionConfig, tls_config};
use amt_digest::SecretString;
use amt_sim::{DeviceConfig, SimCa, SimDevice};
use amt_trust::{ClientTlsOptions, Host, ProviderRoot, TrustPolicy};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const PASSWORD: &str = "P@ssw0rd-Bench1";

fn session(device: &SimDevice, ca: &SimCa) -> Session {
    let root = ProviderRoot::from_pem(ca.cert_pem()).unwrap();
    let tls = tls_config(Arc::new(TrustPolicy::new(root)), &ClientTlsOptions::new());
    let mut config = SessionConfig::new(
        Host::parse("127.0.0.1").unwrap(),
        tls,
        "admin",
        SecretString::from(PASSWORD),
    );
    config.port = device.addr().port();
    Session::new(config)
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ca = SimCa::generate("amt-client bench CA").unwrap();
    let device = runtime
        .block_on(SimDevice::start(
            DeviceConfig::new(PASSWORD).on("127.0.0.1:0".parse().unwrap()),
            &ca,
        ))
        .unwrap();

    let mut group = c.benchmark_group("client");

    let warm = session(&device, &ca);
    runtime.block_on(warm.power_status()).unwrap();
    let before = device.counters();
    let calls = AtomicU64::new(0);
    group.bench_function("power_status_steady_state", |b| {
        b.iter(|| {
            calls.fetch_add(1, Ordering::Relaxed);
            runtime.block_on(warm.power_status()).unwrap()
        })
    });
    let after = device.counters();
    let calls = calls.into_inner();
    let requests = after.requests - before.requests;
    let connections = after.tcp_connections - before.tcp_connections;
    eprintln!(
        "client/power_status_steady_state: {calls} calls, {requests} requests \
         ({:.2} requests per call), {} new connections, {} 401s",
        requests as f64 / calls.max(1) as f64,
        connections,
        after.unauthorized - before.unauthorized,
    );

    group.bench_function("power_status_after_reconnect", |b| {
        b.iter(|| {
            warm.disconnect();
            runtime.block_on(warm.power_status()).unwrap()
        })
    });

    group.sample_size(20);
    group.bench_function("power_status_cold", |b| {
        b.iter_batched(
            || session(&device, &ca),
            |cold| runtime.block_on(cold.power_status()).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let total = device.counters();
    eprintln!("client: device counters over the whole run: {total}");
}

criterion_group!(benches, bench);
criterion_main!(benches);
