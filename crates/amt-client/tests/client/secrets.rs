//! No secret in any Debug, Display, error or log line.

use std::io::Write;
use std::sync::{Arc, Mutex};

use std::time::Duration;

use amt_client::{Error, Session, Timeouts};
use amt_sim::{Fault, FaultRule};
use tracing_subscriber::fmt::MakeWriter;

use crate::support::{config_for, device_config, start, tls};

const SECRET: &str = "S3cret-Do-Not-Log!";
/// A wrong password is a secret too (it may be a user's password for something else).
const WRONG_SECRET: &str = "Wr0ng-But-Secret!";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Captures the log lines of the current thread at `level` and below until the guards drop.
fn capture(
    level: tracing::Level,
) -> (
    Captured,
    (tracing::subscriber::DefaultGuard, tracing::Dispatch),
) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    // With one registered subscriber alone, tracing-core asks the registering thread's own
    // default which callsites are wanted, so a callsite first reached by another test's thread
    // (which has none) would stay silent here for good. A second one makes it ask both.
    let second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    (captured, (guard, second))
}

fn assert_clean(text: &str) {
    assert!(!text.contains(SECRET), "the password leaked: {text}");
    assert!(
        !text.contains(WRONG_SECRET),
        "the wrong password leaked: {text}"
    );
    assert!(
        !text.contains("response=\""),
        "a digest response leaked: {text}"
    );
    assert!(
        !text.contains("Digest username"),
        "an Authorization value leaked: {text}"
    );
}

// One thread, so that every span and event of the session reaches the test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn logs_at_trace_level_hold_no_secret() {
    let (captured, _guard) = capture(tracing::Level::TRACE);

    let mut config = device_config();
    config.password = SECRET.to_owned().into();
    let (device, _ca) = start(config).await;
    let session = Session::new(config_for(
        device.addr(),
        "127.0.0.1",
        tls(device.ca_pem()),
        SECRET,
    ));
    session.power_status().await.unwrap();
    session.validate_credentials().await.unwrap();
    session
        .request_power_state_change(10, &mut || {})
        .await
        .unwrap();
    device.inject(FaultRule::on_reads(Fault::MalformedXml, 1));
    session.power_status().await.unwrap_err();
    let wrong = Session::new(config_for(
        device.addr(),
        "127.0.0.1",
        tls(device.ca_pem()),
        WRONG_SECRET,
    ));
    wrong.power_status().await.unwrap_err();

    let text = captured.text();
    assert!(text.contains("amt_call"), "spans are logged: {text}");
    assert!(
        text.contains("action=\"RequestPowerStateChange\""),
        "{text}"
    );
    assert!(text.contains("status=200"), "{text}");
    assert!(text.contains("duration_ms="), "{text}");
    assert_clean(&text);
}

#[tokio::test]
async fn debug_and_display_hold_no_secret() {
    let mut config = device_config();
    config.password = SECRET.to_owned().into();
    let (device, _ca) = start(config).await;
    let config = config_for(device.addr(), "127.0.0.1", tls(device.ca_pem()), SECRET);
    assert_clean(&format!("{config:?}"));
    let session = Session::new(config);
    assert_clean(&format!("{session:?}"));

    let wrong = Session::new(config_for(
        device.addr(),
        "127.0.0.1",
        tls(device.ca_pem()),
        WRONG_SECRET,
    ));
    let mut errors = vec![wrong.power_status().await.unwrap_err()];

    // Errors the session met after sending its credentials: a timeout, a dropped connection,
    // a fault, an unreadable reply.
    let mut config = config_for(device.addr(), "127.0.0.1", tls(device.ca_pem()), SECRET);
    config.timeouts = Timeouts::uniform(Duration::from_millis(300));
    let short = Session::new(config);
    short.power_status().await.unwrap();
    for fault in [
        Fault::Stall,
        Fault::DropConnection,
        Fault::SoapFault(Box::new(amt_wsman::Fault::access_denied())),
        Fault::MalformedXml,
    ] {
        device.inject(FaultRule::on_power_changes(fault, 1));
        errors.push(
            short
                .request_power_state_change(10, &mut || {})
                .await
                .unwrap_err(),
        );
    }
    assert!(
        matches!(
            errors.as_slice(),
            [
                Error::CredentialsRejected { .. },
                Error::Timeout { .. },
                Error::Unreachable { .. },
                Error::Fault(_),
                Error::Protocol { .. },
            ]
        ),
        "{errors:?}"
    );
    for error in &errors {
        assert_clean(&format!("{error:?}"));
        assert_clean(&error.to_string());
    }
    session.power_status().await.unwrap();
    assert_clean(&format!("{session:?}"));
}

// One thread, so that every span and event of the session reaches the test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn a_failed_call_shows_the_status_of_its_reply() {
    let (captured, _guard) = capture(tracing::Level::DEBUG);

    let (device, _ca) = start(device_config()).await;
    let session = Session::new(config_for(
        device.addr(),
        "127.0.0.1",
        tls(device.ca_pem()),
        crate::support::PASSWORD,
    ));
    session.power_status().await.unwrap();
    device.inject(FaultRule::on_reads(
        Fault::SoapFault(Box::new(amt_wsman::Fault::access_denied())),
        1,
    ));
    device.inject(FaultRule::on_power_changes(Fault::Http500, 1));
    assert!(session.power_status().await.unwrap_err().fault().is_some());
    session
        .request_power_state_change(10, &mut || {})
        .await
        .unwrap_err();
    let wrong = Session::new(config_for(
        device.addr(),
        "127.0.0.1",
        tls(device.ca_pem()),
        WRONG_SECRET,
    ));
    wrong.power_status().await.unwrap_err();

    let text = captured.text();
    // The first call's 401 was answered: the call's status is its second reply's.
    let done: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("call done"))
        .collect();
    assert_eq!(done.len(), 1, "{text}");
    assert!(
        done[0].contains("status=200") && !done[0].contains("status=401"),
        "{text}"
    );
    let failed: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("call failed"))
        .collect();
    assert_eq!(failed.len(), 3, "{text}");
    assert!(
        failed[0].contains("action=\"PowerState\"") && failed[0].contains("status=400"),
        "{text}"
    );
    assert!(
        failed[1].contains("action=\"RequestPowerStateChange\"")
            && failed[1].contains("status=500"),
        "{text}"
    );
    assert!(failed[2].contains("status=401"), "{text}");
    // Both fields of the timing are there (their values are the machine's).
    assert!(
        failed
            .iter()
            .all(|line| line.contains("queued_ms=") && line.contains("duration_ms=")),
        "{text}"
    );
    assert_clean(&text);
}
