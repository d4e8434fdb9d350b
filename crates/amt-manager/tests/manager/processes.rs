//! Two managers on one SQLite inventory, as two processes would share it: a power operation's
//! claim in the inventory keeps the other from sending within the cooldown.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use amt_manager::store::{ClaimOutcome, PowerClaim};
use amt_manager::{Manager, ManagerOptions, ManualClock, SqliteStore};
use amt_power::PowerOperation;
use amt_sim::{Fault, FaultRule, SimCa, SimDevice};

use super::{assert_error, device_config, options, stalling_options, wait_until};

const IN_PROGRESS: &str = "Another power operation on this workstation is in progress";

fn open(dir: &Path, clock: &Arc<ManualClock>, options: ManagerOptions) -> Manager {
    Manager::builder()
        .store(SqliteStore::open(&dir.join("inventory.db")).expect("db"))
        .key_file(dir.join("vault.key"))
        .clock(clock.clone())
        .options(options)
        .build()
        .expect("manager")
}

/// One managed workstation on `device`, in an inventory that `first` and `second` share.
async fn shared_inventory(
    first_options: ManagerOptions,
) -> (
    tempfile::TempDir,
    Arc<ManualClock>,
    SimDevice,
    Manager,
    Manager,
) {
    let dir = tempfile::tempdir().expect("dir");
    let clock = Arc::new(ManualClock::new(1_800_000_000_000));
    let ca = SimCa::generate("root").expect("CA");
    let device = SimDevice::start(device_config(), &ca)
        .await
        .expect("device");
    let first = open(dir.path(), &clock, first_options);
    super::register_managed_ws1(&first, &ca, &device).await;
    let mut no_confirmation = options();
    no_confirmation.confirmation = None;
    let second = open(dir.path(), &clock, no_confirmation);
    (dir, clock, device, first, second)
}

#[tokio::test]
async fn a_run_of_another_process_that_has_not_sent_yet_holds_the_workstation() {
    let (_dir, _clock, device, first, second) = shared_inventory(stalling_options()).await;
    // The first process's state read stalls: it holds the workstation, and has sent nothing.
    device.inject(FaultRule::on_reads(Fault::Stall, 1));
    let stalled = tokio::spawn({
        let first = first.clone();
        async move { first.run("ws-1", PowerOperation::Reset).await }
    });
    wait_until("the first run reads the state", || {
        device.counters().faults == 1
    })
    .await;
    let before = device.counters();
    assert_error(
        second.run("ws-1", PowerOperation::PowerOff).await,
        "operation_in_progress",
        IN_PROGRESS,
    );
    assert_eq!(device.counters(), before, "refused before any network call");

    // The first run gives up unsent, which releases its claim without a cooldown.
    assert_eq!(
        stalled.await.expect("task").unwrap_err().kind(),
        "network_timeout"
    );
    second
        .run("ws-1", PowerOperation::Reset)
        .await
        .expect("free again");
    assert_eq!(device.counters().total_invokes(), 1);
    assert_error(
        first.run("ws-1", PowerOperation::Reset).await,
        "cooling_down",
        "A power operation was sent to this workstation 0 s ago; the next is allowed in 20 s",
    );
}

#[tokio::test]
async fn a_crashed_processs_claim_lapses_at_the_end_of_its_lifetime() {
    let (_dir, clock, device, first, second) = shared_inventory(options()).await;
    let key = second.workstation("ws-1").expect("ws").device_key();
    // A process that claimed the workstation and died: its claim runs for 30 s.
    let now = 1_800_000_000_000;
    assert_eq!(
        first
            .store()
            .claim_power_slot(&PowerClaim {
                device_key: &key,
                owner: "a process that crashed",
                now_unix_ms: now,
                until_unix_ms: now + 30_000,
                period: Duration::from_secs(20),
            })
            .expect("claim"),
        ClaimOutcome::Claimed
    );
    assert_error(
        second.run("ws-1", PowerOperation::Reset).await,
        "operation_in_progress",
        IN_PROGRESS,
    );
    clock.advance(Duration::from_millis(29_999));
    assert_error(
        second.run("ws-1", PowerOperation::Reset).await,
        "operation_in_progress",
        IN_PROGRESS,
    );
    assert_eq!(device.counters().total_invokes(), 0);
    clock.advance(Duration::from_millis(1));
    second
        .run("ws-1", PowerOperation::Reset)
        .await
        .expect("the claim lapsed");
    assert_eq!(device.counters().total_invokes(), 1);
}

#[tokio::test]
async fn a_released_claim_frees_the_workstation_and_a_send_starts_the_cooldown_for_both() {
    let (_dir, clock, device, first, second) = shared_inventory(options()).await;
    let key = second.workstation("ws-1").expect("ws").device_key();
    let now = 1_800_000_000_000;
    let claim = PowerClaim {
        device_key: &key,
        owner: "the other process",
        now_unix_ms: now,
        until_unix_ms: now + 120_000,
        period: Duration::from_secs(20),
    };
    assert_eq!(
        first.store().claim_power_slot(&claim).expect("claim"),
        ClaimOutcome::Claimed
    );
    assert_error(
        second.run("ws-1", PowerOperation::Reset).await,
        "operation_in_progress",
        IN_PROGRESS,
    );
    first
        .store()
        .release_power_claim(&key, "the other process")
        .expect("release");
    second
        .run("ws-1", PowerOperation::Reset)
        .await
        .expect("released");
    clock.advance(Duration::from_secs(3));
    assert_error(
        first.run("ws-1", PowerOperation::Reset).await,
        "cooling_down",
        "A power operation was sent to this workstation 3 s ago; the next is allowed in 17 s",
    );
    assert_eq!(device.counters().total_invokes(), 1);
}
