//! Benchmarks for the amt-manager workspace.
//!
//! The criterion micro-benchmarks live in `benches/`; run them with
//! `cargo bench -p amt-benches`. The fleet benchmark is the `fleet` binary
//! (`src/bin/fleet.rs`), built from the pieces in [`fleet`]. See `benches/README.md` for the
//! figures and how to reproduce them.
//!
//! # Example
//!
//! The simulator's counters line, as the fleet benchmark reads it between phases:
//!
//! ```
//! use amt_benches::fleet::parse_counters;
//!
//! let line = "tcp=2 tls_full=1 tls_resumed=1 tls_failed=0 requests=2 401s=1 failed_logins=0 \
//!             lockout_refusals=0 faults=0 invokes=0";
//! let counters = parse_counters(line).expect("a counters line");
//! assert_eq!((counters.requests, counters.unauthorized), (2, 1));
//! ```

pub mod fleet;
