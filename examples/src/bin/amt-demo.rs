//! `amt-demo`: the product end to end against an embedded fleet of simulated Intel AMT
//! workstations. No hardware, no network beyond loopback, nothing written to disk.
//!
//! ```text
//! cargo run --release --bin amt-demo
//! ```
//!
//! It starts the fleet, creates a deployment that trusts the simulator's CA, adds the
//! workstations with validated credentials, shows their status, runs Graceful Restart, shows a
//! cooldown refusal, a refusal by firmware version and a certificate name mismatch, runs a bulk
//! Start over a pool, and prints a summary. It exits 0 when every step behaved as the product
//! promises, 1 otherwise.
#![expect(clippy::print_stdout, reason = "a demo program reports on stdout")]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use amt_manager::vault::VaultKey;
use amt_manager::{
    Confirmation, DirectTarget, Error, Manager, ManagerOptions, MemoryStore, OperationOutcome,
    Targets,
};
use amt_power::{PowerOperation, PowerState};
use amt_sim::{DeviceConfig, LeafSpec, SimCa, SimDevice, Timing};
use amt_trust::{Host, ProviderRoot};
use secrecy::SecretString;

/// The simulated workstations' administrator password (a demo value, not a secret).
const DEMO_PASSWORD: &str = "Dem0-P@ssword";

struct Planned {
    name: &'static str,
    version: &'static str,
    state: PowerState,
    certificate_names: Option<&'static [&'static str]>,
    description: &'static str,
    /// Speaks only legacy TLS (TLS 1.1, RSA key exchange), like Intel AMT 11.
    legacy: bool,
}

/// The workstations every build has; with the `legacy-tls` feature an AMT 11 one joins them.
const FLEET: &[Planned] = &[
    Planned {
        name: "ws-amt16",
        version: "16.1.25",
        state: PowerState::On,
        certificate_names: None,
        description: "AMT 16, on, Intel LMS running",
        legacy: false,
    },
    Planned {
        name: "ws-amt9",
        version: "9.5.30",
        state: PowerState::On,
        certificate_names: None,
        // The simulator models AMT 9's power rules, not its TLS; the README says so too.
        description: "AMT 9, on, Intel LMS running (modern TLS, unlike real AMT 9)",
        legacy: false,
    },
    Planned {
        name: "ws-off",
        version: "14.0.45",
        state: PowerState::OffSoft,
        certificate_names: None,
        description: "AMT 14, off",
        legacy: false,
    },
    Planned {
        name: "ws-off-2",
        version: "12.0.90",
        state: PowerState::OffSoft,
        certificate_names: None,
        description: "AMT 12, off (modern TLS, unlike real AMT 12)",
        legacy: false,
    },
    Planned {
        name: "ws-misnamed",
        version: "16.1.25",
        state: PowerState::On,
        certificate_names: Some(&["amt-elsewhere.example.com"]),
        description: "AMT 16, certificate issued for another host",
        legacy: false,
    },
    #[cfg(feature = "legacy-tls")]
    Planned {
        name: "ws-amt11",
        version: "11.8.55",
        state: PowerState::OffSoft,
        certificate_names: None,
        description: "AMT 11, off, legacy TLS only (TLS 1.1, RSA key exchange)",
        legacy: true,
    },
];

/// Tracks whether every step behaved as expected.
#[derive(Default)]
struct Checks {
    failed: Vec<String>,
}

impl Checks {
    fn expect(&mut self, ok: bool, what: &str) {
        if !ok {
            println!("  !! unexpected: {what}");
            self.failed.push(what.to_owned());
        }
    }
}

fn heading(text: &str) {
    println!("\n== {text}");
}

fn outcome_line(outcome: &OperationOutcome) -> String {
    let after = match (outcome.confirmed, outcome.state_after) {
        (Some(true), Some(state)) => format!("confirmed, now {state}"),
        (Some(false), Some(state)) => format!("not seen yet, still {state}"),
        _ => "not confirmed".to_owned(),
    };
    format!(
        "{} accepted (ReturnValue {}), {after}",
        outcome.operation,
        outcome.return_value.code()
    )
}

async fn start_fleet(ca: &SimCa) -> Result<Vec<SimDevice>, amt_sim::Error> {
    let mut devices = Vec::new();
    for planned in FLEET {
        let mut config =
            DeviceConfig::new(DEMO_PASSWORD).on("127.0.0.1:0".parse().expect("valid address"));
        config.amt_version = planned.version.parse().expect("valid version");
        config.power_state = planned.state;
        config.timing = Timing {
            change_delay: Duration::from_millis(400),
            graceful_delay: Duration::from_millis(1_200),
        };
        if let Some(names) = planned.certificate_names {
            config.leaf = LeafSpec::names(names.iter().copied());
        }
        #[cfg(feature = "legacy-tls")]
        if planned.legacy {
            config.tls = amt_sim::TlsProfile::LegacyAmt11;
        }
        devices.push(SimDevice::start(config, ca).await?);
    }
    Ok(devices)
}

async fn run() -> Result<Checks, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut checks = Checks::default();

    heading("A simulated fleet of Intel AMT workstations on loopback");
    let ca = SimCa::generate("amt-demo provider root CA")?;
    let devices = start_fleet(&ca).await?;
    for (planned, device) in FLEET.iter().zip(&devices) {
        println!(
            "  {:<12} {:<36} {}",
            planned.name,
            device.url(),
            planned.description
        );
    }

    heading("A deployment that trusts the provider root CA");
    let mut options = ManagerOptions::default();
    options.confirmation = Some(Confirmation {
        deadline: Duration::from_secs(10),
        interval: Duration::from_millis(200),
    });
    let manager = Manager::builder()
        .store(MemoryStore::new())
        .vault_key(VaultKey::generate()?)
        .options(options)
        .build()?;
    manager.add_deployment("demo", ca.cert_pem())?;
    let root = ProviderRoot::from_pem(ca.cert_pem())?;
    println!(
        "  deployment demo: provider root {} (SHA-256 {})",
        root.subject(),
        root.sha256_fingerprint()
    );

    heading("Workstations, with credentials validated against each one before they are stored");
    let password = SecretString::from(DEMO_PASSWORD);
    for (planned, device) in FLEET.iter().zip(&devices) {
        // The legacy switch is on only where the firmware needs it: it weakens the connection.
        manager.add_workstation(
            "demo",
            planned.name,
            "127.0.0.1",
            Some(device.addr().port()),
            planned.legacy,
        )?;
        match manager
            .set_credentials(planned.name, "admin", password.clone())
            .await
        {
            Ok(()) => {
                manager.set_managed(planned.name, true)?;
                println!(
                    "  {:<12} credentials valid, stored encrypted, managed",
                    planned.name
                );
            }
            Err(error) => {
                println!("  {:<12} {error}", planned.name);
                checks.expect(
                    planned.certificate_names.is_some() && error.kind() == "credentials_invalid",
                    "only the misnamed workstation fails validation",
                );
            }
        }
    }

    heading("The certificate name check on its own (the misnamed workstation, reached directly)");
    let misnamed = &devices[4];
    let direct = DirectTarget {
        host: Host::parse("127.0.0.1")?,
        port: misnamed.addr().port(),
        provider_root_pem: ca.cert_pem().to_owned(),
        username: "admin".to_owned(),
        password: password.clone(),
        allow_legacy_tls: false,
    };
    match manager.status_direct(direct).await {
        Err(error) => {
            println!("  ws-misnamed  [{}] {error}", error.kind());
            checks.expect(error.kind() == "name_mismatch", "a name mismatch");
        }
        Ok(_) => checks.expect(false, "the misnamed workstation must be refused"),
    }

    heading("Status");
    let reachable = || FLEET.iter().filter(|p| p.certificate_names.is_none());
    let managed = Targets::workstations(reachable().map(|p| p.name));
    for result in manager.status_bulk(&managed, |_| {}).await? {
        match result.result {
            Ok(status) => {
                let available: Vec<&str> = status
                    .availability
                    .available()
                    .map(|op| op.kebab_name())
                    .collect();
                println!(
                    "  {:<12} {:<8} AMT {:<8} available: {}",
                    result.name,
                    status.power_state.to_string(),
                    status
                        .amt_version
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    available.join(", ")
                );
                for (operation, reason) in status.availability.unavailable().take(2) {
                    println!("  {:<12}   {operation}: {reason}", "");
                }
            }
            Err(error) => checks.expect(false, &format!("status of {}: {error}", result.name)),
        }
    }

    heading("Graceful Restart on ws-amt16");
    match manager
        .run("ws-amt16", PowerOperation::GracefulRestart)
        .await
    {
        Ok(outcome) => {
            println!("  ws-amt16     {}", outcome_line(&outcome));
            checks.expect(
                outcome.confirmed == Some(true),
                "the restart is seen to happen",
            );
        }
        Err(error) => checks.expect(false, &format!("graceful restart: {error}")),
    }

    heading("A second power operation on ws-amt16 within 20 seconds");
    let refused = manager.run("ws-amt16", PowerOperation::Reset).await;
    report_refusal(&mut checks, "ws-amt16", refused, "cooling_down");

    heading("Graceful Restart on ws-amt9 (it needs Intel AMT 10 or later)");
    let refused = manager
        .run("ws-amt9", PowerOperation::GracefulRestart)
        .await;
    report_refusal(&mut checks, "ws-amt9", refused, "amt_version_too_old");

    heading("Bulk Start over the pool floor-1");
    manager.add_pool("floor-1")?;
    for planned in reachable() {
        manager.add_pool_member("floor-1", planned.name)?;
    }
    let results = manager
        .run_bulk(
            PowerOperation::PowerOn,
            &Targets::pools(["floor-1"]),
            |progress| {
                println!(
                    "  [{}/{}] {} done",
                    progress.done, progress.total, progress.latest.name
                );
            },
        )
        .await?;
    let mut started_count = 0;
    for result in &results {
        match &result.result {
            Ok(outcome) => {
                started_count += 1;
                println!("  {:<12} {}", result.name, outcome_line(outcome));
            }
            Err(error) => println!("  {:<12} [{}] {error}", result.name, error.kind()),
        }
    }
    let were_off = reachable()
        .filter(|p| p.state == PowerState::OffSoft)
        .count();
    checks.expect(
        started_count == were_off,
        "the workstations that were off start",
    );

    heading("Summary");
    println!(
        "  {:<12} {:<9} {:<10} {:>7} {:>10} {:>7}",
        "WORKSTATION", "AMT", "STATE", "REQS", "HANDSHAKES", "INVOKES"
    );
    for (planned, device) in FLEET.iter().zip(&devices) {
        let counters = device.counters();
        println!(
            "  {:<12} {:<9} {:<10} {:>7} {:>10} {:>7}",
            planned.name,
            planned.version,
            device.power_state().to_string(),
            counters.requests,
            counters.tls_handshakes(),
            counters.total_invokes()
        );
    }
    println!("\n  finished in {:.1} s", started.elapsed().as_secs_f64());
    Ok(checks)
}

fn report_refusal(
    checks: &mut Checks,
    name: &str,
    result: Result<OperationOutcome, Error>,
    kind: &str,
) {
    match result {
        Err(error) => {
            println!("  {name:<12} [{}] {error}", error.kind());
            checks.expect(error.kind() == kind, kind);
        }
        Ok(outcome) => checks.expect(
            false,
            &format!("{name}: expected {kind}, got {}", outcome_line(&outcome)),
        ),
    }
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("amt-demo: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(checks) if checks.failed.is_empty() => {
            println!("  every step behaved as expected");
            ExitCode::SUCCESS
        }
        Ok(checks) => {
            eprintln!(
                "amt-demo: {} step(s) did not behave as expected",
                checks.failed.len()
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("amt-demo: {error}");
            ExitCode::FAILURE
        }
    }
}
