//! `amt-sim`: Simulated Intel AMT devices over HTTPS on loopback, for tests, demos and benchmarks. Built by its issue; not yet implemented.
