//! The crate's one error type.

use crate::fault::Fault;

/// Longest piece of wire text copied into an error; the rest is cut so that a hostile body
/// cannot make an error message megabytes long.
const MAX_QUOTED_CHARS: usize = 128;

/// Everything that can go wrong while reading a WS-Management message.
///
/// Building messages never fails; parsing returns one of these. A SOAP fault sent by the device
/// is [`Error::Fault`], distinct from every malformed-message case, so that a client can say
/// "Intel AMT returned a fault: `<subcode>`: `<reason>`".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The body is larger than [`Limits::max_body_bytes`](crate::Limits::max_body_bytes).
    #[error("XML body of {size} bytes exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// Size of the body in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Elements are nested deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("XML elements are nested deeper than the limit of {limit}")]
    TooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// The document holds more elements than [`Limits::max_elements`](crate::Limits::max_elements).
    #[error("XML document has more than {limit} elements")]
    TooManyElements {
        /// The configured limit.
        limit: usize,
    },
    /// The body is not valid UTF-8.
    #[error("XML body is not valid UTF-8 (first bad byte at offset {offset})")]
    InvalidUtf8 {
        /// Offset of the first byte that is not part of a valid UTF-8 sequence.
        offset: usize,
    },
    /// The XML declaration names an encoding other than UTF-8.
    #[error("XML body declares the unsupported encoding {encoding:?}")]
    UnsupportedEncoding {
        /// The declared encoding.
        encoding: String,
    },
    /// The body carries a document type declaration, refused to rule out entity expansion attacks.
    #[error("XML body contains a DOCTYPE declaration, which is refused")]
    Doctype,
    /// An entity reference other than the five predefined ones or a character reference.
    #[error("XML body references the unknown entity &{name};")]
    UnknownEntity {
        /// The entity name.
        name: String,
    },
    /// The body ends before the document is complete.
    #[error("XML body ends before the document is complete (inside {inside})")]
    Truncated {
        /// Local name of the innermost open element, or `document` when no element was open.
        inside: String,
    },
    /// The body is not well-formed XML (or not namespace-well-formed).
    #[error("malformed XML at byte {position}: {reason}")]
    Malformed {
        /// Byte offset where the problem was found.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// A namespace prefix (of an element, an attribute or a QName value) is not declared.
    #[error("namespace prefix {prefix:?} is not declared")]
    UndeclaredPrefix {
        /// The prefix.
        prefix: String,
    },
    /// The root element is not a SOAP 1.2 `Envelope`.
    #[error("not a SOAP 1.2 envelope: the root element is {found}")]
    NotSoapEnvelope {
        /// The root element as `{namespace}local-name`.
        found: String,
    },
    /// A required element is absent.
    #[error("element {element} is missing from {parent}")]
    MissingElement {
        /// Local name of the element that should contain it.
        parent: String,
        /// Local name of the missing element.
        element: String,
    },
    /// An element that may appear once appears several times.
    #[error("element {element} appears more than once in {parent}")]
    DuplicateElement {
        /// Local name of the containing element.
        parent: String,
        /// Local name of the repeated element.
        element: String,
    },
    /// An element other than the one the message needs.
    #[error("expected {expected}, found {found}")]
    UnexpectedElement {
        /// What was expected.
        expected: String,
        /// The element found, as `{namespace}local-name`.
        found: String,
    },
    /// A required attribute is absent.
    #[error("element {element} lacks the attribute {attribute}")]
    MissingAttribute {
        /// Local name of the element.
        element: String,
        /// Name of the attribute.
        attribute: String,
    },
    /// An element's text is not of the expected type (a non-numeric number, for example).
    #[error("element {element} holds {value:?}, expected {expected}")]
    InvalidValue {
        /// Local name of the element.
        element: String,
        /// The text found (cut after 128 characters).
        value: String,
        /// What the text should be.
        expected: &'static str,
    },
    /// The response's `RelatesTo` names another request than the one sent.
    #[error("response relates to message {found:?}, not to the request {expected:?}")]
    RelatesToMismatch {
        /// The request's `MessageID`.
        expected: String,
        /// The response's `RelatesTo` (cut after 128 characters).
        found: String,
    },
    /// The device answered with a SOAP fault.
    #[error("the device returned a SOAP fault: {0}")]
    Fault(Box<Fault>),
    /// Device side: the request's `SelectorSet` cannot be read (it is repeated, or a selector
    /// has no `Name` or an endpoint reference for a value); answer with an `InvalidSelectors`
    /// fault.
    #[error("the request's selectors cannot be read: {reason}")]
    InvalidSelectors {
        /// Why (wire text in it is cut after 128 characters).
        reason: String,
    },
    /// Device side: the request's `Action` is not one this crate understands.
    #[error("unsupported WS-Management action {action:?}")]
    UnsupportedAction {
        /// The action URI (cut after 128 characters).
        action: String,
    },
}

impl Error {
    /// The SOAP fault when the device sent one.
    pub fn fault(&self) -> Option<&Fault> {
        match self {
            Self::Fault(fault) => Some(fault),
            _ => None,
        }
    }
}

/// Copies wire text into an error, cut at a character boundary.
pub(crate) fn quoted(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or(text)),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_cuts_long_text_at_a_char_boundary() {
        let long = "é".repeat(300);
        let cut = quoted(&long);
        assert_eq!(cut.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(quoted("short"), "short");
    }

    #[test]
    fn fault_accessor_only_answers_for_faults() {
        assert!(Error::Doctype.fault().is_none());
        let fault = Fault::access_denied();
        assert_eq!(Error::Fault(Box::new(fault.clone())).fault(), Some(&fault));
    }
}
