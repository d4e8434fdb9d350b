//! Integration tests for amt-client, against simulated devices over real TLS on loopback and
//! against hand-made peers for the failures the simulator does not commit.

#[path = "client/at_most_once.rs"]
mod at_most_once;
#[path = "client/calls.rs"]
mod calls;
#[path = "client/economy.rs"]
mod economy;
#[path = "client/failures.rs"]
mod failures;
#[cfg(feature = "legacy-tls")]
#[path = "client/legacy.rs"]
mod legacy;
#[path = "client/secrets.rs"]
mod secrets;
#[path = "client/support.rs"]
mod support;
#[path = "client/tls.rs"]
mod tls;
