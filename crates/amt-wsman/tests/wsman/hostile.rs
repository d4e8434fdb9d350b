//! Hostile input: every case gives a typed error, never a panic.

use amt_wsman::{
    Call, Error, Limits, MessageId, PowerStatus, Response, client, device, fuzzing, ns,
};
use proptest::prelude::*;

use crate::{data, relating_to_fuzz_id, request_id};

fn power_state(body: &[u8]) -> Result<PowerStatus, Error> {
    client::parse_power_state(body, &request_id(), Limits::default())
}

/// A power-state reply with `instance` as the body's payload.
fn reply_with_instance(instance: &str) -> Vec<u8> {
    format!(
        r#"<a:Envelope xmlns:a="{}" xmlns:b="{}" xmlns:h="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_AssociatedPowerManagementService"><a:Header><b:RelatesTo>{}</b:RelatesTo></a:Header><a:Body><h:CIM_AssociatedPowerManagementService>{instance}</h:CIM_AssociatedPowerManagementService></a:Body></a:Envelope>"#,
        ns::SOAP,
        ns::ADDRESSING,
        crate::REQUEST_ID
    )
    .into_bytes()
}

#[test]
fn doctype_and_entity_declarations_are_refused() {
    for name in [
        "hostile/doctype_external_entity.xml",
        "hostile/billion_laughs.xml",
    ] {
        assert_eq!(power_state(&data(name)), Err(Error::Doctype), "{name}");
        assert_eq!(
            device::parse_request(&data(name), Limits::default()),
            Err(Error::Doctype),
            "{name}"
        );
    }
    // AMT's own 401 page is HTML with a DOCTYPE: never mistaken for a reply.
    let html = b"<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\"><html><body>Log on failed.</body></html>";
    assert_eq!(power_state(html), Err(Error::Doctype));
}

#[test]
fn only_predefined_and_numeric_entities_resolve() {
    assert_eq!(
        device::parse_request(&data("hostile/undeclared_entity.xml"), Limits::default()),
        Err(Error::UnknownEntity {
            name: "nbsp".into()
        })
    );
    let numeric = reply_with_instance("<h:PowerState>&#56;</h:PowerState>");
    assert_eq!(power_state(&numeric).map(|s| s.power_state), Ok(8));
    let hex = reply_with_instance("<h:PowerState>&#x31;&#x30;</h:PowerState>");
    assert_eq!(power_state(&hex).map(|s| s.power_state), Ok(10));
    let external = reply_with_instance("<h:PowerState>&ext;</h:PowerState>");
    assert_eq!(
        power_state(&external),
        Err(Error::UnknownEntity { name: "ext".into() })
    );
    let bad_char = reply_with_instance("<h:PowerState>&#0;</h:PowerState>");
    assert!(matches!(
        power_state(&bad_char),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn body_size_is_capped_and_configurable() {
    let body = data("response_power_state_off.xml");
    let mut limits = Limits::default();
    limits.max_body_bytes = body.len();
    assert!(client::parse_power_state(&body, &request_id(), limits).is_ok());
    limits.max_body_bytes = body.len() - 1;
    assert_eq!(
        client::parse_power_state(&body, &request_id(), limits),
        Err(Error::BodyTooLarge {
            size: body.len(),
            limit: body.len() - 1
        })
    );
    let huge = vec![b' '; Limits::default().max_body_bytes + 1];
    assert!(matches!(
        power_state(&huge),
        Err(Error::BodyTooLarge { .. })
    ));
    assert!(matches!(
        device::parse_request(&huge, Limits::default()),
        Err(Error::BodyTooLarge { .. })
    ));
}

#[test]
fn depth_is_capped_and_configurable() {
    // Envelope > Body > instance > ServiceProvided > ReferenceParameters > SelectorSet > Selector.
    let body = data("response_power_state_off.xml");
    let mut limits = Limits::default();
    limits.max_depth = 7;
    assert!(client::parse_power_state(&body, &request_id(), limits).is_ok());
    limits.max_depth = 6;
    assert_eq!(
        client::parse_power_state(&body, &request_id(), limits),
        Err(Error::TooDeep { limit: 6 })
    );
    let nested = format!("{}{}", "<h:X>".repeat(100), "</h:X>".repeat(100));
    assert_eq!(
        power_state(&reply_with_instance(&nested)),
        Err(Error::TooDeep { limit: 32 })
    );
}

#[test]
fn element_count_is_capped() {
    let many = "<h:Other/>".repeat(Limits::default().max_elements);
    assert_eq!(
        power_state(&reply_with_instance(&many)),
        Err(Error::TooManyElements {
            limit: Limits::default().max_elements
        })
    );
}

#[test]
fn invalid_utf8_and_foreign_encodings_are_refused() {
    let mut body = data("response_power_state_off.xml");
    let at = body.len() / 2;
    body[at] = 0xC3;
    body[at + 1] = 0x28;
    assert_eq!(power_state(&body), Err(Error::InvalidUtf8 { offset: at }));

    let utf16: Vec<u8> = "<a/>".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut bom = vec![0xFF, 0xFE];
    bom.extend(utf16);
    assert!(matches!(power_state(&bom), Err(Error::InvalidUtf8 { .. })));

    let latin1 = br#"<?xml version="1.0" encoding="ISO-8859-1"?><a/>"#;
    assert!(matches!(
        power_state(latin1),
        Err(Error::UnsupportedEncoding { .. })
    ));
}

#[test]
fn every_truncation_of_a_reply_is_a_typed_error() {
    for name in [
        "response_power_state_off.xml",
        "fault_invalid_selectors.xml",
    ] {
        let body = data(name);
        for cut in 0..body.len() {
            let result = client::parse_power_state(
                &body[..cut],
                &MessageId::new("7").unwrap(),
                Limits::default(),
            );
            assert!(
                matches!(result, Err(Error::Truncated { .. })),
                "{name} cut at {cut}: {result:?}"
            );
        }
    }
}

#[test]
fn missing_and_duplicated_elements_are_typed_errors() {
    assert_eq!(
        power_state(&reply_with_instance(
            "<h:RequestedPowerState>8</h:RequestedPowerState>"
        )),
        Err(Error::MissingElement {
            parent: "CIM_AssociatedPowerManagementService".into(),
            element: "PowerState".into()
        })
    );
    assert_eq!(
        power_state(&reply_with_instance(
            "<h:PowerState>2</h:PowerState><h:PowerState>8</h:PowerState>"
        )),
        Err(Error::DuplicateElement {
            parent: "CIM_AssociatedPowerManagementService".into(),
            element: "PowerState".into()
        })
    );
    let two_bodies = format!(
        r#"<s:Envelope xmlns:s="{}"><s:Body/><s:Body/></s:Envelope>"#,
        ns::SOAP
    );
    assert!(matches!(
        power_state(two_bodies.as_bytes()),
        Err(Error::DuplicateElement { .. })
    ));
    let no_body = format!(
        r#"<s:Envelope xmlns:s="{}"><s:Header/></s:Envelope>"#,
        ns::SOAP
    );
    assert!(matches!(
        power_state(no_body.as_bytes()),
        Err(Error::MissingElement { .. })
    ));
    let fault_without_reason = format!(
        r#"<s:Envelope xmlns:s="{0}"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code></s:Fault></s:Body></s:Envelope>"#,
        ns::SOAP
    );
    assert_eq!(
        power_state(fault_without_reason.as_bytes()),
        Err(Error::MissingElement {
            parent: "Fault".into(),
            element: "Reason".into()
        })
    );
    let fault_with_undeclared_subcode = format!(
        r#"<s:Envelope xmlns:s="{0}"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>q:Nope</s:Value></s:Subcode></s:Code><s:Reason><s:Text>r</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#,
        ns::SOAP
    );
    assert_eq!(
        power_state(fault_with_undeclared_subcode.as_bytes()),
        Err(Error::UndeclaredPrefix { prefix: "q".into() })
    );
}

#[test]
fn non_numeric_numbers_are_typed_errors() {
    for bad in ["eight", "-1", "", "65536", "8.0", "0x8", "8 8"] {
        let body = reply_with_instance(&format!("<h:PowerState>{bad}</h:PowerState>"));
        assert!(
            matches!(power_state(&body), Err(Error::InvalidValue { .. })),
            "{bad:?}"
        );
        let list = reply_with_instance(&format!(
            "<h:PowerState>2</h:PowerState><h:AvailableRequestedPowerStates>{bad}</h:AvailableRequestedPowerStates>"
        ));
        assert!(
            matches!(power_state(&list), Err(Error::InvalidValue { .. })),
            "{bad:?}"
        );
    }
    let output = format!(
        r#"<s:Envelope xmlns:s="{}"><s:Body><p:RequestPowerStateChange_OUTPUT xmlns:p="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_PowerManagementService"><p:ReturnValue>4294967296</p:ReturnValue></p:RequestPowerStateChange_OUTPUT></s:Body></s:Envelope>"#,
        ns::SOAP
    );
    assert!(matches!(
        client::parse_request_power_state_change(
            output.as_bytes(),
            &request_id(),
            Limits::default()
        ),
        Err(Error::InvalidValue { .. })
    ));
}

#[test]
fn error_values_quote_hostile_text_briefly() {
    let long = "9".repeat(10_000);
    let body = reply_with_instance(&format!("<h:PowerState>{long}</h:PowerState>"));
    let Err(Error::InvalidValue { value, .. }) = power_state(&body) else {
        panic!("expected InvalidValue");
    };
    assert!(value.chars().count() <= 129);
}

#[test]
fn a_wrong_reply_for_the_call_is_refused() {
    let capabilities = data("response_power_capabilities.xml");
    assert!(matches!(
        power_state(&capabilities),
        Err(Error::UnexpectedElement { .. })
    ));
    let soap11 = br#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>"#;
    assert!(matches!(
        power_state(soap11),
        Err(Error::NotSoapEnvelope { .. })
    ));
    let two_payloads = reply_with_instance("<h:PowerState>2</h:PowerState>")
        .into_iter()
        .collect::<Vec<u8>>();
    let text = String::from_utf8(two_payloads)
        .unwrap()
        .replace("</a:Body>", "<h:Extra/></a:Body>");
    assert!(matches!(
        power_state(text.as_bytes()),
        Err(Error::UnexpectedElement { .. })
    ));
}

#[test]
fn the_device_side_is_just_as_strict() {
    assert!(matches!(
        device::parse_request(b"", Limits::default()),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        device::parse_request(b"GET / HTTP/1.1", Limits::default()),
        Err(Error::Malformed { .. })
    ));
    let request = Call::PowerState.build_request(&MessageId::new("1").unwrap());
    let mut limits = Limits::default();
    limits.max_body_bytes = 100;
    assert!(matches!(
        device::parse_request(&request, limits),
        Err(Error::BodyTooLarge { .. })
    ));
}

#[test]
fn replies_with_xml_special_text_are_escaped() {
    let reply = device::build_response(
        &Response::Get(
            amt_wsman::Element::new("urn:x", "X").with_text("</a:Body><!DOCTYPE x>&amp;"),
        ),
        Some(&request_id()),
        &MessageId::amt(1),
    );
    let read = client::parse_get(&reply, &request_id(), "urn:x", Limits::default()).unwrap();
    assert_eq!(read.text(), "</a:Body><!DOCTYPE x>&amp;");
}

/// Byte-level mutations of real vectors: the parsers never panic, whatever they answer.
fn mutated(seed: &'static str) -> impl Strategy<Value = Vec<u8>> {
    mutations_of(data(seed))
}

/// Mutations of a reply vector made to relate to the response fuzzer's `MessageID`, so that
/// the mutants that still read go through its round trips.
fn mutated_reply(seed: &'static str) -> impl Strategy<Value = Vec<u8>> {
    mutations_of(relating_to_fuzz_id(&data(seed)))
}

fn mutations_of(body: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = body.len();
    prop::collection::vec((0..len, any::<u8>(), 0u8..3), 1..8).prop_map(move |edits| {
        let mut out = body.clone();
        for (at, byte, kind) in edits {
            let at = at.min(out.len().saturating_sub(1));
            match kind {
                0 if !out.is_empty() => out[at] = byte,
                1 => out.insert(at, byte),
                _ if !out.is_empty() => {
                    out.remove(at);
                }
                _ => {}
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        fuzzing::response(&bytes);
        fuzzing::request(&bytes);
    }

    #[test]
    fn mutated_replies_never_panic(bytes in prop_oneof![
        mutated_reply("response_power_state_off.xml"),
        mutated_reply("response_pull_software_identity.xml"),
        mutated_reply("fault_invalid_selectors.xml"),
        mutated_reply("response_identify.xml"),
    ]) {
        fuzzing::response(&bytes);
    }

    #[test]
    fn mutated_requests_never_panic(bytes in prop_oneof![
        mutated("request_power_state_change.xml"),
        mutated("request_power_state_change_four_selectors.xml"),
        mutated("request_pull_default_ns.xml"),
        mutated("request_identify.xml"),
    ]) {
        fuzzing::request(&bytes);
    }
}
