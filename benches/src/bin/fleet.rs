//! `fleet`: the fleet benchmark. N simulated devices in `amt-sim` processes of their own, swept
//! through amt-manager's bulk path.
//!
//! ```text
//! cargo build --release -p amt-examples --bin amt-sim
//! cargo run --release -p amt-benches --bin fleet -- --devices 10000 --concurrency 64
//! cargo run --release -p amt-benches --bin fleet -- --devices 1000 --power-op reset
//! ```
//!
//! Status mode (the default): registers the devices in a manager without contacting them, then
//! reads their power status with `Manager::status_bulk`, twice. The **cold** sweep is the first
//! contact: no TLS session, digest nonce or connection is cached, so each device costs a full
//! TLS handshake, a 401 (which closes the connection), a reconnection that resumes TLS, and the
//! authenticated request. The **warm** sweep follows at once with what the cold one left: TLS
//! sessions and digest nonces cached, connections kept open for at most
//! `--max-idle-connections` devices (the others reconnect, resuming TLS). For each sweep it
//! prints devices per second, requests per device, TLS handshakes (full and resumed) and 401s
//! from the simulators' counters, p50 and p99 per-device latency (`BulkResult::elapsed`: the
//! device's own time, not its wait for a slot), and the client's peak RSS.
//!
//! Power-operation mode (`--power-op OP`): runs `Manager::run_bulk(OP)` over the devices
//! (confirmation off unless `--confirm`) and checks with the simulators' final counters that
//! every device received exactly one invoke; exits with status 1 if not.
#![expect(clippy::print_stdout, reason = "a benchmark binary reports on stdout")]

use std::error::Error;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use amt_benches::fleet::{
    FleetPlan, SimFleet, own_cpu_time, peak_rss_bytes, quantile, rss_bytes, simulator_beside,
};
use amt_manager::store::StoredCredentials;
use amt_manager::vault::{Vault, VaultKey};
use amt_manager::{BulkResult, Manager, ManagerOptions, MemoryStore, Store, Targets};
use amt_power::PowerOperation;
use amt_sim::{CounterSnapshot, SimCa};
use clap::Parser;
use secrecy::SecretString;

const PASSWORD: &str = "P@ssw0rd-Fleet1";
const DEPLOYMENT: &str = "fleet";

/// The fleet benchmark: sweep the power status of N simulated devices (run by amt-sim processes)
/// through amt-manager's bulk path, cold then warm, or run one bulk power operation over them.
#[derive(Debug, Parser)]
#[command(name = "fleet")]
struct Args {
    /// How many simulated devices.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    devices: usize,

    /// How many devices the manager works on at once.
    #[arg(long, default_value_t = 64, value_name = "C")]
    concurrency: usize,

    /// At most this many devices per amt-sim process (each process may open 20 000 files).
    #[arg(long, default_value_t = 5000, value_name = "N")]
    per_process: usize,

    /// The amt-sim binary. Default: the one beside this binary (same target directory).
    #[arg(long, value_name = "PATH")]
    sim_bin: Option<PathBuf>,

    /// Device i listens on this address + i (loopback only).
    #[arg(long, default_value = "127.0.0.2", value_name = "IPV4")]
    first_address: Ipv4Addr,

    /// The port every device listens on.
    #[arg(long, default_value_t = 26993)]
    port: u16,

    /// The manager's max_idle_connections (how many devices keep a connection open between
    /// calls). Default: the manager's.
    #[arg(long, value_name = "N")]
    max_idle_connections: Option<usize>,

    /// The manager's tls_session_cache_hosts. Default: the manager's.
    #[arg(long, value_name = "N")]
    tls_session_cache_hosts: Option<usize>,

    /// Runtime worker threads per amt-sim process. Default: the machine's cores shared out
    /// between the processes (at least one each), so that the simulators together run no more
    /// threads than there are cores.
    #[arg(long, value_name = "N")]
    sim_threads: Option<usize>,

    /// An extra argument for every amt-sim process (repeatable), e.g. `--sim-arg=--tls
    /// --sim-arg=tls12` for devices that speak TLS 1.2 only, as Intel AMT 13 to 18 do.
    #[arg(long = "sim-arg", value_name = "ARG", allow_hyphen_values = true)]
    sim_args: Vec<String>,

    /// Run this power operation over the devices instead of the status sweeps (reset,
    /// power-off, ...).
    #[arg(long, value_name = "OP")]
    power_op: Option<PowerOperation>,

    /// With --power-op: confirm each change by re-reading the state (the manager's default);
    /// off by default so that the run measures the operation itself.
    #[arg(long, requires = "power_op")]
    confirm: bool,
}

/// One sweep's figures.
struct Sweep {
    label: &'static str,
    devices: usize,
    wall: Duration,
    failed: usize,
    counters: CounterSnapshot,
    latencies: Vec<Duration>,
    peak_rss: Option<u64>,
    rss: Option<u64>,
    /// CPU time the client used during the sweep.
    client_cpu: Option<Duration>,
    /// CPU time the simulator processes used during the sweep.
    sim_cpu: Option<Duration>,
}

impl Sweep {
    fn per_second(&self) -> f64 {
        self.devices as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    fn requests_per_device(&self) -> f64 {
        self.counters.requests as f64 / self.devices.max(1) as f64
    }

    fn print_header() {
        println!(
            "{:<6} {:>10} {:>9} {:>8} {:>9} {:>12} {:>6} {:>9} {:>9} {:>7} {:>9} {:>9} {:>11} {:>11}",
            "sweep",
            "devices/s",
            "wall s",
            "req/dev",
            "tls full",
            "tls resumed",
            "401s",
            "p50 ms",
            "p99 ms",
            "failed",
            "peak MB",
            "rss MB",
            "client cpu",
            "sim cpu",
        );
    }

    fn print(&self) {
        let ms = |q| quantile(&self.latencies, q).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
        println!(
            "{:<6} {:>10.0} {:>9.2} {:>8.2} {:>9} {:>12} {:>6} {:>9.2} {:>9.2} {:>7} {:>9} {:>9} {:>11} {:>11}",
            self.label,
            self.per_second(),
            self.wall.as_secs_f64(),
            self.requests_per_device(),
            self.counters.tls_full_handshakes,
            self.counters.tls_resumed_handshakes,
            self.counters.unauthorized,
            ms(0.5),
            ms(0.99),
            self.failed,
            megabytes(self.peak_rss),
            megabytes(self.rss),
            self.per_device(self.client_cpu),
            self.per_device(self.sim_cpu),
        );
    }

    /// A CPU time per device, in microseconds.
    fn per_device(&self, cpu: Option<Duration>) -> String {
        cpu.map_or_else(
            || "?".to_owned(),
            |cpu| {
                format!(
                    "{:.0} us",
                    cpu.as_secs_f64() * 1e6 / self.devices.max(1) as f64
                )
            },
        )
    }
}

fn megabytes(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "?".to_owned(), |b| format!("{:.1}", b as f64 / 1e6))
}

/// The counters from `before` to `after`.
fn delta(after: &CounterSnapshot, before: &CounterSnapshot) -> CounterSnapshot {
    let mut invokes = after.invokes;
    for (a, b) in invokes.iter_mut().zip(before.invokes) {
        *a = a.saturating_sub(b);
    }
    CounterSnapshot {
        tcp_connections: after.tcp_connections - before.tcp_connections,
        tls_full_handshakes: after.tls_full_handshakes - before.tls_full_handshakes,
        tls_resumed_handshakes: after.tls_resumed_handshakes - before.tls_resumed_handshakes,
        tls_failed_handshakes: after.tls_failed_handshakes - before.tls_failed_handshakes,
        requests: after.requests - before.requests,
        unauthorized: after.unauthorized - before.unauthorized,
        failed_logins: after.failed_logins - before.failed_logins,
        lockout_refusals: after.lockout_refusals - before.lockout_refusals,
        faults: after.faults - before.faults,
        invokes,
    }
}

/// Latencies (sorted) and failures of a bulk run; prints the first few failures.
fn summarise<T>(label: &str, results: &[BulkResult<T>]) -> (Vec<Duration>, usize) {
    let mut latencies: Vec<Duration> = results.iter().map(|r| r.elapsed).collect();
    latencies.sort_unstable();
    let failures: Vec<&BulkResult<T>> = results.iter().filter(|r| r.result.is_err()).collect();
    for failure in failures.iter().take(3) {
        if let Err(error) = &failure.result {
            eprintln!(
                "{label}: {} ({}): {} [{}]",
                failure.name,
                failure.host,
                error,
                error.kind()
            );
        }
    }
    (latencies, failures.len())
}

/// Registers the devices: a deployment with the simulator CA, one workstation per device, and
/// its credentials sealed by the vault straight into the store, without contacting the device
/// (`Manager::set_credentials` would validate them over the network and leave sessions behind,
/// so the sweep that follows would not be a first contact).
fn register(
    manager: &Manager,
    store: &Arc<dyn Store>,
    key: &VaultKey,
    ca: &SimCa,
    plan: &FleetPlan,
    managed: bool,
) -> Result<Vec<String>, Box<dyn Error>> {
    manager.add_deployment(DEPLOYMENT, ca.cert_pem())?;
    let vault = Vault::new(key.clone());
    let password = SecretString::from(PASSWORD);
    let mut names = Vec::with_capacity(plan.devices);
    for index in 0..plan.devices {
        let address = plan.address(index)?;
        let name = format!("ws-{index:05}");
        let workstation = manager.add_workstation(
            DEPLOYMENT,
            &name,
            &address.ip().to_string(),
            Some(address.port()),
            false,
        )?;
        store.set_credentials(
            workstation.id,
            &StoredCredentials {
                username: "admin".to_owned(),
                sealed: vault.seal(workstation.id, &password)?,
            },
        )?;
        if managed {
            manager.set_managed(&name, true)?;
        }
        names.push(name);
    }
    Ok(names)
}

async fn sweep(
    label: &'static str,
    manager: &Manager,
    sims: &SimFleet,
    targets: &Targets,
) -> Result<Sweep, Box<dyn Error>> {
    let before = sims.counters()?;
    let cpu_before = (own_cpu_time(), sims.cpu_time());
    let started = Instant::now();
    let results = manager.status_bulk(targets, |_| {}).await?;
    let wall = started.elapsed();
    let cpu_after = (own_cpu_time(), sims.cpu_time());
    let after = sims.counters()?;
    let spent = |after: Option<Duration>, before: Option<Duration>| {
        after.zip(before).map(|(a, b)| a.saturating_sub(b))
    };
    let (latencies, failed) = summarise(label, &results);
    Ok(Sweep {
        label,
        devices: results.len(),
        wall,
        failed,
        counters: delta(&after, &before),
        latencies,
        peak_rss: peak_rss_bytes(),
        rss: rss_bytes(),
        client_cpu: spent(cpu_after.0, cpu_before.0),
        sim_cpu: spent(cpu_after.1, cpu_before.1),
    })
}

/// Prints whether the issue's floor is met; returns nothing (a benchmark measures, it does not
/// fail on time).
fn print_floor(cold: &Sweep, warm: &Sweep) {
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    let note = if warm.devices == 10_000 {
        String::new()
    } else {
        format!(
            " (the floor is set for 10 000 devices; this run has {})",
            warm.devices
        )
    };
    println!("floor{note}:");
    println!(
        "  warm sweep >= 2000 devices/s: {} ({:.0})",
        verdict(warm.per_second() >= 2000.0),
        warm.per_second()
    );
    println!(
        "  warm sweep exactly 1.00 requests per device and no 401: {} ({} requests, {} 401s)",
        verdict(warm.counters.requests == warm.devices as u64 && warm.counters.unauthorized == 0),
        warm.counters.requests,
        warm.counters.unauthorized
    );
    println!(
        "  cold sweep >= 500 devices/s: {} ({:.0})",
        verdict(cold.per_second() >= 500.0),
        cold.per_second()
    );
    let peak = warm.peak_rss.unwrap_or(u64::MAX);
    println!(
        "  client peak RSS <= 200 MB: {} ({} MB)",
        verdict(peak <= 200_000_000),
        megabytes(warm.peak_rss)
    );
}

async fn run(args: Args) -> Result<bool, Box<dyn Error>> {
    let simulator = match args.sim_bin {
        Some(path) => path,
        None => simulator_beside(&std::env::current_exe()?),
    };
    let scratch = tempfile::tempdir()?;
    let ca = SimCa::generate("fleet bench provider root")?;
    let ca_cert = scratch.path().join("ca.pem");
    let ca_key = scratch.path().join("ca.key");
    ca.write_cert_pem(&ca_cert)?;
    std::fs::write(&ca_key, ca.key_pem())?;
    let mut plan = FleetPlan {
        simulator,
        devices: args.devices,
        per_process: args.per_process,
        first_address: args.first_address,
        port: args.port,
        ca_cert,
        ca_key,
        worker_threads: 1,
        extra_args: args.sim_args.clone(),
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    plan.worker_threads = args
        .sim_threads
        .unwrap_or_else(|| (cores / plan.processes().max(1)).max(1));

    let mut options = ManagerOptions::default();
    options.concurrency = args.concurrency;
    // A sweep reads power states only: one request per device.
    options.read_os_power_state = false;
    if let Some(limit) = args.max_idle_connections {
        options.max_idle_connections = limit;
    }
    if let Some(hosts) = args.tls_session_cache_hosts {
        options.tls_session_cache_hosts = hosts;
    }
    if !args.confirm {
        options.confirmation = None;
    }
    let (idle, cache) = (
        options.max_idle_connections,
        options.tls_session_cache_hosts,
    );

    let started = Instant::now();
    let sims = SimFleet::start(&plan, PASSWORD)?;
    println!(
        "fleet: {} devices in {} amt-sim processes of {} worker thread(s) ({} to {}, port {}), \
         started in {:.1} s",
        plan.devices,
        sims.processes(),
        plan.worker_threads,
        plan.address(0)?.ip(),
        plan.address(plan.devices - 1)?.ip(),
        plan.port,
        started.elapsed().as_secs_f64()
    );
    if !plan.extra_args.is_empty() {
        println!("amt-sim arguments: {}", plan.extra_args.join(" "));
    }
    println!(
        "manager: concurrency {}, max_idle_connections {idle}, tls_session_cache_hosts {cache}, \
         MemoryStore",
        args.concurrency
    );

    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let key = VaultKey::generate()?;
    let manager = Manager::builder()
        .shared_store(Arc::clone(&store))
        .vault_key(key.clone())
        .options(options)
        .build()?;
    let started = Instant::now();
    let names = register(&manager, &store, &key, &ca, &plan, args.power_op.is_some())?;
    println!(
        "registered {} workstations in {:.2} s (credentials sealed into the store; no network)",
        names.len(),
        started.elapsed().as_secs_f64()
    );
    let targets = Targets::workstations(names);

    let ok = match args.power_op {
        None => {
            let cold = sweep("cold", &manager, &sims, &targets).await?;
            let warm = sweep("warm", &manager, &sims, &targets).await?;
            Sweep::print_header();
            cold.print();
            warm.print();
            print_floor(&cold, &warm);
            sims.stop()?;
            cold.failed == 0 && warm.failed == 0
        }
        Some(operation) => power_operation(operation, &manager, sims, &targets).await?,
    };
    Ok(ok)
}

/// Runs `operation` over every device and checks the invokes the simulators saw.
async fn power_operation(
    operation: PowerOperation,
    manager: &Manager,
    sims: SimFleet,
    targets: &Targets,
) -> Result<bool, Box<dyn Error>> {
    let started = Instant::now();
    let results = manager.run_bulk(operation, targets, |_| {}).await?;
    let wall = started.elapsed();
    let (latencies, failed) = summarise("power", &results);
    let accepted = results
        .iter()
        .filter(|r| r.result.as_ref().is_ok_and(|o| o.accepted()))
        .count();
    let per_device = sims.stop()?;
    let value = operation.requested_state();
    let total: u64 = per_device.iter().map(CounterSnapshot::total_invokes).sum();
    let of_value: u64 = per_device.iter().map(|c| c.invokes_of(value)).sum();
    let requests: u64 = per_device.iter().map(|c| c.requests).sum();
    let exactly_one = per_device
        .iter()
        .filter(|c| c.total_invokes() == 1 && c.invokes_of(value) == 1)
        .count();
    let none = per_device.iter().filter(|c| c.total_invokes() == 0).count();
    let twice = per_device.iter().filter(|c| c.total_invokes() > 1).count();
    let devices = per_device.len();
    let ms = |q| quantile(&latencies, q).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    println!(
        "{operation} over {devices} devices: {accepted} accepted, {failed} failed, in {:.2} s \
         ({:.0} devices/s; p50 {:.2} ms, p99 {:.2} ms; {:.2} requests per device; peak RSS {} MB)",
        wall.as_secs_f64(),
        devices as f64 / wall.as_secs_f64().max(1e-9),
        ms(0.5),
        ms(0.99),
        requests as f64 / devices.max(1) as f64,
        megabytes(peak_rss_bytes()),
    );
    let ok = total == devices as u64
        && of_value == total
        && exactly_one == devices
        && accepted == devices;
    println!(
        "invokes (simulator counters): {total} in all, {of_value} with PowerState {value}; \
         devices with exactly one: {exactly_one}, with none: {none}, with more than one: {twice}: {}",
        if ok { "OK" } else { "WRONG" }
    );
    Ok(ok)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("fleet: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("fleet: {error}");
            ExitCode::FAILURE
        }
    }
}
