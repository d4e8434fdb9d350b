//! WS-Addressing message identifiers.

use std::fmt;

/// A WS-Addressing `MessageID`: the request's identity, echoed by the reply's `RelatesTo`.
///
/// The caller supplies it, so building a message is deterministic: the client typically makes a
/// random UUID with [`MessageId::uuid_v4`], the simulated device counts with [`MessageId::amt`].
/// Identifiers compare as exact strings; they should not start or end with whitespace.
///
/// ```
/// use amt_wsman::MessageId;
///
/// assert_eq!(MessageId::amt(0xA1).as_str(), "uuid:00000000-8086-8086-8086-0000000000A1");
/// assert_eq!(
///     MessageId::uuid_v4([0xff; 16]).as_str(),
///     "uuid:ffffffff-ffff-4fff-bfff-ffffffffffff"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageId(String);

impl MessageId {
    /// An identifier with this exact text.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
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

impl From<&str> for MessageId {
    fn from(id: &str) -> Self {
        Self::new(id)
    }
}

impl From<String> for MessageId {
    fn from(id: String) -> Self {
        Self::new(id)
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
        assert_eq!(MessageId::from("7").to_string(), "7");
        assert_eq!(MessageId::from(String::from("x")), MessageId::new("x"));
    }
}
