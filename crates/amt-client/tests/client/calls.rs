//! Every typed call against a simulated device.

use std::time::Duration;

use amt_client::{Error, PowerStatus};
use amt_power::{AmtVersion, PowerState, ReturnValue};
use amt_sim::SimClock;

use crate::support::{PASSWORD, delta, device_and_session, device_config, session, start};

#[tokio::test]
async fn power_status_reads_state_and_available_transitions() {
    let mut config = device_config();
    config.power_state = PowerState::OffSoft;
    let (_device, session) = device_and_session(config).await;
    let status = session.power_status().await.unwrap();
    assert_eq!(
        status,
        PowerStatus {
            power_state: PowerState::OffSoft,
            available: vec![2],
            requested: Some(8),
        }
    );
}

#[tokio::test]
async fn a_power_change_is_sent_once_and_a_later_read_shows_it() {
    let mut config = device_config();
    config.clock = SimClock::manual();
    let (device, session) = device_and_session(config).await;
    assert_eq!(
        session.power_status().await.unwrap().power_state,
        PowerState::On
    );

    let mut sends = 0;
    let (value, counted) = delta(
        &device,
        session.request_power_state_change(8, &mut || sends += 1),
    )
    .await;
    assert_eq!(value.unwrap(), ReturnValue::Completed);
    assert_eq!(sends, 1);
    assert_eq!(counted.invokes_of(8), 1);
    assert_eq!(counted.requests, 1, "steady state: one request per call");

    device.clock().advance(Duration::from_secs(3));
    let status = session.power_status().await.unwrap();
    assert_eq!(status.power_state, PowerState::OffSoft);
    assert_eq!(status.available, [2]);
    assert_eq!(status.requested, Some(8));

    // An unavailable transition is refused by the device, not by the client.
    let refused = session
        .request_power_state_change(10, &mut || {})
        .await
        .unwrap();
    assert_eq!(refused, ReturnValue::UnknownOrUnspecified);
}

#[tokio::test]
async fn a_power_change_as_the_first_call_is_challenged_without_effect_then_sent_once() {
    let (device, session) = device_and_session(device_config()).await;
    let mut sends = 0;
    let (value, counted) = delta(
        &device,
        session.request_power_state_change(10, &mut || sends += 1),
    )
    .await;
    assert_eq!(value.unwrap(), ReturnValue::Completed);
    // The unauthenticated first attempt drew the 401; only the authenticated one counts.
    assert_eq!((counted.requests, counted.unauthorized), (2, 1));
    assert_eq!(sends, 1);
    assert_eq!(counted.invokes_of(10), 1);
}

#[tokio::test]
async fn amt_version_comes_from_software_identity() {
    let mut config = device_config();
    config.amt_version = AmtVersion::new(&[15, 0, 42]).unwrap();
    let (_device, session) = device_and_session(config).await;
    assert_eq!(session.last_server_version(), None);
    let version = session.amt_version().await.unwrap();
    assert_eq!(version.to_string(), "15.0.42");
    // The Server header names the same firmware, with its build number.
    let header = session.last_server_version().unwrap();
    assert_eq!(header.components()[..3], [15, 0, 42]);
}

#[tokio::test]
async fn capabilities_os_state_and_identify_are_read() {
    let mut config = device_config();
    config.os_power_saving = true;
    let (_device, session) = device_and_session(config).await;

    let capabilities = session.power_capabilities().await.unwrap();
    assert!(capabilities.power_states_supported.contains(&14));
    assert!(capabilities.power_change_capabilities.contains(&8));

    assert_eq!(session.os_power_state().await.unwrap(), 3);

    let identity = session.identify().await.unwrap();
    assert_eq!(identity.amt_version(), Some("16.1"));
    assert_eq!(identity.product_vendor, "Intel(r)");
}

#[tokio::test]
async fn os_power_state_is_a_fault_before_amt_10() {
    let mut config = device_config();
    config.amt_version = AmtVersion::new(&[9, 5, 30]).unwrap();
    let (_device, session) = device_and_session(config).await;
    let error = session.os_power_state().await.unwrap_err();
    let fault = error.fault().expect("a SOAP fault");
    assert_eq!(
        fault.subcode.as_ref().map(|s| s.local_name.as_str()),
        Some("DestinationUnreachable")
    );
    assert!(error.may_have_reached_device());
}

#[tokio::test]
async fn software_identities_are_enumerated_and_pulled() {
    let (device, session) = device_and_session(device_config()).await;
    session.validate_credentials().await.unwrap();
    let (identities, counted) = delta(&device, session.software_identities()).await;
    let identities = identities.unwrap();
    let amt = identities
        .iter()
        .find(|i| i.instance_id == "AMT")
        .expect("the AMT instance");
    assert_eq!(amt.version_string, "16.1.25");
    assert!(identities.iter().any(|i| i.instance_id == "Flash"));
    assert_eq!(counted.requests, 2, "one Enumerate, one Pull");

    let states = session
        .enumerate(amt_wsman::resource::CIM_ASSOCIATED_POWER_MANAGEMENT_SERVICE)
        .await
        .unwrap();
    assert_eq!(states.len(), 1);

    let unknown = session.enumerate("http://example.invalid/Nothing").await;
    assert!(matches!(unknown, Err(Error::Fault(_))), "{unknown:?}");
}

#[tokio::test]
async fn validate_credentials_proves_the_password_and_refuses_a_wrong_one() {
    let (device, _ca) = start(device_config()).await;
    session(&device, PASSWORD)
        .validate_credentials()
        .await
        .unwrap();

    let wrong = session(&device, "Wr0ng-Password!");
    let (result, counted) = delta(&device, wrong.validate_credentials()).await;
    assert!(
        matches!(result, Err(Error::CredentialsRejected { ref username }) if username == "admin"),
        "{result:?}"
    );
    assert_eq!(counted.failed_logins, 1);
    assert!(!result.unwrap_err().may_have_reached_device());
}
