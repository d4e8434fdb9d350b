//! The `amt-sim` binary as a process: SIGUSR1 prints the counters so far and serving goes on;
//! SIGTERM prints each device's counters and the total, and ends it.

use std::io::{BufRead, BufReader, Lines, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};

/// An `amt-sim` process; killed on drop if a test failed before it ended.
struct SimProcess {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl SimProcess {
    fn start(devices: usize) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_amt-sim"))
            .args(["--listen", "127.0.0.1:0", "--devices", &devices.to_string()])
            .env("AMT_PASSWORD", "P@ssw0rd-signals1")
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

    fn line(&mut self) -> String {
        self.lines
            .next()
            .expect("another line")
            .expect("readable stdout")
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `https://127.0.0.1:<port>/wsman` → `127.0.0.1:<port>`.
fn address(url: &str) -> String {
    url.trim_start_matches("https://")
        .trim_end_matches("/wsman")
        .to_owned()
}

/// Sends plain HTTP to a device and reads until it closes the connection.
fn plain_http(url: &str) {
    let mut tcp = TcpStream::connect(address(url)).expect("the device accepts");
    tcp.write_all(b"GET /wsman HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut reply = Vec::new();
    // A reset instead of a clean close is as good: the device is done with it either way.
    let _ = tcp.read_to_end(&mut reply);
}

#[test]
fn sigusr1_prints_the_counters_so_far_and_sigterm_the_final_ones() {
    let mut sim = SimProcess::start(2);
    let first = sim.line();
    let second = sim.line();
    assert!(first.starts_with("https://127.0.0.1:"), "{first}");
    assert!(second.starts_with("https://127.0.0.1:"), "{second}");
    assert_eq!(sim.line(), "ready");

    sim.signal("USR1");
    let before = sim.line();
    assert!(before.starts_with("counters tcp=0 "), "{before}");
    assert!(before.contains(" requests=0 "), "{before}");

    // Plain HTTP on the TLS port: the device counts the connection and the failed handshake,
    // and closes it (so both are counted once the read ends), and goes on serving.
    plain_http(&first);
    sim.signal("USR1");
    let after = sim.line();
    assert!(after.starts_with("counters tcp=1 "), "{after}");
    assert!(after.contains(" tls_failed=1 "), "{after}");
    plain_http(&second);

    sim.signal("TERM");
    let per_device = [sim.line(), sim.line()];
    assert!(per_device[0].starts_with(&first), "{}", per_device[0]);
    assert!(per_device[1].starts_with(&second), "{}", per_device[1]);
    let total = sim.line();
    assert!(total.starts_with("total tcp=2 "), "{total}");
    assert!(total.contains(" tls_failed=2 "), "{total}");
    let status = sim.child.wait().expect("amt-sim ends");
    assert!(status.success(), "{status}");
}
