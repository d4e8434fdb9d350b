//! The legacy TLS switch: the transport it chooses with the `legacy-tls` feature (end to end
//! against simulated Intel AMT 11 and 12 devices), and what it means without the feature.

use amt_manager::DirectTarget;
use amt_sim::{SimCa, SimDevice, TlsProfile};
#[cfg(feature = "legacy-tls")]
use secrecy::SecretString;

#[cfg(feature = "legacy-tls")]
use super::PASSWORD;
use super::{Lab, assert_error, device_config, direct_to};

const LEGACY_TLS_REQUIRED: &str =
    "TLS handshake failed: the workstation may need legacy TLS (Intel AMT 12 or lower)";

fn direct(device: &SimDevice, ca: &SimCa, allow_legacy_tls: bool) -> DirectTarget {
    direct_to(device.addr().port(), ca, allow_legacy_tls)
}

#[cfg(feature = "legacy-tls")]
fn legacy_config(profile: TlsProfile) -> amt_sim::DeviceConfig {
    let mut config = device_config();
    config.tls = profile;
    config.amt_version = match profile {
        TlsProfile::LegacyAmt11 => "11.8.55".parse().expect("version"),
        _ => "12.0.45".parse().expect("version"),
    };
    config
}

#[cfg(feature = "legacy-tls")]
#[tokio::test]
async fn the_inventory_switch_reaches_an_amt_11_workstation_and_nothing_falls_back() {
    use amt_power::{PowerOperation, PowerState};

    let mut lab = Lab::new();
    let old = lab
        .add("amt11", legacy_config(TlsProfile::LegacyAmt11))
        .await;
    let m = lab.manager.clone();
    assert!(
        !m.workstation("amt11")
            .expect("workstation")
            .allow_legacy_tls
    );

    // Switch off (the default): the modern handshake fails with the hint, nothing else is tried.
    let refused = m
        .set_credentials("amt11", "admin", SecretString::from(PASSWORD))
        .await
        .expect_err("modern TLS cannot reach AMT 11");
    assert_eq!(refused.kind(), "credentials_invalid");
    assert_eq!(
        refused.to_string(),
        format!("Error validating management credentials: {LEGACY_TLS_REQUIRED}")
    );
    let counters = lab.devices[old].counters();
    assert_eq!(counters.tcp_connections, 1);
    assert_eq!(counters.tls_full_handshakes, 0);
    assert_eq!(counters.requests, 0);

    // Switch on: the same workstation is reached through the legacy transport.
    m.set_allow_legacy_tls("amt11", true).expect("switch on");
    assert!(
        m.workstation("amt11")
            .expect("workstation")
            .allow_legacy_tls
    );
    m.set_credentials("amt11", "admin", SecretString::from(PASSWORD))
        .await
        .expect("credentials over legacy TLS");
    m.set_managed("amt11", true).expect("managed");
    let status = m.status("amt11").await.expect("status");
    assert_eq!(status.power_state, PowerState::On);
    assert_eq!(status.amt_version.expect("version").major(), 11);
    assert!(status.availability.is_available(PowerOperation::Reset));
    let outcome = m.run("amt11", PowerOperation::Reset).await.expect("reset");
    assert!(outcome.accepted());
    assert_eq!(lab.devices[old].counters().invokes_of(10), 1);

    // Switch off again: refused, with the hint, and no request reaches the device.
    lab.clock.advance(std::time::Duration::from_secs(60));
    m.set_allow_legacy_tls("amt11", false).expect("switch off");
    let requests = lab.devices[old].counters().requests;
    assert_error(
        m.status("amt11").await,
        "legacy_tls_required",
        LEGACY_TLS_REQUIRED,
    );
    assert_error(
        m.run("amt11", PowerOperation::PowerOff).await,
        "legacy_tls_required",
        LEGACY_TLS_REQUIRED,
    );
    assert_eq!(lab.devices[old].counters().requests, requests);
    assert_eq!(lab.devices[old].counters().invokes_of(8), 0);
}

#[cfg(feature = "legacy-tls")]
#[tokio::test]
async fn direct_mode_follows_its_switch_on_amt_12() {
    let lab = Lab::new();
    let device = SimDevice::start(legacy_config(TlsProfile::LegacyAmt12), &lab.ca)
        .await
        .expect("device");
    assert_error(
        lab.manager
            .status_direct(direct(&device, &lab.ca, false))
            .await,
        "legacy_tls_required",
        LEGACY_TLS_REQUIRED,
    );
    let status = lab
        .manager
        .status_direct(direct(&device, &lab.ca, true))
        .await
        .expect("status over legacy TLS");
    assert_eq!(status.amt_version.expect("version").major(), 12);
    let version = lab
        .manager
        .validate_direct(direct(&device, &lab.ca, true))
        .await
        .expect("credentials");
    assert_eq!(version.to_string(), "12.0.45");
}

#[cfg(feature = "legacy-tls")]
#[tokio::test]
async fn certificate_rows_are_the_same_over_legacy_tls() {
    use amt_sim::{LeafIssuer, LeafSpec, Validity};

    let lab = Lab::new();
    let cases = [
        (
            LeafSpec::names(["ws99.example.com"]),
            "name_mismatch",
            "FQDN/IP does not match AMT certificate subject",
        ),
        (
            LeafSpec {
                issuer: LeafIssuer::ForeignCa,
                ..LeafSpec::default()
            },
            "root_mismatch",
            "AMT root certificate does not match Intel provider CA certificate",
        ),
    ];
    for (leaf, kind, message) in cases {
        for profile in [TlsProfile::LegacyAmt11, TlsProfile::LegacyAmt12] {
            let mut config = legacy_config(profile);
            config.leaf = leaf.clone();
            let device = SimDevice::start(config, &lab.ca).await.expect("device");
            assert_error(
                lab.manager
                    .status_direct(direct(&device, &lab.ca, true))
                    .await,
                kind,
                message,
            );
            assert_eq!(device.counters().requests, 0);
        }
    }
    let mut config = legacy_config(TlsProfile::LegacyAmt11);
    config.leaf = LeafSpec {
        validity: Validity::Expired,
        ..LeafSpec::default()
    };
    let device = SimDevice::start(config, &lab.ca).await.expect("device");
    let error = lab
        .manager
        .status_direct(direct(&device, &lab.ca, true))
        .await
        .expect_err("expired");
    assert_eq!(error.kind(), "certificate_invalid");
    assert!(
        error
            .to_string()
            .starts_with("AMT certificate is not valid: "),
        "{error}"
    );
}

#[cfg(feature = "legacy-tls")]
#[tokio::test]
async fn the_switch_on_uses_legacy_tls_only() {
    // A modern device with an ECDSA certificate shares no suite with the legacy transport; the
    // session does not fall back to modern TLS either.
    let lab = Lab::new();
    let device = SimDevice::start(device_config(), &lab.ca)
        .await
        .expect("device");
    let error = lab
        .manager
        .status_direct(direct(&device, &lab.ca, true))
        .await
        .expect_err("no shared suite");
    assert_eq!(error.kind(), "protocol", "{error}");
    assert_eq!(device.counters().tcp_connections, 1);
    assert_eq!(device.counters().requests, 0);
}

#[cfg(not(feature = "legacy-tls"))]
#[tokio::test]
async fn without_the_feature_the_switch_on_says_the_build_lacks_legacy_tls() {
    let lab = Lab::new();
    let mut old = device_config();
    old.tls = TlsProfile::RefuseModern;
    let old = SimDevice::start(old, &lab.ca).await.expect("device");
    // Switch off: the usual hint.
    assert_error(
        lab.manager
            .status_direct(direct(&old, &lab.ca, false))
            .await,
        "legacy_tls_required",
        LEGACY_TLS_REQUIRED,
    );
    // Switch on: the hint cannot help, so the error says what is missing.
    let not_built = format!(
        "{LEGACY_TLS_REQUIRED}; its legacy TLS switch is on, but this build has no legacy TLS \
         transport (rebuild with the cargo feature legacy-tls)"
    );
    assert_error(
        lab.manager.status_direct(direct(&old, &lab.ca, true)).await,
        "unsupported",
        &not_built,
    );
    assert_error(
        lab.manager
            .validate_direct(direct(&old, &lab.ca, true))
            .await,
        "credentials_invalid",
        &format!("Error validating management credentials: {not_built}"),
    );

    // A workstation with the switch on that speaks modern TLS is still reached.
    let modern = SimDevice::start(device_config(), &lab.ca)
        .await
        .expect("device");
    lab.manager
        .status_direct(direct(&modern, &lab.ca, true))
        .await
        .expect("modern TLS");
}
