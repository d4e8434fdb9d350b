//! `cooldown_ops`: arbitrary sequences of operations on one `amt-cooldown` gate, checked against
//! a model and against the product's two rules.
//!
//! The input is decoded with `arbitrary` into [`Step`]s: time moves forward by up to a minute,
//! or to within ±127 ms of the end of a key's cooldown (never back), then one operation runs on
//! one of [`KEYS`] keys: begin, mark a permit sent, finish (drop) a permit, check, restore a send
//! time (also one ahead of the clock, as a store written by a clock that ran ahead may hold),
//! prune or export.
//!
//! Checked after every step:
//! - the gate answers exactly as a plain model of its documentation (refusals with their
//!   durations, `check`, `last_sent`, `export`, `prune`'s count and `len`);
//! - **at most one in flight**: a permit is never granted for a key that holds one;
//! - **the 20 s rule**: a permit is never granted for a key less than 20 s after a send to it
//!   (a send recorded ahead of the clock counts from the moment a refusal first saw it, as
//!   `CooldownGate::begin` documents);
//! - refusals say how long to wait in whole seconds, never "0 s".

use std::collections::BTreeMap;
use std::time::Duration;

use amt_cooldown::{CooldownGate, DEFAULT_PERIOD, Permit, Refusal, Timestamp};
use arbitrary::{Arbitrary, Unstructured};

/// The number of distinct keys operations draw from; few, so that they collide often.
pub const KEYS: u8 = 4;
/// Steps taken from one input at most.
pub const MAX_STEPS: usize = 512;
/// The clock at the first step, in milliseconds, far enough from zero for restores behind it.
const START_MS: u64 = 1_000_000_000;

/// One operation on the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `CooldownGate::begin` for a key; a granted permit is kept.
    Begin {
        /// The key, modulo [`KEYS`].
        key: u8,
    },
    /// `Permit::mark_sent` now, on one of the permits held.
    MarkSent {
        /// Which permit, modulo the number held.
        permit: u8,
    },
    /// Drops one of the permits held: the operation is over.
    Finish {
        /// Which permit, modulo the number held.
        permit: u8,
    },
    /// `CooldownGate::check` and `CooldownGate::last_sent` for a key.
    Check {
        /// The key, modulo [`KEYS`].
        key: u8,
    },
    /// `CooldownGate::restore` of a send at the current time plus an offset.
    Restore {
        /// The key, modulo [`KEYS`].
        key: u8,
        /// Milliseconds from now; positive is ahead of the clock.
        offset_ms: i32,
    },
    /// `CooldownGate::prune` now.
    Prune,
    /// `CooldownGate::export`.
    Export,
}

/// How the clock moves before an operation (never backwards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// Forward by this many milliseconds.
    By(u16),
    /// To the end of a key's cooldown plus an offset, so that the 20 s boundary is hit exactly
    /// and from either side; no move when that moment has passed or the key has no send.
    ToCooldownEnd {
        /// The key, modulo [`KEYS`].
        key: u8,
        /// Milliseconds after the end of the cooldown (negative: before it).
        offset_ms: i8,
    },
}

/// Time passing, then one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// How the clock moves before the operation.
    pub advance: Advance,
    /// The operation.
    pub operation: Operation,
}

impl<'a> Arbitrary<'a> for Step {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let advance = if u.ratio(1u8, 4)? {
            Advance::ToCooldownEnd {
                key: u.arbitrary()?,
                offset_ms: u.arbitrary()?,
            }
        } else {
            Advance::By(u.arbitrary()?)
        };
        let operation = match u.choose_index(7)? {
            0 => Operation::Begin {
                key: u.arbitrary()?,
            },
            1 => Operation::MarkSent {
                permit: u.arbitrary()?,
            },
            2 => Operation::Finish {
                permit: u.arbitrary()?,
            },
            3 => Operation::Check {
                key: u.arbitrary()?,
            },
            4 => Operation::Restore {
                key: u.arbitrary()?,
                offset_ms: u.arbitrary()?,
            },
            5 => Operation::Prune,
            _ => Operation::Export,
        };
        Ok(Self { advance, operation })
    }
}

/// Decodes `data` into steps and runs them with [`check`].
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut steps = Vec::new();
    while !u.is_empty() && steps.len() < MAX_STEPS {
        match Step::arbitrary(&mut u) {
            Ok(step) => steps.push(step),
            Err(_) => break,
        }
    }
    check(&steps);
}

/// What the model knows of one key: the gate's entry for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    last_sent: Option<u64>,
    in_flight: bool,
}

/// The gate as its documentation describes it, with times in milliseconds.
#[derive(Debug, Default)]
struct Model {
    slots: BTreeMap<u8, Slot>,
}

impl Model {
    fn period_ms() -> u64 {
        u64::try_from(DEFAULT_PERIOD.as_millis()).unwrap_or(u64::MAX)
    }

    /// The refusal for `slot` at `now`; a send recorded ahead of `now` is pulled back to `now`.
    fn refusal(slot: &mut Slot, now: u64) -> Option<Refusal> {
        if slot.in_flight {
            return Some(Refusal::InFlight);
        }
        let sent = slot.last_sent?;
        if now < sent {
            slot.last_sent = Some(now);
            return Some(Refusal::CoolingDown {
                since_last_send: Duration::ZERO,
                remaining: DEFAULT_PERIOD,
            });
        }
        let since = now - sent;
        (since < Self::period_ms()).then(|| Refusal::CoolingDown {
            since_last_send: Duration::from_millis(since),
            remaining: Duration::from_millis(Self::period_ms() - since),
        })
    }

    fn begin(&mut self, key: u8, now: u64) -> Result<(), Refusal> {
        let slot = self.slots.entry(key).or_default();
        match Self::refusal(slot, now) {
            Some(refusal) => Err(refusal),
            None => {
                slot.in_flight = true;
                Ok(())
            }
        }
    }

    fn check(&self, key: u8, now: u64) -> Result<(), Refusal> {
        match self.slots.get(&key) {
            Some(slot) => Self::refusal(&mut slot.clone(), now).map_or(Ok(()), Err),
            None => Ok(()),
        }
    }

    fn finish(&mut self, key: u8) {
        if let Some(slot) = self.slots.get_mut(&key) {
            slot.in_flight = false;
            if slot.last_sent.is_none() {
                self.slots.remove(&key);
            }
        }
    }

    fn prune(&mut self, now: u64) -> usize {
        let before = self.slots.len();
        self.slots.retain(|_, slot| {
            slot.in_flight
                || slot
                    .last_sent
                    .is_some_and(|sent| now < sent.saturating_add(Self::period_ms()))
        });
        before - self.slots.len()
    }

    fn sends(&self) -> Vec<(u8, u64)> {
        self.slots
            .iter()
            .filter_map(|(key, slot)| slot.last_sent.map(|sent| (*key, sent)))
            .collect()
    }
}

fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// Runs `steps` on a fresh 20 s gate and checks every answer (see the module docs).
///
/// # Panics
///
/// When the gate breaks a rule or disagrees with the model.
pub fn check(steps: &[Step]) {
    let gate: CooldownGate<u8> = CooldownGate::new();
    let mut model = Model::default();
    let mut permits: Vec<Permit<u8>> = Vec::new();
    // Every send per key, as the rules see it: mark_sent and restore times.
    let mut sends: BTreeMap<u8, Vec<u64>> = BTreeMap::new();
    let mut now = START_MS;

    for step in steps {
        now = match step.advance {
            Advance::By(ms) => now + u64::from(ms),
            Advance::ToCooldownEnd { key, offset_ms } => model
                .slots
                .get(&(key % KEYS))
                .and_then(|slot| slot.last_sent)
                .map(|sent| (sent + Model::period_ms()).saturating_add_signed(offset_ms.into()))
                .map_or(now, |end| end.max(now)),
        };
        match step.operation {
            Operation::Begin { key } => {
                let key = key % KEYS;
                let expected = model.begin(key, now);
                let granted = gate.begin(key, at(now));
                match (&granted, expected) {
                    (Ok(permit), Ok(())) => {
                        assert_eq!(*permit.key(), key);
                        assert_eq!(permit.sent_at(), None);
                    }
                    (Err(refusal), Err(expected)) => assert_eq!(*refusal, expected),
                    (granted, expected) => {
                        panic!("begin({key}) at {now}: gate {granted:?}, model {expected:?}")
                    }
                }
                match granted {
                    Ok(permit) => {
                        assert!(
                            !permits.iter().any(|held| *held.key() == key),
                            "a second permit for key {key} while one is in flight"
                        );
                        if let Some(sent) = sends.get(&key).and_then(|s| s.iter().max()) {
                            assert!(
                                now >= sent + Model::period_ms(),
                                "key {key} granted at {now}, {} ms after a send",
                                now.saturating_sub(*sent)
                            );
                        }
                        permits.push(permit);
                    }
                    Err(refusal) => {
                        check_refusal(&refusal);
                        if matches!(refusal, Refusal::CoolingDown { .. }) {
                            pull_back(&mut sends, key, now);
                        }
                    }
                }
            }
            Operation::MarkSent { permit } => {
                if let Some(index) = pick(permit, permits.len())
                    && let Some(held) = permits.get_mut(index)
                {
                    held.mark_sent(at(now));
                    assert_eq!(held.sent_at(), Some(at(now)));
                    let key = *held.key();
                    if let Some(slot) = model.slots.get_mut(&key) {
                        slot.last_sent = Some(now);
                    }
                    pull_back(&mut sends, key, now);
                    sends.entry(key).or_default().push(now);
                }
            }
            Operation::Finish { permit } => {
                if let Some(index) = pick(permit, permits.len()) {
                    let held = permits.swap_remove(index);
                    model.finish(*held.key());
                    drop(held);
                }
            }
            Operation::Check { key } => {
                let key = key % KEYS;
                let answer = gate.check(&key, at(now));
                assert_eq!(answer, model.check(key, now), "check({key}) at {now}");
                if let Err(refusal) = answer {
                    check_refusal(&refusal);
                }
                let expected = model.slots.get(&key).and_then(|slot| slot.last_sent);
                assert_eq!(gate.last_sent(&key), expected.map(at));
            }
            Operation::Restore { key, offset_ms } => {
                let key = key % KEYS;
                let offset = u64::from(offset_ms.unsigned_abs());
                let sent = if offset_ms < 0 {
                    now.saturating_sub(offset)
                } else {
                    now + offset
                };
                gate.restore(key, at(sent));
                let slot = model.slots.entry(key).or_default();
                slot.last_sent = Some(slot.last_sent.map_or(sent, |known| known.max(sent)));
                sends.entry(key).or_default().push(sent);
            }
            Operation::Prune => {
                assert_eq!(gate.prune(at(now)), model.prune(now), "prune at {now}");
            }
            Operation::Export => {
                let mut exported: Vec<(u8, u64)> = gate
                    .export()
                    .into_iter()
                    .map(|(key, sent)| (key, sent.as_millis()))
                    .collect();
                exported.sort_unstable();
                assert_eq!(exported, model.sends());
            }
        }
        assert_eq!(gate.len(), model.slots.len(), "entries after {step:?}");
        assert_eq!(gate.is_empty(), model.slots.is_empty());
    }

    for permit in permits.drain(..) {
        model.finish(*permit.key());
    }
    assert_eq!(
        gate.len(),
        model.slots.len(),
        "entries once every permit is dropped"
    );
}

/// A send recorded ahead of the clock counts from `now` once the gate has seen it (a refusal
/// while cooling down) or a new send replaced it (`mark_sent`), as the gate documents.
fn pull_back(sends: &mut BTreeMap<u8, Vec<u64>>, key: u8, now: u64) {
    if let Some(times) = sends.get_mut(&key) {
        for sent in times.iter_mut().filter(|sent| **sent > now) {
            *sent = now;
        }
    }
}

/// The index `choice` selects among `len` held permits, if any is held.
fn pick(choice: u8, len: usize) -> Option<usize> {
    (len > 0).then(|| usize::from(choice) % len)
}

fn check_refusal(refusal: &Refusal) {
    assert!(!refusal.to_string().is_empty());
    match refusal {
        Refusal::CoolingDown {
            since_last_send,
            remaining,
        } => {
            assert!(!remaining.is_zero(), "a refusal must leave time to wait");
            assert_eq!(*since_last_send + *remaining, DEFAULT_PERIOD);
            assert!(refusal.seconds_remaining().is_some_and(|s| s >= 1));
            assert_eq!(
                refusal.seconds_since_last_send(),
                Some(since_last_send.as_secs())
            );
        }
        Refusal::InFlight => {
            assert_eq!(refusal.seconds_remaining(), None);
            assert_eq!(refusal.seconds_since_last_send(), None);
        }
        // `Refusal` is non-exhaustive; a new kind needs a place in the model above first.
        other => panic!("the harness's model knows no refusal {other:?}"),
    }
}
