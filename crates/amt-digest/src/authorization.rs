//! `Authorization` header values as a server reads them.

use std::fmt;
use std::str::FromStr;

use crate::algorithm::{Algorithm, Qop};
use crate::error::{Error, clip};
use crate::request::NonceCount;
use crate::syntax::{decode_ext_value, parse_single, pick_params};

/// Digest credentials parsed from an `Authorization` value (RFC 7616 3.4).
///
/// Tolerant where clients differ and the meaning is clear: names in any case, `qop` and `nc`
/// quoted or not, `nc` with fewer than 8 hex digits. `Debug` hides the `response` hash, which
/// would let a log reader test password guesses offline.
#[derive(Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    username: String,
    userhash: bool,
    realm: String,
    nonce: String,
    uri: String,
    response: String,
    algorithm: Option<Algorithm>,
    cnonce: Option<String>,
    opaque: Option<String>,
    qop: Option<Qop>,
    nc: Option<(NonceCount, String)>,
}

impl DigestCredentials {
    /// The user name: decoded from `username*` when sent that way, or the hash of user name and
    /// realm when [`userhash`](Self::userhash) is set.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// Whether `username` is a hash (RFC 7616 `userhash=true`).
    pub fn userhash(&self) -> bool {
        self.userhash
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The nonce the client answered.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The request URI the client hashed (`uri`).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The algorithm the client named; `None` means MD5.
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.algorithm
    }

    /// The client nonce, present whenever `qop` is.
    pub fn cnonce(&self) -> Option<&str> {
        self.cnonce.as_deref()
    }

    /// The echoed `opaque` value, if any.
    pub fn opaque(&self) -> Option<&str> {
        self.opaque.as_deref()
    }

    /// The qop the client chose; `None` for the RFC 2069 form.
    pub fn qop(&self) -> Option<Qop> {
        self.qop
    }

    /// The nonce count, present whenever `qop` is.
    pub fn nonce_count(&self) -> Option<NonceCount> {
        self.nc.as_ref().map(|(count, _)| *count)
    }

    /// `nc` exactly as sent, which is what the response hash covers.
    pub(crate) fn nc_text(&self) -> Option<&str> {
        self.nc.as_ref().map(|(_, text)| text.as_str())
    }

    pub(crate) fn response(&self) -> &str {
        &self.response
    }
}

impl FromStr for DigestCredentials {
    type Err = Error;

    /// Parses an `Authorization` header value.
    fn from_str(header_value: &str) -> Result<Self, Error> {
        let element = parse_single(header_value)?;
        if !element.is_digest() {
            return Err(Error::NotDigest {
                scheme: clip(&element.scheme),
            });
        }
        if element.token68.is_some() {
            return Err(Error::UnexpectedToken68);
        }
        let [
            username,
            username_ext,
            userhash,
            realm,
            nonce,
            uri,
            response,
            algorithm,
            cnonce,
            opaque,
            qop,
            nc,
        ] = pick_params(
            &element,
            [
                "username",
                "username*",
                "userhash",
                "realm",
                "nonce",
                "uri",
                "response",
                "algorithm",
                "cnonce",
                "opaque",
                "qop",
                "nc",
            ],
        )?;
        let missing = |name| Error::MissingParameter {
            context: "credentials",
            name,
        };
        let invalid = |name, reason| Error::InvalidParameter { name, reason };
        let userhash = userhash.is_some_and(|flag| flag.eq_ignore_ascii_case("true"));
        let username = match (username, username_ext) {
            (Some(plain), None) => plain.to_owned(),
            (None, Some(extended)) if !userhash => decode_ext_value(extended)?,
            (None, Some(_)) => {
                return Err(invalid("username*", "it cannot be combined with userhash"));
            }
            (Some(_), Some(_)) => {
                return Err(invalid("username*", "it cannot be combined with username"));
            }
            (None, None) => return Err(missing("username")),
        };
        let qop = match qop {
            Some(value) => Some(Qop::parse(value).ok_or_else(|| Error::UnsupportedQop {
                offered: clip(value),
            })?),
            None => None,
        };
        let nc = match (qop, nc) {
            (Some(_), None) => return Err(missing("nc")),
            (Some(_), Some(text)) => Some((
                NonceCount::parse(text)
                    .ok_or_else(|| invalid("nc", "it is not 1 to 8 hex digits"))?,
                text.to_owned(),
            )),
            (None, _) => None,
        };
        let cnonce = match (qop, cnonce) {
            (Some(_), None) => return Err(missing("cnonce")),
            (Some(_), Some(cnonce)) => Some(cnonce.to_owned()),
            (None, _) => None,
        };
        Ok(Self {
            username,
            userhash,
            realm: realm.ok_or_else(|| missing("realm"))?.to_owned(),
            nonce: nonce.ok_or_else(|| missing("nonce"))?.to_owned(),
            uri: uri.ok_or_else(|| missing("uri"))?.to_owned(),
            response: response.ok_or_else(|| missing("response"))?.to_owned(),
            algorithm: algorithm.map(str::parse).transpose()?,
            cnonce,
            opaque: opaque.map(str::to_owned),
            qop,
            nc,
        })
    }
}

impl fmt::Debug for DigestCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestCredentials")
            .field("username", &self.username)
            .field("userhash", &self.userhash)
            .field("realm", &self.realm)
            .field("nonce", &self.nonce)
            .field("uri", &self.uri)
            .field("algorithm", &self.algorithm)
            .field("cnonce", &self.cnonce)
            .field("opaque", &self.opaque)
            .field("qop", &self.qop)
            .field("nc", &self.nonce_count())
            .field("response", &"[REDACTED]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rfc_2617_credentials() {
        let credentials: DigestCredentials = r#"Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#
            .replace('\n', " ")
            .parse()
            .unwrap();
        assert_eq!(credentials.username(), "Mufasa");
        assert_eq!(credentials.realm(), "testrealm@host.com");
        assert_eq!(credentials.qop(), Some(Qop::Auth));
        assert_eq!(credentials.nonce_count(), Some(NonceCount::FIRST));
        assert_eq!(credentials.cnonce(), Some("0a4f113b"));
        assert_eq!(
            credentials.opaque(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        assert_eq!(credentials.algorithm(), None);
        assert!(!format!("{credentials:?}").contains("6629fae4"));
    }

    #[test]
    fn accepts_quoted_qop_and_short_nc() {
        let credentials: DigestCredentials =
            r#"Digest username="admin", realm="r", nonce="n", uri="/wsman", response="x", qop="auth", nc="1", cnonce="c""#
                .parse()
                .unwrap();
        assert_eq!(credentials.nonce_count(), Some(NonceCount::FIRST));
        assert_eq!(credentials.nc_text(), Some("1"));
    }

    #[test]
    fn decodes_extended_user_names() {
        let credentials: DigestCredentials =
            r#"Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm="r", nonce="n", uri="/", response="x""#
                .parse()
                .unwrap();
        assert_eq!(credentials.username(), "J\u{e4}s\u{f8}n Doe");
    }

    #[test]
    fn refuses_incomplete_or_contradictory_credentials() {
        let cases = [
            (r#"Basic YWRtaW46cHc="#, "NotDigest"),
            (
                r#"Digest realm="r", nonce="n", uri="/", response="x""#,
                "username",
            ),
            (
                r#"Digest username="u", nonce="n", uri="/", response="x""#,
                "realm",
            ),
            (
                r#"Digest username="u", realm="r", uri="/", response="x""#,
                "nonce",
            ),
            (
                r#"Digest username="u", realm="r", nonce="n", response="x""#,
                "uri",
            ),
            (
                r#"Digest username="u", realm="r", nonce="n", uri="/""#,
                "response",
            ),
            (
                r#"Digest username="u", realm="r", nonce="n", uri="/", response="x", qop=auth, cnonce="c""#,
                "nc",
            ),
            (
                r#"Digest username="u", realm="r", nonce="n", uri="/", response="x", qop=auth, nc=1"#,
                "cnonce",
            ),
            (
                r#"Digest username="u", realm="r", nonce="n", uri="/", response="x", qop=auth, nc=xyz, cnonce="c""#,
                "nc",
            ),
            (
                r#"Digest username="u", realm="r", nonce="n", uri="/", response="x", qop=auth-conf"#,
                "qop",
            ),
            (
                r#"Digest username="u", realm="r", nonce="n", uri="/", response="x", algorithm=SHA-1"#,
                "algorithm",
            ),
            (
                r#"Digest username="u", username*=UTF-8''u, realm="r", nonce="n", uri="/", response="x""#,
                "username*",
            ),
            (
                r#"Digest username*=UTF-8''u, userhash=true, realm="r", nonce="n", uri="/", response="x""#,
                "username*",
            ),
            (
                r#"Digest username="u", username="v", realm="r", nonce="n", uri="/", response="x""#,
                "duplicate",
            ),
            ("Digest abc==", "token68"),
        ];
        for (header, what) in cases {
            let error = header.parse::<DigestCredentials>().unwrap_err();
            let text = format!("{error:?} {error}");
            let expected = match what {
                "NotDigest" => matches!(error, Error::NotDigest { .. }),
                "duplicate" => matches!(error, Error::DuplicateParameter { .. }),
                "token68" => error == Error::UnexpectedToken68,
                "qop" => matches!(error, Error::UnsupportedQop { .. }),
                "algorithm" => matches!(error, Error::UnsupportedAlgorithm { .. }),
                name => text.contains(name),
            };
            assert!(expected, "{header}: {text}");
        }
    }
}
