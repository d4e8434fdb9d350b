//! The wire economy the simulator's counters prove: one request per call in steady state, one
//! connection per session, resumed TLS on every reconnection.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use amt_sim::{Fault, FaultRule};

use crate::support::{delta, device_and_session, device_config};

#[tokio::test]
async fn fifty_calls_cost_one_handshake_one_resumption_one_401_and_51_requests() {
    let (device, session) = device_and_session(device_config()).await;
    for _ in 0..50 {
        session.power_status().await.unwrap();
    }
    let counters = device.counters();
    assert_eq!(counters.tls_full_handshakes, 1, "{counters}");
    // The 401 closes its connection; the reconnection resumes the TLS session.
    assert_eq!(counters.tls_resumed_handshakes, 1, "{counters}");
    assert_eq!(counters.unauthorized, 1, "{counters}");
    assert_eq!(counters.requests, 51, "{counters}");
    assert_eq!(counters.tcp_connections, 2, "{counters}");
    assert_eq!(counters.failed_logins, 0, "{counters}");
}

#[tokio::test]
async fn device_side_closes_lead_to_resumed_handshakes() {
    let mut config = device_config();
    config.close_after_requests = Some(4);
    let (device, session) = device_and_session(config).await;
    for _ in 0..21 {
        session.power_status().await.unwrap();
    }
    let counters = device.counters();
    // 22 requests (one 401); connections: the 401's, then one per 4 requests.
    assert_eq!(counters.requests, 22, "{counters}");
    assert_eq!(counters.unauthorized, 1, "{counters}");
    assert_eq!(counters.tls_full_handshakes, 1, "{counters}");
    assert_eq!(
        counters.tls_resumed_handshakes,
        counters.tcp_connections - 1,
        "{counters}"
    );
    assert_eq!(counters.tcp_connections, 7, "{counters}");
}

#[tokio::test]
async fn disconnect_closes_the_connection_and_the_next_call_resumes() {
    let (device, session) = device_and_session(device_config()).await;
    session.power_status().await.unwrap();
    session.disconnect();
    let (status, counted) = delta(&device, session.power_status()).await;
    status.unwrap();
    assert_eq!(counted.tcp_connections, 1);
    assert_eq!(counted.tls_resumed_handshakes, 1);
    assert_eq!(
        counted.requests, 1,
        "the cached nonce survives the reconnection"
    );
}

#[tokio::test]
async fn twenty_concurrent_calls_run_one_at_a_time_over_one_connection() {
    let mut config = device_config();
    // Slow replies make overlapping calls certain if the session let them overlap.
    config.faults = vec![FaultRule::always(Fault::Latency(Duration::from_millis(5)))];
    let (device, session) = device_and_session(config).await;
    session.power_status().await.unwrap();
    let before = device.counters();

    let done = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let session = session.clone();
        let done = Arc::clone(&done);
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                session.power_status().await.map(drop)
            } else {
                session.amt_version().await.map(drop)
            }
            .map(|()| done.fetch_add(1, Ordering::SeqCst))
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 20);
    let after = device.counters();
    assert_eq!(after.tcp_connections, before.tcp_connections, "{after}");
    assert_eq!(after.requests - before.requests, 20, "{after}");
    assert_eq!(after.unauthorized, before.unauthorized, "{after}");
}

#[tokio::test]
async fn a_read_is_resent_once_when_a_kept_alive_connection_turns_out_closed() {
    let (device, session) = device_and_session(device_config()).await;
    session.power_status().await.unwrap();
    // The device carries the next read out and hangs up without answering.
    device.inject(FaultRule::on_reads(Fault::DropConnection, 1));
    let (status, counted) = delta(&device, session.power_status()).await;
    status.unwrap();
    assert_eq!(counted.requests, 2, "{counted}");
    assert_eq!(counted.tcp_connections, 1, "{counted}");
    assert_eq!(counted.tls_resumed_handshakes, 1, "{counted}");

    // Only once: a second drop on the fresh connection is an error.
    device.inject(FaultRule::on_reads(Fault::DropConnection, 2));
    let (status, counted) = delta(&device, session.power_status()).await;
    assert!(status.unwrap_err().may_have_reached_device());
    assert_eq!(counted.requests, 2, "{counted}");
}

#[tokio::test]
async fn the_economy_holds_over_tls_1_2_as_amt_speaks_it() {
    use amt_trust::{PinnedRootVerifier, ProviderRoot, TrustPolicy};

    let (device, ca) = crate::support::start(device_config()).await;
    // Intel AMT offers TLS 1.2 only: a client limited to it negotiates what AMT would.
    let policy = TrustPolicy::new(ProviderRoot::from_pem(ca.cert_pem()).unwrap());
    let tls12 = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(PinnedRootVerifier::new(Arc::new(policy))))
    .with_no_client_auth();
    let session = amt_client::Session::new(crate::support::config_for(
        device.addr(),
        "127.0.0.1",
        Arc::new(tls12),
        crate::support::PASSWORD,
    ));
    for _ in 0..10 {
        session.power_status().await.unwrap();
    }
    session.disconnect();
    session.power_status().await.unwrap();
    let counters = device.counters();
    assert_eq!(counters.tls_full_handshakes, 1, "{counters}");
    assert_eq!(counters.tls_resumed_handshakes, 2, "{counters}");
    assert_eq!(
        (counters.requests, counters.unauthorized),
        (12, 1),
        "{counters}"
    );
}
