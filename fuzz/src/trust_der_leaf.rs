//! `trust_der_leaf`: `amt-trust` on a presented certificate chain: a DER leaf alone (an input
//! starting with 0x30), or a leaf and up to nine intermediates in the length-prefixed form of
//! [`amt_trust::fuzz::split_chain`]. Name extraction and matching, the lineage walk through the
//! intermediates, and the whole trust policy for a DNS, an IPv4 and an IPv6 host against the
//! committed test CA.
//!
//! The entry point is [`amt_trust::fuzz::der_chain`], which checks its own properties (the same
//! verdict every time; an accepted name is one the leaf has) and panics only on a bug.

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    amt_trust::fuzz::der_chain(data);
}
