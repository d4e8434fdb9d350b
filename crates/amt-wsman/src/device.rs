//! Device side (for the simulator): reading requests, writing replies in Intel AMT's style.
//!
//! [`parse_request`] separates what every request has (action, resource URI, selectors,
//! `MessageID`) from what it asks for ([`Request::call`]), so that a request whose call cannot
//! be understood still yields the `MessageID` a fault reply must relate to:
//!
//! ```
//! use amt_wsman::{device, Call, Fault, Limits, MessageId};
//!
//! let body = Call::Get { resource_uri: "urn:nowhere".into(), selectors: Default::default() }
//!     .build_request(&MessageId::new("uuid:7")?);
//! let request = device::parse_request(&body, Limits::default())?;
//! // This device has no such class: answer as AMT does, relating the fault to the request.
//! assert!(matches!(request.call, Ok(Call::Get { .. })));
//! let reply = device::build_fault(
//!     &Fault::destination_unreachable(),
//!     request.message_id.as_ref(),
//!     &MessageId::amt(1),
//! );
//! assert!(String::from_utf8(reply)?.contains("<b:RelatesTo>uuid:7</b:RelatesTo>"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::action;
use crate::call::Call;
use crate::cim::{self, expect_element};
use crate::enumeration;
use crate::envelope;
use crate::error::{Error, quoted};
use crate::fault::Fault;
use crate::message_id::MessageId;
use crate::ns;
use crate::resource;
use crate::response::Response;
use crate::selector::SelectorSet;
use crate::write::{AMT, AMT_FAULT, AMT_IDENTIFY, Writer};
use crate::xml::{Attribute, Element, Limits, is_ncname};

/// An incoming request, as the device sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// `wsa:Action` (trimmed); `None` for Identify.
    pub action: Option<String>,
    /// `wsman:ResourceURI` (trimmed), when present.
    pub resource_uri: Option<String>,
    /// `wsa:MessageID` (trimmed), when present; a reply's `RelatesTo` must repeat it.
    pub message_id: Option<MessageId>,
    /// The header `wsman:SelectorSet` (empty when absent or unreadable).
    pub selectors: SelectorSet,
    /// What the request asks for, or why it cannot be understood: for example
    /// [`Error::UnsupportedAction`] (answer with [`Fault::action_not_supported`]),
    /// [`Error::InvalidSelectors`] (answer with [`Fault::invalid_selectors`]), a missing
    /// `ResourceURI`, or a `RequestPowerStateChange` without a numeric `PowerState`.
    pub call: Result<Call, Error>,
}

/// Reads a request body.
///
/// Fails only when the envelope itself cannot be read (not XML, not SOAP 1.2, an `Action`,
/// `ResourceURI` or `MessageID` header that appears twice); problems with the call, selectors
/// included, are in [`Request::call`], so that a fault can still relate to the `MessageID`.
pub fn parse_request(body: &[u8], limits: Limits) -> Result<Request, Error> {
    let root = envelope::parse(body, limits)?;
    let (header, body) = envelope::parts(&root)?;
    let action = envelope::header_uri(header, ns::ADDRESSING, "Action")?;
    let resource_uri = envelope::header_uri(header, ns::WSMAN, "ResourceURI")?;
    let message_id = envelope::header_uri(header, ns::ADDRESSING, "MessageID")?;
    let selectors = match header {
        Some(header) => header
            .optional_child(ns::WSMAN, "SelectorSet")
            .and_then(|set| set.map(SelectorSet::from_element).transpose()),
        None => Ok(None),
    };
    let (selectors, call) = match selectors {
        Ok(selectors) => {
            let selectors = selectors.unwrap_or_default();
            let call = interpret(action, resource_uri, &selectors, body);
            (selectors, call)
        }
        Err(error) => (
            SelectorSet::new(),
            Err(Error::InvalidSelectors {
                reason: error.to_string(),
            }),
        ),
    };
    Ok(Request {
        action: action.map(str::to_owned),
        resource_uri: resource_uri.map(str::to_owned),
        message_id: message_id.map(MessageId::from_wire),
        selectors,
        call,
    })
}

/// Writes `response` as Intel AMT does: prefixes `a:` (SOAP) `b:` (addressing) `c:`
/// (WS-Management), `g:`/`h:` for the body's classes, `RelatesTo` = the request's `MessageID`,
/// the device's own `message_id` (see [`MessageId::amt`]) and the `ResourceURI`.
///
/// An Identify reply has an empty header, so `relates_to` and `message_id` are unused for it.
pub fn build_response(
    response: &Response,
    relates_to: Option<&MessageId>,
    message_id: &MessageId,
) -> Vec<u8> {
    let payload = response.payload();
    let (layout, header) = match (response.action(), response.resource_uri()) {
        (Some(action), resource_uri) => (
            &AMT,
            reply_header(&action, relates_to, message_id, resource_uri),
        ),
        (None, _) => (&AMT_IDENTIFY, Element::new(ns::SOAP, "Header")),
    };
    let envelope = Element::new(ns::SOAP, "Envelope")
        .with_child(header)
        .with_child(Element::new(ns::SOAP, "Body").with_child(payload));
    Writer::new(layout).finish(&envelope)
}

/// Writes `fault` as Intel AMT does (its fault replies declare their own prefix set, where
/// `b:` is addressing, `c:` enumeration and `e:` WS-Management), with the action matching the
/// subcode's specification. Send it with HTTP 400.
pub fn build_fault(
    fault: &Fault,
    relates_to: Option<&MessageId>,
    message_id: &MessageId,
) -> Vec<u8> {
    let mut writer = Writer::new(&AMT_FAULT);
    let body = Element::new(ns::SOAP, "Body").with_child(fault.to_element(&mut writer));
    let envelope = Element::new(ns::SOAP, "Envelope")
        .with_child(reply_header(fault.action(), relates_to, message_id, None))
        .with_child(body);
    writer.finish(&envelope)
}

fn reply_header(
    action: &str,
    relates_to: Option<&MessageId>,
    message_id: &MessageId,
    resource_uri: Option<&str>,
) -> Element {
    let mut header = Element::new(ns::SOAP, "Header")
        .with_child(Element::new(ns::ADDRESSING, "To").with_text(ns::ANONYMOUS));
    if let Some(relates_to) = relates_to {
        header = header
            .with_child(Element::new(ns::ADDRESSING, "RelatesTo").with_text(relates_to.as_str()));
    }
    header = header
        .with_child(
            Element::new(ns::ADDRESSING, "Action")
                .with_attribute(Attribute::new(ns::SOAP, "mustUnderstand", "true"))
                .with_text(action),
        )
        .with_child(Element::new(ns::ADDRESSING, "MessageID").with_text(message_id.as_str()));
    if let Some(resource_uri) = resource_uri {
        header = header.with_child(Element::new(ns::WSMAN, "ResourceURI").with_text(resource_uri));
    }
    header
}

/// Works out which [`Call`] a request makes.
fn interpret(
    action: Option<&str>,
    resource_uri: Option<&str>,
    selectors: &SelectorSet,
    body: &Element,
) -> Result<Call, Error> {
    let payload = envelope::payload(body)?;
    let Some(action) = action else {
        return match payload {
            Some(p) if p.is(ns::IDENTITY, "Identify") => Ok(Call::Identify),
            _ => Err(missing("Header", "Action")),
        };
    };
    let resource_uri = resource_uri.ok_or_else(|| missing("Header", "ResourceURI"))?;
    let owned = resource_uri.to_owned();
    match action {
        action::GET => Ok(
            typed_get(resource_uri, selectors).unwrap_or_else(|| Call::Get {
                resource_uri: owned,
                selectors: selectors.clone(),
            }),
        ),
        action::ENUMERATE => {
            let enumerate = payload.ok_or_else(|| missing("Body", "Enumerate"))?;
            expect_element(enumerate, ns::ENUMERATION, "Enumerate")?;
            Ok(Call::Enumerate {
                resource_uri: owned,
            })
        }
        action::PULL => {
            let pull = payload.ok_or_else(|| missing("Body", "Pull"))?;
            let (context, max_elements) = enumeration::read_pull_request(pull)?;
            Ok(Call::Pull {
                resource_uri: owned,
                context,
                max_elements,
            })
        }
        _ => {
            let method = action
                .strip_prefix(resource_uri)
                .and_then(|rest| rest.strip_prefix('/'))
                .filter(|method| is_ncname(method))
                .ok_or_else(|| Error::UnsupportedAction {
                    action: quoted(action),
                })?;
            let input = payload.ok_or_else(|| missing("Body", &format!("{method}_INPUT")))?;
            if resource_uri == resource::CIM_POWER_MANAGEMENT_SERVICE
                && method == "RequestPowerStateChange"
            {
                let (power_state, managed_element) = cim::read_power_change_input(input)?;
                return Ok(Call::RequestPowerStateChange {
                    power_state,
                    managed_element,
                });
            }
            Ok(Call::Invoke {
                resource_uri: owned,
                method: method.to_owned(),
                selectors: selectors.clone(),
                input: input.clone(),
            })
        }
    }
}

/// The typed call a Get is, when its resource and selectors are exactly those of one.
fn typed_get(resource_uri: &str, selectors: &SelectorSet) -> Option<Call> {
    match (resource_uri, selectors.as_slice()) {
        (resource::CIM_ASSOCIATED_POWER_MANAGEMENT_SERVICE, []) => Some(Call::PowerState),
        (resource::CIM_POWER_MANAGEMENT_CAPABILITIES, []) => Some(Call::PowerCapabilities),
        (resource::IPS_POWER_MANAGEMENT_SERVICE, []) => Some(Call::OsPowerState),
        (resource::CIM_SOFTWARE_IDENTITY, [only])
            if only.name == "InstanceID" && only.value == "AMT" =>
        {
            Some(Call::AmtVersion)
        }
        _ => None,
    }
}

fn missing(parent: &str, element: &str) -> Error {
    Error::MissingElement {
        parent: parent.to_owned(),
        element: element.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(header: &str, body: &str) -> Result<Request, Error> {
        let text = format!(
            r#"<s:Envelope xmlns:s="{}" xmlns:a="{}" xmlns:w="{}"><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"#,
            ns::SOAP,
            ns::ADDRESSING,
            ns::WSMAN
        );
        parse_request(text.as_bytes(), Limits::default())
    }

    #[test]
    fn unknown_actions_keep_the_message_id() {
        let req = request(
            &format!(
                "<a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete</a:Action><w:ResourceURI>{}</w:ResourceURI><a:MessageID>9</a:MessageID>",
                resource::CIM_SOFTWARE_IDENTITY
            ),
            "",
        )
        .unwrap();
        assert_eq!(req.message_id, Some(MessageId::new("9").unwrap()));
        assert!(matches!(req.call, Err(Error::UnsupportedAction { .. })));
    }

    #[test]
    fn a_request_without_action_must_be_identify() {
        let req = request("<a:MessageID>9</a:MessageID>", "").unwrap();
        assert_eq!(req.call, Err(missing("Header", "Action")));
    }

    #[test]
    fn calls_need_a_resource_uri() {
        let req = request(&format!("<a:Action>{}</a:Action>", action::GET), "").unwrap();
        assert_eq!(req.call, Err(missing("Header", "ResourceURI")));
    }

    #[test]
    fn power_change_needs_a_numeric_power_state() {
        let header = format!(
            "<a:Action>{}</a:Action><w:ResourceURI>{}</w:ResourceURI>",
            action::REQUEST_POWER_STATE_CHANGE,
            resource::CIM_POWER_MANAGEMENT_SERVICE
        );
        let body = format!(
            r#"<p:RequestPowerStateChange_INPUT xmlns:p="{}"><p:PowerState>off</p:PowerState></p:RequestPowerStateChange_INPUT>"#,
            resource::CIM_POWER_MANAGEMENT_SERVICE
        );
        let req = request(&header, &body).unwrap();
        assert!(matches!(req.call, Err(Error::InvalidValue { .. })));
        let req = request(&header, "").unwrap();
        assert!(matches!(req.call, Err(Error::MissingElement { .. })));
    }

    #[test]
    fn get_with_other_selectors_stays_generic() {
        let header = format!(
            r#"<a:Action>{}</a:Action><w:ResourceURI>{}</w:ResourceURI><w:SelectorSet><w:Selector Name="InstanceID">Flash</w:Selector></w:SelectorSet>"#,
            action::GET,
            resource::CIM_SOFTWARE_IDENTITY
        );
        let req = request(&header, "").unwrap();
        assert_eq!(
            req.call,
            Ok(Call::Get {
                resource_uri: resource::CIM_SOFTWARE_IDENTITY.into(),
                selectors: SelectorSet::new().with("InstanceID", "Flash")
            })
        );
    }

    #[test]
    fn header_errors_fail_the_whole_request() {
        assert!(matches!(
            request(
                "<a:MessageID>1</a:MessageID><a:MessageID>2</a:MessageID>",
                ""
            ),
            Err(Error::DuplicateElement { .. })
        ));
    }

    #[test]
    fn unreadable_selectors_keep_the_message_id() {
        let header = |selectors: &str| {
            format!(
                "<a:Action>{}</a:Action><w:ResourceURI>{}</w:ResourceURI><a:MessageID>9</a:MessageID>{selectors}",
                action::GET,
                resource::CIM_SOFTWARE_IDENTITY
            )
        };
        for selectors in [
            "<w:SelectorSet><w:Selector>x</w:Selector></w:SelectorSet>",
            r#"<w:SelectorSet><w:Selector Name="n"><a:EndpointReference/></w:Selector></w:SelectorSet>"#,
            "<w:SelectorSet/><w:SelectorSet/>",
        ] {
            let req = request(&header(selectors), "").unwrap();
            assert_eq!(
                req.message_id,
                Some(MessageId::new("9").unwrap()),
                "{selectors}"
            );
            assert!(req.selectors.is_empty());
            assert!(
                matches!(req.call, Err(Error::InvalidSelectors { .. })),
                "{selectors}: {:?}",
                req.call
            );
        }
    }

    #[test]
    fn power_change_exposes_its_managed_element() {
        let header = format!(
            "<a:Action>{}</a:Action><w:ResourceURI>{}</w:ResourceURI>",
            action::REQUEST_POWER_STATE_CHANGE,
            resource::CIM_POWER_MANAGEMENT_SERVICE
        );
        let body = format!(
            r#"<p:RequestPowerStateChange_INPUT xmlns:p="{}"><p:PowerState>2</p:PowerState><p:ManagedElement><a:Address>urn:elsewhere</a:Address><a:ReferenceParameters><w:ResourceURI> urn:other </w:ResourceURI><w:SelectorSet><w:Selector Name="Name">Other</w:Selector></w:SelectorSet></a:ReferenceParameters></p:ManagedElement></p:RequestPowerStateChange_INPUT>"#,
            resource::CIM_POWER_MANAGEMENT_SERVICE
        );
        let Ok(Call::RequestPowerStateChange {
            power_state: 2,
            managed_element: Some(reference),
        }) = request(&header, &body).unwrap().call
        else {
            panic!("expected a power change with a managed element");
        };
        assert_eq!(reference.address, "urn:elsewhere");
        assert_eq!(reference.resource_uri.as_deref(), Some("urn:other"));
        assert_eq!(
            reference.selectors,
            SelectorSet::new().with("Name", "Other")
        );

        let without = body.replace(
            &body[body.find("<p:ManagedElement>").unwrap()
                ..body.find("</p:RequestPowerStateChange_INPUT>").unwrap()],
            "",
        );
        assert_eq!(
            request(&header, &without).unwrap().call,
            Ok(Call::RequestPowerStateChange {
                power_state: 2,
                managed_element: None
            })
        );
        let addressless = body.replace("<a:Address>urn:elsewhere</a:Address>", "");
        assert!(matches!(
            request(&header, &addressless).unwrap().call,
            Err(Error::MissingElement { .. })
        ));
    }

    #[test]
    fn identify_reply_has_an_empty_header() {
        let reply = build_response(
            &Response::Identify(cim::Identity {
                protocol_version: ns::WSMAN.into(),
                product_vendor: "Intel(r)".into(),
                product_version: "AMT 16.1".into(),
                dash_version: None,
                security_profiles: vec![],
            }),
            Some(&MessageId::new("x").unwrap()),
            &MessageId::amt(1),
        );
        let text = String::from_utf8(reply).unwrap();
        assert!(text.contains("<a:Header/><a:Body><b:IdentifyResponse>"));
        assert!(!text.contains("RelatesTo"));
    }
}
