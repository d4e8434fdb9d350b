//! Concurrency and model-based property tests for the cooldown gate.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use amt_cooldown::{CooldownGate, DEFAULT_PERIOD, Permit, Refusal, Timestamp};
use proptest::prelude::*;

#[test]
fn eight_threads_racing_on_one_key_get_exactly_one_permit() {
    for round in 0..50u64 {
        let gate = CooldownGate::new();
        let barrier = Arc::new(Barrier::new(8));
        let winners: Vec<Option<Permit<&str>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let gate = gate.clone();
                    let barrier = Arc::clone(&barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        gate.begin("ws", Timestamp::from_millis(round)).ok()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .collect()
        });
        assert_eq!(winners.iter().flatten().count(), 1, "round {round}");
    }
}

#[test]
fn permits_move_across_threads() {
    let gate = CooldownGate::new();
    let mut permit = gate.begin(7u64, Timestamp::from_millis(0)).expect("free");
    std::thread::spawn(move || permit.mark_sent(Timestamp::from_millis(5)))
        .join()
        .expect("no panic");
    assert_eq!(gate.last_sent(&7), Some(Timestamp::from_millis(5)));
    assert!(gate.begin(7, Timestamp::from_millis(6)).is_err());
}

/// One step of a random schedule against a handful of keys.
#[derive(Debug, Clone)]
enum Step {
    Advance(u64),
    Begin(u8),
    MarkSent(u8),
    Finish(u8),
    Prune,
}

const KEYS: usize = 4;
const PERIOD_MS: u64 = 20_000;

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u64..25_000).prop_map(Step::Advance),
        // Steps that land on either side of a cooldown's end.
        proptest::sample::select(vec![1, 19_999, 20_000]).prop_map(Step::Advance),
        (0u8..KEYS as u8).prop_map(Step::Begin),
        (0u8..KEYS as u8).prop_map(Step::MarkSent),
        (0u8..KEYS as u8).prop_map(Step::Finish),
        Just(Step::Prune),
    ]
}

proptest! {
    /// Whatever the schedule, with the clock moving forward: the gate never has two permits for
    /// one key out at once, and no two sends from different permits for one key happen less than
    /// the period apart. Both are checked on what the gate actually handed out and what was sent
    /// through its permits. A permit may be marked sent more than once (the latest send counts);
    /// the gate answers each `begin` exactly as a small model of the rules says, so it also never
    /// refuses what it should allow.
    #[test]
    fn random_schedules_respect_both_rules(steps in proptest::collection::vec(step(), 1..200)) {
        let gate = CooldownGate::new();
        let mut now = 0u64;
        let mut next_permit = 0usize;
        // Every permit the gate handed out and that is still held, per key, with its number.
        let mut held: Vec<Vec<(usize, Permit<u8>)>> = (0..KEYS).map(|_| Vec::new()).collect();
        // Every send made through a permit: (permit number, time).
        let mut sends: Vec<Vec<(usize, u64)>> = vec![Vec::new(); KEYS];
        for step in steps {
            let t = Timestamp::from_millis(now);
            match step {
                Step::Advance(ms) => now += ms,
                Step::Begin(k) => {
                    let i = usize::from(k);
                    let model = if !held[i].is_empty() {
                        Err(Refusal::InFlight)
                    } else {
                        match sends[i].last() {
                            Some(&(_, sent)) if now - sent < PERIOD_MS => Err(Refusal::CoolingDown {
                                since_last_send: Duration::from_millis(now - sent),
                                remaining: Duration::from_millis(PERIOD_MS - (now - sent)),
                            }),
                            _ => Ok(()),
                        }
                    };
                    match gate.begin(k, t) {
                        Ok(permit) => {
                            held[i].push((next_permit, permit));
                            next_permit += 1;
                            prop_assert!(held[i].len() <= 1, "two permits in flight for key {}", k);
                            prop_assert_eq!(model, Ok(()), "the gate allowed what the rules refuse");
                        }
                        Err(refusal) => prop_assert_eq!(Err(refusal), model),
                    }
                }
                Step::MarkSent(k) => {
                    let i = usize::from(k);
                    if let Some((number, permit)) = held[i].last_mut() {
                        permit.mark_sent(t);
                        prop_assert_eq!(permit.sent_at(), Some(t));
                        sends[i].push((*number, now));
                    }
                }
                Step::Finish(k) => {
                    held[usize::from(k)].pop();
                }
                Step::Prune => {
                    gate.prune(t);
                }
            }
        }
        for key_sends in &sends {
            for (n, &(permit_a, at_a)) in key_sends.iter().enumerate() {
                for &(permit_b, at_b) in &key_sends[n + 1..] {
                    prop_assert!(
                        permit_a == permit_b || at_b - at_a >= PERIOD_MS,
                        "permit {} sent at {} ms and permit {} at {} ms",
                        permit_a, at_a, permit_b, at_b
                    );
                }
            }
        }
        prop_assert_eq!(DEFAULT_PERIOD, Duration::from_millis(PERIOD_MS));
    }
}
