//! SOAP 1.2 faults: reading them on the client, building them on the device.

use std::fmt;

use crate::action;
use crate::error::Error;
use crate::ns;
use crate::write::Writer;
use crate::xml::{Attribute, Element, resolve_qname_text, trim_xml};

/// A namespace-qualified name, as carried by fault codes: namespace URI plus local name.
///
/// Displays in Clark notation, `{namespace}local`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QualifiedName {
    /// Namespace URI (empty for none).
    pub namespace: String,
    /// Local name.
    pub local_name: String,
}

impl QualifiedName {
    /// `local_name` in `namespace`.
    pub fn new(namespace: impl Into<String>, local_name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            local_name: local_name.into(),
        }
    }

    /// Whether this is `local_name` in `namespace`.
    pub fn is(&self, namespace: &str, local_name: &str) -> bool {
        self.local_name == local_name && self.namespace == namespace
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}{}", self.namespace, self.local_name)
    }
}

/// The top-level SOAP 1.2 fault code (`Fault/Code/Value`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultCode {
    /// The message was incorrect (`Sender`); AMT's usual code.
    Sender,
    /// The receiver failed to process a correct message (`Receiver`).
    Receiver,
    /// The envelope's namespace was not SOAP 1.2 (`VersionMismatch`).
    VersionMismatch,
    /// A mandatory header was not understood (`MustUnderstand`).
    MustUnderstand,
    /// A header or body used an unknown data encoding (`DataEncodingUnknown`).
    DataEncodingUnknown,
    /// A code SOAP 1.2 does not define, kept as sent.
    Other(QualifiedName),
}

impl FaultCode {
    fn from_qname(namespace: &str, local: &str) -> Self {
        match (namespace == ns::SOAP, local) {
            (true, "Sender") => Self::Sender,
            (true, "Receiver") => Self::Receiver,
            (true, "VersionMismatch") => Self::VersionMismatch,
            (true, "MustUnderstand") => Self::MustUnderstand,
            (true, "DataEncodingUnknown") => Self::DataEncodingUnknown,
            _ => Self::Other(QualifiedName::new(namespace, local)),
        }
    }

    /// The code as a qualified name.
    pub fn qualified_name(&self) -> QualifiedName {
        let local = match self {
            Self::Sender => "Sender",
            Self::Receiver => "Receiver",
            Self::VersionMismatch => "VersionMismatch",
            Self::MustUnderstand => "MustUnderstand",
            Self::DataEncodingUnknown => "DataEncodingUnknown",
            Self::Other(name) => return name.clone(),
        };
        QualifiedName::new(ns::SOAP, local)
    }
}

/// A SOAP fault, as Intel AMT sends it with HTTP 400 (sometimes 500).
///
/// Displays as `<subcode>: <reason>` (the code stands in when there is no subcode), e.g.
/// `DestinationUnreachable: No route can be determined to reach the destination role defined
/// by the WSAddressing To.`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// `Code/Value`.
    pub code: FaultCode,
    /// `Code/Subcode/Value`, e.g. `{…/wsman.xsd}AccessDenied`; nested subcodes are not kept.
    pub subcode: Option<QualifiedName>,
    /// `Reason/Text`: the English text when there are several, otherwise the first; exact.
    pub reason: String,
    /// `Detail`: the WS-Management `FaultDetail` URI when there is one, otherwise the detail's
    /// text content, trimmed; `None` when empty.
    pub detail: Option<String>,
}

/// `FaultDetail` URIs for [`Fault::detail`] (DSP0226 annex A).
pub mod fault_detail {
    /// Selectors were missing.
    pub const INSUFFICIENT_SELECTORS: &str =
        "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InsufficientSelectors";
    /// Selectors were given that the resource does not have.
    pub const UNEXPECTED_SELECTORS: &str =
        "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors";
    /// A selector or parameter value was not valid.
    pub const INVALID_VALUE: &str =
        "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidValue";
    /// The resource URI is not known.
    pub const INVALID_RESOURCE_URI: &str =
        "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidResourceURI";
}

impl Fault {
    /// A `Sender` fault with `subcode` and `reason` and no detail.
    pub fn sender(subcode: QualifiedName, reason: impl Into<String>) -> Self {
        Self {
            code: FaultCode::Sender,
            subcode: Some(subcode),
            reason: reason.into(),
            detail: None,
        }
    }

    /// `wsa:DestinationUnreachable`, AMT's answer for a class or instance this firmware lacks.
    pub fn destination_unreachable() -> Self {
        Self::sender(
            QualifiedName::new(ns::ADDRESSING, "DestinationUnreachable"),
            "No route can be determined to reach the destination role defined by the WSAddressing To.",
        )
    }

    /// `wsa:ActionNotSupported`.
    pub fn action_not_supported() -> Self {
        Self::sender(
            QualifiedName::new(ns::ADDRESSING, "ActionNotSupported"),
            "The action is not supported by the service.",
        )
    }

    /// `wsman:InvalidSelectors`; add a [`fault_detail`] URI with [`Fault::with_detail`].
    pub fn invalid_selectors() -> Self {
        Self::sender(
            QualifiedName::new(ns::WSMAN, "InvalidSelectors"),
            "The Selectors for the resource were not valid.",
        )
    }

    /// `wsman:InvalidParameter`: an operation parameter (a method input such as
    /// `RequestPowerStateChange`'s `ManagedElement`) was not valid.
    pub fn invalid_parameter() -> Self {
        Self::sender(
            QualifiedName::new(ns::WSMAN, "InvalidParameter"),
            "An operation parameter was not valid.",
        )
    }

    /// `wsman:AccessDenied`: the account's realms do not cover the resource.
    pub fn access_denied() -> Self {
        Self::sender(
            QualifiedName::new(ns::WSMAN, "AccessDenied"),
            "The sender was not authorized to access the resource.",
        )
    }

    /// `wsen:InvalidEnumerationContext`: an expired or unknown context (a `Receiver` fault).
    pub fn invalid_enumeration_context() -> Self {
        Self {
            code: FaultCode::Receiver,
            subcode: Some(QualifiedName::new(
                ns::ENUMERATION,
                "InvalidEnumerationContext",
            )),
            reason: "The supplied enumeration context is invalid.".to_owned(),
            detail: None,
        }
    }

    /// This fault with `detail` (typically a [`fault_detail`] URI).
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The `wsa:Action` of a reply carrying this fault, chosen by the subcode's namespace.
    pub fn action(&self) -> &'static str {
        match self.subcode.as_ref().map(|s| s.namespace.as_str()) {
            Some(ns::WSMAN) => action::WSMAN_FAULT,
            Some(ns::ENUMERATION) => action::ENUMERATION_FAULT,
            _ => action::ADDRESSING_FAULT,
        }
    }

    /// Reads `Fault`; `scope` is the envelope and body the fault sits in (for QName prefixes).
    pub(crate) fn from_element(scope: [&Element; 2], fault: &Element) -> Result<Self, Error> {
        let [envelope, body] = scope;
        let code = fault.required_child(ns::SOAP, "Code")?;
        let value = code.required_child(ns::SOAP, "Value")?;
        let (namespace, local) =
            resolve_qname_text(&[envelope, body, fault, code, value], value.text())?;
        let fault_code = FaultCode::from_qname(namespace, local);

        let subcode = match code.optional_child(ns::SOAP, "Subcode")? {
            Some(subcode) => {
                let value = subcode.required_child(ns::SOAP, "Value")?;
                let (namespace, local) = resolve_qname_text(
                    &[envelope, body, fault, code, subcode, value],
                    value.text(),
                )?;
                Some(QualifiedName::new(namespace, local))
            }
            None => None,
        };

        let reason = fault.required_child(ns::SOAP, "Reason")?;
        let mut texts = reason.children_named(ns::SOAP, "Text").peekable();
        let first = texts.peek().copied().ok_or_else(|| Error::MissingElement {
            parent: "Reason".to_owned(),
            element: "Text".to_owned(),
        })?;
        let english = texts.find(|t| {
            t.attribute(ns::XML, "lang")
                .is_some_and(|lang| lang.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("en")))
        });
        let reason = english.unwrap_or(first).text().to_owned();

        let detail = match fault.optional_child(ns::SOAP, "Detail")? {
            Some(detail) => {
                let text = match detail.optional_child(ns::WSMAN, "FaultDetail")? {
                    Some(fault_detail) => trim_xml(&fault_detail.deep_text()).to_owned(),
                    None => trim_xml(&detail.deep_text()).to_owned(),
                };
                (!text.is_empty()).then_some(text)
            }
            None => None,
        };

        Ok(Self {
            code: fault_code,
            subcode,
            reason,
            detail,
        })
    }

    /// The `Fault` element, with QName values written with `writer`'s prefixes.
    pub(crate) fn to_element(&self, writer: &mut Writer) -> Element {
        let qname_text = |writer: &mut Writer, name: &QualifiedName| {
            let prefix = writer.prefix(&name.namespace);
            if prefix.is_empty() {
                name.local_name.clone()
            } else {
                format!("{prefix}:{}", name.local_name)
            }
        };
        let mut code = Element::new(ns::SOAP, "Code").with_child(
            Element::new(ns::SOAP, "Value")
                .with_text(qname_text(writer, &self.code.qualified_name())),
        );
        if let Some(subcode) = &self.subcode {
            code = code.with_child(Element::new(ns::SOAP, "Subcode").with_child(
                Element::new(ns::SOAP, "Value").with_text(qname_text(writer, subcode)),
            ));
        }
        let reason = Element::new(ns::SOAP, "Reason").with_child(
            Element::new(ns::SOAP, "Text")
                .with_attribute(Attribute::new(ns::XML, "lang", "en-US"))
                .with_text(self.reason.clone()),
        );
        let mut detail = Element::new(ns::SOAP, "Detail");
        if let Some(text) = &self.detail {
            detail =
                detail.with_child(Element::new(ns::WSMAN, "FaultDetail").with_text(text.clone()));
        }
        Element::new(ns::SOAP, "Fault")
            .with_child(code)
            .with_child(reason)
            .with_child(detail)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match &self.subcode {
            Some(subcode) => subcode.local_name.clone(),
            None => self.code.qualified_name().local_name,
        };
        write!(f, "{name}: {}", self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_subcode_and_reason() {
        assert_eq!(
            Fault::access_denied().to_string(),
            "AccessDenied: The sender was not authorized to access the resource."
        );
        let bare = Fault {
            code: FaultCode::Receiver,
            subcode: None,
            reason: "boom".into(),
            detail: None,
        };
        assert_eq!(bare.to_string(), "Receiver: boom");
    }

    #[test]
    fn picks_the_action_by_subcode_namespace() {
        assert_eq!(Fault::access_denied().action(), action::WSMAN_FAULT);
        assert_eq!(Fault::invalid_parameter().action(), action::WSMAN_FAULT);
        assert_eq!(
            Fault::destination_unreachable().action(),
            action::ADDRESSING_FAULT
        );
        assert_eq!(
            Fault::action_not_supported().action(),
            action::ADDRESSING_FAULT
        );
        assert_eq!(
            Fault::invalid_enumeration_context().action(),
            action::ENUMERATION_FAULT
        );
        let soap = Fault {
            code: FaultCode::MustUnderstand,
            subcode: None,
            reason: String::new(),
            detail: None,
        };
        assert_eq!(soap.action(), action::ADDRESSING_FAULT);
    }

    #[test]
    fn codes_round_trip_through_qualified_names() {
        for code in [
            FaultCode::Sender,
            FaultCode::Receiver,
            FaultCode::VersionMismatch,
            FaultCode::MustUnderstand,
            FaultCode::DataEncodingUnknown,
            FaultCode::Other(QualifiedName::new("urn:x", "Odd")),
        ] {
            let q = code.qualified_name();
            assert_eq!(FaultCode::from_qname(&q.namespace, &q.local_name), code);
        }
        assert_eq!(QualifiedName::new("urn:x", "Y").to_string(), "{urn:x}Y");
    }

    #[test]
    fn invalid_selectors_carries_detail() {
        let fault = Fault::invalid_selectors().with_detail(fault_detail::INSUFFICIENT_SELECTORS);
        assert!(
            fault
                .subcode
                .as_ref()
                .is_some_and(|s| s.is(ns::WSMAN, "InvalidSelectors"))
        );
        assert_eq!(
            fault.detail.as_deref(),
            Some(fault_detail::INSUFFICIENT_SELECTORS)
        );
    }
}
