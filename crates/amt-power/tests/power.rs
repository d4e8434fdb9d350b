//! Property tests for amt-power (parsing inverts display, and no input panics) and the
//! availability rule checked against a table written by hand from DESIGN.md section 2.

use amt_power::{AmtVersion, PowerOperation, PowerState, ReturnValue, Unavailable, availability};
use proptest::prelude::*;

fn any_operation() -> impl Strategy<Value = PowerOperation> {
    proptest::sample::select(PowerOperation::ALL.to_vec())
}

fn any_version() -> impl Strategy<Value = AmtVersion> {
    proptest::collection::vec(any::<u32>(), 2..=4)
        .prop_map(|parts| AmtVersion::new(&parts).expect("two to four parts"))
}

proptest! {
    #[test]
    fn operation_label_and_kebab_name_parse_back(op in any_operation()) {
        prop_assert_eq!(op.to_string().parse::<PowerOperation>(), Ok(op));
        prop_assert_eq!(op.kebab_name().parse::<PowerOperation>(), Ok(op));
        prop_assert_eq!(op.kebab_name().to_uppercase().parse::<PowerOperation>(), Ok(op));
    }

    #[test]
    fn version_display_parses_back(version in any_version()) {
        let text = version.to_string();
        prop_assert_eq!(text.parse::<AmtVersion>(), Ok(version.clone()));
        let header = format!("Intel(R) Active Management Technology {text}");
        prop_assert_eq!(AmtVersion::from_server_header(&header), Ok(version));
    }

    #[test]
    fn version_order_follows_the_numbers(a in any_version(), b in any_version()) {
        let ordering = a.components().cmp(b.components());
        prop_assert_eq!(a.cmp(&b), ordering);
    }

    #[test]
    fn no_string_panics(text in "\\PC*") {
        let _ = text.parse::<PowerOperation>();
        let _ = text.parse::<AmtVersion>();
        let _ = AmtVersion::from_server_header(&text);
    }

    #[test]
    fn version_like_strings_never_panic(text in "[0-9.]{0,40}") {
        if let Ok(v) = text.parse::<AmtVersion>() {
            // Leading zeros are read as numbers ("16.01" is 16.1), so compare values, not text.
            prop_assert_eq!(v.to_string().parse::<AmtVersion>(), Ok(v));
        }
    }

    #[test]
    fn every_u16_state_round_trips(code in any::<u16>()) {
        let state = PowerState::from_code(code);
        prop_assert_eq!(state.code(), code);
        prop_assert!(!state.label().is_empty());
        prop_assert!(!state.to_string().is_empty());
    }

    #[test]
    fn every_u32_return_value_round_trips(code in any::<u32>()) {
        let value = ReturnValue::from_code(code);
        prop_assert_eq!(value.code(), code);
        prop_assert!(!value.meaning().is_empty());
    }

    #[test]
    fn availability_never_panics_and_is_consistent(
        state in any::<u16>(),
        offered in proptest::collection::vec(any::<u16>(), 0..20),
        version in proptest::option::of(any_version()),
    ) {
        let a = availability(PowerState::from_code(state), &offered, version.as_ref());
        for op in PowerOperation::ALL {
            let available = a.is_available(op);
            prop_assert_eq!(available, a.check(op).is_ok());
            if available {
                prop_assert!(offered.contains(&op.requested_state()));
                prop_assert!(op.allowed_from(PowerState::from_code(state)));
                if let Some(minimum) = op.minimum_amt_major() {
                    prop_assert!(version.as_ref().is_some_and(|v| v.major() >= minimum));
                }
            }
        }
        prop_assert_eq!(a.available().count() + a.unavailable().count(), PowerOperation::ALL.len());
    }
}

/// The operations in the order of the tables below.
const OPERATIONS: [PowerOperation; 8] = [
    PowerOperation::PowerOn,
    PowerOperation::PowerOff,
    PowerOperation::GracefulShutdown,
    PowerOperation::Reset,
    PowerOperation::GracefulRestart,
    PowerOperation::PowerCycle,
    PowerOperation::Sleep,
    PowerOperation::Hibernate,
];

/// The PowerState value each operation sends (DESIGN.md, "value" column).
const SENDS: [u16; 8] = [2, 8, 12, 10, 14, 5, 4, 7];

/// DESIGN.md's "allowed when" column for every state read back: `y` where the state permits the
/// operation, `-` where it does not. Power On starts from off, asleep or hibernating; every other
/// operation only from on. Power cycles, resets and interrupts are passing states, not "off".
///
/// Columns: On, Off, Graceful Shutdown, Reset, Graceful Restart, Cycle, Sleep, Hibernate.
const STATE_RULE: [(u16, &str); 20] = [
    (0, "--------"),  // not in the DMTF list
    (1, "--------"),  // other
    (2, "-yyyyyyy"),  // on
    (3, "y-------"),  // sleep - light: asleep
    (4, "y-------"),  // sleep - deep: asleep
    (5, "--------"),  // power cycle (off - soft)
    (6, "y-------"),  // off - hard
    (7, "y-------"),  // hibernate
    (8, "y-------"),  // off - soft
    (9, "--------"),  // power cycle (off - hard)
    (10, "--------"), // master bus reset
    (11, "--------"), // diagnostic interrupt (NMI)
    (12, "y-------"), // off - soft graceful
    (13, "y-------"), // off - hard graceful
    (14, "--------"), // master bus reset graceful
    (15, "--------"), // power cycle (off - soft graceful)
    (16, "--------"), // power cycle (off - hard graceful)
    (17, "--------"), // diagnostic interrupt (INIT)
    (18, "--------"), // not in the DMTF list
    (u16::MAX, "--------"),
];

/// DESIGN.md's "version" column per firmware version: the major version each operation needs and
/// this firmware lacks, 0 where it suffices. Graceful Shutdown needs 9, Graceful Restart, Sleep
/// and Hibernate 10; an unknown version fails every gate.
const VERSION_GATES: [(Option<&str>, [u32; 8]); 8] = [
    (Some("8.0"), [0, 0, 9, 0, 10, 0, 10, 10]),
    (Some("8.99.99.9999"), [0, 0, 9, 0, 10, 0, 10, 10]),
    (Some("9.0"), [0, 0, 0, 0, 10, 0, 10, 10]),
    (Some("9.5.30"), [0, 0, 0, 0, 10, 0, 10, 10]),
    (Some("9.4294967295"), [0, 0, 0, 0, 10, 0, 10, 10]),
    (Some("10.0"), [0, 0, 0, 0, 0, 0, 0, 0]),
    (Some("16.1.25.1917"), [0, 0, 0, 0, 0, 0, 0, 0]),
    (None, [0, 0, 9, 0, 10, 0, 10, 10]),
];

#[test]
fn availability_follows_the_design_tables_for_every_state_operation_and_version() {
    let every_value: Vec<u16> = (0..=20).chain([4096, u16::MAX]).collect();
    let mut checked = 0;
    for (code, rule) in STATE_RULE {
        let state = PowerState::from_code(code);
        for (version_text, gates) in VERSION_GATES {
            let version = version_text.map(|v| v.parse::<AmtVersion>().expect("valid version"));
            for (i, operation) in OPERATIONS.into_iter().enumerate() {
                let all_but_this: Vec<u16> = every_value
                    .iter()
                    .copied()
                    .filter(|value| *value != SENDS[i])
                    .collect();
                for (offered, offers_it) in [(&every_value, true), (&all_but_this, false)] {
                    // The documented order of reasons: version, then state, then the device.
                    let expected = if gates[i] != 0 {
                        Some(Unavailable::NeedsAmtVersion {
                            minimum_major: gates[i],
                            actual: version.clone(),
                        })
                    } else if rule.as_bytes()[i] != b'y' {
                        Some(Unavailable::NotAllowedInState { state })
                    } else if !offers_it {
                        Some(Unavailable::NotOfferedByDevice { state })
                    } else {
                        None
                    };
                    let verdicts = availability(state, offered, version.as_ref());
                    assert_eq!(
                        verdicts.reason(operation),
                        expected.as_ref(),
                        "{operation:?} from state {code}, AMT {version_text:?}, offered it: {offers_it}"
                    );
                    assert_eq!(
                        verdicts.available().any(|op| op == operation),
                        expected.is_none()
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 20 * 8 * 8 * 2);
}

#[test]
fn the_device_list_refuses_what_the_rule_allows() {
    use PowerOperation::*;
    // On, AMT 16: the rule allows all but Power On; the device offers only reset and power off
    // (as it does while the OS agent is not running, minus power cycle).
    let version: AmtVersion = "16.1.25".parse().expect("valid version");
    let verdicts = availability(PowerState::On, &[10, 8], Some(&version));
    assert_eq!(verdicts.available().collect::<Vec<_>>(), [PowerOff, Reset]);
    for operation in [
        GracefulShutdown,
        GracefulRestart,
        PowerCycle,
        Sleep,
        Hibernate,
    ] {
        assert_eq!(
            verdicts.reason(operation),
            Some(&Unavailable::NotOfferedByDevice {
                state: PowerState::On
            }),
            "{operation:?}"
        );
    }
    // Off: the device offering 8 and 10 does not make Power Off or Reset available, and
    // Power On is refused because the device does not list 2.
    let verdicts = availability(PowerState::OffSoft, &[8, 10], Some(&version));
    assert_eq!(verdicts.available().count(), 0);
    assert_eq!(
        verdicts.reason(PowerOn),
        Some(&Unavailable::NotOfferedByDevice {
            state: PowerState::OffSoft
        })
    );
    assert_eq!(
        verdicts.reason(Reset),
        Some(&Unavailable::NotAllowedInState {
            state: PowerState::OffSoft
        })
    );
}
