//! AMT's login back-off, as the firmware documents it: after ten consecutive failed logins every
//! login is refused (the right password too) for 5 s; failures that go on double the period up to
//! 80 s; an hour without failures clears it all.

use std::time::Duration;

/// Consecutive failures that start a lockout.
pub const FAILURES_BEFORE_LOCKOUT: u32 = 10;
/// The first lockout period.
pub const FIRST_LOCKOUT: Duration = Duration::from_secs(5);
/// The longest lockout period.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(80);
/// A failure-free time after which the history is forgotten.
pub const RESET_AFTER: Duration = Duration::from_secs(3600);

/// Per-device login throttle. Time is the device clock's (see [`crate::SimClock`]).
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    consecutive_failures: u32,
    locked_until: Option<Duration>,
    next_lockout: Duration,
    last_failure: Option<Duration>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            consecutive_failures: 0,
            locked_until: None,
            next_lockout: FIRST_LOCKOUT,
            last_failure: None,
        }
    }
}

impl LoginThrottle {
    fn forget_if_quiet(&mut self, now: Duration) {
        if self
            .last_failure
            .is_some_and(|last| now.saturating_sub(last) >= RESET_AFTER)
        {
            *self = Self::default();
        }
    }

    /// How much longer logins are refused, or `None` when they are checked.
    pub fn locked_for(&mut self, now: Duration) -> Option<Duration> {
        self.forget_if_quiet(now);
        self.locked_until
            .filter(|until| *until > now)
            .map(|until| until - now)
    }

    /// Records a failed login at `now` (one that was checked, not refused by a lockout).
    pub fn record_failure(&mut self, now: Duration) {
        self.forget_if_quiet(now);
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.last_failure = Some(now);
        if self.consecutive_failures >= FAILURES_BEFORE_LOCKOUT {
            self.locked_until = Some(now + self.next_lockout);
            self.next_lockout = (self.next_lockout * 2).min(MAX_LOCKOUT);
        }
    }

    /// Records a successful login: the consecutive count starts again (the growing period is
    /// only forgotten after an hour without failures).
    pub fn record_success(&mut self) {
        self.consecutive_failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn fail_n(throttle: &mut LoginThrottle, n: u32, at: Duration) {
        for _ in 0..n {
            throttle.record_failure(at);
        }
    }

    #[test]
    fn nine_failures_do_not_lock_the_tenth_does() {
        let mut throttle = LoginThrottle::default();
        fail_n(&mut throttle, 9, S);
        assert_eq!(throttle.locked_for(S), None);
        throttle.record_failure(S);
        assert_eq!(throttle.locked_for(S), Some(5 * S));
        assert_eq!(
            throttle.locked_for(6 * S - Duration::from_millis(1)),
            Some(Duration::from_millis(1))
        );
        assert_eq!(throttle.locked_for(6 * S), None);
    }

    #[test]
    fn continued_failures_double_the_lockout_up_to_80_s() {
        let mut throttle = LoginThrottle::default();
        fail_n(&mut throttle, 10, Duration::ZERO);
        let mut now = Duration::ZERO;
        let mut seen = Vec::new();
        for _ in 0..6 {
            let period = throttle.locked_for(now).unwrap();
            seen.push(period.as_secs());
            now += period;
            throttle.record_failure(now);
        }
        assert_eq!(seen, [5, 10, 20, 40, 80, 80]);
    }

    #[test]
    fn a_success_restarts_the_count() {
        let mut throttle = LoginThrottle::default();
        fail_n(&mut throttle, 9, S);
        throttle.record_success();
        fail_n(&mut throttle, 9, S);
        assert_eq!(throttle.locked_for(S), None);
    }

    #[test]
    fn an_hour_without_failures_clears_the_history() {
        let mut throttle = LoginThrottle::default();
        fail_n(&mut throttle, 12, Duration::ZERO);
        let later = RESET_AFTER;
        assert_eq!(throttle.locked_for(later), None);
        fail_n(&mut throttle, 10, later);
        assert_eq!(throttle.locked_for(later), Some(FIRST_LOCKOUT));
    }
}
