//! Wire vectors: what we write matches AMT's style byte for byte, and every variant of a
//! message (other prefixes, default namespaces, whitespace, attribute order) reads the same.

use amt_wsman::{
    Call, EnumerationContext, Error, Fault, FaultCode, Identity, Limits, MessageId,
    PowerCapabilities, PowerStatus, PullResponse, QualifiedName, Response, SelectorSet,
    SoftwareIdentity, client, device, fault_detail, fuzzing, ns, resource,
};

use crate::{REQUEST_ID, data, data_dir, request_id};

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
        &MessageId::new("0"),
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
    let call = Call::RequestPowerStateChange { power_state: 8 };
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
    let context = EnumerationContext::new("E2020000-0000-0000-0000-000000000000");
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

/// Builds `fault` in AMT's style, checks it equals the vector, and reads it back.
fn assert_fault_vector(name: &str, fault: &Fault, counter: u64) {
    let built = device::build_fault(fault, Some(&MessageId::new("7")), &MessageId::amt(counter));
    assert_eq!(
        String::from_utf8(built).unwrap(),
        String::from_utf8(data(name)).unwrap(),
        "{name}: our rendering differs from the vector"
    );
    assert_eq!(
        client::parse_power_state(&data(name), &MessageId::new("7"), limits()),
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
        let error =
            client::parse_power_state(&data(name), &MessageId::new("7"), limits()).unwrap_err();
        assert_eq!(error.fault(), Some(&expected), "{name}");
    }
    let fault = client::parse_amt_version(
        &data("fault_destination_unreachable_soap_prefixes.xml"),
        &MessageId::new("7"),
        limits(),
    )
    .unwrap_err();
    assert_eq!(fault.fault(), Some(&Fault::destination_unreachable()));
}

#[test]
fn fault_reads_as_the_client_shows_it() {
    let error = client::parse_os_power_state(
        &data("fault_destination_unreachable.xml"),
        &MessageId::new("7"),
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
    let other = MessageId::new("uuid:00000000-0000-4000-8000-000000000001");
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
        &Call::RequestPowerStateChange { power_state: 8 },
    );
    assert_request_vector("request_amt_version.xml", &Call::AmtVersion);
    assert_request_vector(
        "request_pull_software_identity.xml",
        &Call::pull_software_identity(EnumerationContext::new(
            "E2020000-0000-0000-0000-000000000000",
        )),
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
    assert_eq!(
        four.call,
        Ok(Call::RequestPowerStateChange { power_state: 8 })
    );
    assert_eq!(four.selectors.len(), 4);
    assert_eq!(four.selectors.value("SystemName"), Some("Intel(r) AMT"));
    assert_eq!(
        four.message_id,
        Some(MessageId::new("uuid:9a0e2c44-1b5d-4e7f-a3c2-5d6e7f809aab"))
    );

    let counter =
        device::parse_request(&data("request_power_state_change_counter_id.xml"), limits())
            .unwrap();
    assert_eq!(
        counter.call,
        Ok(Call::RequestPowerStateChange { power_state: 2 })
    );
    assert_eq!(counter.message_id, Some(MessageId::new("7")));
    assert!(counter.selectors.is_empty());

    let enumerate =
        device::parse_request(&data("request_enumerate_default_ns.xml"), limits()).unwrap();
    assert_eq!(enumerate.call, Ok(Call::enumerate_software_identity()));

    let pull = device::parse_request(&data("request_pull_default_ns.xml"), limits()).unwrap();
    assert_eq!(
        pull.call,
        Ok(Call::pull_software_identity(EnumerationContext::new(
            "E2020000-0000-0000-0000-000000000000"
        )))
    );

    let identify = device::parse_request(&data("request_identify_pretty.xml"), limits()).unwrap();
    assert_eq!(identify.call, Ok(Call::Identify));
    assert_eq!(identify.message_id, None);
    assert_eq!(identify.action, None);
}

/// Every vector is also fuzz seed material: replaying it through the fuzz entry points checks
/// their round-trip assertions on realistic input.
#[test]
fn every_vector_survives_the_fuzz_entry_points() {
    let mut count = 0;
    for dir in [data_dir(), data_dir().join("hostile")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "xml") {
                let bytes = std::fs::read(&path).unwrap();
                fuzzing::response(&bytes);
                fuzzing::request(&bytes);
                count += 1;
            }
        }
    }
    assert!(count >= 30, "only {count} vectors found");
}

#[test]
fn fuzz_response_entry_accepts_vectors_relating_to_its_id() {
    // The response fuzzer pretends to have sent FUZZ_MESSAGE_ID; a reply relating to it goes
    // through the full read, rewrite, read-again path.
    let reply = device::build_response(
        &Response::PowerState(power_state_off()),
        Some(&MessageId::new(fuzzing::FUZZ_MESSAGE_ID)),
        &MessageId::amt(1),
    );
    fuzzing::response(&reply);
    let fault = device::build_fault(
        &Fault {
            code: FaultCode::Other(QualifiedName::new("urn:vendor", "Odd")),
            subcode: Some(QualifiedName::new("urn:other", "Sub")),
            reason: "why <&>".to_owned(),
            detail: Some("detail".to_owned()),
        },
        Some(&MessageId::new(fuzzing::FUZZ_MESSAGE_ID)),
        &MessageId::amt(2),
    );
    fuzzing::response(&fault);
}
