//! The crate's error type.

use crate::Algorithm;

/// Longest piece of input an error quotes; a hostile header must not make errors huge.
const QUOTE_LIMIT: usize = 64;

/// Everything that can go wrong while parsing a header or answering a challenge.
///
/// No variant ever carries a password or a value derived from one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No header value was given, or it holds nothing but separators.
    #[error("the header value is empty")]
    Empty,

    /// The header value is longer than this crate parses (a defence against hostile peers).
    #[error("the header value is {len} bytes long; at most {max} are accepted")]
    TooLong {
        /// Length of the header value in bytes.
        len: usize,
        /// The limit, [`MAX_HEADER_LEN`](crate::MAX_HEADER_LEN).
        max: usize,
    },

    /// A control character or a non-ASCII byte, which HTTP authentication headers never carry.
    #[error("byte 0x{byte:02x} at offset {offset} is not allowed in an authentication header")]
    InvalidByte {
        /// Byte offset in the header value.
        offset: usize,
        /// The offending byte (the first byte of a non-ASCII character).
        byte: u8,
    },

    /// The header does not follow the RFC 7235 grammar at this offset.
    #[error("malformed authentication header at offset {offset}: expected {expected}")]
    Syntax {
        /// Byte offset in the header value.
        offset: usize,
        /// What the grammar allows there.
        expected: &'static str,
    },

    /// A quoted string is never closed.
    #[error("the quoted string opened at offset {offset} is not terminated")]
    UnterminatedQuote {
        /// Byte offset of the opening quote.
        offset: usize,
    },

    /// The `WWW-Authenticate` values offer no Digest challenge (for example only Basic).
    #[error("no Digest challenge is offered (schemes seen: {schemes})")]
    NoDigestChallenge {
        /// The schemes that were offered, comma-separated (possibly shortened).
        schemes: String,
    },

    /// The `Authorization` value uses another scheme than Digest.
    #[error("the credentials use the {scheme:?} scheme, not Digest")]
    NotDigest {
        /// The scheme found (possibly shortened).
        scheme: String,
    },

    /// A Digest header carries a token68 blob where auth-params belong.
    #[error("a Digest header carries a bare token instead of name=value parameters")]
    UnexpectedToken68,

    /// A parameter the scheme requires is absent.
    #[error("the Digest {context} lacks the {name} parameter")]
    MissingParameter {
        /// `"challenge"` or `"credentials"`.
        context: &'static str,
        /// The parameter's name.
        name: &'static str,
    },

    /// A parameter appears more than once in one challenge or one set of credentials.
    #[error("the parameter {name} appears more than once")]
    DuplicateParameter {
        /// The parameter's name as written (possibly shortened).
        name: String,
    },

    /// A parameter has a value its definition does not allow.
    #[error("the {name} parameter is invalid: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The `algorithm` parameter names an algorithm this crate does not implement.
    #[error("the Digest algorithm {algorithm:?} is not supported")]
    UnsupportedAlgorithm {
        /// The value found (possibly shortened).
        algorithm: String,
    },

    /// The `qop` parameter offers nothing this crate implements (`auth`, `auth-int`).
    #[error("no supported qop in {offered:?}")]
    UnsupportedQop {
        /// The value found (possibly shortened).
        offered: String,
    },

    /// A `-sess` algorithm needs a client nonce, which RFC 2617 forbids without `qop`.
    #[error("the {algorithm} algorithm needs a cnonce, but the challenge offers no qop")]
    SessionWithoutQop {
        /// The session algorithm offered.
        algorithm: Algorithm,
    },

    /// The device offered again a nonce whose 2^32 nonce counts this session has used up. Any
    /// answer would repeat a count the device has seen and be refused as a replay, which would
    /// then look like a wrong password; the device has to issue another nonce.
    #[error(
        "the device offered again a nonce whose nonce counts are used up (a replay if answered)"
    )]
    NonceExhausted,

    /// A value the caller supplied (method, request URI, cnonce, realm, nonce) cannot be sent.
    #[error("the {field} cannot be used in a Digest header: {reason}")]
    InvalidInput {
        /// Which input: `"method"`, `"uri"`, `"cnonce"`, `"realm"` or `"nonce"`.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Shortens input quoted in an error to a bounded length, on a character boundary.
pub(crate) fn clip(text: &str) -> String {
    if text.len() <= QUOTE_LIMIT {
        return text.to_owned();
    }
    let mut end = QUOTE_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut short = text.get(..end).unwrap_or_default().to_owned();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_bounds_long_input_on_char_boundaries() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(100);
        let clipped = clip(&long);
        assert!(clipped.len() <= QUOTE_LIMIT + '…'.len_utf8());
        assert!(clipped.ends_with('…'));
    }

    #[test]
    fn messages_carry_context() {
        let err = Error::Syntax {
            offset: 7,
            expected: "a parameter name",
        };
        assert_eq!(
            err.to_string(),
            "malformed authentication header at offset 7: expected a parameter name"
        );
        let err = Error::TooLong {
            len: 20_000,
            max: 16_384,
        };
        assert!(err.to_string().contains("20000"));
    }
}
