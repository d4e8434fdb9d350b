//! WS-Addressing message identifiers.

use std::fmt;

use crate::error::{Error, quoted};
use crate::xml::{is_xml_char, trim_xml};

/// A WS-Addressing `MessageID`: the request's identity, echoed by the reply's `RelatesTo`.
///
/// The caller supplies it, so building a message is deterministic: the client typically makes a
/// random UUID with [`MessageId::uuid_v4`], the simulated device counts with [`MessageId::amt`].
/// Identifiers compare as exact strings.
///
/// ```
/// use amt_wsman::MessageId;
///
/// assert_eq!(MessageId::amt(0xA1).as_str(), "uuid:00000000-8086-8086-8086-0000000000A1");
/// assert_eq!(
///     MessageId::uuid_v4([0xff; 16]).as_str(),
///     "uuid:ffffffff-ffff-4fff-bfff-ffffffffffff"
/// );
/// assert!(MessageId::new("uuid:1").is_ok());
/// assert!(MessageId::new(" uuid:1").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageId(String);

impl MessageId {
    /// An identifier with this exact text.
    ///
    /// Refused with [`Error::InvalidValue`] when the text is empty, starts or ends with XML
    /// whitespace, or holds a character XML cannot carry: the wire trims `MessageID` and
    /// `RelatesTo` (and reads an empty one as absent), so such an identifier would never match
    /// its reply.
    pub fn new(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        check_token("MessageID", &id)?;
        Ok(Self(id))
    }

    /// An identifier read from the wire, already trimmed and not empty.
    pub(crate) fn from_wire(id: &str) -> Self {
        Self(id.to_owned())
    }

    /// A version-4 UUID URN (`uuid:xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`) made from 16 random
    /// bytes, with the version and variant bits set as RFC 9562 requires.
    pub fn uuid_v4(random: [u8; 16]) -> Self {
        let mut b = random;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex = |bytes: &[u8]| bytes.iter().map(|x| format!("{x:02x}")).collect::<String>();
        Self(format!(
            "uuid:{}-{}-{}-{}-{}",
            hex(&b[0..4]),
            hex(&b[4..6]),
            hex(&b[6..8]),
            hex(&b[8..10]),
            hex(&b[10..16])
        ))
    }

    /// An identifier in the style Intel AMT mints for its replies,
    /// `uuid:00000000-8086-8086-8086-` followed by the low 48 bits of `counter` in 12 upper-case
    /// hex digits.
    pub fn amt(counter: u64) -> Self {
        Self(format!(
            "uuid:00000000-8086-8086-8086-{:012X}",
            counter & 0xFFFF_FFFF_FFFF
        ))
    }

    /// The identifier's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for MessageId {
    type Error = Error;

    fn try_from(id: &str) -> Result<Self, Error> {
        Self::new(id)
    }
}

impl TryFrom<String> for MessageId {
    type Error = Error;

    fn try_from(id: String) -> Result<Self, Error> {
        Self::new(id)
    }
}

/// Checks that `text`, the content of `element`, survives the wire as it is: not empty, no XML
/// whitespace at either end, only characters XML can carry.
pub(crate) fn check_token(element: &'static str, text: &str) -> Result<(), Error> {
    if !text.is_empty() && trim_xml(text).len() == text.len() && text.chars().all(is_xml_char) {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            element: element.to_owned(),
            value: quoted(text),
            expected: "a non-empty token without surrounding whitespace",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v4_sets_version_and_variant() {
        let id = MessageId::uuid_v4([0; 16]);
        assert_eq!(id.as_str(), "uuid:00000000-0000-4000-8000-000000000000");
        let id = MessageId::uuid_v4(
            *b"\x3f\x0c\x2d\x7e\x9a\x41\x4c\x55\x8e\x0b\x6f\x1d\x2a\x9c\x4b\x10",
        );
        assert_eq!(id.as_str(), "uuid:3f0c2d7e-9a41-4c55-8e0b-6f1d2a9c4b10");
    }

    #[test]
    fn amt_style_wraps_at_48_bits() {
        assert_eq!(
            MessageId::amt(0).as_str(),
            "uuid:00000000-8086-8086-8086-000000000000"
        );
        assert_eq!(
            MessageId::amt(0x1_0000_0000_0001).as_str(),
            "uuid:00000000-8086-8086-8086-000000000001"
        );
        assert_eq!(
            MessageId::amt(0xFFFF_FFFF_FFFF).as_str(),
            "uuid:00000000-8086-8086-8086-FFFFFFFFFFFF"
        );
    }

    #[test]
    fn displays_its_text() {
        assert_eq!(MessageId::try_from("7").unwrap().to_string(), "7");
        assert_eq!(MessageId::try_from(String::from("x")), MessageId::new("x"));
    }

    #[test]
    fn refuses_what_the_wire_would_change() {
        for bad in ["", " ", " uuid:1", "uuid:1\n", "\tx", "a\u{1}b"] {
            assert!(
                matches!(MessageId::new(bad), Err(Error::InvalidValue { .. })),
                "{bad:?}"
            );
        }
        for good in ["7", "uuid:a b", "x\u{A0}"] {
            assert_eq!(MessageId::new(good).map(|id| id.0), Ok(good.to_owned()));
        }
    }
}
