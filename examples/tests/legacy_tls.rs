//! Legacy TLS end to end (feature `legacy-tls`): the `amt-sim` binary's `--legacy-tls`
//! listeners, reached by `amtctl` through its direct-mode `--legacy-tls` and the inventory's
//! legacy TLS switch, and refused without them.
#![cfg(feature = "legacy-tls")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const PASSWORD: &str = "P@ssw0rd-legacy1";
const LEGACY_TLS_REQUIRED: &str =
    "TLS handshake failed: the workstation may need legacy TLS (Intel AMT 12 or lower)";

/// An `amt-sim` process serving one legacy device; killed on drop.
struct SimProcess {
    child: Child,
    port: String,
}

impl SimProcess {
    /// Starts `amt-sim --legacy-tls <firmware>` on a free port and waits for `ready`.
    fn start(firmware: &str, ca_out: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_amt-sim"))
            .args(["--listen", "127.0.0.1:0", "--legacy-tls", firmware])
            .arg("--ca-out")
            .arg(ca_out)
            .env("AMT_PASSWORD", PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("amt-sim starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = lines.next().expect("a URL line").expect("readable stdout");
        assert_eq!(
            lines.next().expect("ready").expect("readable stdout"),
            "ready"
        );
        // https://127.0.0.1:<port>/wsman
        let port = url
            .trim_start_matches("https://127.0.0.1:")
            .trim_end_matches("/wsman")
            .to_owned();
        assert!(port.parse::<u16>().is_ok(), "{url}");
        Self { child, port }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn amtctl(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_amtctl"))
            .args(args)
            .arg("--db")
            .arg(self.path("inventory.db"))
            .env("AMT_PASSWORD", PASSWORD)
            .env_remove("AMT_MANAGER_DB")
            .env_remove("AMT_MANAGER_KEY_FILE")
            .output()
            .expect("amtctl runs")
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn only_json(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let line = lines
        .next()
        .unwrap_or_else(|| panic!("no output: {}", text(output)));
    assert!(lines.next().is_none(), "one object: {stdout}");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"))
}

fn assert_ok(output: &Output) {
    assert_eq!(output.status.code(), Some(0), "{}", text(output));
}

#[test]
fn amtctl_direct_mode_reaches_amt_sim_legacy_devices_only_with_legacy_tls() {
    let scratch = Scratch::new();
    for (firmware, version) in [("amt11", "11.8.55"), ("amt12", "12.0.45")] {
        let ca = scratch.path(&format!("{firmware}-root.pem"));
        let sim = SimProcess::start(firmware, &ca);
        let ca = ca.to_str().expect("utf-8 path");
        let direct = [
            "--host",
            "127.0.0.1",
            "--port",
            &sim.port,
            "--ca",
            ca,
            "--json",
        ];

        let refused = scratch.amtctl(&[&direct[..], &["status"]].concat());
        assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
        let failure = only_json(&refused);
        assert_eq!(failure["kind"], "legacy_tls_required", "{failure}");
        assert_eq!(failure["error"], LEGACY_TLS_REQUIRED);

        let status = scratch.amtctl(&[&direct[..], &["--legacy-tls", "status"]].concat());
        assert_ok(&status);
        let status = only_json(&status);
        assert_eq!(status["amt_version"], version, "{status}");
        assert_eq!(status["power_state"], "on", "{status}");

        let reset =
            scratch.amtctl(&[&direct[..], &["--legacy-tls", "--no-confirm", "reset"]].concat());
        assert_ok(&reset);
        assert_eq!(only_json(&reset)["accepted"], true, "{}", text(&reset));
    }
}

#[test]
fn the_inventory_switch_reaches_an_amt_sim_amt11_device() {
    let scratch = Scratch::new();
    let ca = scratch.path("root.pem");
    let sim = SimProcess::start("amt11", &ca);
    let ca = ca.to_str().expect("utf-8 path");

    assert_ok(&scratch.amtctl(&["deployment", "add", "lab", "--ca", ca]));
    assert_ok(&scratch.amtctl(&[
        "workstation",
        "add",
        "old-ws",
        "--deployment",
        "lab",
        "--host",
        "127.0.0.1",
        "--port",
        &sim.port,
    ]));
    // Switch off: the credentials cannot even be checked, and the error suggests the switch.
    let refused = scratch.amtctl(&["--json", "workstation", "set-credentials", "old-ws"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains(LEGACY_TLS_REQUIRED),
        "{}",
        text(&refused)
    );

    assert_ok(&scratch.amtctl(&["workstation", "set-allow-legacy-tls", "old-ws", "on"]));
    assert_ok(&scratch.amtctl(&["workstation", "set-credentials", "old-ws"]));
    assert_ok(&scratch.amtctl(&["workstation", "set-managed", "old-ws", "on"]));
    let run = scratch.amtctl(&[
        "--json",
        "--no-confirm",
        "run",
        "reset",
        "--workstation",
        "old-ws",
    ]);
    assert_ok(&run);
    assert_eq!(only_json(&run)["accepted"], true, "{}", text(&run));

    // Switch off again: refused, with the hint.
    assert_ok(&scratch.amtctl(&["workstation", "set-allow-legacy-tls", "old-ws", "off"]));
    let status = scratch.amtctl(&["--json", "status", "--workstation", "old-ws"]);
    assert_eq!(status.status.code(), Some(1), "{}", text(&status));
    assert!(
        text(&status).contains("legacy_tls_required"),
        "{}",
        text(&status)
    );
}

#[test]
fn a_workstation_added_with_allow_legacy_tls_is_reached_over_legacy_tls_at_once() {
    let scratch = Scratch::new();
    let ca = scratch.path("root.pem");
    let sim = SimProcess::start("amt12", &ca);
    let ca = ca.to_str().expect("utf-8 path");

    assert_ok(&scratch.amtctl(&["deployment", "add", "lab", "--ca", ca]));
    let added = scratch.amtctl(&[
        "--json",
        "workstation",
        "add",
        "old-ws",
        "--deployment",
        "lab",
        "--host",
        "127.0.0.1",
        "--port",
        &sim.port,
        "--allow-legacy-tls",
    ]);
    assert_ok(&added);
    assert_eq!(
        only_json(&added)["allow_legacy_tls"],
        true,
        "{}",
        text(&added)
    );
    let list = scratch.amtctl(&["--json", "workstation", "list"]);
    assert_ok(&list);
    assert_eq!(
        only_json(&list)["allow_legacy_tls"],
        true,
        "{}",
        text(&list)
    );

    // Without the switch these credentials could not even be checked (see above).
    assert_ok(&scratch.amtctl(&["workstation", "set-credentials", "old-ws"]));
    let status = scratch.amtctl(&["--json", "status", "--workstation", "old-ws"]);
    assert_ok(&status);
    let status = only_json(&status);
    assert_eq!(status["workstation"], "old-ws", "{status}");
    assert_eq!(status["amt_version"], "12.0.45", "{status}");
}
