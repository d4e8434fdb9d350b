//! `amtctl` and `amt-demo` run as processes against simulated devices.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use amt_power::PowerState;
use amt_sim::{DeviceConfig, Fault, FaultRule, LeafSpec, SimCa, SimDevice, Timing};
use serde_json::Value;

const PASSWORD: &str = "P@ssw0rd1";

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().expect("valid address")
}

fn config() -> DeviceConfig {
    let mut config = DeviceConfig::new(PASSWORD).on(any_port());
    config.timing = Timing {
        change_delay: Duration::from_millis(50),
        graceful_delay: Duration::from_millis(150),
    };
    config
}

/// A scratch directory with the CA written out and a database path.
struct Scratch {
    dir: tempfile::TempDir,
    ca: SimCa,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = SimCa::generate("amtctl test root").expect("CA");
        ca.write_cert_pem(&dir.path().join("root.pem"))
            .expect("write CA");
        Self { dir, ca }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    async fn device(&self, config: DeviceConfig) -> SimDevice {
        SimDevice::start(config, &self.ca).await.expect("device")
    }

    /// Runs amtctl with the scratch database and the password in AMT_PASSWORD.
    async fn amtctl(&self, args: &[&str]) -> Output {
        self.amtctl_with_password(args, PASSWORD).await
    }

    async fn amtctl_with_password(&self, args: &[&str], password: &str) -> Output {
        let db = self.path("inventory.db");
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_amtctl"))
                .args(&args)
                .arg("--db")
                .arg(&db)
                .env("AMT_PASSWORD", password)
                .env_remove("AMT_MANAGER_DB")
                .env_remove("AMT_MANAGER_KEY_FILE")
                .output()
                .expect("amtctl runs")
        })
        .await
        .expect("join")
    }

    /// Direct-mode arguments for a device.
    fn direct<'a>(&'a self, port: &'a str, ca: &'a Path) -> Vec<&'a str> {
        vec![
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--ca",
            ca.to_str().expect("utf-8 path"),
        ]
    }
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"))
        })
        .collect()
}

fn only_json(output: &Output) -> Value {
    let mut lines = json_lines(output);
    assert_eq!(
        lines.len(),
        1,
        "one object: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    lines.remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_status_prints_the_documented_object() {
    let scratch = Scratch::new();
    let device = scratch.device(config()).await;
    let port = device.addr().port().to_string();
    let ca = scratch.path("root.pem");
    let mut args = scratch.direct(&port, &ca);
    args.extend(["--json", "status"]);
    let output = scratch.amtctl(&args).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let status = only_json(&output);
    assert_eq!(status["host"], "127.0.0.1");
    assert_eq!(status["power_state"], "on");
    assert_eq!(status["power_state_code"], 2);
    assert_eq!(status["amt_version"], "16.1.25");
    let available: Vec<&str> = status["available_operations"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        available.contains(&"graceful-restart") && !available.contains(&"power-on"),
        "{available:?}"
    );

    args.retain(|a| *a != "--json");
    let human = scratch.amtctl(&args).await;
    assert_eq!(human.status.code(), Some(0));
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("Intel AMT 16.1.25") && text.contains("Power On: not allowed"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_direct_operation_prints_its_result() {
    let scratch = Scratch::new();
    let cases = [
        ("on", PowerState::OffSoft, "power-on", 2),
        ("start", PowerState::SleepDeep, "power-on", 2),
        ("off", PowerState::On, "power-off", 8),
        ("stop", PowerState::On, "power-off", 8),
        ("graceful-shutdown", PowerState::On, "graceful-shutdown", 8),
        ("reset", PowerState::On, "reset", 2),
        ("restart", PowerState::On, "reset", 2),
        ("graceful-restart", PowerState::On, "graceful-restart", 2),
        ("power-cycle", PowerState::On, "power-cycle", 2),
    ];
    let ca = scratch.path("root.pem");
    for (command, initial, name, final_code) in cases {
        let mut config = config();
        config.power_state = initial;
        let device = scratch.device(config).await;
        let port = device.addr().port().to_string();
        let mut args = scratch.direct(&port, &ca);
        args.extend(["--json", command]);
        let output = scratch.amtctl(&args).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{command}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let result = only_json(&output);
        assert_eq!(result["operation"], name, "{command}");
        assert_eq!(result["return_value"], 0, "{command}");
        assert_eq!(result["accepted"], true, "{command}");
        assert_eq!(result["power_state_code"], final_code, "{command}");
        assert_eq!(device.counters().total_invokes(), 1, "{command}: sent once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_failures_print_their_row_and_exit_1() {
    let scratch = Scratch::new();
    let ca = scratch.path("root.pem");
    let device = scratch.device(config()).await;
    let port = device.addr().port().to_string();

    let check = |output: &Output, kind: &str, message: &str| {
        assert_eq!(
            output.status.code(),
            Some(1),
            "{kind}: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let failure = only_json(output);
        assert_eq!(failure["kind"], kind);
        assert_eq!(failure["host"], "127.0.0.1");
        let error = failure["error"].as_str().expect("error text");
        assert!(error.starts_with(message), "{kind}: {error}");
    };

    // A root the device's certificate does not chain to.
    let other = scratch.path("other-root.pem");
    SimCa::generate("another root")
        .expect("CA")
        .write_cert_pem(&other)
        .expect("write");
    let mut args = scratch.direct(&port, &other);
    args.extend(["--json", "status"]);
    check(
        &scratch.amtctl(&args).await,
        "root_mismatch",
        "AMT root certificate does not match Intel provider CA certificate",
    );

    // A certificate for another name.
    let mut misnamed = config();
    misnamed.leaf = LeafSpec::names(["elsewhere.example.com"]);
    let misnamed = scratch.device(misnamed).await;
    let misnamed_port = misnamed.addr().port().to_string();
    let mut args = scratch.direct(&misnamed_port, &ca);
    args.extend(["--json", "status"]);
    check(
        &scratch.amtctl(&args).await,
        "name_mismatch",
        "FQDN/IP does not match AMT certificate subject",
    );

    // A wrong password.
    let mut args = scratch.direct(&port, &ca);
    args.extend(["--json", "validate"]);
    check(
        &scratch.amtctl_with_password(&args, "wrong").await,
        "credentials_invalid",
        "Error validating management credentials: ",
    );
    let output = scratch.amtctl(&args).await;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(only_json(&output)["valid"], true);

    // Nothing listening.
    let closed = std::net::TcpListener::bind(any_port()).expect("bind");
    let closed_port = closed.local_addr().expect("addr").port().to_string();
    drop(closed);
    let mut args = scratch.direct(&closed_port, &ca);
    args.extend(["--json", "status"]);
    check(
        &scratch.amtctl(&args).await,
        "unreachable",
        "The workstation could not be reached: ",
    );

    // A silent device.
    let silent = scratch.device(config()).await;
    silent.inject(FaultRule::always(Fault::Stall));
    let silent_port = silent.addr().port().to_string();
    let mut args = scratch.direct(&silent_port, &ca);
    args.extend(["--json", "--timeout", "1", "status"]);
    check(
        &scratch.amtctl(&args).await,
        "network_timeout",
        "Network timeout occurred",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_against_one_host_within_20_s_are_refused_across_processes() {
    let scratch = Scratch::new();
    let ca = scratch.path("root.pem");
    let device = scratch.device(config()).await;
    let port = device.addr().port().to_string();
    let mut args = scratch.direct(&port, &ca);
    args.extend(["--json", "reset"]);
    let first = scratch.amtctl(&args).await;
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    let second = scratch.amtctl(&args).await;
    assert_eq!(second.status.code(), Some(1));
    let refusal = only_json(&second);
    assert_eq!(refusal["kind"], "cooling_down");
    assert!(
        refusal["error"]
            .as_str()
            .expect("text")
            .starts_with("A power operation was sent to this workstation "),
        "{refusal}"
    );
    assert_eq!(
        device.counters().total_invokes(),
        1,
        "the second run sent nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2() {
    let scratch = Scratch::new();
    let output = scratch.amtctl(&["reset"]).await;
    assert_eq!(
        output.status.code(),
        Some(2),
        "a power command needs --host"
    );
    let output = scratch.amtctl(&["--no-such-flag", "status"]).await;
    assert_eq!(output.status.code(), Some(2));
    let output = scratch.amtctl(&["run", "reboot", "--pool", "p"]).await;
    assert_eq!(output.status.code(), Some(2), "unknown operation");
    let help = scratch.amtctl(&["--help"]).await;
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Direct mode"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_mode_from_an_empty_database_to_a_bulk_run() {
    let scratch = Scratch::new();
    let ca = scratch.path("root.pem");
    let ca = ca.to_str().expect("utf-8");
    let mut devices = Vec::new();
    for state in [PowerState::OffSoft, PowerState::OffSoft, PowerState::On] {
        let mut config = config();
        config.power_state = state;
        devices.push(scratch.device(config).await);
    }
    let ok = |output: Output| {
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    };
    ok(scratch
        .amtctl(&["deployment", "add", "lab", "--ca", ca])
        .await);
    for (i, device) in devices.iter().enumerate() {
        let name = format!("ws-{i}");
        let port = device.addr().port().to_string();
        ok(scratch
            .amtctl(&[
                "workstation",
                "add",
                &name,
                "--deployment",
                "lab",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
            ])
            .await);
        let refused = scratch
            .amtctl(&["workstation", "set-managed", &name, "on"])
            .await;
        assert_eq!(refused.status.code(), Some(1), "managed needs credentials");
        ok(scratch
            .amtctl(&["workstation", "set-credentials", &name])
            .await);
        ok(scratch
            .amtctl(&["workstation", "set-managed", &name, "on"])
            .await);
    }
    ok(scratch.amtctl(&["pool", "add", "floor-1"]).await);
    for name in ["ws-0", "ws-1", "ws-2"] {
        ok(scratch
            .amtctl(&["pool", "add-member", "floor-1", name])
            .await);
    }
    let list = ok(scratch.amtctl(&["--json", "workstation", "list"]).await);
    assert_eq!(json_lines(&list).len(), 3);

    let run = scratch
        .amtctl(&[
            "--json",
            "run",
            "start",
            "--pool",
            "floor-1",
            "--workstation",
            "ws-0",
        ])
        .await;
    assert_eq!(
        run.status.code(),
        Some(1),
        "ws-2 is on already, so one result is a failure"
    );
    let lines = json_lines(&run);
    assert_eq!(lines.len(), 3, "ws-0, named twice, ran once");
    let started = lines.iter().filter(|l| l["accepted"] == true).count();
    let refused: Vec<&Value> = lines
        .iter()
        .filter(|l| l["kind"] == "operation_unavailable")
        .collect();
    assert_eq!((started, refused.len()), (2, 1));
    assert_eq!(refused[0]["workstation"], "ws-2");
    let invokes: u64 = devices.iter().map(|d| d.counters().total_invokes()).sum();
    assert_eq!(invokes, 2);

    let table = ok(scratch.amtctl(&["status", "--pool", "floor-1"]).await);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.lines()
            .next()
            .is_some_and(|h| h.starts_with("WORKSTATION")),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ws-")).count(),
        3,
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_to_completion() {
    let output = tokio::task::spawn_blocking(|| {
        std::process::Command::new(env!("CARGO_BIN_EXE_amt-demo"))
            .output()
            .expect("amt-demo runs")
    })
    .await
    .expect("join");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "[name_mismatch] FQDN/IP does not match AMT certificate subject",
        "[cooling_down] A power operation was sent to this workstation",
        "[amt_version_too_old] Graceful Restart requires Intel AMT 10 or later",
        "every step behaved as expected",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    #[cfg(feature = "legacy-tls")]
    assert!(
        text.lines()
            .any(|l| l.contains("ws-amt11") && l.contains("Power On accepted")),
        "the AMT 11 workstation starts over legacy TLS:\n{text}"
    );
}
