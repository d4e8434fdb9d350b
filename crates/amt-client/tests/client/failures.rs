//! Each way a call fails, and what the device saw meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use amt_client::{Error, NetworkFailure, Phase, Session, Timeouts};
use amt_sim::{Fault, FaultRule, SimClock};
use amt_wsman::{MessageId, Response as WsResponse, device as wsdevice};
use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;

use crate::support::{
    PASSWORD, ScriptedServer, answer, challenge, config_for, delta, device_and_session,
    device_config, power_status_reply, session, silent_server, start, tls,
};

const SHORT: Duration = Duration::from_millis(300);

/// A session with short limits on `device`.
fn short_session(device: &amt_sim::SimDevice) -> Session {
    let mut config = config_for(device.addr(), "127.0.0.1", tls(device.ca_pem()), PASSWORD);
    config.timeouts = Timeouts::uniform(SHORT);
    Session::new(config)
}

#[tokio::test]
async fn a_stalled_device_is_a_network_timeout_within_the_request_limit() {
    let (device, _ca) = start(device_config()).await;
    let session = short_session(&device);
    session.power_status().await.unwrap();
    device.inject(FaultRule::on_reads(Fault::Stall, 1));
    let started = Instant::now();
    let error = session.power_status().await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(
        error,
        Error::Timeout {
            phase: Phase::Request,
            limit: SHORT,
            request_sent: true,
        }
    );
    assert!(elapsed >= SHORT, "{elapsed:?}");
    assert!(elapsed < SHORT + Duration::from_secs(3), "{elapsed:?}");
    // The session recovers on a new connection.
    session.power_status().await.unwrap();
}

#[tokio::test]
async fn a_silent_server_is_a_tls_handshake_timeout() {
    let addr = silent_server().await;
    let ca = crate::support::ca();
    let mut config = config_for(addr, "127.0.0.1", tls(ca.cert_pem()), PASSWORD);
    config.timeouts = Timeouts::uniform(Duration::from_secs(5));
    config.timeouts.tls_handshake = SHORT;
    let started = Instant::now();
    let error = Session::new(config).power_status().await.unwrap_err();
    assert_eq!(
        error,
        Error::Timeout {
            phase: Phase::TlsHandshake,
            limit: SHORT,
            request_sent: false,
        }
    );
    assert!(started.elapsed() < SHORT + Duration::from_secs(3));
}

#[tokio::test]
async fn a_refused_connection_is_unreachable_before_sending() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let ca = crate::support::ca();
    let session = Session::new(config_for(addr, "127.0.0.1", tls(ca.cert_pem()), PASSWORD));
    let mut sends = 0;
    let error = session
        .request_power_state_change(8, &mut || sends += 1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Unreachable {
                failure: NetworkFailure::Refused,
                request_sent: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.may_have_reached_device());
    assert_eq!(sends, 0);
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_unreachable() {
    let ca = crate::support::ca();
    let session = Session::new(config_for(
        "127.0.0.1:16993".parse().unwrap(),
        "no-such-workstation.invalid",
        tls(ca.cert_pem()),
        PASSWORD,
    ));
    let error = session.power_status().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Unreachable {
                failure: NetworkFailure::Dns,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_connection_dropped_during_an_invoke_is_never_resent() {
    let (device, session) = device_and_session(device_config()).await;
    session.power_status().await.unwrap();
    device.inject(FaultRule::on_power_changes(Fault::DropConnection, 1));
    let mut sends = 0;
    let (result, counted) = delta(
        &device,
        session.request_power_state_change(10, &mut || sends += 1),
    )
    .await;
    let error = result.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Unreachable {
                failure: NetworkFailure::Closed | NetworkFailure::Reset,
                request_sent: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.may_have_reached_device());
    assert_eq!(sends, 1);
    assert_eq!(counted.total_invokes(), 1, "{counted}");
    assert_eq!(counted.requests, 1, "{counted}");
}

#[tokio::test]
async fn a_stalled_invoke_times_out_and_is_never_resent() {
    let (device, _ca) = start(device_config()).await;
    let session = short_session(&device);
    session.power_status().await.unwrap();
    device.inject(FaultRule::on_power_changes(Fault::Stall, 1));
    let mut sends = 0;
    let (result, counted) = delta(
        &device,
        session.request_power_state_change(8, &mut || sends += 1),
    )
    .await;
    let error = result.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Timeout {
                phase: Phase::Request,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.may_have_reached_device());
    assert_eq!((sends, counted.requests), (1, 1), "{counted}");
}

#[tokio::test]
async fn http_500_on_an_invoke_is_not_resent() {
    let (device, session) = device_and_session(device_config()).await;
    session.power_status().await.unwrap();
    device.inject(FaultRule::on_power_changes(Fault::Http500, 1));
    let (result, counted) = delta(&device, session.request_power_state_change(8, &mut || {})).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, Error::Protocol { ref detail, .. } if detail.contains("500")),
        "{error:?}"
    );
    assert!(error.may_have_reached_device());
    assert_eq!(counted.requests, 1);
}

#[tokio::test]
async fn malformed_xml_is_a_protocol_error() {
    let (device, session) = device_and_session(device_config()).await;
    session.power_status().await.unwrap();
    device.inject(FaultRule::on_reads(Fault::MalformedXml, 1));
    let error = session.power_status().await.unwrap_err();
    assert!(matches!(error, Error::Protocol { .. }), "{error:?}");
    session.power_status().await.unwrap();
}

#[tokio::test]
async fn an_oversized_body_is_a_protocol_error_and_the_session_recovers() {
    let (device, _ca) = start(device_config()).await;
    let mut config = config_for(device.addr(), "127.0.0.1", tls(device.ca_pem()), PASSWORD);
    config.max_body_bytes = 64 * 1024;
    let session = Session::new(config);
    session.power_status().await.unwrap();
    device.inject(FaultRule::on_reads(Fault::OversizedBody(2 << 20), 1));
    let error = session.power_status().await.unwrap_err();
    assert!(
        matches!(error, Error::Protocol { ref detail, .. } if detail.contains("65536")),
        "{error:?}"
    );
    session.power_status().await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_costs_at_most_two_failed_logins_per_call() {
    let (device, _ca) = start(device_config()).await;
    let wrong = session(&device, "Wr0ng-Password!");
    for _ in 0..4 {
        let (result, counted) = delta(&device, wrong.power_status()).await;
        assert!(
            matches!(result, Err(Error::CredentialsRejected { .. })),
            "{result:?}"
        );
        assert!(counted.failed_logins <= 2, "{counted}");
        assert!(counted.failed_logins >= 1, "{counted}");
        assert!(counted.requests <= 2, "{counted}");
    }
    // Four calls stay below Intel AMT's lockout threshold of ten failures.
    assert!(device.counters().failed_logins <= 8);
    assert_eq!(device.counters().lockout_refusals, 0);
}

#[tokio::test]
async fn an_expired_nonce_is_answered_once_without_a_failed_login() {
    let mut config = device_config();
    config.clock = SimClock::manual();
    config.nonce_lifetime = Duration::from_secs(60);
    let (device, session) = device_and_session(config).await;
    session.power_status().await.unwrap();
    device.clock().advance(Duration::from_secs(120));
    let (status, counted) = delta(&device, session.power_status()).await;
    status.unwrap();
    assert_eq!(counted.unauthorized, 1, "{counted}");
    assert_eq!(counted.requests, 2, "{counted}");
    assert_eq!(counted.failed_logins, 0, "{counted}");
}

#[tokio::test]
async fn redirects_are_never_followed() {
    let server = ScriptedServer::start(Arc::new(|_, _, _| {
        Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, "https://elsewhere.example/wsman")
            .body(Full::new(Bytes::new()))
            .unwrap()
    }))
    .await;
    let error = server.session().power_status().await.unwrap_err();
    assert!(
        matches!(error, Error::Protocol { ref detail, .. } if detail.contains("302") && detail.contains("elsewhere.example")),
        "{error:?}"
    );
    assert_eq!(server.requests.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_reply_to_another_request_is_a_protocol_error() {
    let server = ScriptedServer::start(Arc::new(|_, _, body| {
        answer(body, &power_status_reply(), Some("uuid:someone-else"))
    }))
    .await;
    let error = server.session().power_status().await.unwrap_err();
    assert!(
        matches!(error, Error::Protocol { ref detail, .. } if detail.contains("someone-else")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_device_that_never_asks_for_credentials_does_not_validate_them() {
    let server = ScriptedServer::start(Arc::new(|_, _, body| {
        let identity = amt_wsman::SoftwareIdentity {
            instance_id: "AMT".into(),
            version_string: "16.1.25".into(),
            is_entity: Some(true),
        };
        answer(body, &WsResponse::AmtVersion(identity), None)
    }))
    .await;
    let session = server.session();
    // Reads work: the device answers them.
    assert_eq!(session.amt_version().await.unwrap().to_string(), "16.1.25");
    let error = session.validate_credentials().await.unwrap_err();
    assert!(
        matches!(error, Error::Protocol { ref detail, .. } if detail.contains("without asking")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_realm_change_is_another_device_answering() {
    let server = ScriptedServer::start(Arc::new(|index, parts, body| {
        let authorized = parts.headers.contains_key(header::AUTHORIZATION);
        match (index, authorized) {
            (0, _) => challenge("Digest:AAAA0000000000000000000000000000"),
            (1, true) => answer(body, &power_status_reply(), None),
            _ => challenge("Digest:BBBB0000000000000000000000000000"),
        }
    }))
    .await;
    let session = server.session();
    session.power_status().await.unwrap();
    let error = session.power_status().await.unwrap_err();
    assert!(
        matches!(error, Error::RealmChanged { ref expected, ref found }
            if expected.as_str().contains("AAAA") && found.as_str().contains("BBBB")),
        "{error:?}"
    );
    assert!(!error.may_have_reached_device());
}

#[tokio::test]
async fn a_401_without_a_digest_challenge_is_a_protocol_error() {
    let server = ScriptedServer::start(Arc::new(|_, _, _| {
        Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(header::WWW_AUTHENTICATE, r#"Basic realm="x""#)
            .body(Full::new(Bytes::new()))
            .unwrap()
    }))
    .await;
    let error = server.session().power_status().await.unwrap_err();
    assert!(
        matches!(error, Error::Protocol { ref detail, .. } if detail.contains("digest")),
        "{error:?}"
    );
}

#[tokio::test]
async fn requests_are_posted_to_wsman_with_host_and_content_type() {
    let server = ScriptedServer::start(Arc::new(|_, parts, body| {
        let ok = parts.method == http::Method::POST
            && parts.uri == "/wsman"
            && parts
                .headers
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v == "application/soap+xml;charset=UTF-8")
            && parts
                .headers
                .get(header::HOST)
                .is_some_and(|v| v.to_str().is_ok_and(|h| h.starts_with("127.0.0.1:")))
            && parts.headers.get(header::CONTENT_LENGTH).is_some();
        if ok {
            answer(body, &power_status_reply(), None)
        } else {
            Response::builder()
                .status(StatusCode::BAD_REQUEST)
                .body(Full::new(Bytes::new()))
                .unwrap()
        }
    }))
    .await;
    server.session().power_status().await.unwrap();
}

#[tokio::test]
async fn a_refused_cached_nonce_then_a_refused_fresh_one_cost_two_requests_and_stop() {
    // The password changed on the device while the session was in use: the cached nonce is
    // refused, the new challenge is answered once, and refused again.
    let server = ScriptedServer::start(Arc::new(|index, _, body| match index {
        1 => answer(body, &power_status_reply(), None),
        _ => challenge("Digest:CCCC0000000000000000000000000000"),
    }))
    .await;
    let session = server.session();
    session.power_status().await.unwrap();
    let requests = || server.requests.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(requests(), 2);

    let error = session.power_status().await.unwrap_err();
    assert!(
        matches!(error, Error::CredentialsRejected { .. }),
        "{error:?}"
    );
    assert_eq!(
        requests(),
        4,
        "cached nonce refused, fresh nonce refused, stop"
    );

    // The next call has only the fresh nonce of the last 401: one attempt.
    session.power_status().await.unwrap_err();
    assert_eq!(requests(), 5);
}

#[tokio::test]
async fn a_locked_out_device_is_not_hammered() {
    let mut config = device_config();
    config.clock = SimClock::manual();
    let (device, _ca) = start(config).await;
    let wrong = session(&device, "Wr0ng-Password!");
    while device.counters().failed_logins < 10 {
        wrong.power_status().await.unwrap_err();
    }
    // Locked: even the right password is refused, and the client stops at once.
    let right = session(&device, PASSWORD);
    let (result, counted) = delta(&device, right.power_status()).await;
    assert!(
        matches!(result, Err(Error::CredentialsRejected { .. })),
        "{result:?}"
    );
    assert_eq!(counted.requests, 2, "{counted}");
    // Refused unchecked, so the lockout is not prolonged.
    assert_eq!(counted.failed_logins, 0, "{counted}");
    assert_eq!(counted.lockout_refusals, 1, "{counted}");
    // Once the lockout is over, the same session logs in.
    device.clock().advance(Duration::from_secs(6));
    right.power_status().await.unwrap();
}

#[tokio::test]
async fn a_cancelled_call_leaves_the_session_usable() {
    let (device, session) = device_and_session(device_config()).await;
    session.power_status().await.unwrap();
    device.inject(FaultRule::on_reads(
        Fault::Latency(Duration::from_millis(500)),
        1,
    ));
    let cancelled = tokio::time::timeout(Duration::from_millis(50), session.power_status()).await;
    assert!(cancelled.is_err(), "the call was still running");
    // The abandoned connection is not reused: the next call opens a new one and succeeds.
    let (status, counted) = delta(&device, session.power_status()).await;
    status.unwrap();
    assert_eq!(counted.tcp_connections, 1, "{counted}");
    assert_eq!(counted.requests, 1, "{counted}");
}

#[tokio::test]
async fn an_ipv6_workstation_is_reached() {
    let probe = match std::net::TcpListener::bind("[::1]:0") {
        Ok(probe) => probe,
        Err(error) => {
            eprintln!("an_ipv6_workstation_is_reached: SKIPPED, no IPv6 loopback here ({error})");
            return;
        }
    };
    drop(probe);
    let config = device_config().on("[::1]:0".parse().unwrap());
    let (device, _ca) = start(config).await;
    let session = Session::new(config_for(
        device.addr(),
        "[::1]",
        tls(device.ca_pem()),
        PASSWORD,
    ));
    session.power_status().await.unwrap();
    assert_eq!(session.host().to_string(), "::1");
}

#[tokio::test]
async fn amt_version_falls_back_to_the_server_header() {
    let server = ScriptedServer::start(Arc::new(|index, _, body| {
        let parsed = wsdevice::parse_request(body, amt_wsman::Limits::default()).unwrap();
        let fault = wsdevice::build_fault(
            &amt_wsman::Fault::destination_unreachable(),
            parsed.message_id.as_ref(),
            &MessageId::amt(1),
        );
        let mut response = Response::builder().status(StatusCode::BAD_REQUEST);
        if index > 0 {
            response = response.header(
                header::SERVER,
                "Intel(R) Active Management Technology 11.8.50.3399",
            );
        }
        response.body(Full::new(Bytes::from(fault))).unwrap()
    }))
    .await;
    let session = server.session();
    // No Server header seen yet: the fault is the answer.
    let error = session.amt_version().await.unwrap_err();
    assert!(error.fault().is_some(), "{error:?}");
    // Now the fault comes with a Server header naming the firmware.
    let version = session.amt_version().await.unwrap();
    assert_eq!(version.to_string(), "11.8.50.3399");
}

#[tokio::test]
async fn limits_too_large_for_the_clock_mean_no_limit() {
    let (device, _ca) = start(device_config()).await;
    let mut config = config_for(device.addr(), "127.0.0.1", tls(device.ca_pem()), PASSWORD);
    config.timeouts = Timeouts::uniform(Duration::MAX);
    let session = Session::new(config);
    session.power_status().await.unwrap();
    session
        .request_power_state_change(10, &mut || {})
        .await
        .unwrap();
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_connection_that_is_never_accepted_is_a_connect_timeout() {
    // A listener whose accept queue is full: Linux drops further SYNs, so a connection
    // attempt hangs as it would towards a workstation that is off the network.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(crate::support::any_port()).unwrap();
    let addr = socket.local_addr().unwrap();
    let _listener = socket.listen(0).unwrap();
    let mut queued = Vec::new();
    let mut full = false;
    for _ in 0..16 {
        match tokio::time::timeout(SHORT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => queued.push(tcp),
            Ok(Err(error)) => panic!("connecting to the listener: {error}"),
            Err(_elapsed) => {
                full = true;
                break;
            }
        }
    }
    assert!(
        full,
        "the accept queue took {} connections and still had room",
        queued.len()
    );

    let ca = crate::support::ca();
    let mut config = config_for(addr, "127.0.0.1", tls(ca.cert_pem()), PASSWORD);
    config.timeouts = Timeouts::uniform(Duration::from_secs(5));
    config.timeouts.connect = SHORT;
    let mut sends = 0;
    let error = Session::new(config)
        .request_power_state_change(8, &mut || sends += 1)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::Timeout {
            phase: Phase::Connect,
            limit: SHORT,
            request_sent: false,
        }
    );
    assert!(!error.may_have_reached_device());
    assert_eq!(sends, 0);
}

/// The most a server can write beyond the body limit before it notices that the client gave
/// up: the kernel's socket buffers on both sides and the client's read buffers.
const SLACK: usize = 4 << 20;

/// What an endless server writes at most if nobody stops it.
const ENDLESS: usize = 64 << 20;

/// A TLS server that answers the first request with `head` and then writes body bytes (as
/// chunks when `chunked`) until the client goes away or [`ENDLESS`] is reached; the receiver
/// gets how many body bytes it wrote.
async fn endless_body_server(
    head: &'static str,
    chunked: bool,
) -> (
    std::net::SocketAddr,
    String,
    tokio::sync::oneshot::Receiver<usize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let ca = crate::support::ca();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    // Accepted sockets inherit the small send buffer, so the writes stall soon once the
    // client stops reading.
    socket.set_send_buffer_size(16 * 1024).unwrap();
    socket.bind(crate::support::any_port()).unwrap();
    let addr = socket.local_addr().unwrap();
    let listener = socket.listen(8).unwrap();
    let identity = ca.issue(&amt_sim::LeafSpec::default(), addr.ip()).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(crate::support::server_config(
        identity,
        crate::support::ClientAuth::None,
        &[&rustls::version::TLS13],
    ));
    let (done, written) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        // The request: its head, then as many body bytes as it declares.
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        let body_start = loop {
            let read = tls.read(&mut buf).await.unwrap();
            assert!(
                read > 0,
                "the client hung up before its request was complete"
            );
            request.extend_from_slice(&buf[..read]);
            if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
        };
        let head_text = String::from_utf8_lossy(&request[..body_start]).to_lowercase();
        let length: usize = head_text
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |value| value.trim().parse().unwrap());
        while request.len() < body_start + length {
            let read = tls.read(&mut buf).await.unwrap();
            assert!(
                read > 0,
                "the client hung up before its request was complete"
            );
            request.extend_from_slice(&buf[..read]);
        }

        let mut total = 0;
        if tls.write_all(head.as_bytes()).await.is_ok() {
            let piece = vec![b'x'; 16 * 1024];
            let chunk_head = format!("{:x}\r\n", piece.len());
            while total < ENDLESS {
                let wrote = if chunked {
                    tls.write_all(chunk_head.as_bytes()).await.is_ok()
                        && tls.write_all(&piece).await.is_ok()
                        && tls.write_all(b"\r\n").await.is_ok()
                } else {
                    tls.write_all(&piece).await.is_ok()
                };
                if !wrote {
                    break;
                }
                total += piece.len();
            }
        }
        let _ = done.send(total);
    });
    (addr, ca.cert_pem().to_owned(), written)
}

#[tokio::test]
async fn a_body_over_the_limit_is_cut_off_while_it_streams() {
    const LIMIT: usize = 64 * 1024;
    let cases = [
        // A declared length over the limit is refused before the body is read.
        (
            "HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: 1073741824\r\n\r\n",
            false,
        ),
        // An endless chunked body is read up to the limit.
        (
            "HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nTransfer-Encoding: chunked\r\n\r\n",
            true,
        ),
    ];
    for (head, chunked) in cases {
        let (addr, ca_pem, written) = endless_body_server(head, chunked).await;
        let mut config = config_for(addr, "127.0.0.1", tls(&ca_pem), PASSWORD);
        config.max_body_bytes = LIMIT;
        let error = Session::new(config).power_status().await.unwrap_err();
        assert!(
            matches!(&error, Error::Protocol { detail, .. } if detail.contains("exceeds the limit of 65536 bytes")),
            "chunked {chunked}: {error:?}"
        );
        let written = tokio::time::timeout(Duration::from_secs(10), written)
            .await
            .expect("the server notices that the client went away")
            .unwrap();
        assert!(
            written <= LIMIT + SLACK,
            "chunked {chunked}: the server wrote {written} bytes for a limit of {LIMIT}"
        );
    }
}
