//! `wsman_response`: every client-side reply parser of `amt-wsman`; a reply or a fault that is read
//! must read back the same once the device side writes it again.
//!
//! The entry point is [`amt_wsman::fuzzing::response`], which checks its own properties and panics
//! only on a bug.

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    amt_wsman::fuzzing::response(data);
}
