//! The embedded inventory: one SQLite file.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use amt_trust::Host;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, params};

use super::{ClaimOutcome, PowerClaim, Record, Reseal, Store, StoreError, StoredCredentials};
use crate::model::{
    Deployment, DeploymentId, Name, NewWorkstation, Pool, PoolId, Workstation, WorkstationId,
    WorkstationSettings,
};
use crate::vault::SealedSecret;

/// The schema, one migration per entry; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE deployments (
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
    );",
    // 2: ids are never reused (AUTOINCREMENT: a workstation's id is bound into its sealed
    // credentials), and power-operation claims, which serialise processes sharing the file.
    // SQLite adds AUTOINCREMENT only by rebuilding a table; this runs with foreign keys off, and
    // the references of the other tables resolve to the rebuilt tables by name.
    "CREATE TABLE deployments_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        provider_root_pem TEXT NOT NULL
    );
    INSERT INTO deployments_v2 (id, name, provider_root_pem)
        SELECT id, name, provider_root_pem FROM deployments;
    DROP TABLE deployments;
    ALTER TABLE deployments_v2 RENAME TO deployments;
    CREATE TABLE workstations_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE RESTRICT,
        name TEXT NOT NULL UNIQUE,
        host TEXT NOT NULL,
        port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
        managed INTEGER NOT NULL DEFAULT 0,
        allow_legacy_tls INTEGER NOT NULL DEFAULT 0,
        amt_version TEXT,
        UNIQUE (host, port)
    );
    INSERT INTO workstations_v2
        (id, deployment_id, name, host, port, managed, allow_legacy_tls, amt_version)
        SELECT id, deployment_id, name, host, port, managed, allow_legacy_tls, amt_version
        FROM workstations;
    DROP TABLE workstations;
    ALTER TABLE workstations_v2 RENAME TO workstations;
    CREATE TABLE pools_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE
    );
    INSERT INTO pools_v2 (id, name) SELECT id, name FROM pools;
    DROP TABLE pools;
    ALTER TABLE pools_v2 RENAME TO pools;
    CREATE TABLE power_claims (
        device_key TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        claimed_until_unix_ms INTEGER NOT NULL
    );",
];

/// Milliseconds as SQLite stores them.
fn sql_ms(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The inventory in one SQLite file (WAL journal, foreign keys on, schema migrations applied on
/// open). Safe to share between threads; several processes may open the same file.
#[derive(Debug)]
pub struct SqliteStore {
    connection: Mutex<Connection>,
}

fn database(error: rusqlite::Error) -> StoreError {
    StoreError::Database {
        detail: error.to_string(),
    }
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _) if e.code == ErrorCode::ConstraintViolation)
}

fn not_found(record: Record, name: impl ToString) -> StoreError {
    StoreError::NotFound {
        record,
        name: name.to_string(),
    }
}

/// Reads text stored by this module back into a model value; a failure means someone else
/// edited the file.
fn corrupt(what: &str, detail: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("stored {what} is invalid: {detail}").into(),
    )
}

const WORKSTATION_COLUMNS: &str = "w.id, w.deployment_id, w.name, w.host, w.port, w.managed, \
     w.allow_legacy_tls, w.amt_version, c.username";
const WORKSTATION_FROM: &str =
    "FROM workstations w LEFT JOIN credentials c ON c.workstation_id = w.id";

fn workstation_row(row: &Row<'_>) -> rusqlite::Result<Workstation> {
    let name: String = row.get(2)?;
    let host: String = row.get(3)?;
    let port: i64 = row.get(4)?;
    let version: Option<String> = row.get(7)?;
    Ok(Workstation {
        id: WorkstationId(row.get(0)?),
        deployment: DeploymentId(row.get(1)?),
        name: Name::parse(&name).map_err(|e| corrupt("name", e))?,
        host: Host::parse(&host).map_err(|e| corrupt("host", e))?,
        port: u16::try_from(port).map_err(|e| corrupt("port", e))?,
        managed: row.get(5)?,
        allow_legacy_tls: row.get(6)?,
        amt_version: version.and_then(|v| v.parse().ok()),
        username: row.get(8)?,
    })
}

fn deployment_row(row: &Row<'_>) -> rusqlite::Result<Deployment> {
    let name: String = row.get(1)?;
    Ok(Deployment {
        id: DeploymentId(row.get(0)?),
        name: Name::parse(&name).map_err(|e| corrupt("name", e))?,
        provider_root_pem: row.get(2)?,
    })
}

impl SqliteStore {
    /// Opens (creating if needed) the inventory at `path` and brings its schema up to date.
    ///
    /// A new file is created readable by its owner only (mode 0600) before SQLite opens it;
    /// SQLite gives the WAL and shared-memory files the database file's mode. An existing file
    /// (and its WAL and shared-memory files) is made private too.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Database {
                detail: format!("creating {}: {e}", parent.display()),
            })?;
        }
        #[cfg(unix)]
        create_private(path)?;
        let connection = Connection::open(path).map_err(database)?;
        #[cfg(unix)]
        restrict_permissions(path);
        Self::with_connection(connection, true)
    }

    /// A private in-memory SQLite inventory (tests). It has no WAL journal (SQLite keeps an
    /// in-memory database's journal in memory), and nothing else can open it.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::with_connection(Connection::open_in_memory().map_err(database)?, false)
    }

    fn with_connection(mut connection: Connection, wal: bool) -> Result<Self, StoreError> {
        connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(database)?;
        if wal {
            let mode = connection
                .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
                .map_err(database)?;
            // SQLite answers with the mode in force, which is not WAL where WAL cannot work
            // (some network file systems): without it, readers would block writers.
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Database {
                    detail: format!(
                        "the inventory cannot use the WAL journal (SQLite kept journal mode \
                         {mode:?}); keep the file on a local file system"
                    ),
                });
            }
            connection
                .pragma_update(None, "synchronous", "NORMAL")
                .map_err(database)?;
        }
        // Off while migrating: rebuilding a table that others reference needs it off (and the
        // pragma has no effect inside a transaction).
        connection
            .pragma_update(None, "foreign_keys", "OFF")
            .map_err(database)?;
        Self::migrate(&mut connection)?;
        connection
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(database)?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }

    fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(database)?;
        let applied: i64 = transaction
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(database)?;
        let known = MIGRATIONS.len() as i64;
        if applied > known {
            return Err(StoreError::Database {
                detail: format!(
                    "the inventory has schema version {applied}, newer than this program's {known}; \
                     use a newer amt-manager"
                ),
            });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied.max(0) as usize) {
            transaction.execute_batch(migration).map_err(database)?;
            transaction
                .pragma_update(None, "user_version", index as i64 + 1)
                .map_err(database)?;
        }
        // A migration ran with foreign keys off: check them before committing its work.
        let violations: i64 = if applied < known {
            transaction
                .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |row| {
                    row.get(0)
                })
                .map_err(database)?
        } else {
            0
        };
        if violations > 0 {
            return Err(StoreError::Database {
                detail: format!("the inventory has {violations} broken reference(s)"),
            });
        }
        transaction.commit().map_err(database)
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.lock()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(database)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn pool_members(
        connection: &Connection,
        pool: PoolId,
    ) -> Result<Vec<WorkstationId>, StoreError> {
        let mut statement = connection
            .prepare_cached(
                "SELECT m.workstation_id FROM pool_members m JOIN workstations w \
                 ON w.id = m.workstation_id WHERE m.pool_id = ?1 ORDER BY w.name",
            )
            .map_err(database)?;
        let rows = statement
            .query_map([pool.0], |row| Ok(WorkstationId(row.get(0)?)))
            .map_err(database)?;
        rows.collect::<Result<_, _>>().map_err(database)
    }

    fn changed(rows: usize, record: Record, name: impl ToString) -> Result<(), StoreError> {
        if rows == 0 {
            Err(not_found(record, name))
        } else {
            Ok(())
        }
    }
}

/// Creates the database file with mode 0600 if it does not exist, so that it is never readable
/// by others, not even between its creation and a `chmod`.
#[cfg(unix)]
fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Database {
            detail: format!("creating {}: {e}", path.display()),
        }),
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    // The file holds no clear passwords, but host names and user names are nobody else's business.
    // Files an older version created may be readable by others.
    let private = || std::fs::Permissions::from_mode(0o600);
    let _ = std::fs::set_permissions(path, private());
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::set_permissions(Path::new(&side), private());
    }
}

impl Store for SqliteStore {
    fn insert_deployment(&self, name: &Name, pem: &str) -> Result<Deployment, StoreError> {
        let connection = self.lock();
        match connection.execute(
            "INSERT INTO deployments (name, provider_root_pem) VALUES (?1, ?2)",
            params![name.as_str(), pem],
        ) {
            Ok(_) => Ok(Deployment {
                id: DeploymentId(connection.last_insert_rowid()),
                name: name.clone(),
                provider_root_pem: pem.to_owned(),
            }),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Duplicate {
                record: Record::Deployment,
                name: name.to_string(),
            }),
            Err(e) => Err(database(e)),
        }
    }

    fn deployments(&self) -> Result<Vec<Deployment>, StoreError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare_cached("SELECT id, name, provider_root_pem FROM deployments ORDER BY name")
            .map_err(database)?;
        let rows = statement.query_map([], deployment_row).map_err(database)?;
        rows.collect::<Result<_, _>>().map_err(database)
    }

    fn deployment(&self, id: DeploymentId) -> Result<Deployment, StoreError> {
        self.lock()
            .query_row(
                "SELECT id, name, provider_root_pem FROM deployments WHERE id = ?1",
                [id.0],
                deployment_row,
            )
            .optional()
            .map_err(database)?
            .ok_or_else(|| not_found(Record::Deployment, id))
    }

    fn deployment_by_name(&self, name: &str) -> Result<Deployment, StoreError> {
        self.lock()
            .query_row(
                "SELECT id, name, provider_root_pem FROM deployments WHERE name = ?1",
                [name],
                deployment_row,
            )
            .optional()
            .map_err(database)?
            .ok_or_else(|| not_found(Record::Deployment, name))
    }

    fn set_provider_root(&self, id: DeploymentId, pem: &str) -> Result<(), StoreError> {
        let rows = self
            .lock()
            .execute(
                "UPDATE deployments SET provider_root_pem = ?2 WHERE id = ?1",
                params![id.0, pem],
            )
            .map_err(database)?;
        Self::changed(rows, Record::Deployment, id)
    }

    fn delete_deployment(&self, id: DeploymentId) -> Result<(), StoreError> {
        let connection = self.lock();
        let (name, members): (String, i64) = connection
            .query_row(
                "SELECT d.name, (SELECT COUNT(*) FROM workstations w WHERE w.deployment_id = d.id) \
                 FROM deployments d WHERE d.id = ?1",
                [id.0],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(database)?
            .ok_or_else(|| not_found(Record::Deployment, id))?;
        if members > 0 {
            return Err(StoreError::InUse {
                record: Record::Deployment,
                name,
                dependents: format!("{members} workstation(s)"),
            });
        }
        connection
            .execute("DELETE FROM deployments WHERE id = ?1", [id.0])
            .map_err(database)?;
        Ok(())
    }

    fn insert_workstation(&self, new: &NewWorkstation) -> Result<Workstation, StoreError> {
        let connection = self.lock();
        let exists: bool = connection
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM deployments WHERE id = ?1)",
                [new.deployment.0],
                |r| r.get(0),
            )
            .map_err(database)?;
        if !exists {
            return Err(not_found(Record::Deployment, new.deployment));
        }
        let result = connection.execute(
            "INSERT INTO workstations (deployment_id, name, host, port, allow_legacy_tls) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                new.deployment.0,
                new.name.as_str(),
                new.host.to_string(),
                new.port,
                new.allow_legacy_tls
            ],
        );
        match result {
            Ok(_) => Ok(Workstation {
                id: WorkstationId(connection.last_insert_rowid()),
                deployment: new.deployment,
                name: new.name.clone(),
                host: new.host.clone(),
                port: new.port,
                managed: false,
                allow_legacy_tls: new.allow_legacy_tls,
                username: None,
                amt_version: None,
            }),
            Err(e) if is_unique_violation(&e) => {
                let name_taken: bool = connection
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM workstations WHERE name = ?1)",
                        [new.name.as_str()],
                        |r| r.get(0),
                    )
                    .map_err(database)?;
                let name = if name_taken {
                    new.name.to_string()
                } else {
                    crate::model::device_key(&new.host, new.port)
                };
                Err(StoreError::Duplicate {
                    record: Record::Workstation,
                    name,
                })
            }
            Err(e) => Err(database(e)),
        }
    }

    fn workstations(&self) -> Result<Vec<Workstation>, StoreError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare_cached(&format!(
                "SELECT {WORKSTATION_COLUMNS} {WORKSTATION_FROM} ORDER BY w.name"
            ))
            .map_err(database)?;
        let rows = statement.query_map([], workstation_row).map_err(database)?;
        rows.collect::<Result<_, _>>().map_err(database)
    }

    fn workstation(&self, id: WorkstationId) -> Result<Workstation, StoreError> {
        self.lock()
            .query_row(
                &format!("SELECT {WORKSTATION_COLUMNS} {WORKSTATION_FROM} WHERE w.id = ?1"),
                [id.0],
                workstation_row,
            )
            .optional()
            .map_err(database)?
            .ok_or_else(|| not_found(Record::Workstation, id))
    }

    fn workstation_by_name(&self, name: &str) -> Result<Workstation, StoreError> {
        self.lock()
            .query_row(
                &format!("SELECT {WORKSTATION_COLUMNS} {WORKSTATION_FROM} WHERE w.name = ?1"),
                [name],
                workstation_row,
            )
            .optional()
            .map_err(database)?
            .ok_or_else(|| not_found(Record::Workstation, name))
    }

    fn update_workstation(
        &self,
        id: WorkstationId,
        settings: &WorkstationSettings,
    ) -> Result<(), StoreError> {
        let result = self.lock().execute(
            "UPDATE workstations SET name = ?2, host = ?3, port = ?4, managed = ?5, \
             allow_legacy_tls = ?6 WHERE id = ?1",
            params![
                id.0,
                settings.name.as_str(),
                settings.host.to_string(),
                settings.port,
                settings.managed,
                settings.allow_legacy_tls
            ],
        );
        match result {
            Ok(rows) => Self::changed(rows, Record::Workstation, id),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Duplicate {
                record: Record::Workstation,
                name: settings.name.to_string(),
            }),
            Err(e) => Err(database(e)),
        }
    }

    fn delete_workstation(&self, id: WorkstationId) -> Result<(), StoreError> {
        let rows = self
            .lock()
            .execute("DELETE FROM workstations WHERE id = ?1", [id.0])
            .map_err(database)?;
        Self::changed(rows, Record::Workstation, id)
    }

    fn set_amt_version(&self, id: WorkstationId, version: Option<&str>) -> Result<(), StoreError> {
        let rows = self
            .lock()
            .execute(
                "UPDATE workstations SET amt_version = ?2 WHERE id = ?1",
                params![id.0, version],
            )
            .map_err(database)?;
        Self::changed(rows, Record::Workstation, id)
    }

    fn set_credentials(
        &self,
        id: WorkstationId,
        credentials: &StoredCredentials,
    ) -> Result<(), StoreError> {
        let connection = self.lock();
        let result = connection.execute(
            "INSERT INTO credentials (workstation_id, username, sealed_password) VALUES (?1, ?2, ?3) \
             ON CONFLICT (workstation_id) DO UPDATE SET username = excluded.username, \
             sealed_password = excluded.sealed_password",
            params![id.0, credentials.username, credentials.sealed.as_bytes()],
        );
        match result {
            Ok(_) => Ok(()),
            Err(e) if matches!(&e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation) => {
                Err(not_found(Record::Workstation, id))
            }
            Err(e) => Err(database(e)),
        }
    }

    fn credentials(&self, id: WorkstationId) -> Result<Option<StoredCredentials>, StoreError> {
        self.lock()
            .query_row(
                "SELECT username, sealed_password FROM credentials WHERE workstation_id = ?1",
                [id.0],
                |row| {
                    Ok(StoredCredentials {
                        username: row.get(0)?,
                        sealed: SealedSecret::from_bytes(row.get(1)?),
                    })
                },
            )
            .optional()
            .map_err(database)
    }

    fn clear_credentials(&self, id: WorkstationId) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction().map_err(database)?;
        let rows = transaction
            .execute("UPDATE workstations SET managed = 0 WHERE id = ?1", [id.0])
            .map_err(database)?;
        Self::changed(rows, Record::Workstation, id)?;
        transaction
            .execute("DELETE FROM credentials WHERE workstation_id = ?1", [id.0])
            .map_err(database)?;
        transaction.commit().map_err(database)
    }

    fn all_credentials(&self) -> Result<Vec<(WorkstationId, StoredCredentials)>, StoreError> {
        let connection = self.lock();
        let mut statement = connection
            .prepare_cached(
                "SELECT workstation_id, username, sealed_password FROM credentials ORDER BY workstation_id",
            )
            .map_err(database)?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    WorkstationId(row.get(0)?),
                    StoredCredentials {
                        username: row.get(1)?,
                        sealed: SealedSecret::from_bytes(row.get(2)?),
                    },
                ))
            })
            .map_err(database)?;
        rows.collect::<Result<_, _>>().map_err(database)
    }

    fn reseal_credentials(&self, reseals: &[Reseal]) -> Result<Vec<WorkstationId>, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction().map_err(database)?;
        let mut changed = Vec::new();
        for reseal in reseals {
            let rows = transaction
                .execute(
                    "UPDATE credentials SET sealed_password = ?2 \
                     WHERE workstation_id = ?1 AND sealed_password = ?3",
                    params![
                        reseal.workstation.0,
                        reseal.sealed.as_bytes(),
                        reseal.expected.as_bytes()
                    ],
                )
                .map_err(database)?;
            if rows == 0 {
                changed.push(reseal.workstation);
            }
        }
        transaction.commit().map_err(database)?;
        Ok(changed)
    }

    fn insert_pool(&self, name: &Name) -> Result<Pool, StoreError> {
        let connection = self.lock();
        match connection.execute("INSERT INTO pools (name) VALUES (?1)", [name.as_str()]) {
            Ok(_) => Ok(Pool {
                id: PoolId(connection.last_insert_rowid()),
                name: name.clone(),
                members: Vec::new(),
            }),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Duplicate {
                record: Record::Pool,
                name: name.to_string(),
            }),
            Err(e) => Err(database(e)),
        }
    }

    fn pools(&self) -> Result<Vec<Pool>, StoreError> {
        let connection = self.lock();
        let heads: Vec<(i64, String)> = {
            let mut statement = connection
                .prepare_cached("SELECT id, name FROM pools ORDER BY name")
                .map_err(database)?;
            let rows = statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(database)?;
            rows.collect::<Result<_, _>>().map_err(database)?
        };
        heads
            .into_iter()
            .map(|(id, name)| {
                Ok(Pool {
                    id: PoolId(id),
                    name: Name::parse(&name).map_err(|e| StoreError::Database {
                        detail: format!("stored pool name: {e}"),
                    })?,
                    members: Self::pool_members(&connection, PoolId(id))?,
                })
            })
            .collect()
    }

    fn pool_by_name(&self, name: &str) -> Result<Pool, StoreError> {
        let connection = self.lock();
        let id: i64 = connection
            .query_row("SELECT id FROM pools WHERE name = ?1", [name], |row| {
                row.get(0)
            })
            .optional()
            .map_err(database)?
            .ok_or_else(|| not_found(Record::Pool, name))?;
        Ok(Pool {
            id: PoolId(id),
            name: Name::parse(name).map_err(|e| StoreError::Database {
                detail: format!("stored pool name: {e}"),
            })?,
            members: Self::pool_members(&connection, PoolId(id))?,
        })
    }

    fn add_pool_member(&self, pool: PoolId, workstation: WorkstationId) -> Result<(), StoreError> {
        let connection = self.lock();
        let (pool_exists, workstation_exists): (bool, bool) = connection
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM pools WHERE id = ?1), \
                 EXISTS (SELECT 1 FROM workstations WHERE id = ?2)",
                params![pool.0, workstation.0],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(database)?;
        if !pool_exists {
            return Err(not_found(Record::Pool, pool));
        }
        if !workstation_exists {
            return Err(not_found(Record::Workstation, workstation));
        }
        connection
            .execute(
                "INSERT OR IGNORE INTO pool_members (pool_id, workstation_id) VALUES (?1, ?2)",
                params![pool.0, workstation.0],
            )
            .map_err(database)?;
        Ok(())
    }

    fn remove_pool_member(
        &self,
        pool: PoolId,
        workstation: WorkstationId,
    ) -> Result<(), StoreError> {
        let connection = self.lock();
        let rows = connection
            .execute(
                "DELETE FROM pool_members WHERE pool_id = ?1 AND workstation_id = ?2",
                params![pool.0, workstation.0],
            )
            .map_err(database)?;
        if rows > 0 {
            return Ok(());
        }
        let (pool_name, workstation_name): (Option<String>, Option<String>) = connection
            .query_row(
                "SELECT (SELECT name FROM pools WHERE id = ?1), \
                 (SELECT name FROM workstations WHERE id = ?2)",
                params![pool.0, workstation.0],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(database)?;
        match (pool_name, workstation_name) {
            (None, _) => Err(not_found(Record::Pool, pool)),
            (_, None) => Err(not_found(Record::Workstation, workstation)),
            (Some(pool), Some(workstation)) => Err(StoreError::NotMember { pool, workstation }),
        }
    }

    fn delete_pool(&self, pool: PoolId) -> Result<(), StoreError> {
        let rows = self
            .lock()
            .execute("DELETE FROM pools WHERE id = ?1", [pool.0])
            .map_err(database)?;
        Self::changed(rows, Record::Pool, pool)
    }

    fn claim_power_slot(&self, claim: &PowerClaim<'_>) -> Result<ClaimOutcome, StoreError> {
        let now = sql_ms(claim.now_unix_ms);
        let mut connection = self.lock();
        // IMMEDIATE takes the write lock first: of two processes, the second waits and then sees
        // the first one's claim.
        let transaction = connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(database)?;
        transaction
            .execute(
                "UPDATE power_sends SET sent_at_unix_ms = ?2 \
                 WHERE device_key = ?1 AND sent_at_unix_ms > ?2",
                params![claim.device_key, now],
            )
            .map_err(database)?;
        let held: bool = transaction
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM power_claims WHERE device_key = ?1 \
                 AND owner <> ?2 AND claimed_until_unix_ms > ?3)",
                params![claim.device_key, claim.owner, now],
                |row| row.get(0),
            )
            .map_err(database)?;
        let sent: Option<i64> = transaction
            .query_row(
                "SELECT sent_at_unix_ms FROM power_sends WHERE device_key = ?1",
                [claim.device_key],
                |row| row.get(0),
            )
            .optional()
            .map_err(database)?;
        let period = u64::try_from(claim.period.as_millis()).unwrap_or(u64::MAX);
        let cooling = sent
            .map(|sent| u64::try_from(sent).unwrap_or(0))
            .filter(|sent| claim.now_unix_ms.saturating_sub(*sent) < period);
        let outcome = if held {
            ClaimOutcome::Held
        } else if let Some(sent) = cooling {
            ClaimOutcome::CoolingDown {
                last_sent_unix_ms: sent,
            }
        } else {
            // The conditions again, in the statement that claims: it changes a row only where
            // the slot is free or already this owner's.
            let rows = transaction
                .execute(
                    "INSERT INTO power_claims (device_key, owner, claimed_until_unix_ms) \
                     VALUES (?1, ?2, ?3) ON CONFLICT (device_key) DO UPDATE SET \
                     owner = excluded.owner, claimed_until_unix_ms = excluded.claimed_until_unix_ms \
                     WHERE power_claims.claimed_until_unix_ms <= ?4 \
                     OR power_claims.owner = excluded.owner",
                    params![
                        claim.device_key,
                        claim.owner,
                        sql_ms(claim.until_unix_ms),
                        now
                    ],
                )
                .map_err(database)?;
            if rows == 1 {
                ClaimOutcome::Claimed
            } else {
                ClaimOutcome::Held
            }
        };
        transaction.commit().map_err(database)?;
        Ok(outcome)
    }

    fn release_power_claim(&self, device_key: &str, owner: &str) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "DELETE FROM power_claims WHERE device_key = ?1 AND owner = ?2",
                params![device_key, owner],
            )
            .map_err(database)?;
        Ok(())
    }

    fn record_power_send(&self, device_key: &str, at_unix_ms: u64) -> Result<(), StoreError> {
        let at = sql_ms(at_unix_ms);
        self.lock()
            .execute(
                "INSERT INTO power_sends (device_key, sent_at_unix_ms) VALUES (?1, ?2) \
                 ON CONFLICT (device_key) DO UPDATE SET sent_at_unix_ms = \
                 MAX(sent_at_unix_ms, excluded.sent_at_unix_ms)",
                params![device_key, at],
            )
            .map_err(database)?;
        Ok(())
    }

    fn retract_power_send(&self, device_key: &str, at_unix_ms: u64) -> Result<(), StoreError> {
        let at = sql_ms(at_unix_ms);
        self.lock()
            .execute(
                "DELETE FROM power_sends WHERE device_key = ?1 AND sent_at_unix_ms = ?2",
                params![device_key, at],
            )
            .map_err(database)?;
        Ok(())
    }

    fn last_power_send(&self, device_key: &str) -> Result<Option<u64>, StoreError> {
        let at: Option<i64> = self
            .lock()
            .query_row(
                "SELECT sent_at_unix_ms FROM power_sends WHERE device_key = ?1",
                [device_key],
                |row| row.get(0),
            )
            .optional()
            .map_err(database)?;
        Ok(at.map(|at| u64::try_from(at).unwrap_or(0)))
    }

    fn prune_power_sends(&self, before_unix_ms: u64) -> Result<usize, StoreError> {
        let before = sql_ms(before_unix_ms);
        let connection = self.lock();
        connection
            .execute(
                "DELETE FROM power_claims WHERE claimed_until_unix_ms < ?1",
                [before],
            )
            .map_err(database)?;
        connection
            .execute(
                "DELETE FROM power_sends WHERE sent_at_unix_ms < ?1",
                [before],
            )
            .map_err(database)
    }
}
