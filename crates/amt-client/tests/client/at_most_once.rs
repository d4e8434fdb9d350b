//! A power change is written at most once, and `may_have_reached_device` says whether the
//! device may have acted: true once the authenticated invoke may have been written, false
//! while only the digest probe (which Intel AMT never acts on) was out or when a 401 answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use amt_client::{Error, NetworkFailure, Phase, Session, Timeouts};
use amt_power::ReturnValue;
use amt_sim::{Fault, FaultRule, SimClock};
use amt_wsman::{Call, Response as WsResponse};
use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;
use tokio::sync::Notify;

use crate::support::{
    Answer, PASSWORD, ScriptedServer, ServerTls, answer, challenge, config_for, delta,
    device_and_session, device_config, power_status_reply, tls,
};

const SHORT: Duration = Duration::from_millis(300);

const REALM: &str = "Digest:DDDD0000000000000000000000000000";

fn is_power_change(body: &[u8]) -> bool {
    amt_wsman::device::parse_request(body, amt_wsman::Limits::default())
        .is_ok_and(|request| matches!(request.call, Ok(Call::RequestPowerStateChange { .. })))
}

fn with_close(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(header::CONNECTION, "close".parse().unwrap());
    response
}

fn short_session(server: &ScriptedServer) -> Session {
    let mut config = config_for(server.addr, "127.0.0.1", tls(&server.ca_pem), PASSWORD);
    config.timeouts = Timeouts::uniform(SHORT);
    Session::new(config)
}

#[tokio::test]
async fn an_invoke_cut_off_after_a_certificate_request_may_have_reached_the_device() {
    // TLS 1.3 with optional client authentication and no resumption: every connection's
    // handshake carries a CertificateRequest, and the server's verdict on our empty
    // certificate (here: accepted) comes after the client has written its request.
    let invokes = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&invokes);
    let options = ServerTls {
        optional_client_auth: true,
        no_resumption: true,
    };
    let server = ScriptedServer::start_with(
        options,
        Arc::new(move |index, parts, body| {
            if index == 0 || !parts.headers.contains_key(header::AUTHORIZATION) {
                return Answer::Reply(challenge(REALM));
            }
            if is_power_change(body) {
                seen.fetch_add(1, Ordering::SeqCst);
                return Answer::HangUp;
            }
            // Closing makes the invoke the first request of a new connection.
            Answer::Reply(with_close(answer(body, &power_status_reply(), None)))
        }),
    )
    .await;
    let session = server.session();
    session.power_status().await.unwrap();

    let mut sends = 0;
    let error = session
        .request_power_state_change(8, &mut || sends += 1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Unreachable {
                failure: NetworkFailure::Closed | NetworkFailure::Reset,
                request_sent: true,
                detail,
            } if detail.contains("asked for a client certificate")
        ),
        "{error:?}"
    );
    assert!(error.may_have_reached_device());
    assert_eq!(sends, 1);
    assert_eq!(invokes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_stalled_digest_probe_is_a_timeout_that_reached_nothing() {
    let server =
        ScriptedServer::start_with(ServerTls::default(), Arc::new(|_, _, _| Answer::Stall)).await;
    let mut sends = 0;
    let error = short_session(&server)
        .request_power_state_change(8, &mut || sends += 1)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        Error::Timeout {
            phase: Phase::Request,
            limit: SHORT,
            request_sent: false,
        }
    );
    assert!(!error.may_have_reached_device());
    assert_eq!(sends, 0);
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_digest_probe_cut_off_reached_nothing() {
    let server =
        ScriptedServer::start_with(ServerTls::default(), Arc::new(|_, _, _| Answer::HangUp)).await;
    let mut sends = 0;
    let error = server
        .session()
        .request_power_state_change(8, &mut || sends += 1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Unreachable {
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
async fn a_stalled_authenticated_invoke_may_have_reached_the_device() {
    // The same stall one request later, once the invoke carries credentials.
    let server = ScriptedServer::start_with(
        ServerTls::default(),
        Arc::new(|index, _, body| match index {
            0 => Answer::Reply(challenge(REALM)),
            _ if is_power_change(body) => Answer::Stall,
            _ => Answer::Reply(answer(body, &power_status_reply(), None)),
        }),
    )
    .await;
    let session = short_session(&server);
    session.power_status().await.unwrap();
    let mut sends = 0;
    let error = session
        .request_power_state_change(8, &mut || sends += 1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Timeout {
                request_sent: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.may_have_reached_device());
    assert_eq!(sends, 1);
}

fn basic_only() -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(header::WWW_AUTHENTICATE, r#"Basic realm="x""#)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

#[tokio::test]
async fn a_401_without_a_usable_challenge_proves_the_device_did_not_act() {
    // On the probe: nothing with credentials was ever sent.
    let server = ScriptedServer::start(Arc::new(|_, _, _| basic_only())).await;
    let mut sends = 0;
    let error = server
        .session()
        .request_power_state_change(8, &mut || sends += 1)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Protocol { ref detail, request_sent: false } if detail.contains("digest")),
        "{error:?}"
    );
    assert!(!error.may_have_reached_device());
    assert_eq!(sends, 0);

    // On an authenticated invoke: it was sent, and the 401 refused it unread.
    let server = ScriptedServer::start(Arc::new(|index, _, body| match index {
        0 => challenge(REALM),
        _ if is_power_change(body) => basic_only(),
        _ => answer(body, &power_status_reply(), None),
    }))
    .await;
    let session = server.session();
    session.power_status().await.unwrap();
    let mut sends = 0;
    let error = session
        .request_power_state_change(8, &mut || sends += 1)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Protocol {
                request_sent: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.may_have_reached_device());
    assert_eq!(sends, 1);
}

#[tokio::test]
async fn a_401_on_a_stale_nonce_is_answered_once_and_the_device_acts_once() {
    let mut config = device_config();
    config.clock = SimClock::manual();
    config.nonce_lifetime = Duration::from_secs(60);
    let (device, session) = device_and_session(config).await;
    session.power_status().await.unwrap();
    device.clock().advance(Duration::from_secs(120));

    let mut sends = 0;
    let (value, counted) = delta(
        &device,
        session.request_power_state_change(10, &mut || sends += 1),
    )
    .await;
    assert_eq!(value.unwrap(), ReturnValue::Completed);
    // Both authenticated requests were handed over; the first was refused unread.
    assert_eq!(sends, 2);
    assert_eq!(counted.total_invokes(), 1, "{counted}");
    assert_eq!(counted.requests, 2, "{counted}");
    assert_eq!(counted.unauthorized, 1, "{counted}");
    assert_eq!(counted.failed_logins, 0, "{counted}");
}

#[tokio::test]
async fn a_power_change_dropped_after_on_send_is_never_resent() {
    let (device, session) = device_and_session(device_config()).await;
    session.power_status().await.unwrap();
    // The device takes its time over the invoke, so the call is still waiting when dropped.
    device.inject(FaultRule::on_power_changes(
        Fault::Latency(Duration::from_secs(2)),
        1,
    ));
    let before = device.counters();
    let handed_over = Notify::new();
    let mut on_send = || handed_over.notify_one();
    tokio::select! {
        result = session.request_power_state_change(10, &mut on_send) => {
            panic!("the call ended before it was dropped: {result:?}");
        }
        () = async {
            handed_over.notified().await;
            // Drop it only once the device has the request.
            let arrived = async {
                while device.counters().requests == before.requests {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(5), arrived)
                .await
                .expect("the invoke reaches the device");
        } => {}
    }

    let (status, counted) = delta(&device, session.power_status()).await;
    status.unwrap();
    // The abandoned connection is not reused, and nothing was sent again.
    assert_eq!(counted.tcp_connections, 1, "{counted}");
    assert_eq!(counted.requests, 1, "{counted}");
    let after = device.counters();
    assert_eq!(after.requests - before.requests, 2, "{after}");
    assert!(
        after.total_invokes() - before.total_invokes() <= 1,
        "{after}"
    );
}

#[tokio::test]
async fn a_device_closing_its_connections_gets_each_invoke_once() {
    // Every connection serves one request and says Connection: close.
    let mut config = device_config();
    config.close_after_requests = Some(1);
    let (device, session) = device_and_session(config).await;
    session.power_status().await.unwrap();
    session.power_status().await.unwrap();
    let mut sends = 0;
    let (value, counted) = delta(
        &device,
        session.request_power_state_change(10, &mut || sends += 1),
    )
    .await;
    assert_eq!(value.unwrap(), ReturnValue::Completed);
    assert_eq!(sends, 1);
    assert_eq!(counted.invokes_of(10), 1, "{counted}");
    assert_eq!(counted.requests, 1, "{counted}");
    assert_eq!(counted.tcp_connections, 1, "{counted}");
    session.power_status().await.unwrap();
}

#[tokio::test]
async fn an_unexpected_reply_to_a_probe_may_have_reached_a_device_that_needs_no_credentials() {
    // A peer that answers without asking for credentials may act on what it is sent.
    let server = ScriptedServer::start(Arc::new(|_, _, body| {
        let mut reply = answer(
            body,
            &WsResponse::RequestPowerStateChange { return_value: 0 },
            None,
        );
        *reply.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        reply
    }))
    .await;
    let mut sends = 0;
    let error = server
        .session()
        .request_power_state_change(8, &mut || sends += 1)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::Protocol { ref detail, request_sent: true } if detail.contains("500")),
        "{error:?}"
    );
    assert!(error.may_have_reached_device());
    assert_eq!(sends, 0, "no request carried credentials");
}
