//! An inventory in memory, for tests and short-lived tools.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{ClaimOutcome, PowerClaim, Record, Reseal, Store, StoreError, StoredCredentials};
use crate::model::{
    Deployment, DeploymentId, Name, NewWorkstation, Pool, PoolId, Workstation, WorkstationId,
    WorkstationSettings, device_key,
};

/// An inventory that lives as long as the value. Same rules as [`super::SqliteStore`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The last id handed out. Ids are never reused, not even after a removal: a workstation's
    /// id is bound into its sealed credentials.
    next_id: i64,
    deployments: BTreeMap<i64, Deployment>,
    workstations: BTreeMap<i64, Workstation>,
    /// Workstation ids by name, and by device key (`host:port`): lookups by name serve every
    /// call, and fleets hold thousands of workstations.
    workstation_names: HashMap<String, i64>,
    workstation_addresses: HashMap<String, i64>,
    credentials: BTreeMap<i64, StoredCredentials>,
    pools: BTreeMap<i64, (Name, BTreeSet<i64>)>,
    power_sends: HashMap<String, u64>,
    /// Live power-operation claims by device key: owner and end.
    power_claims: HashMap<String, (String, u64)>,
}

impl Inner {
    fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn workstation_mut(&mut self, id: WorkstationId) -> Result<&mut Workstation, StoreError> {
        self.workstations
            .get_mut(&id.0)
            .ok_or_else(|| not_found(Record::Workstation, id))
    }

    fn pool(&self, id: i64) -> Option<Pool> {
        let (name, members) = self.pools.get(&id)?;
        let mut members: Vec<&Workstation> = members
            .iter()
            .filter_map(|m| self.workstations.get(m))
            .collect();
        members.sort_by(|a, b| a.name.cmp(&b.name));
        Some(Pool {
            id: PoolId(id),
            name: name.clone(),
            members: members.iter().map(|w| w.id).collect(),
        })
    }
}

fn not_found(record: Record, name: impl ToString) -> StoreError {
    StoreError::NotFound {
        record,
        name: name.to_string(),
    }
}

impl MemoryStore {
    /// An empty inventory.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn by_name<T: Clone>(items: impl Iterator<Item = T>, key: impl Fn(&T) -> &Name) -> Vec<T> {
    let mut items: Vec<T> = items.collect();
    items.sort_by(|a, b| key(a).cmp(key(b)));
    items
}

impl Store for MemoryStore {
    fn insert_deployment(&self, name: &Name, pem: &str) -> Result<Deployment, StoreError> {
        let mut inner = self.lock();
        if inner.deployments.values().any(|d| &d.name == name) {
            return Err(StoreError::Duplicate {
                record: Record::Deployment,
                name: name.to_string(),
            });
        }
        let id = inner.next_id();
        let deployment = Deployment {
            id: DeploymentId(id),
            name: name.clone(),
            provider_root_pem: pem.to_owned(),
        };
        inner.deployments.insert(id, deployment.clone());
        Ok(deployment)
    }

    fn deployments(&self) -> Result<Vec<Deployment>, StoreError> {
        Ok(by_name(self.lock().deployments.values().cloned(), |d| {
            &d.name
        }))
    }

    fn deployment(&self, id: DeploymentId) -> Result<Deployment, StoreError> {
        self.lock()
            .deployments
            .get(&id.0)
            .cloned()
            .ok_or_else(|| not_found(Record::Deployment, id))
    }

    fn deployment_by_name(&self, name: &str) -> Result<Deployment, StoreError> {
        self.lock()
            .deployments
            .values()
            .find(|d| d.name.as_str() == name)
            .cloned()
            .ok_or_else(|| not_found(Record::Deployment, name))
    }

    fn set_provider_root(&self, id: DeploymentId, pem: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let deployment = inner
            .deployments
            .get_mut(&id.0)
            .ok_or_else(|| not_found(Record::Deployment, id))?;
        deployment.provider_root_pem = pem.to_owned();
        Ok(())
    }

    fn delete_deployment(&self, id: DeploymentId) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let deployment = inner
            .deployments
            .get(&id.0)
            .ok_or_else(|| not_found(Record::Deployment, id))?;
        let members = inner
            .workstations
            .values()
            .filter(|w| w.deployment == id)
            .count();
        if members > 0 {
            return Err(StoreError::InUse {
                record: Record::Deployment,
                name: deployment.name.to_string(),
                dependents: format!("{members} workstation(s)"),
            });
        }
        inner.deployments.remove(&id.0);
        Ok(())
    }

    fn insert_workstation(&self, new: &NewWorkstation) -> Result<Workstation, StoreError> {
        let mut inner = self.lock();
        if !inner.deployments.contains_key(&new.deployment.0) {
            return Err(not_found(Record::Deployment, new.deployment));
        }
        if inner.workstation_names.contains_key(new.name.as_str()) {
            return Err(StoreError::Duplicate {
                record: Record::Workstation,
                name: new.name.to_string(),
            });
        }
        let address = device_key(&new.host, new.port);
        if inner.workstation_addresses.contains_key(&address) {
            return Err(StoreError::Duplicate {
                record: Record::Workstation,
                name: address,
            });
        }
        let id = inner.next_id();
        inner.workstation_names.insert(new.name.to_string(), id);
        inner.workstation_addresses.insert(address, id);
        let workstation = Workstation {
            id: WorkstationId(id),
            deployment: new.deployment,
            name: new.name.clone(),
            host: new.host.clone(),
            port: new.port,
            managed: false,
            allow_legacy_tls: new.allow_legacy_tls,
            username: None,
            amt_version: None,
        };
        inner.workstations.insert(id, workstation.clone());
        Ok(workstation)
    }

    fn workstations(&self) -> Result<Vec<Workstation>, StoreError> {
        Ok(by_name(self.lock().workstations.values().cloned(), |w| {
            &w.name
        }))
    }

    fn workstation(&self, id: WorkstationId) -> Result<Workstation, StoreError> {
        self.lock()
            .workstations
            .get(&id.0)
            .cloned()
            .ok_or_else(|| not_found(Record::Workstation, id))
    }

    fn workstation_by_name(&self, name: &str) -> Result<Workstation, StoreError> {
        let inner = self.lock();
        inner
            .workstation_names
            .get(name)
            .and_then(|id| inner.workstations.get(id))
            .cloned()
            .ok_or_else(|| not_found(Record::Workstation, name))
    }

    fn update_workstation(
        &self,
        id: WorkstationId,
        settings: &WorkstationSettings,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let address = device_key(&settings.host, settings.port);
        let taken = |index: &HashMap<String, i64>, key: &str| {
            index.get(key).is_some_and(|other| *other != id.0)
        };
        if taken(&inner.workstation_names, settings.name.as_str())
            || taken(&inner.workstation_addresses, &address)
        {
            return Err(StoreError::Duplicate {
                record: Record::Workstation,
                name: settings.name.to_string(),
            });
        }
        let workstation = inner.workstation_mut(id)?;
        let old_name = std::mem::replace(&mut workstation.name, settings.name.clone());
        let old_address = device_key(&workstation.host, workstation.port);
        inner.workstation_names.remove(old_name.as_str());
        inner
            .workstation_names
            .insert(settings.name.to_string(), id.0);
        inner.workstation_addresses.remove(&old_address);
        inner.workstation_addresses.insert(address, id.0);
        let workstation = inner.workstation_mut(id)?;
        workstation.host = settings.host.clone();
        workstation.port = settings.port;
        workstation.managed = settings.managed;
        workstation.allow_legacy_tls = settings.allow_legacy_tls;
        Ok(())
    }

    fn delete_workstation(&self, id: WorkstationId) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let workstation = inner
            .workstations
            .remove(&id.0)
            .ok_or_else(|| not_found(Record::Workstation, id))?;
        inner.workstation_names.remove(workstation.name.as_str());
        inner
            .workstation_addresses
            .remove(&device_key(&workstation.host, workstation.port));
        inner.credentials.remove(&id.0);
        for (_, members) in inner.pools.values_mut() {
            members.remove(&id.0);
        }
        Ok(())
    }

    fn set_amt_version(&self, id: WorkstationId, version: Option<&str>) -> Result<(), StoreError> {
        self.lock().workstation_mut(id)?.amt_version = version.and_then(|v| v.parse().ok());
        Ok(())
    }

    fn set_credentials(
        &self,
        id: WorkstationId,
        credentials: &StoredCredentials,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.workstation_mut(id)?.username = Some(credentials.username.clone());
        inner.credentials.insert(id.0, credentials.clone());
        Ok(())
    }

    fn credentials(&self, id: WorkstationId) -> Result<Option<StoredCredentials>, StoreError> {
        Ok(self.lock().credentials.get(&id.0).cloned())
    }

    fn clear_credentials(&self, id: WorkstationId) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let workstation = inner.workstation_mut(id)?;
        workstation.username = None;
        workstation.managed = false;
        inner.credentials.remove(&id.0);
        Ok(())
    }

    fn all_credentials(&self) -> Result<Vec<(WorkstationId, StoredCredentials)>, StoreError> {
        Ok(self
            .lock()
            .credentials
            .iter()
            .map(|(id, c)| (WorkstationId(*id), c.clone()))
            .collect())
    }

    fn reseal_credentials(&self, reseals: &[Reseal]) -> Result<Vec<WorkstationId>, StoreError> {
        let mut inner = self.lock();
        let mut changed = Vec::new();
        for reseal in reseals {
            match inner.credentials.get_mut(&reseal.workstation.0) {
                Some(stored) if stored.sealed == reseal.expected => {
                    stored.sealed = reseal.sealed.clone();
                }
                _ => changed.push(reseal.workstation),
            }
        }
        Ok(changed)
    }

    fn insert_pool(&self, name: &Name) -> Result<Pool, StoreError> {
        let mut inner = self.lock();
        if inner.pools.values().any(|(n, _)| n == name) {
            return Err(StoreError::Duplicate {
                record: Record::Pool,
                name: name.to_string(),
            });
        }
        let id = inner.next_id();
        inner.pools.insert(id, (name.clone(), BTreeSet::new()));
        Ok(Pool {
            id: PoolId(id),
            name: name.clone(),
            members: Vec::new(),
        })
    }

    fn pools(&self) -> Result<Vec<Pool>, StoreError> {
        let inner = self.lock();
        Ok(by_name(
            inner.pools.keys().filter_map(|id| inner.pool(*id)),
            |p| &p.name,
        ))
    }

    fn pool_by_name(&self, name: &str) -> Result<Pool, StoreError> {
        let inner = self.lock();
        inner
            .pools
            .iter()
            .find(|(_, (n, _))| n.as_str() == name)
            .and_then(|(id, _)| inner.pool(*id))
            .ok_or_else(|| not_found(Record::Pool, name))
    }

    fn add_pool_member(&self, pool: PoolId, workstation: WorkstationId) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if !inner.workstations.contains_key(&workstation.0) {
            return Err(not_found(Record::Workstation, workstation));
        }
        let (_, members) = inner
            .pools
            .get_mut(&pool.0)
            .ok_or_else(|| not_found(Record::Pool, pool))?;
        members.insert(workstation.0);
        Ok(())
    }

    fn remove_pool_member(
        &self,
        pool: PoolId,
        workstation: WorkstationId,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let (_, members) = inner
            .pools
            .get_mut(&pool.0)
            .ok_or_else(|| not_found(Record::Pool, pool))?;
        if members.remove(&workstation.0) {
            return Ok(());
        }
        let pool_name = inner
            .pools
            .get(&pool.0)
            .map(|(name, _)| name.to_string())
            .unwrap_or_default();
        let member = inner
            .workstations
            .get(&workstation.0)
            .ok_or_else(|| not_found(Record::Workstation, workstation))?;
        Err(StoreError::NotMember {
            pool: pool_name,
            workstation: member.name.to_string(),
        })
    }

    fn delete_pool(&self, pool: PoolId) -> Result<(), StoreError> {
        self.lock()
            .pools
            .remove(&pool.0)
            .map(|_| ())
            .ok_or_else(|| not_found(Record::Pool, pool))
    }

    fn claim_power_slot(&self, claim: &PowerClaim<'_>) -> Result<ClaimOutcome, StoreError> {
        let mut inner = self.lock();
        let now = claim.now_unix_ms;
        if let Some((owner, until)) = inner.power_claims.get(claim.device_key)
            && owner != claim.owner
            && *until > now
        {
            return Ok(ClaimOutcome::Held);
        }
        if let Some(sent) = inner.power_sends.get_mut(claim.device_key) {
            *sent = (*sent).min(now);
            let period = u64::try_from(claim.period.as_millis()).unwrap_or(u64::MAX);
            if now - *sent < period {
                return Ok(ClaimOutcome::CoolingDown {
                    last_sent_unix_ms: *sent,
                });
            }
        }
        inner.power_claims.insert(
            claim.device_key.to_owned(),
            (claim.owner.to_owned(), claim.until_unix_ms),
        );
        Ok(ClaimOutcome::Claimed)
    }

    fn release_power_claim(&self, device_key: &str, owner: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner
            .power_claims
            .get(device_key)
            .is_some_and(|(holder, _)| holder == owner)
        {
            inner.power_claims.remove(device_key);
        }
        Ok(())
    }

    fn record_power_send(&self, device_key: &str, at_unix_ms: u64) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let slot = inner
            .power_sends
            .entry(device_key.to_owned())
            .or_insert(at_unix_ms);
        *slot = (*slot).max(at_unix_ms);
        Ok(())
    }

    fn retract_power_send(&self, device_key: &str, at_unix_ms: u64) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.power_sends.get(device_key) == Some(&at_unix_ms) {
            inner.power_sends.remove(device_key);
        }
        Ok(())
    }

    fn last_power_send(&self, device_key: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.lock().power_sends.get(device_key).copied())
    }

    fn prune_power_sends(&self, before_unix_ms: u64) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        inner
            .power_claims
            .retain(|_, (_, until)| *until >= before_unix_ms);
        let before = inner.power_sends.len();
        inner.power_sends.retain(|_, at| *at >= before_unix_ms);
        Ok(before - inner.power_sends.len())
    }
}
