//! The `amt-sim` binary as a process: what it refuses, what `--help` says, where it listens,
//! how SIGINT stops it, and the README's first steps (write the CA, then query the power state
//! with a generic client trusting it).

use std::io::{BufRead, BufReader, Lines};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use amt_wsman::{Limits, MessageId, client};

const PASSWORD: &str = "P@ssw0rd-cli1";

/// Longest a process is given to end on its own before the test gives up on it.
const PATIENCE: Duration = Duration::from_secs(60);

fn amt_sim() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_amt-sim"));
    command.env("AMT_PASSWORD", PASSWORD);
    command
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ is inside the repository")
        .to_owned()
}

/// Runs `command` to its end (killing it if it outlives [`PATIENCE`]) and collects its output.
fn run_to_end(command: &mut Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the program starts");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > PATIENCE {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "still running after {PATIENCE:?}; stdout: {}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// A running `amt-sim`; killed on drop if a test failed before it ended.
struct SimProcess {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl SimProcess {
    fn spawn(args: &[&str]) -> Self {
        let mut child = amt_sim()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("amt-sim starts");
        let stdout = child.stdout.take().expect("stdout");
        Self {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// The next line, or `None` once the process has closed its output.
    fn line(&mut self) -> Option<String> {
        self.lines.next().map(|line| line.expect("readable stdout"))
    }

    /// The lines up to `ready` (the device URLs); `None` when the process ended first.
    fn urls(&mut self) -> Option<Vec<String>> {
        let mut urls = Vec::new();
        loop {
            match self.line()? {
                line if line == "ready" => return Some(urls),
                line => urls.push(line),
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to end on its own.
    fn wait(&mut self) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(started.elapsed() < PATIENCE, "amt-sim did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port with `count` free ports from it on, as far as binding them now shows (another
/// process may still take one before amt-sim does: callers retry).
fn free_ports(count: u16) -> u16 {
    loop {
        let first = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("address")
            .port();
        let Some(last) = first.checked_add(count - 1) else {
            continue;
        };
        if (first..=last).all(|port| TcpListener::bind(("127.0.0.1", port)).is_ok()) {
            return first;
        }
    }
}

/// Starts amt-sim on `count` free consecutive ports with the extra `args`; returns the process,
/// its first port and the URL lines.
fn start_on_free_ports(count: u16, args: &[&str]) -> (SimProcess, u16, Vec<String>) {
    for _ in 0..20 {
        let port = free_ports(count);
        let listen = format!("127.0.0.1:{port}");
        let devices = count.to_string();
        let mut all = vec!["--listen", &listen, "--devices", &devices];
        all.extend_from_slice(args);
        let mut sim = SimProcess::spawn(&all);
        if let Some(urls) = sim.urls() {
            return (sim, port, urls);
        }
        // It ended before `ready`: most likely a port was taken in between. Try others.
    }
    panic!("amt-sim never started on free ports");
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn refuses_to_start_without_a_password_or_with_an_empty_one() {
    let unset = run_to_end(
        amt_sim()
            .env_remove("AMT_PASSWORD")
            .args(["--listen", "127.0.0.1:0"]),
    );
    assert!(!unset.status.success());
    assert!(
        stderr(&unset).contains("AMT_PASSWORD"),
        "{}",
        stderr(&unset)
    );
    assert!(unset.stdout.is_empty(), "it printed before refusing");

    let empty = run_to_end(
        amt_sim()
            .env("AMT_PASSWORD", "")
            .args(["--listen", "127.0.0.1:0"]),
    );
    assert!(!empty.status.success());
    assert!(stderr(&empty).contains("empty"), "{}", stderr(&empty));
    assert!(empty.stdout.is_empty());

    // --password-env names the variable; AMT_PASSWORD is then not read.
    let other = run_to_end(amt_sim().env_remove("SIM_CLI_PASSWORD").args([
        "--listen",
        "127.0.0.1:0",
        "--password-env",
        "SIM_CLI_PASSWORD",
    ]));
    assert!(!other.status.success());
    assert!(
        stderr(&other).contains("SIM_CLI_PASSWORD"),
        "{}",
        stderr(&other)
    );
}

#[test]
fn refuses_several_names_for_a_cn_only_certificate() {
    let output = run_to_end(amt_sim().args([
        "--listen",
        "127.0.0.1:0",
        "--cn-only",
        "--cert-name",
        "a.example",
        "--cert-name",
        "b.example",
    ]));
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("--cn-only") && message.contains("2 --cert-name"),
        "{message}"
    );
    assert!(output.stdout.is_empty());
}

/// Every flag the program has; scripts and tests depend on these names.
const FLAGS: [&str; 31] = [
    "--listen",
    "--devices",
    "--loopback-addresses",
    "--user",
    "--password-env",
    "--amt-version",
    "--power-state",
    "--lms",
    "--no-lms",
    "--cert-name",
    "--cn-only",
    "--expired-cert",
    "--not-yet-valid-cert",
    "--foreign-ca",
    "--ca-out",
    "--ca-key-out",
    "--ca-cert",
    "--ca-key",
    "--tls",
    "--legacy-tls",
    "--require-client-cert",
    "--kvm-session",
    "--graceful-noop",
    "--transition-ms",
    "--latency-ms",
    "--fault",
    "--fault-on",
    "--fault-times",
    "--close-after",
    "--help",
    "--version",
];

/// The help entry of `flag`: its line and the indented lines after it, up to the next flag.
fn help_entry<'a>(help: &'a str, flag: &str) -> Option<Vec<&'a str>> {
    let lines: Vec<&str> = help.lines().collect();
    let is_flag_line = |line: &str| line.trim_start().starts_with('-');
    let start = lines.iter().position(|line| {
        is_flag_line(line)
            && line
                .split([' ', ',', '='])
                .any(|word| word == flag || word.starts_with(&format!("{flag}=")))
    })?;
    let end = lines[start + 1..]
        .iter()
        .position(|line| is_flag_line(line))
        .map_or(lines.len(), |n| start + 1 + n);
    Some(lines[start..end].to_vec())
}

#[test]
fn help_documents_every_flag() {
    let output = run_to_end(amt_sim().arg("--help"));
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).expect("UTF-8 help");
    for flag in FLAGS {
        let entry = help_entry(&help, flag).unwrap_or_else(|| panic!("{flag} is not in --help"));
        let words: usize = entry
            .iter()
            .map(|line| {
                line.split_whitespace()
                    .filter(|w| !w.starts_with('-'))
                    .count()
            })
            .sum();
        assert!(words >= 2, "{flag} is not documented: {entry:?}");
    }
    // Every amt-sim flag the README's simulator section names is one of them.
    let readme = std::fs::read_to_string(repository().join("README.md")).expect("README");
    let section = readme
        .split("## Without hardware: the simulator")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the README has a simulator section");
    let about_amt_sim = section
        .split("\n\n")
        .filter(|paragraph| paragraph.contains("amt-sim --") || paragraph.contains("amt-sim` ("));
    let mut named = 0;
    for paragraph in about_amt_sim {
        for word in paragraph.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            if word.starts_with("--") && word.len() > 2 && word != "--bin" {
                assert!(
                    FLAGS.contains(&word),
                    "the README names {word}, which amt-sim does not have"
                );
                named += 1;
            }
        }
    }
    assert!(
        named >= 5,
        "only {named} flags found in the README's simulator section"
    );
}

#[test]
fn sigint_stops_it_cleanly() {
    let mut sim = SimProcess::spawn(&["--listen", "127.0.0.1:0"]);
    let urls = sim.urls().expect("amt-sim started");
    assert_eq!(urls.len(), 1);
    sim.signal("INT");
    let counters = sim.line().expect("the counters on the way out");
    assert!(counters.starts_with(&urls[0]), "{counters}");
    assert!(counters.contains(" requests=0"), "{counters}");
    assert_eq!(sim.line(), None, "nothing after the counters of one device");
    let status = sim.wait();
    assert!(status.success(), "{status}");
}

#[test]
fn devices_listen_on_consecutive_ports() {
    let (mut sim, port, urls) = start_on_free_ports(3, &[]);
    let expected: Vec<String> = (port..port + 3)
        .map(|p| format!("https://127.0.0.1:{p}/wsman"))
        .collect();
    assert_eq!(urls, expected);
    sim.signal("TERM");
    assert!(sim.wait().success());
}

/// curl, when installed: the generic WS-Management client of the README.
struct Curl;

/// What curl got.
struct CurlReply {
    http_code: u16,
    body: Vec<u8>,
    stderr: String,
}

impl Curl {
    fn find() -> Option<Self> {
        let found = Command::new("curl")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !found {
            eprintln!("skipping the curl steps: curl is not installed");
        }
        found.then_some(Self)
    }

    /// The README's curl command: the power-state body, digest, trusting `ca`.
    fn power_state(&self, ca: &Path, url: &str) -> CurlReply {
        let body = repository().join("examples/wsman/get-power-state.xml");
        let output = run_to_end(
            Command::new("curl")
                .args(["--silent", "--show-error", "--max-time", "30"])
                .arg("--cacert")
                .arg(ca)
                .args(["--digest", "-u", &format!("admin:{PASSWORD}")])
                .args(["-H", "Content-Type: application/soap+xml;charset=UTF-8"])
                .arg("--data-binary")
                .arg(format!("@{}", body.display()))
                .args(["--write-out", "\n%{http_code}"])
                .arg(url),
        );
        let stdout = output.stdout;
        let split = stdout.iter().rposition(|&b| b == b'\n').unwrap_or_default();
        let http_code = String::from_utf8_lossy(&stdout[split..])
            .trim()
            .parse()
            .unwrap_or_default();
        CurlReply {
            http_code,
            body: stdout[..split].to_vec(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// The README: start a device writing its CA, then query its power state with curl (digest,
/// the SOAP body in examples/wsman/) and with amtctl, both trusting the written CA.
#[test]
fn the_readme_first_steps_work() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = dir.path().join("amt-sim-ca.pem");
    let ca_arg = ca.to_str().expect("UTF-8 path").to_owned();
    let (mut sim, port, urls) = start_on_free_ports(1, &["--ca-out", &ca_arg]);
    assert_eq!(urls, [format!("https://127.0.0.1:{port}/wsman")]);
    let pem = std::fs::read_to_string(&ca).expect("the CA was written before listening");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));

    if let Some(curl) = Curl::find() {
        let reply = curl.power_state(&ca, &format!("https://localhost:{port}/wsman"));
        assert_eq!(reply.http_code, 200, "{}", reply.stderr);
        let request_id = MessageId::new("uuid:1234").expect("the body's MessageID");
        let status = client::parse_power_state(&reply.body, &request_id, Limits::default())
            .expect("a power-state reply to the README's body");
        assert_eq!(status.power_state, 2);
    }

    let port_arg = port.to_string();
    let db = dir.path().join("inventory.db");
    let amtctl = run_to_end(
        Command::new(env!("CARGO_BIN_EXE_amtctl"))
            .args(["--host", "127.0.0.1", "--port", &port_arg, "--ca", &ca_arg])
            .arg("--db")
            .arg(&db)
            .args(["--json", "status"])
            .env("AMT_PASSWORD", PASSWORD)
            .env_remove("AMT_MANAGER_DB")
            .env_remove("AMT_MANAGER_KEY_FILE"),
    );
    assert!(amtctl.status.success(), "{}", stderr(&amtctl));
    let status: serde_json::Value =
        serde_json::from_slice(&amtctl.stdout).expect("one JSON object");
    assert_eq!(status["power_state_code"], 2);

    sim.signal("TERM");
    assert!(sim.wait().success());
}

#[test]
fn latency_does_not_hide_another_fault() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = dir.path().join("ca.pem");
    let ca_arg = ca.to_str().expect("UTF-8 path").to_owned();
    let (mut sim, port, _) = start_on_free_ports(
        1,
        &[
            "--ca-out",
            &ca_arg,
            "--latency-ms",
            "1",
            "--fault",
            "http500",
        ],
    );
    let Some(curl) = Curl::find() else { return };
    let reply = curl.power_state(&ca, &format!("https://127.0.0.1:{port}/wsman"));
    assert_eq!(reply.http_code, 500, "{}", reply.stderr);
    sim.signal("TERM");
    assert!(sim.wait().success());
}
