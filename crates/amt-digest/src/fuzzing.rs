//! Entry points for fuzzers: any string in, a full report out, never a panic.
//!
//! A cargo-fuzz target calls [`www_authenticate`] or [`authorization`] with arbitrary input;
//! ordinary tests replay seed corpora through the same functions so stable CI covers them.
//! The fixed inputs below are public so that a differential harness can hand the same ones to
//! another implementation (such as the `http-auth` crate) and compare.
//!
//! Known, deliberate differences from `http-auth` 0.1.10, which a differential harness must
//! allow for:
//! - `auth-int`: `http-auth` hashes the raw body into `A2`; RFC 7616 3.4.3 (and this crate)
//!   hash `H(body)`. Hand `http-auth` the hex `H(body)` as its body to compare.
//! - An empty `opaque=""` is echoed here; `http-auth` drops it.
//! - Without `qop` (the RFC 2069 form) the answer names the algorithm here whenever the
//!   challenge named one; `http-auth` leaves `algorithm` out, so a server reads its answer to
//!   an `algorithm=SHA-256` challenge as MD5 and refuses it. Take the field out of this
//!   crate's answer before comparing.
//! - A `-sess` algorithm without `qop` is refused here (it would need a cnonce, which RFC 2617
//!   forbids without qop); `http-auth` answers it.
//! - Algorithm names and `stale`/`userhash` flags are read without regard to case here; a
//!   repeated `stale` or `algorithm` is an error here, the last one wins there.
//! - Whitespace-separated `qop` tokens and parameters separated by whitespace alone are read
//!   here (Intel NUC firmware sends them); `http-auth` rejects them. Token68 challenges are
//!   read here too.

use std::time::Duration;

use secrecy::SecretString;

use crate::algorithm::QopOffer;
use crate::challenge::{AuthChallenge, Challenge, Realm, parse_challenges};
use crate::error::Error;
use crate::request::{Credentials, NonceCount, Request};
use crate::session::DigestSession;
use crate::syntax::parse_challenge_elements;
use crate::verifier::{Rejection, Verified, Verifier, VerifierConfig};

/// User name used to answer challenges and expected by the fixed verifier.
pub const USERNAME: &str = "admin";
/// Password used to answer challenges and expected by the fixed verifier.
pub const PASSWORD: &str = "Fuzz-P4ssw0rd!";
/// Request method.
pub const METHOD: &str = "POST";
/// Request URI.
pub const URI: &str = "/wsman";
/// Request body (hashed under `auth-int`).
pub const BODY: &[u8] = b"<s:Envelope/>";
/// The cnonce of every answer, with nonce count 1.
pub const CNONCE: &str = "0a4f113b";
/// The fixed verifier's realm.
pub const REALM: &str = "Digest:A4070000000000000000000000000000";
/// The byte the fixed verifier's random source repeats.
pub const RANDOM_BYTE: u8 = 0x42;
/// The nonce the fixed verifier has issued: base64 of [`RANDOM_BYTE`] repeated.
pub const NONCE: &str = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC";
/// The time at which the fixed verifier issued [`NONCE`] and verifies the input.
pub const NOW: Duration = Duration::from_secs(1_000);

/// What this crate made of a `WWW-Authenticate` value.
#[derive(Debug)]
#[non_exhaustive]
pub struct ChallengeReport {
    /// The generic RFC 7235 reading: every challenge of every scheme ([`parse_challenges`],
    /// which fails the whole value for one broken challenge).
    pub challenges: Result<Vec<AuthChallenge>, Error>,
    /// For each Digest challenge in order, read one by one as
    /// [`Challenge::from_headers`] does: its Digest reading and the answer to it with the fixed
    /// inputs and nonce count 1, or why it cannot be read or answered. Broken challenges of
    /// other schemes are left out. When `challenges` is `Ok`, these are its Digest challenges.
    pub answers: Vec<Result<(Challenge, String), Error>>,
    /// What a fresh [`DigestSession`] answers after this 401: the `Authorization` value it
    /// renders, or the error. It must equal the first `Ok` of `answers`.
    pub session: Result<Option<String>, Error>,
}

/// Parses any string as a `WWW-Authenticate` value and answers every Digest challenge in it.
pub fn www_authenticate(input: &str) -> ChallengeReport {
    let password = SecretString::from(PASSWORD);
    let credentials = Credentials::new(USERNAME, &password);
    let request = Request::new(METHOD, URI).with_body(BODY);
    let challenges = parse_challenges(input);
    let answers = match parse_challenge_elements(input) {
        Ok(pieces) => pieces
            .into_iter()
            .filter_map(|piece| match piece {
                Ok(element) if element.is_digest() => {
                    Some(Challenge::from_element(&element).and_then(|challenge| {
                        let answer =
                            challenge.answer(&credentials, &request, NonceCount::FIRST, CNONCE)?;
                        Ok((challenge, answer))
                    }))
                }
                Ok(_) => None,
                Err(broken) if broken.scheme.eq_ignore_ascii_case("Digest") => {
                    Some(Err(broken.error))
                }
                Err(_) => None,
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut session = DigestSession::new();
    let session = session.on_unauthorized(None, [input]).and_then(|_| {
        session
            .authorize_with_cnonce(&credentials, &request, CNONCE)
            .map(|answer| answer.map(|authorization| authorization.into_string()))
    });
    ChallengeReport {
        challenges,
        answers,
        session,
    }
}

/// The verifier [`authorization`] checks against: realm [`REALM`], MD5, `qop="auth-int, auth"`,
/// with [`NONCE`] issued at [`NOW`].
pub fn fixed_verifier() -> Verifier {
    let realm = Realm::new(REALM).unwrap_or_else(|_| Realm::amt([0; 16]));
    let mut config = VerifierConfig::new(realm);
    config.qop = QopOffer::AUTH_INT_AND_AUTH;
    let mut verifier = Verifier::new(config);
    let mut random = |buf: &mut [u8]| buf.fill(RANDOM_BYTE);
    let _ = verifier.challenge(NOW, &mut random);
    verifier
}

/// Parses any string as an `Authorization` value and verifies it with [`fixed_verifier`] for
/// `POST /wsman` with [`BODY`], user [`USERNAME`], password [`PASSWORD`], at [`NOW`].
pub fn authorization(input: &str) -> Result<Verified, Rejection> {
    let password = SecretString::from(PASSWORD);
    let credentials = Credentials::new(USERNAME, &password);
    let request = Request::new(METHOD, URI).with_body(BODY);
    fixed_verifier().verify(input, &request, &credentials, NOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_an_amt_challenge_consistently() {
        let report = www_authenticate(
            r#"Basic realm="x", Digest realm="Digest:A4070000000000000000000000000000", nonce="QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC",stale="false",qop="auth-int, auth""#,
        );
        assert_eq!(report.challenges.as_ref().map(Vec::len), Ok(2));
        assert_eq!(report.answers.len(), 1);
        let (_, answer) = report.answers[0].as_ref().unwrap();
        assert_eq!(
            report.session.as_ref().unwrap().as_deref(),
            Some(answer.as_str())
        );
        assert!(authorization(answer).is_ok());
    }

    #[test]
    fn garbage_is_reported_not_panicked_on() {
        let report = www_authenticate("Digest realm=\"");
        assert!(report.challenges.is_err() && report.session.is_err());
        assert!(matches!(
            report.answers.as_slice(),
            [Err(Error::UnterminatedQuote { offset: 13 })]
        ));
        assert!(matches!(
            authorization("\u{0}"),
            Err(Rejection::Malformed(_))
        ));
    }

    #[test]
    fn fixed_nonce_is_the_one_issued() {
        assert_eq!(fixed_verifier().outstanding_nonces(), 1);
        let mut verifier = fixed_verifier();
        let challenge: Challenge = verifier
            .challenge(NOW, &mut |buf| buf.fill(RANDOM_BYTE))
            .parse()
            .unwrap();
        assert_eq!(challenge.nonce().as_str(), NONCE);
    }
}
