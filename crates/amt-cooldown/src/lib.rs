//! `amt-cooldown`: the per-workstation gate for power operations.
//!
//! Intel AMT needs time to carry out a power change (the BIOS alone may take ten seconds), and a
//! second request sent meanwhile is refused or, worse, acted on half-way. The product therefore
//! keeps two rules per workstation:
//!
//! 1. at most one power operation is in flight at a time, and
//! 2. once a power-change request has been sent, no other is sent for the cooldown period
//!    (20 seconds by default).
//!
//! [`CooldownGate::begin`] checks both and hands out a [`Permit`]. The caller marks the permit sent
//! ([`Permit::mark_sent`]) at the moment the authenticated request is written; that starts the
//! cooldown. A permit dropped without being marked (the operation failed before anything reached
//! the device) frees the workstation with no cooldown.
//!
//! The crate does no I/O and reads no clock: every call takes the current time as a [`Timestamp`],
//! a duration since an epoch of the caller's choosing (the manager uses the Unix epoch, so that
//! send times can be persisted and restored across restarts with [`CooldownGate::export`] and
//! [`CooldownGate::restore`]).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use amt_cooldown::{CooldownGate, Refusal, Timestamp};
//!
//! let gate = CooldownGate::new(); // 20 s
//! let t0 = Timestamp::from_millis(1_000_000);
//!
//! let mut permit = gate.begin("ws1.example.com", t0).expect("nothing in flight yet");
//! // ... build the request, authenticate, and at the moment it is written:
//! permit.mark_sent(t0);
//! drop(permit); // the response arrived
//!
//! let later = t0 + Duration::from_millis(19_999);
//! match gate.begin("ws1.example.com", later) {
//!     Err(Refusal::CoolingDown { remaining, .. }) => assert_eq!(remaining, Duration::from_millis(1)),
//!     other => panic!("expected a cooldown refusal, got {other:?}"),
//! }
//! assert!(gate.begin("ws1.example.com", t0 + Duration::from_secs(20)).is_ok());
//! ```
//!
//! # Specifications and deviations
//!
//! None: the two rules are a product rule (the console's 20-second guard), not part of a DMTF or
//! Intel specification. How the gate applies them:
//!
//! - **Exact to the millisecond.** Times are compared as given, without rounding: with the
//!   millisecond timestamps the manager uses, a send 19.999 s after the last one is refused and
//!   one at 20.000 s allowed, and [`Refusal::CoolingDown`] carries the exact time left. Only the
//!   whole-second helpers for messages round (the time left upwards, so never "0 s"). Stores keep
//!   whole milliseconds ([`Timestamp::as_millis`]); a finer send time loses its sub-millisecond
//!   part on the way through a store.
//! - **A clock stepped back.** If `now` is earlier than the recorded send (the clock was stepped
//!   back, or a restored time came from a clock that ran ahead), the send is taken as made at
//!   `now`: the key waits one full period from `now`, never longer, rather than until a time the
//!   clock may not reach again soon.
//! - **The latest send counts.** [`Permit::mark_sent`] replaces the recorded send time, and
//!   [`CooldownGate::restore`] keeps the later of the recorded and the restored time.
//!
//! # Concurrency
//!
//! The gate is `Clone + Send + Sync` and cheap to clone (one `Arc`). Its locks are internal and
//! held only for a map lookup, never across a caller's code, so a caller cannot hold one across an
//! `.await`. Permits own a handle to the gate and can move between threads and tasks.
//!
//! Keys are spread over the shards by std's [`RandomState`], whose keys are seeded from the
//! operating system once per process: the one piece of randomness in the crate, and it decides
//! only which lock a key shares (and the order of [`CooldownGate::export`]), never a verdict. A
//! fixed hasher would make the placement predictable, so a chosen set of workstation names (an
//! imported inventory) could put every key on one shard: every caller would queue on one mutex
//! and every automatic prune would scan all the entries (HashDoS). The maps inside the shards are
//! seeded the same way, as std's maps are.
//!
//! # Memory
//!
//! A key costs an entry only while it is in flight or cooling down. Entries whose period has passed
//! are removed by [`CooldownGate::prune`], and automatically (amortised, per shard) when a shard
//! has doubled since it was last pruned.

use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::ops::Add;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The product's cooldown period: 20 seconds.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(20);

/// Number of independently locked shards; a power of two.
const SHARDS: usize = 16;

/// A shard is pruned automatically once it holds this many entries (and then at double its size
/// after the previous prune).
const MIN_PRUNE_THRESHOLD: usize = 64;

/// A point in time: the duration since an epoch the caller chooses and keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(Duration);

impl Timestamp {
    /// The timestamp `since_epoch` after the caller's epoch.
    pub const fn from_duration(since_epoch: Duration) -> Self {
        Self(since_epoch)
    }

    /// The timestamp `millis` milliseconds after the caller's epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self(Duration::from_millis(millis))
    }

    /// The duration since the caller's epoch.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// Whole milliseconds since the caller's epoch (saturating), the form stores persist.
    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }

    /// The time from `earlier` to `self`, or zero when `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Timestamp {
    type Output = Self;

    fn add(self, rhs: Duration) -> Self {
        Self(self.0.saturating_add(rhs))
    }
}

/// Why [`CooldownGate::begin`] refused: the error type of this crate.
///
/// The messages speak of "this workstation", as the product does; the key is the caller's name
/// for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Another power operation for this key holds a permit.
    #[error("another power operation on this workstation is in progress")]
    InFlight,
    /// A power-change request was sent to this key less than the period ago.
    #[error(
        "a power operation was sent to this workstation {} s ago; the next is allowed in {} s",
        since_last_send.as_secs(),
        whole_seconds_rounded_up(*remaining)
    )]
    CoolingDown {
        /// Time since the last send.
        since_last_send: Duration,
        /// Time until the next send is allowed (never zero).
        remaining: Duration,
    },
}

impl Refusal {
    /// For messages: whole seconds since the last send, rounded down.
    pub fn seconds_since_last_send(&self) -> Option<u64> {
        match self {
            Self::CoolingDown {
                since_last_send, ..
            } => Some(since_last_send.as_secs()),
            Self::InFlight => None,
        }
    }

    /// For messages: whole seconds until the next send is allowed, rounded up so that a refusal
    /// never says "0 s".
    pub fn seconds_remaining(&self) -> Option<u64> {
        match self {
            Self::CoolingDown { remaining, .. } => Some(whole_seconds_rounded_up(*remaining)),
            Self::InFlight => None,
        }
    }
}

/// Rounded up, so that a wait of a few milliseconds never reads "0 s".
fn whole_seconds_rounded_up(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    last_sent: Option<Timestamp>,
    in_flight: bool,
}

impl Slot {
    /// Whether the entry carries nothing the gate still needs at `now`.
    fn is_idle(&self, now: Timestamp, period: Duration) -> bool {
        !self.in_flight && self.last_sent.is_none_or(|sent| now >= sent + period)
    }
}

#[derive(Debug)]
struct Shard<K> {
    slots: HashMap<K, Slot>,
    prune_threshold: usize,
}

impl<K: Hash + Eq> Shard<K> {
    fn prune(&mut self, now: Timestamp, period: Duration) -> usize {
        let before = self.slots.len();
        self.slots.retain(|_, slot| !slot.is_idle(now, period));
        self.prune_threshold = MIN_PRUNE_THRESHOLD.max(self.slots.len() * 2);
        before - self.slots.len()
    }
}

#[derive(Debug)]
struct Shared<K> {
    period: Duration,
    hasher: RandomState,
    shards: Box<[Mutex<Shard<K>>]>,
}

impl<K: Hash + Eq> Shared<K> {
    fn shard_index(&self, key: &K) -> usize {
        (self.hasher.hash_one(key) as usize) & (SHARDS - 1)
    }

    fn shard(&self, key: &K) -> MutexGuard<'_, Shard<K>> {
        Self::lock(&self.shards[self.shard_index(key)])
    }

    /// The critical sections cannot panic half-way, so a poisoned lock still guards consistent data.
    fn lock(shard: &Mutex<Shard<K>>) -> MutexGuard<'_, Shard<K>> {
        shard.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The keyed gate. See the [crate documentation](crate) for the rules.
///
/// `K` is the workstation key; the manager uses the normalised host name or address.
#[derive(Debug)]
pub struct CooldownGate<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for CooldownGate<K> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<K: Hash + Eq + Clone> Default for CooldownGate<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Hash + Eq + Clone> CooldownGate<K> {
    /// A gate with the product's 20 second period.
    pub fn new() -> Self {
        Self::with_period(DEFAULT_PERIOD)
    }

    /// A gate with another period.
    pub fn with_period(period: Duration) -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    slots: HashMap::new(),
                    prune_threshold: MIN_PRUNE_THRESHOLD,
                })
            })
            .collect();
        Self {
            shared: Arc::new(Shared {
                period,
                hasher: RandomState::new(),
                shards,
            }),
        }
    }

    /// The cooldown period.
    pub fn period(&self) -> Duration {
        self.shared.period
    }

    /// Asks to run a power operation on `key` at `now`.
    ///
    /// Refuses when another operation for `key` holds a permit, or when the last send to `key` was
    /// less than the period before `now`. If `now` is *earlier* than the recorded send (the clock
    /// was stepped back, or a restored time came from a clock that ran ahead), the send is treated
    /// as made at `now`: the key waits one full period, never longer.
    pub fn begin(&self, key: K, now: Timestamp) -> Result<Permit<K>, Refusal> {
        let period = self.shared.period;
        let shard_index = self.shared.shard_index(&key);
        let mut shard = Shared::lock(&self.shared.shards[shard_index]);
        if shard.slots.len() >= shard.prune_threshold {
            shard.prune(now, period);
        }
        let slot = match shard.slots.entry(key.clone()) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(Slot::default()),
        };
        Self::refusal(slot, now, period).map_or(Ok(()), Err)?;
        slot.in_flight = true;
        drop(shard);
        Ok(Permit {
            shared: Arc::clone(&self.shared),
            shard_index,
            key,
            sent_at: None,
        })
    }

    /// What [`begin`](Self::begin) would answer at `now`, without taking a permit.
    pub fn check(&self, key: &K, now: Timestamp) -> Result<(), Refusal> {
        let shard = self.shared.shard(key);
        match shard.slots.get(key) {
            Some(slot) => {
                let mut slot = *slot;
                Self::refusal(&mut slot, now, self.shared.period).map_or(Ok(()), Err)
            }
            None => Ok(()),
        }
    }

    fn refusal(slot: &mut Slot, now: Timestamp, period: Duration) -> Option<Refusal> {
        if slot.in_flight {
            return Some(Refusal::InFlight);
        }
        let sent = slot.last_sent?;
        if now < sent {
            slot.last_sent = Some(now);
            return Some(Refusal::CoolingDown {
                since_last_send: Duration::ZERO,
                remaining: period,
            });
        }
        let since_last_send = now.saturating_duration_since(sent);
        (since_last_send < period).then(|| Refusal::CoolingDown {
            since_last_send,
            remaining: period - since_last_send,
        })
    }

    /// The last recorded send to `key`, if the gate still holds it.
    pub fn last_sent(&self, key: &K) -> Option<Timestamp> {
        self.shared
            .shard(key)
            .slots
            .get(key)
            .and_then(|slot| slot.last_sent)
    }

    /// Every recorded send time, for a store to persist. Pair with [`restore`](Self::restore).
    pub fn export(&self) -> Vec<(K, Timestamp)> {
        let mut sends = Vec::new();
        for shard in self.shared.shards.iter() {
            let shard = Shared::lock(shard);
            sends.extend(
                shard
                    .slots
                    .iter()
                    .filter_map(|(k, s)| s.last_sent.map(|t| (k.clone(), t))),
            );
        }
        sends
    }

    /// Records that a request was sent to `key` at `sent` (from a store, after a restart). A later
    /// send already recorded is kept.
    pub fn restore(&self, key: K, sent: Timestamp) {
        let mut shard = self.shared.shard(&key);
        let slot = shard.slots.entry(key).or_default();
        slot.last_sent = Some(slot.last_sent.map_or(sent, |known| known.max(sent)));
    }

    /// Removes the entries that are neither in flight nor cooling down at `now`; returns how many.
    pub fn prune(&self, now: Timestamp) -> usize {
        self.shared
            .shards
            .iter()
            .map(|shard| Shared::lock(shard).prune(now, self.shared.period))
            .sum()
    }

    /// The number of entries held (in flight, cooling down, or not yet pruned).
    pub fn len(&self) -> usize {
        self.shared
            .shards
            .iter()
            .map(|shard| Shared::lock(shard).slots.len())
            .sum()
    }

    /// Whether the gate holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The right to run one power operation on one key. See [`CooldownGate::begin`].
///
/// Dropping the permit ends the operation: the key is free again at once if the permit was never
/// marked sent, or after the period from the send otherwise.
#[must_use = "dropping a permit at once ends the operation"]
pub struct Permit<K: Hash + Eq> {
    shared: Arc<Shared<K>>,
    /// The key's shard, computed once by `begin` so the permit never hashes the key again.
    shard_index: usize,
    key: K,
    sent_at: Option<Timestamp>,
}

impl<K: Hash + Eq + fmt::Debug> fmt::Debug for Permit<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("key", &self.key)
            .field("sent_at", &self.sent_at)
            .finish()
    }
}

impl<K: Hash + Eq> Permit<K> {
    fn shard(&self) -> MutexGuard<'_, Shard<K>> {
        Shared::lock(&self.shared.shards[self.shard_index])
    }

    /// The key this permit is for.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// When the request was marked sent, if it was.
    pub fn sent_at(&self) -> Option<Timestamp> {
        self.sent_at
    }

    /// Records that the power-change request was written to the device at `at`: the cooldown
    /// starts here. Call it when the request may have reached the device, even if what follows
    /// fails (a timeout or a reset after the write still counts as sent). `at` replaces any send
    /// time recorded for the key, even a later one restored meanwhile: this send is the latest
    /// that really happened.
    pub fn mark_sent(&mut self, at: Timestamp) {
        self.sent_at = Some(at);
        let mut shard = self.shard();
        if let Some(slot) = shard.slots.get_mut(&self.key) {
            slot.last_sent = Some(at);
        }
    }
}

impl<K: Hash + Eq> Drop for Permit<K> {
    fn drop(&mut self) {
        let mut shard = self.shard();
        let forget = match shard.slots.get_mut(&self.key) {
            Some(slot) => {
                slot.in_flight = false;
                slot.last_sent.is_none()
            }
            None => false,
        };
        if forget {
            shard.slots.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: u64) -> Timestamp {
        Timestamp::from_millis(millis)
    }

    #[test]
    fn the_boundary_is_millisecond_exact() {
        let gate = CooldownGate::new();
        let mut permit = gate.begin("a", at(0)).unwrap();
        permit.mark_sent(at(5_000));
        drop(permit);
        assert_eq!(
            gate.begin("a", at(24_999)).unwrap_err(),
            Refusal::CoolingDown {
                since_last_send: Duration::from_millis(19_999),
                remaining: Duration::from_millis(1)
            }
        );
        assert!(gate.begin("a", at(25_000)).is_ok());
    }

    #[test]
    fn a_second_begin_while_in_flight_is_refused() {
        let gate = CooldownGate::new();
        let permit = gate.begin(1u32, at(0)).unwrap();
        assert_eq!(gate.begin(1, at(1)).unwrap_err(), Refusal::InFlight);
        assert_eq!(gate.check(&1, at(1)), Err(Refusal::InFlight));
        drop(permit);
        assert!(gate.begin(1, at(2)).is_ok());
    }

    #[test]
    fn an_unsent_permit_leaves_no_cooldown_and_no_entry() {
        let gate = CooldownGate::new();
        drop(gate.begin("a", at(0)).unwrap());
        assert!(gate.is_empty());
        assert!(gate.begin("a", at(1)).is_ok());
    }

    #[test]
    fn a_sent_permit_still_blocks_until_dropped_then_cools_down() {
        let gate = CooldownGate::new();
        let mut permit = gate.begin("a", at(0)).unwrap();
        permit.mark_sent(at(10));
        assert_eq!(permit.sent_at(), Some(at(10)));
        assert_eq!(gate.begin("a", at(30_000)).unwrap_err(), Refusal::InFlight);
        drop(permit);
        assert!(gate.begin("a", at(30_000)).is_ok());
    }

    #[test]
    fn keys_are_independent() {
        let gate = CooldownGate::new();
        let mut a = gate.begin("a", at(0)).unwrap();
        a.mark_sent(at(0));
        let b = gate.begin("b", at(1)).unwrap();
        assert_eq!(b.key(), &"b");
        assert!(matches!(gate.begin("a", at(2)), Err(Refusal::InFlight)));
        drop(a);
        assert!(matches!(
            gate.begin("a", at(2)),
            Err(Refusal::CoolingDown { .. })
        ));
        assert!(gate.check(&"c", at(2)).is_ok());
    }

    #[test]
    fn a_clock_stepped_back_waits_one_period_from_now() {
        let gate = CooldownGate::new();
        gate.restore("a", at(1_000_000));
        let refusal = gate.begin("a", at(10_000)).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::CoolingDown {
                since_last_send: Duration::ZERO,
                remaining: DEFAULT_PERIOD
            }
        );
        assert!(gate.begin("a", at(29_999)).is_err());
        assert!(gate.begin("a", at(30_000)).is_ok());
    }

    #[test]
    fn export_and_restore_carry_send_times() {
        let gate = CooldownGate::new();
        let mut permit = gate.begin("a".to_string(), at(0)).unwrap();
        permit.mark_sent(at(100));
        drop(permit);
        let exported = gate.export();
        assert_eq!(exported, vec![("a".to_string(), at(100))]);

        let reopened = CooldownGate::new();
        for (key, sent) in exported {
            reopened.restore(key, sent);
        }
        assert!(reopened.begin("a".to_string(), at(20_099)).is_err());
        assert!(reopened.begin("a".to_string(), at(20_100)).is_ok());
        reopened.restore("b".to_string(), at(500));
        reopened.restore("b".to_string(), at(400));
        assert_eq!(reopened.last_sent(&"b".to_string()), Some(at(500)));
    }

    #[test]
    fn prune_removes_only_entries_whose_period_passed() {
        let gate = CooldownGate::with_period(Duration::from_secs(1));
        for key in 0..10u32 {
            let mut permit = gate.begin(key, at(0)).unwrap();
            permit.mark_sent(at(u64::from(key) * 100));
        }
        let held = gate.begin(99, at(0)).unwrap();
        assert_eq!(gate.len(), 11);
        assert_eq!(gate.prune(at(1_450)), 5); // keys 0..=4 sent at or before 450 ms
        assert_eq!(gate.len(), 6);
        drop(held);
        assert_eq!(gate.prune(at(10_000)), 5);
        assert!(gate.is_empty());
    }

    #[test]
    fn shards_prune_themselves_as_they_grow() {
        let gate = CooldownGate::with_period(Duration::from_millis(1));
        for key in 0..100_000u32 {
            let mut permit = gate.begin(key, at(u64::from(key))).unwrap();
            permit.mark_sent(at(u64::from(key)));
        }
        // Every entry but the most recent few have passed their 1 ms period.
        assert!(
            gate.len() < SHARDS * MIN_PRUNE_THRESHOLD * 2,
            "{} entries held",
            gate.len()
        );
    }

    #[test]
    fn refusal_messages_round_seconds_sensibly() {
        let refusal = Refusal::CoolingDown {
            since_last_send: Duration::from_millis(3_900),
            remaining: Duration::from_millis(16_100),
        };
        assert_eq!(refusal.seconds_since_last_send(), Some(3));
        assert_eq!(refusal.seconds_remaining(), Some(17));
        assert_eq!(
            refusal.to_string(),
            "a power operation was sent to this workstation 3 s ago; the next is allowed in 17 s"
        );
        let tiny = Refusal::CoolingDown {
            since_last_send: DEFAULT_PERIOD,
            remaining: Duration::from_nanos(1),
        };
        assert_eq!(tiny.seconds_remaining(), Some(1));
        assert!(tiny.to_string().ends_with("the next is allowed in 1 s"));
        assert_eq!(Refusal::InFlight.seconds_remaining(), None);
        assert_eq!(
            Refusal::InFlight.to_string(),
            "another power operation on this workstation is in progress"
        );
    }
}
