//! Wire vectors: what we write matches AMT's style byte for byte, and every variant of a
//! message (other prefixes, default namespaces, whitespace, attribute order) reads the same.

use amt_wsman::{
    Call, EndpointReference, EnumerationContext, Error, Fault, FaultCode, Identity, Limits,
    MessageId, PowerCapabilities, PowerStatus, PullResponse, QualifiedName, Response, SelectorSet,
    SoftwareIdentity, client, device, fault_detail, fuzzing, ns, resource,
};

use crate::{REQUEST_ID, data, data_dir, relating_to_fuzz_id, request_id};

fn limits() -> Limits {
    Limits::default()
}

fn power_state_off() -> PowerStatus {
    PowerStatus {
        power_state: 8,
        available_requested_power_states: vec![2],
        requested_power_state: Some(8),
    }
}

fn amt_identity(instance_id: &str, version: &str) -> SoftwareIdentity {
    SoftwareIdentity {
        instance_id: instance_id.to_owned(),
        version_string: version.to_owned(),
        is_entity: Some(true),
    }
}

/// Our AMT-style rendering of `response` equals the vector `name`, and the vector reads back
/// as `response`.
fn assert_amt_vector(name: &str, response: &Response, call: &Call, counter: u64) {
    let built = device::build_response(response, Some(&request_id()), &MessageId::amt(counter));
    assert_eq!(
        String::from_utf8(built).unwrap(),
        String::from_utf8(data(name)).unwrap(),
        "{name}: our rendering differs from the vector"
    );
    assert_eq!(
        client::parse_response(call, &data(name), &request_id(), limits()).as_ref(),
        Ok(response),
        "{name}"
    );
}

#[test]
fn power_state_reply_is_written_and_read_as_amt_does() {
    assert_amt_vector(
        "response_power_state_off.xml",
        &Response::PowerState(power_state_off()),
        &Call::PowerState,
        0xA1F4,
    );
}

#[test]
fn power_state_variants_read_the_same() {
    for name in [
        "response_power_state_off.xml",
        "response_power_state_off_soap_prefixes.xml",
        "response_power_state_off_default_ns.xml",
    ] {
        assert_eq!(
            client::parse_power_state(&data(name), &request_id(), limits()),
            Ok(power_state_off()),
            "{name}"
        );
    }
}

#[test]
fn power_state_on_with_the_os_agent_lists_graceful_states_and_nil_requested_state() {
    let status = client::parse_power_state(
        &data("response_power_state_on_with_lms.xml"),
        &MessageId::new("0").unwrap(),
        limits(),
    );
    assert_eq!(
        status,
        Ok(PowerStatus {
            power_state: 2,
            available_requested_power_states: vec![10, 8, 5, 11, 4, 7, 14, 12],
            requested_power_state: None,
        })
    );
}

#[test]
fn power_change_replies() {
    let call = Call::request_power_state_change(8);
    assert_amt_vector(
        "response_power_change_accepted.xml",
        &Response::RequestPowerStateChange { return_value: 0 },
        &call,
        0xB2,
    );
    assert_amt_vector(
        "response_power_change_refused.xml",
        &Response::RequestPowerStateChange { return_value: 2 },
        &call,
        0xB3,
    );
    assert_eq!(
        client::parse_request_power_state_change(
            &data("response_power_change_accepted_default_ns.xml"),
            &request_id(),
            limits()
        ),
        Ok(0)
    );
}

#[test]
fn amt_version_capabilities_and_os_state_replies() {
    assert_amt_vector(
        "response_amt_version.xml",
        &Response::AmtVersion(amt_identity("AMT", "16.1.25")),
        &Call::AmtVersion,
        0xC1,
    );
    assert_amt_vector(
        "response_power_capabilities.xml",
        &Response::PowerCapabilities(PowerCapabilities {
            power_change_capabilities: vec![2, 3, 4, 7, 8],
            power_states_supported: vec![5, 8, 2, 10, 11, 12, 14],
            requested_power_states_supported: vec![],
        }),
        &Call::PowerCapabilities,
        0xC2,
    );
    assert_amt_vector(
        "response_os_power_state.xml",
        &Response::OsPowerState {
            os_power_saving_state: 3,
        },
        &Call::OsPowerState,
        0xC3,
    );
}

#[test]
fn identify_reply() {
    let identity = Identity {
        protocol_version: ns::WSMAN.to_owned(),
        product_vendor: "Intel(r)".to_owned(),
        product_version: "AMT 16.1".to_owned(),
        dash_version: Some("1.0.0".to_owned()),
        security_profiles: vec![
            "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/digest".to_owned(),
        ],
    };
    assert_amt_vector(
        "response_identify.xml",
        &Response::Identify(identity.clone()),
        &Call::Identify,
        1,
    );
    assert_eq!(
        client::parse_identify(&data("response_identify.xml"), limits())
            .map(|i| i.amt_version().map(str::to_owned)),
        Ok(Some("16.1".to_owned()))
    );
}

#[test]
fn enumerate_and_pull_software_identity() {
    let context = EnumerationContext::new("E2020000-0000-0000-0000-000000000000").unwrap();
    assert_amt_vector(
        "response_enumerate_software_identity.xml",
        &Response::Enumerate {
            resource_uri: resource::CIM_SOFTWARE_IDENTITY.to_owned(),
            context: context.clone(),
        },
        &Call::enumerate_software_identity(),
        0xD1,
    );
    let identities = vec![
        amt_identity("Flash", "16.1.25"),
        amt_identity("AMT", "16.1.25"),
        amt_identity("Sku", "16392"),
    ];
    assert_amt_vector(
        "response_pull_software_identity.xml",
        &Response::Pull {
            resource_uri: resource::CIM_SOFTWARE_IDENTITY.to_owned(),
            page: PullResponse {
                items: identities
                    .iter()
                    .map(SoftwareIdentity::to_element)
                    .collect(),
                context: None,
                end_of_sequence: true,
            },
        },
        &Call::pull_software_identity(context),
        0xD2,
    );
    for name in [
        "response_pull_software_identity.xml",
        "response_pull_software_identity_pretty.xml",
    ] {
        let page = client::parse_pull_software_identity(&data(name), &request_id(), limits())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(page.items, identities, "{name}");
        assert!(page.end_of_sequence);
        let amt = page.items.iter().find(|i| i.instance_id == "AMT");
        assert_eq!(amt.map(|i| i.version_string.as_str()), Some("16.1.25"));
    }
}

/// What `body` reads as for the call an AMT-style vector answers, typed (so that property order
/// and lexical forms such as `1` for `true` do not matter), as text to compare.
fn typed_reading(stem: &str, body: &[u8]) -> String {
    let id = if stem.starts_with("fault_") {
        MessageId::new("7").unwrap()
    } else {
        request_id()
    };
    match stem {
        "response_power_state_off" => {
            format!("{:?}", client::parse_power_state(body, &id, limits()))
        }
        "response_power_change_accepted" => format!(
            "{:?}",
            client::parse_request_power_state_change(body, &id, limits())
        ),
        "response_amt_version" => format!("{:?}", client::parse_amt_version(body, &id, limits())),
        "response_power_capabilities" => {
            format!(
                "{:?}",
                client::parse_power_capabilities(body, &id, limits())
            )
        }
        "response_os_power_state" => {
            format!("{:?}", client::parse_os_power_state(body, &id, limits()))
        }
        "response_enumerate_software_identity" => {
            format!("{:?}", client::parse_enumerate(body, &id, limits()))
        }
        "response_pull_software_identity" => format!(
            "{:?}",
            client::parse_pull_software_identity(body, &id, limits())
        ),
        "response_identify" => format!("{:?}", client::parse_identify(body, limits())),
        fault if fault.starts_with("fault_") => {
            let read = client::parse_power_state(body, &id, limits());
            assert!(matches!(read, Err(Error::Fault(_))), "{stem}: {read:?}");
            format!("{read:?}")
        }
        other => panic!("no reading for {other}"),
    }
}

#[test]
fn every_variant_reads_as_its_amt_vector() {
    let stems = [
        "response_power_state_off",
        "response_power_change_accepted",
        "response_amt_version",
        "response_power_capabilities",
        "response_os_power_state",
        "response_enumerate_software_identity",
        "response_pull_software_identity",
        "response_identify",
        "fault_destination_unreachable",
        "fault_invalid_selectors",
        "fault_access_denied",
        "fault_action_not_supported",
        "fault_invalid_enumeration_context",
    ];
    let files: Vec<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for stem in stems {
        let expected = typed_reading(stem, &data(&format!("{stem}.xml")));
        assert!(
            !expected.starts_with("Err(") || stem.starts_with("fault_"),
            "{stem}: {expected}"
        );
        let variants: Vec<&String> = files
            .iter()
            .filter(|f| f.starts_with(&format!("{stem}_")) && f.ends_with(".xml"))
            .collect();
        for required in ["soap_prefixes", "default_ns"] {
            let wanted = format!("{stem}_{required}.xml");
            let exempt = matches!(
                stem,
                "response_power_change_accepted"
                    | "fault_destination_unreachable"
                    | "fault_invalid_selectors"
            );
            assert!(exempt || files.contains(&wanted), "{wanted} is missing");
        }
        for variant in variants {
            assert_eq!(
                typed_reading(stem, &data(variant)),
                expected,
                "{variant} reads differently from {stem}.xml"
            );
        }
    }
}

/// Builds `fault` in AMT's style, checks it equals the vector, and reads it back.
fn assert_fault_vector(name: &str, fault: &Fault, counter: u64) {
    let built = device::build_fault(
        fault,
        Some(&MessageId::new("7").unwrap()),
        &MessageId::amt(counter),
    );
    assert_eq!(
        String::from_utf8(built).unwrap(),
        String::from_utf8(data(name)).unwrap(),
        "{name}: our rendering differs from the vector"
    );
    assert_eq!(
        client::parse_power_state(&data(name), &MessageId::new("7").unwrap(), limits()),
        Err(Error::Fault(Box::new(fault.clone()))),
        "{name}"
    );
}

#[test]
fn faults_are_written_and_read_as_amt_does() {
    assert_fault_vector(
        "fault_destination_unreachable.xml",
        &Fault::destination_unreachable(),
        0x1C,
    );
    assert_fault_vector("fault_access_denied.xml", &Fault::access_denied(), 0x1D);
    assert_fault_vector(
        "fault_invalid_selectors.xml",
        &Fault::invalid_selectors().with_detail(fault_detail::INSUFFICIENT_SELECTORS),
        0x1E,
    );
    assert_fault_vector(
        "fault_invalid_enumeration_context.xml",
        &Fault::invalid_enumeration_context(),
        0x1F,
    );
    assert_fault_vector(
        "fault_action_not_supported.xml",
        &Fault::action_not_supported(),
        0x20,
    );
}

#[test]
fn fault_subcodes_are_read_by_namespace_not_prefix() {
    // The fault layout binds WS-Management to e:, the reply layout to c:; both mean the same.
    let expected = Fault::invalid_selectors().with_detail(fault_detail::INSUFFICIENT_SELECTORS);
    for name in [
        "fault_invalid_selectors.xml",
        "fault_invalid_selectors_amt_reply_prefixes.xml",
    ] {
        let error = client::parse_power_state(&data(name), &MessageId::new("7").unwrap(), limits())
            .unwrap_err();
        assert_eq!(error.fault(), Some(&expected), "{name}");
    }
    let fault = client::parse_amt_version(
        &data("fault_destination_unreachable_soap_prefixes.xml"),
        &MessageId::new("7").unwrap(),
        limits(),
    )
    .unwrap_err();
    assert_eq!(fault.fault(), Some(&Fault::destination_unreachable()));
}

#[test]
fn fault_reads_as_the_client_shows_it() {
    let error = client::parse_os_power_state(
        &data("fault_destination_unreachable.xml"),
        &MessageId::new("7").unwrap(),
        limits(),
    )
    .unwrap_err();
    let fault = error.fault().unwrap();
    assert_eq!(fault.code, FaultCode::Sender);
    assert_eq!(
        fault.subcode,
        Some(QualifiedName::new(ns::ADDRESSING, "DestinationUnreachable"))
    );
    assert_eq!(
        format!("Intel AMT returned a fault: {fault}"),
        "Intel AMT returned a fault: DestinationUnreachable: No route can be determined to reach the destination role defined by the WSAddressing To."
    );
    assert!(error.to_string().contains("DestinationUnreachable"));
}

#[test]
fn relates_to_mismatch_is_refused_even_for_faults() {
    let other = MessageId::new("uuid:00000000-0000-4000-8000-000000000001").unwrap();
    assert_eq!(
        client::parse_power_state(&data("response_power_state_off.xml"), &other, limits()),
        Err(Error::RelatesToMismatch {
            expected: other.as_str().to_owned(),
            found: REQUEST_ID.to_owned()
        })
    );
    assert!(matches!(
        client::parse_power_state(&data("fault_access_denied.xml"), &other, limits()),
        Err(Error::RelatesToMismatch { .. })
    ));
}

fn assert_request_vector(name: &str, call: &Call) {
    assert_eq!(
        String::from_utf8(call.build_request(&request_id())).unwrap(),
        String::from_utf8(data(name)).unwrap(),
        "{name}: our rendering differs from the vector"
    );
    let request = device::parse_request(&data(name), limits()).unwrap();
    assert_eq!(request.call.as_ref(), Ok(call), "{name}");
}

#[test]
fn requests_are_written_as_the_canonical_skeleton() {
    assert_request_vector("request_power_state.xml", &Call::PowerState);
    assert_request_vector(
        "request_power_state_change.xml",
        &Call::request_power_state_change(8),
    );
    assert_request_vector("request_amt_version.xml", &Call::AmtVersion);
    assert_request_vector(
        "request_pull_software_identity.xml",
        &Call::pull_software_identity(
            EnumerationContext::new("E2020000-0000-0000-0000-000000000000").unwrap(),
        ),
    );
    assert_request_vector("request_identify.xml", &Call::Identify);
}

#[test]
fn device_reads_the_headers_of_a_power_change() {
    let request = device::parse_request(&data("request_power_state_change.xml"), limits()).unwrap();
    assert_eq!(
        request.action.as_deref(),
        Some(
            "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementService/RequestPowerStateChange"
        )
    );
    assert_eq!(
        request.resource_uri.as_deref(),
        Some(resource::CIM_POWER_MANAGEMENT_SERVICE)
    );
    assert_eq!(request.message_id, Some(request_id()));
    assert_eq!(
        request.selectors,
        SelectorSet::new().with("Name", "Intel(r) AMT Power Management Service")
    );
}

#[test]
fn device_reads_requests_written_by_other_tools() {
    let four = device::parse_request(
        &data("request_power_state_change_four_selectors.xml"),
        limits(),
    )
    .unwrap();
    assert_eq!(four.call, Ok(Call::request_power_state_change(8)));
    assert_eq!(four.selectors.len(), 4);
    assert_eq!(four.selectors.value("SystemName"), Some("Intel(r) AMT"));
    assert_eq!(
        four.message_id,
        Some(MessageId::new("uuid:9a0e2c44-1b5d-4e7f-a3c2-5d6e7f809aab").unwrap())
    );

    let counter =
        device::parse_request(&data("request_power_state_change_counter_id.xml"), limits())
            .unwrap();
    // Intel's libraries address the host with the addressing namespace, not the anonymous role.
    let mut intel_style_host = EndpointReference::managed_system();
    intel_style_host.address = ns::ADDRESSING.to_owned();
    assert_eq!(
        counter.call,
        Ok(Call::RequestPowerStateChange {
            power_state: 2,
            managed_element: Some(intel_style_host)
        })
    );
    assert_eq!(counter.message_id, Some(MessageId::new("7").unwrap()));
    assert!(counter.selectors.is_empty());

    let enumerate =
        device::parse_request(&data("request_enumerate_default_ns.xml"), limits()).unwrap();
    assert_eq!(enumerate.call, Ok(Call::enumerate_software_identity()));

    let pull = device::parse_request(&data("request_pull_default_ns.xml"), limits()).unwrap();
    assert_eq!(
        pull.call,
        Ok(Call::pull_software_identity(
            EnumerationContext::new("E2020000-0000-0000-0000-000000000000").unwrap()
        ))
    );

    let identify = device::parse_request(&data("request_identify_pretty.xml"), limits()).unwrap();
    assert_eq!(identify.call, Ok(Call::Identify));
    assert_eq!(identify.message_id, None);
    assert_eq!(identify.action, None);
}

/// How many reply parsers `fuzzing::response` runs (one per kind of call).
const FUZZ_PARSERS: usize = 10;

/// Every vector is also fuzz seed material: replaying it through the fuzz entry points checks
/// their round-trip assertions on realistic input. Replies are made to relate to the fuzzers'
/// `MessageID` first, and each one must actually be read (else the round trips never run).
#[test]
fn every_vector_survives_the_fuzz_entry_points() {
    let fuzz_id = MessageId::new(fuzzing::FUZZ_MESSAGE_ID).unwrap();
    let mut count = 0;
    for dir in [data_dir(), data_dir().join("hostile")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "xml") {
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            let read = fuzzing::response_to(&relating_to_fuzz_id(&bytes), &fuzz_id);
            if name.starts_with("fault_") {
                assert_eq!(
                    read, FUZZ_PARSERS,
                    "{name}: every reply parser reads a fault"
                );
            } else if name.starts_with("response_") {
                assert!(read >= 1, "{name}: no reply parser read it");
            } else {
                assert_eq!(read, 0, "{name} is no reply");
            }
            fuzzing::response(&bytes);
            fuzzing::request(&bytes);
            if name.starts_with("request_") {
                let request = device::parse_request(&bytes, limits());
                assert!(
                    request.as_ref().is_ok_and(|r| r.call.is_ok()),
                    "{name}: {request:?}"
                );
            }
            count += 1;
        }
    }
    assert!(count >= 30, "only {count} vectors found");
}

#[test]
fn fuzz_response_entry_accepts_vectors_relating_to_its_id() {
    // The response fuzzer pretends to have sent FUZZ_MESSAGE_ID; a reply relating to it goes
    // through the full read, rewrite, read-again path: the power-state parser reads this reply,
    // every parser reads a fault.
    let fuzz_id = MessageId::new(fuzzing::FUZZ_MESSAGE_ID).unwrap();
    let reply = device::build_response(
        &Response::PowerState(power_state_off()),
        Some(&fuzz_id),
        &MessageId::amt(1),
    );
    assert_eq!(fuzzing::response_to(&reply, &fuzz_id), 1);
    let fault = device::build_fault(
        &Fault {
            code: FaultCode::Other(QualifiedName::new("urn:vendor", "Odd")),
            subcode: Some(QualifiedName::new("urn:other", "Sub")),
            reason: "why <&>".to_owned(),
            detail: Some("detail".to_owned()),
        },
        Some(&fuzz_id),
        &MessageId::amt(2),
    );
    assert_eq!(fuzzing::response_to(&fault, &fuzz_id), FUZZ_PARSERS);
    // Relating to another request, only Identify, which has no MessageID to check, reads the
    // fault.
    let other = request_id();
    assert_eq!(fuzzing::response_to(&reply, &other), 0);
    assert_eq!(fuzzing::response_to(&fault, &other), 1);
    fuzzing::response(&reply);
}

#[test]
fn many_namespaces_read_back_once_rewritten() {
    // A reply may use 64 namespaces of its own; rewriting it adds AMT's fixed set, which must
    // not push it over what the reader accepts (a finding of the wsman_response fuzzer).
    let declarations: String = (0..62)
        .map(|i| format!(r#" xmlns:n{i}="urn:n{i}""#))
        .collect();
    let children: String = (0..62).map(|i| format!("<n{i}:x/>")).collect();
    let reply = format!(
        r#"<a:Envelope xmlns:a="{}" xmlns:h="{}"{declarations}><a:Body><h:CIM_SoftwareIdentity>{children}</h:CIM_SoftwareIdentity></a:Body></a:Envelope>"#,
        ns::SOAP,
        resource::CIM_SOFTWARE_IDENTITY
    );
    let fuzz_id = MessageId::new(fuzzing::FUZZ_MESSAGE_ID).unwrap();
    assert_eq!(fuzzing::response_to(reply.as_bytes(), &fuzz_id), 1);
    let corpus =
        data_dir().join("../../../../fuzz/corpus/wsman_response/regression-many-namespaces");
    assert_eq!(std::fs::read(corpus).unwrap(), reply.as_bytes());
}
