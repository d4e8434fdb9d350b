//! Integration tests for amt-trust: the policy matrix, provider root loading, the committed
//! RSA fixtures, end-to-end TLS through tokio-rustls, and replay of the fuzz entry points.

#[path = "trust/e2e.rs"]
mod e2e;
#[path = "trust/fixtures.rs"]
mod fixtures;
#[path = "trust/fuzz.rs"]
mod fuzz;
#[path = "trust/matrix.rs"]
mod matrix;
#[path = "trust/root.rs"]
mod root;
#[path = "trust/support.rs"]
mod support;
