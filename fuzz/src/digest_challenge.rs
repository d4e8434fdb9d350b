//! `digest_challenge`: `amt-digest` reading and answering arbitrary `WWW-Authenticate` values,
//! differentially against the `http-auth` crate (0.1.10).
//!
//! For every input [`amt_digest::fuzzing::www_authenticate`] reports the generic reading, the
//! answer to each Digest challenge, and what a [`DigestSession`](amt_digest::DigestSession)
//! does; the session must answer as the first answerable challenge does. Where `http-auth`
//! reads the value too, both must see the same challenges with the same parameters, and for
//! each Digest challenge both must write the same `Authorization` for the same cnonce, except
//! for the differences that `amt_digest::fuzzing` documents:
//!
//! - `auth-int`: `http-auth` hashes the raw body where RFC 7616 has `H(body)`, so it is handed
//!   the hex `H(body)` as its body;
//! - an empty `opaque=""` is echoed by `amt-digest` and dropped by `http-auth`;
//! - without `qop`, `amt-digest` names the algorithm in its answer when the challenge named
//!   one, and `http-auth` leaves it out (so a server would check its SHA-256 answer as MD5):
//!   the harness takes the field out of `amt-digest`'s answer after checking it is there;
//! - `amt-digest` refuses a `-sess` algorithm without `qop`, a repeated `stale` or `algorithm`
//!   (where `http-auth` keeps the last), and rejects control and non-ASCII bytes and values over
//!   [`MAX_HEADER_LEN`] (so such inputs are not compared);
//! - `amt-digest` reads algorithm names in any case and `qop` tokens separated by whitespace,
//!   which `http-auth` refuses.

use amt_digest::fuzzing::{self, BODY, CNONCE, METHOD, PASSWORD, URI, USERNAME};
use amt_digest::{Algorithm, Challenge, Error, MAX_HEADER_LEN, Qop};
use sha2::Digest as _;

/// Runs the target on one input (bytes that are not UTF-8 are no header value).
pub fn run(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let report = fuzzing::www_authenticate(input);

    let first_answer = report
        .answers
        .iter()
        .find_map(|answer| answer.as_ref().ok())
        .map(|(_, authorization)| authorization.as_str());
    match (&report.session, first_answer) {
        (Ok(Some(session)), Some(first)) => assert_eq!(
            session, first,
            "the session must answer as the first answerable challenge"
        ),
        (Ok(Some(_)), None) => panic!("the session answered a value with no answerable challenge"),
        (Err(error), Some(_)) => {
            panic!("the session refused a value with an answerable challenge: {error:?}")
        }
        (Ok(None) | Err(_), None) | (Ok(None), Some(_)) => {}
    }

    let comparable = input.len() <= MAX_HEADER_LEN
        && input
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
    if !comparable {
        return;
    }
    let Ok(theirs) = http_auth::parse_challenges(input) else {
        // amt-digest is deliberately more tolerant; nothing to compare with.
        return;
    };
    let ours = match &report.challenges {
        Ok(ours) => ours,
        Err(error) => panic!("http-auth reads {input:?}, amt-digest refuses it: {error:?}"),
    };
    assert_eq!(
        ours.len(),
        theirs.len(),
        "not the same number of challenges in {input:?}"
    );
    for (our, their) in ours.iter().zip(&theirs) {
        assert!(
            our.scheme().eq_ignore_ascii_case(their.scheme),
            "schemes differ in {input:?}"
        );
        let our_params: Vec<(String, &str)> = our
            .params()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        let their_values: Vec<String> =
            their.params.iter().map(|(_, v)| v.to_unescaped()).collect();
        let their_params: Vec<(String, &str)> = their
            .params
            .iter()
            .zip(&their_values)
            .map(|((name, _), value)| (name.to_ascii_lowercase(), value.as_str()))
            .collect();
        assert_eq!(our_params, their_params, "parameters differ in {input:?}");
    }

    let their_digest = theirs
        .iter()
        .filter(|challenge| challenge.scheme.eq_ignore_ascii_case("Digest"));
    for (answer, their) in report.answers.iter().zip(their_digest) {
        let client = http_auth::DigestClient::try_from(their);
        match (answer, client) {
            (Ok((challenge, ours)), Ok(mut client)) => {
                if let Some(chosen) = challenge.chosen_qop()
                    && !offers_qop(their, chosen)
                {
                    // amt-digest also splits qop tokens at whitespace, so it may see a qop that
                    // http-auth does not (`qop="auth-int,x auth"`): no common answer to compare.
                    assert!(
                        spaced_qop(their),
                        "http-auth does not see the {chosen} that amt-digest chose in {input:?}"
                    );
                    continue;
                }
                let hashed_body = body_hash(challenge.algorithm());
                let body = (challenge.chosen_qop() == Some(Qop::AuthInt))
                    .then_some(hashed_body.as_bytes());
                let params = http_auth::PasswordParams {
                    username: USERNAME,
                    password: PASSWORD,
                    uri: URI,
                    method: METHOD,
                    body,
                };
                let theirs = client
                    .respond_with_testing_cnonce(&params, CNONCE)
                    .unwrap_or_else(|error| {
                        panic!(
                            "http-auth cannot answer what amt-digest answers: {error}; {input:?}"
                        )
                    });
                let ours = if challenge.opaque() == Some("") {
                    ours.replace(r#", opaque="""#, "")
                } else {
                    ours.clone()
                };
                let ours = if challenge.qop().is_none() && param(their, "algorithm").is_some() {
                    without_rfc2069_algorithm(&ours, challenge, input)
                } else {
                    ours
                };
                assert_eq!(ours, theirs, "answers differ for {input:?}");
            }
            (Err(error), Ok(client)) => assert!(
                known_refusal(error, &client, their),
                "amt-digest refuses what http-auth answers: {error:?}; {input:?}"
            ),
            (Ok((challenge, _)), Err(their_error)) => assert!(
                known_tolerance(challenge, their),
                "amt-digest answers what http-auth refuses ({their_error}): {input:?}"
            ),
            (Err(_), Err(_)) => {}
        }
    }
}

/// Whether amt-digest's refusal of a challenge that http-auth answers is a documented one.
fn known_refusal(
    error: &Error,
    client: &http_auth::DigestClient,
    their: &http_auth::ChallengeRef<'_>,
) -> bool {
    match error {
        Error::SessionWithoutQop { .. } => client.session(),
        Error::DuplicateParameter { name } => {
            let repeated = their
                .params
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .count();
            repeated > 1
                && (name.eq_ignore_ascii_case("stale") || name.eq_ignore_ascii_case("algorithm"))
        }
        _ => false,
    }
}

/// Whether amt-digest's answer to a challenge that http-auth refuses is a documented tolerance.
fn known_tolerance(challenge: &Challenge, their: &http_auth::ChallengeRef<'_>) -> bool {
    let algorithm_case =
        param(their, "algorithm").is_some_and(|written| written != challenge.algorithm().as_str());
    algorithm_case || spaced_qop(their)
}

/// The unescaped value of the first parameter `name` of a challenge as http-auth read it.
fn param(their: &http_auth::ChallengeRef<'_>, name: &str) -> Option<String> {
    their
        .params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.to_unescaped())
}

/// Whether http-auth reads `qop` as one of the challenge's comma-separated `qop` tokens.
fn offers_qop(their: &http_auth::ChallengeRef<'_>, qop: Qop) -> bool {
    param(their, "qop").is_some_and(|offer| {
        offer
            .split(',')
            .any(|token| token.trim().eq_ignore_ascii_case(qop.as_str()))
    })
}

/// Whether the challenge's `qop` has a comma-separated item with whitespace inside, which
/// amt-digest splits into tokens and http-auth reads as one (unknown) token.
fn spaced_qop(their: &http_auth::ChallengeRef<'_>) -> bool {
    param(their, "qop").is_some_and(|offer| {
        offer
            .split(',')
            .any(|token| token.trim().contains([' ', '\t']))
    })
}

/// Takes the `algorithm` that amt-digest names in an answer without qop out of it, for the
/// comparison with http-auth, which leaves it out (see the module docs); panics if it is not
/// right after the nonce, where amt-digest writes it.
fn without_rfc2069_algorithm(ours: &str, challenge: &Challenge, input: &str) -> String {
    // `, nonce="` occurs once: inside a quoted value every `"` is escaped.
    let mut nonce = String::from(", nonce=\"");
    for c in challenge.nonce().as_str().chars() {
        if c == '"' || c == '\\' {
            nonce.push('\\');
        }
        nonce.push(c);
    }
    nonce.push('"');
    let named = format!("{nonce}, algorithm={}, response=\"", challenge.algorithm());
    assert!(
        ours.contains(&named),
        "amt-digest does not name the challenge's algorithm without qop: {ours}; {input:?}"
    );
    ours.replacen(&named, &format!("{nonce}, response=\""), 1)
}

/// The hex `H(BODY)` under `algorithm`, what RFC 7616 puts into `A2` for `auth-int`.
fn body_hash(algorithm: Algorithm) -> String {
    let digest = match algorithm {
        Algorithm::Md5 | Algorithm::Md5Sess => md5::Md5::digest(BODY).to_vec(),
        Algorithm::Sha256 | Algorithm::Sha256Sess => sha2::Sha256::digest(BODY).to_vec(),
        _ => sha2::Sha512_256::digest(BODY).to_vec(),
    };
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}
