//! `amt-sim`: run simulated Intel AMT devices on loopback.
//!
//! ```text
//! AMT_PASSWORD='P@ssw0rd' cargo run --bin amt-sim -- --ca-out /tmp/amt-sim-ca.pem
//! AMT_PASSWORD='P@ssw0rd' cargo run --features legacy-tls --bin amt-sim -- --legacy-tls amt11
//! ```
//!
//! It prints one line per device (its URL), then `ready`, and serves until SIGINT or SIGTERM,
//! when it prints each device's counters and exits. On SIGUSR1 it prints the fleet's counters
//! so far on one line, `counters <figures>`, and goes on serving (benchmarks read it between
//! phases).
#![expect(
    clippy::print_stdout,
    reason = "a command-line program reports on stdout"
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use amt_power::{AmtVersion, PowerState};
use amt_sim::{
    Addressing, DeviceConfig, Fault, FaultRule, FaultTarget, Fleet, LeafIssuer, LeafSpec, SimCa,
    Timing, TlsProfile, Validity,
};
use clap::{Parser, ValueEnum};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Simulated Intel AMT devices: HTTPS on loopback, HTTP Digest, WS-Management power management.
///
/// Each device serves POST /wsman over TLS with a certificate from the simulator's CA (write it
/// out with --ca-out and trust it). The program prints one line per device with its URL, then
/// `ready`, and runs until SIGINT or SIGTERM. SIGUSR1 prints the counters of all devices so far
/// on one line (`counters tcp=... requests=...`).
#[derive(Debug, Parser)]
#[command(name = "amt-sim", version)]
struct Args {
    /// Address and port of the first device. With --devices N, device i listens on PORT+i.
    #[arg(long, default_value = "127.0.0.1:16993", value_name = "ADDR:PORT")]
    listen: SocketAddr,

    /// Number of devices to run.
    #[arg(long, default_value_t = 1, value_name = "N")]
    devices: usize,

    /// Give each device its own loopback address (127.0.0.2, 127.0.0.3, ...) on the --listen port,
    /// with a certificate for that address, instead of consecutive ports.
    #[arg(long)]
    loopback_addresses: bool,

    /// The digest user name.
    #[arg(long, default_value = "admin", value_name = "NAME")]
    user: String,

    /// Environment variable that holds the digest password (required: the program refuses to
    /// start without it, or with it empty).
    #[arg(long, default_value = "AMT_PASSWORD", value_name = "VAR")]
    password_env: String,

    /// The Intel AMT firmware version to report (Server header, CIM_SoftwareIdentity, Identify).
    /// Default: 16.1.25, or 11.8.55 with --legacy-tls amt11 and 12.0.45 with --legacy-tls amt12.
    #[arg(long, value_name = "X.Y.Z")]
    amt_version: Option<AmtVersion>,

    /// The power state at start.
    #[arg(long, value_enum, default_value_t = InitialState::On)]
    power_state: InitialState,

    /// The OS agent (Intel LMS) is running: graceful operations are offered (the default).
    #[arg(long, overrides_with = "no_lms")]
    lms: bool,

    /// The OS agent (Intel LMS) is not running: graceful operations are refused.
    #[arg(long)]
    no_lms: bool,

    /// A name (DNS name or IP) for the device certificates; repeatable. Default: localhost and
    /// the device's listen IP (127.0.0.1 when listening on 0.0.0.0), as Subject Alternative
    /// Names.
    #[arg(long = "cert-name", value_name = "NAME")]
    cert_names: Vec<String>,

    /// Put the name in the certificate's Common Name only, with no SAN: the one --cert-name
    /// (more are refused), or localhost without one.
    #[arg(long)]
    cn_only: bool,

    /// Issue certificates that expired yesterday.
    #[arg(long, conflicts_with = "not_yet_valid_cert")]
    expired_cert: bool,

    /// Issue certificates that become valid tomorrow.
    #[arg(long)]
    not_yet_valid_cert: bool,

    /// Sign the device certificates with a throwaway CA instead of the simulator CA (clients
    /// that trust --ca-out then see a root mismatch).
    #[arg(long)]
    foreign_ca: bool,

    /// Write the simulator CA certificate (PEM) here before listening.
    #[arg(long, value_name = "PATH")]
    ca_out: Option<PathBuf>,

    /// Also write the simulator CA's private key (PEM) here, to reuse the CA with --ca-cert/--ca-key.
    #[arg(long, value_name = "PATH")]
    ca_key_out: Option<PathBuf>,

    /// Load the simulator CA certificate from this PEM file (with --ca-key) instead of generating one.
    #[arg(long, value_name = "PATH", requires = "ca_key")]
    ca_cert: Option<PathBuf>,

    /// The private key (PEM) of --ca-cert.
    #[arg(long, value_name = "PATH", requires = "ca_cert")]
    ca_key: Option<PathBuf>,

    /// Which TLS the devices speak: modern (TLS 1.3 and 1.2), tls12 (TLS 1.2 only, like AMT 13
    /// to 18), or refuse-modern (answer every modern handshake with a protocol_version alert,
    /// as AMT 12 and older do).
    #[arg(long, value_enum, default_value_t = TlsChoice::Modern)]
    tls: TlsChoice,

    /// Speak legacy TLS through OpenSSL, as old firmware does: amt11 (TLS 1.1 only) or amt12
    /// (TLS 1.2 only), both with RSA key exchange only and RSA-2048 certificates. Needs the
    /// program built with the cargo feature legacy-tls.
    #[arg(long, value_enum, value_name = "FIRMWARE", conflicts_with = "tls")]
    legacy_tls: Option<LegacyFirmware>,

    /// Demand a TLS client certificate (mutual TLS), which clients of this product refuse.
    #[arg(long)]
    require_client_cert: bool,

    /// A redirection (KVM) session is open: power off and power cycle answer ReturnValue 2.
    #[arg(long)]
    kvm_session: bool,

    /// Firmware quirk: graceful operations without LMS answer 0 and do nothing.
    #[arg(long)]
    graceful_noop: bool,

    /// How long accepted power changes take, in milliseconds (graceful ones take three times as long).
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    transition_ms: u64,

    /// Fault: add this much latency to every authenticated request (on top of --fault, if
    /// any).
    #[arg(long, value_name = "MS")]
    latency_ms: Option<u64>,

    /// Fault: commit this on authenticated requests (see --fault-on and --fault-times).
    #[arg(long, value_enum, value_name = "FAULT")]
    fault: Option<FaultKind>,

    /// Which requests --fault applies to.
    #[arg(long, value_enum, default_value_t = FaultOn::All)]
    fault_on: FaultOn,

    /// How many times --fault fires (default: for ever).
    #[arg(long, value_name = "N")]
    fault_times: Option<u32>,

    /// Close each keep-alive connection after N requests.
    #[arg(long, value_name = "N")]
    close_after: Option<u32>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum InitialState {
    On,
    Off,
    Sleep,
    Hibernate,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TlsChoice {
    Modern,
    Tls12,
    RefuseModern,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LegacyFirmware {
    /// Intel AMT 11: TLS 1.1 only, RSA key exchange (AES-CBC with SHA-1).
    Amt11,
    /// Intel AMT 12: TLS 1.2 only, RSA key exchange (AES-GCM and AES-CBC).
    Amt12,
}

/// The TLS the devices speak.
fn tls_profile(args: &Args) -> Result<TlsProfile, String> {
    match args.legacy_tls {
        None => Ok(match args.tls {
            TlsChoice::Modern => TlsProfile::Modern,
            TlsChoice::Tls12 => TlsProfile::Tls12Only,
            TlsChoice::RefuseModern => TlsProfile::RefuseModern,
        }),
        Some(firmware) => legacy_profile(firmware),
    }
}

#[cfg(feature = "legacy-tls")]
fn legacy_profile(firmware: LegacyFirmware) -> Result<TlsProfile, String> {
    Ok(match firmware {
        LegacyFirmware::Amt11 => TlsProfile::LegacyAmt11,
        LegacyFirmware::Amt12 => TlsProfile::LegacyAmt12,
    })
}

#[cfg(not(feature = "legacy-tls"))]
fn legacy_profile(_firmware: LegacyFirmware) -> Result<TlsProfile, String> {
    Err(
        "--legacy-tls needs amt-sim built with the cargo feature legacy-tls \
         (cargo run --features legacy-tls --bin amt-sim -- ...)"
            .to_owned(),
    )
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FaultKind {
    /// Close the connection after carrying the request out, without answering.
    Drop,
    /// Never answer.
    Stall,
    /// Answer HTTP 500.
    Http500,
    /// Answer with XML that is not well-formed.
    Malformed,
    /// Answer with a 4 MiB body.
    Oversized,
    /// Answer with a SOAP fault (wsman:AccessDenied).
    AccessDenied,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FaultOn {
    /// Every authenticated request.
    All,
    /// RequestPowerStateChange only.
    PowerChanges,
    /// Everything else.
    Reads,
}

fn device_config(args: &Args, password: String) -> Result<DeviceConfig, String> {
    if args.cn_only && args.cert_names.len() > 1 {
        return Err(format!(
            "--cn-only puts one name in the certificate's Common Name, but {} --cert-name \
             were given; give one, or drop --cn-only to have them all as SANs",
            args.cert_names.len()
        ));
    }
    let mut config = DeviceConfig::new(password);
    config.username = args.user.clone();
    config.tls = tls_profile(args)?;
    let default_version: &[u32] = match args.legacy_tls {
        None => &[16, 1, 25],
        Some(LegacyFirmware::Amt11) => &[11, 8, 55],
        Some(LegacyFirmware::Amt12) => &[12, 0, 45],
    };
    config.amt_version = match &args.amt_version {
        Some(version) => version.clone(),
        None => AmtVersion::new(default_version).map_err(|e| e.to_string())?,
    };
    config.power_state = match args.power_state {
        InitialState::On => PowerState::On,
        InitialState::Off => PowerState::OffSoft,
        InitialState::Sleep => PowerState::SleepDeep,
        InitialState::Hibernate => PowerState::Hibernate,
    };
    config.lms = !args.no_lms;
    config.redirection_session = args.kvm_session;
    config.graceful_noop_without_lms = args.graceful_noop;
    let delay = Duration::from_millis(args.transition_ms);
    config.timing = Timing {
        change_delay: delay,
        graceful_delay: delay * 3,
    };
    config.leaf = LeafSpec {
        names: args.cert_names.clone(),
        cn_only: args.cn_only,
        validity: if args.expired_cert {
            Validity::Expired
        } else if args.not_yet_valid_cert {
            Validity::NotYetValid
        } else {
            Validity::Current
        },
        issuer: if args.foreign_ca {
            LeafIssuer::ForeignCa
        } else {
            LeafIssuer::SimulatorCa
        },
    };
    config.close_after_requests = args.close_after;
    config.require_client_certificate = args.require_client_cert;
    let target = match args.fault_on {
        FaultOn::All => FaultTarget::Everything,
        FaultOn::PowerChanges => FaultTarget::PowerChanges,
        FaultOn::Reads => FaultTarget::Reads,
    };
    if let Some(ms) = args.latency_ms {
        config
            .faults
            .push(FaultRule::always(Fault::Latency(Duration::from_millis(ms))));
    }
    if let Some(kind) = args.fault {
        let fault = match kind {
            FaultKind::Drop => Fault::DropConnection,
            FaultKind::Stall => Fault::Stall,
            FaultKind::Http500 => Fault::Http500,
            FaultKind::Malformed => Fault::MalformedXml,
            FaultKind::Oversized => Fault::OversizedBody(4 << 20),
            FaultKind::AccessDenied => {
                Fault::SoapFault(Box::new(amt_wsman::Fault::access_denied()))
            }
        };
        config.faults.push(FaultRule {
            fault,
            target,
            times: args.fault_times,
        });
    }
    Ok(config)
}

fn load_ca(args: &Args) -> Result<SimCa, String> {
    let ca = match (&args.ca_cert, &args.ca_key) {
        (Some(cert), Some(key)) => SimCa::from_files(cert, key),
        _ => SimCa::generate("amt-sim CA"),
    }
    .map_err(|e| e.to_string())?;
    if let Some(path) = &args.ca_out {
        ca.write_cert_pem(path).map_err(|e| e.to_string())?;
    }
    if let Some(path) = &args.ca_key_out {
        std::fs::write(path, ca.key_pem())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(ca)
}

async fn run(args: Args) -> Result<(), String> {
    let password = std::env::var(&args.password_env).map_err(|error| match error {
        std::env::VarError::NotPresent => format!(
            "the password is read from the environment variable {}, which is not set; \
             set it (for example {}='P@ssw0rd') and start again",
            args.password_env, args.password_env
        ),
        std::env::VarError::NotUnicode(_) => format!(
            "the environment variable {} does not hold UTF-8 text",
            args.password_env
        ),
    })?;
    if password.is_empty() {
        return Err(format!(
            "the environment variable {} is empty; an empty password is refused",
            args.password_env
        ));
    }
    if args.devices == 0 {
        return Err("--devices must be at least 1".to_owned());
    }
    let template = device_config(&args, password)?;
    let ca = load_ca(&args)?;
    let addressing = if args.loopback_addresses {
        let first = match args.listen.ip() {
            IpAddr::V4(ip) if ip.octets()[0] == 127 && ip != Ipv4Addr::LOCALHOST => ip,
            _ => Ipv4Addr::new(127, 0, 0, 2),
        };
        Addressing::LoopbackAddresses {
            first,
            port: args.listen.port(),
        }
    } else {
        Addressing::ConsecutivePorts {
            ip: args.listen.ip(),
            first_port: args.listen.port(),
        }
    };
    let fleet = Fleet::start(&template, args.devices, addressing, &ca, |_, _| {})
        .await
        .map_err(|e| e.to_string())?;
    for device in fleet.devices() {
        println!("{}", device.url());
    }
    // The handlers go in before `ready`: SIGUSR1 would end a process that has none yet.
    let signals = Signals::install()?;
    println!("ready");
    signals.serve_until_stopped(&fleet).await;
    for device in fleet.devices() {
        println!("{} {}", device.url(), device.counters());
    }
    if fleet.devices().len() > 1 {
        println!("total {}", fleet.counters());
    }
    fleet.shutdown();
    Ok(())
}

/// The signals the program answers.
struct Signals {
    interrupt: Signal,
    terminate: Signal,
    dump: Signal,
}

impl Signals {
    fn install() -> Result<Self, String> {
        let install = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| format!("installing the {name} handler: {e}"))
        };
        Ok(Self {
            interrupt: install(SignalKind::interrupt(), "SIGINT")?,
            terminate: install(SignalKind::terminate(), "SIGTERM")?,
            dump: install(SignalKind::user_defined1(), "SIGUSR1")?,
        })
    }

    /// Serves until SIGINT or SIGTERM; on SIGUSR1, prints the counters so far.
    async fn serve_until_stopped(mut self, fleet: &Fleet) {
        loop {
            tokio::select! {
                _ = self.interrupt.recv() => return,
                _ = self.terminate.recv() => return,
                _ = self.dump.recv() => println!("counters {}", fleet.counters()),
            }
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("amt-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("amt-sim: {message}");
            ExitCode::FAILURE
        }
    }
}
