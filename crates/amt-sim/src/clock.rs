//! The simulator's clock: real time, or a manual clock tests move by hand.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Where a simulated device reads the time for power transitions, nonce expiry, login lockout
/// and injected latency. Clones share one clock.
#[derive(Debug, Clone)]
pub struct SimClock {
    inner: Arc<ClockInner>,
}

#[derive(Debug)]
enum ClockInner {
    Real {
        start: Instant,
    },
    Manual {
        now: Mutex<Duration>,
        /// Wakes the sleepers of [`SimClock::sleep`] when the clock moves.
        moved: Notify,
    },
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
                moved: Notify::new(),
            }),
        }
    }

    /// The time since the clock started.
    pub fn now(&self) -> Duration {
        match &*self.inner {
            ClockInner::Real { start } => start.elapsed(),
            ClockInner::Manual { now, .. } => *now.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Moves a manual clock forward; returns `false` (and does nothing) on the real clock.
    pub fn advance(&self, by: Duration) -> bool {
        match &*self.inner {
            ClockInner::Real { .. } => false,
            ClockInner::Manual { now, moved } => {
                {
                    let mut now = now.lock().unwrap_or_else(PoisonError::into_inner);
                    *now = now.saturating_add(by);
                }
                moved.notify_waiters();
                true
            }
        }
    }

    /// Waits until the clock has moved on by `by`: real time on the real clock; on a manual
    /// clock, until [`SimClock::advance`] has moved it that far.
    pub async fn sleep(&self, by: Duration) {
        match &*self.inner {
            ClockInner::Real { .. } => tokio::time::sleep(by).await,
            ClockInner::Manual { moved, .. } => {
                let until = self.now().saturating_add(by);
                loop {
                    // Registered before the check, so an advance in between is not missed.
                    let notified = moved.notified();
                    if self.now() >= until {
                        return;
                    }
                    notified.await;
                }
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

    #[tokio::test]
    async fn sleeping_on_a_manual_clock_ends_when_it_has_moved_far_enough() {
        let clock = SimClock::manual();
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep(Duration::from_secs(5)).await }
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        clock.advance(Duration::from_secs(4));
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!sleeper.is_finished(), "4 s of 5 have passed");
        clock.advance(Duration::from_secs(1));
        sleeper.await.unwrap();
        // Sleeping for nothing returns at once.
        clock.sleep(Duration::ZERO).await;
    }

    #[test]
    fn real_clock_ignores_advance() {
        let clock = SimClock::real();
        assert!(!clock.advance(Duration::from_secs(5)));
        assert!(clock.now() < Duration::from_secs(5));
    }
}
