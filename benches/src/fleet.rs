//! What the `fleet` benchmark binary is made of: simulated devices in `amt-sim` processes of
//! their own, their counters read between phases, and the figures computed from a sweep.
//!
//! The simulator runs as separate processes so that the client's memory and CPU figures are its
//! own. The `amt-sim` binary prints one URL per device, then `ready`; on SIGUSR1 it prints
//! `counters <figures>` for all its devices and goes on serving; on SIGINT it prints each
//! device's counters (`<url> <figures>`) and stops.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use amt_sim::CounterSnapshot;

/// The environment variable the simulator processes read the digest password from.
pub const PASSWORD_ENV: &str = "FLEET_BENCH_AMT_PASSWORD";

/// How long a simulator process may take to start its devices, or to answer a signal.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(300);

/// What went wrong running the simulator processes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The `amt-sim` binary is not where it was looked for.
    #[error(
        "the amt-sim binary is not at {}; build it first with \
         `cargo build --release -p amt-examples --bin amt-sim`, or name it with --sim-bin",
        path.display()
    )]
    SimulatorMissing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A process could not be started or signalled.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A simulator process ended, or said something unexpected.
    #[error("simulator process {process}: {detail}")]
    Simulator {
        /// Which process (0-based).
        process: usize,
        /// What happened.
        detail: String,
    },
    /// The fleet does not fit the loopback range or the devices-per-process limit.
    #[error("invalid fleet: {0}")]
    InvalidFleet(String),
}

/// Where and how the simulated devices run.
#[derive(Debug, Clone)]
pub struct FleetPlan {
    /// The `amt-sim` binary.
    pub simulator: PathBuf,
    /// How many devices in all.
    pub devices: usize,
    /// At most this many devices per process (each holds a listening socket and, while a client
    /// is connected, one more descriptor; this machine allows 20 000 per process).
    pub per_process: usize,
    /// Device `i` listens on `first_address + i`, this port.
    pub first_address: Ipv4Addr,
    /// The port every device listens on.
    pub port: u16,
    /// The simulator CA certificate (PEM file), shared by all processes.
    pub ca_cert: PathBuf,
    /// Its private key (PEM file).
    pub ca_key: PathBuf,
    /// Runtime worker threads per `amt-sim` process.
    pub worker_threads: usize,
    /// Extra arguments for every `amt-sim` process.
    pub extra_args: Vec<String>,
}

impl FleetPlan {
    /// How many `amt-sim` processes serve the fleet.
    pub fn processes(&self) -> usize {
        self.devices.div_ceil(self.per_process.max(1))
    }

    /// The address of device `index`.
    pub fn address(&self, index: usize) -> Result<SocketAddrV4, FleetError> {
        let ip = u32::try_from(index)
            .ok()
            .and_then(|i| u32::from(self.first_address).checked_add(i))
            .map(Ipv4Addr::from)
            .filter(|ip| ip.octets()[0] == 127)
            .ok_or_else(|| {
                FleetError::InvalidFleet(format!(
                    "device {index} from {} leaves the loopback range",
                    self.first_address
                ))
            })?;
        Ok(SocketAddrV4::new(ip, self.port))
    }
}

/// The `amt-sim` binary beside `exe` (the usual place: both are built into the same target
/// directory).
pub fn simulator_beside(exe: &Path) -> PathBuf {
    exe.with_file_name("amt-sim")
}

/// Simulated devices served by `amt-sim` processes. Dropping it kills the processes.
#[derive(Debug)]
pub struct SimFleet {
    children: Vec<Child>,
    lines: Receiver<LineMessage>,
    urls: Vec<String>,
}

/// A line (or, `None`, the end of the output) of one process.
#[derive(Debug)]
struct LineMessage(usize, Option<String>);

impl SimFleet {
    /// Starts the processes of `plan`, the digest password in [`PASSWORD_ENV`], and waits until
    /// every one is ready.
    pub fn start(plan: &FleetPlan, password: &str) -> Result<Self, FleetError> {
        if !plan.simulator.is_file() {
            return Err(FleetError::SimulatorMissing {
                path: plan.simulator.clone(),
            });
        }
        if plan.devices == 0 || plan.per_process == 0 {
            return Err(FleetError::InvalidFleet(
                "devices and devices per process must be at least 1".to_owned(),
            ));
        }
        plan.address(plan.devices - 1)?;
        let (sender, lines) = mpsc::channel();
        let mut fleet = Self {
            children: Vec::new(),
            lines,
            urls: Vec::new(),
        };
        for (process, first) in (0..plan.devices).step_by(plan.per_process).enumerate() {
            let count = plan.per_process.min(plan.devices - first);
            let listen = plan.address(first)?;
            let mut child = Command::new(&plan.simulator)
                .arg("--devices")
                .arg(count.to_string())
                .arg("--listen")
                .arg(listen.to_string())
                .arg("--loopback-addresses")
                .arg("--ca-cert")
                .arg(&plan.ca_cert)
                .arg("--ca-key")
                .arg(&plan.ca_key)
                .arg("--password-env")
                .arg(PASSWORD_ENV)
                .args(&plan.extra_args)
                .env(PASSWORD_ENV, password)
                // tokio's multi-threaded runtime takes its worker count from here.
                .env(
                    "TOKIO_WORKER_THREADS",
                    plan.worker_threads.max(1).to_string(),
                )
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|source| FleetError::Io {
                    context: format!("starting {}", plan.simulator.display()),
                    source,
                })?;
            let stdout = child.stdout.take().ok_or_else(|| FleetError::Simulator {
                process,
                detail: "no standard output".to_owned(),
            })?;
            fleet.children.push(child);
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(text) = line else { break };
                    if sender.send(LineMessage(process, Some(text))).is_err() {
                        return;
                    }
                }
                let _ = sender.send(LineMessage(process, None));
            });
        }
        let mut urls: Vec<Vec<String>> = vec![Vec::new(); fleet.children.len()];
        let mut ready = 0;
        while ready < fleet.children.len() {
            let (process, text) = fleet.next_line()?;
            let urls = urls.get_mut(process).ok_or_else(|| FleetError::Simulator {
                process,
                detail: "unknown process".to_owned(),
            })?;
            if text == "ready" {
                ready += 1;
            } else {
                urls.push(text);
            }
        }
        fleet.urls = urls.into_iter().flatten().collect();
        if fleet.urls.len() != plan.devices {
            return Err(FleetError::InvalidFleet(format!(
                "{} devices announced, {} planned",
                fleet.urls.len(),
                plan.devices
            )));
        }
        Ok(fleet)
    }

    /// The devices' URLs, in order.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// How many processes serve the fleet.
    pub fn processes(&self) -> usize {
        self.children.len()
    }

    /// CPU time (user and system, all threads) the simulator processes have used so far.
    pub fn cpu_time(&self) -> Option<Duration> {
        self.children
            .iter()
            .map(|child| process_cpu_time(&format!("/proc/{}/stat", child.id())))
            .sum()
    }

    fn next_line(&self) -> Result<(usize, String), FleetError> {
        match self.lines.recv_timeout(PROCESS_TIMEOUT) {
            Ok(LineMessage(process, Some(text))) => Ok((process, text)),
            Ok(LineMessage(process, None)) => Err(FleetError::Simulator {
                process,
                detail: "the process ended".to_owned(),
            }),
            Err(RecvTimeoutError::Timeout) => Err(FleetError::Simulator {
                process: 0,
                detail: format!("no answer within {PROCESS_TIMEOUT:?}"),
            }),
            Err(RecvTimeoutError::Disconnected) => Err(FleetError::Simulator {
                process: 0,
                detail: "every process ended".to_owned(),
            }),
        }
    }

    fn signal(&self, name: &str) -> Result<(), FleetError> {
        for child in &self.children {
            let status = Command::new("kill")
                .arg(format!("-{name}"))
                .arg(child.id().to_string())
                .status()
                .map_err(|source| FleetError::Io {
                    context: format!("sending SIG{name} with kill"),
                    source,
                })?;
            if !status.success() {
                return Err(FleetError::Io {
                    context: format!("sending SIG{name} to {}", child.id()),
                    source: std::io::Error::other(status.to_string()),
                });
            }
        }
        Ok(())
    }

    /// The counters of every device so far, summed over the processes (SIGUSR1).
    pub fn counters(&self) -> Result<CounterSnapshot, FleetError> {
        self.signal("USR1")?;
        let mut total = CounterSnapshot::default();
        let mut answered = vec![false; self.children.len()];
        while answered.iter().any(|done| !done) {
            let (process, text) = self.next_line()?;
            let Some(figures) = text.strip_prefix("counters ") else {
                continue;
            };
            let counters = parse_counters(figures).ok_or_else(|| FleetError::Simulator {
                process,
                detail: format!("unreadable counters: {text}"),
            })?;
            total = total.sum(&counters);
            if let Some(done) = answered.get_mut(process) {
                *done = true;
            }
        }
        Ok(total)
    }

    /// Stops the processes (SIGINT) and returns each device's final counters, in device order.
    pub fn stop(mut self) -> Result<Vec<CounterSnapshot>, FleetError> {
        self.signal("INT")?;
        let mut per_url = std::collections::HashMap::new();
        let mut ended = vec![false; self.children.len()];
        while ended.iter().any(|done| !done) {
            match self.lines.recv_timeout(PROCESS_TIMEOUT) {
                Ok(LineMessage(process, None)) => {
                    if let Some(done) = ended.get_mut(process) {
                        *done = true;
                    }
                }
                Ok(LineMessage(process, Some(text))) => {
                    let Some((url, figures)) = text.split_once(' ') else {
                        continue;
                    };
                    if url.starts_with("https://") {
                        let counters =
                            parse_counters(figures).ok_or_else(|| FleetError::Simulator {
                                process,
                                detail: format!("unreadable counters: {text}"),
                            })?;
                        per_url.insert(url.to_owned(), counters);
                    }
                }
                Err(_) => {
                    return Err(FleetError::Simulator {
                        process: 0,
                        detail: "the processes did not stop".to_owned(),
                    });
                }
            }
        }
        for child in &mut self.children {
            let _ = child.wait();
        }
        self.children.clear();
        self.urls
            .iter()
            .map(|url| {
                per_url
                    .remove(url)
                    .ok_or_else(|| FleetError::InvalidFleet(format!("no final counters for {url}")))
            })
            .collect()
    }
}

impl Drop for SimFleet {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads the simulator's counters line (`tcp=1 tls_full=1 ... invokes=2 (8:1 10:1)`), the
/// `Display` of [`CounterSnapshot`]. `None` if a figure is missing or unreadable.
pub fn parse_counters(line: &str) -> Option<CounterSnapshot> {
    let mut counters = CounterSnapshot::default();
    let (figures, by_value) = match line.split_once(" (") {
        Some((figures, rest)) => (figures, Some(rest.strip_suffix(')')?)),
        None => (line, None),
    };
    let mut seen = 0;
    let mut total_invokes = None;
    for pair in figures.split_whitespace() {
        let (name, value) = pair.split_once('=')?;
        let value: u64 = value.parse().ok()?;
        let slot = match name {
            "tcp" => &mut counters.tcp_connections,
            "tls_full" => &mut counters.tls_full_handshakes,
            "tls_resumed" => &mut counters.tls_resumed_handshakes,
            "tls_failed" => &mut counters.tls_failed_handshakes,
            "requests" => &mut counters.requests,
            "401s" => &mut counters.unauthorized,
            "failed_logins" => &mut counters.failed_logins,
            "lockout_refusals" => &mut counters.lockout_refusals,
            "faults" => &mut counters.faults,
            "invokes" => {
                total_invokes = Some(value);
                continue;
            }
            _ => continue,
        };
        *slot = value;
        seen += 1;
    }
    for item in by_value.unwrap_or_default().split_whitespace() {
        let (value, count) = item.split_once(':')?;
        let index = if value == "other" {
            0
        } else {
            value.parse::<usize>().ok().filter(|&v| v > 0)?
        };
        *counters.invokes.get_mut(index)? = count.parse().ok()?;
    }
    (seen == 9 && total_invokes == Some(counters.total_invokes())).then_some(counters)
}

/// The `q`-quantile (0 to 1) of sorted values, nearest rank; `None` for no values.
pub fn quantile(sorted: &[Duration], q: f64) -> Option<Duration> {
    let last = sorted.len().checked_sub(1)?;
    // A rank within the slice, rounded up.
    let rank = ((q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize).saturating_sub(1);
    sorted.get(rank.min(last)).copied()
}

/// CPU time (user and system, all threads) this process has used so far.
pub fn own_cpu_time() -> Option<Duration> {
    process_cpu_time("/proc/self/stat")
}

/// `utime + stime` of a `/proc/<pid>/stat` file. They count clock ticks, which Linux reports
/// to user space at 100 per second on every architecture we run on (`USER_HZ`).
fn process_cpu_time(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    ticks_to_duration(&stat)
}

fn ticks_to_duration(stat: &str) -> Option<Duration> {
    const TICKS_PER_SECOND: u64 = 100;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    // After the name: state is field 3, utime field 14 and stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND))
}

/// This process's peak resident set size (`VmHWM` of `/proc/self/status`), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, "VmHWM:").map(|kib| kib * 1024)
}

/// This process's resident set size now (`VmRSS`), in bytes.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    kib_field(&status, "VmRSS:").map(|kib| kib * 1024)
}

fn kib_field(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulator_counters_line_reads_back() {
        let mut snapshot = CounterSnapshot {
            tcp_connections: 3,
            tls_full_handshakes: 2,
            tls_resumed_handshakes: 1,
            tls_failed_handshakes: 4,
            requests: 5,
            unauthorized: 6,
            failed_logins: 7,
            lockout_refusals: 8,
            faults: 9,
            ..CounterSnapshot::default()
        };
        assert_eq!(parse_counters(&snapshot.to_string()), Some(snapshot));
        snapshot.invokes[10] = 1000;
        snapshot.invokes[8] = 2;
        snapshot.invokes[0] = 1;
        assert_eq!(parse_counters(&snapshot.to_string()), Some(snapshot));
    }

    #[test]
    fn a_line_with_a_missing_or_inconsistent_figure_is_refused() {
        let line = CounterSnapshot::default().to_string();
        assert!(parse_counters(&line.replace("requests=0 ", "")).is_none());
        assert!(parse_counters(&line.replace("requests=0", "requests=x")).is_none());
        assert!(parse_counters(&line.replace("invokes=0", "invokes=3")).is_none());
        assert!(parse_counters(&format!("{line} (10:x)")).is_none());
    }

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&values, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(quantile(&values, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(quantile(&values, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(quantile(&values, 0.0), Some(Duration::from_millis(1)));
        assert_eq!(quantile(&values[..1], 0.99), Some(Duration::from_millis(1)));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn proc_status_sizes_are_read_in_bytes() {
        let status = "Name:\tfleet\nVmHWM:\t  123456 kB\nVmRSS:\t   1000 kB\n";
        assert_eq!(kib_field(status, "VmHWM:"), Some(123_456));
        assert_eq!(kib_field(status, "VmRSS:"), Some(1000));
        assert_eq!(kib_field(status, "VmSwap:"), None);
        assert!(peak_rss_bytes().is_some_and(|peak| peak > 0));
    }

    #[test]
    fn cpu_time_is_utime_plus_stime() {
        let stat = "1234 (tokio rt) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 3 0";
        assert_eq!(ticks_to_duration(stat), Some(Duration::from_secs(3)));
        assert_eq!(ticks_to_duration("1234 (x) S 1"), None);
        assert!(own_cpu_time().is_some());
    }

    #[test]
    fn devices_get_consecutive_loopback_addresses_within_127_0_0_0_8() {
        let plan = FleetPlan {
            simulator: PathBuf::from("/nonexistent/amt-sim"),
            devices: 10_000,
            per_process: 5_000,
            first_address: Ipv4Addr::new(127, 0, 0, 2),
            port: 26993,
            ca_cert: PathBuf::new(),
            ca_key: PathBuf::new(),
            worker_threads: 1,
            extra_args: Vec::new(),
        };
        assert_eq!(plan.processes(), 2);
        assert_eq!(
            plan.address(9_999).unwrap(),
            "127.0.39.17:26993".parse().unwrap()
        );
        assert!(plan.address(1 << 24).is_err());
        assert!(matches!(
            SimFleet::start(&plan, "x").unwrap_err(),
            FleetError::SimulatorMissing { .. }
        ));
        assert_eq!(
            simulator_beside(Path::new("/t/release/fleet")),
            Path::new("/t/release/amt-sim")
        );
    }
}
