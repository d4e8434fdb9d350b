//! What the typed calls return, beyond the types of amt-wsman and amt-power.

use amt_power::PowerState;

/// The host's power state and the changes the device accepts now (Get
/// `CIM_AssociatedPowerManagementService`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerStatus {
    /// `PowerState`: the current state.
    pub power_state: PowerState,
    /// `AvailableRequestedPowerStates`: the `PowerState` values a change may request right now,
    /// in the device's order.
    pub available: Vec<u16>,
    /// `RequestedPowerState`: the last state requested, when the device reports it.
    pub requested: Option<u16>,
}

impl From<amt_wsman::PowerStatus> for PowerStatus {
    fn from(status: amt_wsman::PowerStatus) -> Self {
        Self {
            power_state: PowerState::from_code(status.power_state),
            available: status.available_requested_power_states,
            requested: status.requested_power_state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_become_states_and_unknown_ones_are_kept() {
        let status = PowerStatus::from(amt_wsman::PowerStatus {
            power_state: 8,
            available_requested_power_states: vec![2],
            requested_power_state: Some(8),
        });
        assert_eq!(status.power_state, PowerState::OffSoft);
        assert_eq!(status.available, [2]);
        let odd = PowerStatus::from(amt_wsman::PowerStatus {
            power_state: 42,
            available_requested_power_states: vec![],
            requested_power_state: None,
        });
        assert_eq!(odd.power_state, PowerState::Unrecognized(42));
    }
}
