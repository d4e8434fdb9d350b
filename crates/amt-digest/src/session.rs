//! The per-device client state: cached challenge, nonce count, realm pinning, 401 triage.

use std::fmt;

use crate::challenge::{Challenge, Nonce, Realm};
use crate::error::Error;
use crate::request::{Credentials, NonceCount, Request};

/// Bytes of randomness in a generated cnonce (rendered as twice as many hex digits).
const CNONCE_BYTES: usize = 16;

/// Whether a request carried a nonce the device has answered before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NonceUse {
    /// First use of a challenge that has just arrived in a 401: a refusal now means the
    /// credentials are wrong.
    Fresh,
    /// Pre-emptive reuse of the cached challenge with the nonce count incremented: a refusal
    /// may only mean the device reset or expired the nonce.
    Cached,
}

/// What a 401 response means, given how the refused request was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unauthorized {
    /// The request carried no `Authorization`; answer the new challenge.
    Challenged,
    /// A cached nonce was refused: the device reset it, or it expired (`stale` says whether
    /// the device said so). Answer the new challenge, once.
    NonceRefused {
        /// Whether the new challenge carried `stale=true`.
        stale: bool,
    },
    /// A fresh nonce was refused: the user name or password is wrong, or the account is locked
    /// out. Do not retry: Intel AMT locks the account after repeated failures.
    CredentialsRejected {
        /// Whether the new challenge carried `stale=true` all the same. It is not trusted after
        /// a fresh nonce (a device could keep a client retrying into a lockout), but it tells a
        /// log reader that the device claimed a nonce problem, e.g. a clock that runs wild.
        stale: bool,
    },
    /// The challenge names another realm than this device's. Intel AMT's realm never changes,
    /// so another device answered (an address was reused, or traffic is intercepted).
    RealmChanged {
        /// The realm this session is pinned to.
        expected: Realm,
        /// The realm of the new challenge.
        found: Realm,
    },
}

impl Unauthorized {
    /// Whether answering the new challenge (once) is the right move.
    pub fn should_retry(&self) -> bool {
        matches!(self, Self::Challenged | Self::NonceRefused { .. })
    }
}

/// A rendered `Authorization` header value, with how its nonce was used.
///
/// `Debug` does not show the value: the response hash lets an eavesdropper test password
/// guesses offline, so it must not reach logs. Use [`Authorization::as_str`] to send it.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization {
    value: String,
    nonce_use: NonceUse,
    nonce_count: NonceCount,
}

impl Authorization {
    /// The header value, `Digest username="…", …`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The header value, owned.
    pub fn into_string(self) -> String {
        self.value
    }

    /// Whether the nonce was fresh or cached; pass it to [`DigestSession::on_unauthorized`]
    /// if this request is answered with a 401.
    pub fn nonce_use(&self) -> NonceUse {
        self.nonce_use
    }

    /// The nonce count this request carried.
    pub fn nonce_count(&self) -> NonceCount {
        self.nonce_count
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("nonce_use", &self.nonce_use)
            .field("nonce_count", &self.nonce_count)
            .field("value", &"[REDACTED]")
            .finish()
    }
}

/// The cached challenge and how far its nonce has been used.
#[derive(Debug, Clone)]
struct Cached {
    challenge: Challenge,
    last_count: u32,
    used: bool,
}

/// Digest state for one device session, owned by the client (one per device).
///
/// It caches the last challenge and reuses it pre-emptively with `nc` incremented, so a call
/// costs one round trip; it pins the realm of the first challenge it sees; and it triages
/// 401 responses ([`Unauthorized`]). It never stores the password: credentials are passed to
/// each [`authorize`](Self::authorize) call. When a nonce's 2^32 counts are used up it
/// remembers that nonce, so that the device offering it again is [`Error::NonceExhausted`]
/// rather than a replay the device would refuse as a wrong password.
///
/// ```
/// use amt_digest::{Credentials, DigestSession, NonceUse, Request, Unauthorized};
/// use secrecy::SecretString;
///
/// let password = SecretString::from("P@ssw0rd");
/// let credentials = Credentials::new("admin", &password);
/// let request = Request::wsman(b"<s:Envelope/>");
/// let mut session = DigestSession::new();
///
/// // Nothing cached yet: send the request without Authorization, get a 401.
/// assert!(session.authorize_with_cnonce(&credentials, &request, "0a4f113b")?.is_none());
/// let header = r#"Digest realm="Digest:A4070000000000000000000000000000", nonce="qgJ8WVPZYTpUj3kIiY+0tnk0oyuTN9Xi",stale="false",qop="auth""#;
/// assert_eq!(session.on_unauthorized(None, [header])?, Unauthorized::Challenged);
///
/// let first = session.authorize_with_cnonce(&credentials, &request, "0a4f113b")?.unwrap();
/// assert_eq!(first.nonce_use(), NonceUse::Fresh);
/// assert!(first.as_str().contains("nc=00000001"));
/// let second = session.authorize_with_cnonce(&credentials, &request, "9b8c7d6e")?.unwrap();
/// assert_eq!(second.nonce_use(), NonceUse::Cached);
/// assert!(second.as_str().contains("nc=00000002"));
///
/// // The device reset its nonce: a 401 for a cached nonce is answered once...
/// let verdict = session.on_unauthorized(Some(second.nonce_use()), [header])?;
/// assert!(verdict.should_retry());
/// // ...but a 401 for a fresh nonce means the password is wrong.
/// let retry = session.authorize_with_cnonce(&credentials, &request, "5f4e3d2c")?.unwrap();
/// let verdict = session.on_unauthorized(Some(retry.nonce_use()), [header])?;
/// assert_eq!(verdict, Unauthorized::CredentialsRejected { stale: false });
/// # Ok::<(), amt_digest::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct DigestSession {
    cached: Option<Cached>,
    realm: Option<Realm>,
    /// The last nonce whose counts ran out; answering it again would restart at 1.
    exhausted: Option<Nonce>,
}

impl DigestSession {
    /// An empty session: no challenge yet, realm pinned by the first challenge seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty session that expects `realm`, e.g. the realm remembered from an earlier
    /// session with this device.
    pub fn with_realm(realm: Realm) -> Self {
        Self {
            cached: None,
            realm: Some(realm),
            exhausted: None,
        }
    }

    /// The realm this session is pinned to, once known.
    pub fn realm(&self) -> Option<&Realm> {
        self.realm.as_ref()
    }

    /// The cached challenge, if any.
    pub fn challenge(&self) -> Option<&Challenge> {
        self.cached.as_ref().map(|cached| &cached.challenge)
    }

    /// The nonce count of the last request rendered with the cached challenge (0 before any).
    pub fn nonce_count(&self) -> NonceCount {
        NonceCount::new(self.cached.as_ref().map_or(0, |cached| cached.last_count))
    }

    /// Drops the cached challenge (the pinned realm stays), e.g. when the device is known to
    /// have restarted. A nonce whose counts ran out is forgotten too: a restarted device has
    /// forgotten the counts it saw.
    pub fn forget_challenge(&mut self) {
        self.cached = None;
        self.exhausted = None;
    }

    /// Renders the `Authorization` value for the next request, with a cnonce of 16 bytes from
    /// `random` (e.g. `&mut |buf| getrandom::fill(buf).expect("OS RNG")`).
    ///
    /// Returns `Ok(None)` when no challenge is cached: send the request without
    /// `Authorization` and pass the 401's challenge to [`on_unauthorized`](Self::on_unauthorized).
    /// That is also the answer once the cached nonce has been used 2^32 times: the session drops
    /// it and asks the device for another. Each call increments the nonce count, whether or
    /// not the request is then sent.
    pub fn authorize(
        &mut self,
        credentials: &Credentials<'_>,
        request: &Request<'_>,
        random: &mut dyn FnMut(&mut [u8]),
    ) -> Result<Option<Authorization>, Error> {
        let mut bytes = [0u8; CNONCE_BYTES];
        random(&mut bytes);
        let mut cnonce = String::with_capacity(2 * CNONCE_BYTES);
        for byte in bytes {
            cnonce.push(char::from(HEX[usize::from(byte >> 4)]));
            cnonce.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        self.authorize_with_cnonce(credentials, request, &cnonce)
    }

    /// [`authorize`](Self::authorize) with an explicit cnonce, for tests and test vectors.
    ///
    /// Production code should use [`authorize`](Self::authorize): a predictable cnonce weakens
    /// the protection `qop` gives against chosen-plaintext attacks.
    pub fn authorize_with_cnonce(
        &mut self,
        credentials: &Credentials<'_>,
        request: &Request<'_>,
        cnonce: &str,
    ) -> Result<Option<Authorization>, Error> {
        let Some(cached) = self.cached.as_mut() else {
            return Ok(None);
        };
        let Some(count) = NonceCount::new(cached.last_count).next() else {
            // 2^32 requests on one nonce: start over with a fresh challenge from the device.
            self.exhausted = Some(cached.challenge.nonce().clone());
            self.cached = None;
            return Ok(None);
        };
        let value = cached
            .challenge
            .answer(credentials, request, count, cnonce)?;
        let nonce_use = if cached.used {
            NonceUse::Cached
        } else {
            NonceUse::Fresh
        };
        cached.last_count = count.value();
        cached.used = true;
        Ok(Some(Authorization {
            value,
            nonce_use,
            nonce_count: count,
        }))
    }

    /// Takes the `WWW-Authenticate` values of a 401 and says what it means.
    ///
    /// `sent` is how the refused request was authenticated: `None` without `Authorization`,
    /// else [`Authorization::nonce_use`]. The new challenge replaces the cached one (unless
    /// its realm is foreign). `stale=true` after a fresh nonce is not trusted: a device could
    /// otherwise keep a client retrying a wrong password into a lockout.
    ///
    /// Errors when the values hold no Digest challenge that can be answered; the cached
    /// challenge is dropped then too, since the device has refused it. That includes
    /// [`Error::NonceExhausted`], for a challenge that repeats a nonce whose counts this session
    /// has used up: answering it would restart at `nc=1`, which the device refuses as a replay,
    /// and that refusal of a fresh nonce would read as wrong credentials.
    pub fn on_unauthorized<'h>(
        &mut self,
        sent: Option<NonceUse>,
        www_authenticate: impl IntoIterator<Item = &'h str>,
    ) -> Result<Unauthorized, Error> {
        let previous = self.cached.take();
        let challenge = Challenge::from_headers(www_authenticate)?;
        match &self.realm {
            Some(expected) if expected != challenge.realm() => {
                return Ok(Unauthorized::RealmChanged {
                    expected: expected.clone(),
                    found: challenge.realm().clone(),
                });
            }
            Some(_) => {}
            None => self.realm = Some(challenge.realm().clone()),
        }
        let stale = challenge.stale();
        // A device that repeats the nonce expects the count to keep rising, not to restart.
        let last_count = previous
            .filter(|old| old.challenge.nonce() == challenge.nonce())
            .map_or(0, |old| old.last_count);
        if last_count == u32::MAX {
            self.exhausted = Some(challenge.nonce().clone());
        }
        if self.exhausted.as_ref() == Some(challenge.nonce()) {
            return Err(Error::NonceExhausted);
        }
        self.cached = Some(Cached {
            challenge,
            last_count,
            used: false,
        });
        Ok(match sent {
            None => Unauthorized::Challenged,
            Some(NonceUse::Cached) => Unauthorized::NonceRefused { stale },
            Some(NonceUse::Fresh) => Unauthorized::CredentialsRejected { stale },
        })
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    const CHALLENGE: &str = r#"Digest realm="Digest:A4070000000000000000000000000000", nonce="n1",stale="false",qop="auth""#;

    fn answer(session: &mut DigestSession) -> Option<Authorization> {
        let password = SecretString::from("pw");
        session
            .authorize_with_cnonce(
                &Credentials::new("admin", &password),
                &Request::new("GET", "/"),
                "c",
            )
            .unwrap()
    }

    #[test]
    fn fresh_then_cached_with_rising_counts() {
        let mut session = DigestSession::new();
        assert!(answer(&mut session).is_none());
        assert_eq!(
            session.on_unauthorized(None, [CHALLENGE]).unwrap(),
            Unauthorized::Challenged
        );
        assert_eq!(
            session.realm().unwrap().as_str(),
            "Digest:A4070000000000000000000000000000"
        );
        let first = answer(&mut session).unwrap();
        assert_eq!(
            (first.nonce_use(), first.nonce_count()),
            (NonceUse::Fresh, NonceCount::FIRST)
        );
        for expected in 2..=5 {
            let next = answer(&mut session).unwrap();
            assert_eq!(next.nonce_use(), NonceUse::Cached);
            assert_eq!(next.nonce_count(), NonceCount::new(expected));
        }
        assert_eq!(session.nonce_count(), NonceCount::new(5));
    }

    #[test]
    fn triages_refusals_by_nonce_use() {
        let mut session = DigestSession::new();
        session.on_unauthorized(None, [CHALLENGE]).unwrap();
        let stale = CHALLENGE.replace("n1", "n2").replace("false", "true");
        assert_eq!(
            session
                .on_unauthorized(Some(NonceUse::Cached), [stale.as_str()])
                .unwrap(),
            Unauthorized::NonceRefused { stale: true }
        );
        assert_eq!(
            session
                .on_unauthorized(Some(NonceUse::Fresh), [stale.as_str()])
                .unwrap(),
            Unauthorized::CredentialsRejected { stale: true }
        );
        assert_eq!(
            session
                .on_unauthorized(Some(NonceUse::Fresh), [CHALLENGE])
                .unwrap(),
            Unauthorized::CredentialsRejected { stale: false }
        );
        assert!(!Unauthorized::CredentialsRejected { stale: true }.should_retry());
        assert!(Unauthorized::NonceRefused { stale: false }.should_retry());
    }

    #[test]
    fn a_repeated_nonce_keeps_counting() {
        let mut session = DigestSession::new();
        session.on_unauthorized(None, [CHALLENGE]).unwrap();
        answer(&mut session);
        answer(&mut session);
        session
            .on_unauthorized(Some(NonceUse::Cached), [CHALLENGE])
            .unwrap();
        let next = answer(&mut session).unwrap();
        assert_eq!(
            (next.nonce_use(), next.nonce_count()),
            (NonceUse::Fresh, NonceCount::new(3))
        );
        let other = CHALLENGE.replace("n1", "n9");
        session
            .on_unauthorized(Some(NonceUse::Cached), [other.as_str()])
            .unwrap();
        assert_eq!(
            answer(&mut session).unwrap().nonce_count(),
            NonceCount::FIRST
        );
    }

    #[test]
    fn reports_a_realm_change_and_keeps_the_pin() {
        let mut session = DigestSession::new();
        session.on_unauthorized(None, [CHALLENGE]).unwrap();
        let foreign = CHALLENGE.replace("A407", "B508");
        let verdict = session
            .on_unauthorized(Some(NonceUse::Cached), [foreign.as_str()])
            .unwrap();
        assert!(
            matches!(verdict, Unauthorized::RealmChanged { ref found, .. } if found.as_str().contains("B508"))
        );
        assert!(!verdict.should_retry());
        assert!(session.challenge().is_none());
        assert!(answer(&mut session).is_none());
        assert!(matches!(
            session.on_unauthorized(None, [foreign.as_str()]).unwrap(),
            Unauthorized::RealmChanged { .. }
        ));
        let mut pinned = DigestSession::with_realm(Realm::new("other").unwrap());
        assert!(matches!(
            pinned.on_unauthorized(None, [CHALLENGE]).unwrap(),
            Unauthorized::RealmChanged { .. }
        ));
    }

    #[test]
    fn an_unreadable_401_drops_the_cache() {
        let mut session = DigestSession::new();
        session.on_unauthorized(None, [CHALLENGE]).unwrap();
        assert!(
            session
                .on_unauthorized(Some(NonceUse::Cached), [r#"Basic realm="x""#])
                .is_err()
        );
        assert!(session.challenge().is_none());
    }

    #[test]
    fn exhausted_count_asks_for_a_new_challenge() {
        let mut session = DigestSession::new();
        session.on_unauthorized(None, [CHALLENGE]).unwrap();
        if let Some(cached) = session.cached.as_mut() {
            cached.last_count = u32::MAX - 1;
        }
        assert_eq!(
            answer(&mut session).unwrap().nonce_count(),
            NonceCount::new(u32::MAX)
        );
        assert!(answer(&mut session).is_none());
        assert!(session.challenge().is_none());
    }

    #[test]
    fn an_exhausted_nonce_offered_again_is_refused_not_restarted() {
        let mut session = DigestSession::new();
        session.on_unauthorized(None, [CHALLENGE]).unwrap();
        if let Some(cached) = session.cached.as_mut() {
            cached.last_count = u32::MAX;
        }
        assert!(answer(&mut session).is_none());
        // The device answers the request without Authorization with the same nonce: nc=1
        // would be a replay to it, and its refusal of that fresh try a false wrong password.
        assert_eq!(
            session.on_unauthorized(None, [CHALLENGE]),
            Err(Error::NonceExhausted)
        );
        assert!(session.challenge().is_none());
        assert!(answer(&mut session).is_none());
        assert_eq!(
            session.on_unauthorized(Some(NonceUse::Cached), [CHALLENGE]),
            Err(Error::NonceExhausted)
        );
        // Another nonce is answered from 1; the exhausted one stays refused.
        let other = CHALLENGE.replace("n1", "n2");
        session.on_unauthorized(None, [other.as_str()]).unwrap();
        assert_eq!(
            answer(&mut session).unwrap().nonce_count(),
            NonceCount::FIRST
        );
        assert_eq!(
            session.on_unauthorized(Some(NonceUse::Cached), [CHALLENGE]),
            Err(Error::NonceExhausted)
        );
        // Once the device is known to have restarted, its counts are gone: answer from 1.
        session.forget_challenge();
        session.on_unauthorized(None, [CHALLENGE]).unwrap();
        assert_eq!(
            answer(&mut session).unwrap().nonce_count(),
            NonceCount::FIRST
        );
    }

    #[test]
    fn a_401_repeating_a_nonce_at_its_last_count_is_refused() {
        let mut session = DigestSession::new();
        session.on_unauthorized(None, [CHALLENGE]).unwrap();
        if let Some(cached) = session.cached.as_mut() {
            cached.last_count = u32::MAX - 1;
        }
        let last = answer(&mut session).unwrap();
        assert_eq!(last.nonce_count(), NonceCount::new(u32::MAX));
        assert_eq!(
            session.on_unauthorized(Some(last.nonce_use()), [CHALLENGE]),
            Err(Error::NonceExhausted)
        );
        assert!(answer(&mut session).is_none());
    }

    #[test]
    fn random_cnonce_is_hex_of_the_given_bytes() {
        let mut session = DigestSession::new();
        session.on_unauthorized(None, [CHALLENGE]).unwrap();
        let password = SecretString::from("pw");
        let value = session
            .authorize(
                &Credentials::new("admin", &password),
                &Request::new("GET", "/"),
                &mut |buf| buf.fill(0xab),
            )
            .unwrap()
            .unwrap();
        assert!(
            value
                .as_str()
                .contains(&format!("cnonce=\"{}\"", "ab".repeat(16)))
        );
        assert!(!format!("{value:?}").contains("response"));
    }
}
