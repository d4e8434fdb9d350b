//! Faults a simulated device can be told to commit, to exercise clients' error paths.

use std::time::Duration;

/// Something going wrong on the device's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long before answering (the request is carried out normally).
    Latency(Duration),
    /// Carry the request out, then close the connection without answering.
    DropConnection,
    /// Never answer (the connection stays open until the client gives up). The request is not
    /// carried out.
    Stall,
    /// Answer HTTP 500 with an empty body, without carrying the request out.
    Http500,
    /// Carry the request out, then answer 200 with a body that is not well-formed XML.
    MalformedXml,
    /// Carry the request out, then answer 200 with a body of this many bytes (well-formed XML
    /// padded with a comment), to test clients' body limits.
    OversizedBody(usize),
    /// Answer with this SOAP fault (HTTP 400) instead of carrying the request out.
    SoapFault(Box<amt_wsman::Fault>),
}

/// Which requests a fault applies to. Faults only ever apply to authenticated requests, so the
/// digest exchange itself is not disturbed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultTarget {
    /// Every authenticated request.
    Everything,
    /// Only RequestPowerStateChange invokes.
    PowerChanges,
    /// Everything but RequestPowerStateChange invokes.
    Reads,
}

/// A fault, the requests it applies to, and how many times it fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// What goes wrong.
    pub fault: Fault,
    /// Which requests it applies to.
    pub target: FaultTarget,
    /// How many times it fires before it is used up; `None` means for ever.
    pub times: Option<u32>,
}

impl FaultRule {
    /// `fault` on every authenticated request, for ever.
    pub fn always(fault: Fault) -> Self {
        Self {
            fault,
            target: FaultTarget::Everything,
            times: None,
        }
    }

    /// `fault` on the next `times` RequestPowerStateChange invokes.
    pub fn on_power_changes(fault: Fault, times: u32) -> Self {
        Self {
            fault,
            target: FaultTarget::PowerChanges,
            times: Some(times),
        }
    }

    /// `fault` on the next `times` requests that are not power changes.
    pub fn on_reads(fault: Fault, times: u32) -> Self {
        Self {
            fault,
            target: FaultTarget::Reads,
            times: Some(times),
        }
    }

    pub(crate) fn applies_to(&self, is_power_change: bool) -> bool {
        match self.target {
            FaultTarget::Everything => true,
            FaultTarget::PowerChanges => is_power_change,
            FaultTarget::Reads => !is_power_change,
        }
    }
}

/// Takes the first rule that applies to a request and uses one of its firings up.
pub(crate) fn take_fault(rules: &mut Vec<FaultRule>, is_power_change: bool) -> Option<Fault> {
    let index = rules
        .iter()
        .position(|rule| rule.applies_to(is_power_change))?;
    let fault = rules[index].fault.clone();
    if let Some(times) = rules[index].times.as_mut() {
        *times = times.saturating_sub(1);
        if *times == 0 {
            rules.remove(index);
        }
    }
    Some(fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_rules_are_used_up_and_targets_respected() {
        let mut rules = vec![FaultRule::on_power_changes(Fault::DropConnection, 1)];
        assert_eq!(take_fault(&mut rules, false), None);
        assert_eq!(take_fault(&mut rules, true), Some(Fault::DropConnection));
        assert_eq!(take_fault(&mut rules, true), None);
        assert!(rules.is_empty());

        let mut rules = vec![FaultRule::always(Fault::Http500)];
        for _ in 0..3 {
            assert_eq!(take_fault(&mut rules, false), Some(Fault::Http500));
        }
        assert_eq!(rules.len(), 1);
    }
}
