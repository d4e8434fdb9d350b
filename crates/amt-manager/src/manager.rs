//! The facade: inventory management, credential validation, status, power operations, bulk runs.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use amt_cooldown::{CooldownGate, Refusal, Timestamp};
use amt_power::{
    AmtVersion, Availability, PowerClass, PowerOperation, PowerState, ReturnValue, Unavailable,
    availability,
};
use amt_trust::{Host, ProviderRoot};
use secrecy::SecretString;

use crate::clock::{SystemClock, WallClock};
use crate::device::{DeploymentTls, DeviceSession, SessionSettings, Timeouts};
use crate::error::Error;
use crate::model::{
    AMT_TLS_PORT, Deployment, Name, NewWorkstation, Pool, Workstation, WorkstationSettings,
    device_key,
};
use crate::store::{ClaimOutcome, PowerClaim, Reseal, SqliteStore, Store, StoredCredentials};
use crate::vault::{KeyId, Vault, VaultError, VaultKey, replace_key_file};

/// How the manager confirms a power change after AMT accepted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmation {
    /// How long to keep re-reading the state.
    pub deadline: Duration,
    /// How long to wait between reads.
    pub interval: Duration,
}

impl Default for Confirmation {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(30),
            interval: Duration::from_secs(1),
        }
    }
}

/// Tunables of a [`Manager`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ManagerOptions {
    /// Connect, TLS and request timeouts for every workstation. Three times their sum is how
    /// long a power operation may hold its workstation before sending (see [`Manager::run`]).
    pub timeouts: Timeouts,
    /// How many workstations a bulk run works on at once (default 64).
    pub concurrency: usize,
    /// Whether and how power changes are confirmed by re-reading the state (default: confirm,
    /// 30 s deadline, 1 s interval).
    pub confirmation: Option<Confirmation>,
    /// How many workstations' TLS sessions are cached for resumption, per deployment.
    pub tls_session_cache_hosts: usize,
    /// Whether a status read also asks for the OS power state (`IPS_PowerManagementService`,
    /// AMT 10+, while on). It costs one more request per workstation; fleet sweeps that only
    /// need power states turn it off. Default on.
    pub read_os_power_state: bool,
    /// How many workstations keep their connection open between calls: the most recently used
    /// ones; the least recently used connection beyond the limit is closed (TLS resumption keeps
    /// reconnecting cheap). An idle connection costs about 28 KB, so this keeps memory flat over
    /// large fleets.
    pub max_idle_connections: usize,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        Self {
            timeouts: Timeouts::default(),
            concurrency: 64,
            confirmation: Some(Confirmation::default()),
            tls_session_cache_hosts: 10_000,
            read_os_power_state: true,
            max_idle_connections: 256,
        }
    }
}

/// Builds a [`Manager`].
#[derive(Debug, Default)]
pub struct ManagerBuilder {
    store: Option<Arc<dyn Store>>,
    vault: Option<VaultSource>,
    clock: Option<Arc<dyn WallClock>>,
    options: ManagerOptions,
}

#[derive(Debug)]
enum VaultSource {
    KeyFile(PathBuf),
    Key(VaultKey),
}

impl ManagerBuilder {
    /// Uses this inventory.
    #[must_use]
    pub fn store(mut self, store: impl Store + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Uses this shared inventory.
    #[must_use]
    pub fn shared_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Keeps the vault key in this file (created with mode 0600 on first use).
    #[must_use]
    pub fn key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.vault = Some(VaultSource::KeyFile(path.into()));
        self
    }

    /// Uses a vault key the embedding application keeps.
    #[must_use]
    pub fn vault_key(mut self, key: VaultKey) -> Self {
        self.vault = Some(VaultSource::Key(key));
        self
    }

    /// Reads time from this clock (tests).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn WallClock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Sets the tunables.
    #[must_use]
    pub fn options(mut self, options: ManagerOptions) -> Self {
        self.options = options;
        self
    }

    /// Builds the manager: opens the vault and finishes an interrupted key rotation (see
    /// [`Manager::finish_key_rotation`]; records it cannot open are logged and left as they are,
    /// they do not stop the manager).
    pub fn build(self) -> Result<Manager, Error> {
        let store = self.store.ok_or_else(|| Error::InvalidInput {
            detail: "the manager needs an inventory store".to_owned(),
        })?;
        let (vault, key_file) = match self.vault {
            Some(VaultSource::KeyFile(path)) => (open_vault_file(&path)?, Some(path)),
            Some(VaultSource::Key(key)) => (Vault::new(key), None),
            None => {
                return Err(Error::InvalidInput {
                    detail: "the manager needs a vault key or a key file".to_owned(),
                });
            }
        };
        let manager = Manager {
            inner: Arc::new(Inner {
                store,
                vault: Mutex::new(vault),
                rotation: RwLock::new(()),
                key_file,
                owner: claim_owner(),
                gate: CooldownGate::new(),
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                options: self.options,
                sessions: Mutex::new(HashMap::new()),
                idle: Mutex::new(VecDeque::new()),
                tls: Mutex::new(HashMap::new()),
            }),
        };
        let rotation = manager.finish_key_rotation()?;
        if !rotation.finished {
            tracing::warn!(
                unopenable = ?rotation.unopenable_names(),
                "a key rotation is unfinished: some stored credentials are still sealed with an older key"
            );
        }
        Ok(manager)
    }
}

/// A token that tells this manager's power-operation claims in the inventory from those of other
/// processes (and other managers in this process).
fn claim_owner() -> String {
    static MANAGERS: AtomicU64 = AtomicU64::new(0);
    let mut random = [0u8; 8];
    // The process id and the counter already tell managers apart on one host; the random part
    // only guards against a process id reused after a crash.
    let _ = getrandom::fill(&mut random);
    format!(
        "{}-{}-{:016x}",
        std::process::id(),
        MANAGERS.fetch_add(1, Ordering::Relaxed),
        u64::from_be_bytes(random)
    )
}

/// How many times a key rotation re-reads the records that changed while it re-encrypted them.
const RESEAL_PASSES: usize = 3;

/// What a key rotation did (see [`Manager::rotate_vault_key`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct KeyRotation {
    /// The key that seals from now on.
    pub key_id: KeyId,
    /// How many records were re-encrypted.
    pub resealed: usize,
    /// The workstations whose stored credentials could not be opened, by name, with why. They
    /// are left as they are; setting or clearing their credentials resolves them.
    pub unopenable: Vec<(String, VaultError)>,
    /// Whether the rotation is complete. While a record that is still sealed with an older key
    /// remains, that key is kept (in memory, and in the key file, whose new key waits beside it
    /// as `<key file>.next`), and the next [`Manager::finish_key_rotation`] (or the next start)
    /// tries again.
    pub finished: bool,
}

impl KeyRotation {
    /// The names of [`unopenable`](Self::unopenable).
    pub fn unopenable_names(&self) -> Vec<String> {
        self.unopenable
            .iter()
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// The file a key rotation writes the new key to before it commits.
fn next_key_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".next");
    path.with_file_name(name)
}

fn open_vault_file(path: &Path) -> Result<Vault, Error> {
    let vault = Vault::open_key_file(path)?;
    let next = next_key_path(path);
    if next.exists() {
        let key = VaultKey::read_file(&next)?;
        return Ok(vault.with_new_key(key));
    }
    Ok(vault)
}

/// The power-management facade. Cheap to clone; all clones share one inventory, vault, cooldown
/// gate and set of device sessions.
#[derive(Debug, Clone)]
pub struct Manager {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    vault: Mutex<Vault>,
    /// Held for reading while a password is sealed and stored, for writing by a key rotation, so
    /// that no record is sealed with a key the rotation is retiring.
    rotation: RwLock<()>,
    key_file: Option<PathBuf>,
    /// This manager's token in the inventory's power-operation claims.
    owner: String,
    gate: CooldownGate<String>,
    clock: Arc<dyn WallClock>,
    options: ManagerOptions,
    /// Open sessions by device key, with the settings they were made for.
    sessions: Mutex<HashMap<String, (SessionSettings, DeviceSession)>>,
    /// Device keys of the sessions that may hold an idle connection, least recently used first.
    idle: Mutex<VecDeque<String>>,
    /// One set of TLS client configurations per provider root (by its SHA-256), shared by all
    /// its workstations so that TLS sessions resume.
    tls: Mutex<HashMap<[u8; 32], Arc<DeploymentTls>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read_lock(lock: &RwLock<()>) -> std::sync::RwLockReadGuard<'_, ()> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write_lock(lock: &RwLock<()>) -> std::sync::RwLockWriteGuard<'_, ()> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// A workstation reached without the inventory (direct mode): where it is, the root to trust,
/// the credentials.
#[derive(Debug, Clone)]
pub struct DirectTarget {
    /// Its FQDN or IP.
    pub host: Host,
    /// Its AMT TLS port.
    pub port: u16,
    /// The provider root CA certificate (PEM).
    pub provider_root_pem: String,
    /// The digest user name.
    pub username: String,
    /// The password.
    pub password: SecretString,
    /// The legacy TLS switch, as [`Workstation::allow_legacy_tls`].
    pub allow_legacy_tls: bool,
}

/// A workstation resolved for a call: where, how, and as whom.
#[derive(Debug, Clone)]
struct Target {
    label: String,
    workstation: Option<Workstation>,
    settings: SessionSettings,
    amt_version: Option<AmtVersion>,
}

impl Target {
    fn key(&self) -> String {
        device_key(&self.settings.host, self.settings.port)
    }
}

/// What the manager knows of a workstation's power right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkstationStatus {
    /// The workstation's name (the host in direct mode).
    pub name: String,
    /// The host it was reached at.
    pub host: String,
    /// The power state read now.
    pub power_state: PowerState,
    /// `AvailableRequestedPowerStates` as read now.
    pub offered: Vec<u16>,
    /// Which operations are available, and why not the others.
    pub availability: Availability,
    /// The AMT firmware version (cached after the first read).
    pub amt_version: Option<AmtVersion>,
    /// `OSPowerSavingState` (2 full power, 3 OS power saving), read on AMT 10+ when the
    /// workstation is on.
    pub os_power_state: Option<u16>,
}

/// The result of a power operation AMT accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationOutcome {
    /// The workstation's name (the host in direct mode).
    pub name: String,
    /// The host it was reached at.
    pub host: String,
    /// The operation run.
    pub operation: PowerOperation,
    /// AMT's answer (0 completed or 4096 job started).
    pub return_value: ReturnValue,
    /// The state before the change.
    pub state_before: PowerState,
    /// The last state read after the change (with confirmation on).
    pub state_after: Option<PowerState>,
    /// Whether the change was seen to happen: `None` when confirmation is off, `Some(false)` when
    /// the deadline passed first (AMT may accept a change it then ignores).
    pub confirmed: Option<bool>,
}

impl OperationOutcome {
    /// Whether AMT accepted the request.
    pub fn accepted(&self) -> bool {
        self.return_value.is_accepted()
    }
}

/// Which workstations a bulk run covers: named workstations and every member of named pools.
/// A workstation named twice, or in two pools, runs once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// Workstation names.
    pub workstations: Vec<String>,
    /// Pool names.
    pub pools: Vec<String>,
}

impl Targets {
    /// These workstations.
    pub fn workstations<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Self {
        Self {
            workstations: names.into_iter().map(Into::into).collect(),
            pools: Vec::new(),
        }
    }

    /// These pools.
    pub fn pools<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Self {
        Self {
            workstations: Vec::new(),
            pools: names.into_iter().map(Into::into).collect(),
        }
    }
}

/// One workstation's result in a bulk run.
#[derive(Debug)]
pub struct BulkResult<T> {
    /// The workstation's name.
    pub name: String,
    /// The host it is reached at.
    pub host: String,
    /// What happened.
    pub result: Result<T, Error>,
    /// How long the work on this workstation took, from the moment it got one of the run's
    /// [`ManagerOptions::concurrency`] slots (time spent waiting for a slot is not counted).
    pub elapsed: Duration,
}

/// Progress of a bulk run, given to the callback after each workstation.
#[derive(Debug)]
pub struct BulkProgress<'a, T> {
    /// Workstations finished so far (this one included).
    pub done: usize,
    /// Workstations in the run.
    pub total: usize,
    /// This workstation's result.
    pub latest: &'a BulkResult<T>,
}

impl Manager {
    /// Starts building a manager.
    pub fn builder() -> ManagerBuilder {
        ManagerBuilder::default()
    }

    /// The usual embedded set-up: the SQLite inventory at `database` and the vault key file at
    /// `key_file` (both created if missing).
    pub fn open(database: &Path, key_file: &Path) -> Result<Self, Error> {
        Self::builder()
            .store(SqliteStore::open(database)?)
            .key_file(key_file)
            .build()
    }

    /// The inventory.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The options in force.
    pub fn options(&self) -> &ManagerOptions {
        &self.inner.options
    }

    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.inner.clock.now_unix_ms())
    }

    // ----- deployments -------------------------------------------------------------------

    /// Adds a deployment with its provider root CA certificate (PEM text: a file's contents or
    /// pasted text; exactly one CA certificate).
    pub fn add_deployment(&self, name: &str, provider_root_pem: &str) -> Result<Deployment, Error> {
        let name = Name::parse(name)?;
        ProviderRoot::from_pem(provider_root_pem)
            .map_err(|source| Error::InvalidProviderRoot { source })?;
        Ok(self
            .inner
            .store
            .insert_deployment(&name, provider_root_pem)?)
    }

    /// Every deployment.
    pub fn deployments(&self) -> Result<Vec<Deployment>, Error> {
        Ok(self.inner.store.deployments()?)
    }

    /// Replaces a deployment's provider root; its workstations are reached with the new one from
    /// the next call.
    pub fn set_provider_root(
        &self,
        deployment: &str,
        provider_root_pem: &str,
    ) -> Result<(), Error> {
        ProviderRoot::from_pem(provider_root_pem)
            .map_err(|source| Error::InvalidProviderRoot { source })?;
        let deployment = self.inner.store.deployment_by_name(deployment)?;
        self.inner
            .store
            .set_provider_root(deployment.id, provider_root_pem)?;
        lock(&self.inner.sessions).clear();
        Ok(())
    }

    /// Removes a deployment that has no workstations.
    pub fn remove_deployment(&self, deployment: &str) -> Result<(), Error> {
        let deployment = self.inner.store.deployment_by_name(deployment)?;
        Ok(self.inner.store.delete_deployment(deployment.id)?)
    }

    // ----- workstations ------------------------------------------------------------------

    /// Adds a workstation to a deployment: not managed, without credentials. `port` defaults to
    /// 16993.
    pub fn add_workstation(
        &self,
        deployment: &str,
        name: &str,
        host: &str,
        port: Option<u16>,
        allow_legacy_tls: bool,
    ) -> Result<Workstation, Error> {
        let name = Name::parse(name)?;
        let host = parse_host(host)?;
        let port = checked_port(port)?;
        let deployment = self.inner.store.deployment_by_name(deployment)?;
        Ok(self.inner.store.insert_workstation(&NewWorkstation {
            deployment: deployment.id,
            name,
            host,
            port,
            allow_legacy_tls,
        })?)
    }

    /// Every workstation.
    pub fn workstations(&self) -> Result<Vec<Workstation>, Error> {
        Ok(self.inner.store.workstations()?)
    }

    /// One workstation.
    pub fn workstation(&self, name: &str) -> Result<Workstation, Error> {
        Ok(self.inner.store.workstation_by_name(name)?)
    }

    /// Changes where a workstation is reached, or renames it. A new host or port forgets the
    /// cached AMT version.
    pub fn update_workstation(
        &self,
        name: &str,
        new_name: Option<&str>,
        host: Option<&str>,
        port: Option<u16>,
    ) -> Result<Workstation, Error> {
        let workstation = self.inner.store.workstation_by_name(name)?;
        let settings = WorkstationSettings {
            name: new_name
                .map(Name::parse)
                .transpose()?
                .unwrap_or_else(|| workstation.name.clone()),
            host: host
                .map(parse_host)
                .transpose()?
                .unwrap_or_else(|| workstation.host.clone()),
            port: port
                .map(|p| checked_port(Some(p)))
                .transpose()?
                .unwrap_or(workstation.port),
            managed: workstation.managed,
            allow_legacy_tls: workstation.allow_legacy_tls,
        };
        let moved = settings.host != workstation.host || settings.port != workstation.port;
        self.inner
            .store
            .update_workstation(workstation.id, &settings)?;
        if moved {
            // Another address may be another device: its version is read afresh.
            self.inner.store.set_amt_version(workstation.id, None)?;
        }
        self.forget_session(&workstation.device_key());
        Ok(self.inner.store.workstation(workstation.id)?)
    }

    /// Removes a workstation, its credentials and its pool memberships.
    pub fn remove_workstation(&self, name: &str) -> Result<(), Error> {
        let workstation = self.inner.store.workstation_by_name(name)?;
        self.inner.store.delete_workstation(workstation.id)?;
        self.forget_session(&workstation.device_key());
        Ok(())
    }

    /// Turns management on or off. Turning it on needs stored credentials.
    pub fn set_managed(&self, name: &str, managed: bool) -> Result<(), Error> {
        let workstation = self.inner.store.workstation_by_name(name)?;
        if managed && !workstation.has_credentials() {
            return Err(Error::NotManageable);
        }
        self.update_settings(&workstation, |s| s.managed = managed)
    }

    /// Turns a workstation's legacy TLS switch on or off: on, it is reached through the legacy
    /// TLS transport only (it weakens the connection; cargo feature `legacy-tls`); off, through
    /// modern TLS only. See the crate docs, "Legacy TLS".
    pub fn set_allow_legacy_tls(&self, name: &str, allow: bool) -> Result<(), Error> {
        let workstation = self.inner.store.workstation_by_name(name)?;
        self.update_settings(&workstation, |s| s.allow_legacy_tls = allow)?;
        self.forget_session(&workstation.device_key());
        Ok(())
    }

    fn update_settings(
        &self,
        workstation: &Workstation,
        change: impl FnOnce(&mut WorkstationSettings),
    ) -> Result<(), Error> {
        let mut settings = WorkstationSettings {
            name: workstation.name.clone(),
            host: workstation.host.clone(),
            port: workstation.port,
            managed: workstation.managed,
            allow_legacy_tls: workstation.allow_legacy_tls,
        };
        change(&mut settings);
        Ok(self
            .inner
            .store
            .update_workstation(workstation.id, &settings)?)
    }

    /// Validates credentials against the workstation (an authenticated call, whether or not it
    /// is managed) and, only if they work, stores them encrypted. The AMT version read while
    /// validating is cached.
    pub async fn set_credentials(
        &self,
        name: &str,
        username: &str,
        password: SecretString,
    ) -> Result<(), Error> {
        let workstation = self.inner.store.workstation_by_name(name)?;
        let deployment = self.inner.store.deployment(workstation.deployment)?;
        let settings = SessionSettings {
            host: workstation.host.clone(),
            port: workstation.port,
            provider_root_pem: deployment.provider_root_pem,
            username: username.to_owned(),
            password: password.clone(),
            allow_legacy_tls: workstation.allow_legacy_tls,
        };
        let session = self.new_session(&settings)?;
        let version = session
            .validate()
            .await
            .map_err(|e| session.validation_error(e))?;
        {
            // Sealed and stored under the rotation lock: a rotation either sees this record or
            // runs before it is sealed (with the new key).
            let _rotation = read_lock(&self.inner.rotation);
            let sealed = lock(&self.inner.vault).seal(workstation.id, &password)?;
            self.inner.store.set_credentials(
                workstation.id,
                &StoredCredentials {
                    username: username.to_owned(),
                    sealed,
                },
            )?;
        }
        self.inner
            .store
            .set_amt_version(workstation.id, Some(&version.to_string()))?;
        let key = workstation.device_key();
        lock(&self.inner.sessions).insert(key, (settings, session));
        Ok(())
    }

    /// Forgets a workstation's credentials (and turns management off).
    pub fn clear_credentials(&self, name: &str) -> Result<(), Error> {
        let workstation = self.inner.store.workstation_by_name(name)?;
        self.inner.store.clear_credentials(workstation.id)?;
        self.forget_session(&workstation.device_key());
        Ok(())
    }

    // ----- pools ---------------------------------------------------------------------------

    /// Adds an empty pool.
    pub fn add_pool(&self, name: &str) -> Result<Pool, Error> {
        Ok(self.inner.store.insert_pool(&Name::parse(name)?)?)
    }

    /// Adds a workstation to a pool.
    pub fn add_pool_member(&self, pool: &str, workstation: &str) -> Result<(), Error> {
        let pool = self.inner.store.pool_by_name(pool)?;
        let workstation = self.inner.store.workstation_by_name(workstation)?;
        Ok(self.inner.store.add_pool_member(pool.id, workstation.id)?)
    }

    /// Removes a workstation from a pool.
    pub fn remove_pool_member(&self, pool: &str, workstation: &str) -> Result<(), Error> {
        let pool = self.inner.store.pool_by_name(pool)?;
        let workstation = self.inner.store.workstation_by_name(workstation)?;
        Ok(self
            .inner
            .store
            .remove_pool_member(pool.id, workstation.id)?)
    }

    /// Every pool.
    pub fn pools(&self) -> Result<Vec<Pool>, Error> {
        Ok(self.inner.store.pools()?)
    }

    /// Removes a pool (not its workstations).
    pub fn remove_pool(&self, name: &str) -> Result<(), Error> {
        let pool = self.inner.store.pool_by_name(name)?;
        Ok(self.inner.store.delete_pool(pool.id)?)
    }

    // ----- the vault -----------------------------------------------------------------------

    /// Re-encrypts every stored password under a new random key kept in the key file. The new
    /// key is written beside it first (`<key file>.next`) and replaces it once every record is
    /// re-encrypted, so an interrupted rotation is finished on the next start.
    ///
    /// Only for a manager with a key file: a manager whose key the application supplies is
    /// rotated with [`rotate_vault_key_to`](Self::rotate_vault_key_to), with a new key the
    /// application keeps (this manager could not hand one back: key bytes never leave it).
    /// Records that cannot be opened are skipped and listed in the result; while one of them
    /// is still sealed with the old key, the old key is kept (see [`KeyRotation::finished`]),
    /// and a further rotation is refused until they are set or cleared.
    pub fn rotate_vault_key(&self) -> Result<KeyRotation, Error> {
        let Some(path) = &self.inner.key_file else {
            return Err(Error::InvalidInput {
                detail: "this manager's vault key is supplied by the application, which must \
                         also keep the new one: use rotate_vault_key_to"
                    .to_owned(),
            });
        };
        let _rotation = write_lock(&self.inner.rotation);
        self.check_no_rotation_pending()?;
        let key = VaultKey::generate()?;
        let next = next_key_path(path);
        key.write_new_file(&next).map_err(|error| match error {
            VaultError::KeyFileIo { source, .. }
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                VaultError::RotationInProgress { path: next.clone() }
            }
            other => other,
        })?;
        {
            let mut vault = lock(&self.inner.vault);
            *vault = vault.with_new_key(key);
        }
        self.finish_rotation_locked()
    }

    /// Re-encrypts every stored password under `key`, which the embedding application keeps
    /// (make it with [`VaultKey::from_bytes`] from bytes the application stores). As
    /// [`rotate_vault_key`](Self::rotate_vault_key) otherwise; while the result is not
    /// [`finished`](KeyRotation::finished), the old key still opens the records left behind
    /// in this manager only.
    pub fn rotate_vault_key_to(&self, key: VaultKey) -> Result<KeyRotation, Error> {
        if self.inner.key_file.is_some() {
            return Err(Error::InvalidInput {
                detail: "this manager keeps its key in a file; use rotate_vault_key".to_owned(),
            });
        }
        let _rotation = write_lock(&self.inner.rotation);
        self.check_no_rotation_pending()?;
        {
            let mut vault = lock(&self.inner.vault);
            *vault = vault.with_new_key(key);
        }
        self.finish_rotation_locked()
    }

    /// Refuses a new rotation while an earlier one cannot finish (three keys would be in play).
    fn check_no_rotation_pending(&self) -> Result<(), Error> {
        let pending = self.finish_rotation_locked()?;
        if pending.finished {
            return Ok(());
        }
        Err(VaultError::RotationUnfinished {
            workstations: pending.unopenable_names(),
        }
        .into())
    }

    /// Re-encrypts the records not sealed by the current key and, once none is left sealed with
    /// an older key, retires the older keys (with a key file, the new key file replaces the
    /// old). Records that cannot be opened are skipped, logged and listed in the result.
    /// [`ManagerBuilder::build`] calls this; call it again after setting or clearing the
    /// credentials of the workstations an unfinished rotation listed.
    pub fn finish_key_rotation(&self) -> Result<KeyRotation, Error> {
        let _rotation = write_lock(&self.inner.rotation);
        self.finish_rotation_locked()
    }

    /// [`finish_key_rotation`](Self::finish_key_rotation), with the rotation lock held.
    fn finish_rotation_locked(&self) -> Result<KeyRotation, Error> {
        let store = &self.inner.store;
        let vault = lock(&self.inner.vault).clone();
        let mut resealed = 0;
        // The lock keeps this process's writers out; a record that changes anyway was written
        // by another process, and is read again.
        for _ in 0..RESEAL_PASSES {
            let mut reseals = Vec::new();
            for (id, stored) in store.all_credentials()? {
                if vault.is_current(&stored.sealed) {
                    continue;
                }
                if let Ok(password) = vault.open(id, &stored.sealed) {
                    reseals.push(Reseal {
                        workstation: id,
                        sealed: vault.seal(id, &password)?,
                        expected: stored.sealed,
                    });
                }
            }
            if reseals.is_empty() {
                break;
            }
            let changed = store.reseal_credentials(&reseals)?;
            resealed += reseals.len() - changed.len();
            if changed.is_empty() {
                break;
            }
        }

        let mut unopenable = Vec::new();
        let mut older_key_needed = false;
        for (id, stored) in store.all_credentials()? {
            if vault.is_current(&stored.sealed) {
                continue;
            }
            older_key_needed |= vault.is_older(&stored.sealed);
            if let Err(error) = vault.open(id, &stored.sealed) {
                let name = store
                    .workstation(id)
                    .map_or_else(|_| format!("#{id}"), |w| w.name.to_string());
                tracing::warn!(workstation = %name, %error, "stored credentials cannot be opened; left as they are");
                unopenable.push((name, error));
            }
        }
        let finished = !older_key_needed;
        if finished {
            if let Some(path) = &self.inner.key_file {
                let next = next_key_path(path);
                // Only this rotation's new key replaces the key file: another process's
                // rotation may have written a key this manager does not hold.
                let ours =
                    next.exists() && VaultKey::read_file(&next)?.id() == vault.current_key().id();
                if ours {
                    replace_key_file(&next, path)?;
                }
            }
            if vault.has_older_keys() {
                *lock(&self.inner.vault) = Vault::new(vault.current_key().clone());
            }
        }
        Ok(KeyRotation {
            key_id: vault.current_key().id(),
            resealed,
            unopenable,
            finished,
        })
    }

    // ----- sessions ------------------------------------------------------------------------

    fn tls_config(&self, provider_root_pem: &str) -> Result<Arc<DeploymentTls>, Error> {
        let root = ProviderRoot::from_pem(provider_root_pem)
            .map_err(|source| Error::InvalidProviderRoot { source })?;
        let fingerprint = *root.sha256_fingerprint().as_bytes();
        let mut configs = lock(&self.inner.tls);
        if let Some(config) = configs.get(&fingerprint) {
            return Ok(Arc::clone(config));
        }
        let config = Arc::new(DeploymentTls::new(
            root,
            self.inner.options.tls_session_cache_hosts,
        ));
        configs.insert(fingerprint, Arc::clone(&config));
        Ok(config)
    }

    fn new_session(&self, settings: &SessionSettings) -> Result<DeviceSession, Error> {
        let tls = self.tls_config(&settings.provider_root_pem)?;
        DeviceSession::new(settings, &tls, &self.inner.options.timeouts)
    }

    fn session(&self, target: &Target) -> Result<DeviceSession, Error> {
        let key = target.key();
        if let Some((settings, session)) = lock(&self.inner.sessions).get(&key)
            && *settings == target.settings
        {
            return Ok(session.clone());
        }
        let session = self.new_session(&target.settings)?;
        lock(&self.inner.sessions).insert(key, (target.settings.clone(), session.clone()));
        Ok(session)
    }

    fn forget_session(&self, key: &str) {
        lock(&self.inner.sessions).remove(key);
    }

    /// Marks the session of `key` as just used, and closes the least recently used connection
    /// when more than [`ManagerOptions::max_idle_connections`] may be open.
    fn release(&self, key: &str) {
        let evicted = {
            let mut idle = lock(&self.inner.idle);
            if let Some(at) = idle.iter().position(|k| k == key) {
                idle.remove(at);
            }
            idle.push_back(key.to_owned());
            let mut evicted = Vec::new();
            while idle.len() > self.inner.options.max_idle_connections {
                evicted.extend(idle.pop_front());
            }
            evicted
        };
        if evicted.is_empty() {
            return;
        }
        let sessions = lock(&self.inner.sessions);
        for key in evicted {
            if let Some((_, session)) = sessions.get(&key) {
                session.close();
            }
        }
    }

    fn target(&self, name: &str) -> Result<Target, Error> {
        let workstation = self.inner.store.workstation_by_name(name)?;
        let credentials = self
            .inner
            .store
            .credentials(workstation.id)?
            .ok_or(Error::NoCredentials)?;
        let password = lock(&self.inner.vault).open(workstation.id, &credentials.sealed)?;
        let deployment = self.inner.store.deployment(workstation.deployment)?;
        Ok(Target {
            label: workstation.name.to_string(),
            settings: SessionSettings {
                host: workstation.host.clone(),
                port: workstation.port,
                provider_root_pem: deployment.provider_root_pem,
                username: credentials.username,
                password,
                allow_legacy_tls: workstation.allow_legacy_tls,
            },
            amt_version: workstation.amt_version.clone(),
            workstation: Some(workstation),
        })
    }

    fn direct(target: DirectTarget) -> Target {
        Target {
            label: target.host.to_string(),
            workstation: None,
            settings: SessionSettings {
                host: target.host,
                port: target.port,
                provider_root_pem: target.provider_root_pem,
                username: target.username,
                password: target.password,
                allow_legacy_tls: target.allow_legacy_tls,
            },
            amt_version: None,
        }
    }

    // ----- status --------------------------------------------------------------------------

    /// Reads a workstation's power state, which operations are available (and why not the
    /// others), its AMT version (cached) and OS power state.
    pub async fn status(&self, name: &str) -> Result<WorkstationStatus, Error> {
        let target = self.target(name)?;
        self.status_of(target).await
    }

    /// [`status`](Self::status) of a workstation outside the inventory.
    pub async fn status_direct(&self, target: DirectTarget) -> Result<WorkstationStatus, Error> {
        ProviderRoot::from_pem(&target.provider_root_pem)
            .map_err(|source| Error::InvalidProviderRoot { source })?;
        self.status_of(Self::direct(target)).await
    }

    async fn status_of(&self, mut target: Target) -> Result<WorkstationStatus, Error> {
        let session = self.session(&target)?;
        let result = async {
            let (state, offered, version) = self.read_status(&session, &mut target).await?;
            let os_power_state = match &version {
                Some(v)
                    if self.inner.options.read_os_power_state
                        && v.major() >= 10
                        && state == PowerState::On =>
                {
                    session.os_power_state().await.ok()
                }
                _ => None,
            };
            Ok(WorkstationStatus {
                name: target.label.clone(),
                host: target.settings.host.to_string(),
                power_state: state,
                availability: availability(state, &offered, version.as_ref()),
                offered,
                amt_version: version,
                os_power_state,
            })
        }
        .await;
        self.release(&target.key());
        result
    }

    /// Reads state and offered transitions, and the version: from the `Server` header of that
    /// very reply when AMT sent one (no extra request; a version that differs from the cached
    /// one, after a firmware update, replaces it), else the cached one, else from
    /// `CIM_SoftwareIdentity`.
    async fn read_status(
        &self,
        session: &DeviceSession,
        target: &mut Target,
    ) -> Result<(PowerState, Vec<u16>, Option<AmtVersion>), Error> {
        let (state, offered) = session.power_status().await?;
        let read = match (session.server_version(), &target.amt_version) {
            (Some(version), Some(cached)) if version == *cached => None,
            (Some(version), _) => Some(version),
            (None, Some(_)) => None,
            (None, None) => session.amt_version().await.ok(),
        };
        if let Some(version) = read {
            if let Some(workstation) = &target.workstation {
                self.inner
                    .store
                    .set_amt_version(workstation.id, Some(&version.to_string()))?;
            }
            target.amt_version = Some(version);
        }
        Ok((state, offered, target.amt_version.clone()))
    }

    /// Checks credentials against a workstation outside the inventory with an authenticated
    /// call; returns the AMT version it runs.
    pub async fn validate_direct(&self, target: DirectTarget) -> Result<AmtVersion, Error> {
        ProviderRoot::from_pem(&target.provider_root_pem)
            .map_err(|source| Error::InvalidProviderRoot { source })?;
        let target = Self::direct(target);
        let session = self.session(&target)?;
        let result = session
            .validate()
            .await
            .map_err(|e| session.validation_error(e));
        self.release(&target.key());
        result
    }

    // ----- power operations ----------------------------------------------------------------

    /// Runs a power operation on a managed workstation: cooldown gate and the workstation's
    /// claim in the inventory (refused before any network call, also when another process on
    /// the inventory is running an operation on it), fresh state and version, availability, one
    /// invoke (never retried), then, with confirmation on, re-reads until the change shows or
    /// the deadline passes. The request must be sent within three times the sum of
    /// [`ManagerOptions::timeouts`] (the claim's lifetime), else the run gives up unsent
    /// ([`Error::NetworkTimeout`]).
    pub async fn run(
        &self,
        name: &str,
        operation: PowerOperation,
    ) -> Result<OperationOutcome, Error> {
        let workstation = self.inner.store.workstation_by_name(name)?;
        if !workstation.managed {
            return Err(Error::NotManaged {
                name: workstation.name.to_string(),
            });
        }
        let target = self.target(name)?;
        self.run_on(target, operation).await
    }

    /// [`run`](Self::run) on a workstation outside the inventory; the cooldown is kept in the
    /// inventory all the same, so that separate runs against one host are 20 s apart.
    pub async fn run_direct(
        &self,
        target: DirectTarget,
        operation: PowerOperation,
    ) -> Result<OperationOutcome, Error> {
        ProviderRoot::from_pem(&target.provider_root_pem)
            .map_err(|source| Error::InvalidProviderRoot { source })?;
        self.run_on(Self::direct(target), operation).await
    }

    /// How long a power operation holds its workstation against other processes on the
    /// inventory before its request is sent: three calls' worth of timeouts (the state read, the
    /// version read, the power change up to its send). The operation gives up unsent when this
    /// passes, so a claim never outlives the right to send; a crashed process's claim lapses then.
    fn claim_lifetime(&self) -> Duration {
        let timeouts = &self.inner.options.timeouts;
        timeouts
            .connect
            .saturating_add(timeouts.tls_handshake)
            .saturating_add(timeouts.request)
            .saturating_mul(3)
    }

    /// Claims the workstation's power-operation slot in the inventory, which other processes
    /// sharing it see (the in-process gate only serialises this process).
    fn claim(&self, key: &str, now: Timestamp) -> Result<HeldClaim<'_>, Error> {
        let period = self.inner.gate.period();
        let lifetime = u64::try_from(self.claim_lifetime().as_millis()).unwrap_or(u64::MAX);
        let now_ms = now.as_millis();
        let outcome = self.inner.store.claim_power_slot(&PowerClaim {
            device_key: key,
            owner: &self.inner.owner,
            now_unix_ms: now_ms,
            until_unix_ms: now_ms.saturating_add(lifetime),
            period,
        })?;
        match outcome {
            ClaimOutcome::Claimed => Ok(HeldClaim {
                store: self.inner.store.as_ref(),
                key: key.to_owned(),
                owner: &self.inner.owner,
            }),
            ClaimOutcome::Held => Err(Error::OperationInProgress),
            ClaimOutcome::CoolingDown { last_sent_unix_ms } => {
                // Never later than now: a send time from a clock that ran ahead counts as now,
                // so it holds the workstation one period, not until the clock catches up.
                let sent = last_sent_unix_ms.min(now_ms);
                self.inner
                    .gate
                    .restore(key.to_owned(), Timestamp::from_millis(sent));
                let since = Duration::from_millis(now_ms - sent);
                Err(refused(Refusal::CoolingDown {
                    since_last_send: since,
                    remaining: period.saturating_sub(since),
                }))
            }
        }
    }

    async fn run_on(
        &self,
        mut target: Target,
        operation: PowerOperation,
    ) -> Result<OperationOutcome, Error> {
        let key = target.key();
        let now = self.now();
        let mut permit = self.inner.gate.begin(key.clone(), now).map_err(refused)?;
        let claim = self.claim(&key, now)?;
        let lifetime = self.claim_lifetime();
        let send_by = tokio::time::Instant::now().checked_add(lifetime);

        let session = self.session(&target)?;
        let result = async {
            let (state_before, offered, version) =
                before(send_by, lifetime, self.read_status(&session, &mut target)).await??;
            availability(state_before, &offered, version.as_ref())
                .check(operation)
                .map_err(|reason| unavailable(operation, state_before, reason))?;

            // The cooldown starts when the request is handed to the connection. The send time
            // is persisted at once (a crash mid-call must not lose it), in place of the claim,
            // and withdrawn only if the failure proves the device never saw the request.
            let store = Arc::clone(&self.inner.store);
            let clock = Arc::clone(&self.inner.clock);
            let sent_at = AtomicU64::new(NOT_SENT);
            let mut on_send = || {
                let now = clock.now_unix_ms();
                sent_at.store(now, Ordering::SeqCst);
                if let Err(error) = store.record_power_send(&key, now) {
                    tracing::warn!(%error, device = %key, "could not persist the power operation's send time");
                }
                claim.release();
            };
            let invoke =
                session.request_power_state_change(operation.requested_state(), &mut on_send);
            let mut invoke = std::pin::pin!(invoke);
            let invoked = match before(send_by, lifetime, &mut invoke).await {
                Ok(invoked) => invoked,
                // Once sent, the call runs its course (its own timeouts bound it): the answer
                // says whether the device acted.
                Err(_) if sent_at.load(Ordering::SeqCst) != NOT_SENT => invoke.await,
                Err(unsent) => return Err(unsent),
            };
            let sent_at = sent_at.load(Ordering::SeqCst);
            if sent_at != NOT_SENT {
                let reached = invoked.as_ref().map_or_else(|e| e.may_have_reached_device(), |_| true);
                if reached {
                    permit.mark_sent(Timestamp::from_millis(sent_at));
                } else if let Err(error) = self.inner.store.retract_power_send(&key, sent_at) {
                    tracing::warn!(%error, device = %key, "could not withdraw an unsent power operation");
                }
            }
            let return_value = invoked.map_err(|e| session.map_error(e))?;
            if !return_value.is_accepted() {
                return Err(Error::OperationRefused { operation, return_value });
            }
            let (state_after, confirmed) = match self.inner.options.confirmation {
                Some(confirmation) => {
                    let (state, seen) = confirm(&session, operation, state_before, confirmation).await;
                    (state, Some(seen))
                }
                None => (None, None),
            };
            Ok(OperationOutcome {
                name: target.label.clone(),
                host: target.settings.host.to_string(),
                operation,
                return_value,
                state_before,
                state_after,
                confirmed,
            })
        }
        .await;
        drop(claim);
        self.release(&key);
        result
    }

    // ----- bulk ----------------------------------------------------------------------------

    /// The workstations `targets` names, each once, in the order named.
    pub fn resolve(&self, targets: &Targets) -> Result<Vec<Workstation>, Error> {
        let mut seen = HashSet::new();
        let mut resolved = Vec::new();
        for name in &targets.workstations {
            let workstation = self.inner.store.workstation_by_name(name)?;
            if seen.insert(workstation.id) {
                resolved.push(workstation);
            }
        }
        for pool in &targets.pools {
            for id in self.inner.store.pool_by_name(pool)?.members {
                if seen.insert(id) {
                    resolved.push(self.inner.store.workstation(id)?);
                }
            }
        }
        Ok(resolved)
    }

    /// Runs `operation` on every workstation of `targets`, at most
    /// [`ManagerOptions::concurrency`] at once. One workstation's failure never stops the others;
    /// `progress` hears of each result as it comes. Results are returned in the order the
    /// workstations were named. Fails as a whole only if a named workstation or pool does not
    /// exist. A task that panics (a bug) is its workstation's [`Error::Internal`].
    ///
    /// Must run within a Tokio runtime: each workstation's work is a task spawned on it.
    pub async fn run_bulk(
        &self,
        operation: PowerOperation,
        targets: &Targets,
        progress: impl Fn(BulkProgress<'_, OperationOutcome>) + Send + Sync,
    ) -> Result<Vec<BulkResult<OperationOutcome>>, Error> {
        let names = self.resolve(targets)?;
        Ok(self
            .bulk(names, progress, move |manager, name| async move {
                manager.run(&name, operation).await
            })
            .await)
    }

    /// Reads the status of every workstation of `targets`, as [`run_bulk`](Self::run_bulk) runs
    /// operations (within a Tokio runtime too).
    pub async fn status_bulk(
        &self,
        targets: &Targets,
        progress: impl Fn(BulkProgress<'_, WorkstationStatus>) + Send + Sync,
    ) -> Result<Vec<BulkResult<WorkstationStatus>>, Error> {
        let names = self.resolve(targets)?;
        Ok(self
            .bulk(names, progress, |manager, name| async move {
                manager.status(&name).await
            })
            .await)
    }

    async fn bulk<T, F, Fut>(
        &self,
        workstations: Vec<Workstation>,
        progress: impl Fn(BulkProgress<'_, T>) + Send + Sync,
        work: F,
    ) -> Vec<BulkResult<T>>
    where
        T: Send + 'static,
        F: Fn(Self, String) -> Fut + Send + Sync + 'static + Clone,
        Fut: Future<Output = Result<T, Error>> + Send + 'static,
    {
        let total = workstations.len();
        let limit = self.inner.options.concurrency.max(1);
        // A task is spawned only when it can start, so a run holds `limit` futures at a time
        // rather than one per workstation (tens of megabytes over a large fleet).
        let mut pending = workstations.iter().enumerate();
        let mut tasks = tokio::task::JoinSet::new();
        // Which workstation each task works on, for a task that panics.
        let mut indexes = HashMap::new();
        let mut results: Vec<Option<BulkResult<T>>> = (0..total).map(|_| None).collect();
        let mut done = 0;
        loop {
            while tasks.len() < limit {
                let Some((index, workstation)) = pending.next() else {
                    break;
                };
                let manager = self.clone();
                let work = work.clone();
                let name = workstation.name.to_string();
                let host = workstation.host.to_string();
                let task = tasks.spawn(async move {
                    let started = tokio::time::Instant::now();
                    let result = work(manager, name.clone()).await;
                    let elapsed = started.elapsed();
                    (
                        index,
                        BulkResult {
                            name,
                            host,
                            result,
                            elapsed,
                        },
                    )
                });
                indexes.insert(task.id(), index);
            }
            let Some(joined) = tasks.join_next_with_id().await else {
                break;
            };
            let (index, result) = match joined {
                Ok((id, finished)) => {
                    indexes.remove(&id);
                    finished
                }
                Err(failure) => {
                    // A task only ends this way if it panicked (the set is never aborted): a
                    // fault of the manager's, reported as such on its workstation, and the run
                    // goes on.
                    let Some(index) = indexes.remove(&failure.id()) else {
                        continue;
                    };
                    tracing::error!(error = %failure, "a bulk task failed");
                    let workstation = &workstations[index];
                    (
                        index,
                        BulkResult {
                            name: workstation.name.to_string(),
                            host: workstation.host.to_string(),
                            result: Err(task_failed()),
                            elapsed: Duration::ZERO,
                        },
                    )
                }
            };
            done += 1;
            progress(BulkProgress {
                done,
                total,
                latest: &result,
            });
            if let Some(slot) = results.get_mut(index) {
                *slot = Some(result);
            }
        }
        results
            .into_iter()
            .zip(workstations)
            .map(|(result, workstation)| {
                result.unwrap_or_else(|| BulkResult {
                    name: workstation.name.to_string(),
                    host: workstation.host.to_string(),
                    result: Err(task_failed()),
                    elapsed: Duration::ZERO,
                })
            })
            .collect()
    }
}

fn task_failed() -> Error {
    Error::Internal {
        detail: "the task working on this workstation panicked".to_owned(),
    }
}

fn parse_host(host: &str) -> Result<Host, Error> {
    Host::parse(host).map_err(|e| Error::InvalidInput {
        detail: e.to_string(),
    })
}

fn checked_port(port: Option<u16>) -> Result<u16, Error> {
    match port.unwrap_or(AMT_TLS_PORT) {
        0 => Err(Error::InvalidInput {
            detail: "port 0 is not a valid port".to_owned(),
        }),
        port => Ok(port),
    }
}

fn unavailable(operation: PowerOperation, state: PowerState, reason: Unavailable) -> Error {
    match reason {
        Unavailable::NeedsAmtVersion {
            minimum_major,
            actual,
        } => Error::AmtVersionTooOld {
            operation,
            required: minimum_major,
            actual,
        },
        reason => Error::OperationUnavailable {
            operation,
            state,
            reason,
        },
    }
}

/// The in-process gate's refusal as an error.
fn refused(refusal: Refusal) -> Error {
    match refusal {
        Refusal::InFlight => Error::OperationInProgress,
        cooling => Error::CoolingDown {
            since_secs: cooling.seconds_since_last_send().unwrap_or(0),
            remaining_secs: cooling.seconds_remaining().unwrap_or(0),
        },
    }
}

/// `sent_at` before the power-change request was handed to the connection.
const NOT_SENT: u64 = u64::MAX;

/// A power operation's claim in the inventory; released when dropped (the operation ended
/// without sending, or failed, or its future was dropped), unless the send replaced it.
struct HeldClaim<'a> {
    store: &'a dyn Store,
    key: String,
    owner: &'a str,
}

impl HeldClaim<'_> {
    fn release(&self) {
        if let Err(error) = self.store.release_power_claim(&self.key, self.owner) {
            // It lapses by itself at the end of its lifetime.
            tracing::warn!(%error, device = %self.key, "could not release a power-operation claim");
        }
    }
}

impl Drop for HeldClaim<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

/// Why a power operation gave up before sending its request.
#[derive(Debug, thiserror::Error)]
#[error(
    "the power change was not sent within {0:?}, the longest a power operation may hold its \
     workstation"
)]
struct SendDeadlinePassed(Duration);

/// Runs `work` if it finishes by `deadline` (none: no limit); else a network timeout.
async fn before<T>(
    deadline: Option<tokio::time::Instant>,
    lifetime: Duration,
    work: impl Future<Output = T>,
) -> Result<T, Error> {
    match deadline {
        Some(deadline) => {
            tokio::time::timeout_at(deadline, work)
                .await
                .map_err(|_| Error::NetworkTimeout {
                    source: Box::new(SendDeadlinePassed(lifetime)),
                })
        }
        None => Ok(work.await),
    }
}

/// What a state read after `operation` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Nothing yet.
    NotYet,
    /// The change has begun (a restart passing through its transitional states).
    Started,
    /// The change is complete.
    Done,
}

fn progress(
    operation: PowerOperation,
    before: PowerState,
    now: PowerState,
    started: bool,
) -> Progress {
    let done = |yes: bool| {
        if yes {
            Progress::Done
        } else {
            Progress::NotYet
        }
    };
    match operation {
        PowerOperation::PowerOn => done(now.class() == PowerClass::On),
        PowerOperation::PowerOff | PowerOperation::GracefulShutdown => {
            done(now.class() == PowerClass::Off)
        }
        PowerOperation::Sleep | PowerOperation::Hibernate => {
            done(now.class() == PowerClass::Sleeping)
        }
        // A restart ends where it began: it shows in the states it passes through, and is done
        // when the workstation is on again.
        PowerOperation::Reset | PowerOperation::GracefulRestart | PowerOperation::PowerCycle => {
            match (started || now != before, now.class() == PowerClass::On) {
                (true, true) => Progress::Done,
                (true, false) => Progress::Started,
                (false, _) => Progress::NotYet,
            }
        }
    }
}

/// Re-reads the state until it shows the change complete or the deadline passes; read errors (a
/// device busy resetting) are tolerated until then. Returns the last state read and whether the
/// change was seen complete: a restart that went down and has not come back on by the deadline
/// is not confirmed. A deadline too far to represent means no deadline.
async fn confirm(
    session: &DeviceSession,
    operation: PowerOperation,
    before: PowerState,
    confirmation: Confirmation,
) -> (Option<PowerState>, bool) {
    let deadline = tokio::time::Instant::now().checked_add(confirmation.deadline);
    let mut last = None;
    let mut started = false;
    loop {
        if let Ok((state, _)) = session.power_status().await {
            last = Some(state);
            match progress(operation, before, state, started) {
                Progress::Done => return (last, true),
                Progress::Started => started = true,
                Progress::NotYet => {}
            }
        }
        let next_read = tokio::time::Instant::now().checked_add(confirmation.interval);
        let out_of_time = match (deadline, next_read) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(deadline), Some(next_read)) => next_read > deadline,
        };
        if out_of_time {
            return (last, false);
        }
        tokio::time::sleep(confirmation.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn a_panicked_bulk_task_is_an_internal_error_of_its_workstation_and_the_run_goes_on() {
        let ca = amt_sim::SimCa::generate("root").expect("CA");
        let manager = Manager::builder()
            .store(MemoryStore::new())
            .vault_key(VaultKey::generate().expect("key"))
            .build()
            .expect("manager");
        manager
            .add_deployment("lab", ca.cert_pem())
            .expect("deployment");
        for name in ["a", "b", "c"] {
            manager
                .add_workstation("lab", name, &format!("{name}.example.com"), None, false)
                .expect("workstation");
        }
        let workstations = manager.workstations().expect("list");
        let seen = Mutex::new(Vec::new());
        let results = manager
            .bulk(
                workstations,
                |p| {
                    lock(&seen).push((p.done, p.total, p.latest.name.clone()));
                },
                |_, name| async move {
                    assert_ne!(name, "b", "a bug in the work on b");
                    Ok(name.len())
                },
            )
            .await;
        let outcomes: Vec<(&str, Result<usize, &str>)> = results
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.result.as_ref().copied().map_err(Error::kind),
                )
            })
            .collect();
        assert_eq!(
            outcomes,
            [("a", Ok(1)), ("b", Err("internal")), ("c", Ok(1))]
        );
        assert_eq!(
            results[1].result.as_ref().unwrap_err().to_string(),
            "Internal error: the task working on this workstation panicked"
        );
        let mut seen = seen.into_inner().expect("lock");
        seen.sort_by(|x, y| x.2.cmp(&y.2));
        let done: HashSet<usize> = seen.iter().map(|(done, _, _)| *done).collect();
        assert_eq!(done, HashSet::from([1, 2, 3]), "progress reaches the total");
        assert!(seen.iter().all(|(_, total, _)| *total == 3));
        assert_eq!(
            seen.iter()
                .map(|(_, _, name)| name.as_str())
                .collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }
}
