//! Entry points for fuzzers (and for tests replaying their corpora).
//!
//! The functions take arbitrary bytes and are deterministic: any input is fine. They check
//! round-trip properties with `assert!`, so they panic only when the crate itself is wrong —
//! which is what a fuzzer is looking for.

use crate::call::Call;
use crate::cim::{Identity, PowerCapabilities, PowerStatus, SoftwareIdentity};
use crate::client;
use crate::device;
use crate::enumeration::{EnumerationContext, PullResponse};
use crate::error::Error;
use crate::fault::Fault;
use crate::message_id::MessageId;
use crate::ns;
use crate::resource;
use crate::response::Response;
use crate::selector::SelectorSet;
use crate::xml::{Element, Limits, MAX_SUPPORTED_DEPTH, XMLNS_NAMESPACE};

/// The `MessageID` the response fuzzer pretends to have sent; seed corpora should relate to it.
pub const FUZZ_MESSAGE_ID: &str = "uuid:00000000-0000-4000-8000-000000000000";

/// Limits for reading back what we wrote: what we write may be a little larger than what we
/// read, so only depth stays bounded.
const RELAXED: Limits = Limits {
    max_body_bytes: usize::MAX,
    max_depth: MAX_SUPPORTED_DEPTH,
    max_elements: usize::MAX,
};

/// Runs every client-side reply parser over `data`, as the reply to a request whose
/// `MessageID` is [`FUZZ_MESSAGE_ID`]: [`response_to`] that identifier.
pub fn response(data: &[u8]) {
    response_to(data, &MessageId::from_wire(FUZZ_MESSAGE_ID));
}

/// Runs every client-side reply parser over `data`, as the reply to a request whose
/// `MessageID` is `request_id`, and returns how many of them read it (as a reply or as a
/// fault).
///
/// Whatever a parser reads is rendered again by the device side and must parse back to the
/// same value, so the count says how many round trips were checked: a reply that relates to
/// another request, or is not well-formed, checks none.
pub fn response_to(data: &[u8], request_id: &MessageId) -> usize {
    let request_id = request_id.clone();
    let mut read = 0;
    let calls = [
        Call::PowerState,
        Call::request_power_state_change(2),
        Call::AmtVersion,
        Call::PowerCapabilities,
        Call::OsPowerState,
        Call::Identify,
        Call::Get {
            resource_uri: resource::CIM_SOFTWARE_IDENTITY.to_owned(),
            selectors: SelectorSet::new().with("InstanceID", "Flash"),
        },
        Call::enumerate_software_identity(),
        Call::pull_software_identity(EnumerationContext::from_wire("fuzz")),
        Call::Invoke {
            resource_uri: resource::CIM_POWER_MANAGEMENT_SERVICE.to_owned(),
            method: "RequestStateChange".to_owned(),
            selectors: SelectorSet::new(),
            input: Element::new(
                resource::CIM_POWER_MANAGEMENT_SERVICE,
                "RequestStateChange_INPUT",
            ),
        },
    ];
    for call in &calls {
        match client::parse_response(call, data, &request_id, Limits::default()) {
            Ok(response) => {
                read += 1;
                let again =
                    device::build_response(&response, Some(&request_id), &MessageId::amt(1));
                assert_eq!(
                    client::parse_response(call, &again, &request_id, RELAXED),
                    Ok(response),
                    "a reply we read must read back the same once rewritten"
                );
            }
            Err(Error::Fault(fault)) => {
                read += 1;
                let again = device::build_fault(&fault, Some(&request_id), &MessageId::amt(1));
                assert_eq!(
                    client::parse_response(call, &again, &request_id, RELAXED),
                    Err(Error::Fault(fault)),
                    "a fault we read must read back the same once rewritten"
                );
            }
            Err(_) => {}
        }
    }
    let _ = client::parse_pull_software_identity(data, &request_id, Limits::default());
    read
}

/// Runs the device-side request parser over `data`.
///
/// When a call is understood, the client's rendering of that call must parse back to it, and a
/// reply built for it must read back on the client side; when it is not, a fault reply must.
pub fn request(data: &[u8]) {
    let Ok(request) = device::parse_request(data, Limits::default()) else {
        return;
    };
    let request_id = request
        .message_id
        .clone()
        .unwrap_or_else(|| MessageId::from_wire(FUZZ_MESSAGE_ID));
    let reply_id = MessageId::amt(1);
    match &request.call {
        Ok(call) => {
            let rebuilt = call.build_request(&request_id);
            let reparsed = device::parse_request(&rebuilt, RELAXED).map(|r| r.call);
            assert_eq!(
                reparsed,
                Ok(Ok(call.clone())),
                "a call must survive being rewritten"
            );

            if call.resource_uri() == Some(XMLNS_NAMESPACE) {
                // No element can be in the xmlns namespace: the writer puts the instance in no
                // namespace, so the reply cannot read back as one of this class.
                return;
            }
            let response = sample_response(call);
            let reply = device::build_response(&response, Some(&request_id), &reply_id);
            assert_eq!(
                client::parse_response(call, &reply, &request_id, RELAXED),
                Ok(response),
                "a reply we write must read back the same"
            );
        }
        Err(_) => {
            let fault = Fault::action_not_supported();
            let reply = device::build_fault(&fault, request.message_id.as_ref(), &reply_id);
            assert_eq!(
                client::parse_response(&Call::PowerState, &reply, &request_id, RELAXED),
                Err(Error::Fault(Box::new(fault))),
                "a fault we write must read back the same"
            );
        }
    }
}

/// A plausible reply to `call`.
fn sample_response(call: &Call) -> Response {
    match call {
        Call::RequestPowerStateChange { .. } => {
            Response::RequestPowerStateChange { return_value: 0 }
        }
        Call::AmtVersion => Response::AmtVersion(SoftwareIdentity {
            instance_id: SoftwareIdentity::AMT_INSTANCE_ID.to_owned(),
            version_string: "16.1.25".to_owned(),
            is_entity: Some(true),
        }),
        Call::PowerCapabilities => Response::PowerCapabilities(PowerCapabilities {
            power_change_capabilities: vec![2, 3, 4, 7, 8],
            power_states_supported: vec![5, 8, 2, 10, 11, 12, 14],
            requested_power_states_supported: vec![],
        }),
        Call::OsPowerState => Response::OsPowerState {
            os_power_saving_state: 2,
        },
        Call::Identify => Response::Identify(Identity {
            protocol_version: ns::WSMAN.to_owned(),
            product_vendor: "Intel(r)".to_owned(),
            product_version: "AMT 16.1".to_owned(),
            dash_version: Some("1.0.0".to_owned()),
            security_profiles: vec![],
        }),
        Call::Get { resource_uri, .. } => Response::Get(
            Element::new(resource_uri.clone(), "Instance")
                .with_child(Element::new(resource_uri.clone(), "Name").with_text("x")),
        ),
        Call::Enumerate { resource_uri } => Response::Enumerate {
            resource_uri: resource_uri.clone(),
            context: EnumerationContext::from_wire("E2020000-0000-0000-0000-000000000000"),
        },
        Call::Pull { resource_uri, .. } => Response::Pull {
            resource_uri: resource_uri.clone(),
            page: PullResponse {
                items: vec![Element::new(resource_uri.clone(), "Instance")],
                context: None,
                end_of_sequence: true,
            },
        },
        Call::Invoke {
            resource_uri,
            method,
            ..
        } => Response::Invoke {
            method: method.clone(),
            output: Element::new(resource_uri.clone(), format!("{method}_OUTPUT"))
                .with_child(Element::new(resource_uri.clone(), "ReturnValue").with_text("0")),
        },
        // PowerState, and any call added later.
        _ => Response::PowerState(PowerStatus {
            power_state: 2,
            available_requested_power_states: vec![10, 8, 5, 11],
            requested_power_state: Some(2),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerates_garbage() {
        for data in [
            &b""[..],
            b"\xff\xfe",
            b"<",
            b"<s:Envelope",
            b"<!DOCTYPE x>",
            b"<a/>",
            b"&amp;",
        ] {
            response(data);
            request(data);
        }
    }

    #[test]
    fn replays_our_own_requests() {
        for call in [
            Call::PowerState,
            Call::request_power_state_change(8),
            Call::AmtVersion,
            Call::PowerCapabilities,
            Call::OsPowerState,
            Call::Identify,
            Call::enumerate_software_identity(),
            Call::pull_software_identity(EnumerationContext::new("c").unwrap()),
        ] {
            request(&call.build_request(&MessageId::new("uuid:1").unwrap()));
        }
    }

    #[test]
    fn replays_our_own_replies() {
        let request_id = MessageId::new(FUZZ_MESSAGE_ID).unwrap();
        let fault = device::build_fault(
            &Fault::access_denied(),
            Some(&request_id),
            &MessageId::amt(3),
        );
        // Every parser reads a fault.
        assert_eq!(response_to(&fault, &request_id), 10);
        let reply = device::build_response(
            &sample_response(&Call::PowerState),
            Some(&request_id),
            &MessageId::amt(3),
        );
        assert_eq!(response_to(&reply, &request_id), 1);
        assert_eq!(
            response_to(&reply, &MessageId::new("uuid:other").unwrap()),
            0
        );
    }
}
