//! `wsman_request`: the device-side request parser of `amt-wsman`; a call that is read must survive
//! being rewritten, and the reply or fault built for it must read back on the client side.
//!
//! The entry point is [`amt_wsman::fuzzing::request`], which checks its own properties and panics
//! only on a bug.

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    amt_wsman::fuzzing::request(data);
}
