//! One behaviour suite, run against every inventory implementation.

use amt_manager::model::{DeploymentId, Name, NewWorkstation, WorkstationId, WorkstationSettings};
use std::time::Duration;

use amt_manager::store::{
    ClaimOutcome, MemoryStore, PowerClaim, Record, Reseal, SqliteStore, Store, StoreError,
    StoredCredentials,
};
use amt_manager::vault::SealedSecret;
use amt_trust::Host;

fn name(text: &str) -> Name {
    Name::parse(text).expect("valid name")
}

fn new_ws(deployment: DeploymentId, n: &str, host: &str) -> NewWorkstation {
    NewWorkstation {
        deployment,
        name: name(n),
        host: Host::parse(host).expect("valid host"),
        port: 16993,
        allow_legacy_tls: false,
    }
}

fn stores() -> Vec<(&'static str, Box<dyn Store>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = SqliteStore::open(&dir.path().join("inventory.db")).expect("sqlite file");
    vec![
        ("memory", Box::new(MemoryStore::new()), None),
        (
            "sqlite in memory",
            Box::new(SqliteStore::open_in_memory().expect("sqlite")),
            None,
        ),
        ("sqlite file", Box::new(file), Some(dir)),
    ]
}

#[test]
fn deployments_are_unique_by_name_and_protect_their_workstations() {
    for (kind, store, _dir) in stores() {
        let d = store.insert_deployment(&name("lab"), "PEM").expect(kind);
        assert_eq!(
            store.insert_deployment(&name("lab"), "PEM"),
            Err(StoreError::Duplicate {
                record: Record::Deployment,
                name: "lab".into()
            }),
            "{kind}"
        );
        assert_eq!(store.deployment_by_name("lab").expect(kind), d);
        assert!(matches!(
            store.deployment_by_name("nope"),
            Err(StoreError::NotFound {
                record: Record::Deployment,
                ..
            })
        ));
        store.set_provider_root(d.id, "NEW PEM").expect(kind);
        assert_eq!(
            store.deployment(d.id).expect(kind).provider_root_pem,
            "NEW PEM"
        );

        let ws = store
            .insert_workstation(&new_ws(d.id, "ws1", "ws1.example.com"))
            .expect(kind);
        assert!(
            matches!(store.delete_deployment(d.id), Err(StoreError::InUse { .. })),
            "{kind}"
        );
        store.delete_workstation(ws.id).expect(kind);
        store.delete_deployment(d.id).expect(kind);
        assert!(store.deployments().expect(kind).is_empty());
    }
}

#[test]
fn workstations_are_unique_by_name_and_by_host_and_port() {
    for (kind, store, _dir) in stores() {
        let d = store.insert_deployment(&name("lab"), "PEM").expect(kind);
        let ws = store
            .insert_workstation(&new_ws(d.id, "ws1", "WS1.example.com."))
            .expect(kind);
        assert_eq!(ws.host.to_string(), "ws1.example.com");
        assert!(!ws.managed && ws.username.is_none());
        assert_eq!(
            store.insert_workstation(&new_ws(d.id, "ws1", "other.example.com")),
            Err(StoreError::Duplicate {
                record: Record::Workstation,
                name: "ws1".into()
            }),
            "{kind}"
        );
        assert_eq!(
            store.insert_workstation(&new_ws(d.id, "ws2", "ws1.example.com")),
            Err(StoreError::Duplicate {
                record: Record::Workstation,
                name: "ws1.example.com:16993".into()
            }),
            "{kind}"
        );
        assert!(matches!(
            store.insert_workstation(&new_ws(DeploymentId(999), "ws3", "ws3.example.com")),
            Err(StoreError::NotFound {
                record: Record::Deployment,
                ..
            })
        ));
        let ws2 = store
            .insert_workstation(&new_ws(d.id, "ws2", "192.0.2.7"))
            .expect(kind);
        let names: Vec<String> = store
            .workstations()
            .expect(kind)
            .iter()
            .map(|w| w.name.to_string())
            .collect();
        assert_eq!(names, ["ws1", "ws2"]);

        let settings = WorkstationSettings {
            name: name("ws2-renamed"),
            host: ws2.host.clone(),
            port: 16994,
            managed: true,
            allow_legacy_tls: true,
        };
        store.update_workstation(ws2.id, &settings).expect(kind);
        let updated = store.workstation_by_name("ws2-renamed").expect(kind);
        assert_eq!(
            (updated.port, updated.managed, updated.allow_legacy_tls),
            (16994, true, true)
        );
        let clash = WorkstationSettings {
            name: name("ws1"),
            ..settings
        };
        assert!(matches!(
            store.update_workstation(ws2.id, &clash),
            Err(StoreError::Duplicate { .. })
        ));

        store.set_amt_version(ws.id, Some("16.1.25")).expect(kind);
        assert_eq!(
            store
                .workstation(ws.id)
                .expect(kind)
                .amt_version
                .map(|v| v.to_string())
                .as_deref(),
            Some("16.1.25")
        );
        assert!(matches!(
            store.workstation(WorkstationId(12345)),
            Err(StoreError::NotFound {
                record: Record::Workstation,
                ..
            })
        ));
    }
}

#[test]
fn renaming_moving_and_removing_free_the_old_name_and_address() {
    for (kind, store, _dir) in stores() {
        let d = store.insert_deployment(&name("lab"), "PEM").expect(kind);
        let ws = store
            .insert_workstation(&new_ws(d.id, "ws1", "192.0.2.7"))
            .expect(kind);
        let moved = WorkstationSettings {
            name: name("ws1-moved"),
            host: Host::parse("192.0.2.8").expect("host"),
            port: ws.port,
            managed: false,
            allow_legacy_tls: false,
        };
        store.update_workstation(ws.id, &moved).expect(kind);
        assert!(
            matches!(
                store.workstation_by_name("ws1"),
                Err(StoreError::NotFound { .. })
            ),
            "{kind}"
        );
        assert_eq!(
            store.workstation_by_name("ws1-moved").expect(kind).id,
            ws.id
        );
        // The old name and address are free again; the new ones are taken.
        let again = store
            .insert_workstation(&new_ws(d.id, "ws1", "192.0.2.7"))
            .expect(kind);
        assert!(
            matches!(
                store.insert_workstation(&new_ws(d.id, "ws3", "192.0.2.8")),
                Err(StoreError::Duplicate { .. })
            ),
            "{kind}"
        );
        // Updating a workstation with its own name and address is no clash.
        store.update_workstation(ws.id, &moved).expect(kind);

        store.delete_workstation(ws.id).expect(kind);
        assert!(matches!(
            store.workstation_by_name("ws1-moved"),
            Err(StoreError::NotFound { .. })
        ));
        let reused = store
            .insert_workstation(&new_ws(d.id, "ws1-moved", "192.0.2.8"))
            .expect(kind);
        assert_eq!(
            store.workstation_by_name("ws1-moved").expect(kind).id,
            reused.id
        );
        assert_eq!(store.workstation_by_name("ws1").expect(kind).id, again.id);
    }
}

#[test]
fn credentials_are_stored_replaced_cleared_and_resealed() {
    for (kind, store, _dir) in stores() {
        let d = store.insert_deployment(&name("lab"), "PEM").expect(kind);
        let ws = store
            .insert_workstation(&new_ws(d.id, "ws1", "ws1.example.com"))
            .expect(kind);
        let stored = |user: &str, bytes: &[u8]| StoredCredentials {
            username: user.into(),
            sealed: SealedSecret::from_bytes(bytes.to_vec()),
        };
        store
            .set_credentials(ws.id, &stored("admin", b"one"))
            .expect(kind);
        store
            .set_credentials(ws.id, &stored("operator", b"two"))
            .expect(kind);
        assert_eq!(
            store.credentials(ws.id).expect(kind),
            Some(stored("operator", b"two"))
        );
        assert_eq!(
            store.workstation(ws.id).expect(kind).username.as_deref(),
            Some("operator")
        );
        assert!(matches!(
            store.set_credentials(WorkstationId(999), &stored("a", b"x")),
            Err(StoreError::NotFound { .. })
        ));

        let reseal = |id: WorkstationId, expected: &[u8], sealed: &[u8]| Reseal {
            workstation: id,
            expected: SealedSecret::from_bytes(expected.to_vec()),
            sealed: SealedSecret::from_bytes(sealed.to_vec()),
        };
        assert_eq!(
            store
                .reseal_credentials(&[reseal(ws.id, b"two", b"three")])
                .expect(kind),
            [],
            "{kind}"
        );
        assert_eq!(
            store.all_credentials().expect(kind),
            vec![(ws.id, stored("operator", b"three"))]
        );
        // A record that changed since it was read (a password saved meanwhile) is kept, and so
        // reported, as is one that is gone.
        assert_eq!(
            store
                .reseal_credentials(&[
                    reseal(ws.id, b"two", b"four"),
                    reseal(WorkstationId(999), b"", b"x"),
                ])
                .expect(kind),
            [ws.id, WorkstationId(999)],
            "{kind}"
        );
        assert_eq!(
            store.credentials(ws.id).expect(kind),
            Some(stored("operator", b"three")),
            "{kind}"
        );

        let mut settings = WorkstationSettings {
            name: ws.name.clone(),
            host: ws.host.clone(),
            port: ws.port,
            managed: true,
            allow_legacy_tls: false,
        };
        store.update_workstation(ws.id, &settings).expect(kind);
        store.clear_credentials(ws.id).expect(kind);
        let cleared = store.workstation(ws.id).expect(kind);
        assert!(
            cleared.username.is_none() && !cleared.managed,
            "{kind}: clearing unmanages"
        );
        assert_eq!(store.credentials(ws.id).expect(kind), None);

        settings.managed = false;
        store
            .set_credentials(ws.id, &stored("admin", b"x"))
            .expect(kind);
        store.delete_workstation(ws.id).expect(kind);
        assert!(
            store.all_credentials().expect(kind).is_empty(),
            "{kind}: credentials go with it"
        );
    }
}

#[test]
fn pools_hold_members_until_they_or_the_pool_go() {
    for (kind, store, _dir) in stores() {
        let d = store.insert_deployment(&name("lab"), "PEM").expect(kind);
        let a = store
            .insert_workstation(&new_ws(d.id, "a", "a.example.com"))
            .expect(kind);
        let b = store
            .insert_workstation(&new_ws(d.id, "b", "b.example.com"))
            .expect(kind);
        let pool = store.insert_pool(&name("floor-1")).expect(kind);
        assert!(matches!(
            store.insert_pool(&name("floor-1")),
            Err(StoreError::Duplicate { .. })
        ));
        store.add_pool_member(pool.id, b.id).expect(kind);
        store.add_pool_member(pool.id, a.id).expect(kind);
        store.add_pool_member(pool.id, a.id).expect(kind);
        assert_eq!(
            store.pool_by_name("floor-1").expect(kind).members,
            vec![a.id, b.id]
        );
        assert!(matches!(
            store.add_pool_member(pool.id, WorkstationId(999)),
            Err(StoreError::NotFound {
                record: Record::Workstation,
                ..
            })
        ));
        store.remove_pool_member(pool.id, a.id).expect(kind);
        store.delete_workstation(b.id).expect(kind);
        assert!(
            store
                .pool_by_name("floor-1")
                .expect(kind)
                .members
                .is_empty()
        );
        store.delete_pool(pool.id).expect(kind);
        assert!(store.pools().expect(kind).is_empty());
        assert!(
            store.workstation(a.id).is_ok(),
            "{kind}: workstations outlive pools"
        );
    }
}

#[test]
fn power_sends_keep_the_latest_and_prune() {
    for (kind, store, _dir) in stores() {
        store.record_power_send("ws:16993", 1_000).expect(kind);
        store.record_power_send("ws:16993", 900).expect(kind);
        assert_eq!(store.last_power_send("ws:16993").expect(kind), Some(1_000));
        store.retract_power_send("ws:16993", 900).expect(kind);
        assert_eq!(
            store.last_power_send("ws:16993").expect(kind),
            Some(1_000),
            "{kind}: a later send stays"
        );
        store.retract_power_send("ws:16993", 1_000).expect(kind);
        assert_eq!(
            store.last_power_send("ws:16993").expect(kind),
            None,
            "{kind}"
        );
        store.record_power_send("ws:16993", 1_000).expect(kind);
        store.record_power_send("other:16993", 5_000).expect(kind);
        assert_eq!(store.prune_power_sends(2_000).expect(kind), 1);
        assert_eq!(store.last_power_send("ws:16993").expect(kind), None);
        assert_eq!(
            store.last_power_send("other:16993").expect(kind),
            Some(5_000)
        );
    }
}

#[test]
fn a_sqlite_file_keeps_everything_across_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("inventory.db");
    {
        let store = SqliteStore::open(&path).expect("open");
        let d = store
            .insert_deployment(&name("lab"), "PEM")
            .expect("deployment");
        store
            .insert_workstation(&new_ws(d.id, "ws1", "ws1.example.com"))
            .expect("workstation");
        store
            .record_power_send("ws1.example.com:16993", 42)
            .expect("send");
    }
    let store = SqliteStore::open(&path).expect("reopen");
    assert_eq!(store.schema_version().expect("version"), 2);
    assert_eq!(store.workstations().expect("list").len(), 1);
    assert_eq!(
        store
            .last_power_send("ws1.example.com:16993")
            .expect("send"),
        Some(42)
    );
}

#[test]
fn a_newer_schema_is_refused_rather_than_misread() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("inventory.db");
    drop(SqliteStore::open(&path).expect("create"));
    let raw = rusqlite::Connection::open(&path).expect("raw");
    raw.pragma_update(None, "user_version", 99).expect("bump");
    drop(raw);
    match SqliteStore::open(&path) {
        Err(StoreError::Database { detail }) => assert!(detail.contains("newer"), "{detail}"),
        other => panic!("expected a schema error, got {other:?}"),
    }
}

fn claim<'a>(owner: &'a str, now: u64, until: u64) -> PowerClaim<'a> {
    PowerClaim {
        device_key: "ws:16993",
        owner,
        now_unix_ms: now,
        until_unix_ms: until,
        period: Duration::from_secs(20),
    }
}

#[test]
fn power_claims_admit_one_owner_until_released_or_lapsed() {
    for (kind, store, _dir) in stores() {
        let claim_at = |c: PowerClaim<'_>| store.claim_power_slot(&c).expect(kind);
        assert_eq!(claim_at(claim("a", 1_000, 5_000)), ClaimOutcome::Claimed);
        assert_eq!(
            claim_at(claim("b", 2_000, 6_000)),
            ClaimOutcome::Held,
            "{kind}"
        );
        assert_eq!(
            claim_at(claim("a", 2_000, 6_000)),
            ClaimOutcome::Claimed,
            "{kind}: the owner may claim again"
        );
        store.release_power_claim("ws:16993", "b").expect(kind);
        assert_eq!(
            claim_at(claim("b", 3_000, 7_000)),
            ClaimOutcome::Held,
            "{kind}: only the owner releases"
        );
        store.release_power_claim("ws:16993", "a").expect(kind);
        assert_eq!(claim_at(claim("b", 3_000, 7_000)), ClaimOutcome::Claimed);
        assert_eq!(claim_at(claim("c", 6_999, 9_000)), ClaimOutcome::Held);
        assert_eq!(
            claim_at(claim("c", 7_000, 9_000)),
            ClaimOutcome::Claimed,
            "{kind}: a crashed owner's claim lapses"
        );

        // A send ends the claim's purpose: the cooldown holds the device from then on.
        store.record_power_send("ws:16993", 8_000).expect(kind);
        store.release_power_claim("ws:16993", "c").expect(kind);
        assert_eq!(
            claim_at(claim("d", 27_999, 40_000)),
            ClaimOutcome::CoolingDown {
                last_sent_unix_ms: 8_000
            },
            "{kind}"
        );
        assert_eq!(claim_at(claim("d", 28_000, 40_000)), ClaimOutcome::Claimed);

        // Lapsed claims are pruned with old sends.
        store.prune_power_sends(40_001).expect(kind);
        assert_eq!(
            claim_at(claim("e", 30_000, 50_000)),
            ClaimOutcome::Claimed,
            "{kind}: d's claim was pruned"
        );
    }
}

#[test]
fn a_send_recorded_in_the_future_holds_a_device_one_period_at_most() {
    for (kind, store, _dir) in stores() {
        // Another host's clock runs an hour ahead.
        store.record_power_send("ws:16993", 3_600_000).expect(kind);
        assert_eq!(
            store
                .claim_power_slot(&claim("a", 10_000, 20_000))
                .expect(kind),
            ClaimOutcome::CoolingDown {
                last_sent_unix_ms: 10_000
            },
            "{kind}"
        );
        assert_eq!(
            store.last_power_send("ws:16993").expect(kind),
            Some(10_000),
            "{kind}: moved back to the time it was first seen"
        );
        assert_eq!(
            store
                .claim_power_slot(&claim("a", 29_999, 40_000))
                .expect(kind),
            ClaimOutcome::CoolingDown {
                last_sent_unix_ms: 10_000
            },
            "{kind}"
        );
        assert_eq!(
            store
                .claim_power_slot(&claim("a", 30_000, 40_000))
                .expect(kind),
            ClaimOutcome::Claimed,
            "{kind}"
        );
    }
}

#[test]
fn two_connections_to_one_file_see_each_others_claims() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("inventory.db");
    let first = SqliteStore::open(&path).expect("first");
    let second = SqliteStore::open(&path).expect("second");
    assert_eq!(
        first
            .claim_power_slot(&claim("a", 1_000, 60_000))
            .expect("a"),
        ClaimOutcome::Claimed
    );
    assert_eq!(
        second
            .claim_power_slot(&claim("b", 1_001, 60_000))
            .expect("b"),
        ClaimOutcome::Held
    );
    first.release_power_claim("ws:16993", "a").expect("release");
    assert_eq!(
        second
            .claim_power_slot(&claim("b", 1_002, 60_000))
            .expect("b"),
        ClaimOutcome::Claimed
    );
}

#[test]
fn ids_are_never_reused() {
    for (kind, store, _dir) in stores() {
        let d = store.insert_deployment(&name("lab"), "PEM").expect(kind);
        let first = store
            .insert_workstation(&new_ws(d.id, "ws1", "ws1.example.com"))
            .expect(kind);
        store.delete_workstation(first.id).expect(kind);
        let second = store
            .insert_workstation(&new_ws(d.id, "ws1", "ws1.example.com"))
            .expect(kind);
        assert!(second.id > first.id, "{kind}: {second:?} after {first:?}");

        let pool = store.insert_pool(&name("p")).expect(kind);
        store.delete_pool(pool.id).expect(kind);
        assert!(
            store.insert_pool(&name("p")).expect(kind).id > pool.id,
            "{kind}"
        );

        let other = store.insert_deployment(&name("other"), "PEM").expect(kind);
        store.delete_deployment(other.id).expect(kind);
        let again = store.insert_deployment(&name("other"), "PEM").expect(kind);
        assert!(again.id > other.id, "{kind}");
    }
}

#[test]
fn removing_a_non_member_says_so_by_name() {
    for (kind, store, _dir) in stores() {
        let d = store.insert_deployment(&name("lab"), "PEM").expect(kind);
        let ws = store
            .insert_workstation(&new_ws(d.id, "ws1", "ws1.example.com"))
            .expect(kind);
        let pool = store.insert_pool(&name("floor-1")).expect(kind);
        let error = store.remove_pool_member(pool.id, ws.id).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"Workstation "ws1" is not a member of pool "floor-1""#,
            "{kind}"
        );
    }
}

/// The first schema, as version 1 of this crate created it.
const SCHEMA_V1: &str = "CREATE TABLE deployments (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        provider_root_pem TEXT NOT NULL
    );
    CREATE TABLE workstations (
        id INTEGER PRIMARY KEY,
        deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE RESTRICT,
        name TEXT NOT NULL UNIQUE,
        host TEXT NOT NULL,
        port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        managed INTEGER NOT NULL DEFAULT 0,
        allow_legacy_tls INTEGER NOT NULL DEFAULT 0,
        amt_version TEXT,
        UNIQUE (host, port)
    );
    CREATE TABLE credentials (
        workstation_id INTEGER PRIMARY KEY REFERENCES workstations(id) ON DELETE CASCADE,
        username TEXT NOT NULL,
        sealed_password BLOB NOT NULL
    );
    CREATE TABLE pools (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    );
    CREATE TABLE pool_members (
        pool_id INTEGER NOT NULL REFERENCES pools(id) ON DELETE CASCADE,
        workstation_id INTEGER NOT NULL REFERENCES workstations(id) ON DELETE CASCADE,
        PRIMARY KEY (pool_id, workstation_id)
    );
    CREATE TABLE power_sends (
        device_key TEXT PRIMARY KEY,
        sent_at_unix_ms INTEGER NOT NULL
    );
    INSERT INTO deployments VALUES (1, 'lab', 'PEM');
    INSERT INTO workstations VALUES (1, 1, 'ws1', 'ws1.example.com', 16993, 1, 0, '16.1.25');
    INSERT INTO workstations VALUES (7, 1, 'ws7', 'ws7.example.com', 16993, 0, 1, NULL);
    INSERT INTO credentials VALUES (1, 'admin', x'0102');
    INSERT INTO pools VALUES (3, 'floor-1');
    INSERT INTO pool_members VALUES (3, 1), (3, 7);
    INSERT INTO power_sends VALUES ('ws1.example.com:16993', 42);
    PRAGMA user_version = 1;";

#[test]
fn a_version_1_inventory_is_migrated_with_its_data_and_references() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("inventory.db");
    let raw = rusqlite::Connection::open(&path).expect("raw");
    raw.execute_batch(SCHEMA_V1).expect("v1");
    drop(raw);

    let store = SqliteStore::open(&path).expect("migrate");
    assert_eq!(store.schema_version().expect("version"), 2);
    let names: Vec<String> = store
        .workstations()
        .expect("list")
        .iter()
        .map(|w| w.name.to_string())
        .collect();
    assert_eq!(names, ["ws1", "ws7"]);
    let ws1 = store.workstation_by_name("ws1").expect("ws1");
    assert!(ws1.managed && ws1.username.as_deref() == Some("admin"));
    assert_eq!(
        ws1.amt_version.map(|v| v.to_string()).as_deref(),
        Some("16.1.25")
    );
    assert!(
        store
            .workstation_by_name("ws7")
            .expect("ws7")
            .allow_legacy_tls
    );
    assert_eq!(
        store.pool_by_name("floor-1").expect("pool").members,
        [WorkstationId(1), WorkstationId(7)]
    );
    assert_eq!(
        store
            .last_power_send("ws1.example.com:16993")
            .expect("send"),
        Some(42)
    );

    // The references follow the rebuilt tables.
    assert!(matches!(
        store.delete_deployment(DeploymentId(1)),
        Err(StoreError::InUse { .. })
    ));
    store.delete_workstation(WorkstationId(1)).expect("delete");
    assert!(
        store.all_credentials().expect("credentials").is_empty(),
        "cascaded"
    );
    assert_eq!(
        store.pool_by_name("floor-1").expect("pool").members,
        [WorkstationId(7)]
    );
    let raw = rusqlite::Connection::open(&path).expect("raw");
    let broken: i64 = raw
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .expect("check");
    assert_eq!(broken, 0);
    drop(raw);

    // And ids go on from the highest ever used.
    let next = store
        .insert_workstation(&new_ws(DeploymentId(1), "ws8", "ws8.example.com"))
        .expect("insert");
    assert_eq!(next.id, WorkstationId(8));
    store.delete_workstation(next.id).expect("delete");
    let after = store
        .insert_workstation(&new_ws(DeploymentId(1), "ws9", "ws9.example.com"))
        .expect("insert");
    assert_eq!(after.id, WorkstationId(9));
}

#[cfg(unix)]
#[test]
fn the_database_and_its_journal_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("inventory.db");
    let store = SqliteStore::open(&path).expect("open");
    store.insert_deployment(&name("lab"), "PEM").expect("write");
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("inventory.db{suffix}"));
        let mode = std::fs::metadata(&file)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    drop(store);

    // A file an older version left readable is made private.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    drop(SqliteStore::open(&path).expect("reopen"));
    let mode = std::fs::metadata(&path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}
