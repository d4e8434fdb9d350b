//! Digest algorithms, quality-of-protection values and the hex-encoded hashing they share.

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use secrecy::zeroize::Zeroize;
use sha2::{Digest, Sha256, Sha512_256};
use subtle::ConstantTimeEq;

use crate::error::{Error, clip};

/// A Digest algorithm from the IANA "HTTP Digest Algorithm Values" registry (RFC 7616 3.3).
///
/// Challenges without an `algorithm` parameter, such as Intel AMT's, mean [`Algorithm::Md5`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// `MD5`: what Intel AMT uses.
    #[default]
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256`.
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

impl Algorithm {
    /// Every algorithm this crate implements.
    pub const ALL: [Self; 6] = [
        Self::Md5,
        Self::Md5Sess,
        Self::Sha256,
        Self::Sha256Sess,
        Self::Sha512_256,
        Self::Sha512_256Sess,
    ];

    /// The name as it appears on the wire, e.g. `SHA-256-sess`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
            Self::Sha512_256 => "SHA-512-256",
            Self::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// Whether this is a `-sess` variant, whose `H(A1)` also covers the nonce and the cnonce.
    pub const fn is_session(self) -> bool {
        matches!(
            self,
            Self::Md5Sess | Self::Sha256Sess | Self::Sha512_256Sess
        )
    }

    /// Hashes the concatenation of `parts` and hex-encodes the result in lower case.
    pub(crate) fn hex_hash(self, parts: &[&[u8]]) -> HexHash {
        match self {
            Self::Md5 | Self::Md5Sess => hash_with::<Md5>(parts),
            Self::Sha256 | Self::Sha256Sess => hash_with::<Sha256>(parts),
            Self::Sha512_256 | Self::Sha512_256Sess => hash_with::<Sha512_256>(parts),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    /// Parses a registry name, ignoring ASCII case (servers send `md5` as often as `MD5`).
    fn from_str(name: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::UnsupportedAlgorithm {
                algorithm: clip(name),
            })
    }
}

fn hash_with<D: Digest>(parts: &[&[u8]]) -> HexHash {
    let mut hasher = D::new();
    for part in parts {
        hasher.update(part);
    }
    HexHash::encode(&hasher.finalize())
}

/// A lower-case hex digest of at most 256 bits, kept on the stack and wiped on drop because
/// `H(A1)` is as good as the password to an attacker.
pub(crate) struct HexHash {
    buf: [u8; 64],
    len: usize,
}

impl HexHash {
    fn encode(digest: &[u8]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 64];
        let mut len = 0;
        for (&byte, pair) in digest.iter().zip(buf.chunks_exact_mut(2)) {
            if let [high, low] = pair {
                *high = HEX[usize::from(byte >> 4)];
                *low = HEX[usize::from(byte & 0x0f)];
                len += 2;
            }
        }
        Self { buf, len }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// Compares with a hex string received from the peer in constant time, so the time taken
    /// does not tell how many leading characters were right; hex case is ignored.
    ///
    /// Only the length, which is public (it follows from the algorithm), ends it early.
    /// `subtle` keeps the compiler from turning the comparison back into an early exit.
    pub(crate) fn matches(&self, received: &str) -> bool {
        let ours = self.as_bytes();
        let theirs = received.as_bytes();
        if ours.len() != theirs.len() {
            return false;
        }
        let mut lowered = [0u8; 64];
        for (slot, byte) in lowered.iter_mut().zip(theirs) {
            // Branch-free case folding: `to_ascii_lowercase` sets bit 5 of upper-case letters.
            *slot = byte.to_ascii_lowercase();
        }
        let lowered = lowered.get(..theirs.len()).unwrap_or_default();
        ours.ct_eq(lowered).into()
    }
}

impl Drop for HexHash {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

/// A quality-of-protection value (RFC 7616 3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Qop {
    /// `auth`: authentication of the method and request URI.
    Auth,
    /// `auth-int`: authentication that also covers a hash of the request body.
    AuthInt,
}

impl Qop {
    /// The value as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::AuthInt => "auth-int",
        }
    }

    pub(crate) fn parse(value: &str) -> Option<Self> {
        if value.eq_ignore_ascii_case("auth") {
            Some(Self::Auth)
        } else if value.eq_ignore_ascii_case("auth-int") {
            Some(Self::AuthInt)
        } else {
            None
        }
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The non-empty set of [`Qop`] values a challenge offers.
///
/// A challenge without `qop` has no offer at all (the RFC 2069 form); see
/// [`Challenge::qop`](crate::Challenge::qop).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct QopOffer {
    auth: bool,
    auth_int: bool,
}

impl QopOffer {
    /// `qop="auth"`, what Intel AMT before version 14 offers.
    pub const AUTH: Self = Self {
        auth: true,
        auth_int: false,
    };
    /// `qop="auth-int"`.
    pub const AUTH_INT: Self = Self {
        auth: false,
        auth_int: true,
    };
    /// `qop="auth-int, auth"`, what Intel AMT 14 and later offer.
    pub const AUTH_INT_AND_AUTH: Self = Self {
        auth: true,
        auth_int: true,
    };

    /// Whether `qop` is offered.
    pub const fn contains(self, qop: Qop) -> bool {
        match qop {
            Qop::Auth => self.auth,
            Qop::AuthInt => self.auth_int,
        }
    }

    /// The value a client answers with: `auth` whenever it is offered (it needs no body hash),
    /// `auth-int` only when it is the sole choice.
    pub const fn preferred(self) -> Qop {
        if self.auth { Qop::Auth } else { Qop::AuthInt }
    }

    /// Reads a `qop` parameter: values separated by commas and/or whitespace, unknown ones
    /// ignored, `None` when nothing known remains.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        let mut offer = Self {
            auth: false,
            auth_int: false,
        };
        for item in value.split([',', ' ', '\t']) {
            match Qop::parse(item) {
                Some(Qop::Auth) => offer.auth = true,
                Some(Qop::AuthInt) => offer.auth_int = true,
                None => {}
            }
        }
        (offer.auth || offer.auth_int).then_some(offer)
    }
}

impl fmt::Display for QopOffer {
    /// Renders the offer the way Intel AMT does: `auth-int, auth`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.auth_int, self.auth) {
            (true, true) => f.write_str("auth-int, auth"),
            (true, false) => f.write_str("auth-int"),
            _ => f.write_str("auth"),
        }
    }
}

impl fmt::Debug for QopOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QopOffer({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_known_values() {
        // RFC 1321 test suite and FIPS 180-4 examples for "abc".
        assert_eq!(
            Algorithm::Md5.hex_hash(&[b"a", b"bc"]).as_str(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            Algorithm::Sha256Sess.hex_hash(&[b"abc"]).as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Algorithm::Sha512_256.hex_hash(&[b"abc"]).as_str(),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
    }

    #[test]
    fn hex_comparison_ignores_case_but_not_content() {
        let hash = Algorithm::Md5.hex_hash(&[b"abc"]);
        assert!(hash.matches("900150983cd24fb0d6963f7d28e17f72"));
        assert!(hash.matches("900150983CD24FB0D6963F7D28E17F72"));
        assert!(!hash.matches("900150983cd24fb0d6963f7d28e17f73"));
        assert!(!hash.matches("900150983cd24fb0d6963f7d28e17f7"));
        assert!(!hash.matches(""));
    }

    #[test]
    fn algorithm_names_round_trip_ignoring_case() {
        for algorithm in Algorithm::ALL {
            assert_eq!(algorithm.as_str().parse::<Algorithm>(), Ok(algorithm));
            assert_eq!(
                algorithm.as_str().to_lowercase().parse::<Algorithm>(),
                Ok(algorithm)
            );
            assert_eq!(
                algorithm.is_session(),
                algorithm.as_str().ends_with("-sess")
            );
        }
        assert!(matches!(
            "SHA-1".parse::<Algorithm>(),
            Err(Error::UnsupportedAlgorithm { .. })
        ));
    }

    #[test]
    fn qop_offers_parse_every_separator_style() {
        assert_eq!(
            QopOffer::parse("auth-int, auth"),
            Some(QopOffer::AUTH_INT_AND_AUTH)
        );
        assert_eq!(
            QopOffer::parse("auth,auth-int"),
            Some(QopOffer::AUTH_INT_AND_AUTH)
        );
        assert_eq!(
            QopOffer::parse("auth auth-int  auth"),
            Some(QopOffer::AUTH_INT_AND_AUTH)
        );
        assert_eq!(QopOffer::parse("AUTH"), Some(QopOffer::AUTH));
        assert_eq!(
            QopOffer::parse("auth-int, auth-conf"),
            Some(QopOffer::AUTH_INT)
        );
        assert_eq!(QopOffer::parse("auth-conf"), None);
        assert_eq!(QopOffer::parse(""), None);
    }

    #[test]
    fn auth_is_preferred_when_offered() {
        assert_eq!(QopOffer::AUTH_INT_AND_AUTH.preferred(), Qop::Auth);
        assert_eq!(QopOffer::AUTH.preferred(), Qop::Auth);
        assert_eq!(QopOffer::AUTH_INT.preferred(), Qop::AuthInt);
        assert_eq!(QopOffer::AUTH_INT_AND_AUTH.to_string(), "auth-int, auth");
    }
}
