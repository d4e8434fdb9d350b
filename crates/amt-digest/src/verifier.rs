//! The device side: issue challenges the way Intel AMT does and verify the answers.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::Duration;

use subtle::ConstantTimeEq;

use crate::algorithm::{Algorithm, Qop, QopOffer};
use crate::authorization::DigestCredentials;
use crate::challenge::{Nonce, Realm};
use crate::error::{Error, clip};
use crate::request::{
    Credentials, DigestInputs, NonceCount, QopFields, Request, request_digest, user_hash,
};
use crate::syntax::push_quoted_value;

/// Random bytes per nonce: 24 bytes make the 32 base64 characters Intel AMT's nonces have.
pub const NONCE_RANDOM_BYTES: usize = 24;

/// How a [`Verifier`] challenges and how long it remembers nonces.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifierConfig {
    /// The device's realm (see [`Realm::amt`]).
    pub realm: Realm,
    /// The qop values offered: [`QopOffer::AUTH`] like AMT before 14, or
    /// [`QopOffer::AUTH_INT_AND_AUTH`] like AMT 14 and later.
    pub qop: QopOffer,
    /// The algorithm; AMT uses MD5 and then names none in its challenge.
    pub algorithm: Algorithm,
    /// How long a nonce is accepted after issue; later answers get a stale verdict.
    pub nonce_lifetime: Duration,
    /// How many nonces are remembered at most; the oldest are forgotten first, so a flood of
    /// unauthenticated requests cannot grow memory without bound.
    pub max_nonces: usize,
}

impl VerifierConfig {
    /// Default nonce lifetime: five minutes.
    pub const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(300);
    /// Default bound on remembered nonces.
    pub const DEFAULT_MAX_NONCES: usize = 256;

    /// An Intel AMT style configuration: MD5, `qop="auth"`, the default lifetime and bound.
    pub fn new(realm: Realm) -> Self {
        Self {
            realm,
            qop: QopOffer::AUTH,
            algorithm: Algorithm::Md5,
            nonce_lifetime: Self::DEFAULT_NONCE_LIFETIME,
            max_nonces: Self::DEFAULT_MAX_NONCES,
        }
    }
}

/// Why a request's credentials were refused.
///
/// [`is_failed_login`](Self::is_failed_login) tells which refusals count towards a lockout;
/// [`Verifier::challenge_after`] answers each with the right `stale` flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The `Authorization` value is not valid Digest credentials.
    #[error("malformed Digest credentials: {0}")]
    Malformed(#[from] Error),
    /// The credentials name another realm.
    #[error("the credentials are for realm {found:?}, not this device's")]
    WrongRealm {
        /// The realm received (possibly shortened).
        found: String,
    },
    /// The credentials use another algorithm than the one offered.
    #[error("the credentials use {found}, but {expected} was offered")]
    WrongAlgorithm {
        /// The algorithm offered.
        expected: Algorithm,
        /// The algorithm received.
        found: Algorithm,
    },
    /// The credentials use a qop that was not offered, or none at all (the RFC 2069 form,
    /// which has no nonce count and so no replay protection).
    #[error("qop {found:?} was not offered")]
    QopNotOffered {
        /// The qop received.
        found: Option<Qop>,
    },
    /// The credentials were computed for another request URI.
    #[error("the credentials are for {found:?}, but the request is for {expected:?}")]
    UriMismatch {
        /// The request's URI (possibly shortened).
        expected: String,
        /// The `uri` parameter received (possibly shortened).
        found: String,
    },
    /// The user name is not the expected one.
    #[error("unknown user")]
    UnknownUser,
    /// The response hash is wrong: a wrong password (or a tampered request).
    #[error("wrong response: the password is wrong or the request was altered")]
    WrongResponse,
    /// The response is right for its nonce, but this verifier did not issue that nonce or has
    /// forgotten it.
    #[error("the nonce is unknown")]
    UnknownNonce,
    /// The response is right, but the nonce is older than the configured lifetime.
    #[error("the nonce expired ({age:?} after issue)")]
    StaleNonce {
        /// Time since the nonce was issued.
        age: Duration,
    },
    /// The nonce count did not increase: a replayed request.
    #[error("nonce count {found} is not above {last}: a replay")]
    Replayed {
        /// The count received.
        found: NonceCount,
        /// The highest count accepted so far for this nonce.
        last: NonceCount,
    },
}

impl Rejection {
    /// Whether the refusal proves wrong credentials, which is what a device counts towards
    /// its login lockout. Malformed, stale or replayed requests are not failed logins.
    pub fn is_failed_login(&self) -> bool {
        matches!(self, Self::UnknownUser | Self::WrongResponse)
    }

    /// Whether the next challenge should say `stale=true`: the client knows the password
    /// and only needs a new nonce (RFC 7616 3.3).
    pub fn is_stale(&self) -> bool {
        matches!(self, Self::StaleNonce { .. } | Self::UnknownNonce)
    }
}

/// A successful verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The qop the client used.
    pub qop: Qop,
    /// The nonce count accepted.
    pub nonce_count: NonceCount,
}

#[derive(Debug, Clone, Copy)]
struct NonceEntry {
    issued: Duration,
    last_count: u32,
}

/// Issued nonces, bounded in number, oldest first.
#[derive(Debug, Default)]
struct NonceTable {
    entries: HashMap<String, NonceEntry>,
    order: VecDeque<String>,
}

impl NonceTable {
    fn insert(&mut self, nonce: String, now: Duration, config: &VerifierConfig) {
        if self.entries.remove(&nonce).is_some() {
            // Same random bytes twice; rare, so a linear scan keeps the queue free of duplicates.
            self.order.retain(|queued| *queued != nonce);
        }
        // An expired nonce is still worth a stale verdict for one more lifetime, then it goes.
        let forget_after = config.nonce_lifetime.saturating_mul(2);
        while let Some(oldest) = self.order.front() {
            let expired = self
                .entries
                .get(oldest)
                .is_none_or(|entry| now.saturating_sub(entry.issued) > forget_after);
            if !expired {
                break;
            }
            self.pop_oldest();
        }
        while self.entries.len() >= config.max_nonces.max(1) {
            if !self.pop_oldest() {
                break;
            }
        }
        self.order.push_back(nonce.clone());
        self.entries.insert(
            nonce,
            NonceEntry {
                issued: now,
                last_count: 0,
            },
        );
    }

    fn pop_oldest(&mut self) -> bool {
        match self.order.pop_front() {
            Some(oldest) => {
                self.entries.remove(&oldest);
                true
            }
            None => false,
        }
    }
}

/// The device side of Digest: issues Intel AMT style challenges and verifies `Authorization`
/// values against the expected credentials at a given time.
///
/// Time is a [`Duration`] since an epoch the caller picks (simulator start, UNIX epoch), and
/// randomness comes from the caller, so the verifier is deterministic under test. It keeps no
/// password; `Debug` shows the configuration and the number of nonces remembered.
///
/// ```
/// use std::time::Duration;
/// use amt_digest::{Credentials, DigestSession, Realm, Request, Verifier, VerifierConfig};
/// use secrecy::SecretString;
///
/// let mut device = Verifier::new(VerifierConfig::new(Realm::amt([7; 16])));
/// let password = SecretString::from("P@ssw0rd");
/// let credentials = Credentials::new("admin", &password);
/// let request = Request::wsman(b"<s:Envelope/>");
/// let t0 = Duration::from_secs(1_000);
/// let mut rng = |buf: &mut [u8]| buf.fill(0x5a);
///
/// let challenge = device.challenge(t0, &mut rng);
/// assert!(challenge.ends_with(r#",stale="false",qop="auth""#));
///
/// let mut client = DigestSession::new();
/// client.on_unauthorized(None, [challenge.as_str()])?;
/// let header = client.authorize(&credentials, &request, &mut rng)?.unwrap();
/// assert!(device.verify(header.as_str(), &request, &credentials, t0).is_ok());
///
/// // The same header again is a replay.
/// let replay = device.verify(header.as_str(), &request, &credentials, t0).unwrap_err();
/// assert!(!replay.is_failed_login());
/// # Ok::<(), amt_digest::Error>(())
/// ```
pub struct Verifier {
    config: VerifierConfig,
    nonces: NonceTable,
}

impl Verifier {
    /// A verifier that has issued no nonce yet.
    pub fn new(config: VerifierConfig) -> Self {
        Self {
            config,
            nonces: NonceTable::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// How many nonces are remembered now (at most [`VerifierConfig::max_nonces`]).
    pub fn outstanding_nonces(&self) -> usize {
        self.nonces.entries.len()
    }

    /// Issues a challenge with a new nonce ([`NONCE_RANDOM_BYTES`] bytes from `random`) and
    /// returns the `WWW-Authenticate` value, byte for byte as Intel AMT writes it:
    /// `Digest realm="…", nonce="…",stale="false",qop="auth"`, and `,algorithm=…` appended
    /// when the algorithm is not MD5.
    pub fn challenge(&mut self, now: Duration, random: &mut dyn FnMut(&mut [u8])) -> String {
        self.issue(false, now, random)
    }

    /// Issues the challenge that answers a refused request: `stale="true"` when
    /// [`Rejection::is_stale`] says the client only needs a new nonce.
    pub fn challenge_after(
        &mut self,
        rejection: &Rejection,
        now: Duration,
        random: &mut dyn FnMut(&mut [u8]),
    ) -> String {
        self.issue(rejection.is_stale(), now, random)
    }

    /// Issues a challenge with `nonce` instead of a random one, so that tests can drive the
    /// verifier with nonces of any text. Not for production: a nonce that is not fresh and
    /// unpredictable lets an eavesdropper's recorded answers be replayed. Hidden from the docs
    /// for that reason.
    #[doc(hidden)]
    pub fn challenge_with_nonce_for_tests(&mut self, nonce: &Nonce, now: Duration) -> String {
        self.issue_nonce(nonce.as_str().to_owned(), false, now)
    }

    fn issue(&mut self, stale: bool, now: Duration, random: &mut dyn FnMut(&mut [u8])) -> String {
        let mut bytes = [0u8; NONCE_RANDOM_BYTES];
        random(&mut bytes);
        self.issue_nonce(base64(&bytes), stale, now)
    }

    fn issue_nonce(&mut self, nonce: String, stale: bool, now: Duration) -> String {
        let mut out = String::with_capacity(128);
        out.push_str("Digest realm=");
        push_quoted_value(&mut out, self.config.realm.as_str());
        out.push_str(", nonce=");
        push_quoted_value(&mut out, &nonce);
        out.push_str(if stale {
            ",stale=\"true\""
        } else {
            ",stale=\"false\""
        });
        out.push_str(",qop=\"");
        out.push_str(&self.config.qop.to_string());
        out.push('"');
        if self.config.algorithm != Algorithm::Md5 {
            out.push_str(",algorithm=");
            out.push_str(self.config.algorithm.as_str());
        }
        self.nonces.insert(nonce, now, &self.config);
        out
    }

    /// Verifies an `Authorization` value for `request` against the expected credentials.
    ///
    /// Checks, in order: syntax, realm, algorithm, qop, URI, user name, response hash, then
    /// the nonce (known, not expired) and the nonce count (strictly increasing per nonce).
    /// The response is checked before the nonce so that a stale verdict is only given to a
    /// client that knows the password, as RFC 7616 3.3 asks.
    pub fn verify(
        &mut self,
        authorization: &str,
        request: &Request<'_>,
        credentials: &Credentials<'_>,
        now: Duration,
    ) -> Result<Verified, Rejection> {
        let parsed: DigestCredentials = authorization.parse()?;
        self.verify_parsed(&parsed, request, credentials, now)
    }

    /// [`verify`](Self::verify) for credentials already parsed, e.g. to look the user up first.
    pub fn verify_parsed(
        &mut self,
        parsed: &DigestCredentials,
        request: &Request<'_>,
        credentials: &Credentials<'_>,
        now: Duration,
    ) -> Result<Verified, Rejection> {
        let config = &self.config;
        let realm = config.realm.as_str();
        if parsed.realm() != realm {
            return Err(Rejection::WrongRealm {
                found: clip(parsed.realm()),
            });
        }
        let algorithm = parsed.algorithm().unwrap_or_default();
        if algorithm != config.algorithm {
            return Err(Rejection::WrongAlgorithm {
                expected: config.algorithm,
                found: algorithm,
            });
        }
        let (qop, count, nc, cnonce) = match (
            parsed.qop(),
            parsed.nonce_count(),
            parsed.nc_text(),
            parsed.cnonce(),
        ) {
            (Some(qop), Some(count), Some(nc), Some(cnonce)) if config.qop.contains(qop) => {
                (qop, count, nc, cnonce)
            }
            _ => {
                return Err(Rejection::QopNotOffered {
                    found: parsed.qop(),
                });
            }
        };
        if parsed.uri() != request.uri() {
            return Err(Rejection::UriMismatch {
                expected: clip(request.uri()),
                found: clip(parsed.uri()),
            });
        }
        let known_user = if parsed.userhash() {
            user_hash(algorithm, credentials.username(), realm).matches(parsed.username())
        } else {
            // Constant time, so that response timing does not spell out the user name.
            bool::from(
                parsed
                    .username()
                    .as_bytes()
                    .ct_eq(credentials.username().as_bytes()),
            )
        };
        if !known_user {
            return Err(Rejection::UnknownUser);
        }
        let expected = request_digest(&DigestInputs {
            algorithm,
            credentials,
            realm,
            nonce: parsed.nonce(),
            request,
            qop: Some(QopFields { qop, nc, cnonce }),
        });
        if !expected.matches(parsed.response()) {
            return Err(Rejection::WrongResponse);
        }
        let entry = self
            .nonces
            .entries
            .get_mut(parsed.nonce())
            .ok_or(Rejection::UnknownNonce)?;
        let age = now.saturating_sub(entry.issued);
        if age > config.nonce_lifetime {
            return Err(Rejection::StaleNonce { age });
        }
        if count.value() <= entry.last_count {
            return Err(Rejection::Replayed {
                found: count,
                last: NonceCount::new(entry.last_count),
            });
        }
        entry.last_count = count.value();
        Ok(Verified {
            qop,
            nonce_count: count,
        })
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .field("outstanding_nonces", &self.outstanding_nonces())
            .finish()
    }
}

/// Standard base64 (with `+` and `/`, as AMT's nonces have) of whole 3-byte groups.
fn base64(bytes: &[u8; NONCE_RANDOM_BYTES]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(NONCE_RANDOM_BYTES / 3 * 4);
    for group in bytes.chunks_exact(3) {
        if let [a, b, c] = group {
            let bits = u32::from(*a) << 16 | u32::from(*b) << 8 | u32::from(*c);
            for shift in [18, 12, 6, 0] {
                out.push(char::from(ALPHABET[((bits >> shift) & 0x3f) as usize]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::challenge::Challenge;
    use crate::session::DigestSession;

    fn config() -> VerifierConfig {
        VerifierConfig::new(Realm::amt([
            0xA4, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ]))
    }

    fn counter_rng() -> impl FnMut(&mut [u8]) {
        let mut next = 0u8;
        move |buf: &mut [u8]| {
            next = next.wrapping_add(1);
            buf.fill(next);
        }
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        let mut bytes = [0u8; NONCE_RANDOM_BYTES];
        bytes[..6].copy_from_slice(b"foobar");
        bytes[6..9].copy_from_slice(&[0xfb, 0xff, 0xbf]);
        let encoded = base64(&bytes);
        assert!(encoded.starts_with("Zm9vYmFy+/+/AAAA"), "{encoded}");
        assert_eq!(encoded.len(), 32);
    }

    #[test]
    fn challenges_look_like_amt() {
        let mut verifier = Verifier::new(config());
        let mut rng = |buf: &mut [u8]| buf.fill(0);
        assert_eq!(
            verifier.challenge(Duration::ZERO, &mut rng),
            r#"Digest realm="Digest:A4070000000000000000000000000000", nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",stale="false",qop="auth""#
        );
        let mut both = config();
        both.qop = QopOffer::AUTH_INT_AND_AUTH;
        both.algorithm = Algorithm::Sha256;
        let challenge = Verifier::new(both).challenge_after(
            &Rejection::StaleNonce {
                age: Duration::ZERO,
            },
            Duration::ZERO,
            &mut rng,
        );
        assert!(challenge.ends_with(r#",stale="true",qop="auth-int, auth",algorithm=SHA-256"#));
        let parsed: Challenge = challenge.parse().unwrap();
        assert!(parsed.stale());
        assert_eq!(parsed.algorithm(), Algorithm::Sha256);
    }

    #[test]
    fn the_nonce_table_stays_bounded() {
        let mut small = config();
        small.max_nonces = 3;
        let mut verifier = Verifier::new(small);
        let mut rng = counter_rng();
        let mut nonces = Vec::new();
        for second in 0..10 {
            let challenge: Challenge = verifier
                .challenge(Duration::from_secs(second), &mut rng)
                .parse()
                .unwrap();
            nonces.push(challenge.nonce().as_str().to_owned());
            assert!(verifier.outstanding_nonces() <= 3);
        }
        assert_eq!(verifier.nonces.order.len(), verifier.nonces.entries.len());
        assert!(!verifier.nonces.entries.contains_key(&nonces[0]));
        assert!(verifier.nonces.entries.contains_key(&nonces[9]));

        // Repeated random bytes replace the entry instead of duplicating it.
        let mut same = |buf: &mut [u8]| buf.fill(1);
        for _ in 0..5 {
            verifier.challenge(Duration::from_secs(20), &mut same);
        }
        assert_eq!(verifier.nonces.order.len(), verifier.nonces.entries.len());
    }

    #[test]
    fn long_expired_nonces_are_forgotten() {
        let mut verifier = Verifier::new(config());
        let mut rng = counter_rng();
        verifier.challenge(Duration::ZERO, &mut rng);
        verifier.challenge(Duration::from_secs(200), &mut rng);
        assert_eq!(verifier.outstanding_nonces(), 2);
        verifier.challenge(Duration::from_secs(700), &mut rng);
        assert_eq!(verifier.outstanding_nonces(), 2);
    }

    #[test]
    fn verdicts_in_order() {
        let mut verifier = Verifier::new(config());
        let mut rng = counter_rng();
        let password = SecretString::from("Secret-1");
        let credentials = Credentials::new("admin", &password);
        let request = Request::wsman(b"<x/>");
        let t0 = Duration::from_secs(10);
        let mut session = DigestSession::new();
        session
            .on_unauthorized(None, [verifier.challenge(t0, &mut rng).as_str()])
            .unwrap();
        let first = session
            .authorize(&credentials, &request, &mut rng)
            .unwrap()
            .unwrap();
        let second = session
            .authorize(&credentials, &request, &mut rng)
            .unwrap()
            .unwrap();
        assert_eq!(
            verifier.verify(second.as_str(), &request, &credentials, t0),
            Ok(Verified {
                qop: Qop::Auth,
                nonce_count: NonceCount::new(2)
            })
        );
        // Counts must rise: the first request arrives late and is refused as a replay.
        assert_eq!(
            verifier.verify(first.as_str(), &request, &credentials, t0),
            Err(Rejection::Replayed {
                found: NonceCount::FIRST,
                last: NonceCount::new(2)
            })
        );
        let other_uri = Request::new("POST", "/other");
        assert!(matches!(
            verifier.verify(second.as_str(), &other_uri, &credentials, t0),
            Err(Rejection::UriMismatch { .. })
        ));
        let wrong = SecretString::from("Secret-2");
        let rejection = verifier
            .verify(
                second.as_str(),
                &request,
                &Credentials::new("admin", &wrong),
                t0,
            )
            .unwrap_err();
        assert_eq!(rejection, Rejection::WrongResponse);
        assert!(rejection.is_failed_login() && !rejection.is_stale());
        let rejection = verifier
            .verify(
                second.as_str(),
                &request,
                &Credentials::new("root", &password),
                t0,
            )
            .unwrap_err();
        assert_eq!(rejection, Rejection::UnknownUser);
        let third = session
            .authorize(&credentials, &request, &mut rng)
            .unwrap()
            .unwrap();
        let late = t0 + VerifierConfig::DEFAULT_NONCE_LIFETIME + Duration::from_secs(1);
        let rejection = verifier
            .verify(third.as_str(), &request, &credentials, late)
            .unwrap_err();
        assert!(matches!(rejection, Rejection::StaleNonce { .. }));
        assert!(rejection.is_stale() && !rejection.is_failed_login());
        assert!(matches!(
            verifier.verify("Basic YTpi", &request, &credentials, t0),
            Err(Rejection::Malformed(Error::NotDigest { .. }))
        ));
    }

    #[test]
    fn refuses_foreign_realm_algorithm_and_qop() {
        let mut verifier = Verifier::new(config());
        let password = SecretString::from("pw");
        let credentials = Credentials::new("admin", &password);
        let request = Request::new("POST", "/wsman");
        let base = r#"Digest username="admin", realm="Digest:A4070000000000000000000000000000", nonce="n", uri="/wsman", response="00""#;
        let cases = [
            (base.replace("A407", "B508"), "WrongRealm"),
            (
                format!("{base}, algorithm=SHA-256, qop=auth, nc=1, cnonce=\"c\""),
                "WrongAlgorithm",
            ),
            (base.to_owned(), "QopNotOffered"),
            (
                format!("{base}, qop=auth-int, nc=1, cnonce=\"c\""),
                "QopNotOffered",
            ),
            (
                format!("{base}, qop=auth, nc=1, cnonce=\"c\""),
                "WrongResponse",
            ),
        ];
        for (header, expected) in cases {
            let rejection = verifier
                .verify(&header, &request, &credentials, Duration::ZERO)
                .unwrap_err();
            assert!(
                format!("{rejection:?}").starts_with(expected),
                "{header}: {rejection:?}"
            );
        }
    }

    #[test]
    fn debug_shows_no_nonce_list() {
        let mut verifier = Verifier::new(config());
        verifier.challenge(Duration::ZERO, &mut |buf| buf.fill(0));
        let text = format!("{verifier:?}");
        assert!(text.contains("outstanding_nonces: 1"));
        assert!(!text.contains("AAAAAAAA"));
    }
}
