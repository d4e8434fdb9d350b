//! Bulk runs keep to their concurrency: never more workstations in flight than the limit, and
//! the limit is reached.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::Duration;

use amt_manager::store::StoredCredentials;
use amt_manager::vault::{Vault, VaultKey};
use amt_manager::{Manager, ManagerOptions, MemoryStore, Targets};
use amt_sim::{Addressing, Fault, FaultRule, Fleet, SimCa};
use secrecy::SecretString;

use super::{PASSWORD, device_config};

const KEY: [u8; 32] = [0x33; 32];

/// `count` devices whose first read is answered after `latency`, each a workstation with
/// credentials (sealed here rather than validated, which would cost a round of calls each).
async fn fleet(count: usize, latency: Duration, options: ManagerOptions) -> (Fleet, Manager) {
    let ca = SimCa::generate("fleet root").expect("CA");
    let mut template = device_config();
    template
        .faults
        .push(FaultRule::on_reads(Fault::Latency(latency), 1));
    let fleet = Fleet::start(
        &template,
        count,
        Addressing::ConsecutivePorts {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            first_port: 0,
        },
        &ca,
        |_, _| {},
    )
    .await
    .expect("fleet");
    let manager = Manager::builder()
        .store(MemoryStore::new())
        .vault_key(VaultKey::from_bytes(KEY))
        .options(options)
        .build()
        .expect("manager");
    manager
        .add_deployment("fleet", ca.cert_pem())
        .expect("deployment");
    let vault = Vault::new(VaultKey::from_bytes(KEY));
    for (i, device) in fleet.devices().iter().enumerate() {
        let ws = manager
            .add_workstation(
                "fleet",
                &format!("ws-{i:03}"),
                "127.0.0.1",
                Some(device.addr().port()),
                false,
            )
            .expect("ws");
        let credentials = StoredCredentials {
            username: "admin".into(),
            sealed: vault
                .seal(ws.id, &SecretString::from(PASSWORD))
                .expect("seal"),
        };
        manager
            .store()
            .set_credentials(ws.id, &credentials)
            .expect("credentials");
    }
    (fleet, manager)
}

/// Runs a status sweep over the fleet; returns the most workstations seen in flight at once.
///
/// When the `done`-th workstation finishes, the run has not yet started another, so the
/// workstations in flight just before were those whose device has received its read
/// (`faults`, counted by the devices) less the `done - 1` finished before.
async fn most_in_flight(fleet: &Fleet, manager: &Manager) -> usize {
    let names: Vec<String> = manager
        .workstations()
        .expect("list")
        .iter()
        .map(|w| w.name.to_string())
        .collect();
    let most = Mutex::new(0);
    let results = manager
        .status_bulk(&Targets::workstations(names), |progress| {
            let reached = usize::try_from(fleet.counters().faults).expect("count");
            let in_flight = reached - (progress.done - 1);
            let mut most = most.lock().expect("lock");
            *most = (*most).max(in_flight);
        })
        .await
        .expect("bulk");
    assert!(
        results.iter().all(|r| r.result.is_ok()),
        "{:?}",
        results.iter().find(|r| r.result.is_err())
    );
    assert_eq!(fleet.counters().faults, results.len() as u64);
    most.into_inner().expect("lock")
}

fn quiet_options() -> ManagerOptions {
    let mut options = ManagerOptions::default();
    options.timeouts = amt_manager::Timeouts::uniform(Duration::from_secs(10));
    options.read_os_power_state = false;
    options
}

#[tokio::test]
async fn a_bulk_run_has_at_most_its_concurrency_in_flight() {
    let mut options = quiet_options();
    options.concurrency = 2;
    let (fleet, manager) = fleet(5, Duration::from_millis(300), options).await;
    assert_eq!(most_in_flight(&fleet, &manager).await, 2);
}

#[tokio::test]
async fn the_default_concurrency_is_64() {
    let options = quiet_options();
    assert_eq!(options.concurrency, 64);
    // The 64 must all reach their devices (cold: full handshake, 401, resumed handshake) before
    // the first one's reply comes back; 5 s leaves a debug build on a loaded machine room.
    let (fleet, manager) = fleet(66, Duration::from_secs(5), options).await;
    assert_eq!(most_in_flight(&fleet, &manager).await, 64);
}
