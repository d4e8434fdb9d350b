//! `trust_der_leaf`: `amt-trust` on a DER leaf certificate: name extraction and matching, lineage,
//! and the whole trust policy for a DNS, an IPv4 and an IPv6 host against the committed test CA.
//!
//! The entry point is [`amt_trust::fuzz::leaf_der`], which checks its own properties and panics
//! only on a bug.

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    amt_trust::fuzz::leaf_der(data);
}
