//! Property tests for amt-power: parsing inverts display, and no input panics.

use amt_power::{AmtVersion, PowerOperation, PowerState, ReturnValue, availability};
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
