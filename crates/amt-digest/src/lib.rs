//! `amt-digest`: HTTP Digest authentication (RFC 7616, RFC 2617) for Intel AMT, both ends, sans-IO.
//!
//! The client half reads `WWW-Authenticate` values as Intel AMT writes them, answers them, and
//! keeps the per-device state that lets every later call go out pre-authenticated
//! ([`DigestSession`]). The device half issues AMT-style challenges and verifies answers
//! ([`Verifier`]) for the simulator. Nothing here does I/O, reads a clock or draws random
//! numbers: time and random bytes are arguments. Passwords stay in [`secrecy::SecretString`]
//! and no `Debug` or `Display` of this crate prints one, nor the response hash of an
//! [`Authorization`] or [`DigestCredentials`]. The verifier compares response hashes and user
//! names in constant time.
//!
//! # Example: answer an Intel AMT challenge
//!
//! ```
//! use amt_digest::{Credentials, DigestSession, NonceUse, Request, Unauthorized};
//! use secrecy::SecretString;
//!
//! // The 401 of an AMT 16 device: no algorithm (so MD5), no opaque, sloppy commas, and the
//! // comma inside qop that broke naive parsers.
//! let www_authenticate = r#"Digest realm="Digest:2517B2332AFD88353D5F5FD352697901", nonce="Yy3m0RYAAAAAAAAAk4bo6tCQ+jE9xJh/",stale="false",qop="auth-int, auth""#;
//!
//! let password = SecretString::from("P@ssw0rd");
//! let credentials = Credentials::new("admin", &password);
//! let request = Request::wsman(b"<s:Envelope>...</s:Envelope>");
//!
//! let mut session = DigestSession::new();
//! let verdict = session.on_unauthorized(None, [www_authenticate])?;
//! assert_eq!(verdict, Unauthorized::Challenged);
//!
//! // Production code passes a real random source, e.g. `&mut |buf| getrandom::fill(buf)...`.
//! let mut random = |buf: &mut [u8]| buf.fill(0x2a);
//! let authorization = session.authorize(&credentials, &request, &mut random)?.unwrap();
//! assert_eq!(authorization.nonce_use(), NonceUse::Fresh);
//! assert_eq!(
//!     authorization.as_str(),
//!     concat!(
//!         r#"Digest username="admin", realm="Digest:2517B2332AFD88353D5F5FD352697901", "#,
//!         r#"uri="/wsman", nonce="Yy3m0RYAAAAAAAAAk4bo6tCQ+jE9xJh/", algorithm=MD5, "#,
//!         r#"nc=00000001, cnonce="2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a", qop=auth, "#,
//!         r#"response="5df45c6339d7615d5be52e02ce34af22""#,
//!     )
//! );
//!
//! // (the response was checked independently with Python's hashlib.)
//!
//! // The next call reuses the nonce pre-emptively: one round trip per call.
//! let next = session.authorize(&credentials, &request, &mut random)?.unwrap();
//! assert_eq!(next.nonce_use(), NonceUse::Cached);
//! assert!(next.as_str().contains("nc=00000002"));
//! # Ok::<(), amt_digest::Error>(())
//! ```
//!
//! # Specifications
//!
//! - RFC 7616 (HTTP Digest): algorithms MD5, SHA-256, SHA-512-256 and their `-sess` variants;
//!   qop `auth` and `auth-int`; `userhash`; `username*` (RFC 5987 / RFC 8187 ext-value) for user
//!   names that cannot be quoted; `stale`; `opaque`.
//! - RFC 2617: the form without `qop` (RFC 2069 compatibility, section 3.2.2.1). Its answer
//!   names `algorithm` whenever the challenge named one (a server that finds none assumes
//!   MD5), and otherwise leaves it out, as RFC 2069 clients do.
//! - RFC 7235 section 4.1 and RFC 7230 section 7: challenge lists, several challenges per
//!   header and across headers, quoted strings with escapes, case-insensitive scheme and
//!   parameter names, empty list elements, token68.
//!
//! # Deviations and tolerances
//!
//! - Read tolerantly, as Intel AMT and Intel NUC firmware need: no space after commas,
//!   parameters separated by whitespace alone, `qop` tokens separated by commas and/or
//!   whitespace, quoted `stale`, `algorithm`, `qop` and `nc` values, algorithm names in any
//!   case, `nc` with fewer than 8 hex digits (MeshCentral sends `nc=1` and AMT accepts it).
//! - Rejected strictly: header values over [`MAX_HEADER_LEN`] bytes, control characters and
//!   non-ASCII bytes (RFC 7230 `obs-text` is not accepted), and repeated Digest parameters.
//!   In a `WWW-Authenticate` value each challenge is checked on its own: a broken challenge,
//!   or one with such a byte, is skipped, and a good Digest challenge before or after it is
//!   still answered ([`Challenge::from_headers`]). A broken piece named like a Digest parameter
//!   right after a Digest challenge (`qop "auth"`) breaks that challenge rather than being
//!   dropped. [`parse_challenges`] and `Authorization` values stay strict as a whole.
//! - `auth` is chosen whenever offered; `auth-int` only when it is the only choice.
//! - A `-sess` algorithm without `qop` is refused: it needs a cnonce, which RFC 2617 forbids
//!   without qop.
//! - The [`Verifier`] always offers `qop` and refuses answers without it
//!   ([`Rejection::QopNotOffered`]): the form without qop has no nonce count, so no replay
//!   protection.
//! - `stale=true` after a fresh nonce is treated as a refusal of the credentials, so that a
//!   device cannot keep a client retrying into Intel AMT's login lockout; the verdict
//!   ([`Unauthorized::CredentialsRejected`]) still says whether the device claimed `stale`.
//! - A nonce used 2^32 times is dropped, and the device offering it again is
//!   [`Error::NonceExhausted`]: restarting at `nc=1` would be a replay to the device, and its
//!   refusal of that fresh try would read as a wrong password.
//! - Not implemented: `Authentication-Info` / `nextnonce` (AMT sends none), the `domain`
//!   protection space (read, not enforced), and `auth-conf`.
//!
//! # Fuzzing
//!
//! [`fuzzing`] holds the entry points a cargo-fuzz target calls with arbitrary strings.

mod algorithm;
mod authorization;
mod challenge;
mod error;
pub mod fuzzing;
mod request;
mod session;
mod syntax;
mod verifier;

pub use algorithm::{Algorithm, Qop, QopOffer};
pub use authorization::DigestCredentials;
pub use challenge::{AuthChallenge, Challenge, Nonce, Realm, parse_challenges};
pub use error::Error;
pub use request::{Credentials, NonceCount, Request};
/// The password type of [`Credentials`], re-exported so callers need not pin `secrecy` themselves.
pub use secrecy::SecretString;
pub use session::{Authorization, DigestSession, NonceUse, Unauthorized};
pub use syntax::MAX_HEADER_LEN;
pub use verifier::{NONCE_RANDOM_BYTES, Rejection, Verified, Verifier, VerifierConfig};
