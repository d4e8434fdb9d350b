//! The cooldown gate: `begin` + `mark_sent` + drop over 10 000 keys, on one thread and on four.
//!
//! Each iteration uses a time far enough ahead that every key is free again, so every `begin`
//! succeeds and the figure is the cost of the whole permit cycle.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use amt_cooldown::{CooldownGate, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const KEYS: u64 = 10_000;

fn cycle(gate: &CooldownGate<u64>, keys: impl Iterator<Item = u64>, now: Timestamp) {
    for key in keys {
        let mut permit = gate
            .begin(key, now)
            .expect("every key is free at this time");
        permit.mark_sent(now);
        black_box(&permit);
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("cooldown");
    group.throughput(Throughput::Elements(KEYS));

    let gate = CooldownGate::new();
    let epoch = AtomicU64::new(0);
    let next_time = || {
        Timestamp::from_duration(
            Duration::from_secs(21) * epoch.fetch_add(1, Ordering::Relaxed) as u32,
        )
    };
    group.bench_function("begin_send_10k_keys_1_thread", |b| {
        b.iter(|| cycle(&gate, 0..KEYS, next_time()))
    });

    group.bench_function("begin_send_10k_keys_4_threads", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let now = next_time();
                let start = Instant::now();
                std::thread::scope(|scope| {
                    for thread in 0..4u64 {
                        let gate = &gate;
                        scope.spawn(move || {
                            cycle(gate, (thread..KEYS).step_by(4), now);
                        });
                    }
                });
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
