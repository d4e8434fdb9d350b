//! `amt-power`: Intel AMT power operations and power states, as the product understands them.
//!
//! Everything here is pure: no I/O, no clock, no randomness. The crate answers four questions.
//!
//! - Which CIM `PowerState` value does an operation send? [`PowerOperation::requested_state`]
//! - What does a `PowerState` value read back mean? [`PowerState`], [`PowerClass`]
//! - Which operations are available right now, and why not the others? [`availability`]
//! - What did `RequestPowerStateChange` answer? [`ReturnValue`]
//!
//! It also parses Intel AMT firmware versions ([`AmtVersion`]), which gate the graceful operations.
//!
//! # Example
//!
//! ```
//! use amt_power::{availability, AmtVersion, PowerOperation, PowerState, Unavailable};
//!
//! // An AMT 9 workstation that is on, with the OS agent (LMS) running: the device offers
//! // reset (10), power off (8), power cycle (5), NMI (11), sleep (4), hibernate (7) and the
//! // graceful states 12 and 14.
//! let version: AmtVersion = "9.5.30".parse()?;
//! let state = PowerState::from_code(2);
//! let offered = [10, 8, 5, 11, 4, 7, 12, 14];
//! let avail = availability(state, &offered, Some(&version));
//!
//! assert!(avail.is_available(PowerOperation::GracefulShutdown)); // AMT 9+ suffices
//! assert_eq!(
//!     avail.reason(PowerOperation::GracefulRestart),
//!     Some(&Unavailable::NeedsAmtVersion { minimum_major: 10, actual: Some(version.clone()) })
//! );
//! assert_eq!(
//!     avail.reason(PowerOperation::PowerOn),
//!     Some(&Unavailable::NotAllowedInState { state })
//! );
//!
//! // Operators type aliases and kebab-case names; people read labels.
//! let op: PowerOperation = "restart".parse()?;
//! assert_eq!(op, PowerOperation::Reset);
//! assert_eq!(op.to_string(), "Reset");
//! assert_eq!(op.requested_state(), 10);
//! # Ok::<(), amt_power::Error>(())
//! ```
//!
//! # Specifications
//!
//! - DMTF DSP1027 (Power State Management Profile) and the CIM schema's `CIM_PowerManagementService`
//!   `RequestPowerStateChange` method: the `PowerState` and `ReturnValue` value maps.
//! - Intel AMT Implementation and Reference Guide, "Change System Power State".
//!
//! Deviations and product rules: an operation is *available* only when the product rule (the state
//! it may start from, the AMT version it needs) allows it **and** the device lists its value in
//! `AvailableRequestedPowerStates`. Graceful Shutdown needs AMT 9 or later; Graceful Restart, Sleep
//! and Hibernate need AMT 10 or later. An unknown firmware version makes those unavailable rather
//! than guessing. Unknown `PowerState` and `ReturnValue` codes are kept, never dropped.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The error type of this crate: input that is not an operation or a version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text names no power operation; the message lists the valid names.
    #[error(
        "unknown power operation {input:?}; valid operations: {}",
        PowerOperation::valid_names()
    )]
    UnknownOperation {
        /// The text that was given (shortened to 64 characters).
        input: String,
    },
    /// The text is not an Intel AMT version such as `16.1.25` or `16.1.25.1917`.
    #[error("invalid Intel AMT version {input:?}: {reason}")]
    InvalidVersion {
        /// The text that was given (shortened to 64 characters).
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Keeps error messages short when the input is hostile or huge.
fn shortened(input: &str) -> String {
    input.chars().take(64).collect()
}

/// A power operation the product can run on a workstation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PowerOperation {
    /// Power On (alias Start): turns an off, sleeping or hibernating workstation on. Sends 2.
    PowerOn,
    /// Power Off (alias Stop): cuts power without asking the operating system. Sends 8.
    PowerOff,
    /// Graceful Shutdown: asks the operating system to shut down (needs the OS agent, AMT 9+). Sends 12.
    GracefulShutdown,
    /// Reset (alias Restart): a hardware reset (master bus reset). Sends 10.
    Reset,
    /// Graceful Restart: asks the operating system to restart (needs the OS agent, AMT 10+). Sends 14.
    GracefulRestart,
    /// Power Cycle: off, then on again, without asking the operating system. Sends 5.
    PowerCycle,
    /// Sleep: asks the operating system to enter S3 (needs the OS agent, AMT 10+). Sends 4.
    Sleep,
    /// Hibernate: asks the operating system to enter S4 (needs the OS agent, AMT 10+). Sends 7.
    Hibernate,
}

impl PowerOperation {
    /// Every operation, in the order the product lists them.
    pub const ALL: [Self; 8] = [
        Self::PowerOn,
        Self::PowerOff,
        Self::GracefulShutdown,
        Self::Reset,
        Self::GracefulRestart,
        Self::PowerCycle,
        Self::Sleep,
        Self::Hibernate,
    ];

    /// The CIM `PowerState` value `RequestPowerStateChange` sends for this operation.
    pub const fn requested_state(self) -> u16 {
        match self {
            Self::PowerOn => 2,
            Self::PowerOff => 8,
            Self::GracefulShutdown => 12,
            Self::Reset => 10,
            Self::GracefulRestart => 14,
            Self::PowerCycle => 5,
            Self::Sleep => 4,
            Self::Hibernate => 7,
        }
    }

    /// The operation that sends `code`, if the product has one.
    pub fn from_requested_state(code: u16) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.requested_state() == code)
    }

    /// The label people read: "Power On", "Graceful Restart", ...
    pub const fn label(self) -> &'static str {
        match self {
            Self::PowerOn => "Power On",
            Self::PowerOff => "Power Off",
            Self::GracefulShutdown => "Graceful Shutdown",
            Self::Reset => "Reset",
            Self::GracefulRestart => "Graceful Restart",
            Self::PowerCycle => "Power Cycle",
            Self::Sleep => "Sleep",
            Self::Hibernate => "Hibernate",
        }
    }

    /// The kebab-case name scripts use: "power-on", "graceful-restart", ...
    pub const fn kebab_name(self) -> &'static str {
        match self {
            Self::PowerOn => "power-on",
            Self::PowerOff => "power-off",
            Self::GracefulShutdown => "graceful-shutdown",
            Self::Reset => "reset",
            Self::GracefulRestart => "graceful-restart",
            Self::PowerCycle => "power-cycle",
            Self::Sleep => "sleep",
            Self::Hibernate => "hibernate",
        }
    }

    /// The major AMT version this operation needs, if it is gated.
    pub const fn minimum_amt_major(self) -> Option<u32> {
        match self {
            Self::GracefulShutdown => Some(9),
            Self::GracefulRestart | Self::Sleep | Self::Hibernate => Some(10),
            Self::PowerOn | Self::PowerOff | Self::Reset | Self::PowerCycle => None,
        }
    }

    /// Whether the operation asks the operating system, which needs the OS agent (Intel LMS).
    pub const fn needs_os_agent(self) -> bool {
        matches!(
            self,
            Self::GracefulShutdown | Self::GracefulRestart | Self::Sleep | Self::Hibernate
        )
    }

    /// The product rule for the state an operation may start from: Power On from off, asleep or
    /// hibernating; every other operation only when the workstation is on.
    pub fn allowed_from(self, state: PowerState) -> bool {
        match self {
            Self::PowerOn => matches!(state.class(), PowerClass::Off | PowerClass::Sleeping),
            _ => state.class() == PowerClass::On,
        }
    }

    /// The valid names for [`FromStr`], comma-separated, for error messages and help texts.
    pub fn valid_names() -> String {
        let mut names: Vec<&str> = Self::ALL.iter().map(|op| op.kebab_name()).collect();
        names.extend(ALIASES.iter().map(|(alias, _)| *alias));
        names.join(", ")
    }
}

/// Short names operators use for the first three operations.
const ALIASES: [(&str, PowerOperation); 5] = [
    ("start", PowerOperation::PowerOn),
    ("stop", PowerOperation::PowerOff),
    ("restart", PowerOperation::Reset),
    ("on", PowerOperation::PowerOn),
    ("off", PowerOperation::PowerOff),
];

impl fmt::Display for PowerOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for PowerOperation {
    type Err = Error;

    /// Accepts kebab-case names (`graceful-restart`), labels (`Graceful Restart`), snake case and
    /// the aliases `start`, `stop`, `restart`, `on` and `off`, ignoring case.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let normalised: String = input
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '_' => '-',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        Self::ALL
            .into_iter()
            .find(|op| op.kebab_name() == normalised)
            .or_else(|| {
                ALIASES
                    .iter()
                    .find(|(alias, _)| *alias == normalised)
                    .map(|(_, op)| *op)
            })
            .ok_or_else(|| Error::UnknownOperation {
                input: shortened(input),
            })
    }
}

/// The broad class of a power state, for rules and summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PowerClass {
    /// Fully on (S0).
    On,
    /// Off, soft or hard (S5, G3).
    Off,
    /// Asleep or hibernating (S3, S4).
    Sleeping,
    /// Passing between states: resetting, power cycling, interrupted.
    Transitional,
    /// "Other" or a value the product does not know.
    Unknown,
}

/// A CIM `PowerState` value as read back from `CIM_AssociatedPowerManagementService`.
///
/// Every `u16` converts; values the DMTF list does not name are kept as [`PowerState::Unrecognized`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PowerState {
    /// 1: Other.
    Other,
    /// 2: On.
    On,
    /// 3: Sleep - Light.
    SleepLight,
    /// 4: Sleep - Deep.
    SleepDeep,
    /// 5: Power Cycle (Off - Soft).
    PowerCycleOffSoft,
    /// 6: Off - Hard.
    OffHard,
    /// 7: Hibernate (Off - Soft).
    Hibernate,
    /// 8: Off - Soft.
    OffSoft,
    /// 9: Power Cycle (Off - Hard).
    PowerCycleOffHard,
    /// 10: Master Bus Reset.
    MasterBusReset,
    /// 11: Diagnostic Interrupt (NMI).
    DiagnosticInterruptNmi,
    /// 12: Off - Soft Graceful.
    OffSoftGraceful,
    /// 13: Off - Hard Graceful.
    OffHardGraceful,
    /// 14: Master Bus Reset Graceful.
    MasterBusResetGraceful,
    /// 15: Power Cycle (Off - Soft Graceful).
    PowerCycleOffSoftGraceful,
    /// 16: Power Cycle (Off - Hard Graceful).
    PowerCycleOffHardGraceful,
    /// 17: Diagnostic Interrupt (INIT).
    DiagnosticInterruptInit,
    /// A value the DMTF list does not name (0, 18 and above), kept as read.
    Unrecognized(u16),
}

impl PowerState {
    /// The state for a CIM code; never fails.
    pub const fn from_code(code: u16) -> Self {
        match code {
            1 => Self::Other,
            2 => Self::On,
            3 => Self::SleepLight,
            4 => Self::SleepDeep,
            5 => Self::PowerCycleOffSoft,
            6 => Self::OffHard,
            7 => Self::Hibernate,
            8 => Self::OffSoft,
            9 => Self::PowerCycleOffHard,
            10 => Self::MasterBusReset,
            11 => Self::DiagnosticInterruptNmi,
            12 => Self::OffSoftGraceful,
            13 => Self::OffHardGraceful,
            14 => Self::MasterBusResetGraceful,
            15 => Self::PowerCycleOffSoftGraceful,
            16 => Self::PowerCycleOffHardGraceful,
            17 => Self::DiagnosticInterruptInit,
            other => Self::Unrecognized(other),
        }
    }

    /// The CIM code; `PowerState::from_code(s.code()) == s` for every state.
    pub const fn code(self) -> u16 {
        match self {
            Self::Other => 1,
            Self::On => 2,
            Self::SleepLight => 3,
            Self::SleepDeep => 4,
            Self::PowerCycleOffSoft => 5,
            Self::OffHard => 6,
            Self::Hibernate => 7,
            Self::OffSoft => 8,
            Self::PowerCycleOffHard => 9,
            Self::MasterBusReset => 10,
            Self::DiagnosticInterruptNmi => 11,
            Self::OffSoftGraceful => 12,
            Self::OffHardGraceful => 13,
            Self::MasterBusResetGraceful => 14,
            Self::PowerCycleOffSoftGraceful => 15,
            Self::PowerCycleOffHardGraceful => 16,
            Self::DiagnosticInterruptInit => 17,
            Self::Unrecognized(code) => code,
        }
    }

    /// The DMTF name of the value ("Off - Soft Graceful"), or "Unknown" for unrecognised codes.
    pub const fn cim_name(self) -> &'static str {
        match self {
            Self::Other => "Other",
            Self::On => "On",
            Self::SleepLight => "Sleep - Light",
            Self::SleepDeep => "Sleep - Deep",
            Self::PowerCycleOffSoft => "Power Cycle (Off - Soft)",
            Self::OffHard => "Off - Hard",
            Self::Hibernate => "Hibernate (Off - Soft)",
            Self::OffSoft => "Off - Soft",
            Self::PowerCycleOffHard => "Power Cycle (Off - Hard)",
            Self::MasterBusReset => "Master Bus Reset",
            Self::DiagnosticInterruptNmi => "Diagnostic Interrupt (NMI)",
            Self::OffSoftGraceful => "Off - Soft Graceful",
            Self::OffHardGraceful => "Off - Hard Graceful",
            Self::MasterBusResetGraceful => "Master Bus Reset Graceful",
            Self::PowerCycleOffSoftGraceful => "Power Cycle (Off - Soft Graceful)",
            Self::PowerCycleOffHardGraceful => "Power Cycle (Off - Hard Graceful)",
            Self::DiagnosticInterruptInit => "Diagnostic Interrupt (INIT)",
            Self::Unrecognized(_) => "Unknown",
        }
    }

    /// A short label for people, used in messages such as "... while the workstation is off".
    pub const fn label(self) -> &'static str {
        match self {
            Self::On => "on",
            Self::OffHard | Self::OffSoft | Self::OffSoftGraceful | Self::OffHardGraceful => "off",
            Self::SleepLight | Self::SleepDeep => "asleep",
            Self::Hibernate => "hibernating",
            Self::MasterBusReset | Self::MasterBusResetGraceful => "resetting",
            Self::PowerCycleOffSoft
            | Self::PowerCycleOffHard
            | Self::PowerCycleOffSoftGraceful
            | Self::PowerCycleOffHardGraceful => "power cycling",
            Self::DiagnosticInterruptNmi | Self::DiagnosticInterruptInit => "interrupted",
            Self::Other => "in another state",
            Self::Unrecognized(_) => "in an unknown state",
        }
    }

    /// The broad class of the state.
    pub const fn class(self) -> PowerClass {
        match self {
            Self::On => PowerClass::On,
            Self::OffHard | Self::OffSoft | Self::OffSoftGraceful | Self::OffHardGraceful => {
                PowerClass::Off
            }
            Self::SleepLight | Self::SleepDeep | Self::Hibernate => PowerClass::Sleeping,
            Self::PowerCycleOffSoft
            | Self::PowerCycleOffHard
            | Self::MasterBusReset
            | Self::DiagnosticInterruptNmi
            | Self::MasterBusResetGraceful
            | Self::PowerCycleOffSoftGraceful
            | Self::PowerCycleOffHardGraceful
            | Self::DiagnosticInterruptInit => PowerClass::Transitional,
            Self::Other | Self::Unrecognized(_) => PowerClass::Unknown,
        }
    }
}

impl From<u16> for PowerState {
    fn from(code: u16) -> Self {
        Self::from_code(code)
    }
}

impl fmt::Display for PowerState {
    /// The short label, with the code for states the product does not know.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unrecognized(code) => write!(f, "in an unknown state (code {code})"),
            other => f.write_str(other.label()),
        }
    }
}

/// An Intel AMT firmware version: `16.1.25`, `16.1.25.1917` or `11.8`.
///
/// It keeps the number of components it was written with, so it displays as it was parsed.
/// Ordering compares the components numerically; a shorter version sorts before a longer one with
/// the same leading components (`11.8` < `11.8.0`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AmtVersion {
    parts: [u32; 4],
    len: u8,
}

/// The prefix of the HTTP `Server` header AMT sends on every response.
const SERVER_HEADER_PREFIX: &str = "Intel(R) Active Management Technology";

impl AmtVersion {
    /// A version from its components (two to four of them).
    pub fn new(components: &[u32]) -> Result<Self, Error> {
        if !(2..=4).contains(&components.len()) {
            return Err(Error::InvalidVersion {
                input: format!("{components:?}"),
                reason: "a version has two to four components",
            });
        }
        let mut parts = [0; 4];
        parts[..components.len()].copy_from_slice(components);
        Ok(Self {
            parts,
            len: components.len() as u8,
        })
    }

    /// Parses the version from an HTTP `Server` header value,
    /// `Intel(R) Active Management Technology 12.0.45.1509`.
    ///
    /// The product name comes once, then the version: a value that repeats the product name (the
    /// header is the device's to write) is an error.
    pub fn from_server_header(value: &str) -> Result<Self, Error> {
        let version = value
            .trim()
            .strip_prefix(SERVER_HEADER_PREFIX)
            .ok_or_else(|| Error::InvalidVersion {
                input: shortened(value),
                reason: "not an Intel AMT Server header",
            })?;
        if !version.starts_with(' ') {
            return Err(Error::InvalidVersion {
                input: shortened(value),
                reason: "no version after the product name",
            });
        }
        // The numeric parser, not `parse()`: the prefix is stripped once, so a device that repeats
        // it gets an error rather than one level of recursion per repetition.
        Self::parse_numeric(version.trim(), value)
    }

    /// Parses the dotted numbers alone (`16.1.25`); `input` is what error messages quote.
    fn parse_numeric(numbers: &str, input: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidVersion {
            input: shortened(input),
            reason,
        };
        let mut parts = [0u32; 4];
        let mut len = 0usize;
        for component in numbers.split('.') {
            if len == parts.len() {
                return Err(invalid("more than four components"));
            }
            if component.is_empty() {
                return Err(invalid("empty component"));
            }
            if !component.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("components must be decimal numbers"));
            }
            parts[len] = component
                .parse()
                .map_err(|_| invalid("component too large"))?;
            len += 1;
        }
        if len < 2 {
            return Err(invalid(
                "a version has at least a major and a minor component",
            ));
        }
        Ok(Self {
            parts,
            len: len as u8,
        })
    }

    /// The major version (16 for `16.1.25`), which gates operations.
    pub const fn major(&self) -> u32 {
        self.parts[0]
    }

    /// The minor version (1 for `16.1.25`).
    pub const fn minor(&self) -> u32 {
        self.parts[1]
    }

    /// The components as written.
    pub fn components(&self) -> &[u32] {
        &self.parts[..usize::from(self.len)]
    }
}

impl FromStr for AmtVersion {
    type Err = Error;

    /// Parses `16.1.25`, `16.1.25.1917`, `11.8`, or a whole `Server` header value.
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let trimmed = input.trim();
        if trimmed.starts_with(SERVER_HEADER_PREFIX) {
            Self::from_server_header(trimmed)
        } else {
            Self::parse_numeric(trimmed, input)
        }
    }
}

impl fmt::Display for AmtVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.components().iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{part}")?;
        }
        Ok(())
    }
}

impl Ord for AmtVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts).then(self.len.cmp(&other.len))
    }
}

impl PartialOrd for AmtVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Why an operation is not available now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// The product rule does not allow it from the current state (Power On while on, Reset while off).
    NotAllowedInState {
        /// The current state.
        state: PowerState,
    },
    /// The device does not list it in `AvailableRequestedPowerStates` now (for the graceful
    /// operations, usually because the OS agent, Intel LMS, is not running).
    NotOfferedByDevice {
        /// The current state.
        state: PowerState,
    },
    /// The workstation's AMT firmware is too old, or its version is unknown.
    NeedsAmtVersion {
        /// The major version needed.
        minimum_major: u32,
        /// The version the workstation runs, when known.
        actual: Option<AmtVersion>,
    },
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAllowedInState { state } => {
                write!(f, "not allowed while the workstation is {state}")
            }
            Self::NotOfferedByDevice { state } => write!(
                f,
                "not offered by the workstation while it is {state} \
                 (graceful operations need the OS agent, Intel LMS, running)"
            ),
            Self::NeedsAmtVersion {
                minimum_major,
                actual: Some(version),
            } => write!(
                f,
                "requires Intel AMT {minimum_major} or later; this workstation runs {version}"
            ),
            Self::NeedsAmtVersion {
                minimum_major,
                actual: None,
            } => write!(
                f,
                "requires Intel AMT {minimum_major} or later; this workstation's version is unknown"
            ),
        }
    }
}

/// Which operations are available now, and why the others are not. Built by [`availability`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    verdicts: Vec<(PowerOperation, Option<Unavailable>)>,
}

impl Availability {
    /// The available operations, in [`PowerOperation::ALL`] order.
    pub fn available(&self) -> impl Iterator<Item = PowerOperation> + '_ {
        self.verdicts
            .iter()
            .filter(|(_, reason)| reason.is_none())
            .map(|(op, _)| *op)
    }

    /// The unavailable operations with their reasons, in [`PowerOperation::ALL`] order.
    pub fn unavailable(&self) -> impl Iterator<Item = (PowerOperation, &Unavailable)> + '_ {
        self.verdicts
            .iter()
            .filter_map(|(op, reason)| reason.as_ref().map(|r| (*op, r)))
    }

    /// Whether `operation` is available.
    pub fn is_available(&self, operation: PowerOperation) -> bool {
        self.reason(operation).is_none()
    }

    /// Why `operation` is unavailable, or `None` when it is available.
    pub fn reason(&self, operation: PowerOperation) -> Option<&Unavailable> {
        self.verdicts
            .iter()
            .find(|(op, _)| *op == operation)
            .and_then(|(_, r)| r.as_ref())
    }

    /// `Ok` when `operation` is available, else the reason.
    pub fn check(&self, operation: PowerOperation) -> Result<(), Unavailable> {
        self.reason(operation)
            .map_or(Ok(()), |reason| Err(reason.clone()))
    }
}

/// The availability rule: from the current state, the device's `AvailableRequestedPowerStates`
/// and the AMT version (`None` when unknown), which operations may run now.
///
/// The version gate is checked first (it does not change), then the product's state rule, then
/// the device's list.
pub fn availability(
    state: PowerState,
    offered: &[u16],
    version: Option<&AmtVersion>,
) -> Availability {
    let verdicts = PowerOperation::ALL
        .into_iter()
        .map(|op| {
            let too_old = op
                .minimum_amt_major()
                .filter(|minimum| version.is_none_or(|v| v.major() < *minimum));
            let reason = if let Some(minimum_major) = too_old {
                Some(Unavailable::NeedsAmtVersion {
                    minimum_major,
                    actual: version.cloned(),
                })
            } else if !op.allowed_from(state) {
                Some(Unavailable::NotAllowedInState { state })
            } else if !offered.contains(&op.requested_state()) {
                Some(Unavailable::NotOfferedByDevice { state })
            } else {
                None
            };
            (op, reason)
        })
        .collect();
    Availability { verdicts }
}

/// The `ReturnValue` of `RequestPowerStateChange`.
///
/// Note that [`ReturnValue::Completed`] does not prove the change happened (AMT answers 0 to some
/// graceful requests it then ignores): read the state back to confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReturnValue {
    /// 0: Completed with No Error.
    Completed,
    /// 1: Not Supported.
    NotSupported,
    /// 2: Unknown or Unspecified Error; AMT's "not possible now".
    UnknownOrUnspecified,
    /// 3: Cannot complete within Timeout Period.
    Timeout,
    /// 4: Failed.
    Failed,
    /// 5: Invalid Parameter.
    InvalidParameter,
    /// 6: In Use.
    InUse,
    /// 4096: Method Parameters Checked - Job Started.
    JobStarted,
    /// 4097: Invalid State Transition.
    InvalidStateTransition,
    /// 4098: Use of Timeout Parameter Not Supported.
    TimeoutParameterNotSupported,
    /// 4099: Busy.
    Busy,
    /// Any other value (DMTF reserved, method reserved or vendor specific), kept as read.
    Other(u32),
}

impl ReturnValue {
    /// The value for a code; never fails.
    pub const fn from_code(code: u32) -> Self {
        match code {
            0 => Self::Completed,
            1 => Self::NotSupported,
            2 => Self::UnknownOrUnspecified,
            3 => Self::Timeout,
            4 => Self::Failed,
            5 => Self::InvalidParameter,
            6 => Self::InUse,
            4096 => Self::JobStarted,
            4097 => Self::InvalidStateTransition,
            4098 => Self::TimeoutParameterNotSupported,
            4099 => Self::Busy,
            other => Self::Other(other),
        }
    }

    /// The code; `ReturnValue::from_code(r.code()) == r` for every value.
    pub const fn code(self) -> u32 {
        match self {
            Self::Completed => 0,
            Self::NotSupported => 1,
            Self::UnknownOrUnspecified => 2,
            Self::Timeout => 3,
            Self::Failed => 4,
            Self::InvalidParameter => 5,
            Self::InUse => 6,
            Self::JobStarted => 4096,
            Self::InvalidStateTransition => 4097,
            Self::TimeoutParameterNotSupported => 4098,
            Self::Busy => 4099,
            Self::Other(code) => code,
        }
    }

    /// Whether the device accepted the request (0 completed, or 4096 job started).
    pub const fn is_accepted(self) -> bool {
        matches!(self, Self::Completed | Self::JobStarted)
    }

    /// What the value means, in words that finish "Intel AMT refused Reset: ...".
    pub const fn meaning(self) -> &'static str {
        match self {
            Self::Completed => "completed with no error",
            Self::NotSupported => "not supported",
            Self::UnknownOrUnspecified => {
                "not possible now (the transition is not allowed, a remote KVM, SOL or IDE-R \
                 session is open, or the OS agent is not running)"
            }
            Self::Timeout => "could not complete within the timeout period",
            Self::Failed => "failed",
            Self::InvalidParameter => "invalid parameter",
            Self::InUse => "in use",
            Self::JobStarted => "job started",
            Self::InvalidStateTransition => "invalid state transition",
            Self::TimeoutParameterNotSupported => "use of the timeout parameter is not supported",
            Self::Busy => "busy",
            Self::Other(code) => match code {
                7..=4095 => "reserved by DMTF",
                4100..=32767 => "reserved for the method",
                32768..=65535 => "vendor specific",
                _ => "unknown value",
            },
        }
    }
}

impl From<u32> for ReturnValue {
    fn from(code: u32) -> Self {
        Self::from_code(code)
    }
}

impl fmt::Display for ReturnValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.meaning(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_sends_its_design_table_value() {
        let table = [
            (PowerOperation::PowerOn, 2, "Power On", None),
            (PowerOperation::PowerOff, 8, "Power Off", None),
            (
                PowerOperation::GracefulShutdown,
                12,
                "Graceful Shutdown",
                Some(9),
            ),
            (PowerOperation::Reset, 10, "Reset", None),
            (
                PowerOperation::GracefulRestart,
                14,
                "Graceful Restart",
                Some(10),
            ),
            (PowerOperation::PowerCycle, 5, "Power Cycle", None),
            (PowerOperation::Sleep, 4, "Sleep", Some(10)),
            (PowerOperation::Hibernate, 7, "Hibernate", Some(10)),
        ];
        for (op, value, label, minimum) in table {
            assert_eq!(op.requested_state(), value, "{op:?}");
            assert_eq!(op.to_string(), label);
            assert_eq!(op.minimum_amt_major(), minimum, "{op:?}");
            assert_eq!(PowerOperation::from_requested_state(value), Some(op));
        }
        assert_eq!(PowerOperation::from_requested_state(11), None);
    }

    #[test]
    fn aliases_and_names_parse_ignoring_case() {
        let cases = [
            ("start", PowerOperation::PowerOn),
            ("START", PowerOperation::PowerOn),
            ("stop", PowerOperation::PowerOff),
            ("Restart", PowerOperation::Reset),
            ("power-on", PowerOperation::PowerOn),
            ("Power On", PowerOperation::PowerOn),
            ("graceful_shutdown", PowerOperation::GracefulShutdown),
            ("GRACEFUL-RESTART", PowerOperation::GracefulRestart),
            (" power-cycle ", PowerOperation::PowerCycle),
            ("off", PowerOperation::PowerOff),
        ];
        for (text, op) in cases {
            assert_eq!(text.parse::<PowerOperation>(), Ok(op), "{text}");
        }
    }

    #[test]
    fn unknown_operation_lists_valid_names() {
        let err = "reboot".parse::<PowerOperation>().unwrap_err();
        let message = err.to_string();
        assert!(message.contains("\"reboot\""), "{message}");
        for op in PowerOperation::ALL {
            assert!(message.contains(op.kebab_name()), "{message}");
        }
        for alias in ["start", "stop", "restart"] {
            assert!(message.contains(alias), "{message}");
        }
    }

    #[test]
    fn every_state_code_round_trips_with_its_class() {
        use PowerClass::*;
        let table = [
            (1, Unknown, "in another state"),
            (2, On, "on"),
            (3, Sleeping, "asleep"),
            (4, Sleeping, "asleep"),
            (5, Transitional, "power cycling"),
            (6, Off, "off"),
            (7, Sleeping, "hibernating"),
            (8, Off, "off"),
            (9, Transitional, "power cycling"),
            (10, Transitional, "resetting"),
            (11, Transitional, "interrupted"),
            (12, Off, "off"),
            (13, Off, "off"),
            (14, Transitional, "resetting"),
            (15, Transitional, "power cycling"),
            (16, Transitional, "power cycling"),
            (17, Transitional, "interrupted"),
        ];
        for (code, class, label) in table {
            let state = PowerState::from_code(code);
            assert_ne!(
                state,
                PowerState::Unrecognized(code),
                "code {code} should be named"
            );
            assert_eq!(state.code(), code);
            assert_eq!(state.class(), class, "code {code}");
            assert_eq!(state.label(), label, "code {code}");
        }
        for code in [0, 18, 4096, u16::MAX] {
            let state = PowerState::from_code(code);
            assert_eq!(state, PowerState::Unrecognized(code));
            assert_eq!(state.code(), code);
            assert_eq!(state.class(), Unknown);
            assert!(state.to_string().contains(&code.to_string()));
        }
    }

    #[test]
    fn every_return_value_has_its_meaning() {
        let table = [
            (0, ReturnValue::Completed, true),
            (1, ReturnValue::NotSupported, false),
            (2, ReturnValue::UnknownOrUnspecified, false),
            (3, ReturnValue::Timeout, false),
            (4, ReturnValue::Failed, false),
            (5, ReturnValue::InvalidParameter, false),
            (6, ReturnValue::InUse, false),
            (4096, ReturnValue::JobStarted, true),
            (4097, ReturnValue::InvalidStateTransition, false),
            (4099, ReturnValue::Busy, false),
        ];
        for (code, value, accepted) in table {
            assert_eq!(ReturnValue::from_code(code), value);
            assert_eq!(value.code(), code);
            assert_eq!(value.is_accepted(), accepted, "{value:?}");
        }
    }

    #[test]
    fn every_return_value_reads_as_design_md_says() {
        // The words finish "Intel AMT refused <Operation>: ...", so they are pinned here.
        let meanings = [
            (0, "completed with no error"),
            (1, "not supported"),
            (
                2,
                "not possible now (the transition is not allowed, a remote KVM, SOL or IDE-R \
                 session is open, or the OS agent is not running)",
            ),
            (3, "could not complete within the timeout period"),
            (4, "failed"),
            (5, "invalid parameter"),
            (6, "in use"),
            (7, "reserved by DMTF"),
            (4095, "reserved by DMTF"),
            (4096, "job started"),
            (4097, "invalid state transition"),
            (4098, "use of the timeout parameter is not supported"),
            (4099, "busy"),
            (4100, "reserved for the method"),
            (32767, "reserved for the method"),
            (32768, "vendor specific"),
            (40000, "vendor specific"),
            (65535, "vendor specific"),
            (65536, "unknown value"),
            (u32::MAX, "unknown value"),
        ];
        for (code, meaning) in meanings {
            let value = ReturnValue::from_code(code);
            assert_eq!(value.meaning(), meaning, "code {code}");
            assert_eq!(value.to_string(), format!("{meaning} ({code})"));
        }
    }

    #[test]
    fn versions_parse_in_every_form_amt_writes() {
        let v: AmtVersion = "16.1.25".parse().unwrap();
        assert_eq!(
            (v.major(), v.minor(), v.components()),
            (16, 1, &[16, 1, 25][..])
        );
        let v: AmtVersion = "16.1.25.1917".parse().unwrap();
        assert_eq!(v.components(), &[16, 1, 25, 1917]);
        let v: AmtVersion = "11.8".parse().unwrap();
        assert_eq!(v.to_string(), "11.8");
        let v =
            AmtVersion::from_server_header("Intel(R) Active Management Technology 12.0.45.1509")
                .unwrap();
        assert_eq!(v.to_string(), "12.0.45.1509");
        let v: AmtVersion = "Intel(R) Active Management Technology 9.5.30"
            .parse()
            .unwrap();
        assert_eq!(v.major(), 9);
    }

    #[test]
    fn bad_versions_are_typed_errors() {
        for bad in [
            "",
            "16",
            "16.",
            ".1",
            "16..1",
            "a.b",
            "16.1.25.1917.5",
            "-1.2",
            "+1.2",
            "1.2x",
            "99999999999.1",
            "16 .1",
            "Intel(R) Active Management Technology",
            "Intel(R) Active Management Technology16.1",
            "Microsoft-IIS/10.0",
            "١٦.١",
        ] {
            assert!(
                matches!(bad.parse::<AmtVersion>(), Err(Error::InvalidVersion { .. })),
                "{bad:?} should be refused"
            );
        }
        assert!(AmtVersion::new(&[16]).is_err());
        assert!(AmtVersion::new(&[1, 2, 3, 4, 5]).is_err());
    }

    #[test]
    fn a_repeated_server_prefix_is_refused_without_recursing() {
        // Device-controlled text: each repetition once cost a stack frame, and 50 000 of them
        // overflowed the stack (an abort, not an error).
        for repetitions in [2, 3, 50_000] {
            let mut header = format!("{SERVER_HEADER_PREFIX} ").repeat(repetitions);
            header.push_str("1.2");
            for result in [
                header.parse::<AmtVersion>(),
                AmtVersion::from_server_header(&header),
            ] {
                let Err(Error::InvalidVersion { input, reason }) = result else {
                    panic!("{repetitions} prefixes should be refused, got {result:?}");
                };
                assert_eq!(reason, "components must be decimal numbers");
                assert_eq!(input.chars().count(), 64);
            }
        }
        let once = format!("{SERVER_HEADER_PREFIX} 1.2");
        assert_eq!(
            once.parse::<AmtVersion>().map(|v| v.to_string()),
            Ok("1.2".into())
        );
    }

    #[test]
    fn versions_order_numerically() {
        let v = |s: &str| s.parse::<AmtVersion>().unwrap();
        assert!(v("9.5.30") < v("10.0.0"));
        assert!(v("11.8") < v("11.8.0"));
        assert!(v("16.1.25") < v("16.1.25.1917"));
        assert!(v("16.1.25.1917") < v("16.1.26"));
        assert!(v("2.10") > v("2.9"));
    }

    fn avail_of(
        state: u16,
        offered: &[u16],
        version: Option<&str>,
    ) -> (Vec<PowerOperation>, Availability) {
        let version = version.map(|v| v.parse::<AmtVersion>().unwrap());
        let a = availability(PowerState::from_code(state), offered, version.as_ref());
        (a.available().collect(), a)
    }

    #[test]
    fn off_workstation_offers_only_power_on() {
        // The device offers everything, so only the product rule can refuse.
        let every_value: Vec<u16> = (0..=20).collect();
        let (available, a) = avail_of(8, &every_value, Some("16.1.25"));
        assert_eq!(available, vec![PowerOperation::PowerOn]);
        assert_eq!(
            a.reason(PowerOperation::Reset),
            Some(&Unavailable::NotAllowedInState {
                state: PowerState::OffSoft
            })
        );
    }

    #[test]
    fn on_without_os_agent_refuses_graceful_operations_as_not_offered() {
        use PowerOperation::*;
        let (available, a) = avail_of(2, &[10, 8, 5, 11], Some("16.1.25"));
        assert_eq!(available, vec![PowerOff, Reset, PowerCycle]);
        for op in [GracefulShutdown, GracefulRestart, Sleep, Hibernate] {
            assert_eq!(
                a.reason(op),
                Some(&Unavailable::NotOfferedByDevice {
                    state: PowerState::On
                }),
                "{op:?}"
            );
        }
        assert_eq!(
            a.check(PowerOn),
            Err(Unavailable::NotAllowedInState {
                state: PowerState::On
            })
        );
    }

    #[test]
    fn on_with_os_agent_offers_everything_but_power_on() {
        let (available, _) = avail_of(2, &[10, 8, 5, 11, 4, 7, 12, 14], Some("16.1.25"));
        assert_eq!(available.len(), 7);
        assert!(!available.contains(&PowerOperation::PowerOn));
    }

    #[test]
    fn version_gates_apply_before_the_state_rules() {
        use PowerOperation::*;
        let all = [10, 8, 5, 11, 4, 7, 12, 14];
        let (available, a) = avail_of(2, &all, Some("9.0.1"));
        assert!(available.contains(&GracefulShutdown));
        for op in [GracefulRestart, Sleep, Hibernate] {
            assert!(matches!(
                a.reason(op),
                Some(Unavailable::NeedsAmtVersion {
                    minimum_major: 10,
                    actual: Some(_)
                })
            ));
        }
        let (_, a) = avail_of(2, &all, Some("8.1.0"));
        assert!(matches!(
            a.reason(GracefulShutdown),
            Some(Unavailable::NeedsAmtVersion {
                minimum_major: 9,
                ..
            })
        ));
        // The version reason wins even when the state would refuse too.
        let (_, a) = avail_of(8, &[2], Some("8.1.0"));
        assert!(matches!(
            a.reason(GracefulShutdown),
            Some(Unavailable::NeedsAmtVersion { .. })
        ));
        let message = a.reason(GracefulRestart).unwrap().to_string();
        assert_eq!(
            message,
            "requires Intel AMT 10 or later; this workstation runs 8.1.0"
        );
    }

    #[test]
    fn unknown_version_makes_gated_operations_unavailable() {
        use PowerOperation::*;
        let (available, a) = avail_of(2, &[10, 8, 5, 11, 4, 7, 12, 14], None);
        assert_eq!(available, vec![PowerOff, Reset, PowerCycle]);
        assert_eq!(
            a.reason(GracefulShutdown),
            Some(&Unavailable::NeedsAmtVersion {
                minimum_major: 9,
                actual: None
            })
        );
        assert!(
            a.reason(GracefulShutdown)
                .unwrap()
                .to_string()
                .contains("unknown")
        );
    }

    #[test]
    fn power_on_from_sleep_and_hibernate_but_not_transitional_states() {
        assert!(
            avail_of(4, &[2], None)
                .1
                .is_available(PowerOperation::PowerOn)
        );
        assert!(
            avail_of(7, &[2], None)
                .1
                .is_available(PowerOperation::PowerOn)
        );
        assert!(
            !avail_of(10, &[2], None)
                .1
                .is_available(PowerOperation::PowerOn)
        );
        assert!(
            !avail_of(0, &[2, 8, 10], None)
                .1
                .is_available(PowerOperation::Reset)
        );
    }

    #[test]
    fn a_device_that_offers_nothing_allows_nothing() {
        let (available, _) = avail_of(2, &[], Some("16.0"));
        assert!(available.is_empty());
    }
}
