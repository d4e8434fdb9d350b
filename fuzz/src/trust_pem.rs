//! `trust_pem`: `amt-trust` loading a provider root CA from PEM.
//!
//! The entry point is [`amt_trust::fuzz::provider_root_pem`], which checks its own properties and
//! panics only on a bug.

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    amt_trust::fuzz::provider_root_pem(data);
}
