//! The manager against simulated devices: every flow of the product and every row of the error
//! table.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use amt_manager::vault::VaultKey;
use amt_manager::{
    Confirmation, DirectTarget, Error, Manager, ManagerOptions, ManualClock, MemoryStore,
    SqliteStore, Targets, Timeouts,
};
use amt_power::{PowerOperation, PowerState, Unavailable};
use amt_sim::{
    DeviceConfig, Fault, FaultRule, LeafIssuer, LeafSpec, SimCa, SimDevice, Timing, Validity,
};
use amt_trust::Host;
use secrecy::SecretString;

#[path = "manager/bulk.rs"]
mod bulk;
#[path = "manager/legacy.rs"]
mod legacy;
#[path = "manager/processes.rs"]
mod processes;
#[path = "manager/rotation.rs"]
mod rotation;

const PASSWORD: &str = "P@ssw0rd1";

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().expect("valid address")
}

/// A device with quick power transitions.
fn device_config() -> DeviceConfig {
    let mut config = DeviceConfig::new(PASSWORD).on(any_port());
    config.timing = Timing {
        change_delay: Duration::from_millis(50),
        graceful_delay: Duration::from_millis(150),
    };
    config
}

fn options() -> ManagerOptions {
    let mut options = ManagerOptions::default();
    options.timeouts = Timeouts::uniform(Duration::from_secs(2));
    options.confirmation = Some(Confirmation {
        deadline: Duration::from_secs(3),
        interval: Duration::from_millis(20),
    });
    options
}

struct Lab {
    ca: SimCa,
    manager: Manager,
    clock: Arc<ManualClock>,
    devices: Vec<SimDevice>,
}

impl Lab {
    fn new() -> Self {
        Self::with_options(options())
    }

    fn with_options(options: ManagerOptions) -> Self {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000));
        let manager = Manager::builder()
            .store(MemoryStore::new())
            .vault_key(VaultKey::generate().expect("key"))
            .clock(clock.clone())
            .options(options)
            .build()
            .expect("manager");
        let ca = SimCa::generate("lab provider root").expect("CA");
        manager
            .add_deployment("lab", ca.cert_pem())
            .expect("deployment");
        Self {
            ca,
            manager,
            clock,
            devices: Vec::new(),
        }
    }

    /// Starts a device and registers it as `name` (not managed, no credentials).
    async fn add(&mut self, name: &str, config: DeviceConfig) -> usize {
        let device = SimDevice::start(config, &self.ca).await.expect("device");
        self.manager
            .add_workstation("lab", name, "127.0.0.1", Some(device.addr().port()), false)
            .expect("workstation");
        self.devices.push(device);
        self.devices.len() - 1
    }

    /// Starts a device and registers it managed, with validated credentials.
    async fn add_managed(&mut self, name: &str, config: DeviceConfig) -> usize {
        let index = self.add(name, config).await;
        self.manager
            .set_credentials(name, "admin", SecretString::from(PASSWORD))
            .await
            .expect("credentials");
        self.manager.set_managed(name, true).expect("managed");
        index
    }
}

/// Registers `device` in `manager` as the managed workstation `ws-1` of a deployment `lab` that
/// trusts `ca`, with validated credentials.
async fn register_managed_ws1(manager: &Manager, ca: &SimCa, device: &amt_sim::SimDevice) {
    manager
        .add_deployment("lab", ca.cert_pem())
        .expect("deployment");
    manager
        .add_workstation(
            "lab",
            "ws-1",
            "127.0.0.1",
            Some(device.addr().port()),
            false,
        )
        .expect("ws");
    manager
        .set_credentials("ws-1", "admin", SecretString::from(PASSWORD))
        .await
        .expect("credentials");
    manager.set_managed("ws-1", true).expect("managed");
}

/// A workstation on 127.0.0.1:`port` reached without the inventory.
fn direct_to(port: u16, ca: &SimCa, allow_legacy_tls: bool) -> DirectTarget {
    DirectTarget {
        host: Host::parse("127.0.0.1").expect("host"),
        port,
        provider_root_pem: ca.cert_pem().to_owned(),
        username: "admin".into(),
        password: SecretString::from(PASSWORD),
        allow_legacy_tls,
    }
}

/// What the operating system says when a connection to `port` on loopback is refused.
fn refused_connection(port: u16) -> String {
    std::net::TcpStream::connect(("127.0.0.1", port))
        .expect_err("nothing listens")
        .to_string()
}

fn assert_error(result: Result<impl std::fmt::Debug, Error>, kind: &str, message: &str) {
    match result {
        Err(error) => {
            assert_eq!(error.kind(), kind, "{error}");
            assert_eq!(error.to_string(), message);
        }
        Ok(value) => panic!("expected {kind}, got {value:?}"),
    }
}

#[tokio::test]
async fn inventory_names_are_checked_and_clear_errors_name_them() {
    let mut lab = Lab::new();
    lab.add("ws-1", device_config()).await;
    let m = &lab.manager;
    assert_error(
        m.add_deployment("lab", lab.ca.cert_pem()),
        "duplicate",
        r#"Deployment "lab" already exists"#,
    );
    assert_error(
        m.add_workstation("lab", "ws-1", "ws1.example.com", None, false),
        "duplicate",
        r#"Workstation "ws-1" already exists"#,
    );
    assert_error(
        m.add_workstation("nope", "ws-2", "ws2.example.com", None, false),
        "not_found",
        r#"Deployment "nope" does not exist"#,
    );
    assert_error(
        m.workstation("ghost"),
        "not_found",
        r#"Workstation "ghost" does not exist"#,
    );
    assert_eq!(
        m.add_workstation("lab", "ws-2", "bad host!", None, false)
            .unwrap_err()
            .kind(),
        "invalid_input"
    );
    assert_error(
        m.add_deployment("other", "not a certificate"),
        "invalid_provider_root",
        "The Intel provider CA certificate cannot be used: the provider CA certificate is not PEM text (expected a \
         -----BEGIN CERTIFICATE----- block)",
    );
    assert_error(
        m.remove_deployment("lab"),
        "in_use",
        r#"Deployment "lab" still has 1 workstation(s); remove them first"#,
    );
    m.add_pool("floor-1").expect("pool");
    assert_error(
        m.remove_pool_member("floor-1", "ws-1"),
        "not_found",
        r#"Workstation "ws-1" is not a member of pool "floor-1""#,
    );
    assert_error(
        m.add_pool(""),
        "invalid_input",
        r#"Invalid input: the name "" is empty"#,
    );

    let updated = m
        .update_workstation("ws-1", Some("ws-one"), None, None)
        .expect("rename");
    assert_eq!(updated.name.as_str(), "ws-one");
    m.remove_workstation("ws-one").expect("remove");
    m.remove_deployment("lab").expect("empty deployment goes");
    assert!(m.deployments().expect("list").is_empty());
}

#[tokio::test]
async fn saving_credentials_validates_them_first_and_stores_nothing_on_failure() {
    let mut lab = Lab::new();
    let i = lab.add("ws-1", device_config()).await;
    let m = lab.manager.clone();

    assert_error(
        m.set_credentials("ws-1", "admin", SecretString::from("wrong"))
            .await,
        "credentials_invalid",
        "Error validating management credentials: the workstation refused the user name or password",
    );
    assert!(
        m.workstation("ws-1").expect("ws").username.is_none(),
        "nothing stored"
    );
    assert_eq!(lab.devices[i].counters().failed_logins, 1);

    m.set_credentials("ws-1", "admin", SecretString::from(PASSWORD))
        .await
        .expect("right password");
    let ws = m.workstation("ws-1").expect("ws");
    assert_eq!(ws.username.as_deref(), Some("admin"));
    assert_eq!(
        ws.amt_version.map(|v| v.to_string()).as_deref(),
        Some("16.1.25"),
        "version cached"
    );
    assert!(!ws.managed, "validation does not turn management on");

    // A workstation nobody listens for.
    let closed = std::net::TcpListener::bind(any_port()).expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    m.add_workstation("lab", "gone", "127.0.0.1", Some(port), false)
        .expect("ws");
    let error = m
        .set_credentials("gone", "admin", SecretString::from(PASSWORD))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "credentials_invalid");
    assert_eq!(
        error.to_string(),
        format!(
            "Error validating management credentials: The workstation could not be reached: \
             the connection was refused ({})",
            refused_connection(port)
        ),
    );
    assert!(
        m.workstation("gone").expect("ws").username.is_none(),
        "nothing stored"
    );

    // A workstation whose certificate comes from another CA.
    let mut foreign = device_config();
    foreign.leaf = LeafSpec {
        issuer: LeafIssuer::ForeignCa,
        ..LeafSpec::default()
    };
    lab.add("foreign", foreign).await;
    assert_error(
        lab.manager
            .set_credentials("foreign", "admin", SecretString::from(PASSWORD))
            .await,
        "credentials_invalid",
        "Error validating management credentials: AMT root certificate does not match Intel provider CA certificate",
    );
    assert!(
        lab.manager
            .workstation("foreign")
            .expect("ws")
            .username
            .is_none()
    );
}

#[tokio::test]
async fn management_needs_credentials_and_operations_need_management() {
    let mut lab = Lab::new();
    lab.add("ws-1", device_config()).await;
    let m = lab.manager.clone();
    assert_error(
        m.set_managed("ws-1", true),
        "not_manageable",
        "This workstation cannot be managed by Intel AMT without administrator credentials",
    );
    assert_error(
        m.status("ws-1").await,
        "no_credentials",
        "No credentials found.",
    );
    m.set_credentials("ws-1", "admin", SecretString::from(PASSWORD))
        .await
        .expect("credentials");
    assert_error(
        m.run("ws-1", PowerOperation::Reset).await,
        "not_managed",
        "Workstation ws-1 is not managed; turn management on to run power operations",
    );
    m.set_managed("ws-1", true).expect("managed");
    m.clear_credentials("ws-1").expect("clear");
    let ws = m.workstation("ws-1").expect("ws");
    assert!(
        !ws.managed && ws.username.is_none(),
        "clearing credentials turns management off"
    );
}

#[tokio::test]
async fn status_reports_availability_with_reasons() {
    let mut lab = Lab::new();
    let mut no_lms = device_config();
    no_lms.lms = false;
    lab.add_managed("no-lms", no_lms).await;
    let mut amt9 = device_config();
    amt9.amt_version = "9.5.30".parse().expect("version");
    lab.add_managed("amt9", amt9).await;
    let mut off = device_config();
    off.power_state = PowerState::OffSoft;
    lab.add_managed("off", off).await;
    let m = &lab.manager;

    let status = m.status("no-lms").await.expect("status");
    assert_eq!(status.power_state, PowerState::On);
    assert_eq!(status.os_power_state, Some(2));
    let available: Vec<_> = status.availability.available().collect();
    assert_eq!(
        available,
        [
            PowerOperation::PowerOff,
            PowerOperation::Reset,
            PowerOperation::PowerCycle
        ]
    );
    assert!(matches!(
        status.availability.reason(PowerOperation::GracefulShutdown),
        Some(Unavailable::NotOfferedByDevice { .. })
    ));

    let status = m.status("amt9").await.expect("status");
    assert!(
        status
            .availability
            .is_available(PowerOperation::GracefulShutdown)
    );
    assert!(matches!(
        status.availability.reason(PowerOperation::GracefulRestart),
        Some(Unavailable::NeedsAmtVersion {
            minimum_major: 10,
            ..
        })
    ));
    assert_eq!(
        status.os_power_state, None,
        "no IPS_PowerManagementService before AMT 10"
    );

    let status = m.status("off").await.expect("status");
    assert_eq!(
        status.availability.available().collect::<Vec<_>>(),
        [PowerOperation::PowerOn]
    );
    assert!(matches!(
        status.availability.reason(PowerOperation::Reset),
        Some(Unavailable::NotAllowedInState {
            state: PowerState::OffSoft
        })
    ));
}

#[tokio::test]
async fn every_operation_and_alias_runs_and_is_confirmed() {
    let mut lab = Lab::new();
    let cases = [
        ("start", PowerState::OffSoft, PowerState::On),
        ("power-on", PowerState::Hibernate, PowerState::On),
        ("stop", PowerState::On, PowerState::OffSoft),
        ("restart", PowerState::On, PowerState::On),
        ("graceful-shutdown", PowerState::On, PowerState::OffSoft),
        ("graceful-restart", PowerState::On, PowerState::On),
        ("power-cycle", PowerState::On, PowerState::On),
    ];
    for (i, (name, initial, _)) in cases.iter().enumerate() {
        let mut config = device_config();
        config.power_state = *initial;
        lab.add_managed(&format!("ws-{i}"), config).await;
        let _ = name;
    }
    for (i, (name, initial, expected)) in cases.iter().enumerate() {
        let operation: PowerOperation = name.parse().expect("operation");
        let outcome = lab
            .manager
            .run(&format!("ws-{i}"), operation)
            .await
            .expect(name);
        assert!(outcome.accepted(), "{name}");
        assert_eq!(outcome.state_before, *initial, "{name}");
        assert_eq!(outcome.confirmed, Some(true), "{name}: the change was seen");
        assert_eq!(
            outcome.state_after.map(|s| s.class()),
            Some(expected.class()),
            "{name}"
        );
        assert_eq!(
            lab.devices[i]
                .counters()
                .invokes_of(operation.requested_state()),
            1,
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_change_not_seen_before_the_deadline_is_reported_unconfirmed() {
    let mut options = options();
    options.confirmation = Some(Confirmation {
        deadline: Duration::from_millis(200),
        interval: Duration::from_millis(20),
    });
    let mut lab = Lab::with_options(options);
    let mut slow = device_config();
    slow.timing.graceful_delay = Duration::from_secs(60);
    lab.add_managed("slow", slow).await;
    let outcome = lab
        .manager
        .run("slow", PowerOperation::GracefulShutdown)
        .await
        .expect("run");
    assert!(outcome.accepted());
    assert_eq!(
        outcome.confirmed,
        Some(false),
        "AMT accepted, but the state has not changed yet"
    );
    assert_eq!(outcome.state_after, Some(PowerState::On));

    let mut unconfirmed = ManagerOptions::default();
    unconfirmed.confirmation = None;
    let mut lab = Lab::with_options(unconfirmed);
    lab.add_managed("fast", device_config()).await;
    let outcome = lab
        .manager
        .run("fast", PowerOperation::PowerOff)
        .await
        .expect("run");
    assert_eq!((outcome.confirmed, outcome.state_after), (None, None));
}

#[tokio::test]
async fn the_cooldown_refuses_before_any_network_call_and_ends_after_20_s() {
    let mut lab = Lab::new();
    let i = lab.add_managed("ws-1", device_config()).await;
    lab.manager
        .run("ws-1", PowerOperation::Reset)
        .await
        .expect("reset");
    let before = lab.devices[i].counters();

    lab.clock.advance(Duration::from_millis(7_400));
    assert_error(
        lab.manager.run("ws-1", PowerOperation::PowerOff).await,
        "cooling_down",
        "A power operation was sent to this workstation 7 s ago; the next is allowed in 13 s",
    );
    assert_eq!(
        lab.devices[i].counters(),
        before,
        "nothing reached the device"
    );

    lab.clock.advance(Duration::from_millis(12_599));
    assert_eq!(
        lab.manager
            .run("ws-1", PowerOperation::PowerOff)
            .await
            .unwrap_err()
            .kind(),
        "cooling_down"
    );
    lab.clock.advance(Duration::from_millis(1));
    lab.manager
        .run("ws-1", PowerOperation::PowerOff)
        .await
        .expect("20 s later");
}

#[tokio::test]
async fn an_unavailable_operation_releases_the_gate_without_cooldown() {
    let mut lab = Lab::new();
    let mut amt9 = device_config();
    amt9.amt_version = "9.0.1".parse().expect("version");
    let i = lab.add_managed("amt9", amt9).await;
    assert_error(
        lab.manager.run("amt9", PowerOperation::PowerOn).await,
        "operation_unavailable",
        "Power On is not available while the workstation is on",
    );
    assert_error(
        lab.manager
            .run("amt9", PowerOperation::GracefulRestart)
            .await,
        "amt_version_too_old",
        "Graceful Restart requires Intel AMT 10 or later; this workstation runs 9.0.1",
    );
    assert_eq!(lab.devices[i].counters().total_invokes(), 0);
    lab.manager
        .run("amt9", PowerOperation::Reset)
        .await
        .expect("no cooldown was started");
}

#[tokio::test]
async fn the_cooldown_survives_reopening_the_inventory() {
    let dir = tempfile::tempdir().expect("dir");
    let (db, key) = (
        dir.path().join("inventory.db"),
        dir.path().join("vault.key"),
    );
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let ca = SimCa::generate("root").expect("CA");
    let device = SimDevice::start(device_config(), &ca)
        .await
        .expect("device");
    {
        let manager = Manager::builder()
            .store(SqliteStore::open(&db).expect("db"))
            .key_file(&key)
            .clock(clock.clone())
            .options(options())
            .build()
            .expect("manager");
        register_managed_ws1(&manager, &ca, &device).await;
        manager
            .run("ws-1", PowerOperation::Reset)
            .await
            .expect("reset");
    }
    clock.advance(Duration::from_secs(5));
    let reopened = Manager::builder()
        .store(SqliteStore::open(&db).expect("db"))
        .key_file(&key)
        .clock(clock.clone())
        .options(options())
        .build()
        .expect("manager");
    assert_eq!(
        reopened
            .run("ws-1", PowerOperation::Reset)
            .await
            .unwrap_err()
            .kind(),
        "cooling_down"
    );
    // Direct mode against the same device shares the inventory's cooldown.
    let direct = direct_to(device.addr().port(), &ca, false);
    assert_eq!(
        reopened
            .run_direct(direct, PowerOperation::Reset)
            .await
            .unwrap_err()
            .kind(),
        "cooling_down"
    );
    assert_eq!(device.counters().total_invokes(), 1);
}

#[tokio::test]
async fn a_refused_power_change_is_reported_with_amts_reason() {
    let mut lab = Lab::new();
    let mut kvm = device_config();
    kvm.redirection_session = true;
    lab.add_managed("kvm", kvm).await;
    assert_error(
        lab.manager.run("kvm", PowerOperation::PowerOff).await,
        "operation_refused",
        "Intel AMT refused Power Off: not possible now (the transition is not allowed, a remote \
         KVM, SOL or IDE-R session is open, or the OS agent is not running)",
    );
}

#[tokio::test]
async fn bulk_runs_cover_overlapping_pools_once_and_survive_a_failure() {
    let mut lab = Lab::new();
    for name in ["a", "b", "c", "d"] {
        lab.add_managed(name, device_config()).await;
    }
    let mut off = device_config();
    off.power_state = PowerState::OffSoft;
    lab.add_managed("off", off).await;
    let m = lab.manager.clone();
    for (pool, members) in [("floor-1", ["a", "b", "off"]), ("floor-2", ["b", "c", "d"])] {
        m.add_pool(pool).expect("pool");
        for member in members {
            m.add_pool_member(pool, member).expect("member");
        }
    }
    let seen = std::sync::Mutex::new(Vec::new());
    let results = m
        .run_bulk(
            PowerOperation::Reset,
            &Targets::pools(["floor-1", "floor-2"]),
            |p| {
                seen.lock()
                    .expect("lock")
                    .push((p.done, p.total, p.latest.name.clone()));
            },
        )
        .await
        .expect("bulk");
    let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["a", "b", "off", "c", "d"],
        "each once, in the order named"
    );
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| r.result.is_err())
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        failed,
        ["off"],
        "Reset is unavailable while off; the others ran"
    );
    let seen = seen.into_inner().expect("lock");
    assert_eq!(seen.len(), 5);
    assert!(seen.iter().all(|(_, total, _)| *total == 5));
    let invokes: u64 = lab
        .devices
        .iter()
        .map(|d| d.counters().invokes_of(10))
        .sum();
    assert_eq!(invokes, 4, "b, in both pools, ran once");

    assert_eq!(
        m.run_bulk(PowerOperation::Reset, &Targets::pools(["nope"]), |_| {})
            .await
            .unwrap_err()
            .kind(),
        "not_found"
    );
}

#[tokio::test]
async fn bulk_results_time_each_workstation_from_its_slot() {
    let mut options = options();
    options.concurrency = 1;
    options.read_os_power_state = false;
    let mut lab = Lab::with_options(options);
    let slow_latency = Duration::from_millis(300);
    let mut slow = device_config();
    slow.faults
        .push(FaultRule::always(Fault::Latency(slow_latency)));
    lab.add_managed("slow", slow).await;
    lab.add_managed("fast", device_config()).await;
    let started = tokio::time::Instant::now();
    let results = lab
        .manager
        .status_bulk(&Targets::workstations(["slow", "fast"]), |_| {})
        .await
        .expect("bulk");
    let total = started.elapsed();
    let [slow, fast] = results.as_slice() else {
        panic!("two results: {results:?}");
    };
    assert!(slow.result.is_ok() && fast.result.is_ok(), "{results:?}");
    assert!(slow.elapsed >= slow_latency, "{:?}", slow.elapsed);
    assert!(slow.elapsed <= total, "{:?} within {total:?}", slow.elapsed);
    // One slot: "fast" waited for "slow" to finish, and that wait is not its own time.
    assert!(
        fast.elapsed < slow_latency,
        "{:?} counts only its own call",
        fast.elapsed
    );
}

#[tokio::test]
async fn key_rotation_reseals_every_record() {
    let dir = tempfile::tempdir().expect("dir");
    let (db, key) = (
        dir.path().join("inventory.db"),
        dir.path().join("vault.key"),
    );
    let ca = SimCa::generate("root").expect("CA");
    let device = SimDevice::start(device_config(), &ca)
        .await
        .expect("device");
    let open = || {
        Manager::builder()
            .store(SqliteStore::open(&db).expect("db"))
            .key_file(&key)
            .options(options())
            .build()
            .expect("manager")
    };
    let manager = open();
    manager
        .add_deployment("lab", ca.cert_pem())
        .expect("deployment");
    for name in ["one", "two"] {
        manager
            .add_workstation(
                "lab",
                name,
                if name == "one" {
                    "127.0.0.1"
                } else {
                    "localhost"
                },
                Some(device.addr().port()),
                false,
            )
            .expect("ws");
        manager
            .set_credentials(name, "admin", SecretString::from(PASSWORD))
            .await
            .expect("credentials");
    }
    let old_key = std::fs::read(&key).expect("key file");
    let rotation = manager.rotate_vault_key().expect("rotate");
    assert!(
        rotation.finished && rotation.unopenable.is_empty(),
        "{rotation:?}"
    );
    assert_eq!(rotation.resealed, 2);
    let new_id = rotation.key_id;
    assert_ne!(
        std::fs::read(&key).expect("key file"),
        old_key,
        "the key file holds the new key"
    );
    for (_, stored) in manager.store().all_credentials().expect("records") {
        assert_eq!(stored.sealed.key_id(), Some(new_id));
    }
    drop(manager);
    let reopened = open();
    reopened
        .status("one")
        .await
        .expect("the new key opens the records");
    reopened
        .status("two")
        .await
        .expect("the new key opens the records");
}

#[tokio::test]
async fn an_interrupted_rotation_is_finished_on_the_next_start() {
    let dir = tempfile::tempdir().expect("dir");
    let (db, key) = (
        dir.path().join("inventory.db"),
        dir.path().join("vault.key"),
    );
    let ca = SimCa::generate("root").expect("CA");
    let device = SimDevice::start(device_config(), &ca)
        .await
        .expect("device");
    let manager = Manager::builder()
        .store(SqliteStore::open(&db).expect("db"))
        .key_file(&key)
        .build()
        .expect("manager");
    manager
        .add_deployment("lab", ca.cert_pem())
        .expect("deployment");
    manager
        .add_workstation("lab", "one", "127.0.0.1", Some(device.addr().port()), false)
        .expect("ws");
    manager
        .set_credentials("one", "admin", SecretString::from(PASSWORD))
        .await
        .expect("credentials");
    drop(manager);
    // A rotation that wrote its new key and stopped before resealing anything.
    let next = VaultKey::generate().expect("key");
    next.write_new_file(&dir.path().join("vault.key.next"))
        .expect("next key");
    let manager = Manager::builder()
        .store(SqliteStore::open(&db).expect("db"))
        .key_file(&key)
        .build()
        .expect("manager");
    assert!(
        !dir.path().join("vault.key.next").exists(),
        "the rotation was finished"
    );
    let (_, stored) = manager
        .store()
        .all_credentials()
        .expect("records")
        .remove(0);
    assert_eq!(stored.sealed.key_id(), Some(next.id()));
    manager.status("one").await.expect("still opens");
}

#[tokio::test]
async fn the_database_file_never_holds_a_password_in_clear() {
    let dir = tempfile::tempdir().expect("dir");
    let (db, key) = (
        dir.path().join("inventory.db"),
        dir.path().join("vault.key"),
    );
    let ca = SimCa::generate("root").expect("CA");
    let secret = "Sup3r-S3cret-Passw0rd!";
    let mut config = device_config();
    config.password = SecretString::from(secret);
    let device = SimDevice::start(config, &ca).await.expect("device");
    let manager = Manager::open(&db, &key).expect("manager");
    manager
        .add_deployment("lab", ca.cert_pem())
        .expect("deployment");
    let ws = manager
        .add_workstation("lab", "one", "127.0.0.1", Some(device.addr().port()), false)
        .expect("ws");
    manager
        .set_credentials("one", "admin", SecretString::from(secret))
        .await
        .expect("credentials");

    let contains = |bytes: &[u8], needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    // While the manager is open, recent writes live in the WAL (it is checkpointed and removed
    // when the last connection closes), so the WAL is scanned as well as the database file.
    let scan = |stage: &str| {
        let sealed = manager
            .store()
            .credentials(ws.id)
            .expect("read")
            .expect("stored")
            .sealed;
        for suffix in ["", "-wal", "-shm"] {
            let path = dir.path().join(format!("inventory.db{suffix}"));
            let bytes = std::fs::read(&path).expect("the file exists while the manager is open");
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{stage}: {} holds the password",
                path.display()
            );
            if suffix == "-wal" {
                assert!(
                    contains(&bytes, sealed.as_bytes()),
                    "{stage}: the WAL holds the sealed record, so its scan tells"
                );
            }
        }
    };
    scan("saved");
    manager.rotate_vault_key().expect("rotate");
    scan("rotated");
}

#[tokio::test]
async fn network_and_certificate_failures_map_to_their_rows() {
    let mut lab = Lab::new();
    let mut wrong_name = device_config();
    wrong_name.leaf = LeafSpec::names(["other.example"]);
    lab.add("wrong-name", wrong_name).await;
    let mut expired = device_config();
    expired.leaf = LeafSpec {
        validity: Validity::Expired,
        ..LeafSpec::default()
    };
    lab.add("expired", expired).await;
    let stalled = lab.add_managed("stalled", device_config()).await;
    let malformed = lab.add_managed("malformed", device_config()).await;
    let m = lab.manager.clone();

    let direct = |port: u16| direct_to(port, &lab.ca, false);
    assert_error(
        m.status_direct(direct(lab.devices[0].addr().port())).await,
        "name_mismatch",
        "FQDN/IP does not match AMT certificate subject",
    );
    let mut foreign_root = direct(lab.devices[1].addr().port());
    foreign_root.provider_root_pem = SimCa::generate("another root")
        .expect("CA")
        .cert_pem()
        .to_owned();
    assert_error(
        m.status_direct(foreign_root).await,
        "root_mismatch",
        "AMT root certificate does not match Intel provider CA certificate",
    );
    let error = m
        .status_direct(direct(lab.devices[1].addr().port()))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "certificate_invalid");
    // Exact but for the two instants, which depend on when the test runs.
    let message = error.to_string();
    let times = message
        .strip_prefix("AMT certificate is not valid: the certificate expired at ")
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|rest| rest.split_once(" (checked at "));
    let is_instant = |t: &str| {
        t.len() == 20
            && t.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                10 => b == b'T',
                13 | 16 => b == b':',
                19 => b == b'Z',
                _ => b.is_ascii_digit(),
            })
    };
    assert!(
        times.is_some_and(|(expired, checked)| is_instant(expired)
            && is_instant(checked)
            && expired < checked),
        "{message}"
    );

    lab.devices[stalled].inject(FaultRule::on_reads(Fault::Stall, 1));
    assert_error(
        m.status("stalled").await,
        "network_timeout",
        "Network timeout occurred",
    );

    lab.devices[malformed].inject(FaultRule::on_reads(Fault::MalformedXml, 1));
    assert_error(
        m.status("malformed").await,
        "protocol",
        "Unexpected response from Intel AMT: the reply cannot be read: XML body ends before the \
         document is complete (inside Body)",
    );

    let closed = std::net::TcpListener::bind(any_port()).expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    assert_error(
        m.status_direct(direct(port)).await,
        "unreachable",
        &format!(
            "The workstation could not be reached: the connection was refused ({})",
            refused_connection(port)
        ),
    );
}

#[tokio::test]
async fn errors_and_debug_output_never_show_the_password() {
    let mut lab = Lab::new();
    lab.add("ws-1", device_config()).await;
    let error = lab
        .manager
        .set_credentials("ws-1", "admin", SecretString::from("Wr0ng-Secret!"))
        .await
        .unwrap_err();
    let texts = [
        error.to_string(),
        format!("{error:?}"),
        error.chain().to_string(),
        format!("{:?}", lab.manager),
    ];
    for text in texts {
        assert!(!text.contains("Wr0ng-Secret!"), "{text}");
        assert!(!text.contains(PASSWORD), "{text}");
    }
}

#[tokio::test]
async fn tls_refusals_and_soap_faults_map_to_their_rows() {
    let mut lab = Lab::new();
    let mut old = device_config();
    old.tls = amt_sim::TlsProfile::RefuseModern;
    lab.add("old", old).await;
    let mut mutual = device_config();
    mutual.require_client_certificate = true;
    lab.add("mutual", mutual).await;
    let faulty = lab.add_managed("faulty", device_config()).await;
    let m = lab.manager.clone();
    let direct = |port: u16| direct_to(port, &lab.ca, false);
    assert_error(
        m.status_direct(direct(lab.devices[0].addr().port())).await,
        "legacy_tls_required",
        "TLS handshake failed: the workstation may need legacy TLS (Intel AMT 12 or lower)",
    );
    assert_error(
        m.status_direct(direct(lab.devices[1].addr().port())).await,
        "client_certificate_required",
        "The workstation requires mutual TLS, which is not supported",
    );
    lab.devices[faulty].inject(FaultRule::on_reads(
        Fault::SoapFault(Box::new(amt_wsman::Fault::access_denied())),
        1,
    ));
    assert_error(
        m.status("faulty").await,
        "wsman_fault",
        "Intel AMT returned a fault: AccessDenied: The sender was not authorized to access the \
         resource.",
    );
}

#[tokio::test]
async fn only_the_most_recently_used_connections_stay_open() {
    let mut options = options();
    options.max_idle_connections = 1;
    let mut lab = Lab::with_options(options);
    let a = lab.add_managed("a", device_config()).await;
    let b = lab.add_managed("b", device_config()).await;
    lab.manager.status("a").await.expect("a");
    lab.manager.status("b").await.expect("b"); // a's connection is now the least recently used
    let (a_before, b_before) = (lab.devices[a].counters(), lab.devices[b].counters());
    lab.manager.status("b").await.expect("b again");
    lab.manager.status("a").await.expect("a again");
    let (a_after, b_after) = (lab.devices[a].counters(), lab.devices[b].counters());
    assert_eq!(
        b_after.tcp_connections, b_before.tcp_connections,
        "b kept its connection"
    );
    assert_eq!(
        a_after.tcp_connections,
        a_before.tcp_connections + 1,
        "a reconnected"
    );
    // (Whether the reconnection resumes TLS depends on the session cache, keyed by server name,
    // which two devices on one address share; the client's tests cover resumption.)
    assert_eq!(
        a_after.unauthorized, a_before.unauthorized,
        "and kept its digest nonce"
    );
}

/// Waits (briefly, polling) until `done` holds.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..1_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("gave up waiting until {what}");
}

/// Options for a lab whose devices stall: short timeouts, no confirmation.
fn stalling_options() -> ManagerOptions {
    let mut options = options();
    options.timeouts = Timeouts::uniform(Duration::from_millis(500));
    options.confirmation = None;
    options
}

#[tokio::test]
async fn a_second_run_on_a_busy_workstation_is_refused_as_in_progress() {
    let mut lab = Lab::with_options(stalling_options());
    let i = lab.add_managed("ws-1", device_config()).await;
    lab.devices[i].inject(FaultRule::on_reads(Fault::Stall, 1));
    let first = tokio::spawn({
        let manager = lab.manager.clone();
        async move { manager.run("ws-1", PowerOperation::Reset).await }
    });
    let device = &lab.devices[i];
    wait_until("the first run reads the state", || {
        device.counters().faults == 1
    })
    .await;
    assert_error(
        lab.manager.run("ws-1", PowerOperation::PowerOff).await,
        "operation_in_progress",
        "Another power operation on this workstation is in progress",
    );
    assert_eq!(
        first.await.expect("task").unwrap_err().kind(),
        "network_timeout"
    );
    assert_eq!(device.counters().total_invokes(), 0);
    lab.manager
        .run("ws-1", PowerOperation::Reset)
        .await
        .expect("free again, with no cooldown: nothing was sent");
}

#[tokio::test]
async fn an_unreadable_inventory_is_the_inventory_row() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("inventory.db");
    std::fs::write(&db, vec![0x5a; 8192]).expect("garbage");
    assert_error(
        Manager::open(&db, &dir.path().join("vault.key")),
        "inventory",
        "The inventory could not be read or written: the inventory database failed: file is \
         not a database",
    );
}

#[tokio::test]
async fn an_altered_credential_record_is_the_vault_row() {
    let mut lab = Lab::new();
    lab.add_managed("ws-1", device_config()).await;
    let store = lab.manager.store();
    let ws = lab.manager.workstation("ws-1").expect("ws");
    let mut stored = store.credentials(ws.id).expect("read").expect("stored");
    let mut bytes = stored.sealed.as_bytes().to_vec();
    *bytes.last_mut().expect("bytes") ^= 1;
    stored.sealed = amt_manager::vault::SealedSecret::from_bytes(bytes);
    store.set_credentials(ws.id, &stored).expect("write");
    assert_error(
        lab.manager.status("ws-1").await,
        "vault",
        "Stored credentials could not be used: the stored credentials do not decrypt (altered, \
         or moved from another workstation)",
    );
}

#[tokio::test]
async fn a_restart_that_does_not_come_back_on_by_the_deadline_is_unconfirmed() {
    let mut options = options();
    options.confirmation = Some(Confirmation {
        deadline: Duration::from_millis(200),
        interval: Duration::from_millis(20),
    });
    let mut lab = Lab::with_options(options);
    let mut stuck = device_config();
    // The power cycle goes down at once and would come back after a minute.
    stuck.timing.change_delay = Duration::from_secs(60);
    lab.add_managed("stuck", stuck).await;
    let outcome = lab
        .manager
        .run("stuck", PowerOperation::PowerCycle)
        .await
        .expect("run");
    assert!(outcome.accepted());
    assert_eq!(outcome.state_after, Some(PowerState::PowerCycleOffSoft));
    assert_eq!(
        outcome.confirmed,
        Some(false),
        "it went down but was not seen on again"
    );
}

#[tokio::test]
async fn a_confirmation_deadline_too_far_to_represent_means_no_deadline() {
    let mut options = options();
    options.confirmation = Some(Confirmation {
        deadline: Duration::MAX,
        interval: Duration::from_millis(20),
    });
    let mut lab = Lab::with_options(options);
    lab.add_managed("ws-1", device_config()).await;
    let outcome = lab
        .manager
        .run("ws-1", PowerOperation::Reset)
        .await
        .expect("run");
    assert_eq!(outcome.confirmed, Some(true));
}

#[tokio::test]
async fn a_firmware_update_refreshes_the_cached_version() {
    let mut lab = Lab::new();
    lab.add_managed("ws-1", device_config()).await;
    let ws = lab.manager.workstation("ws-1").expect("ws");
    // The cache says AMT 9 (read before an update); the workstation now runs 16.1.25.
    lab.manager
        .store()
        .set_amt_version(ws.id, Some("9.0.1"))
        .expect("stale version");
    lab.manager
        .run("ws-1", PowerOperation::GracefulRestart)
        .await
        .expect("AMT 16 runs a graceful restart");
    assert_eq!(
        lab.manager
            .workstation("ws-1")
            .expect("ws")
            .amt_version
            .map(|v| v.to_string())
            .as_deref(),
        Some("16.1.25")
    );
}

#[tokio::test]
async fn moving_a_workstation_forgets_its_version() {
    let mut lab = Lab::new();
    lab.add_managed("ws-1", device_config()).await;
    let cached = |lab: &Lab| lab.manager.workstation("ws-1").expect("ws").amt_version;
    assert!(cached(&lab).is_some());
    lab.manager
        .update_workstation("ws-1", Some("ws-one"), None, None)
        .expect("rename");
    lab.manager
        .update_workstation("ws-one", Some("ws-1"), None, None)
        .expect("rename back");
    assert!(cached(&lab).is_some(), "a new name is the same device");
    lab.manager
        .update_workstation("ws-1", None, Some("localhost"), None)
        .expect("new host");
    assert_eq!(cached(&lab), None);
}

#[tokio::test]
async fn a_send_time_ahead_of_the_clock_holds_the_workstation_one_period() {
    let mut lab = Lab::new();
    let i = lab.add_managed("ws-1", device_config()).await;
    let key = lab.manager.workstation("ws-1").expect("ws").device_key();
    // Written by a host whose clock runs an hour ahead (or before this clock was stepped back).
    lab.manager
        .store()
        .record_power_send(&key, 1_800_000_000_000 + 3_600_000)
        .expect("send");
    assert_error(
        lab.manager.run("ws-1", PowerOperation::Reset).await,
        "cooling_down",
        "A power operation was sent to this workstation 0 s ago; the next is allowed in 20 s",
    );
    lab.clock.advance(Duration::from_millis(19_999));
    assert_error(
        lab.manager.run("ws-1", PowerOperation::Reset).await,
        "cooling_down",
        "A power operation was sent to this workstation 19 s ago; the next is allowed in 1 s",
    );
    lab.clock.advance(Duration::from_millis(1));
    lab.manager
        .run("ws-1", PowerOperation::Reset)
        .await
        .expect("20 s after the send was first seen");
    assert_eq!(lab.devices[i].counters().total_invokes(), 1);
}

#[tokio::test]
async fn a_send_that_may_have_reached_the_device_keeps_the_cooldown() {
    let mut lab = Lab::with_options(stalling_options());
    let stalled = lab.add_managed("stalled", device_config()).await;
    let dropped = lab.add_managed("dropped", device_config()).await;
    lab.devices[stalled].inject(FaultRule::on_power_changes(Fault::Stall, 1));
    lab.devices[dropped].inject(FaultRule::on_power_changes(Fault::DropConnection, 1));
    let m = &lab.manager;
    assert_error(
        m.run("stalled", PowerOperation::Reset).await,
        "network_timeout",
        "Network timeout occurred",
    );
    assert_eq!(
        m.run("dropped", PowerOperation::Reset)
            .await
            .unwrap_err()
            .kind(),
        "unreachable"
    );
    for name in ["stalled", "dropped"] {
        assert_eq!(
            m.run(name, PowerOperation::Reset).await.unwrap_err().kind(),
            "cooling_down",
            "{name}"
        );
    }
    // The stalled device received the request (and would never answer); the other acted on it.
    assert_eq!(lab.devices[stalled].counters().faults, 1);
    assert_eq!(lab.devices[dropped].counters().total_invokes(), 1);
}

#[tokio::test]
async fn a_power_change_refused_with_a_401_withdraws_its_send() {
    let mut options = options();
    options.timeouts = Timeouts::uniform(Duration::from_secs(5));
    options.confirmation = None;
    let mut lab = Lab::with_options(options);
    let mut config = device_config();
    config.clock = amt_sim::SimClock::manual();
    let i = lab.add_managed("ws-1", config).await;
    let device = &lab.devices[i];
    let key = lab.manager.workstation("ws-1").expect("ws").device_key();

    // The run's state read is answered late; meanwhile someone locks logins with wrong
    // passwords, so that the power change itself is answered 401.
    device.inject(FaultRule::on_reads(
        Fault::Latency(Duration::from_millis(1_500)),
        1,
    ));
    let run = tokio::spawn({
        let manager = lab.manager.clone();
        async move { manager.run("ws-1", PowerOperation::Reset).await }
    });
    wait_until("the run reads the state", || device.counters().faults == 1).await;
    let intruder = Manager::builder()
        .store(MemoryStore::new())
        .vault_key(VaultKey::generate().expect("key"))
        .build()
        .expect("manager");
    let mut wrong = direct_to(device.addr().port(), &lab.ca, false);
    wrong.password = SecretString::from("wrong");
    while device.counters().failed_logins < 10 {
        intruder
            .validate_direct(wrong.clone())
            .await
            .expect_err("wrong password");
    }
    // The injected latency waits on the device's clock; the lockout (5 s) outlasts it.
    device.clock().advance(Duration::from_millis(1_500));
    assert_eq!(
        run.await.expect("task").unwrap_err().kind(),
        "credentials_invalid"
    );
    assert!(device.counters().lockout_refusals >= 1);
    assert_eq!(device.counters().total_invokes(), 0, "AMT did not act");
    assert_eq!(
        lab.manager.store().last_power_send(&key).expect("store"),
        None,
        "the send was withdrawn"
    );

    // Once the lockout is over, the next run is not cooling down.
    device.clock().advance(Duration::from_secs(6));
    lab.manager
        .run("ws-1", PowerOperation::Reset)
        .await
        .expect("no cooldown");
    assert_eq!(device.counters().total_invokes(), 1);
}

#[tokio::test]
async fn debug_output_of_a_manager_with_live_sessions_shows_no_password() {
    let mut lab = Lab::new();
    lab.add_managed("ws-1", device_config()).await;
    lab.manager.status("ws-1").await.expect("status");
    let debug = format!("{:?}", lab.manager);
    assert!(
        debug.contains("ws-1") || debug.contains("127.0.0.1"),
        "{debug}"
    );
    assert!(!debug.contains(PASSWORD), "{debug}");
}

#[tokio::test]
async fn a_run_that_cannot_send_while_it_may_hold_the_workstation_gives_up_unsent() {
    let mut options = stalling_options();
    // A claim lasts three calls of 3 × 250 ms: 2.25 s.
    options.timeouts = Timeouts::uniform(Duration::from_millis(250));
    let mut lab = Lab::with_options(options);
    let i = lab.add_managed("ws-1", device_config()).await;
    let device = &lab.devices[i];
    let key = lab.manager.workstation("ws-1").expect("ws").device_key();
    // Twelve status reads that each stall until their 250 ms timeout queue on the session
    // first: the run's own read waits behind them for 3 s.
    device.inject(FaultRule::on_reads(Fault::Stall, 12));
    for _ in 0..12 {
        let manager = lab.manager.clone();
        tokio::spawn(async move { manager.status("ws-1").await });
    }
    wait_until("the first status read stalls", || {
        device.counters().faults == 1
    })
    .await;
    let error = lab
        .manager
        .run("ws-1", PowerOperation::Reset)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "network_timeout");
    assert_eq!(
        error.chain().to_string(),
        "Network timeout occurred\n  caused by: the power change was not sent within 2.25s, the \
         longest a power operation may hold its workstation"
    );
    assert_eq!(device.counters().total_invokes(), 0);
    assert_eq!(
        lab.manager.store().last_power_send(&key).expect("store"),
        None
    );
    assert_eq!(
        lab.manager
            .store()
            .claim_power_slot(&amt_manager::store::PowerClaim {
                device_key: &key,
                owner: "another process",
                now_unix_ms: 1_800_000_000_000,
                until_unix_ms: 1_800_000_060_000,
                period: Duration::from_secs(20),
            })
            .expect("claim"),
        amt_manager::store::ClaimOutcome::Claimed,
        "the run released its claim"
    );
}
