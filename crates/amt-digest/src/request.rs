//! What both ends hash: the credentials, the request, the nonce count, and the request digest.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::algorithm::{Algorithm, HexHash, Qop};
use crate::error::Error;
use crate::syntax::{can_quote, is_tchar};

/// A user name and a password, both borrowed; the password stays a [`SecretString`].
///
/// Nothing in this crate stores a `Credentials` value or copies the password out of its
/// secret box: it is exposed only while being fed to the hash. `Debug` shows the user name only.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    username: &'a str,
    password: &'a SecretString,
}

impl<'a> Credentials<'a> {
    /// Pairs a user name (Intel AMT's is usually `admin`) with its password.
    pub const fn new(username: &'a str, password: &'a SecretString) -> Self {
        Self { username, password }
    }

    /// The user name.
    pub const fn username(&self) -> &'a str {
        self.username
    }

    pub(crate) fn password(&self) -> &'a SecretString {
        self.password
    }
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// The parts of an HTTP request that Digest covers: method, request URI and, for `auth-int`,
/// the body.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    method: &'a str,
    uri: &'a str,
    body: &'a [u8],
}

impl<'a> Request<'a> {
    /// A request without a body. `uri` is the request-target as sent, e.g. `/wsman`.
    pub const fn new(method: &'a str, uri: &'a str) -> Self {
        Self {
            method,
            uri,
            body: &[],
        }
    }

    /// A WS-Management call: `POST /wsman` with its SOAP envelope.
    pub const fn wsman(body: &'a [u8]) -> Self {
        Self {
            method: "POST",
            uri: "/wsman",
            body,
        }
    }

    /// The same request with a body, which only `auth-int` hashes.
    #[must_use]
    pub const fn with_body(self, body: &'a [u8]) -> Self {
        Self { body, ..self }
    }

    /// The HTTP method.
    pub const fn method(&self) -> &'a str {
        self.method
    }

    /// The request URI.
    pub const fn uri(&self) -> &'a str {
        self.uri
    }

    /// The request body.
    pub const fn body(&self) -> &'a [u8] {
        self.body
    }

    /// Checks that the method and URI can be sent in an `Authorization` header.
    pub(crate) fn check_sendable(&self) -> Result<(), Error> {
        if self.method.is_empty() || !self.method.bytes().all(is_tchar) {
            return Err(Error::InvalidInput {
                field: "method",
                reason: "it is not an HTTP token",
            });
        }
        if self.uri.is_empty() {
            return Err(Error::InvalidInput {
                field: "uri",
                reason: "it is empty",
            });
        }
        if !can_quote(self.uri) {
            return Err(Error::InvalidInput {
                field: "uri",
                reason: "it holds control characters or non-ASCII bytes",
            });
        }
        Ok(())
    }
}

impl fmt::Debug for Request<'_> {
    /// Shows the body's length only: WS-Management bodies can carry secrets of their own.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The nonce count `nc`: how many requests this client has sent with one nonce.
///
/// Displayed as the 8 lower-case hex digits the wire carries, e.g. `00000001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NonceCount(u32);

impl NonceCount {
    /// The count of the first request with a nonce.
    pub const FIRST: Self = Self(1);

    /// A count from its value.
    pub const fn new(value: u32) -> Self {
        Self(value)
    }

    /// The count's value.
    pub const fn value(self) -> u32 {
        self.0
    }

    /// The next count, or `None` when 32 bits are exhausted.
    pub const fn next(self) -> Option<Self> {
        match self.0.checked_add(1) {
            Some(value) => Some(Self(value)),
            None => None,
        }
    }

    /// Reads 1 to 8 hex digits. RFC 7616 asks for exactly 8, but some clients send fewer
    /// (MeshCentral sends `nc=1`) and Intel AMT accepts them, so the verifier does too.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(text, 16).ok().map(Self)
    }
}

impl fmt::Display for NonceCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// The qop-related fields of a response, absent in the RFC 2069 form.
pub(crate) struct QopFields<'a> {
    pub(crate) qop: Qop,
    pub(crate) nc: &'a str,
    pub(crate) cnonce: &'a str,
}

/// Everything the request digest covers.
pub(crate) struct DigestInputs<'a> {
    pub(crate) algorithm: Algorithm,
    pub(crate) credentials: &'a Credentials<'a>,
    pub(crate) realm: &'a str,
    pub(crate) nonce: &'a str,
    pub(crate) request: &'a Request<'a>,
    pub(crate) qop: Option<QopFields<'a>>,
}

/// Computes the `response` value (RFC 7616 3.4.1, RFC 2617 3.2.2.1 without qop).
pub(crate) fn request_digest(inputs: &DigestInputs<'_>) -> HexHash {
    let algorithm = inputs.algorithm;
    let nonce = inputs.nonce.as_bytes();
    let mut ha1 = algorithm.hex_hash(&[
        inputs.credentials.username().as_bytes(),
        b":",
        inputs.realm.as_bytes(),
        b":",
        inputs.credentials.password().expose_secret().as_bytes(),
    ]);
    if algorithm.is_session() {
        let cnonce = inputs.qop.as_ref().map_or("", |fields| fields.cnonce);
        ha1 = algorithm.hex_hash(&[ha1.as_bytes(), b":", nonce, b":", cnonce.as_bytes()]);
    }
    let request = inputs.request;
    let ha2 = match &inputs.qop {
        Some(QopFields {
            qop: Qop::AuthInt, ..
        }) => {
            let body = algorithm.hex_hash(&[request.body()]);
            algorithm.hex_hash(&[
                request.method().as_bytes(),
                b":",
                request.uri().as_bytes(),
                b":",
                body.as_bytes(),
            ])
        }
        _ => algorithm.hex_hash(&[request.method().as_bytes(), b":", request.uri().as_bytes()]),
    };
    match &inputs.qop {
        Some(fields) => algorithm.hex_hash(&[
            ha1.as_bytes(),
            b":",
            nonce,
            b":",
            fields.nc.as_bytes(),
            b":",
            fields.cnonce.as_bytes(),
            b":",
            fields.qop.as_str().as_bytes(),
            b":",
            ha2.as_bytes(),
        ]),
        None => algorithm.hex_hash(&[ha1.as_bytes(), b":", nonce, b":", ha2.as_bytes()]),
    }
}

/// The `username` value RFC 7616 3.4.4 sends when the server asks for `userhash`.
pub(crate) fn user_hash(algorithm: Algorithm, username: &str, realm: &str) -> HexHash {
    algorithm.hex_hash(&[username.as_bytes(), b":", realm.as_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_count_renders_eight_hex_digits() {
        assert_eq!(NonceCount::FIRST.to_string(), "00000001");
        assert_eq!(NonceCount::new(0x1a2b).to_string(), "00001a2b");
        assert_eq!(NonceCount::new(u32::MAX).next(), None);
        assert_eq!(NonceCount::new(9).next(), Some(NonceCount::new(10)));
    }

    #[test]
    fn nonce_count_parses_short_and_full_forms() {
        assert_eq!(NonceCount::parse("00000001"), Some(NonceCount::FIRST));
        assert_eq!(NonceCount::parse("1"), Some(NonceCount::FIRST));
        assert_eq!(
            NonceCount::parse("FFFFFFFF"),
            Some(NonceCount::new(u32::MAX))
        );
        assert_eq!(NonceCount::parse("100000000"), None);
        assert_eq!(NonceCount::parse("+1"), None);
        assert_eq!(NonceCount::parse(""), None);
    }

    #[test]
    fn rfc_2617_section_3_5_response() {
        let password = SecretString::from("Circle Of Life");
        let credentials = Credentials::new("Mufasa", &password);
        let request = Request::new("GET", "/dir/index.html");
        let inputs = DigestInputs {
            algorithm: Algorithm::Md5,
            credentials: &credentials,
            realm: "testrealm@host.com",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            request: &request,
            qop: Some(QopFields {
                qop: Qop::Auth,
                nc: "00000001",
                cnonce: "0a4f113b",
            }),
        };
        assert_eq!(
            request_digest(&inputs).as_str(),
            "6629fae49393a05397450978507c4ef1"
        );
    }

    #[test]
    fn request_checks_what_can_be_sent() {
        assert!(Request::new("POST", "/wsman").check_sendable().is_ok());
        assert!(Request::new("", "/").check_sendable().is_err());
        assert!(Request::new("PO ST", "/").check_sendable().is_err());
        assert!(Request::new("GET", "").check_sendable().is_err());
        assert!(Request::new("GET", "/a\r\nb").check_sendable().is_err());
        assert!(Request::new("GET", "/\u{e9}").check_sendable().is_err());
    }

    #[test]
    fn debug_hides_password_and_body() {
        let password = SecretString::from("hunter2-secret");
        let text = format!("{:?}", Credentials::new("admin", &password));
        assert!(text.contains("admin") && !text.contains("hunter2"));
        let text = format!("{:?}", Request::wsman(b"<Password>hunter2</Password>"));
        assert!(text.contains("body_len") && !text.contains("hunter2"));
    }
}
