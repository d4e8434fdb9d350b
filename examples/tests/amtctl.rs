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
        let mut command = amtctl_command(args);
        command
            .arg("--db")
            .arg(self.path("inventory.db"))
            .env("AMT_PASSWORD", password);
        run_blocking(command).await
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

/// amtctl with these arguments and none of its own environment variables set.
fn amtctl_command(args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_amtctl"));
    command
        .args(args)
        .env_remove("AMT_PASSWORD")
        .env_remove("AMT_MANAGER_DB")
        .env_remove("AMT_MANAGER_KEY_FILE");
    command
}

/// Runs a process off the runtime's workers, which serve the simulated devices.
async fn run_blocking(mut command: std::process::Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("the process runs"))
        .await
        .expect("join")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"))
        })
        .collect()
}

/// The documented status object: exactly these keys, in this order, with these types.
fn assert_documented_status(status: &Value) {
    let object = status.as_object().expect("an object");
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "host",
            "power_state",
            "power_state_code",
            "available_operations",
            "amt_version"
        ],
        "{status}"
    );
    assert!(status["host"].is_string(), "{status}");
    assert!(status["power_state"].is_string(), "{status}");
    assert!(status["power_state_code"].is_u64(), "{status}");
    let available = status["available_operations"].as_array().expect("an array");
    assert!(available.iter().all(Value::is_string), "{status}");
    assert!(
        status["amt_version"].is_string() || status["amt_version"].is_null(),
        "{status}"
    );
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
    assert_documented_status(&status);
    assert_eq!(status["host"], "127.0.0.1");
    assert_eq!(status["power_state"], "on");
    assert_eq!(status["power_state_code"], 2);
    assert_eq!(status["amt_version"], "16.1.25");
    assert_eq!(
        status["available_operations"],
        serde_json::json!([
            "power-off",
            "graceful-shutdown",
            "reset",
            "graceful-restart",
            "power-cycle",
            "sleep",
            "hibernate"
        ]),
        "an AMT 16 workstation that is on, with Intel LMS: everything but Power On"
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

/// The README's simulator session: `amt-sim` as a process, `amtctl --json status` against it.
#[test]
fn direct_status_against_a_running_amt_sim_prints_the_documented_object() {
    use std::io::{BufRead as _, BufReader};

    /// Ends the simulator however the test ends.
    struct Sim(std::process::Child);
    impl Drop for Sim {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    let scratch = Scratch::new();
    let ca = scratch.path("amt-sim-ca.pem");
    let mut sim = Sim(std::process::Command::new(env!("CARGO_BIN_EXE_amt-sim"))
        .args(["--listen", "127.0.0.1:0", "--ca-out"])
        .arg(&ca)
        .env("AMT_PASSWORD", PASSWORD)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("amt-sim starts"));
    let mut lines = BufReader::new(sim.0.stdout.take().expect("stdout")).lines();
    let url = lines.next().expect("a URL line").expect("readable");
    assert_eq!(lines.next().expect("ready").expect("readable"), "ready");
    let port = url
        .strip_prefix("https://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix("/wsman"))
        .unwrap_or_else(|| panic!("{url}"))
        .to_owned();

    let mut command = amtctl_command(&scratch.direct(&port, &ca));
    command
        .args(["--json", "status"])
        .arg("--db")
        .arg(scratch.path("inventory.db"))
        .env("AMT_PASSWORD", PASSWORD);
    let output = command.output().expect("amtctl runs");
    drop(sim);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let status = only_json(&output);
    assert_documented_status(&status);
    assert_eq!(status["host"], "127.0.0.1");
    assert_eq!(status["power_state"], "on", "amt-sim starts devices on");
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
        let keys: Vec<&str> = result
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "host",
                "operation",
                "return_value",
                "accepted",
                "power_state_code"
            ],
            "{command}"
        );
        assert_eq!(result["host"], "127.0.0.1", "{command}");
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
            .amtctl(&["--json", "workstation", "set-managed", &name, "on"])
            .await;
        assert_eq!(refused.status.code(), Some(1), "managed needs credentials");
        let refusal = only_json(&refused);
        assert_eq!(refusal["kind"], "not_manageable", "{refusal}");
        assert_eq!(
            refusal["error"],
            "This workstation cannot be managed by Intel AMT without administrator credentials"
        );
        assert_eq!(refusal["workstation"], name.as_str(), "{refusal}");
        assert_eq!(refusal["host"], "127.0.0.1", "{refusal}");
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
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|h| h.starts_with("WORKSTATION")),
        "{table}"
    );
    assert_eq!(
        table.lines().filter(|l| l.starts_with("ws-")).count(),
        3,
        "{table}"
    );

    let pools = ok(scratch.amtctl(&["--json", "pool", "list"]).await);
    assert_eq!(
        json_lines(&pools),
        [serde_json::json!({"pool": "floor-1", "members": ["ws-0", "ws-1", "ws-2"]})]
    );
    let deployments = ok(scratch.amtctl(&["--json", "deployment", "list"]).await);
    let deployments = json_lines(&deployments);
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    assert_eq!(deployments[0]["deployment"], "lab");
    let subject = deployments[0]["root_subject"].as_str().expect("text");
    assert!(subject.contains("CN=amtctl test root"), "{subject}");
    let fingerprint = deployments[0]["root_sha256"].as_str().expect("text");
    assert_eq!(
        fingerprint.chars().filter(char::is_ascii_hexdigit).count(),
        64,
        "{fingerprint}"
    );

    let removed = ok(scratch
        .amtctl(&["--json", "workstation", "remove", "ws-2"])
        .await);
    assert_eq!(
        only_json(&removed),
        serde_json::json!({"workstation": "ws-2", "removed": true})
    );
    let pools = ok(scratch.amtctl(&["--json", "pool", "list"]).await);
    assert_eq!(
        json_lines(&pools)[0]["members"],
        serde_json::json!(["ws-0", "ws-1"]),
        "a removed workstation leaves its pools"
    );
    let list = ok(scratch.amtctl(&["--json", "workstation", "list"]).await);
    let names: Vec<Value> = json_lines(&list)
        .iter()
        .map(|w| w["workstation"].clone())
        .collect();
    assert_eq!(names, ["ws-0", "ws-1"]);

    // A root the devices' certificates do not chain to: the deployment trusts it from now on.
    let other = scratch.path("other-root.pem");
    SimCa::generate("another root")
        .expect("CA")
        .write_cert_pem(&other)
        .expect("write");
    let other = other.to_str().expect("utf-8");
    ok(scratch
        .amtctl(&["deployment", "set-ca", "lab", "--ca", other])
        .await);
    let deployments = ok(scratch.amtctl(&["--json", "deployment", "list"]).await);
    let deployments = json_lines(&deployments);
    let subject = deployments[0]["root_subject"].as_str().expect("text");
    assert!(subject.contains("CN=another root"), "{subject}");
    assert_ne!(deployments[0]["root_sha256"], fingerprint);
    let status = scratch
        .amtctl(&["--json", "status", "--workstation", "ws-0"])
        .await;
    assert_eq!(status.status.code(), Some(1), "{}", text(&status));
    let failure = only_json(&status);
    assert_eq!(failure["kind"], "root_mismatch", "{failure}");
    assert_eq!(failure["workstation"], "ws-0", "{failure}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_tls_switch_is_set_by_its_new_name_and_its_old_one() {
    let scratch = Scratch::new();
    let ca = scratch.path("root.pem");
    let ca = ca.to_str().expect("utf-8");
    let succeeded = |output: &Output| {
        assert_eq!(output.status.code(), Some(0), "{}", text(output));
    };
    succeeded(
        &scratch
            .amtctl(&["deployment", "add", "lab", "--ca", ca])
            .await,
    );
    succeeded(
        &scratch
            .amtctl(&[
                "workstation",
                "add",
                "ws",
                "--deployment",
                "lab",
                "--host",
                "127.0.0.1",
            ])
            .await,
    );
    let switch = || async {
        let list = scratch.amtctl(&["--json", "workstation", "list"]).await;
        succeeded(&list);
        only_json(&list)["allow_legacy_tls"].clone()
    };
    assert_eq!(switch().await, false, "off by default");
    let set = scratch
        .amtctl(&["--json", "workstation", "set-allow-legacy-tls", "ws", "on"])
        .await;
    succeeded(&set);
    assert_eq!(
        only_json(&set),
        serde_json::json!({"workstation": "ws", "allow_legacy_tls": true})
    );
    assert_eq!(switch().await, true);
    succeeded(
        &scratch
            .amtctl(&["workstation", "set-legacy-tls", "ws", "off"])
            .await,
    );
    assert_eq!(switch().await, false, "the old spelling still works");

    let help = scratch.amtctl(&["workstation", "--help"]).await;
    succeeded(&help);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("set-allow-legacy-tls"), "{help}");
    assert!(
        !help
            .replace("set-allow-legacy-tls", "")
            .contains("set-legacy-tls"),
        "the old spelling is hidden: {help}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_and_inventory_errors_are_failures_with_their_kind() {
    let scratch = Scratch::new();
    let ca = scratch.path("root.pem");
    let ca = ca.to_str().expect("utf-8");
    let failed = |output: &Output| {
        assert_eq!(output.status.code(), Some(1), "{}", text(output));
        only_json(output)
    };

    let run = failed(
        &scratch
            .amtctl(&["--json", "run", "start", "--workstation", "nowhere"])
            .await,
    );
    assert_eq!(
        run,
        serde_json::json!({"error": "Workstation \"nowhere\" does not exist",
            "kind": "not_found", "workstation": "nowhere"})
    );
    let status = failed(
        &scratch
            .amtctl(&["--json", "status", "--pool", "nobody"])
            .await,
    );
    assert_eq!(
        status,
        serde_json::json!({"error": "Pool \"nobody\" does not exist",
            "kind": "not_found", "pool": "nobody"})
    );
    let human = scratch.amtctl(&["status", "--pool", "nobody"]).await;
    assert_eq!(human.status.code(), Some(1));
    assert!(human.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&human.stderr),
        "amtctl: Pool \"nobody\" does not exist\n"
    );

    let added = failed(
        &scratch
            .amtctl(&[
                "--json",
                "workstation",
                "add",
                "ws",
                "--deployment",
                "lab",
                "--host",
                "WS.Example.COM",
            ])
            .await,
    );
    assert_eq!(
        added,
        serde_json::json!({"host": "ws.example.com", "error": "Deployment \"lab\" does not exist",
            "kind": "not_found", "workstation": "ws", "deployment": "lab"})
    );

    let add_lab = ["--json", "deployment", "add", "lab", "--ca", ca];
    assert_eq!(scratch.amtctl(&add_lab).await.status.code(), Some(0));
    let duplicate = failed(&scratch.amtctl(&add_lab).await);
    assert_eq!(duplicate["kind"], "duplicate", "{duplicate}");
    assert_eq!(duplicate["deployment"], "lab", "{duplicate}");
    let add_ws = [
        "workstation",
        "add",
        "ws",
        "--deployment",
        "lab",
        "--host",
        "127.0.0.1",
    ];
    assert_eq!(scratch.amtctl(&add_ws).await.status.code(), Some(0));
    let in_use = failed(
        &scratch
            .amtctl(&["--json", "deployment", "remove", "lab"])
            .await,
    );
    assert_eq!(in_use["kind"], "in_use", "{in_use}");
    assert_eq!(in_use["deployment"], "lab", "{in_use}");

    let member = failed(
        &scratch
            .amtctl(&["--json", "pool", "add-member", "nobody", "ws"])
            .await,
    );
    assert_eq!(
        member,
        serde_json::json!({"host": "127.0.0.1", "error": "Pool \"nobody\" does not exist",
            "kind": "not_found", "pool": "nobody", "workstation": "ws"})
    );

    // An inventory that cannot be opened: here, a directory.
    let mut command = amtctl_command(&["--json", "status"]);
    command.arg("--db").arg(scratch.dir.path());
    let inventory = failed(&run_blocking(command).await);
    assert_eq!(inventory["kind"], "inventory", "{inventory}");
    assert!(
        inventory["error"]
            .as_str()
            .expect("text")
            .starts_with("The inventory could not be read or written: "),
        "{inventory}"
    );
    assert_eq!(
        inventory["database"],
        scratch.dir.path().to_str().expect("utf-8")
    );
}

// The per-user data directory is the XDG one only on Linux.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inventory_defaults_to_the_per_user_data_directory_or_amt_manager_db() {
    let scratch = Scratch::new();
    let home = scratch.path("home");
    let ca = scratch.path("root.pem");
    // Each run has a fresh HOME and no XDG_DATA_HOME unless the step sets one.
    let amtctl = |args: &[&str]| {
        let mut command = amtctl_command(args);
        command.env("HOME", &home).env_remove("XDG_DATA_HOME");
        command
    };
    let add = |name: &str| {
        let mut command = amtctl(&["deployment", "add", name, "--ca"]);
        command.arg(&ca);
        command
    };
    let succeeded = |output: Output| {
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    };
    let names = |output: Output| -> Vec<Value> {
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        json_lines(&output)
            .iter()
            .map(|d| d["deployment"].clone())
            .collect()
    };
    let list_of = |db: &Path| {
        let mut command = amtctl(&["--json", "deployment", "list", "--db"]);
        command.arg(db);
        command
    };

    let data = home.join(".local/share/amt-manager");
    succeeded(run_blocking(add("home-lab")).await);
    assert!(
        data.join("inventory.db").is_file(),
        "no database in {}",
        data.display()
    );
    assert!(
        data.join("inventory.db.key").is_file(),
        "the vault key sits beside the database"
    );
    assert_eq!(
        names(run_blocking(list_of(&data.join("inventory.db"))).await),
        ["home-lab"]
    );

    let xdg = scratch.path("xdg");
    let mut command = add("xdg-lab");
    command.env("XDG_DATA_HOME", &xdg);
    succeeded(run_blocking(command).await);
    assert_eq!(
        names(run_blocking(list_of(&xdg.join("amt-manager/inventory.db"))).await),
        ["xdg-lab"]
    );

    let from_env = scratch.path("elsewhere/amt.db");
    let mut command = add("env-lab");
    command.env("AMT_MANAGER_DB", &from_env);
    succeeded(run_blocking(command).await);
    assert!(from_env.is_file(), "{} was not created", from_env.display());
    let mut command = amtctl(&["--json", "deployment", "list"]);
    command.env("AMT_MANAGER_DB", &from_env);
    assert_eq!(names(run_blocking(command).await), ["env-lab"]);
    assert_eq!(
        names(run_blocking(amtctl(&["--json", "deployment", "list"])).await),
        ["home-lab"],
        "without AMT_MANAGER_DB, the default again"
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
