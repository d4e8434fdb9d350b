//! `power_parse`: `amt-power`'s parsers and code tables on arbitrary input.
//!
//! The input is read twice. As text (lossily decoded, line by line), each line goes through
//! `PowerOperation::from_str`, `AmtVersion::from_str` and `AmtVersion::from_server_header`: what
//! parses must display and parse back to the same value, and errors must quote at most 64
//! characters. As bytes, the first ones are a `PowerState` code, a `ReturnValue` code and the
//! device's `AvailableRequestedPowerStates`: codes must survive the round trip through the
//! enums, and [`availability`] must agree with the product rule it documents.

use std::cmp::Ordering;

use amt_power::{
    AmtVersion, Error, PowerOperation, PowerState, ReturnValue, Unavailable, availability,
};

/// Lines of one input looked at; the rest adds nothing but time.
const MAX_LINES: usize = 16;
/// `AvailableRequestedPowerStates` values taken from one input.
const MAX_OFFERED: usize = 16;
/// How many characters of the input an error may quote.
const QUOTE_LIMIT: usize = 64;
/// The product name that opens AMT's `Server` header.
const SERVER_PREFIX: &str = "Intel(R) Active Management Technology";

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut versions = Vec::new();
    for line in text.lines().take(MAX_LINES) {
        operation(line);
        if let Some(version) = version(line) {
            versions.push(version);
        }
        server_header(line);
    }
    for a in &versions {
        for b in &versions {
            assert_eq!(a.cmp(b), b.cmp(a).reverse(), "ordering of {a} and {b}");
            assert_eq!(
                a == b,
                a.cmp(b) == Ordering::Equal,
                "equality of {a} and {b}"
            );
        }
    }
    codes(data, versions.first());
}

fn operation(line: &str) {
    match line.parse::<PowerOperation>() {
        Ok(operation) => {
            for name in [
                operation.kebab_name().to_owned(),
                operation.label().to_owned(),
                operation.to_string(),
            ] {
                assert_eq!(
                    name.parse(),
                    Ok(operation),
                    "{name:?} must name {operation:?}"
                );
            }
            assert_eq!(
                PowerOperation::from_requested_state(operation.requested_state()),
                Some(operation)
            );
        }
        Err(error) => check_error(&error),
    }
}

fn version(line: &str) -> Option<AmtVersion> {
    match line.parse::<AmtVersion>() {
        Ok(version) => {
            if let Some(rest) = line.trim().strip_prefix(SERVER_PREFIX) {
                check_header_remainder(line, rest, &version);
            }
            let components = version.components();
            assert!((2..=4).contains(&components.len()), "{version:?}");
            assert_eq!(components.first(), Some(&version.major()));
            assert_eq!(components.get(1), Some(&version.minor()));
            assert_eq!(AmtVersion::new(components).as_ref(), Ok(&version));
            assert_eq!(
                version.to_string().parse::<AmtVersion>().as_ref(),
                Ok(&version),
                "a version must parse back from its display"
            );
            assert_eq!(
                AmtVersion::from_server_header(&format!(
                    "Intel(R) Active Management Technology {version}"
                ))
                .as_ref(),
                Ok(&version)
            );
            Some(version)
        }
        Err(error) => {
            check_error(&error);
            None
        }
    }
}

fn server_header(line: &str) {
    match AmtVersion::from_server_header(line) {
        Ok(version) => {
            let rest = line.trim().strip_prefix(SERVER_PREFIX);
            assert!(
                rest.is_some_and(|rest| rest.starts_with(' ')),
                "{line:?} is no Server header, yet it gave {version}"
            );
            check_header_remainder(line, rest.unwrap_or_default(), &version);
            assert_eq!(version.to_string().parse().as_ref(), Ok(&version));
        }
        Err(error) => check_error(&error),
    }
}

/// The product name comes once: what follows it in a header that parses is the dotted version
/// alone (a repeated name once parsed, one level of recursion per repetition).
fn check_header_remainder(line: &str, rest: &str, version: &AmtVersion) {
    assert!(
        rest.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.'),
        "{line:?} has more than a version after the product name, yet it gave {version}"
    );
}

fn check_error(error: &Error) {
    let (Error::UnknownOperation { input: quoted } | Error::InvalidVersion { input: quoted, .. }) =
        error
    else {
        return;
    };
    assert!(
        quoted.chars().count() <= QUOTE_LIMIT,
        "an error quotes {} characters",
        quoted.chars().count()
    );
    assert!(!error.to_string().is_empty());
}

fn codes(data: &[u8], version: Option<&AmtVersion>) {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let state_code = u16::from_le_bytes([byte(0), byte(1)]);
    let return_code = u32::from_le_bytes([byte(0), byte(1), byte(2), byte(3)]);

    let state = PowerState::from_code(state_code);
    assert_eq!(state.code(), state_code);
    assert_eq!(PowerState::from(state_code), state);
    assert!(!state.label().is_empty() && !state.cim_name().is_empty());
    assert!(!state.to_string().is_empty());
    let _ = state.class();

    let value = ReturnValue::from_code(return_code);
    assert_eq!(value.code(), return_code);
    assert_eq!(ReturnValue::from(return_code), value);
    assert_eq!(value.is_accepted(), matches!(return_code, 0 | 4096));
    assert!(!value.meaning().is_empty() && !value.to_string().is_empty());

    if let Some(operation) = PowerOperation::from_requested_state(state_code) {
        assert_eq!(operation.requested_state(), state_code);
    }

    let offered: Vec<u16> = data
        .get(2..)
        .unwrap_or_default()
        .chunks_exact(2)
        .take(MAX_OFFERED)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    let verdicts = availability(state, &offered, version);
    let available: Vec<PowerOperation> = verdicts.available().collect();
    let unavailable: Vec<PowerOperation> = verdicts.unavailable().map(|(op, _)| op).collect();
    assert_eq!(
        available.len() + unavailable.len(),
        PowerOperation::ALL.len()
    );
    for operation in PowerOperation::ALL {
        let too_old = operation
            .minimum_amt_major()
            .is_some_and(|minimum| version.is_none_or(|v| v.major() < minimum));
        let expected = if too_old {
            Some(Unavailable::NeedsAmtVersion {
                minimum_major: operation.minimum_amt_major().unwrap_or_default(),
                actual: version.cloned(),
            })
        } else if !operation.allowed_from(state) {
            Some(Unavailable::NotAllowedInState { state })
        } else if !offered.contains(&operation.requested_state()) {
            Some(Unavailable::NotOfferedByDevice { state })
        } else {
            None
        };
        assert_eq!(
            verdicts.reason(operation),
            expected.as_ref(),
            "{operation:?}"
        );
        assert_eq!(verdicts.is_available(operation), expected.is_none());
        assert_eq!(
            verdicts.check(operation),
            expected.clone().map_or(Ok(()), Err)
        );
        assert_eq!(available.contains(&operation), expected.is_none());
        assert_eq!(unavailable.contains(&operation), expected.is_some());
        if let Some(reason) = &expected {
            assert!(!reason.to_string().is_empty());
        }
    }
}
