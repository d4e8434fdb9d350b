//! `amt-wsman`: the WS-Management (SOAP 1.2) dialect of Intel AMT, for both ends of the wire,
//! without I/O.
//!
//! - **Client side**: a [`Call`] becomes request bytes with [`Call::build_request`], given a
//!   caller-supplied [`MessageId`]; the [`client`] module reads the reply bytes into typed values
//!   ([`PowerStatus`], a `ReturnValue`, [`SoftwareIdentity`], …) or an [`Error`], a SOAP fault
//!   being the distinct [`Error::Fault`].
//! - **Device side** (for the simulator): [`device::parse_request`] recovers the action, resource
//!   URI, selectors, `MessageID` and the [`Call`] (with a power change's `ManagedElement`) from
//!   request bytes, and keeps the `MessageID` even when the call or its selectors cannot be
//!   understood; [`device::build_response`] and [`device::build_fault`] write replies the way
//!   AMT does.
//!
//! Everything is a function of its arguments: no clock, no randomness, no sockets. Values stay
//! raw CIM numbers; their meaning (power states, return values) lives in `amt-power`.
//!
//! # Example: a power-state exchange
//!
//! ```
//! use amt_wsman::{client, device, Call, Limits, MessageId, PowerStatus, Response};
//!
//! // Client: build the request.
//! let request_id = MessageId::uuid_v4([7; 16]);
//! let request = Call::PowerState.build_request(&request_id);
//!
//! // Device: understand it, answer as AMT would.
//! let incoming = device::parse_request(&request, Limits::default())?;
//! assert_eq!(incoming.call, Ok(Call::PowerState));
//! let status = PowerStatus {
//!     power_state: 8,                              // off (soft)
//!     available_requested_power_states: vec![2],   // only "power on" is possible now
//!     requested_power_state: Some(8),
//! };
//! let reply = device::build_response(
//!     &Response::PowerState(status.clone()),
//!     incoming.message_id.as_ref(),
//!     &MessageId::amt(0xA1F4),
//! );
//!
//! // Client: read the reply, checking that it relates to our request.
//! let read = client::parse_power_state(&reply, &request_id, Limits::default())?;
//! assert_eq!(read, status);
//! # Ok::<(), amt_wsman::Error>(())
//! ```
//!
//! # Specifications
//!
//! - SOAP 1.2 (W3C) envelopes and faults; WS-Addressing (2004/08 submission) headers.
//! - DMTF DSP0226 (WS-Management 1.0): `ResourceURI`, `SelectorSet`, `OperationTimeout`,
//!   fault subcodes and `FaultDetail`; DSP8012 Identify; WS-Transfer Get; WS-Enumeration
//!   Enumerate and Pull.
//! - DMTF DSP0230 (WS-CIM mapping) for the CIM instances, DSP1027 (Power State Management
//!   Profile) for `RequestPowerStateChange`.
//!
//! # What the parser accepts
//!
//! Elements are matched by namespace URI and local name, never by prefix (AMT's prefixes differ
//! between firmware versions and between replies and faults). Input is hostile until proven
//! otherwise: a `DOCTYPE` is refused, only the five predefined and numeric character references
//! are resolved, the body must be UTF-8, and [`Limits`] caps size, depth and element count. A
//! document may declare at most 64 distinct namespaces besides the well-known ones of [`ns`] and
//! [`resource`]. Required elements that are missing or repeated, and numbers that do not parse,
//! are errors; unknown elements are ignored.
//!
//! Text is trimmed where the schema type collapses whitespace (numbers, booleans, URIs such as
//! `MessageID`, enumeration contexts, QNames) and kept exact elsewhere (`InstanceID`,
//! `VersionString`, fault reasons, selector values, generic [`Element`] text).
//!
//! # Deviations
//!
//! - The reply's `Action` header is not checked; the payload element identifies the reply.
//! - Only text selector values are supported (no endpoint references inside selectors).
//! - Of nested fault subcodes only the first level is kept.
//! - When writing, characters XML 1.0 cannot carry (most C0 controls, U+FFFE, U+FFFF) are
//!   replaced with U+FFFD, and names that are not XML names are repaired with `_`, so that the
//!   output is always well-formed. For the same reason names in a namespace that cannot be
//!   declared (the `xmlns` namespace, or one beyond the 64th that is not well known) are
//!   written without a namespace, and of two attributes that end up with one name only the
//!   first is written. Nothing this crate reads is affected.

mod call;
mod cim;
mod enumeration;
mod envelope;
mod error;
mod fault;
mod message_id;
mod response;
mod selector;
mod write;
mod xml;

pub mod action;
pub mod client;
pub mod device;
pub mod fuzzing;
pub mod ns;
pub mod resource;

pub use call::{Call, DEFAULT_PULL_MAX_ELEMENTS, OPERATION_TIMEOUT};
pub use cim::{Identity, PowerCapabilities, PowerStatus, SoftwareIdentity};
pub use enumeration::{EnumerationContext, PullResponse};
pub use error::Error;
pub use fault::{Fault, FaultCode, QualifiedName, fault_detail};
pub use message_id::MessageId;
pub use response::Response;
pub use selector::{EndpointReference, Selector, SelectorSet};
pub use xml::{Attribute, Element, Limits};
