//! Round trips: every request the client builds parses back on the device side to the same
//! call, and every reply the device builds parses back on the client side to the same value,
//! for values including XML-special characters.

use amt_wsman::{
    Attribute, Call, Element, EndpointReference, EnumerationContext, Error, Fault, FaultCode,
    Identity, Limits, MessageId, PowerCapabilities, PowerStatus, PullResponse, QualifiedName,
    Response, SelectorSet, SoftwareIdentity, client, device, ns,
};
use proptest::prelude::*;

/// Text as it may appear in values: markup characters, quotes, line ends, tabs, non-ASCII,
/// leading and trailing spaces.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 <>&'\";:#/.!=\t\r\n\u{e9}\u{4e2d}\u{1F600}\\]\\[-]{0,24}"
}

/// A token without surrounding whitespace (URIs, identifiers, contexts), markup characters
/// included.
fn token() -> impl Strategy<Value = String> {
    "[!-~\u{e9}]([!-~ \u{e9}]{0,30}[!-~\u{e9}])?"
}

/// An XML name; names starting with `xml` are reserved (and `xmlns` would be a declaration).
fn ncname() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_.-]{0,12}"
        .prop_filter("reserved", |n| !n.to_ascii_lowercase().starts_with("xml"))
}

fn message_id() -> impl Strategy<Value = MessageId> {
    prop_oneof![
        any::<[u8; 16]>().prop_map(MessageId::uuid_v4),
        any::<u64>().prop_map(MessageId::amt),
        token().prop_map(|t| MessageId::new(t).unwrap()),
    ]
}

fn selectors() -> impl Strategy<Value = SelectorSet> {
    prop::collection::vec((token(), text()), 0..4).prop_map(|pairs| pairs.into_iter().collect())
}

/// A reference as the device side reads it: URIs without surrounding whitespace.
fn endpoint_reference() -> impl Strategy<Value = EndpointReference> {
    (token(), prop::option::of(token()), selectors()).prop_map(
        |(address, resource_uri, selectors)| {
            let mut reference = EndpointReference::managed_system();
            reference.address = address;
            reference.resource_uri = resource_uri;
            reference.selectors = selectors;
            reference
        },
    )
}

fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("urn:example:a".to_owned()),
        Just(ns::WSMAN.to_owned()),
        token().prop_map(|t| format!("urn:x:{t}")),
    ]
}

fn attributes() -> impl Strategy<Value = Vec<Attribute>> {
    prop::collection::vec((namespace(), ncname(), text()), 0..3).prop_map(|attrs| {
        let mut unique: Vec<Attribute> = Vec::new();
        for (namespace, name, value) in attrs {
            if !unique
                .iter()
                .any(|a| a.namespace == namespace && a.name == name)
            {
                unique.push(Attribute::new(namespace, name, value));
            }
        }
        unique
    })
}

/// An element tree as generic calls carry it. An element with children has either no text or
/// text that is not only whitespace (whitespace between elements is not content).
fn element() -> impl Strategy<Value = Element> {
    let leaf = (namespace(), ncname(), attributes(), text()).prop_map(|(ns, name, attrs, text)| {
        attrs.into_iter().fold(
            Element::new(ns, name).with_text(text),
            Element::with_attribute,
        )
    });
    leaf.prop_recursive(3, 16, 4, |inner| {
        (
            namespace(),
            ncname(),
            attributes(),
            prop::option::of(token()),
            prop::collection::vec(inner, 1..4),
        )
            .prop_map(|(ns, name, attrs, text, children)| {
                let element = attrs
                    .into_iter()
                    .fold(Element::new(ns, name), Element::with_attribute)
                    .with_children(children);
                match text {
                    Some(text) => element.with_text(text),
                    None => element,
                }
            })
    })
}

fn element_in(namespace: String, name: String) -> impl Strategy<Value = Element> {
    prop::collection::vec(element(), 0..3).prop_map(move |children| {
        Element::new(namespace.clone(), name.clone()).with_children(children)
    })
}

fn call() -> impl Strategy<Value = Call> {
    let resource = || token().prop_map(|t| format!("urn:r:{t}"));
    prop_oneof![
        Just(Call::PowerState),
        (any::<u16>(), prop::option::of(endpoint_reference())).prop_map(
            |(power_state, managed_element)| Call::RequestPowerStateChange {
                power_state,
                managed_element
            }
        ),
        Just(Call::AmtVersion),
        Just(Call::PowerCapabilities),
        Just(Call::OsPowerState),
        Just(Call::Identify),
        (resource(), selectors()).prop_map(|(resource_uri, selectors)| Call::Get {
            resource_uri,
            selectors
        }),
        resource().prop_map(|resource_uri| Call::Enumerate { resource_uri }),
        (resource(), token(), 1..=u32::MAX).prop_map(|(resource_uri, context, max_elements)| {
            Call::Pull {
                resource_uri,
                context: EnumerationContext::new(context).unwrap(),
                max_elements,
            }
        }),
        (resource(), ncname(), selectors(), element()).prop_map(
            |(resource_uri, method, selectors, input)| Call::Invoke {
                resource_uri,
                method,
                selectors,
                input
            }
        ),
    ]
}

fn u16s() -> impl Strategy<Value = Vec<u16>> {
    prop::collection::vec(any::<u16>(), 0..10)
}

fn software_identity() -> impl Strategy<Value = SoftwareIdentity> {
    (text(), text(), any::<Option<bool>>()).prop_map(|(instance_id, version_string, is_entity)| {
        SoftwareIdentity {
            instance_id,
            version_string,
            is_entity,
        }
    })
}

/// A call together with a reply to it.
fn exchange() -> impl Strategy<Value = (Call, Response)> {
    let resource = || token().prop_map(|t| format!("urn:r:{t}"));
    prop_oneof![
        (any::<u16>(), u16s(), any::<Option<u16>>()).prop_map(
            |(power_state, available, requested)| {
                (
                    Call::PowerState,
                    Response::PowerState(PowerStatus {
                        power_state,
                        available_requested_power_states: available,
                        requested_power_state: requested,
                    }),
                )
            }
        ),
        any::<u32>().prop_map(|return_value| (
            Call::request_power_state_change(8),
            Response::RequestPowerStateChange { return_value }
        )),
        software_identity().prop_map(|mut identity| {
            identity.instance_id = "AMT".to_owned();
            (Call::AmtVersion, Response::AmtVersion(identity))
        }),
        (u16s(), u16s(), u16s()).prop_map(|(change, supported, requested)| (
            Call::PowerCapabilities,
            Response::PowerCapabilities(PowerCapabilities {
                power_change_capabilities: change,
                power_states_supported: supported,
                requested_power_states_supported: requested,
            })
        )),
        any::<u16>().prop_map(|state| (
            Call::OsPowerState,
            Response::OsPowerState {
                os_power_saving_state: state
            }
        )),
        (
            token(),
            text(),
            text(),
            prop::option::of(text()),
            prop::collection::vec(token(), 0..3)
        )
            .prop_map(|(protocol, vendor, version, dash, profiles)| (
                Call::Identify,
                Response::Identify(Identity {
                    protocol_version: protocol,
                    product_vendor: vendor,
                    product_version: version,
                    dash_version: dash,
                    security_profiles: profiles,
                })
            )),
        (resource(), ncname())
            .prop_flat_map(|(resource_uri, class)| {
                (Just(resource_uri.clone()), element_in(resource_uri, class))
            })
            .prop_map(|(resource_uri, instance)| (
                Call::Get {
                    resource_uri,
                    selectors: SelectorSet::new()
                },
                Response::Get(instance)
            )),
        (resource(), token()).prop_map(|(resource_uri, context)| (
            Call::Enumerate {
                resource_uri: resource_uri.clone()
            },
            Response::Enumerate {
                resource_uri,
                context: EnumerationContext::new(context).unwrap()
            }
        )),
        (
            resource(),
            prop::collection::vec(element(), 0..4),
            prop::option::of(token()),
            any::<bool>()
        )
            .prop_map(|(resource_uri, items, context, end)| {
                // A page that is not the last must carry a context.
                let end_of_sequence = end || context.is_none();
                (
                    Call::Pull {
                        resource_uri: resource_uri.clone(),
                        context: EnumerationContext::new("c").unwrap(),
                        max_elements: 10,
                    },
                    Response::Pull {
                        resource_uri,
                        page: PullResponse {
                            items,
                            context: context.map(|c| EnumerationContext::new(c).unwrap()),
                            end_of_sequence,
                        },
                    },
                )
            }),
        (resource(), ncname())
            .prop_flat_map(|(resource_uri, method)| {
                let output = element_in(resource_uri.clone(), format!("{method}_OUTPUT"));
                (Just(resource_uri), Just(method), output)
            })
            .prop_map(|(resource_uri, method, output)| (
                Call::Invoke {
                    resource_uri: resource_uri.clone(),
                    method: method.clone(),
                    selectors: SelectorSet::new(),
                    input: Element::new(resource_uri, format!("{method}_INPUT")),
                },
                Response::Invoke { method, output }
            )),
    ]
}

fn qualified_name() -> impl Strategy<Value = QualifiedName> {
    (namespace(), ncname()).prop_map(|(ns, local)| QualifiedName::new(ns, local))
}

fn fault() -> impl Strategy<Value = Fault> {
    let code = prop_oneof![
        Just(FaultCode::Sender),
        Just(FaultCode::Receiver),
        Just(FaultCode::VersionMismatch),
        Just(FaultCode::MustUnderstand),
        Just(FaultCode::DataEncodingUnknown),
        qualified_name()
            .prop_filter("not a SOAP code", |q| q.namespace != ns::SOAP)
            .prop_map(FaultCode::Other),
    ];
    (
        code,
        prop::option::of(qualified_name()),
        text(),
        prop::option::of(token()),
    )
        .prop_map(|(code, subcode, reason, detail)| Fault {
            code,
            subcode,
            reason,
            detail,
        })
}

/// The exceptions `Call`'s documentation lists: what the wire does not keep.
#[test]
fn calls_come_back_as_documented() {
    let id = MessageId::new("uuid:1").unwrap();
    let read = |call: &Call| {
        device::parse_request(&call.build_request(&id), Limits::default())
            .unwrap()
            .call
    };
    let generic_power_state = Call::Get {
        resource_uri: amt_wsman::resource::CIM_ASSOCIATED_POWER_MANAGEMENT_SERVICE.to_owned(),
        selectors: SelectorSet::new(),
    };
    assert_eq!(read(&generic_power_state), Ok(Call::PowerState));
    let padded = Call::Enumerate {
        resource_uri: " urn:x\n".to_owned(),
    };
    assert_eq!(
        read(&padded),
        Ok(Call::Enumerate {
            resource_uri: "urn:x".to_owned()
        })
    );
    let odd_method = Call::Invoke {
        resource_uri: "urn:x".to_owned(),
        method: "not a name".to_owned(),
        selectors: SelectorSet::new(),
        input: Element::new("urn:x", "I"),
    };
    assert!(matches!(
        read(&odd_method),
        Err(Error::UnsupportedAction { .. })
    ));
    let pull_nothing = Call::Pull {
        resource_uri: "urn:x".to_owned(),
        context: EnumerationContext::new("c").unwrap(),
        max_elements: 0,
    };
    assert!(matches!(
        read(&pull_nothing),
        Err(Error::InvalidValue { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn requests_parse_back_to_the_same_call(call in call(), id in message_id()) {
        let request = device::parse_request(&call.build_request(&id), Limits::default()).unwrap();
        prop_assert_eq!(&request.call, &Ok(call.clone()));
        let action = call.action();
        prop_assert_eq!(request.action.as_deref(), action.as_deref());
        prop_assert_eq!(request.resource_uri.as_deref(), call.resource_uri());
        let selectors = call.selectors();
        prop_assert_eq!(&request.selectors, selectors.as_ref());
        let expected_id = if call == Call::Identify { None } else { Some(id) };
        prop_assert_eq!(request.message_id, expected_id);
    }

    #[test]
    fn replies_parse_back_to_the_same_value(
        (call, response) in exchange(),
        request_id in message_id(),
        counter in any::<u64>(),
    ) {
        let reply = device::build_response(&response, Some(&request_id), &MessageId::amt(counter));
        prop_assert_eq!(
            client::parse_response(&call, &reply, &request_id, Limits::default()),
            Ok(response)
        );
    }

    #[test]
    fn faults_parse_back_to_the_same_fault(fault in fault(), request_id in message_id()) {
        let reply = device::build_fault(&fault, Some(&request_id), &MessageId::amt(1));
        let read = client::parse_power_state(&reply, &request_id, Limits::default());
        prop_assert_eq!(read, Err(Error::Fault(Box::new(fault))));
    }

    #[test]
    fn replies_to_another_request_are_refused(
        (call, response) in exchange(),
        sent in message_id(),
        answered in message_id(),
    ) {
        prop_assume!(sent != answered && call != Call::Identify);
        let reply = device::build_response(&response, Some(&answered), &MessageId::amt(1));
        let read = client::parse_response(&call, &reply, &sent, Limits::default());
        let is_mismatch = matches!(read, Err(Error::RelatesToMismatch { .. }));
        prop_assert!(is_mismatch);
    }

    #[test]
    fn software_identity_pages_read_typed(
        identities in prop::collection::vec(software_identity(), 0..5),
        request_id in message_id(),
    ) {
        let response = Response::Pull {
            resource_uri: amt_wsman::resource::CIM_SOFTWARE_IDENTITY.to_owned(),
            page: PullResponse {
                items: identities.iter().map(SoftwareIdentity::to_element).collect(),
                context: None,
                end_of_sequence: true,
            },
        };
        let reply = device::build_response(&response, Some(&request_id), &MessageId::amt(1));
        let page = client::parse_pull_software_identity(&reply, &request_id, Limits::default()).unwrap();
        prop_assert_eq!(page.items, identities);
    }
}
