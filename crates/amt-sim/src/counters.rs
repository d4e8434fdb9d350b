//! What a simulated device has seen: the figures tests assert on and benchmarks report.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of one device (or, summed, of a fleet). Cheap to update from any task.
#[derive(Debug, Default)]
pub struct Counters {
    pub(crate) tcp_connections: AtomicU64,
    pub(crate) tls_full_handshakes: AtomicU64,
    pub(crate) tls_resumed_handshakes: AtomicU64,
    pub(crate) tls_failed_handshakes: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) unauthorized: AtomicU64,
    pub(crate) failed_logins: AtomicU64,
    pub(crate) lockout_refusals: AtomicU64,
    pub(crate) faults: AtomicU64,
    /// Invokes of RequestPowerStateChange by PowerState value; index 0 counts values above 17.
    pub(crate) invokes: [AtomicU64; 18],
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn bump_invoke(&self, value: u16) {
        let index = usize::from(value);
        Self::bump(self.invokes.get(index).unwrap_or(&self.invokes[0]));
    }

    /// A consistent-enough copy of the counters for reading.
    pub fn snapshot(&self) -> CounterSnapshot {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut invokes = [0; 18];
        for (slot, counter) in invokes.iter_mut().zip(&self.invokes) {
            *slot = read(counter);
        }
        CounterSnapshot {
            tcp_connections: read(&self.tcp_connections),
            tls_full_handshakes: read(&self.tls_full_handshakes),
            tls_resumed_handshakes: read(&self.tls_resumed_handshakes),
            tls_failed_handshakes: read(&self.tls_failed_handshakes),
            requests: read(&self.requests),
            unauthorized: read(&self.unauthorized),
            failed_logins: read(&self.failed_logins),
            lockout_refusals: read(&self.lockout_refusals),
            faults: read(&self.faults),
            invokes,
        }
    }
}

/// A copy of a device's counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CounterSnapshot {
    /// TCP connections accepted.
    pub tcp_connections: u64,
    /// TLS handshakes completed in full.
    pub tls_full_handshakes: u64,
    /// TLS handshakes completed by resuming a session.
    pub tls_resumed_handshakes: u64,
    /// TLS handshakes that failed (plain HTTP on the TLS port, a client that refused the
    /// certificate, ...).
    pub tls_failed_handshakes: u64,
    /// HTTP requests received.
    pub requests: u64,
    /// 401 responses sent.
    pub unauthorized: u64,
    /// Logins checked and refused (wrong user, wrong password, bad digest). Replays and stale
    /// nonces are 401s but not failed logins.
    pub failed_logins: u64,
    /// Logins refused unchecked because of a lockout.
    pub lockout_refusals: u64,
    /// Injected fault rules fired (latency and another fault on one request count two).
    pub faults: u64,
    /// RequestPowerStateChange invokes by PowerState value (index 0 counts values above 17),
    /// once their selectors and `ManagedElement` are accepted.
    pub invokes: [u64; 18],
}

impl CounterSnapshot {
    /// TLS handshakes of both kinds.
    pub fn tls_handshakes(&self) -> u64 {
        self.tls_full_handshakes + self.tls_resumed_handshakes
    }

    /// RequestPowerStateChange invokes of every value.
    pub fn total_invokes(&self) -> u64 {
        self.invokes.iter().sum()
    }

    /// RequestPowerStateChange invokes with `PowerState` = `value`.
    pub fn invokes_of(&self, value: u16) -> u64 {
        self.invokes.get(usize::from(value)).copied().unwrap_or(0)
    }

    /// The sum of two snapshots (for fleets).
    pub fn sum(self, other: &Self) -> Self {
        let mut invokes = self.invokes;
        for (a, b) in invokes.iter_mut().zip(other.invokes) {
            *a += b;
        }
        Self {
            tcp_connections: self.tcp_connections + other.tcp_connections,
            tls_full_handshakes: self.tls_full_handshakes + other.tls_full_handshakes,
            tls_resumed_handshakes: self.tls_resumed_handshakes + other.tls_resumed_handshakes,
            tls_failed_handshakes: self.tls_failed_handshakes + other.tls_failed_handshakes,
            requests: self.requests + other.requests,
            unauthorized: self.unauthorized + other.unauthorized,
            failed_logins: self.failed_logins + other.failed_logins,
            lockout_refusals: self.lockout_refusals + other.lockout_refusals,
            faults: self.faults + other.faults,
            invokes,
        }
    }
}

impl fmt::Display for CounterSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tcp={} tls_full={} tls_resumed={} tls_failed={} requests={} 401s={} \
             failed_logins={} lockout_refusals={} faults={} invokes={}",
            self.tcp_connections,
            self.tls_full_handshakes,
            self.tls_resumed_handshakes,
            self.tls_failed_handshakes,
            self.requests,
            self.unauthorized,
            self.failed_logins,
            self.lockout_refusals,
            self.faults,
            self.total_invokes()
        )?;
        let by_value: Vec<String> = self
            .invokes
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(value, n)| {
                if value == 0 {
                    format!("other:{n}")
                } else {
                    format!("{value}:{n}")
                }
            })
            .collect();
        if !by_value.is_empty() {
            write!(f, " ({})", by_value.join(" "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invokes_are_counted_by_value_and_out_of_range_values_land_in_slot_0() {
        let counters = Counters::default();
        counters.bump_invoke(8);
        counters.bump_invoke(8);
        counters.bump_invoke(999);
        let snap = counters.snapshot();
        assert_eq!(snap.invokes_of(8), 2);
        assert_eq!(snap.invokes[0], 1);
        assert_eq!(snap.total_invokes(), 3);
        assert!(snap.to_string().contains("8:2"));
        assert_eq!(snap.sum(&snap).invokes_of(8), 4);
    }
}
