//! `amtctl`: power-manage Intel AMT workstations from the command line.
//!
//! Direct mode talks to one workstation given on the command line:
//!
//! ```text
//! AMT_PASSWORD=… amtctl --host ws-042.corp.example.com --ca amt-root.pem status
//! AMT_PASSWORD=… amtctl --host 10.20.30.42 --ca amt-root.pem --json graceful-restart
//! ```
//!
//! Inventory mode works on the workstations of a local inventory (deployments, workstations,
//! pools, encrypted credentials):
//!
//! ```text
//! amtctl deployment add lab --ca amt-root.pem
//! amtctl workstation add ws-042 --deployment lab --host ws-042.corp.example.com
//! AMT_PASSWORD=… amtctl workstation set-credentials ws-042
//! amtctl workstation set-managed ws-042 on
//! amtctl run graceful-restart --pool floor-1
//! ```
#![expect(
    clippy::print_stdout,
    reason = "a command-line program reports on stdout"
)]

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use amt_manager::{
    BulkProgress, BulkResult, Confirmation, DirectTarget, Error, Manager, ManagerOptions,
    OperationOutcome, Targets, Timeouts, WorkstationStatus,
};
use amt_power::PowerOperation;
use amt_trust::Host;
use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;
use serde_json::json;

/// Power-manage Intel AMT workstations over WS-Management (HTTPS, HTTP Digest).
///
/// Direct mode: give --host and --ca and one of the power commands, `status` or `validate`.
/// Inventory mode: manage deployments, workstations and pools, then `run` operations and read
/// `status` over them. Exit status: 0 when everything succeeded, 1 when anything failed, 2 for
/// usage errors.
#[derive(Debug, Parser)]
#[command(name = "amtctl", version, propagate_version = true)]
struct Cli {
    /// Direct mode: the workstation's FQDN or IP (its certificate must name it in CN or SAN).
    #[arg(long, value_name = "FQDN|IP")]
    host: Option<String>,

    /// Direct mode: the workstation's AMT TLS port.
    #[arg(long, default_value_t = 16993)]
    port: u16,

    /// Direct mode: the provider root CA certificate (PEM) the workstation's certificate chains to.
    #[arg(long, value_name = "ROOT.PEM")]
    ca: Option<PathBuf>,

    /// Direct mode: the digest user name.
    #[arg(long, default_value = "admin", value_name = "NAME")]
    user: String,

    /// The environment variable that holds the password (direct mode, and set-credentials).
    #[arg(
        long,
        global = true,
        default_value = "AMT_PASSWORD",
        value_name = "VAR"
    )]
    password_env: String,

    /// Direct mode: allow the legacy TLS transport (TLS 1.1/1.2 with RSA key exchange, for Intel
    /// AMT 9 to 12). It weakens the connection; needs the `legacy-tls` build feature (without it,
    /// a workstation that only speaks legacy TLS fails with `unsupported`).
    #[arg(long)]
    legacy_tls: bool,

    /// Request timeout in seconds (connect and TLS timeouts are at most 5 s).
    #[arg(long, global = true, value_name = "SECS")]
    timeout: Option<u64>,

    /// Print one JSON object per result on stdout.
    #[arg(long, global = true)]
    json: bool,

    /// Do not re-read the power state after a change to confirm it.
    #[arg(long, global = true)]
    no_confirm: bool,

    /// How long to keep re-reading the state to confirm a change, in seconds.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECS")]
    confirm_timeout: u64,

    /// The inventory database (default: the per-user data directory).
    #[arg(long, global = true, env = "AMT_MANAGER_DB", value_name = "PATH")]
    db: Option<PathBuf>,

    /// The vault key file (default: beside the database, with `.key` appended).
    #[arg(long, global = true, env = "AMT_MANAGER_KEY_FILE", value_name = "PATH")]
    key_file: Option<PathBuf>,

    /// Log what happens on the wire (never credentials) to stderr.
    #[arg(long, short, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The power state, available operations and AMT version (direct mode, or inventory mode
    /// with --workstation/--pool, or every workstation).
    Status(Selection),
    /// Direct mode: check the credentials with an authenticated call.
    Validate,
    /// Direct mode: Power On.
    On,
    /// Direct mode: Power On (alias).
    Start,
    /// Direct mode: Power Off (hard: the OS is not asked).
    Off,
    /// Direct mode: Power Off (alias).
    Stop,
    /// Direct mode: Graceful Shutdown (AMT 9+, needs Intel LMS).
    GracefulShutdown,
    /// Direct mode: Reset.
    Reset,
    /// Direct mode: Reset (alias).
    Restart,
    /// Direct mode: Graceful Restart (AMT 10+, needs Intel LMS).
    GracefulRestart,
    /// Direct mode: Power Cycle.
    PowerCycle,
    /// Inventory mode: run an operation on workstations and pools.
    Run {
        /// The operation: on, off, graceful-shutdown, reset, graceful-restart, power-cycle, sleep,
        /// hibernate, or an alias (start, stop, restart).
        operation: PowerOperation,
        #[command(flatten)]
        selection: Selection,
    },
    /// Inventory mode: deployments and their provider root CA.
    #[command(subcommand)]
    Deployment(DeploymentCommand),
    /// Inventory mode: workstations.
    #[command(subcommand)]
    Workstation(WorkstationCommand),
    /// Inventory mode: pools of workstations.
    #[command(subcommand)]
    Pool(PoolCommand),
}

#[derive(Debug, Args, Default)]
struct Selection {
    /// A workstation by name; repeatable.
    #[arg(long = "workstation", value_name = "NAME")]
    workstations: Vec<String>,
    /// Every workstation of a pool; repeatable.
    #[arg(long = "pool", value_name = "NAME")]
    pools: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum DeploymentCommand {
    /// Add a deployment with its provider root CA certificate.
    Add {
        /// The deployment's name.
        name: String,
        /// The provider root CA certificate (PEM file; `-` reads it from stdin).
        #[arg(long = "ca", value_name = "ROOT.PEM")]
        ca: PathBuf,
    },
    /// List deployments.
    List,
    /// Replace a deployment's provider root CA certificate.
    SetCa {
        /// The deployment.
        name: String,
        /// The new provider root CA certificate (PEM file; `-` reads stdin).
        #[arg(long = "ca", value_name = "ROOT.PEM")]
        ca: PathBuf,
    },
    /// Remove a deployment without workstations.
    Remove {
        /// The deployment.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum WorkstationCommand {
    /// Add a workstation (not managed, no credentials yet).
    Add {
        /// The workstation's name.
        name: String,
        /// The deployment it belongs to.
        #[arg(long)]
        deployment: String,
        /// Its FQDN or IP (its certificate must name it).
        #[arg(long = "host", value_name = "FQDN|IP")]
        host: String,
        /// Its AMT TLS port.
        #[arg(long = "port", default_value_t = 16993)]
        port: u16,
        /// Allow the legacy TLS transport for it (weakens its connection; Intel AMT 9 to 12).
        #[arg(long)]
        allow_legacy_tls: bool,
    },
    /// List workstations.
    List,
    /// Remove a workstation.
    Remove {
        /// The workstation.
        name: String,
    },
    /// Turn management on or off (on needs credentials).
    SetManaged {
        /// The workstation.
        name: String,
        /// on or off.
        state: Toggle,
    },
    /// Allow or forbid the legacy TLS transport for a workstation (on weakens its connection;
    /// Intel AMT 9 to 12).
    // The old spelling did not read as a weakening; it stays, hidden, for existing scripts.
    #[command(alias = "set-legacy-tls")]
    SetAllowLegacyTls {
        /// The workstation.
        name: String,
        /// on or off.
        state: Toggle,
    },
    /// Check credentials against the workstation and store them encrypted (the password comes
    /// from the --password-env variable).
    SetCredentials {
        /// The workstation.
        name: String,
        /// The digest user name.
        #[arg(long = "user", default_value = "admin")]
        user: String,
    },
    /// Forget a workstation's credentials (turns management off).
    ClearCredentials {
        /// The workstation.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum PoolCommand {
    /// Add an empty pool.
    Add {
        /// The pool's name.
        name: String,
    },
    /// Add a workstation to a pool.
    AddMember {
        /// The pool.
        pool: String,
        /// The workstation.
        workstation: String,
    },
    /// Remove a workstation from a pool.
    RemoveMember {
        /// The pool.
        pool: String,
        /// The workstation.
        workstation: String,
    },
    /// List pools and their members.
    List,
    /// Remove a pool (not its workstations).
    Remove {
        /// The pool.
        name: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Toggle {
    On,
    Off,
}

impl Toggle {
    fn is_on(self) -> bool {
        matches!(self, Self::On)
    }
}

/// A problem with the arguments: exit status 2.
struct UsageError(String);

/// Why a command stopped without reporting results of its own.
enum Stop {
    /// A problem with the arguments: exit status 2, plain text on stderr whatever the mode.
    Usage(String),
    /// The command failed: exit status 1, reported as a failure object with --json so scripts
    /// can tell the kinds apart.
    Failed(Box<Failure>),
}

impl From<UsageError> for Stop {
    fn from(UsageError(message): UsageError) -> Self {
        Self::Usage(message)
    }
}

impl From<Error> for Stop {
    fn from(error: Error) -> Self {
        Self::Failed(Box::new(Failure::new(error)))
    }
}

impl From<Failure> for Stop {
    fn from(failure: Failure) -> Self {
        Self::Failed(Box::new(failure))
    }
}

/// A command's own failure (an inventory command, a name that does not resolve, the inventory
/// not opening), as opposed to one workstation's failure in a bulk run.
struct Failure {
    error: Error,
    /// The workstation's host, when the failure concerns one that is known.
    host: Option<String>,
    /// The records the command named, in its argument order: `("workstation", "ws-042")`.
    about: Vec<(&'static str, String)>,
}

impl Failure {
    fn new(error: Error) -> Self {
        Self {
            error,
            host: None,
            about: Vec::new(),
        }
    }

    fn about(mut self, record: &'static str, name: impl Into<String>) -> Self {
        self.about.push((record, name.into()));
        self
    }

    fn host(mut self, host: Option<String>) -> Self {
        if host.is_some() {
            self.host = host;
        }
        self
    }

    /// The failure object: the documented `host`, `error`, `kind`, then the records named. A
    /// name that does not resolve is named even when the command did not name it itself (a
    /// pool's member, a bulk run's `--workstation`), so scripts learn which one it was.
    fn json(&self) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        if let Some(host) = &self.host {
            object.insert("host".to_owned(), json!(host));
        }
        object.insert("error".to_owned(), json!(self.error.to_string()));
        object.insert("kind".to_owned(), json!(self.error.kind()));
        for (record, name) in self
            .about
            .iter()
            .cloned()
            .chain(missing_record(&self.error))
        {
            object.entry(record).or_insert_with(|| json!(name));
        }
        serde_json::Value::Object(object)
    }
}

/// The record a `not_found` error is about. Duplicates are left out: a workstation clashes by
/// `host:port` as well as by name, and that is not a workstation name.
fn missing_record(error: &Error) -> Option<(&'static str, String)> {
    use amt_manager::store::{Record, StoreError};
    let Error::NotFound(StoreError::NotFound { record, name }) = error else {
        return None;
    };
    let record = match record {
        Record::Deployment => "deployment",
        Record::Workstation => "workstation",
        Record::Pool => "pool",
    };
    Some((record, name.clone()))
}

/// Makes an error a failure about this deployment.
fn on_deployment(name: &str) -> impl FnOnce(Error) -> Failure + '_ {
    move |error| Failure::new(error).about("deployment", name)
}

/// Makes an error a failure about this pool.
fn on_pool(name: &str) -> impl FnOnce(Error) -> Failure + '_ {
    move |error| Failure::new(error).about("pool", name)
}

/// Makes an error a failure about this workstation of the inventory, with its host when it
/// exists.
fn on_workstation<'a>(manager: &'a Manager, name: &'a str) -> impl FnOnce(Error) -> Failure + 'a {
    move |error| {
        let host = manager.workstation(name).ok().map(|w| w.host.to_string());
        Failure::new(error).about("workstation", name).host(host)
    }
}

/// Makes an error a failure about a pool's member.
fn on_member<'a>(
    manager: &'a Manager,
    pool: &'a str,
    workstation: &'a str,
) -> impl FnOnce(Error) -> Failure + 'a {
    move |error| {
        let failure = on_workstation(manager, workstation)(error);
        Failure {
            about: vec![
                ("pool", pool.to_owned()),
                ("workstation", workstation.to_owned()),
            ],
            ..failure
        }
    }
}

/// How the run ended.
enum Outcome {
    AllSucceeded,
    SomeFailed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("amt_client=debug,amt_manager=debug")
        });
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("amtctl: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let printer = Printer { json: cli.json };
    match runtime.block_on(run(cli)) {
        Ok(Outcome::AllSucceeded) => ExitCode::SUCCESS,
        Ok(Outcome::SomeFailed) => ExitCode::FAILURE,
        Err(Stop::Usage(message)) => {
            eprintln!("amtctl: {message}");
            ExitCode::from(2)
        }
        Err(Stop::Failed(failure)) => {
            printer.command_failure(&failure);
            ExitCode::FAILURE
        }
    }
}

fn default_database() -> Result<PathBuf, UsageError> {
    directories::ProjectDirs::from("", "", "amt-manager")
        .map(|dirs| dirs.data_dir().join("inventory.db"))
        .ok_or_else(|| UsageError("no home directory to keep the inventory in; give --db".into()))
}

fn options(cli: &Cli) -> ManagerOptions {
    let mut options = ManagerOptions::default();
    if let Some(secs) = cli.timeout {
        let request = Duration::from_secs(secs.max(1));
        let mut timeouts = Timeouts::DEFAULT;
        timeouts.connect = request.min(timeouts.connect);
        timeouts.tls_handshake = request.min(timeouts.tls_handshake);
        timeouts.request = request;
        options.timeouts = timeouts;
    }
    options.confirmation = (!cli.no_confirm).then(|| Confirmation {
        deadline: Duration::from_secs(cli.confirm_timeout),
        interval: Duration::from_secs(1),
    });
    options
}

fn open_manager(cli: &Cli) -> Result<Manager, Stop> {
    let database = match &cli.db {
        Some(path) => path.clone(),
        None => default_database()?,
    };
    let key_file = cli.key_file.clone().unwrap_or_else(|| {
        let mut name = database
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".key");
        database.with_file_name(name)
    });
    let store = amt_manager::SqliteStore::open(&database)
        .map_err(|e| Failure::new(e.into()).about("database", database.display().to_string()))?;
    Ok(Manager::builder()
        .store(store)
        .key_file(key_file)
        .options(options(cli))
        .build()?)
}

fn password(cli: &Cli) -> Result<SecretString, UsageError> {
    std::env::var(&cli.password_env).map(SecretString::from).map_err(|_| {
        UsageError(format!(
            "the password is read from the environment variable {} (see --password-env), which is not set",
            cli.password_env
        ))
    })
}

fn read_pem(path: &PathBuf) -> Result<String, UsageError> {
    if path.as_os_str() == "-" {
        return std::io::read_to_string(std::io::stdin())
            .map_err(|e| UsageError(format!("reading the certificate from stdin: {e}")));
    }
    std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("reading {}: {e}", path.display())))
}

fn direct_operation(command: &Command) -> Option<PowerOperation> {
    Some(match command {
        Command::On | Command::Start => PowerOperation::PowerOn,
        Command::Off | Command::Stop => PowerOperation::PowerOff,
        Command::GracefulShutdown => PowerOperation::GracefulShutdown,
        Command::Reset | Command::Restart => PowerOperation::Reset,
        Command::GracefulRestart => PowerOperation::GracefulRestart,
        Command::PowerCycle => PowerOperation::PowerCycle,
        _ => return None,
    })
}

async fn run(cli: Cli) -> Result<Outcome, Stop> {
    let direct = cli.host.is_some();
    let needs_host =
        matches!(cli.command, Command::Validate) || direct_operation(&cli.command).is_some();
    if needs_host && !direct {
        return Err(Stop::Usage(
            "this command works on one workstation given with --host and --ca \
             (for inventory workstations, use `amtctl run <operation> --workstation NAME`)"
                .into(),
        ));
    }
    if direct {
        return run_direct(&cli).await;
    }
    let manager = open_manager(&cli)?;
    let printer = Printer { json: cli.json };
    match &cli.command {
        Command::Status(selection) => status(&manager, &printer, selection).await,
        Command::Run {
            operation,
            selection,
        } => run_bulk(&manager, &printer, *operation, selection).await,
        Command::Deployment(command) => deployment(&manager, &printer, command),
        Command::Workstation(command) => workstation(&cli, &manager, &printer, command).await,
        Command::Pool(command) => pool(&manager, &printer, command),
        _ => Err(Stop::Usage("unexpected command".into())),
    }
}

async fn run_direct(cli: &Cli) -> Result<Outcome, Stop> {
    let host_text = cli.host.as_deref().unwrap_or_default();
    let host = Host::parse(host_text).map_err(|e| UsageError(e.to_string()))?;
    let ca = cli
        .ca
        .as_ref()
        .ok_or_else(|| UsageError("direct mode needs --ca ROOT.PEM".into()))?;
    let target = DirectTarget {
        host: host.clone(),
        port: cli.port,
        provider_root_pem: read_pem(ca)?,
        username: cli.user.clone(),
        password: password(cli)?,
        allow_legacy_tls: cli.legacy_tls,
    };
    let host = host.to_string();
    let manager = open_manager(cli).map_err(|stop| match stop {
        Stop::Failed(failure) => Stop::Failed(Box::new(failure.host(Some(host.clone())))),
        usage @ Stop::Usage(_) => usage,
    })?;
    let printer = Printer { json: cli.json };
    let ok = match &cli.command {
        Command::Status(selection) => {
            if !selection.workstations.is_empty() || !selection.pools.is_empty() {
                return Err(Stop::Usage(
                    "--workstation and --pool do not go with --host".into(),
                ));
            }
            match manager.status_direct(target).await {
                Ok(status) => printer.status(&status),
                Err(error) => printer.failure(&host, &error),
            }
        }
        Command::Validate => match manager.validate_direct(target).await {
            Ok(version) => printer.validated(&host, Some(&version)),
            Err(error) => printer.failure(&host, &error),
        },
        command => {
            let operation = direct_operation(command).ok_or_else(|| {
                UsageError(
                    "with --host, the commands are status, validate and the power operations"
                        .into(),
                )
            })?;
            match manager.run_direct(target, operation).await {
                Ok(outcome) => printer.operation(&outcome),
                Err(error) => printer.failure(&host, &error),
            }
        }
    };
    Ok(if ok {
        Outcome::AllSucceeded
    } else {
        Outcome::SomeFailed
    })
}

fn selection_targets(manager: &Manager, selection: &Selection) -> Result<Targets, Error> {
    if selection.workstations.is_empty() && selection.pools.is_empty() {
        let all = manager.workstations()?;
        return Ok(Targets::workstations(
            all.into_iter().map(|w| w.name.to_string()),
        ));
    }
    Ok(Targets {
        workstations: selection.workstations.clone(),
        pools: selection.pools.clone(),
    })
}

/// A progress bar on stderr when it is a terminal and the output is for people.
fn progress_bar(printer: &Printer, total: usize) -> Option<indicatif::ProgressBar> {
    (!printer.json && std::io::stderr().is_terminal() && total > 1).then(|| {
        let bar = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}") {
            bar.set_style(style);
        }
        bar
    })
}

async fn status(
    manager: &Manager,
    printer: &Printer,
    selection: &Selection,
) -> Result<Outcome, Stop> {
    let targets = selection_targets(manager, selection)?;
    let total = manager.resolve(&targets)?.len();
    let bar = progress_bar(printer, total);
    let results = manager
        .status_bulk(&targets, |p: BulkProgress<'_, WorkstationStatus>| {
            if let Some(bar) = &bar {
                bar.set_position(p.done as u64);
                bar.set_message(p.latest.name.clone());
            }
        })
        .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(printer.status_table(&results))
}

async fn run_bulk(
    manager: &Manager,
    printer: &Printer,
    operation: PowerOperation,
    selection: &Selection,
) -> Result<Outcome, Stop> {
    if selection.workstations.is_empty() && selection.pools.is_empty() {
        return Err(Stop::Usage(
            "name the workstations (--workstation) or pools (--pool) to run on".into(),
        ));
    }
    let targets = selection_targets(manager, selection)?;
    let total = manager.resolve(&targets)?.len();
    let bar = progress_bar(printer, total);
    let printed = Mutex::new(());
    let results = manager
        .run_bulk(
            operation,
            &targets,
            |p: BulkProgress<'_, OperationOutcome>| {
                if let Some(bar) = &bar {
                    bar.set_position(p.done as u64);
                    bar.set_message(p.latest.name.clone());
                }
                let _serialised = printed.lock();
                if printer.json {
                    printer.bulk_line(p.latest);
                }
            },
        )
        .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if !printer.json {
        for result in &results {
            printer.bulk_line(result);
        }
    }
    Ok(if results.iter().all(|r| r.result.is_ok()) {
        Outcome::AllSucceeded
    } else {
        Outcome::SomeFailed
    })
}

fn deployment(
    manager: &Manager,
    printer: &Printer,
    command: &DeploymentCommand,
) -> Result<Outcome, Stop> {
    match command {
        DeploymentCommand::Add { name, ca } => {
            let pem = read_pem(ca)?;
            let deployment = manager
                .add_deployment(name, &pem)
                .map_err(on_deployment(name))?;
            let root = amt_trust::ProviderRoot::from_pem(&pem)
                .map_err(|source| on_deployment(name)(Error::InvalidProviderRoot { source }))?;
            printer.done(
                json!({"deployment": deployment.name.as_str(), "root_subject": root.subject(),
                "root_sha256": root.sha256_fingerprint().to_string()}),
                &format!(
                    "Deployment {} added; provider root {} (SHA-256 {})",
                    deployment.name,
                    root.subject(),
                    root.sha256_fingerprint()
                ),
            );
        }
        DeploymentCommand::List => {
            for d in manager.deployments()? {
                let root = amt_trust::ProviderRoot::from_pem(&d.provider_root_pem);
                let (subject, fingerprint) = match &root {
                    Ok(root) => (
                        root.subject().to_owned(),
                        root.sha256_fingerprint().to_string(),
                    ),
                    Err(e) => (format!("(unusable: {e})"), String::new()),
                };
                printer.done(
                    json!({"deployment": d.name.as_str(), "root_subject": subject, "root_sha256": fingerprint}),
                    &format!("{:<24} {subject}  {fingerprint}", d.name.as_str()),
                );
            }
        }
        DeploymentCommand::SetCa { name, ca } => {
            let pem = read_pem(ca)?;
            manager
                .set_provider_root(name, &pem)
                .map_err(on_deployment(name))?;
            printer.done(
                json!({"deployment": name, "updated": true}),
                &format!("Provider root of {name} replaced"),
            );
        }
        DeploymentCommand::Remove { name } => {
            manager
                .remove_deployment(name)
                .map_err(on_deployment(name))?;
            printer.done(
                json!({"deployment": name, "removed": true}),
                &format!("Deployment {name} removed"),
            );
        }
    }
    Ok(Outcome::AllSucceeded)
}

async fn workstation(
    cli: &Cli,
    manager: &Manager,
    printer: &Printer,
    command: &WorkstationCommand,
) -> Result<Outcome, Stop> {
    match command {
        WorkstationCommand::Add {
            name,
            deployment,
            host,
            port,
            allow_legacy_tls,
        } => {
            let w = manager
                .add_workstation(deployment, name, host, Some(*port), *allow_legacy_tls)
                .map_err(|error| {
                    // The host as given: the workstation may not exist, or be another one.
                    let host = Host::parse(host).map_or_else(|_| host.clone(), |h| h.to_string());
                    Failure::new(error)
                        .about("workstation", name)
                        .about("deployment", deployment)
                        .host(Some(host))
                })?;
            printer.done(
                json!({"workstation": w.name.as_str(), "host": w.host.to_string(), "port": w.port,
                    "allow_legacy_tls": w.allow_legacy_tls}),
                &format!(
                    "Workstation {} added ({}:{}); set its credentials next",
                    w.name, w.host, w.port
                ),
            );
        }
        WorkstationCommand::List => {
            let list = manager.workstations()?;
            if !printer.json {
                println!(
                    "{:<20} {:<32} {:>5} {:<8} {:<12} {:<10} AMT",
                    "NAME", "HOST", "PORT", "MANAGED", "CREDENTIALS", "LEGACY TLS"
                );
            }
            for w in list {
                let version = w.amt_version.as_ref().map(ToString::to_string);
                printer.done(
                    json!({"workstation": w.name.as_str(), "host": w.host.to_string(), "port": w.port,
                        "managed": w.managed, "has_credentials": w.has_credentials(),
                        "allow_legacy_tls": w.allow_legacy_tls, "amt_version": version}),
                    &format!(
                        "{:<20} {:<32} {:>5} {:<8} {:<12} {:<10} {}",
                        w.name.as_str(), w.host.to_string(), w.port, yes_no(w.managed),
                        w.username.as_deref().unwrap_or("-"), yes_no(w.allow_legacy_tls),
                        version.as_deref().unwrap_or("-")
                    ),
                );
            }
        }
        WorkstationCommand::Remove { name } => {
            manager
                .remove_workstation(name)
                .map_err(on_workstation(manager, name))?;
            printer.done(
                json!({"workstation": name, "removed": true}),
                &format!("Workstation {name} removed"),
            );
        }
        WorkstationCommand::SetManaged { name, state } => {
            manager
                .set_managed(name, state.is_on())
                .map_err(on_workstation(manager, name))?;
            printer.done(
                json!({"workstation": name, "managed": state.is_on()}),
                &format!(
                    "Workstation {name}: management {}",
                    if state.is_on() { "on" } else { "off" }
                ),
            );
        }
        WorkstationCommand::SetAllowLegacyTls { name, state } => {
            manager
                .set_allow_legacy_tls(name, state.is_on())
                .map_err(on_workstation(manager, name))?;
            printer.done(
                json!({"workstation": name, "allow_legacy_tls": state.is_on()}),
                &format!(
                    "Workstation {name}: legacy TLS {}",
                    if state.is_on() {
                        "allowed"
                    } else {
                        "forbidden"
                    }
                ),
            );
        }
        WorkstationCommand::SetCredentials { name, user } => {
            let password = password(cli)?;
            manager
                .set_credentials(name, user, password)
                .await
                .map_err(on_workstation(manager, name))?;
            printer.done(
                json!({"workstation": name, "credentials": "validated and stored"}),
                &format!("Credentials of {name} validated and stored"),
            );
        }
        WorkstationCommand::ClearCredentials { name } => {
            manager
                .clear_credentials(name)
                .map_err(on_workstation(manager, name))?;
            printer.done(
                json!({"workstation": name, "credentials": "removed"}),
                &format!("Credentials of {name} removed"),
            );
        }
    }
    Ok(Outcome::AllSucceeded)
}

fn pool(manager: &Manager, printer: &Printer, command: &PoolCommand) -> Result<Outcome, Stop> {
    match command {
        PoolCommand::Add { name } => {
            let p = manager.add_pool(name).map_err(on_pool(name))?;
            printer.done(
                json!({"pool": p.name.as_str()}),
                &format!("Pool {} added", p.name),
            );
        }
        PoolCommand::AddMember { pool, workstation } => {
            manager
                .add_pool_member(pool, workstation)
                .map_err(on_member(manager, pool, workstation))?;
            printer.done(
                json!({"pool": pool, "workstation": workstation, "member": true}),
                &format!("{workstation} is in pool {pool}"),
            );
        }
        PoolCommand::RemoveMember { pool, workstation } => {
            manager
                .remove_pool_member(pool, workstation)
                .map_err(on_member(manager, pool, workstation))?;
            printer.done(
                json!({"pool": pool, "workstation": workstation, "member": false}),
                &format!("{workstation} left pool {pool}"),
            );
        }
        PoolCommand::List => {
            let pools = manager.pools()?;
            let workstations = manager.workstations()?;
            for pool in pools {
                let members: Vec<&str> = pool
                    .members
                    .iter()
                    .filter_map(|id| workstations.iter().find(|w| w.id == *id))
                    .map(|w| w.name.as_str())
                    .collect();
                printer.done(
                    json!({"pool": pool.name.as_str(), "members": members}),
                    &format!("{:<20} {}", pool.name.as_str(), members.join(", ")),
                );
            }
        }
        PoolCommand::Remove { name } => {
            manager.remove_pool(name).map_err(on_pool(name))?;
            printer.done(
                json!({"pool": name, "removed": true}),
                &format!("Pool {name} removed"),
            );
        }
    }
    Ok(Outcome::AllSucceeded)
}

/// The names of the operations available now, in the product's order.
fn available_names(status: &WorkstationStatus) -> Vec<&'static str> {
    status
        .availability
        .available()
        .map(|op| op.kebab_name())
        .collect()
}

/// The documented status object; in inventory mode it also names the workstation.
fn status_json(status: &WorkstationStatus, workstation: Option<&str>) -> serde_json::Value {
    let mut value = json!({
        "host": status.host,
        "power_state": status.power_state.label(),
        "power_state_code": status.power_state.code(),
        "available_operations": available_names(status),
        "amt_version": status.amt_version.as_ref().map(ToString::to_string),
    });
    name_workstation(&mut value, workstation);
    value
}

/// The documented operation object; in inventory mode it also names the workstation.
fn operation_json(outcome: &OperationOutcome, workstation: Option<&str>) -> serde_json::Value {
    let state = outcome.state_after.unwrap_or(outcome.state_before);
    let mut value = json!({
        "host": outcome.host,
        "operation": outcome.operation.kebab_name(),
        "return_value": outcome.return_value.code(),
        "accepted": outcome.accepted(),
        "power_state_code": state.code(),
    });
    name_workstation(&mut value, workstation);
    value
}

/// The documented failure object; in inventory mode it also names the workstation.
fn failure_json(host: &str, error: &Error, workstation: Option<&str>) -> serde_json::Value {
    let mut value = json!({"host": host, "error": error.to_string(), "kind": error.kind()});
    name_workstation(&mut value, workstation);
    value
}

fn name_workstation(value: &mut serde_json::Value, workstation: Option<&str>) {
    if let (Some(name), Some(object)) = (workstation, value.as_object_mut()) {
        object.insert("workstation".to_owned(), json!(name));
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// Writes results for people or, with --json, one JSON object per line.
struct Printer {
    json: bool,
}

impl Printer {
    fn emit(&self, value: serde_json::Value) {
        println!("{value}");
    }

    fn done(&self, value: serde_json::Value, text: &str) {
        if self.json {
            self.emit(value)
        } else {
            println!("{text}")
        }
    }

    /// Prints a command's own failure: the failure object with --json, otherwise a line on stderr.
    fn command_failure(&self, failure: &Failure) {
        if self.json {
            self.emit(failure.json());
        } else if let Some(host) = &failure.host {
            eprintln!("amtctl: {host}: {}", failure.error.chain());
        } else {
            eprintln!("amtctl: {}", failure.error.chain());
        }
    }

    fn failure(&self, host: &str, error: &Error) -> bool {
        if self.json {
            self.emit(failure_json(host, error, None));
        } else {
            eprintln!("{host}: {}", error.chain());
        }
        false
    }

    fn status(&self, status: &WorkstationStatus) -> bool {
        let available = available_names(status);
        let version = status.amt_version.as_ref().map(ToString::to_string);
        if self.json {
            self.emit(status_json(status, None));
        } else {
            println!(
                "{}: {} (code {})",
                status.host,
                status.power_state,
                status.power_state.code()
            );
            println!(
                "  Intel AMT {}",
                version.as_deref().unwrap_or("version unknown")
            );
            println!(
                "  available: {}",
                if available.is_empty() {
                    "none".to_owned()
                } else {
                    available.join(", ")
                }
            );
            for (operation, reason) in status.availability.unavailable() {
                println!("  {operation}: {reason}");
            }
        }
        true
    }

    fn validated(&self, host: &str, version: Option<&amt_power::AmtVersion>) -> bool {
        let version = version.map(ToString::to_string);
        self.done(
            json!({"host": host, "valid": true, "amt_version": version}),
            &format!(
                "{host}: credentials accepted (Intel AMT {})",
                version.as_deref().unwrap_or("version unknown")
            ),
        );
        true
    }

    fn operation(&self, outcome: &OperationOutcome) -> bool {
        let state = outcome.state_after.unwrap_or(outcome.state_before);
        if self.json {
            self.emit(operation_json(outcome, None));
        } else {
            let confirmation = match outcome.confirmed {
                Some(true) => format!("; now {state}"),
                Some(false) => {
                    format!("; the change was not seen yet (still {state}): check again later")
                }
                None => String::new(),
            };
            println!(
                "{}: {} accepted{confirmation}",
                outcome.host, outcome.operation
            );
        }
        true
    }

    fn bulk_line(&self, result: &BulkResult<OperationOutcome>) {
        match &result.result {
            Ok(outcome) => {
                if self.json {
                    self.emit(operation_json(outcome, Some(&result.name)));
                } else {
                    print!("{} ", result.name);
                    self.operation(outcome);
                }
            }
            Err(error) => {
                if self.json {
                    self.emit(failure_json(&result.host, error, Some(&result.name)));
                } else {
                    println!("{} {}: {}", result.name, result.host, error);
                }
            }
        }
    }

    fn status_table(&self, results: &[BulkResult<WorkstationStatus>]) -> Outcome {
        if !self.json {
            println!(
                "{:<20} {:<28} {:<14} {:<10} AVAILABLE",
                "WORKSTATION", "HOST", "STATE", "AMT"
            );
        }
        let mut all_ok = true;
        for result in results {
            match &result.result {
                Ok(status) => {
                    let available = available_names(status);
                    let version = status.amt_version.as_ref().map(ToString::to_string);
                    if self.json {
                        self.emit(status_json(status, Some(&result.name)));
                    } else {
                        println!(
                            "{:<20} {:<28} {:<14} {:<10} {}",
                            result.name,
                            status.host,
                            status.power_state.to_string(),
                            version.as_deref().unwrap_or("-"),
                            available.join(", ")
                        );
                    }
                }
                Err(error) => {
                    all_ok = false;
                    if self.json {
                        self.emit(failure_json(&result.host, error, Some(&result.name)));
                    } else {
                        println!("{:<20} {}", result.name, error);
                    }
                }
            }
        }
        if all_ok {
            Outcome::AllSucceeded
        } else {
            Outcome::SomeFailed
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    /// The subcommands (by path) and arguments (as `path --id`) without help text.
    fn undocumented(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in command.get_arguments() {
            if arg.get_help().is_none() {
                missing.push(format!("{path} --{}", arg.get_id()));
            }
        }
        for subcommand in command.get_subcommands() {
            let path = format!("{path} {}", subcommand.get_name());
            if subcommand.get_about().is_none() {
                missing.push(path.clone());
            }
            undocumented(subcommand, &path, missing);
        }
    }

    #[test]
    fn every_subcommand_and_argument_has_help_text() {
        let mut command = Cli::command();
        // Building adds the generated --help, --version and `help` and propagates the global
        // options, so they are checked too.
        command.build();
        command.clone().debug_assert();
        let mut missing = Vec::new();
        undocumented(&command, "amtctl", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
        assert!(
            command.get_subcommands().count() > 10 && command.get_arguments().count() > 10,
            "the walk saw the whole command"
        );
    }
}
