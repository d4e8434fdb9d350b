//! The simulator's clock: real time, or a manual clock tests move by hand.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Where a simulated device reads the time for power transitions, nonce expiry and login
/// lockout. Clones share one clock.
#[derive(Debug, Clone)]
pub struct SimClock {
    inner: Arc<ClockInner>,
}

#[derive(Debug)]
enum ClockInner {
    Real { start: Instant },
    Manual { now: Mutex<Duration> },
}

impl Default for SimClock {
    fn default() -> Self {
        Self::real()
    }
}

impl SimClock {
    /// The real monotonic clock.
    pub fn real() -> Self {
        Self {
            inner: Arc::new(ClockInner::Real {
                start: Instant::now(),
            }),
        }
    }

    /// A clock that stands still until [`SimClock::advance`] moves it.
    pub fn manual() -> Self {
        Self {
            inner: Arc::new(ClockInner::Manual {
                now: Mutex::new(Duration::ZERO),
            }),
        }
    }

    /// The time since the clock started.
    pub fn now(&self) -> Duration {
        match &*self.inner {
            ClockInner::Real { start } => start.elapsed(),
            ClockInner::Manual { now } => *now.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Moves a manual clock forward; returns `false` (and does nothing) on the real clock.
    pub fn advance(&self, by: Duration) -> bool {
        match &*self.inner {
            ClockInner::Real { .. } => false,
            ClockInner::Manual { now } => {
                let mut now = now.lock().unwrap_or_else(PoisonError::into_inner);
                *now = now.saturating_add(by);
                true
            }
        }
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        matches!(&*self.inner, ClockInner::Manual { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = SimClock::manual();
        assert_eq!(clock.now(), Duration::ZERO);
        assert!(clock.clone().advance(Duration::from_secs(5)));
        assert_eq!(clock.now(), Duration::from_secs(5));
    }

    #[test]
    fn real_clock_ignores_advance() {
        let clock = SimClock::real();
        assert!(!clock.advance(Duration::from_secs(5)));
        assert!(clock.now() < Duration::from_secs(5));
    }
}
