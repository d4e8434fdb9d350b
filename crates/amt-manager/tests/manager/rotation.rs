//! Vault key rotation: with an application key, against concurrent writers, and with records
//! that cannot be opened.

use std::path::Path;
use std::sync::{Arc, Mutex};

use amt_manager::model::{
    Deployment, DeploymentId, Name, NewWorkstation, Pool, PoolId, Workstation, WorkstationId,
    WorkstationSettings,
};
use amt_manager::store::{
    ClaimOutcome, MemoryStore, PowerClaim, Reseal, Store, StoreError, StoredCredentials,
};
use amt_manager::vault::{SealedSecret, Vault, VaultKey};
use amt_manager::{Manager, SqliteStore};
use amt_sim::{SimCa, SimDevice};
use secrecy::{ExposeSecret, SecretString};

use super::{PASSWORD, assert_error, device_config, options};

const OLD_KEY: [u8; 32] = [0x11; 32];
const NEW_KEY: [u8; 32] = [0x22; 32];

fn with_key(store: &Arc<dyn Store>, key: [u8; 32]) -> Manager {
    Manager::builder()
        .shared_store(Arc::clone(store))
        .vault_key(VaultKey::from_bytes(key))
        .options(options())
        .build()
        .expect("manager")
}

/// A managed workstation `name` on `device`, reached as `host`.
async fn add(manager: &Manager, ca: &SimCa, device: &SimDevice, name: &str, host: &str) {
    if manager.deployments().expect("list").is_empty() {
        manager
            .add_deployment("lab", ca.cert_pem())
            .expect("deployment");
    }
    manager
        .add_workstation("lab", name, host, Some(device.addr().port()), false)
        .expect("ws");
    manager
        .set_credentials(name, "admin", SecretString::from(PASSWORD))
        .await
        .expect("credentials");
}

#[tokio::test]
async fn an_application_key_is_rotated_only_to_a_key_the_application_gives() {
    let ca = SimCa::generate("root").expect("CA");
    let device = SimDevice::start(device_config(), &ca)
        .await
        .expect("device");
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let manager = with_key(&store, OLD_KEY);
    add(&manager, &ca, &device, "ws-1", "127.0.0.1").await;

    // A new random key would be lost with the manager: the application could not keep it.
    assert_error(
        manager.rotate_vault_key(),
        "invalid_input",
        "Invalid input: this manager's vault key is supplied by the application, which must \
         also keep the new one: use rotate_vault_key_to",
    );
    with_key(&store, OLD_KEY)
        .status("ws-1")
        .await
        .expect("nothing changed");

    let rotation = manager
        .rotate_vault_key_to(VaultKey::from_bytes(NEW_KEY))
        .expect("rotate");
    assert!(rotation.finished, "{rotation:?}");
    assert_eq!(rotation.key_id, VaultKey::from_bytes(NEW_KEY).id());
    assert_eq!(rotation.resealed, 1);
    // After a restart, the key the application kept opens everything; the old one nothing.
    with_key(&store, NEW_KEY)
        .status("ws-1")
        .await
        .expect("the new key opens the record");
    assert_eq!(
        with_key(&store, OLD_KEY)
            .status("ws-1")
            .await
            .unwrap_err()
            .kind(),
        "vault"
    );
}

/// A store in which another writer saves a password (sealed with the old key, as a process
/// that has not seen the rotation would) between the rotation's read and its rewrite.
/// A write made behind the rotation's back.
type Meanwhile = Box<dyn FnOnce(&MemoryStore) + Send>;

struct RacingWriter {
    inner: MemoryStore,
    /// Runs once, at the first re-encryption.
    meanwhile: Mutex<Option<Meanwhile>>,
}

impl std::fmt::Debug for RacingWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RacingWriter").finish_non_exhaustive()
    }
}

impl Store for RacingWriter {
    fn reseal_credentials(&self, reseals: &[Reseal]) -> Result<Vec<WorkstationId>, StoreError> {
        let meanwhile = self.meanwhile.lock().expect("lock").take();
        if let Some(write) = meanwhile {
            write(&self.inner);
        }
        self.inner.reseal_credentials(reseals)
    }

    fn insert_deployment(&self, name: &Name, pem: &str) -> Result<Deployment, StoreError> {
        self.inner.insert_deployment(name, pem)
    }
    fn deployments(&self) -> Result<Vec<Deployment>, StoreError> {
        self.inner.deployments()
    }
    fn deployment(&self, id: DeploymentId) -> Result<Deployment, StoreError> {
        self.inner.deployment(id)
    }
    fn deployment_by_name(&self, name: &str) -> Result<Deployment, StoreError> {
        self.inner.deployment_by_name(name)
    }
    fn set_provider_root(&self, id: DeploymentId, pem: &str) -> Result<(), StoreError> {
        self.inner.set_provider_root(id, pem)
    }
    fn delete_deployment(&self, id: DeploymentId) -> Result<(), StoreError> {
        self.inner.delete_deployment(id)
    }
    fn insert_workstation(&self, new: &NewWorkstation) -> Result<Workstation, StoreError> {
        self.inner.insert_workstation(new)
    }
    fn workstations(&self) -> Result<Vec<Workstation>, StoreError> {
        self.inner.workstations()
    }
    fn workstation(&self, id: WorkstationId) -> Result<Workstation, StoreError> {
        self.inner.workstation(id)
    }
    fn workstation_by_name(&self, name: &str) -> Result<Workstation, StoreError> {
        self.inner.workstation_by_name(name)
    }
    fn update_workstation(
        &self,
        id: WorkstationId,
        settings: &WorkstationSettings,
    ) -> Result<(), StoreError> {
        self.inner.update_workstation(id, settings)
    }
    fn delete_workstation(&self, id: WorkstationId) -> Result<(), StoreError> {
        self.inner.delete_workstation(id)
    }
    fn set_amt_version(&self, id: WorkstationId, version: Option<&str>) -> Result<(), StoreError> {
        self.inner.set_amt_version(id, version)
    }
    fn set_credentials(
        &self,
        id: WorkstationId,
        credentials: &StoredCredentials,
    ) -> Result<(), StoreError> {
        self.inner.set_credentials(id, credentials)
    }
    fn credentials(&self, id: WorkstationId) -> Result<Option<StoredCredentials>, StoreError> {
        self.inner.credentials(id)
    }
    fn clear_credentials(&self, id: WorkstationId) -> Result<(), StoreError> {
        self.inner.clear_credentials(id)
    }
    fn all_credentials(&self) -> Result<Vec<(WorkstationId, StoredCredentials)>, StoreError> {
        self.inner.all_credentials()
    }
    fn insert_pool(&self, name: &Name) -> Result<Pool, StoreError> {
        self.inner.insert_pool(name)
    }
    fn pools(&self) -> Result<Vec<Pool>, StoreError> {
        self.inner.pools()
    }
    fn pool_by_name(&self, name: &str) -> Result<Pool, StoreError> {
        self.inner.pool_by_name(name)
    }
    fn add_pool_member(&self, pool: PoolId, workstation: WorkstationId) -> Result<(), StoreError> {
        self.inner.add_pool_member(pool, workstation)
    }
    fn remove_pool_member(
        &self,
        pool: PoolId,
        workstation: WorkstationId,
    ) -> Result<(), StoreError> {
        self.inner.remove_pool_member(pool, workstation)
    }
    fn delete_pool(&self, pool: PoolId) -> Result<(), StoreError> {
        self.inner.delete_pool(pool)
    }
    fn claim_power_slot(&self, claim: &PowerClaim<'_>) -> Result<ClaimOutcome, StoreError> {
        self.inner.claim_power_slot(claim)
    }
    fn release_power_claim(&self, device_key: &str, owner: &str) -> Result<(), StoreError> {
        self.inner.release_power_claim(device_key, owner)
    }
    fn record_power_send(&self, device_key: &str, at_unix_ms: u64) -> Result<(), StoreError> {
        self.inner.record_power_send(device_key, at_unix_ms)
    }
    fn retract_power_send(&self, device_key: &str, at_unix_ms: u64) -> Result<(), StoreError> {
        self.inner.retract_power_send(device_key, at_unix_ms)
    }
    fn last_power_send(&self, device_key: &str) -> Result<Option<u64>, StoreError> {
        self.inner.last_power_send(device_key)
    }
    fn prune_power_sends(&self, before_unix_ms: u64) -> Result<usize, StoreError> {
        self.inner.prune_power_sends(before_unix_ms)
    }
}

#[tokio::test]
async fn a_password_saved_while_a_rotation_rewrites_records_is_kept() {
    let ca = SimCa::generate("root").expect("CA");
    let device = SimDevice::start(device_config(), &ca)
        .await
        .expect("device");
    let racing = Arc::new(RacingWriter {
        inner: MemoryStore::new(),
        meanwhile: Mutex::new(None),
    });
    let store: Arc<dyn Store> = racing.clone();
    let manager = with_key(&store, OLD_KEY);
    add(&manager, &ca, &device, "ws-1", "127.0.0.1").await;
    let id = manager.workstation("ws-1").expect("ws").id;
    *racing.meanwhile.lock().expect("lock") = Some(Box::new(move |inner: &MemoryStore| {
        let sealed = Vault::new(VaultKey::from_bytes(OLD_KEY))
            .seal(id, &SecretString::from("a newer password"))
            .expect("seal");
        inner
            .set_credentials(
                id,
                &StoredCredentials {
                    username: "admin".into(),
                    sealed,
                },
            )
            .expect("write");
    }));

    let rotation = manager
        .rotate_vault_key_to(VaultKey::from_bytes(NEW_KEY))
        .expect("rotate");
    assert!(rotation.finished, "{rotation:?}");
    assert!(
        racing.meanwhile.lock().expect("lock").is_none(),
        "the writer ran"
    );
    let stored = store.credentials(id).expect("read").expect("stored");
    let opened = Vault::new(VaultKey::from_bytes(NEW_KEY))
        .open(id, &stored.sealed)
        .expect("sealed with the new key");
    assert_eq!(
        opened.expose_secret(),
        "a newer password",
        "the rotation did not put the older password back"
    );
}

fn tamper(manager: &Manager, name: &str) {
    let store = manager.store();
    let id = manager.workstation(name).expect("ws").id;
    let mut stored = store.credentials(id).expect("read").expect("stored");
    let mut bytes = stored.sealed.as_bytes().to_vec();
    *bytes.last_mut().expect("bytes") ^= 1;
    stored.sealed = SealedSecret::from_bytes(bytes);
    store.set_credentials(id, &stored).expect("write");
}

fn open(dir: &Path) -> Manager {
    Manager::builder()
        .store(SqliteStore::open(&dir.join("inventory.db")).expect("db"))
        .key_file(dir.join("vault.key"))
        .options(options())
        .build()
        .expect("a record that cannot be opened does not stop the manager")
}

#[tokio::test]
async fn a_record_that_cannot_be_opened_holds_the_old_key_back_but_stops_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let (key_file, next) = (
        dir.path().join("vault.key"),
        dir.path().join("vault.key.next"),
    );
    let ca = SimCa::generate("root").expect("CA");
    let device = SimDevice::start(device_config(), &ca)
        .await
        .expect("device");
    let manager = open(dir.path());
    add(&manager, &ca, &device, "good", "127.0.0.1").await;
    add(&manager, &ca, &device, "bad", "localhost").await;
    let old_id = VaultKey::read_file(&key_file).expect("key").id();
    tamper(&manager, "bad");

    let rotation = manager.rotate_vault_key().expect("rotate");
    assert!(!rotation.finished, "{rotation:?}");
    assert_eq!(rotation.resealed, 1);
    assert_eq!(rotation.unopenable_names(), ["bad"]);
    assert_eq!(
        rotation.unopenable[0].1.to_string(),
        "the stored credentials do not decrypt (altered, or moved from another workstation)"
    );
    assert_eq!(
        VaultKey::read_file(&key_file).expect("key").id(),
        old_id,
        "the old key is kept"
    );
    assert_eq!(
        VaultKey::read_file(&next).expect("next").id(),
        rotation.key_id
    );
    manager.status("good").await.expect("re-encrypted");
    assert_error(
        manager.rotate_vault_key(),
        "vault",
        "Stored credentials could not be used: an earlier key rotation is unfinished: the \
         credentials of bad are still sealed with an older key and cannot be re-encrypted; set \
         or clear them, then rotate again",
    );
    drop(manager);

    let manager = open(dir.path());
    manager.status("good").await.expect("after a restart");
    manager.clear_credentials("bad").expect("clear");
    let finished = manager.finish_key_rotation().expect("finish");
    assert!(
        finished.finished && finished.unopenable.is_empty(),
        "{finished:?}"
    );
    assert!(!next.exists());
    assert_eq!(
        VaultKey::read_file(&key_file).expect("key").id(),
        rotation.key_id
    );
    drop(manager);
    open(dir.path())
        .status("good")
        .await
        .expect("with the new key file");
}

#[tokio::test]
async fn a_rotation_of_another_process_in_progress_is_left_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let (key_file, next) = (
        dir.path().join("vault.key"),
        dir.path().join("vault.key.next"),
    );
    let ca = SimCa::generate("root").expect("CA");
    let device = SimDevice::start(device_config(), &ca)
        .await
        .expect("device");
    let manager = open(dir.path());
    add(&manager, &ca, &device, "ws-1", "127.0.0.1").await;
    let old_id = VaultKey::read_file(&key_file).expect("key").id();
    // Another process has begun a rotation since this manager started.
    let theirs = VaultKey::generate().expect("key");
    theirs.write_new_file(&next).expect("next");
    assert_error(
        manager.rotate_vault_key(),
        "vault",
        &format!(
            "Stored credentials could not be used: another key rotation is in progress ({} \
             exists)",
            next.display()
        ),
    );
    assert_eq!(VaultKey::read_file(&key_file).expect("key").id(), old_id);
    assert_eq!(VaultKey::read_file(&next).expect("next").id(), theirs.id());
    manager.status("ws-1").await.expect("nothing changed");
}
