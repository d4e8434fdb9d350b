//! `amt-trust`: The Intel AMT certificate trust policy: one pinned provider root, CN-or-SAN name check, typed failures, rustls configuration. Built by its issue; not yet implemented.
