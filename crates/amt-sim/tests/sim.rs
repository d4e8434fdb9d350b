//! The simulator exercised through a real HTTPS client on loopback.

#[cfg(feature = "legacy-tls")]
mod legacy;
mod support;

use std::time::Duration;

use amt_power::{AmtVersion, PowerState};
use amt_sim::{
    Addressing, DeviceConfig, Fault, FaultRule, Fleet, LeafIssuer, LeafSpec, SimCa, SimClock,
    SimDevice, Validity,
};
use amt_trust::TrustError;
use amt_wsman::{Call, EnumerationContext, Error as WsError, Limits, client};
use http::{StatusCode, header};
use support::{ConnectError, TestClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "P@ssw0rd1";

fn any_port() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().expect("valid address")
}

fn config() -> DeviceConfig {
    DeviceConfig::new(PASSWORD).on(any_port())
}

async fn start(config: DeviceConfig) -> SimDevice {
    let ca = SimCa::generate("amt-sim test CA").expect("CA");
    SimDevice::start(config, &ca).await.expect("device starts")
}

fn version(text: &str) -> AmtVersion {
    text.parse().expect("valid version")
}

async fn power_status(client: &mut TestClient) -> amt_wsman::PowerStatus {
    let (reply, id) = client.call(&Call::PowerState).await.expect("reply");
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    client::parse_power_state(&reply.body, &id, Limits::default()).expect("power status")
}

async fn change_power(client: &mut TestClient, value: u16) -> u32 {
    let (reply, id) = client
        .call(&Call::request_power_state_change(value))
        .await
        .expect("reply");
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    client::parse_request_power_state_change(&reply.body, &id, Limits::default())
        .expect("return value")
}

async fn fault_of(client: &mut TestClient, call: &Call) -> amt_wsman::Fault {
    let (reply, id) = client.call(call).await.expect("reply");
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
    match client::parse_response(call, &reply.body, &id, Limits::default()) {
        Err(WsError::Fault(fault)) => *fault,
        other => panic!("expected a fault, got {other:?}"),
    }
}

#[tokio::test]
async fn power_state_is_served_over_tls_with_one_401_then_preemptive_digest() {
    let device = start(config()).await;
    let mut client = TestClient::new(&device, PASSWORD);
    let status = power_status(&mut client).await;
    assert_eq!(status.power_state, 2);
    assert_eq!(
        status.available_requested_power_states,
        [10, 8, 5, 11, 4, 7, 12, 14]
    );
    for _ in 0..5 {
        power_status(&mut client).await;
    }
    let counters = device.counters();
    assert_eq!(counters.unauthorized, 1);
    assert_eq!(counters.requests, 7);
    // The 401 closes its connection; the second connection resumes the first's session.
    assert_eq!(
        (
            counters.tls_full_handshakes,
            counters.tls_resumed_handshakes
        ),
        (1, 1)
    );
    assert_eq!(counters.failed_logins, 0);
}

#[tokio::test]
async fn other_paths_are_404_and_every_response_names_the_firmware() {
    let mut config = config();
    config.amt_version = version("12.0.45.1509");
    let device = start(config).await;
    let mut client = TestClient::new(&device, PASSWORD);
    let reply = client
        .send_raw("/index.htm", Vec::new(), None)
        .await
        .expect("reply");
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.header(header::SERVER),
        Some("Intel(R) Active Management Technology 12.0.45.1509")
    );
    let (reply, _) = client.call(&Call::PowerState).await.expect("reply");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header(header::SERVER),
        Some("Intel(R) Active Management Technology 12.0.45.1509")
    );
}

#[tokio::test]
async fn plain_http_on_the_tls_port_fails() {
    let device = start(config()).await;
    let mut tcp = tokio::net::TcpStream::connect(device.addr())
        .await
        .expect("connect");
    tcp.write_all(b"POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP got an HTTP answer"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(device.counters().tls_failed_handshakes, 1);
    assert_eq!(device.counters().requests, 0);
}

#[tokio::test]
async fn the_401_looks_like_amts_and_the_realm_is_stable() {
    for (amt, qop) in [
        ("16.1.25", r#"qop="auth-int, auth""#),
        ("12.0.45", r#"qop="auth""#),
    ] {
        let mut config = config();
        config.amt_version = version(amt);
        let device = start(config).await;
        let mut client = TestClient::new(&device, PASSWORD);
        let body = Call::PowerState.build_request(&client.message_id());
        let first = client
            .send_raw("/wsman", body.clone(), None)
            .await
            .expect("reply");
        assert_eq!(first.status, StatusCode::UNAUTHORIZED);
        assert_eq!(first.header(header::CONTENT_TYPE), Some("text/html"));
        assert_eq!(first.header(header::CONNECTION), Some("close"));
        assert!(first.text().contains("Log on failed"));
        let challenge = first
            .header(header::WWW_AUTHENTICATE)
            .expect("challenge")
            .to_owned();
        assert!(challenge.starts_with(&format!(r#"Digest realm="{}", nonce=""#, device.realm())));
        assert!(
            challenge.ends_with(&format!(r#",stale="false",{qop}"#)),
            "{challenge}"
        );
        let realm = device
            .realm()
            .strip_prefix("Digest:")
            .expect("Digest: prefix");
        assert_eq!(realm.len(), 32);
        assert!(
            realm
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
        );
        let second = client.send_raw("/wsman", body, None).await.expect("reply");
        let again = second.header(header::WWW_AUTHENTICATE).expect("challenge");
        assert!(again.contains(device.realm()));
        assert_ne!(again, challenge, "every challenge has a new nonce");
    }
}

#[tokio::test]
async fn a_replayed_authorization_is_refused_but_is_not_a_failed_login() {
    let device = start(config()).await;
    let mut client = TestClient::new(&device, PASSWORD);
    power_status(&mut client).await;
    let body = Call::PowerState.build_request(&client.message_id());
    let (value, _) = client.authorization(&body).expect("challenge cached");
    let first = client
        .send_raw("/wsman", body.clone(), Some(&value))
        .await
        .expect("reply");
    assert_eq!(first.status, StatusCode::OK);
    let replay = client
        .send_raw("/wsman", body, Some(&value))
        .await
        .expect("reply");
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(device.counters().failed_logins, 0);
}

/// Answers the cached challenge after the nonce expired, without letting the client see the
/// new challenge; returns the 401's `WWW-Authenticate`.
async fn expired_nonce_challenge(device: &SimDevice, client: &mut TestClient) -> String {
    power_status(client).await;
    device.clock().advance(Duration::from_secs(61));
    let body = Call::PowerState.build_request(&client.message_id());
    let (value, _) = client.authorization(&body).expect("challenge cached");
    let refused = client
        .send_raw("/wsman", body, Some(&value))
        .await
        .expect("reply");
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    refused
        .header(header::WWW_AUTHENTICATE)
        .expect("challenge")
        .to_owned()
}

#[tokio::test]
async fn an_expired_nonce_gets_stale_false_as_on_amt_and_the_client_recovers_once() {
    let mut config = config();
    config.clock = SimClock::manual();
    config.nonce_lifetime = Duration::from_secs(60);
    let device = start(config).await;
    let mut client = TestClient::new(&device, PASSWORD);
    let challenge = expired_nonce_challenge(&device, &mut client).await;
    assert!(challenge.contains(r#",stale="false","#), "{challenge}");
    let before = device.counters().unauthorized;
    power_status(&mut client).await; // the cached nonce is refused once more, then the new one works
    assert_eq!(device.counters().unauthorized, before + 1);
    assert_eq!(device.counters().failed_logins, 0);
}

#[tokio::test]
async fn stale_true_is_there_for_testing_the_rfc_behaviour() {
    let mut config = config();
    config.clock = SimClock::manual();
    config.nonce_lifetime = Duration::from_secs(60);
    config.announce_stale_nonces = true;
    let device = start(config).await;
    let mut client = TestClient::new(&device, PASSWORD);
    let challenge = expired_nonce_challenge(&device, &mut client).await;
    assert!(challenge.contains(r#",stale="true","#), "{challenge}");
    // A wrong password still gets stale="false".
    let mut wrong = TestClient::new(&device, "wrong password");
    let (reply, _) = wrong.call(&Call::PowerState).await.expect("reply");
    let refused = reply.header(header::WWW_AUTHENTICATE).expect("challenge");
    assert!(refused.contains(r#",stale="false","#), "{refused}");
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_counted() {
    let device = start(config()).await;
    let mut client = TestClient::new(&device, "wrong password");
    let (reply, _) = client.call(&Call::PowerState).await.expect("reply");
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let counters = device.counters();
    assert_eq!(
        counters.failed_logins, 1,
        "one fresh-nonce attempt, then the client stops"
    );
    assert_eq!(counters.unauthorized, 2);
}

#[tokio::test]
async fn ten_failures_lock_every_login_out_with_a_growing_period() {
    let mut config = config();
    config.clock = SimClock::manual();
    let device = start(config).await;
    let clock = device.clock().clone();
    let mut wrong = TestClient::new(&device, "wrong password");
    let mut right = TestClient::new(&device, PASSWORD);
    for _ in 0..10 {
        wrong.digest = amt_digest::DigestSession::new();
        wrong.call(&Call::PowerState).await.expect("reply");
    }
    assert_eq!(device.counters().failed_logins, 10);

    let (reply, _) = right.call(&Call::PowerState).await.expect("reply");
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "even the right password is refused"
    );
    assert!(device.counters().lockout_refusals >= 1);

    clock.advance(Duration::from_millis(4_999));
    right.digest = amt_digest::DigestSession::new();
    let (reply, _) = right.call(&Call::PowerState).await.expect("reply");
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    clock.advance(Duration::from_millis(1));
    right.digest = amt_digest::DigestSession::new();
    power_status(&mut right).await;

    // Failures go on: the next lockout lasts 10 s.
    for _ in 0..10 {
        wrong.digest = amt_digest::DigestSession::new();
        wrong.call(&Call::PowerState).await.expect("reply");
    }
    clock.advance(Duration::from_millis(9_999));
    right.digest = amt_digest::DigestSession::new();
    assert_eq!(
        right.call(&Call::PowerState).await.expect("reply").0.status,
        StatusCode::UNAUTHORIZED
    );
    clock.advance(Duration::from_millis(1));
    right.digest = amt_digest::DigestSession::new();
    power_status(&mut right).await;

    // An hour without failures forgets it all: ten more failures lock for 5 s again (not the
    // 20 s a third lockout in a row would last).
    clock.advance(Duration::from_secs(3600));
    for _ in 0..9 {
        wrong.digest = amt_digest::DigestSession::new();
        wrong.call(&Call::PowerState).await.expect("reply");
    }
    right.digest = amt_digest::DigestSession::new();
    power_status(&mut right).await;
    // That success ended the run of failures: ten new ones are needed.
    for _ in 0..10 {
        wrong.digest = amt_digest::DigestSession::new();
        wrong.call(&Call::PowerState).await.expect("reply");
    }
    clock.advance(Duration::from_millis(4_999));
    right.digest = amt_digest::DigestSession::new();
    assert_eq!(
        right.call(&Call::PowerState).await.expect("reply").0.status,
        StatusCode::UNAUTHORIZED,
        "still locked 1 ms before the end"
    );
    clock.advance(Duration::from_millis(1));
    right.digest = amt_digest::DigestSession::new();
    power_status(&mut right).await;
}

#[tokio::test]
async fn only_logins_count_as_lockout_refusals() {
    let mut config = config();
    config.clock = SimClock::manual();
    let device = start(config).await;
    let mut wrong = TestClient::new(&device, "wrong password");
    for _ in 0..10 {
        wrong.digest = amt_digest::DigestSession::new();
        wrong.call(&Call::PowerState).await.expect("reply");
    }
    let mut right = TestClient::new(&device, PASSWORD);
    let id = right.message_id();
    let body = Call::PowerState.build_request(&id);
    // A request without credentials is challenged but is no refused login.
    let reply = right
        .send_raw("/wsman", body.clone(), None)
        .await
        .expect("reply");
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(device.counters().lockout_refusals, 0);
    // Answering the challenge is a login, refused unchecked.
    let challenges = reply
        .headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    right
        .digest
        .on_unauthorized(None, challenges)
        .expect("a challenge");
    let (authorization, _) = right.authorization(&body).expect("an answer");
    let reply = right
        .send_raw("/wsman", body, Some(&authorization))
        .await
        .expect("reply");
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let counters = device.counters();
    assert_eq!((counters.lockout_refusals, counters.failed_logins), (1, 10));
}

#[tokio::test]
async fn every_read_call_is_answered() {
    let mut config = config();
    config.amt_version = version("16.1.25.1917");
    let device = start(config).await;
    let mut client = TestClient::new(&device, PASSWORD);
    let limits = Limits::default();

    let (reply, id) = client.call(&Call::AmtVersion).await.expect("reply");
    let identity = client::parse_amt_version(&reply.body, &id, limits).expect("version");
    assert_eq!(identity.version_string, "16.1.25");

    let (reply, id) = client.call(&Call::PowerCapabilities).await.expect("reply");
    let caps = client::parse_power_capabilities(&reply.body, &id, limits).expect("caps");
    assert!(caps.power_change_capabilities.contains(&8));
    assert!(caps.power_states_supported.contains(&14));

    let (reply, id) = client.call(&Call::OsPowerState).await.expect("reply");
    assert_eq!(
        client::parse_os_power_state(&reply.body, &id, limits).expect("os state"),
        2
    );

    let (reply, _) = client.call(&Call::Identify).await.expect("reply");
    let identify = client::parse_identify(&reply.body, limits).expect("identify");
    assert_eq!(identify.product_version, "AMT 16.1");
    assert_eq!(identify.product_vendor, "Intel(r)");

    let (reply, id) = client
        .call(&Call::enumerate_software_identity())
        .await
        .expect("reply");
    let mut context = client::parse_enumerate(&reply.body, &id, limits).expect("context");
    let mut instances = Vec::new();
    loop {
        let mut pull = Call::pull_software_identity(context.clone());
        if let Call::Pull { max_elements, .. } = &mut pull {
            *max_elements = 3;
        }
        let (reply, id) = client.call(&pull).await.expect("reply");
        let page = client::parse_pull_software_identity(&reply.body, &id, limits).expect("page");
        instances.extend(page.items);
        match page.context {
            Some(next) if !page.end_of_sequence => context = next,
            _ => break,
        }
    }
    let amt = instances
        .iter()
        .find(|i| i.instance_id == "AMT")
        .expect("AMT instance");
    assert_eq!(amt.version_string, "16.1.25");
    assert!(
        instances
            .iter()
            .any(|i| i.instance_id == "Build Number" && i.version_string == "1917")
    );
    assert!(instances.len() > 3, "several pages were pulled");
}

#[tokio::test]
async fn unknown_resources_actions_selectors_and_contexts_get_amts_faults() {
    let mut config = config();
    config.amt_version = version("9.5.30");
    let device = start(config).await;
    let mut client = TestClient::new(&device, PASSWORD);
    let subcode = |fault: &amt_wsman::Fault| fault.subcode.as_ref().map(|s| s.local_name.clone());

    let unknown = Call::Get {
        resource_uri: "http://intel.com/wbem/wscim/1/amt-schema/1/AMT_NoSuchThing".into(),
        selectors: Default::default(),
    };
    assert_eq!(
        subcode(&fault_of(&mut client, &unknown).await).as_deref(),
        Some("DestinationUnreachable")
    );
    // IPS_PowerManagementService does not exist before AMT 10.
    assert_eq!(
        subcode(&fault_of(&mut client, &Call::OsPowerState).await).as_deref(),
        Some("DestinationUnreachable")
    );

    let mut selectors = amt_wsman::SelectorSet::default();
    selectors.push("InstanceID", "NoSuchInstance");
    let bad_selector = Call::Get {
        resource_uri: amt_wsman::resource::CIM_SOFTWARE_IDENTITY.into(),
        selectors,
    };
    assert_eq!(
        subcode(&fault_of(&mut client, &bad_selector).await).as_deref(),
        Some("InvalidSelectors")
    );

    let method = Call::Invoke {
        resource_uri: amt_wsman::resource::CIM_POWER_MANAGEMENT_SERVICE.into(),
        method: "NoSuchMethod".into(),
        selectors: Default::default(),
        input: amt_wsman::Element::new(
            amt_wsman::resource::CIM_POWER_MANAGEMENT_SERVICE,
            "NoSuchMethod_INPUT",
        ),
    };
    assert_eq!(
        subcode(&fault_of(&mut client, &method).await).as_deref(),
        Some("ActionNotSupported")
    );

    let pull = Call::pull_software_identity(EnumerationContext::new("00000000-dead-beef").unwrap());
    assert_eq!(
        subcode(&fault_of(&mut client, &pull).await).as_deref(),
        Some("InvalidEnumerationContext")
    );
}

#[tokio::test]
async fn power_changes_take_effect_after_the_delay() {
    let mut config = config();
    config.clock = SimClock::manual();
    let device = start(config).await;
    let mut client = TestClient::new(&device, PASSWORD);
    assert_eq!(change_power(&mut client, 8).await, 0);
    let during = power_status(&mut client).await;
    assert_eq!(during.power_state, 2, "not off yet");
    device.clock().advance(Duration::from_secs(2));
    let after = power_status(&mut client).await;
    assert_eq!(
        (after.power_state, after.available_requested_power_states),
        (8, vec![2])
    );
    assert_eq!(change_power(&mut client, 8).await, 2, "already off");
    assert_eq!(change_power(&mut client, 2).await, 0);
    device.clock().advance(Duration::from_secs(2));
    assert_eq!(power_status(&mut client).await.power_state, 2);
    let counters = device.counters();
    assert_eq!(
        (
            counters.invokes_of(8),
            counters.invokes_of(2),
            counters.total_invokes()
        ),
        (2, 1, 3)
    );
}

#[tokio::test]
async fn a_redirection_session_refuses_off_and_cycle_but_not_reset() {
    let mut config = config();
    config.redirection_session = true;
    config.clock = SimClock::manual();
    let device = start(config).await;
    let mut client = TestClient::new(&device, PASSWORD);
    assert_eq!(change_power(&mut client, 8).await, 2);
    assert_eq!(change_power(&mut client, 5).await, 2);
    assert_eq!(change_power(&mut client, 10).await, 0);
    assert_eq!(device.power_state(), PowerState::MasterBusReset);
}

#[tokio::test]
async fn graceful_operations_need_lms_unless_the_quirk_swallows_them() {
    let mut config = config();
    config.lms = false;
    config.clock = SimClock::manual();
    let device = start(config.clone()).await;
    let mut client = TestClient::new(&device, PASSWORD);
    assert_eq!(
        power_status(&mut client)
            .await
            .available_requested_power_states,
        [10, 8, 5, 11]
    );
    assert_eq!(change_power(&mut client, 12).await, 2);

    config.graceful_noop_without_lms = true;
    let quirky = start(config).await;
    let mut client = TestClient::new(&quirky, PASSWORD);
    assert_eq!(
        change_power(&mut client, 12).await,
        0,
        "the firmware says yes"
    );
    quirky.clock().advance(Duration::from_secs(60));
    assert_eq!(
        power_status(&mut client).await.power_state,
        2,
        "and does nothing"
    );
}

#[tokio::test]
async fn injected_faults_happen_as_told() {
    let mut config = config();
    config.clock = SimClock::manual();
    let device = start(config).await;
    let mut client = TestClient::new(&device, PASSWORD);
    power_status(&mut client).await;

    device.inject(FaultRule::on_power_changes(Fault::DropConnection, 1));
    let body = Call::request_power_state_change(10).build_request(&client.message_id());
    assert!(
        client.post(body).await.is_err(),
        "the connection closes without an answer"
    );
    assert_eq!(
        device.counters().invokes_of(10),
        1,
        "the device acted before dropping"
    );
    assert_eq!(device.power_state(), PowerState::MasterBusReset);
    device.clock().advance(Duration::from_secs(2));

    device.inject(FaultRule::on_reads(Fault::Http500, 1));
    let (reply, _) = client.call(&Call::PowerState).await.expect("reply");
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);

    device.inject(FaultRule::on_reads(Fault::MalformedXml, 1));
    let (reply, id) = client.call(&Call::PowerState).await.expect("reply");
    assert!(client::parse_power_state(&reply.body, &id, Limits::default()).is_err());

    device.inject(FaultRule::on_reads(Fault::OversizedBody(1 << 20), 1));
    let (reply, id) = client.call(&Call::PowerState).await.expect("reply");
    assert!(reply.body.len() >= 1 << 20);
    let mut small = Limits::default();
    small.max_body_bytes = 64 * 1024;
    assert!(matches!(
        client::parse_power_state(&reply.body, &id, small),
        Err(WsError::BodyTooLarge { .. })
    ));

    device.inject(FaultRule::on_reads(Fault::Stall, 1));
    let stalled =
        tokio::time::timeout(Duration::from_millis(300), client.call(&Call::PowerState)).await;
    assert!(stalled.is_err(), "a stalled device never answers");
    assert_eq!(device.counters().faults, 5);
}

/// Waits (in real time, generously) until `check` holds.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..1000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} never happened");
}

#[tokio::test]
async fn latency_adds_to_another_fault_and_waits_on_the_device_clock() {
    let mut config = config();
    config.clock = SimClock::manual();
    let device = start(config).await;
    let mut client = TestClient::new(&device, PASSWORD);
    power_status(&mut client).await;

    // An hour of latency on everything, and one HTTP 500: the 500 still comes, an hour later
    // on the device's clock (a real-time wait would outlast the test).
    device.inject(FaultRule::always(Fault::Latency(Duration::from_secs(3600))));
    device.inject(FaultRule::on_reads(Fault::Http500, 1));
    let call = tokio::spawn(async move {
        let reply = client.call(&Call::PowerState).await;
        (client, reply)
    });
    eventually("both rules firing", || device.counters().faults == 2).await;
    device.clock().advance(Duration::from_secs(3599));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!call.is_finished(), "answered before the latency was over");
    device.clock().advance(Duration::from_secs(1));
    let (mut client, reply) = tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .expect("answered once the device clock moved on")
        .expect("task");
    assert_eq!(
        reply.expect("reply").0.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    // The 500 is used up; the latency is not.
    let call = tokio::spawn(async move { power_status(&mut client).await });
    eventually("the latency firing again", || device.counters().faults == 3).await;
    device.clock().advance(Duration::from_secs(3600));
    let status = tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .expect("answered")
        .expect("task");
    assert_eq!(status.power_state, 2);
}

#[tokio::test]
async fn keep_alive_connections_close_after_n_requests() {
    let mut config = config();
    config.close_after_requests = Some(3);
    let device = start(config).await;
    let mut client = TestClient::new(&device, PASSWORD);
    for _ in 0..7 {
        power_status(&mut client).await;
    }
    // 401 on connection 1; then 7 requests in threes: connections 2, 3, 4.
    let counters = device.counters();
    assert_eq!(counters.tcp_connections, 4);
    assert_eq!(
        counters.tls_resumed_handshakes, 3,
        "every reconnection resumes"
    );
}

async fn trust_verdict(leaf: LeafSpec, host: &str) -> Result<(), TrustError> {
    let mut config = config();
    config.leaf = leaf;
    let device = start(config).await;
    let mut client = TestClient::with(
        support::tls_config(device.ca_pem()),
        device.addr(),
        host,
        "admin",
        PASSWORD,
    );
    match client.connect().await {
        Ok(()) => Ok(()),
        Err(ConnectError::Trust(error)) => Err(error),
        Err(ConnectError::Io(error)) => panic!("I/O error instead of a verdict: {error}"),
    }
}

#[tokio::test]
async fn leaf_certificates_reproduce_each_trust_outcome() {
    assert_eq!(
        trust_verdict(LeafSpec::default(), "127.0.0.1").await,
        Ok(())
    );
    assert_eq!(
        trust_verdict(LeafSpec::default(), "localhost").await,
        Ok(())
    );
    assert_eq!(
        trust_verdict(LeafSpec::names(["amt-7.example"]), "amt-7.example").await,
        Ok(())
    );
    let cn_only = LeafSpec {
        cn_only: true,
        ..LeafSpec::names(["amt-7.example"])
    };
    assert_eq!(
        trust_verdict(cn_only.clone(), "amt-7.example").await,
        Ok(())
    );
    assert!(matches!(
        trust_verdict(cn_only, "127.0.0.1").await,
        Err(TrustError::NameMismatch { .. })
    ));
    assert!(matches!(
        trust_verdict(LeafSpec::names(["other.example"]), "127.0.0.1").await,
        Err(TrustError::NameMismatch { .. })
    ));
    let expired = LeafSpec {
        validity: Validity::Expired,
        ..LeafSpec::default()
    };
    assert!(matches!(
        trust_verdict(expired, "127.0.0.1").await,
        Err(TrustError::Expired { .. })
    ));
    let early = LeafSpec {
        validity: Validity::NotYetValid,
        ..LeafSpec::default()
    };
    assert!(matches!(
        trust_verdict(early, "127.0.0.1").await,
        Err(TrustError::NotYetValid { .. })
    ));
    let foreign = LeafSpec {
        issuer: LeafIssuer::ForeignCa,
        ..LeafSpec::default()
    };
    assert!(matches!(
        trust_verdict(foreign, "127.0.0.1").await,
        Err(TrustError::RootMismatch { .. })
    ));
}

#[tokio::test]
async fn a_ca_saved_to_files_is_loaded_and_trusted_again() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = SimCa::generate("persisted CA").expect("CA");
    let (cert, key) = (dir.path().join("ca.pem"), dir.path().join("ca.key"));
    ca.write_cert_pem(&cert).expect("write cert");
    std::fs::write(&key, ca.key_pem()).expect("write key");
    let loaded = SimCa::from_files(&cert, &key).expect("load");
    let device = SimDevice::start(config(), &loaded).await.expect("device");
    let trusted = std::fs::read_to_string(&cert).expect("read");
    let mut client = TestClient::with(
        support::tls_config(&trusted),
        device.addr(),
        "127.0.0.1",
        "admin",
        PASSWORD,
    );
    assert_eq!(power_status(&mut client).await.power_state, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_device_fleet_starts_and_answers() {
    let ca = SimCa::generate("fleet CA").expect("CA");
    let addressing = Addressing::ConsecutivePorts {
        ip: "127.0.0.1".parse().expect("ip"),
        first_port: 0,
    };
    let fleet = Fleet::start(&config(), 200, addressing, &ca, |i, config| {
        if i % 2 == 1 {
            config.power_state = PowerState::OffSoft;
        }
    })
    .await
    .expect("fleet");
    let tls = support::tls_config(ca.cert_pem());
    let mut tasks = tokio::task::JoinSet::new();
    for (i, device) in fleet.devices().iter().enumerate() {
        let mut client =
            TestClient::with(tls.clone(), device.addr(), "127.0.0.1", "admin", PASSWORD);
        tasks.spawn(async move { (i, power_status(&mut client).await.power_state) });
    }
    let mut answered = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, state) = joined.expect("task");
        assert_eq!(state, if i % 2 == 1 { 8 } else { 2 });
        answered += 1;
    }
    assert_eq!(answered, 200);
    let counters = fleet.counters();
    assert_eq!((counters.requests, counters.unauthorized), (400, 200));
    let realms: std::collections::HashSet<&str> =
        fleet.devices().iter().map(SimDevice::realm).collect();
    assert_eq!(realms.len(), 200, "each device has its own realm");
}

#[tokio::test]
async fn devices_on_their_own_loopback_addresses_have_certificates_for_them() {
    let ca = SimCa::generate("loopback CA").expect("CA");
    let addressing = Addressing::LoopbackAddresses {
        first: "127.0.0.2".parse().expect("ip"),
        port: 0,
    };
    let fleet = Fleet::start(&config(), 3, addressing, &ca, |_, _| {})
        .await
        .expect("fleet");
    let tls = support::tls_config(ca.cert_pem());
    for (i, device) in fleet.devices().iter().enumerate() {
        let ip = format!("127.0.0.{}", i + 2);
        assert_eq!(device.addr().ip().to_string(), ip);
        let mut client = TestClient::with(tls.clone(), device.addr(), &ip, "admin", PASSWORD);
        assert_eq!(power_status(&mut client).await.power_state, 2);
    }
}

#[tokio::test]
async fn tls_profiles_and_mutual_tls_are_what_clients_meet() {
    use amt_sim::TlsProfile;
    // TLS 1.2 only: a TLS 1.2 client gets in.
    let mut config = config();
    config.tls = TlsProfile::Tls12Only;
    let device = start(config).await;
    let mut client = TestClient::new(&device, PASSWORD);
    assert_eq!(power_status(&mut client).await.power_state, 2);

    // Old firmware refuses the modern handshake outright.
    let mut config = self::config();
    config.tls = TlsProfile::RefuseModern;
    let old = start(config).await;
    let mut client = TestClient::new(&old, PASSWORD);
    match client.connect().await {
        Err(ConnectError::Io(error)) => {
            assert!(
                error.to_string().to_lowercase().contains("protocolversion"),
                "{error}"
            )
        }
        other => panic!("expected a refused handshake, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(old.counters().tls_failed_handshakes, 1);

    // A device that demands a client certificate refuses one that has none.
    let mut config = self::config();
    config.require_client_certificate = true;
    let mutual = start(config).await;
    let mut client = TestClient::new(&mutual, PASSWORD);
    // In TLS 1.3 the client's side of the handshake completes before the device checks for a
    // certificate, so its alert may arrive with the first request instead.
    let refused = match client.connect().await {
        Ok(()) => client.send_raw("/wsman", Vec::new(), None).await.err(),
        Err(error) => Some(format!("{error:?}")),
    }
    .expect("the handshake or the first request fails");
    assert!(
        refused.contains("CertificateRequired"),
        "not the certificate_required alert: {refused}"
    );
    assert_eq!(mutual.counters().requests, 0);
}

#[tokio::test]
async fn an_injected_soap_fault_replaces_the_reply() {
    let device = start(config()).await;
    let mut client = TestClient::new(&device, PASSWORD);
    device.inject(FaultRule::on_reads(
        Fault::SoapFault(Box::new(amt_wsman::Fault::access_denied())),
        1,
    ));
    let fault = fault_of(&mut client, &Call::PowerState).await;
    assert_eq!(
        fault.subcode.map(|s| s.local_name).as_deref(),
        Some("AccessDenied")
    );
    assert_eq!(
        power_status(&mut client).await.power_state,
        2,
        "used up after one reply"
    );
}

/// Posts a power-change body and reads the outcome: the `ReturnValue`, or the fault's subcode.
async fn power_change_outcome(
    client: &mut TestClient,
    body: Vec<u8>,
    id: &amt_wsman::MessageId,
) -> Result<u32, String> {
    let reply = client.post(body).await.expect("reply");
    match client::parse_request_power_state_change(&reply.body, id, Limits::default()) {
        Ok(value) => {
            assert_eq!(reply.status, StatusCode::OK);
            Ok(value)
        }
        Err(WsError::Fault(fault)) => {
            assert_eq!(reply.status, StatusCode::BAD_REQUEST);
            Err(fault.subcode.map(|s| s.local_name).unwrap_or_default())
        }
        Err(other) => panic!("neither a reply nor a fault: {other}"),
    }
}

#[tokio::test]
async fn power_changes_must_name_the_power_service_and_the_host() {
    let mut config = config();
    config.clock = SimClock::manual();
    let device = start(config).await;
    let mut client = TestClient::new(&device, PASSWORD);
    let name_only = r#"<wsman:SelectorSet><wsman:Selector Name="Name">Intel(r) AMT Power Management Service</wsman:Selector></wsman:SelectorSet>"#;
    let header_selectors = |selectors: &str, id: &amt_wsman::MessageId| {
        let body = String::from_utf8(Call::request_power_state_change(8).build_request(id))
            .expect("UTF-8");
        assert!(body.contains(name_only));
        body.replacen(name_only, selectors, 1).into_bytes()
    };
    // A device that is on offers 8; until the first accepted change completes it answers 2,
    // which is still an answer: the request was accepted as addressed.
    let four = r#"<wsman:SelectorSet><wsman:Selector Name="CreationClassName">CIM_PowerManagementService</wsman:Selector><wsman:Selector Name="Name">Intel(r) AMT Power Management Service</wsman:Selector><wsman:Selector Name="SystemCreationClassName">CIM_ComputerSystem</wsman:Selector><wsman:Selector Name="SystemName">Intel(r) AMT</wsman:Selector></wsman:SelectorSet>"#;
    for (selectors, expected) in [
        ("", Ok(0)),
        (name_only, Ok(2)),
        (four, Ok(2)),
        (
            r#"<wsman:SelectorSet><wsman:Selector Name="Name">Other Service</wsman:Selector></wsman:SelectorSet>"#,
            Err("InvalidSelectors".to_owned()),
        ),
        (
            r#"<wsman:SelectorSet><wsman:Selector Name="InstanceID">x</wsman:Selector></wsman:SelectorSet>"#,
            Err("InvalidSelectors".to_owned()),
        ),
        (
            r#"<wsman:SelectorSet><wsman:Selector>nameless</wsman:Selector></wsman:SelectorSet>"#,
            Err("InvalidSelectors".to_owned()),
        ),
    ] {
        let id = client.message_id();
        let outcome =
            power_change_outcome(&mut client, header_selectors(selectors, &id), &id).await;
        assert_eq!(outcome, expected, "{selectors}");
    }

    let host = amt_wsman::EndpointReference::managed_system();
    let mut intel_address = host.clone();
    intel_address.address = amt_wsman::ns::ADDRESSING.to_owned();
    let mut other_host = host.clone();
    other_host.selectors = amt_wsman::SelectorSet::new().with("Name", "OtherSystem");
    let mut other_class = host.clone();
    other_class.resource_uri = Some(amt_wsman::resource::CIM_POWER_MANAGEMENT_SERVICE.to_owned());
    let mut unnamed = host.clone();
    unnamed.selectors =
        amt_wsman::SelectorSet::new().with("CreationClassName", "CIM_ComputerSystem");
    for (managed_element, expected) in [
        (Some(intel_address), Ok(2)),
        (None, Err("InvalidParameter".to_owned())),
        (Some(other_host), Err("InvalidParameter".to_owned())),
        (Some(other_class), Err("InvalidParameter".to_owned())),
        (Some(unnamed), Err("InvalidParameter".to_owned())),
    ] {
        let id = client.message_id();
        let call = Call::RequestPowerStateChange {
            power_state: 8,
            managed_element: managed_element.clone(),
        };
        let outcome = power_change_outcome(&mut client, call.build_request(&id), &id).await;
        assert_eq!(outcome, expected, "{managed_element:?}");
    }
    assert_eq!(
        device.counters().invokes_of(8),
        4,
        "refused requests reach no power model"
    );
    device.clock().advance(Duration::from_secs(2));
    assert_eq!(device.power_state(), PowerState::OffSoft);
}

#[tokio::test]
async fn graceful_states_follow_the_firmware_version() {
    for (amt, offered) in [
        ("8.1.40", vec![10, 8, 5, 11]),
        ("9.5.30", vec![10, 8, 5, 11, 12]),
        ("10.0.50", vec![10, 8, 5, 11, 4, 7, 12, 14]),
    ] {
        let mut config = config();
        config.amt_version = version(amt);
        config.clock = SimClock::manual();
        let device = start(config).await;
        let mut client = TestClient::new(&device, PASSWORD);
        let status = power_status(&mut client).await;
        assert_eq!(
            status.available_requested_power_states, offered,
            "AMT {amt}"
        );
        let (reply, id) = client.call(&Call::PowerCapabilities).await.expect("reply");
        let capabilities =
            client::parse_power_capabilities(&reply.body, &id, Limits::default()).expect("caps");
        for value in [4, 7, 12, 14] {
            assert_eq!(
                capabilities.power_states_supported.contains(&value),
                offered.contains(&value),
                "AMT {amt}: capabilities and offer disagree on {value}"
            );
        }
        let graceful_restart = if offered.contains(&14) { 0 } else { 2 };
        assert_eq!(
            change_power(&mut client, 14).await,
            graceful_restart,
            "AMT {amt}"
        );
    }
}

#[tokio::test]
async fn an_unknown_transfer_action_is_not_supported() {
    let device = start(config()).await;
    let mut client = TestClient::new(&device, PASSWORD);
    let id = client.message_id();
    let body = String::from_utf8(Call::PowerState.build_request(&id))
        .expect("UTF-8")
        .replace(
            amt_wsman::action::GET,
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete",
        );
    let reply = client.post(body.into_bytes()).await.expect("reply");
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let fault = client::parse_power_state(&reply.body, &id, Limits::default())
        .expect_err("a fault")
        .fault()
        .cloned()
        .expect("a SOAP fault relating to the request");
    assert_eq!(fault, amt_wsman::Fault::action_not_supported());
}

#[tokio::test]
async fn a_singleton_class_refuses_selectors() {
    let device = start(config()).await;
    let mut client = TestClient::new(&device, PASSWORD);
    for resource_uri in [
        amt_wsman::resource::CIM_ASSOCIATED_POWER_MANAGEMENT_SERVICE,
        amt_wsman::resource::CIM_POWER_MANAGEMENT_CAPABILITIES,
    ] {
        let call = Call::Get {
            resource_uri: resource_uri.to_owned(),
            selectors: amt_wsman::SelectorSet::new().with("Name", "x"),
        };
        let fault = fault_of(&mut client, &call).await;
        assert_eq!(
            fault.subcode.map(|s| s.local_name).as_deref(),
            Some("InvalidSelectors"),
            "{resource_uri}"
        );
    }
}

#[tokio::test]
async fn a_reset_reads_power_state_10_with_nothing_on_offer_until_it_is_over() {
    let mut config = config();
    config.clock = SimClock::manual();
    let device = start(config).await;
    let mut client = TestClient::new(&device, PASSWORD);
    assert_eq!(change_power(&mut client, 10).await, 0);
    let during = power_status(&mut client).await;
    assert_eq!(
        (during.power_state, during.available_requested_power_states),
        (10, vec![])
    );
    assert_eq!(change_power(&mut client, 8).await, 2, "nothing is on offer");
    device.clock().advance(Duration::from_millis(1_999));
    assert_eq!(power_status(&mut client).await.power_state, 10);
    device.clock().advance(Duration::from_millis(1));
    let after = power_status(&mut client).await;
    assert_eq!(
        (after.power_state, after.available_requested_power_states),
        (2, vec![10, 8, 5, 11, 4, 7, 12, 14])
    );
}
