//! The calls a client makes, and the request envelopes they become.

use std::borrow::Cow;

use crate::action;
use crate::cim::{self, POWER_MANAGEMENT_SERVICE_NAME};
use crate::enumeration::{self, EnumerationContext};
use crate::message_id::MessageId;
use crate::ns;
use crate::resource;
use crate::selector::{EndpointReference, SelectorSet};
use crate::write::{CLIENT, Writer};
use crate::xml::{Attribute, Element};

/// `MaxElements` sent by [`Call::pull_software_identity`], as Intel's own libraries do.
pub const DEFAULT_PULL_MAX_ELEMENTS: u32 = 999;

/// `OperationTimeout` sent with every request; AMT enforces at least 30 s whatever we send.
pub const OPERATION_TIMEOUT: &str = "PT60S";

/// A WS-Management call: what the client sends, and what the device side recovers from bytes.
///
/// The typed variants are the power-management calls; the generic ones reach any class.
/// The device side maps a request to a typed variant whenever its shape matches exactly (so a
/// `Get` of `CIM_AssociatedPowerManagementService` without selectors is [`Call::PowerState`]).
///
/// # Round trip
///
/// [`device::parse_request`](crate::device::parse_request) reads what [`Call::build_request`]
/// writes back as the same call, except where the wire does not keep the difference:
///
/// - a generic call shaped like a typed one comes back typed: a `Get` as just described, an
///   `Invoke` of `CIM_PowerManagementService.RequestPowerStateChange` as
///   [`Call::RequestPowerStateChange`] (its selectors dropped; an error when its input is not
///   that method's);
/// - URIs (resource URI, a `ManagedElement`'s address and resource URI) and enumeration contexts
///   come back trimmed of XML whitespace, and an empty resource URI as missing (an error);
/// - an `Invoke` whose method is not an XML name is an unsupported action, and a `Pull` with
///   `max_elements` 0 an invalid value;
/// - an `Invoke` input comes back as the writer writes any [`Element`]: names repaired, text
///   made only of whitespace beside child elements dropped, characters XML cannot carry replaced
///   with U+FFFD (in selector values too), later attributes with a taken name dropped.
///
/// The `message_id` comes back exactly, as [`MessageId::new`] refuses what the wire would change.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Call {
    /// Get `CIM_AssociatedPowerManagementService`: power state and available transitions.
    PowerState,
    /// Invoke `CIM_PowerManagementService.RequestPowerStateChange`, selected by
    /// `Name=Intel(r) AMT Power Management Service`. Build it with
    /// [`Call::request_power_state_change`], which names the managed host.
    RequestPowerStateChange {
        /// The CIM `PowerState` to move to (2 on, 8 off, 10 reset, …).
        power_state: u16,
        /// The `ManagedElement`: the host to act on, [`EndpointReference::managed_system`];
        /// `None` leaves it out (for testing devices, which refuse that).
        managed_element: Option<EndpointReference>,
    },
    /// Get `CIM_SoftwareIdentity` with `InstanceID=AMT`: the firmware version.
    AmtVersion,
    /// Get `CIM_PowerManagementCapabilities`.
    PowerCapabilities,
    /// Get `IPS_PowerManagementService`: the OS power saving state (AMT 10 and later).
    OsPowerState,
    /// WS-Management Identify (no addressing headers).
    Identify,
    /// WS-Transfer Get of any resource.
    Get {
        /// The class's resource URI.
        resource_uri: String,
        /// Which instance (empty for singletons).
        selectors: SelectorSet,
    },
    /// WS-Enumeration Enumerate of a class.
    Enumerate {
        /// The class's resource URI.
        resource_uri: String,
    },
    /// WS-Enumeration Pull of the next page.
    Pull {
        /// The class's resource URI.
        resource_uri: String,
        /// The context from `Enumerate` or the previous `Pull`.
        context: EnumerationContext,
        /// Most items wanted in this page.
        max_elements: u32,
    },
    /// Invoke of any method: action `<resource_uri>/<method>`.
    Invoke {
        /// The class's resource URI.
        resource_uri: String,
        /// The method name, e.g. `RequestStateChange`.
        method: String,
        /// Which instance.
        selectors: SelectorSet,
        /// The body: the `<method>_INPUT` element, normally in the `resource_uri` namespace.
        input: Element,
    },
}

impl Call {
    /// `RequestPowerStateChange(power_state)` for the managed host (`CIM_ComputerSystem`,
    /// `Name=ManagedSystem`), as every client sends it.
    pub fn request_power_state_change(power_state: u16) -> Self {
        Self::RequestPowerStateChange {
            power_state,
            managed_element: Some(EndpointReference::managed_system()),
        }
    }

    /// Enumerate `CIM_SoftwareIdentity` (the start of an enumeration of firmware versions).
    pub fn enumerate_software_identity() -> Self {
        Self::Enumerate {
            resource_uri: resource::CIM_SOFTWARE_IDENTITY.to_owned(),
        }
    }

    /// Pull the next page of `CIM_SoftwareIdentity` instances.
    pub fn pull_software_identity(context: EnumerationContext) -> Self {
        Self::Pull {
            resource_uri: resource::CIM_SOFTWARE_IDENTITY.to_owned(),
            context,
            max_elements: DEFAULT_PULL_MAX_ELEMENTS,
        }
    }

    /// The `wsa:Action` URI; `None` for Identify, which has no addressing headers.
    pub fn action(&self) -> Option<Cow<'static, str>> {
        Some(match self {
            Self::PowerState
            | Self::AmtVersion
            | Self::PowerCapabilities
            | Self::OsPowerState
            | Self::Get { .. } => Cow::Borrowed(action::GET),
            Self::RequestPowerStateChange { .. } => {
                Cow::Borrowed(action::REQUEST_POWER_STATE_CHANGE)
            }
            Self::Identify => return None,
            Self::Enumerate { .. } => Cow::Borrowed(action::ENUMERATE),
            Self::Pull { .. } => Cow::Borrowed(action::PULL),
            Self::Invoke {
                resource_uri,
                method,
                ..
            } => Cow::Owned(format!("{resource_uri}/{method}")),
        })
    }

    /// The `wsman:ResourceURI`; `None` for Identify.
    pub fn resource_uri(&self) -> Option<&str> {
        Some(match self {
            Self::PowerState => resource::CIM_ASSOCIATED_POWER_MANAGEMENT_SERVICE,
            Self::RequestPowerStateChange { .. } => resource::CIM_POWER_MANAGEMENT_SERVICE,
            Self::AmtVersion => resource::CIM_SOFTWARE_IDENTITY,
            Self::PowerCapabilities => resource::CIM_POWER_MANAGEMENT_CAPABILITIES,
            Self::OsPowerState => resource::IPS_POWER_MANAGEMENT_SERVICE,
            Self::Identify => return None,
            Self::Get { resource_uri, .. }
            | Self::Enumerate { resource_uri }
            | Self::Pull { resource_uri, .. }
            | Self::Invoke { resource_uri, .. } => resource_uri,
        })
    }

    /// The header `wsman:SelectorSet` (empty when none is sent).
    pub fn selectors(&self) -> Cow<'_, SelectorSet> {
        match self {
            Self::RequestPowerStateChange { .. } => {
                Cow::Owned(SelectorSet::new().with("Name", POWER_MANAGEMENT_SERVICE_NAME))
            }
            Self::AmtVersion => Cow::Owned(SelectorSet::new().with("InstanceID", "AMT")),
            Self::Get { selectors, .. } | Self::Invoke { selectors, .. } => {
                Cow::Borrowed(selectors)
            }
            _ => Cow::Owned(SelectorSet::new()),
        }
    }

    /// The request envelope, UTF-8, with `message_id` as `wsa:MessageID`.
    ///
    /// Identify carries no addressing headers, so `message_id` is unused for it. Output is
    /// deterministic, well-formed and namespace-correct; all text is escaped.
    pub fn build_request(&self, message_id: &MessageId) -> Vec<u8> {
        let header = match (self.action(), self.resource_uri()) {
            (Some(action), Some(resource_uri)) => {
                request_header(&action, resource_uri, message_id, &self.selectors())
            }
            _ => Element::new(ns::SOAP, "Header"),
        };
        let mut body = Element::new(ns::SOAP, "Body");
        if let Some(payload) = self.body() {
            body = body.with_child(payload);
        }
        let envelope = Element::new(ns::SOAP, "Envelope")
            .with_child(header)
            .with_child(body);
        Writer::new(&CLIENT).finish(&envelope)
    }

    fn body(&self) -> Option<Element> {
        match self {
            Self::RequestPowerStateChange {
                power_state,
                managed_element,
            } => Some(cim::power_change_input(
                *power_state,
                managed_element.as_ref(),
            )),
            Self::Identify => Some(Element::new(ns::IDENTITY, "Identify")),
            Self::Enumerate { .. } => Some(enumeration::enumerate_request()),
            Self::Pull {
                context,
                max_elements,
                ..
            } => Some(enumeration::pull_request(context, *max_elements)),
            Self::Invoke { input, .. } => Some(input.clone()),
            _ => None,
        }
    }
}

fn must_understand() -> Attribute {
    Attribute::new(ns::SOAP, "mustUnderstand", "true")
}

fn request_header(
    action: &str,
    resource_uri: &str,
    message_id: &MessageId,
    selectors: &SelectorSet,
) -> Element {
    let mut header = Element::new(ns::SOAP, "Header")
        .with_child(
            Element::new(ns::ADDRESSING, "Action")
                .with_attribute(must_understand())
                .with_text(action),
        )
        .with_child(
            Element::new(ns::ADDRESSING, "To")
                .with_attribute(must_understand())
                .with_text("/wsman"),
        )
        .with_child(
            Element::new(ns::WSMAN, "ResourceURI")
                .with_attribute(must_understand())
                .with_text(resource_uri),
        )
        .with_child(
            Element::new(ns::ADDRESSING, "MessageID")
                .with_attribute(must_understand())
                .with_text(message_id.as_str()),
        )
        .with_child(
            Element::new(ns::ADDRESSING, "ReplyTo")
                .with_child(Element::new(ns::ADDRESSING, "Address").with_text(ns::ANONYMOUS)),
        )
        .with_child(Element::new(ns::WSMAN, "OperationTimeout").with_text(OPERATION_TIMEOUT));
    if !selectors.is_empty() {
        header = header.with_child(selectors.to_element());
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(call: &Call) -> String {
        String::from_utf8(call.build_request(&MessageId::new("uuid:1").unwrap())).unwrap()
    }

    #[test]
    fn power_state_request_matches_the_canonical_skeleton() {
        assert_eq!(
            text(&Call::PowerState),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">"#,
                r#"<s:Header>"#,
                r#"<wsa:Action s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</wsa:Action>"#,
                r#"<wsa:To s:mustUnderstand="true">/wsman</wsa:To>"#,
                r#"<wsman:ResourceURI s:mustUnderstand="true">http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_AssociatedPowerManagementService</wsman:ResourceURI>"#,
                r#"<wsa:MessageID s:mustUnderstand="true">uuid:1</wsa:MessageID>"#,
                r#"<wsa:ReplyTo><wsa:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo>"#,
                r#"<wsman:OperationTimeout>PT60S</wsman:OperationTimeout>"#,
                r#"</s:Header><s:Body/></s:Envelope>"#
            )
        );
    }

    #[test]
    fn power_change_request_names_the_service_and_the_host() {
        let text = text(&Call::request_power_state_change(8));
        assert!(text.contains(r#"<wsman:SelectorSet><wsman:Selector Name="Name">Intel(r) AMT Power Management Service</wsman:Selector></wsman:SelectorSet>"#));
        assert!(text.contains(
            r#"<p:RequestPowerStateChange_INPUT><p:PowerState>8</p:PowerState><p:ManagedElement>"#
        ));
        assert!(text.contains(r#"xmlns:p="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementService""#));
        assert!(text.contains(r#"<wsman:Selector Name="Name">ManagedSystem</wsman:Selector>"#));
    }

    #[test]
    fn identify_has_no_addressing_headers() {
        let text = text(&Call::Identify);
        assert!(text.contains("<s:Header/><s:Body><wsmid:Identify/></s:Body>"));
        assert!(!text.contains("MessageID"));
        assert_eq!(Call::Identify.action(), None);
        assert_eq!(Call::Identify.resource_uri(), None);
    }

    #[test]
    fn invoke_action_joins_resource_and_method() {
        let call = Call::Invoke {
            resource_uri: "urn:r".into(),
            method: "M".into(),
            selectors: SelectorSet::new(),
            input: Element::new("urn:r", "M_INPUT"),
        };
        assert_eq!(call.action().as_deref(), Some("urn:r/M"));
        assert_eq!(call.resource_uri(), Some("urn:r"));
    }

    #[test]
    fn software_identity_helpers() {
        assert_eq!(
            Call::enumerate_software_identity().resource_uri(),
            Some(resource::CIM_SOFTWARE_IDENTITY)
        );
        let pull = Call::pull_software_identity(EnumerationContext::new("c").unwrap());
        assert!(text(&pull).contains("<wsen:Pull><wsen:EnumerationContext>c</wsen:EnumerationContext><wsen:MaxElements>999</wsen:MaxElements></wsen:Pull>"));
        assert_eq!(
            Call::AmtVersion.selectors().value("InstanceID"),
            Some("AMT")
        );
    }
}
