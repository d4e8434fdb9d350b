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

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u64..25_000).prop_map(Step::Advance),
        (0u8..4).prop_map(Step::Begin),
        (0u8..4).prop_map(Step::MarkSent),
        (0u8..4).prop_map(Step::Finish),
        Just(Step::Prune),
    ]
}

proptest! {
    /// Whatever the schedule, the gate never lets two sends to one key happen less than the
    /// period apart, never hands out two permits for one key, and agrees with a simple model.
    #[test]
    fn random_schedules_respect_both_rules(steps in proptest::collection::vec(step(), 1..200)) {
        let gate = CooldownGate::new();
        let mut now = 0u64;
        let mut permits: Vec<Option<Permit<u8>>> = (0..4).map(|_| None).collect();
        let mut sends: Vec<Vec<u64>> = vec![Vec::new(); 4];
        for step in steps {
            let t = Timestamp::from_millis(now);
            match step {
                Step::Advance(ms) => now += ms,
                Step::Begin(k) => {
                    let i = usize::from(k);
                    let last = sends[i].last().copied();
                    let outcome = gate.begin(k, t);
                    match (&permits[i], last) {
                        (Some(_), _) => prop_assert_eq!(outcome.unwrap_err(), Refusal::InFlight),
                        (None, Some(sent)) if now - sent < 20_000 => {
                            prop_assert_eq!(
                                outcome.unwrap_err(),
                                Refusal::CoolingDown {
                                    since_last_send: Duration::from_millis(now - sent),
                                    remaining: Duration::from_millis(20_000 - (now - sent)),
                                }
                            );
                        }
                        (None, _) => permits[i] = Some(outcome.expect("model says free")),
                    }
                }
                Step::MarkSent(k) => {
                    let i = usize::from(k);
                    if let Some(permit) = permits[i].as_mut()
                        && permit.sent_at().is_none()
                    {
                        permit.mark_sent(t);
                        sends[i].push(now);
                    }
                }
                Step::Finish(k) => permits[usize::from(k)] = None,
                Step::Prune => { gate.prune(t); }
            }
        }
        for key_sends in &sends {
            for pair in key_sends.windows(2) {
                prop_assert!(pair[1] - pair[0] >= DEFAULT_PERIOD.as_millis() as u64);
            }
        }
    }
}
