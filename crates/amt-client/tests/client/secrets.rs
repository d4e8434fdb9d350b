//! No secret in any Debug, Display, error or log line.

use std::io::Write;
use std::sync::{Arc, Mutex};

use amt_client::{Error, NetworkFailure, Phase, Session};
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
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

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
    let errors = [
        wrong.power_status().await.unwrap_err(),
        Error::Timeout {
            phase: Phase::Request,
            limit: std::time::Duration::from_secs(1),
            request_sent: true,
        },
        Error::Unreachable {
            failure: NetworkFailure::Reset,
            detail: "reset".into(),
            request_sent: true,
        },
    ];
    for error in errors {
        assert_clean(&format!("{error:?}"));
        assert_clean(&error.to_string());
    }
    session.power_status().await.unwrap();
    assert_clean(&format!("{session:?}"));
}
