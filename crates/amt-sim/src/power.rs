//! The simulated platform's power state machine.
//!
//! It answers `AvailableRequestedPowerStates` the way devices report it and carries out accepted
//! changes after a delay, passing through transitional states, so that clients see what they would
//! see on hardware: the change is not instant, and `ReturnValue` 0 does not prove it happened.

use std::time::Duration;

use amt_power::{PowerClass, PowerState, ReturnValue};

/// How long accepted changes take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Power on, power off, reset, power cycle, NMI: default 2 s.
    pub change_delay: Duration,
    /// Graceful shutdown, graceful restart, sleep, hibernate (the OS takes its time): default 6 s.
    pub graceful_delay: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            change_delay: Duration::from_secs(2),
            graceful_delay: Duration::from_secs(6),
        }
    }
}

/// What the simulated platform is doing, and what it will do next.
#[derive(Debug, Clone)]
pub struct PowerModel {
    state: PowerState,
    /// The firmware's major version: graceful shutdown (12) is offered from AMT 9, graceful
    /// restart, sleep and hibernate (14, 4, 7) from AMT 10. Default 16.
    pub amt_major_version: u32,
    /// The OS agent (Intel LMS) runs, which the graceful operations need.
    pub lms: bool,
    /// A redirection (KVM, SOL, IDE-R) session is open: power off and power cycle are refused.
    pub redirection_session: bool,
    /// Firmware quirk: graceful operations without LMS answer 0 and do nothing.
    pub graceful_noop_without_lms: bool,
    /// How long changes take.
    pub timing: Timing,
    /// Steps still to come: at the given time, the state becomes the given one.
    schedule: Vec<(Duration, PowerState)>,
}

/// The values a device offers while on, without the OS agent.
const ON_WITHOUT_LMS: [u16; 4] = [10, 8, 5, 11];
/// The values a device additionally offers while on with the OS agent running, with the AMT
/// major version each needs.
const OS_ASSISTED: [(u16, u32); 4] = [(4, 10), (7, 10), (12, 9), (14, 10)];

impl PowerModel {
    /// A platform in `state`, with or without the OS agent.
    pub fn new(state: PowerState, lms: bool) -> Self {
        Self {
            state,
            amt_major_version: 16,
            lms,
            redirection_session: false,
            graceful_noop_without_lms: false,
            timing: Timing::default(),
            schedule: Vec::new(),
        }
    }

    /// Applies the steps due by `now`.
    pub fn advance(&mut self, now: Duration) {
        while let Some(&(at, next)) = self.schedule.first() {
            if at > now {
                break;
            }
            self.state = next;
            self.schedule.remove(0);
        }
    }

    /// The current state at `now`.
    pub fn state(&mut self, now: Duration) -> PowerState {
        self.advance(now);
        self.state
    }

    /// Forces a state at once, dropping any change in progress (for tests and scenarios).
    pub fn set_state(&mut self, state: PowerState) {
        self.schedule.clear();
        self.state = state;
    }

    /// Whether a change is still being carried out at `now`.
    pub fn is_changing(&mut self, now: Duration) -> bool {
        self.advance(now);
        !self.schedule.is_empty()
    }

    /// `AvailableRequestedPowerStates` at `now`, as AMT reports it: `[2]` when off, asleep or
    /// hibernating; `[10, 8, 5, 11]` when on, plus `[4, 7, 12, 14]` with the OS agent as far as
    /// the firmware has them (12 from AMT 9, the others from AMT 10); nothing while a change is
    /// in progress or in a transitional state.
    pub fn available(&mut self, now: Duration) -> Vec<u16> {
        if self.is_changing(now) {
            return Vec::new();
        }
        match self.state.class() {
            PowerClass::Off | PowerClass::Sleeping => vec![2],
            PowerClass::On => {
                let mut values = ON_WITHOUT_LMS.to_vec();
                if self.lms {
                    values.extend(
                        OS_ASSISTED
                            .iter()
                            .filter(|(_, since)| self.amt_major_version >= *since)
                            .map(|(value, _)| value),
                    );
                }
                values
            }
            PowerClass::Transitional | PowerClass::Unknown => Vec::new(),
        }
    }

    /// Handles `RequestPowerStateChange(value)` at `now` and answers its `ReturnValue`.
    pub fn request(&mut self, value: u16, now: Duration) -> ReturnValue {
        if !(1..=17).contains(&value) {
            return ReturnValue::InvalidParameter;
        }
        let available = self.available(now);
        let os_assisted = OS_ASSISTED.iter().any(|(assisted, _)| *assisted == value);
        if os_assisted
            && !self.lms
            && self.graceful_noop_without_lms
            && self.state == PowerState::On
        {
            return ReturnValue::Completed;
        }
        if !available.contains(&value) {
            return ReturnValue::UnknownOrUnspecified;
        }
        if self.redirection_session && matches!(value, 5 | 8) {
            return ReturnValue::UnknownOrUnspecified;
        }
        let quick = self.timing.change_delay;
        let slow = self.timing.graceful_delay;
        let half = |d: Duration| now + d / 2;
        self.schedule = match value {
            2 => vec![(now + quick, PowerState::On)],
            8 => vec![(now + quick, PowerState::OffSoft)],
            10 => vec![
                (now, PowerState::MasterBusReset),
                (now + quick, PowerState::On),
            ],
            5 => vec![
                (now, PowerState::PowerCycleOffSoft),
                (now + quick, PowerState::On),
            ],
            11 => vec![
                (now, PowerState::DiagnosticInterruptNmi),
                (now + quick, PowerState::On),
            ],
            12 => vec![(now + slow, PowerState::OffSoft)],
            14 => vec![
                (half(slow), PowerState::MasterBusResetGraceful),
                (now + slow, PowerState::On),
            ],
            4 => vec![(now + slow, PowerState::SleepDeep)],
            7 => vec![(now + slow, PowerState::Hibernate)],
            _ => return ReturnValue::UnknownOrUnspecified,
        };
        self.advance(now);
        ReturnValue::Completed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn available_states_match_what_devices_report() {
        assert_eq!(PowerModel::new(PowerState::OffSoft, true).available(S), [2]);
        assert_eq!(
            PowerModel::new(PowerState::SleepDeep, true).available(S),
            [2]
        );
        assert_eq!(
            PowerModel::new(PowerState::On, false).available(S),
            [10, 8, 5, 11]
        );
        assert_eq!(
            PowerModel::new(PowerState::On, true).available(S),
            [10, 8, 5, 11, 4, 7, 12, 14]
        );
    }

    #[test]
    fn graceful_states_follow_the_firmware_version() {
        let on_with_lms = |major| {
            let mut model = PowerModel::new(PowerState::On, true);
            model.amt_major_version = major;
            model
        };
        assert_eq!(on_with_lms(8).available(S), [10, 8, 5, 11]);
        assert_eq!(on_with_lms(9).available(S), [10, 8, 5, 11, 12]);
        assert_eq!(on_with_lms(10).available(S), [10, 8, 5, 11, 4, 7, 12, 14]);
        let mut nine = on_with_lms(9);
        assert_eq!(nine.request(14, S), ReturnValue::UnknownOrUnspecified);
        assert_eq!(nine.request(4, S), ReturnValue::UnknownOrUnspecified);
        assert_eq!(nine.request(12, S), ReturnValue::Completed);
        assert_eq!(
            on_with_lms(8).request(12, S),
            ReturnValue::UnknownOrUnspecified
        );
    }

    #[test]
    fn power_off_takes_the_change_delay() {
        let mut model = PowerModel::new(PowerState::On, false);
        assert_eq!(model.request(8, S), ReturnValue::Completed);
        assert_eq!(model.state(S), PowerState::On);
        assert!(model.available(S).is_empty());
        assert_eq!(model.state(3 * S), PowerState::OffSoft);
        assert_eq!(model.available(3 * S), [2]);
    }

    #[test]
    fn reset_passes_through_a_transitional_state() {
        let mut model = PowerModel::new(PowerState::On, false);
        assert_eq!(model.request(10, S), ReturnValue::Completed);
        assert_eq!(model.state(S), PowerState::MasterBusReset);
        assert_eq!(model.state(3 * S), PowerState::On);
    }

    #[test]
    fn graceful_restart_is_slower_and_returns_on() {
        let mut model = PowerModel::new(PowerState::On, true);
        assert_eq!(model.request(14, S), ReturnValue::Completed);
        assert_eq!(model.state(2 * S), PowerState::On);
        assert_eq!(model.state(5 * S), PowerState::MasterBusResetGraceful);
        assert_eq!(model.state(7 * S), PowerState::On);
        assert!(!model.is_changing(7 * S));
    }

    #[test]
    fn unavailable_transitions_answer_2() {
        let mut model = PowerModel::new(PowerState::OffSoft, true);
        assert_eq!(model.request(8, S), ReturnValue::UnknownOrUnspecified);
        let mut model = PowerModel::new(PowerState::On, false);
        assert_eq!(model.request(12, S), ReturnValue::UnknownOrUnspecified);
        assert_eq!(model.request(99, S), ReturnValue::InvalidParameter);
        assert_eq!(model.request(0, S), ReturnValue::InvalidParameter);
    }

    #[test]
    fn a_redirection_session_blocks_off_and_cycle_but_not_reset() {
        let mut model = PowerModel::new(PowerState::On, false);
        model.redirection_session = true;
        assert_eq!(model.request(8, S), ReturnValue::UnknownOrUnspecified);
        assert_eq!(model.request(5, S), ReturnValue::UnknownOrUnspecified);
        assert_eq!(model.request(10, S), ReturnValue::Completed);
    }

    #[test]
    fn the_graceful_quirk_answers_0_and_does_nothing() {
        let mut model = PowerModel::new(PowerState::On, false);
        model.graceful_noop_without_lms = true;
        assert_eq!(model.request(12, S), ReturnValue::Completed);
        assert_eq!(model.state(100 * S), PowerState::On);
    }

    #[test]
    fn a_second_request_during_a_change_is_refused() {
        let mut model = PowerModel::new(PowerState::On, false);
        assert_eq!(model.request(8, S), ReturnValue::Completed);
        assert_eq!(model.request(10, S), ReturnValue::UnknownOrUnspecified);
    }
}
