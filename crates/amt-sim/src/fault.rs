//! Faults a simulated device can be told to commit, to exercise clients' error paths.

use std::time::Duration;

/// Something going wrong on the device's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long before answering, on the device's [`SimClock`](crate::SimClock). Latency
    /// adds to whatever else is injected: the request is then carried out (or the other fault
    /// committed) as usual.
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

/// What is injected into one request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Injected {
    /// The sum of the latency rules that apply.
    pub(crate) latency: Duration,
    /// The first other rule that applies.
    pub(crate) fault: Option<Fault>,
    /// How many rules fired.
    pub(crate) fired: u64,
}

/// Uses one firing of every latency rule that applies to a request, and of the first other
/// rule that applies: latency adds to any other fault rather than hiding it.
pub(crate) fn take_faults(rules: &mut Vec<FaultRule>, is_power_change: bool) -> Injected {
    let mut injected = Injected::default();
    rules.retain_mut(|rule| {
        if !rule.applies_to(is_power_change) {
            return true;
        }
        match &rule.fault {
            Fault::Latency(delay) => {
                injected.latency = injected.latency.saturating_add(*delay);
            }
            _ if injected.fault.is_some() => return true,
            other => injected.fault = Some(other.clone()),
        }
        injected.fired += 1;
        match rule.times.as_mut() {
            Some(times) => {
                *times = times.saturating_sub(1);
                *times > 0
            }
            None => true,
        }
    });
    injected
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_rules_are_used_up_and_targets_respected() {
        let mut rules = vec![FaultRule::on_power_changes(Fault::DropConnection, 1)];
        assert_eq!(take_faults(&mut rules, false).fault, None);
        assert_eq!(
            take_faults(&mut rules, true).fault,
            Some(Fault::DropConnection)
        );
        assert_eq!(take_faults(&mut rules, true), Injected::default());
        assert!(rules.is_empty());

        let mut rules = vec![FaultRule::always(Fault::Http500)];
        for _ in 0..3 {
            assert_eq!(take_faults(&mut rules, false).fault, Some(Fault::Http500));
        }
        assert_eq!(rules.len(), 1);
    }

    #[test]
    fn latency_adds_to_the_first_other_fault() {
        let ms = Duration::from_millis;
        let mut rules = vec![
            FaultRule::always(Fault::Latency(ms(30))),
            FaultRule::on_reads(Fault::Http500, 1),
            FaultRule::on_reads(Fault::Latency(ms(5)), 2),
            FaultRule::on_reads(Fault::MalformedXml, 1),
        ];
        assert_eq!(
            take_faults(&mut rules, false),
            Injected {
                latency: ms(35),
                fault: Some(Fault::Http500),
                fired: 3
            }
        );
        // The malformed-XML rule waited its turn; the counted latency is used up next.
        assert_eq!(
            take_faults(&mut rules, false),
            Injected {
                latency: ms(35),
                fault: Some(Fault::MalformedXml),
                fired: 3
            }
        );
        assert_eq!(
            take_faults(&mut rules, false),
            Injected {
                latency: ms(30),
                fault: None,
                fired: 1
            }
        );
        assert_eq!(rules, [FaultRule::always(Fault::Latency(ms(30)))]);
        // Power changes see only the rules for everything.
        assert_eq!(take_faults(&mut rules, true).latency, ms(30));
    }
}
