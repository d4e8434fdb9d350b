//! The inventory: where deployments, workstations, pools, sealed credentials and power-operation
//! send times live.
//!
//! [`Store`] is the interface; [`SqliteStore`] (one file, WAL, foreign keys, migrations) is the
//! embedded default and [`MemoryStore`] serves tests and short-lived tools. An embedding
//! application may bring its own.

mod memory;
mod sqlite;

use std::time::Duration;

pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

use crate::model::{
    Deployment, DeploymentId, Name, NewWorkstation, Pool, PoolId, Workstation, WorkstationId,
    WorkstationSettings,
};
use crate::vault::SealedSecret;

/// What kind of record an inventory error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// A deployment.
    Deployment,
    /// A workstation.
    Workstation,
    /// A pool.
    Pool,
}

impl std::fmt::Display for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Deployment => "Deployment",
            Self::Workstation => "Workstation",
            Self::Pool => "Pool",
        })
    }
}

/// What went wrong in the inventory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record with this name (or, for workstations, this host and port) exists already.
    #[error("{record} \"{name}\" already exists")]
    Duplicate {
        /// The kind of record.
        record: Record,
        /// The clashing name (or `host:port`).
        name: String,
    },
    /// No record has this name or id.
    #[error("{record} \"{name}\" does not exist")]
    NotFound {
        /// The kind of record.
        record: Record,
        /// The name or id looked for.
        name: String,
    },
    /// The workstation is not a member of the pool it was to be removed from.
    #[error("Workstation \"{workstation}\" is not a member of pool \"{pool}\"")]
    NotMember {
        /// The pool's name.
        pool: String,
        /// The workstation's name.
        workstation: String,
    },
    /// The record is still used by others (a deployment with workstations).
    #[error("{record} \"{name}\" still has {dependents}; remove them first")]
    InUse {
        /// The kind of record.
        record: Record,
        /// Its name.
        name: String,
        /// What still depends on it.
        dependents: String,
    },
    /// The database failed or holds data this version cannot read.
    #[error("the inventory database failed: {detail}")]
    Database {
        /// What happened (never contains credentials).
        detail: String,
    },
}

/// Credentials as stored: the user name in clear, the password sealed by the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredentials {
    /// The digest user name.
    pub username: String,
    /// The sealed password.
    pub sealed: SealedSecret,
}

/// One record to re-encrypt during a key rotation: replaced only if the record still holds
/// `expected`, so that a password saved meanwhile is never overwritten by an older one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reseal {
    /// The workstation.
    pub workstation: WorkstationId,
    /// The sealed password read before re-encrypting it.
    pub expected: SealedSecret,
    /// The same password sealed under the new key.
    pub sealed: SealedSecret,
}

/// A request for the power-operation slot of one device (see [`Store::claim_power_slot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerClaim<'a> {
    /// The device (its cooldown key, `host:port`).
    pub device_key: &'a str,
    /// Who claims: a token unique to one manager instance.
    pub owner: &'a str,
    /// The time now (milliseconds since the Unix epoch).
    pub now_unix_ms: u64,
    /// When the claim lapses if it is neither released nor turned into a send: a process that
    /// crashed while holding it holds the device until then.
    pub until_unix_ms: u64,
    /// The cooldown period.
    pub period: Duration,
}

/// What [`Store::claim_power_slot`] answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The slot is the claimer's until the claim's end.
    Claimed,
    /// Another owner's live claim holds the slot: an operation on the device is under way.
    Held,
    /// A send was recorded less than the period ago.
    CoolingDown {
        /// When (never later than the claim's `now`).
        last_sent_unix_ms: u64,
    },
}

/// The inventory interface. Implementations must be safe to share between threads; each method
/// is one atomic change or read.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Adds a deployment.
    fn insert_deployment(
        &self,
        name: &Name,
        provider_root_pem: &str,
    ) -> Result<Deployment, StoreError>;
    /// Every deployment, by name.
    fn deployments(&self) -> Result<Vec<Deployment>, StoreError>;
    /// The deployment with this id.
    fn deployment(&self, id: DeploymentId) -> Result<Deployment, StoreError>;
    /// The deployment with this name.
    fn deployment_by_name(&self, name: &str) -> Result<Deployment, StoreError>;
    /// Replaces a deployment's provider root.
    fn set_provider_root(
        &self,
        id: DeploymentId,
        provider_root_pem: &str,
    ) -> Result<(), StoreError>;
    /// Removes a deployment that has no workstations.
    fn delete_deployment(&self, id: DeploymentId) -> Result<(), StoreError>;

    /// Adds a workstation (not managed, no credentials).
    fn insert_workstation(&self, new: &NewWorkstation) -> Result<Workstation, StoreError>;
    /// Every workstation, by name.
    fn workstations(&self) -> Result<Vec<Workstation>, StoreError>;
    /// The workstation with this id.
    fn workstation(&self, id: WorkstationId) -> Result<Workstation, StoreError>;
    /// The workstation with this name.
    fn workstation_by_name(&self, name: &str) -> Result<Workstation, StoreError>;
    /// Changes a workstation's settings.
    fn update_workstation(
        &self,
        id: WorkstationId,
        settings: &WorkstationSettings,
    ) -> Result<(), StoreError>;
    /// Removes a workstation, its credentials and its pool memberships.
    fn delete_workstation(&self, id: WorkstationId) -> Result<(), StoreError>;
    /// Records the AMT version read from a workstation.
    fn set_amt_version(&self, id: WorkstationId, version: Option<&str>) -> Result<(), StoreError>;

    /// Stores (replaces) a workstation's credentials.
    fn set_credentials(
        &self,
        id: WorkstationId,
        credentials: &StoredCredentials,
    ) -> Result<(), StoreError>;
    /// A workstation's credentials, if any.
    fn credentials(&self, id: WorkstationId) -> Result<Option<StoredCredentials>, StoreError>;
    /// Removes a workstation's credentials (and turns management off).
    fn clear_credentials(&self, id: WorkstationId) -> Result<(), StoreError>;
    /// Every stored credential, for key rotation.
    fn all_credentials(&self) -> Result<Vec<(WorkstationId, StoredCredentials)>, StoreError>;
    /// Replaces sealed passwords in one transaction (key rotation), each only if its record still
    /// holds [`Reseal::expected`] (compare and swap). Returns the workstations whose record had
    /// changed or gone meanwhile; those are left as they are.
    fn reseal_credentials(&self, reseals: &[Reseal]) -> Result<Vec<WorkstationId>, StoreError>;

    /// Adds an empty pool.
    fn insert_pool(&self, name: &Name) -> Result<Pool, StoreError>;
    /// Every pool, by name.
    fn pools(&self) -> Result<Vec<Pool>, StoreError>;
    /// The pool with this name.
    fn pool_by_name(&self, name: &str) -> Result<Pool, StoreError>;
    /// Adds a workstation to a pool (no effect if it is a member already).
    fn add_pool_member(&self, pool: PoolId, workstation: WorkstationId) -> Result<(), StoreError>;
    /// Removes a workstation from a pool.
    fn remove_pool_member(
        &self,
        pool: PoolId,
        workstation: WorkstationId,
    ) -> Result<(), StoreError>;
    /// Removes a pool (not its workstations).
    fn delete_pool(&self, pool: PoolId) -> Result<(), StoreError>;

    /// Claims the power-operation slot of a device, atomically: of two processes on one
    /// inventory, one gets it. Answers [`ClaimOutcome::Held`] while another owner's claim has not
    /// lapsed, and [`ClaimOutcome::CoolingDown`] when a send was recorded less than the period
    /// before `now`; otherwise the slot is claimed (a lapsed claim, or one of the same owner, is
    /// replaced). A send recorded *after* `now` (the clock was stepped back, or another host's
    /// clock runs ahead) is first moved back to `now`, so that it holds the device one period at
    /// most rather than until the wall clock catches up.
    fn claim_power_slot(&self, claim: &PowerClaim<'_>) -> Result<ClaimOutcome, StoreError>;
    /// Ends `owner`'s claim on `device_key` (no effect on another owner's claim, or none).
    fn release_power_claim(&self, device_key: &str, owner: &str) -> Result<(), StoreError>;
    /// Records that a power-change request was sent to the device `device_key` at `at_unix_ms`.
    fn record_power_send(&self, device_key: &str, at_unix_ms: u64) -> Result<(), StoreError>;
    /// Withdraws the send recorded at exactly `at_unix_ms` for `device_key` (the request turned
    /// out never to have reached the device); a later record is kept.
    fn retract_power_send(&self, device_key: &str, at_unix_ms: u64) -> Result<(), StoreError>;
    /// The last recorded send to `device_key`.
    fn last_power_send(&self, device_key: &str) -> Result<Option<u64>, StoreError>;
    /// Forgets sends recorded before `before_unix_ms`, and claims that lapsed before it; returns
    /// how many sends.
    fn prune_power_sends(&self, before_unix_ms: u64) -> Result<usize, StoreError>;
}
