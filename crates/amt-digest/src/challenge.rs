//! `WWW-Authenticate` challenges: the generic parse, the Digest reading, and the answer.

use std::fmt;
use std::str::FromStr;

use crate::algorithm::{Algorithm, Qop, QopOffer};
use crate::error::{Error, clip};
use crate::request::{
    Credentials, DigestInputs, NonceCount, QopFields, Request, request_digest, user_hash,
};
use crate::syntax::{
    Element, can_quote, parse_challenge_elements, parse_elements, pick_params, push_ext_value,
    push_quoted, push_token, scheme_list,
};

/// A protection space name (`realm`). Intel AMT's is `Digest:` and 32 upper-case hex digits,
/// stable for the life of the device, so a different realm means a different device answered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Realm(String);

impl Realm {
    /// A realm from text that can be sent in a quoted string (printable ASCII, space, tab).
    pub fn new(realm: impl Into<String>) -> Result<Self, Error> {
        let realm = realm.into();
        if !can_quote(&realm) {
            return Err(Error::InvalidInput {
                field: "realm",
                reason: "it holds control characters or non-ASCII bytes",
            });
        }
        Ok(Self(realm))
    }

    /// An Intel AMT style realm, `Digest:` followed by `id` as 32 upper-case hex digits.
    pub fn amt(id: [u8; 16]) -> Self {
        let mut realm = String::with_capacity(39);
        realm.push_str("Digest:");
        for byte in id {
            realm.push_str(&format!("{byte:02X}"));
        }
        Self(realm)
    }

    /// The realm's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Realm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Realm {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A server nonce, opaque to the client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nonce(String);

impl Nonce {
    /// A nonce from text that can be sent in a quoted string.
    pub fn new(nonce: impl Into<String>) -> Result<Self, Error> {
        let nonce = nonce.into();
        if !can_quote(&nonce) {
            return Err(Error::InvalidInput {
                field: "nonce",
                reason: "it holds control characters or non-ASCII bytes",
            });
        }
        Ok(Self(nonce))
    }

    /// The nonce's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Nonce {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// One challenge of any scheme as RFC 7235 reads it: the scheme and either parameters (names as
/// written, values unquoted and unescaped) or a token68 blob.
///
/// [`parse_challenges`] returns these; they exist so that callers and fuzzers can see exactly
/// what the reader understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthChallenge {
    element: Element,
}

impl AuthChallenge {
    /// The scheme as written, e.g. `Digest` or `basic`.
    pub fn scheme(&self) -> &str {
        &self.element.scheme
    }

    /// Whether the scheme is Digest (compared without regard to case).
    pub fn is_digest(&self) -> bool {
        self.element.is_digest()
    }

    /// The parameters in order, as `(name, value)`.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.element
            .params
            .iter()
            .map(|param| (param.name.as_str(), param.value.as_str()))
    }

    /// The first parameter named `name`, compared without regard to case.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The token68 blob, for schemes that use one (e.g. `Negotiate`).
    pub fn token68(&self) -> Option<&str> {
        self.element.token68.as_deref()
    }
}

/// Parses one `WWW-Authenticate` value into all the challenges it holds, of every scheme.
///
/// Strict: one broken challenge, or one control or non-ASCII byte anywhere, fails the whole
/// value, since the result claims to be all of it. Most callers want
/// [`Challenge::from_headers`], which picks the Digest challenge to answer and skips broken
/// challenges one by one.
pub fn parse_challenges(header_value: &str) -> Result<Vec<AuthChallenge>, Error> {
    Ok(parse_elements(header_value)?
        .into_iter()
        .map(|element| AuthChallenge { element })
        .collect())
}

/// A Digest challenge (RFC 7616 3.3), ready to be answered.
///
/// Only challenges this crate can answer are built: the algorithm is known, a `qop` parameter
/// offers `auth` or `auth-int`, and a `-sess` algorithm comes with a `qop`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    realm: Realm,
    nonce: Nonce,
    opaque: Option<String>,
    domain: Option<String>,
    algorithm: Algorithm,
    /// Whether the challenge had an `algorithm` parameter; the answer then names it too.
    algorithm_named: bool,
    qop: Option<QopOffer>,
    stale: bool,
    userhash: bool,
}

impl Challenge {
    /// Picks the challenge to answer from the `WWW-Authenticate` values of one response.
    ///
    /// The first Digest challenge that can be answered wins, across all values in order, as
    /// RFC 7616 3.7 asks. Other schemes are skipped, and so is a challenge that cannot be read
    /// (bad syntax, a control or non-ASCII byte): each challenge is checked on its own, so
    /// `Basic realm="Zürich", Digest …` is answered. A broken piece named like a Digest
    /// parameter (`qop "auth"`) right after a Digest challenge breaks that challenge instead of
    /// standing alone, so a mangled parameter is never silently dropped. When no Digest
    /// challenge can be answered, the first error met is returned, or
    /// [`Error::NoDigestChallenge`] if there was none.
    pub fn from_headers<'h>(values: impl IntoIterator<Item = &'h str>) -> Result<Self, Error> {
        let mut first_error = None;
        let mut schemes = Vec::new();
        let mut any_value = false;
        for value in values {
            any_value = true;
            let pieces = match parse_challenge_elements(value) {
                Ok(pieces) => pieces,
                Err(error) => {
                    first_error.get_or_insert(error);
                    continue;
                }
            };
            for piece in pieces {
                match piece {
                    Ok(element) if element.is_digest() => match Self::from_element(&element) {
                        Ok(challenge) => return Ok(challenge),
                        Err(error) => {
                            first_error.get_or_insert(error);
                        }
                    },
                    Ok(element) => schemes.push(element.scheme),
                    Err(broken) => {
                        first_error.get_or_insert(broken.error);
                    }
                }
            }
        }
        if !any_value {
            return Err(Error::Empty);
        }
        Err(first_error.unwrap_or_else(|| Error::NoDigestChallenge {
            schemes: scheme_list(schemes.iter().map(String::as_str)),
        }))
    }

    pub(crate) fn from_element(element: &Element) -> Result<Self, Error> {
        if !element.is_digest() {
            return Err(Error::NoDigestChallenge {
                schemes: clip(&element.scheme),
            });
        }
        if element.token68.is_some() {
            return Err(Error::UnexpectedToken68);
        }
        let [
            realm,
            nonce,
            opaque,
            domain,
            algorithm,
            qop,
            stale,
            userhash,
        ] = pick_params(
            element,
            [
                "realm",
                "nonce",
                "opaque",
                "domain",
                "algorithm",
                "qop",
                "stale",
                "userhash",
            ],
        )?;
        let missing = |name| Error::MissingParameter {
            context: "challenge",
            name,
        };
        let realm = Realm(realm.ok_or_else(|| missing("realm"))?.to_owned());
        let nonce = Nonce(nonce.ok_or_else(|| missing("nonce"))?.to_owned());
        let algorithm_named = algorithm.is_some();
        let algorithm = algorithm.map_or(Ok(Algorithm::Md5), str::parse)?;
        let qop = match qop {
            Some(offered) => {
                Some(
                    QopOffer::parse(offered).ok_or_else(|| Error::UnsupportedQop {
                        offered: clip(offered),
                    })?,
                )
            }
            None => None,
        };
        if qop.is_none() && algorithm.is_session() {
            return Err(Error::SessionWithoutQop { algorithm });
        }
        let is_true = |flag: Option<&str>| flag.is_some_and(|v| v.eq_ignore_ascii_case("true"));
        Ok(Self {
            realm,
            nonce,
            opaque: opaque.map(str::to_owned),
            domain: domain.map(str::to_owned),
            algorithm,
            algorithm_named,
            qop,
            stale: is_true(stale),
            userhash: is_true(userhash),
        })
    }

    /// The protection space.
    pub fn realm(&self) -> &Realm {
        &self.realm
    }

    /// The server nonce.
    pub fn nonce(&self) -> &Nonce {
        &self.nonce
    }

    /// The `opaque` value to echo, when the server sent one (Intel AMT does not).
    pub fn opaque(&self) -> Option<&str> {
        self.opaque.as_deref()
    }

    /// The `domain` parameter (space-separated URIs of the protection space), if any.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The algorithm, [`Algorithm::Md5`] when the challenge names none.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The qop values offered; `None` for the RFC 2069 form without `qop`.
    pub fn qop(&self) -> Option<QopOffer> {
        self.qop
    }

    /// Whether the server said the previous nonce was stale (`stale=true`).
    pub fn stale(&self) -> bool {
        self.stale
    }

    /// Whether the server asked for the user name to be hashed (`userhash=true`).
    pub fn userhash(&self) -> bool {
        self.userhash
    }

    /// Renders the `Authorization` value answering this challenge, without state.
    ///
    /// `nc` and `cnonce` are used only when the challenge offers a qop; `cnonce` must then be
    /// non-empty and quotable. Per-device callers want [`DigestSession`](crate::DigestSession),
    /// which keeps the nonce count and draws the cnonce.
    ///
    /// The fields come in a fixed order: `username` (or `username*` for names that cannot be
    /// quoted, or the hash with `userhash=true`), `realm`, `uri`, `nonce`, `algorithm`, `nc`,
    /// `cnonce`, `qop`, `response`, `opaque`; `username`, `realm`, `uri`, `nonce`, `cnonce`,
    /// `response` and `opaque` quoted, `algorithm`, `nc` and `qop` not. `nc`, `cnonce` and
    /// `qop` appear only when the challenge offers a qop; `algorithm` then too, and without
    /// qop (the RFC 2069 form) whenever the challenge named an algorithm.
    pub fn answer(
        &self,
        credentials: &Credentials<'_>,
        request: &Request<'_>,
        nc: NonceCount,
        cnonce: &str,
    ) -> Result<String, Error> {
        request.check_sendable()?;
        let nc_text = nc.to_string();
        let qop_fields = match self.qop {
            Some(offer) => {
                if cnonce.is_empty() || !can_quote(cnonce) {
                    return Err(Error::InvalidInput {
                        field: "cnonce",
                        reason: "it must be non-empty printable ASCII",
                    });
                }
                Some(QopFields {
                    qop: offer.preferred(),
                    nc: &nc_text,
                    cnonce,
                })
            }
            None => None,
        };
        let realm = self.realm.as_str();
        let response = request_digest(&DigestInputs {
            algorithm: self.algorithm,
            credentials,
            realm,
            nonce: self.nonce.as_str(),
            request,
            qop: qop_fields,
        });

        let mut out = String::with_capacity(384);
        out.push_str("Digest ");
        let username = credentials.username();
        if self.userhash {
            push_quoted(
                &mut out,
                "username",
                user_hash(self.algorithm, username, realm).as_str(),
            );
            push_token(&mut out, "userhash", "true");
        } else if can_quote(username) {
            push_quoted(&mut out, "username", username);
        } else {
            push_ext_value(&mut out, "username", username);
        }
        push_quoted(&mut out, "realm", realm);
        push_quoted(&mut out, "uri", request.uri());
        push_quoted(&mut out, "nonce", self.nonce.as_str());
        // Without qop the answer names the algorithm only when the challenge did: a server
        // reads a missing one as MD5, so an unnamed SHA-256 would be checked with the wrong hash.
        if self.qop.is_some() || self.algorithm_named {
            push_token(&mut out, "algorithm", self.algorithm.as_str());
        }
        if let Some(offer) = self.qop {
            push_token(&mut out, "nc", &nc_text);
            push_quoted(&mut out, "cnonce", cnonce);
            push_token(&mut out, "qop", offer.preferred().as_str());
        }
        push_quoted(&mut out, "response", response.as_str());
        if let Some(opaque) = &self.opaque {
            push_quoted(&mut out, "opaque", opaque);
        }
        out.truncate(out.len().saturating_sub(2));
        Ok(out)
    }

    /// The qop this crate answers the challenge with.
    pub fn chosen_qop(&self) -> Option<Qop> {
        self.qop.map(QopOffer::preferred)
    }
}

impl TryFrom<&AuthChallenge> for Challenge {
    type Error = Error;

    /// Reads a parsed challenge as Digest; fails for other schemes and unanswerable ones.
    fn try_from(challenge: &AuthChallenge) -> Result<Self, Error> {
        Self::from_element(&challenge.element)
    }
}

impl FromStr for Challenge {
    type Err = Error;

    /// Picks the Digest challenge from one `WWW-Authenticate` value, as
    /// [`Challenge::from_headers`] does.
    fn from_str(header_value: &str) -> Result<Self, Error> {
        Self::from_headers([header_value])
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    const AMT_16: &str = r#"Digest realm="Digest:2517B2332AFD88353D5F5FD352697901", nonce="Yy3m0RYAAAAAAAAAk4bo6tCQ+jE9xJh/",stale="false",qop="auth-int, auth""#;

    #[test]
    fn reads_amt_16_challenge() {
        let challenge: Challenge = AMT_16.parse().unwrap();
        assert_eq!(
            challenge.realm().as_str(),
            "Digest:2517B2332AFD88353D5F5FD352697901"
        );
        assert_eq!(
            challenge.nonce().as_str(),
            "Yy3m0RYAAAAAAAAAk4bo6tCQ+jE9xJh/"
        );
        assert_eq!(challenge.algorithm(), Algorithm::Md5);
        assert_eq!(challenge.qop(), Some(QopOffer::AUTH_INT_AND_AUTH));
        assert_eq!(challenge.chosen_qop(), Some(Qop::Auth));
        assert!(!challenge.stale());
        assert_eq!(challenge.opaque(), None);
    }

    #[test]
    fn skips_basic_and_unanswerable_digest() {
        let challenge = Challenge::from_headers([
            r#"Basic realm="x""#,
            r#"Digest realm="a", nonce="1", algorithm=SHA-1, Digest realm="b", nonce="2", algorithm=sha-256"#,
        ])
        .unwrap();
        assert_eq!(challenge.realm().as_str(), "b");
        assert_eq!(challenge.algorithm(), Algorithm::Sha256);
    }

    #[test]
    fn explains_why_nothing_can_be_answered() {
        assert_eq!(
            Challenge::from_headers([r#"Basic realm="x""#, "Negotiate"]),
            Err(Error::NoDigestChallenge {
                schemes: "Basic, Negotiate".to_owned()
            })
        );
        assert_eq!(
            Challenge::from_str(r#"Digest nonce="n""#),
            Err(Error::MissingParameter {
                context: "challenge",
                name: "realm"
            })
        );
        assert_eq!(
            Challenge::from_str(r#"Digest realm="r", nonce="n", qop="auth-conf""#),
            Err(Error::UnsupportedQop {
                offered: "auth-conf".to_owned()
            })
        );
        assert_eq!(
            Challenge::from_str(r#"Digest realm="r", nonce="n", algorithm=MD5-sess"#),
            Err(Error::SessionWithoutQop {
                algorithm: Algorithm::Md5Sess
            })
        );
        assert_eq!(
            Challenge::from_str("Digest abc=="),
            Err(Error::UnexpectedToken68)
        );
        assert_eq!(Challenge::from_headers([]), Err(Error::Empty));
    }

    #[test]
    fn answers_rfc_2617_example() {
        let challenge: Challenge = r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#
            .parse()
            .unwrap();
        let password = SecretString::from("Circle Of Life");
        let answer = challenge
            .answer(
                &Credentials::new("Mufasa", &password),
                &Request::new("GET", "/dir/index.html"),
                NonceCount::FIRST,
                "0a4f113b",
            )
            .unwrap();
        assert_eq!(
            answer,
            r#"Digest username="Mufasa", realm="testrealm@host.com", uri="/dir/index.html", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", algorithm=MD5, nc=00000001, cnonce="0a4f113b", qop=auth, response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#
        );
    }

    #[test]
    fn names_the_algorithm_without_qop_when_the_challenge_did() {
        let password = SecretString::from("pw");
        let credentials = Credentials::new("admin", &password);
        let request = Request::new("GET", "/");
        let answer = |header: &str| {
            header
                .parse::<Challenge>()
                .unwrap()
                .answer(&credentials, &request, NonceCount::FIRST, "unused")
                .unwrap()
        };
        let sha = answer(r#"Digest realm="r", nonce="n", algorithm=SHA-256"#);
        assert!(
            sha.contains(r#"nonce="n", algorithm=SHA-256, response=""#),
            "{sha}"
        );
        assert!(!sha.contains("nc=") && !sha.contains("cnonce") && !sha.contains("qop"));
        let md5 = answer(r#"Digest realm="r", nonce="n", algorithm=md5"#);
        assert!(md5.contains(", algorithm=MD5, "), "{md5}");
        // AMT's form names none, and neither does the answer.
        let amt = answer(r#"Digest realm="r", nonce="n""#);
        assert!(!amt.contains("algorithm"), "{amt}");
    }

    #[test]
    fn refuses_unsendable_inputs() {
        let challenge: Challenge = AMT_16.parse().unwrap();
        let password = SecretString::from("pw");
        let credentials = Credentials::new("admin", &password);
        let request = Request::new("POST", "/wsman");
        assert!(matches!(
            challenge.answer(&credentials, &request, NonceCount::FIRST, ""),
            Err(Error::InvalidInput {
                field: "cnonce",
                ..
            })
        ));
        assert!(matches!(
            challenge.answer(&credentials, &request, NonceCount::FIRST, "a\nb"),
            Err(Error::InvalidInput {
                field: "cnonce",
                ..
            })
        ));
        assert!(matches!(
            challenge.answer(
                &credentials,
                &Request::new("POST", "/\u{1}"),
                NonceCount::FIRST,
                "c"
            ),
            Err(Error::InvalidInput { field: "uri", .. })
        ));
    }

    #[test]
    fn realm_and_nonce_newtypes_validate() {
        assert_eq!(
            Realm::amt([0xA4, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).as_str(),
            "Digest:A4070000000000000000000000000000"
        );
        assert!(Realm::new("ok realm").is_ok());
        assert!(Realm::new("bad\u{0}").is_err());
        assert!(Nonce::new("caf\u{e9}").is_err());
        assert_eq!(Nonce::new("abc").unwrap().to_string(), "abc");
    }

    #[test]
    fn generic_challenges_expose_params() {
        let all = parse_challenges(r#"Basic realm="b", Digest Realm="d", nonce=n"#).unwrap();
        assert_eq!(all.len(), 2);
        assert!(!all[0].is_digest());
        assert!(all[1].is_digest());
        assert_eq!(all[1].param("realm"), Some("d"));
        assert_eq!(all[1].params().count(), 2);
        assert_eq!(all[0].token68(), None);
        assert!(Challenge::try_from(&all[0]).is_err());
        assert_eq!(Challenge::try_from(&all[1]).unwrap().realm().as_str(), "d");
    }
}
