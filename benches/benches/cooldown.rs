//! The cooldown gate: `begin` + `mark_sent` + drop over 10 000 keys, on one thread and on four.
//!
//! Each iteration uses a time far enough ahead that every key is free again, so every `begin`
//! succeeds and the figure is the cost of the whole permit cycle.
//!
//! The four-thread case starts its threads once per batch of iterations, not once per iteration:
//! each thread runs its quarter of the keys through every iteration of the batch, and the batch is
//! timed from the first thread's start (all four are released together) to the last one's end.
//! Spawning and joining stay outside the measured time, so the figure is the gate under contention.

use std::hint::black_box;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use amt_cooldown::{CooldownGate, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const KEYS: u64 = 10_000;
const THREADS: u64 = 4;

fn cycle(gate: &CooldownGate<u64>, keys: impl Iterator<Item = u64>, now: Timestamp) {
    for key in keys {
        let mut permit = gate
            .begin(key, now)
            .expect("every key is free at this time");
        permit.mark_sent(now);
        black_box(&permit);
    }
}

/// The time of iteration `round`: 21 s apart, so the 20 s cooldown of the round before has passed.
fn time_of(round: u64) -> Timestamp {
    Timestamp::from_duration(Duration::from_secs(round.saturating_mul(21)))
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("cooldown");
    group.throughput(Throughput::Elements(KEYS));

    let gate = CooldownGate::new();
    // The next round's number, shared by both cases because they share the gate.
    let rounds = AtomicU64::new(0);
    group.bench_function("begin_send_10k_keys_1_thread", |b| {
        b.iter(|| {
            cycle(
                &gate,
                0..KEYS,
                time_of(rounds.fetch_add(1, Ordering::Relaxed)),
            )
        })
    });

    group.bench_function("begin_send_10k_keys_4_threads", |b| {
        b.iter_custom(|iterations| {
            let first = rounds.fetch_add(iterations, Ordering::Relaxed);
            // Released together, so that every thread's work overlaps the others'.
            let start_line = Barrier::new(THREADS as usize);
            let spans: Vec<(Instant, Instant)> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..THREADS)
                    .map(|thread| {
                        let (gate, start_line) = (&gate, &start_line);
                        scope.spawn(move || {
                            start_line.wait();
                            let start = Instant::now();
                            // The keys of each thread are its own, so the threads need not agree
                            // on the round: each keeps its own clock moving forward.
                            for round in first..first + iterations {
                                let keys = (thread..KEYS).step_by(THREADS as usize);
                                cycle(gate, keys, time_of(round));
                            }
                            (start, Instant::now())
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|worker| worker.join().expect("a worker panicked"))
                    .collect()
            });
            // Wall time of the batch: the first thread's start to the last thread's end.
            let start = spans.iter().map(|(start, _)| *start).min();
            let end = spans.iter().map(|(_, end)| *end).max();
            start.zip(end).map_or(Duration::ZERO, |(start, end)| {
                end.saturating_duration_since(start)
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
