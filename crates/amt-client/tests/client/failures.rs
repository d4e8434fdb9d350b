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
    PASSWORD, ScriptedServer, config_for, delta, device_and_session, device_config, session,
    silent_server, start, tls,
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
        matches!(error, Error::Protocol { ref detail } if detail.contains("500")),
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
        matches!(error, Error::Protocol { ref detail } if detail.contains("65536")),
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

/// A reply to `request` as the device would make it.
fn answer(
    request: &[u8],
    response: &WsResponse,
    relates_to: Option<&str>,
) -> Response<Full<Bytes>> {
    let parsed = wsdevice::parse_request(request, amt_wsman::Limits::default()).unwrap();
    let relates_to = relates_to
        .map(|id| MessageId::new(id).unwrap())
        .or(parsed.message_id);
    let body = wsdevice::build_response(response, relates_to.as_ref(), &MessageId::amt(1));
    Response::new(Full::new(Bytes::from(body)))
}

fn power_status_reply() -> WsResponse {
    WsResponse::PowerState(amt_wsman::PowerStatus {
        power_state: 2,
        available_requested_power_states: vec![8],
        requested_power_state: None,
    })
}

fn challenge(realm: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(
            header::WWW_AUTHENTICATE,
            format!(r#"Digest realm="{realm}", nonce="bm9uY2U{realm}",stale="false",qop="auth""#),
        )
        .header(header::CONNECTION, "close")
        .body(Full::new(Bytes::new()))
        .unwrap()
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
        matches!(error, Error::Protocol { ref detail } if detail.contains("302") && detail.contains("elsewhere.example")),
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
        matches!(error, Error::Protocol { ref detail } if detail.contains("someone-else")),
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
        matches!(error, Error::Protocol { ref detail } if detail.contains("without asking")),
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
        matches!(error, Error::Protocol { ref detail } if detail.contains("digest")),
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
    let Ok(probe) = std::net::TcpListener::bind("[::1]:0") else {
        // No IPv6 loopback on this machine: nothing to test here.
        return;
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
