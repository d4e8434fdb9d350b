//! `amt-manager`: power-manage Intel® AMT workstations, as a library to embed.
//!
//! This is the product layer: an inventory of deployments (each with the Intel AMT provider root
//! CA that issued its workstations' certificates), workstations and pools; a vault that keeps
//! their credentials encrypted; and power operations that keep the product's rules — the
//! cooldown, availability by state and firmware version, never retrying a change that may have
//! reached the device — one workstation at a time or in bulk. Every failure is an [`Error`]
//! whose message is the product's, and whose [`Error::kind`] is a stable code.
//!
//! # Example
//!
//! Embedding the manager: open an inventory, add a deployment and a workstation, save its
//! credentials (checked against the workstation first), and run an operation. Here the
//! workstation is a simulated AMT device on loopback.
//!
//! ```
//! use amt_manager::{Manager, MemoryStore, Targets, vault::VaultKey};
//! use amt_power::PowerOperation;
//! use amt_sim::{DeviceConfig, SimCa, SimDevice};
//! use secrecy::SecretString;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A simulated AMT 16 workstation (on, with the OS agent running) and its provider CA.
//! let ca = SimCa::generate("Example provider root")?;
//! let device = SimDevice::start(DeviceConfig::new("P@ssw0rd1").on("127.0.0.1:0".parse()?), &ca).await?;
//!
//! // The embedding application supplies the store and the vault key (or a key file).
//! let manager = Manager::builder()
//!     .store(MemoryStore::new())
//!     .vault_key(VaultKey::generate()?)
//!     .build()?;
//! manager.add_deployment("lab", ca.cert_pem())?;
//! manager.add_workstation("lab", "ws-01", "127.0.0.1", Some(device.addr().port()), false)?;
//! manager.set_credentials("ws-01", "admin", SecretString::from("P@ssw0rd1")).await?;
//! manager.set_managed("ws-01", true)?;
//!
//! let status = manager.status("ws-01").await?;
//! assert!(status.availability.is_available(PowerOperation::GracefulRestart));
//!
//! let outcome = manager.run("ws-01", PowerOperation::Reset).await?;
//! assert!(outcome.accepted());
//!
//! // A second operation within 20 seconds is refused before anything is sent.
//! let refused = manager.run("ws-01", PowerOperation::PowerOff).await.unwrap_err();
//! assert_eq!(refused.kind(), "cooling_down");
//! # Ok(())
//! # }
//! ```
//!
//! # Rules kept
//!
//! - **Credentials**: saved only after an authenticated call proves them, even for an unmanaged
//!   workstation; sealed with XChaCha20-Poly1305 (random nonce, the record version and
//!   workstation id as associated data) under a key from a 0600 key file or from the
//!   application; decrypted only into [`secrecy::SecretString`]. Key rotation re-encrypts every
//!   record it can open ([`Manager::rotate_vault_key`] with a key file,
//!   [`Manager::rotate_vault_key_to`] with the application's key), never overwriting a password
//!   saved meanwhile; one it cannot open is listed and keeps the old key in use until it is set
//!   or cleared ([`KeyRotation`]).
//! - **Managed**: power operations need the workstation managed and credentials stored;
//!   management cannot be turned on without credentials.
//! - **Power operation**: the cooldown gate first (no network call when it refuses), then a fresh
//!   read of the state and the firmware version, the availability rule (an unavailable operation
//!   releases the gate without cooldown), one invoke that is never retried once it may have
//!   reached the device, and, unless turned off, confirmation by re-reading the state.
//! - **Cooldown**: 20 seconds between power-change requests to one device (keyed by normalised
//!   host and port), counted from the moment the request is handed to the connection, kept in
//!   the inventory so a restart or another process on the same inventory keeps it. Processes
//!   sharing an inventory are serialised by a claim in it: while one prepares an operation,
//!   another is refused with `operation_in_progress`; a claim lasts, and the operation has to
//!   send within, three times the sum of [`ManagerOptions::timeouts`].
//! - **Bulk**: bounded concurrency (default 64), one result per workstation, progress as it
//!   comes, a workstation named twice or in two pools runs once, one failure never stops the rest.
//!
//! # Legacy TLS
//!
//! Intel AMT 9 to 12 speak only what rustls refuses by design (TLS 1.1, RSA key exchange, no
//! secure renegotiation). Built with the cargo feature `legacy-tls` (which links the system's
//! OpenSSL), the manager reaches them through the legacy transport of `amt-client`, which runs
//! the same trust policy (same error rows) before writing a byte. Which transport a workstation
//! gets is its **legacy TLS switch** ([`Workstation::allow_legacy_tls`], off by default; set by
//! [`Manager::add_workstation`] and [`Manager::set_allow_legacy_tls`], and
//! [`DirectTarget::allow_legacy_tls`] in direct mode):
//!
//! - **off**: modern TLS only. A handshake that fails for lack of a shared version or cipher
//!   is `legacy_tls_required`, which suggests the switch; the legacy transport is never tried.
//! - **on**, with the feature: legacy TLS only (TLS 1.1 to 1.2, RSA-authenticated suites); no
//!   fallback to modern TLS either.
//! - **on**, without the feature: the modern transport is used (the switch allows legacy TLS,
//!   it does not forbid modern TLS, and a workstation whose firmware was updated keeps working),
//!   and a handshake that fails for lack of a shared version or cipher is `unsupported`: the
//!   message says that this build lacks the legacy transport, since suggesting a switch that is
//!   already on would not help.
//!
//! # Inventory
//!
//! [`Store`] is the interface. [`SqliteStore`] is the embedded default: one file (created with
//! mode 0600), WAL journal, foreign keys, schema migrations, ids never reused. [`MemoryStore`]
//! serves tests.
//!
//! Store calls are synchronous. The SQLite store runs them on the calling thread, an async
//! worker thread when called from the manager's futures, behind one `Mutex<Connection>`, and
//! waits up to 5 s for another process's write lock; its calls are single-row reads and writes on
//! a local file, so they are kept off the blocking pool (which would also make a dropped power
//! operation's claim outlive it).
//!
//! # Runtime
//!
//! The manager's futures need a Tokio runtime (any flavour): device sessions run on it, and bulk
//! runs spawn their workstations' tasks on it.

mod clock;
mod device;
mod error;
mod manager;
pub mod model;
pub mod store;
pub mod vault;

pub use clock::{ManualClock, SystemClock, WallClock};
pub use device::Timeouts;
pub use error::{Error, ErrorChain};
pub use manager::{
    BulkProgress, BulkResult, Confirmation, DirectTarget, KeyRotation, Manager, ManagerBuilder,
    ManagerOptions, OperationOutcome, Targets, WorkstationStatus,
};
pub use model::{Deployment, Pool, Workstation};
pub use store::{MemoryStore, SqliteStore, Store};
