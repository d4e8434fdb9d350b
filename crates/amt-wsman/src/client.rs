//! Client side: reading the device's replies.
//!
//! Build a request with [`Call::build_request`], send it, then hand the reply body (whatever
//! the HTTP status: AMT sends faults with 400 and sometimes 500) and the request's
//! [`MessageId`] to the matching `parse_*` function. Each one:
//!
//! 1. parses the body under the [`Limits`] (DOCTYPE, unknown entities, bad UTF-8, excess size or
//!    depth are errors);
//! 2. checks that the root is a SOAP 1.2 envelope with one `Body`;
//! 3. when the reply has a `RelatesTo`, checks that it names the request
//!    ([`Error::RelatesToMismatch`] otherwise);
//! 4. returns a SOAP fault as [`Error::Fault`];
//! 5. reads the one payload element by namespace URI and local name, strictly.
//!
//! The reply's `Action` header is not checked: the payload element already says what the reply
//! is.

use crate::call::Call;
use crate::cim::{self, Identity, PowerCapabilities, PowerStatus, SoftwareIdentity};
use crate::enumeration::{self, EnumerationContext, PullResponse};
use crate::envelope;
use crate::error::{Error, quoted};
use crate::fault::Fault;
use crate::message_id::MessageId;
use crate::ns;
use crate::response::Response;
use crate::xml::{Element, Limits, trim_xml};

/// Reads the reply to [`Call::PowerState`].
pub fn parse_power_state(
    body: &[u8],
    request_id: &MessageId,
    limits: Limits,
) -> Result<PowerStatus, Error> {
    read(body, Some(request_id), limits, PowerStatus::from_element)
}

/// Reads the reply to [`Call::RequestPowerStateChange`]: the `ReturnValue`.
pub fn parse_request_power_state_change(
    body: &[u8],
    request_id: &MessageId,
    limits: Limits,
) -> Result<u32, Error> {
    read(
        body,
        Some(request_id),
        limits,
        cim::power_change_return_value,
    )
}

/// Reads the reply to [`Call::AmtVersion`]; the instance must be `InstanceID=AMT`.
pub fn parse_amt_version(
    body: &[u8],
    request_id: &MessageId,
    limits: Limits,
) -> Result<SoftwareIdentity, Error> {
    read(body, Some(request_id), limits, |payload| {
        let identity = SoftwareIdentity::from_element(payload)?;
        if identity.instance_id == SoftwareIdentity::AMT_INSTANCE_ID {
            Ok(identity)
        } else {
            Err(Error::InvalidValue {
                element: "InstanceID".to_owned(),
                value: quoted(&identity.instance_id),
                expected: "the instance AMT",
            })
        }
    })
}

/// Reads the reply to [`Call::PowerCapabilities`].
pub fn parse_power_capabilities(
    body: &[u8],
    request_id: &MessageId,
    limits: Limits,
) -> Result<PowerCapabilities, Error> {
    read(
        body,
        Some(request_id),
        limits,
        PowerCapabilities::from_element,
    )
}

/// Reads the reply to [`Call::OsPowerState`]: the `OSPowerSavingState`.
pub fn parse_os_power_state(
    body: &[u8],
    request_id: &MessageId,
    limits: Limits,
) -> Result<u16, Error> {
    read(body, Some(request_id), limits, cim::os_power_state)
}

/// Reads the reply to [`Call::Identify`] (which has no `MessageID` to check).
pub fn parse_identify(body: &[u8], limits: Limits) -> Result<Identity, Error> {
    read(body, None, limits, Identity::from_element)
}

/// Reads the reply to [`Call::Get`]: the instance, which must be in the `resource_uri`
/// namespace.
pub fn parse_get(
    body: &[u8],
    request_id: &MessageId,
    resource_uri: &str,
    limits: Limits,
) -> Result<Element, Error> {
    read(body, Some(request_id), limits, |payload| {
        if payload.namespace() == resource_uri {
            Ok(payload.clone())
        } else {
            Err(Error::UnexpectedElement {
                expected: format!("an instance in {}", quoted(resource_uri)),
                found: payload.clark_name(),
            })
        }
    })
}

/// Reads the reply to [`Call::Enumerate`]: the context for the first `Pull`.
pub fn parse_enumerate(
    body: &[u8],
    request_id: &MessageId,
    limits: Limits,
) -> Result<EnumerationContext, Error> {
    read(
        body,
        Some(request_id),
        limits,
        enumeration::read_enumerate_response,
    )
}

/// Reads the reply to [`Call::Pull`]: one page of items.
pub fn parse_pull(
    body: &[u8],
    request_id: &MessageId,
    limits: Limits,
) -> Result<PullResponse<Element>, Error> {
    read(
        body,
        Some(request_id),
        limits,
        enumeration::read_pull_response,
    )
}

/// Reads a page of `CIM_SoftwareIdentity` instances (reply to
/// [`Call::pull_software_identity`]); find the AMT version where `instance_id == "AMT"`.
pub fn parse_pull_software_identity(
    body: &[u8],
    request_id: &MessageId,
    limits: Limits,
) -> Result<PullResponse<SoftwareIdentity>, Error> {
    parse_pull(body, request_id, limits)?.try_map(|item| SoftwareIdentity::from_element(&item))
}

/// Reads the reply to [`Call::Invoke`]: the `<method>_OUTPUT` element in the `resource_uri`
/// namespace.
pub fn parse_invoke(
    body: &[u8],
    request_id: &MessageId,
    resource_uri: &str,
    method: &str,
    limits: Limits,
) -> Result<Element, Error> {
    read(body, Some(request_id), limits, |payload| {
        cim::expect_element(payload, resource_uri, &format!("{method}_OUTPUT"))?;
        Ok(payload.clone())
    })
}

/// Reads the reply to any `call`, dispatching to the matching `parse_*` function.
pub fn parse_response(
    call: &Call,
    body: &[u8],
    request_id: &MessageId,
    limits: Limits,
) -> Result<Response, Error> {
    Ok(match call {
        Call::PowerState => Response::PowerState(parse_power_state(body, request_id, limits)?),
        Call::RequestPowerStateChange { .. } => Response::RequestPowerStateChange {
            return_value: parse_request_power_state_change(body, request_id, limits)?,
        },
        Call::AmtVersion => Response::AmtVersion(parse_amt_version(body, request_id, limits)?),
        Call::PowerCapabilities => {
            Response::PowerCapabilities(parse_power_capabilities(body, request_id, limits)?)
        }
        Call::OsPowerState => Response::OsPowerState {
            os_power_saving_state: parse_os_power_state(body, request_id, limits)?,
        },
        Call::Identify => Response::Identify(parse_identify(body, limits)?),
        Call::Get { resource_uri, .. } => {
            Response::Get(parse_get(body, request_id, resource_uri, limits)?)
        }
        Call::Enumerate { resource_uri } => Response::Enumerate {
            resource_uri: resource_uri.clone(),
            context: parse_enumerate(body, request_id, limits)?,
        },
        Call::Pull { resource_uri, .. } => Response::Pull {
            resource_uri: resource_uri.clone(),
            page: parse_pull(body, request_id, limits)?,
        },
        Call::Invoke {
            resource_uri,
            method,
            ..
        } => Response::Invoke {
            method: method.clone(),
            output: parse_invoke(body, request_id, resource_uri, method, limits)?,
        },
    })
}

/// Parses the envelope, checks `RelatesTo`, turns a fault into [`Error::Fault`] and hands the
/// payload to `read_payload`.
fn read<T>(
    body: &[u8],
    request_id: Option<&MessageId>,
    limits: Limits,
    read_payload: impl FnOnce(&Element) -> Result<T, Error>,
) -> Result<T, Error> {
    let root = envelope::parse(body, limits)?;
    let (header, body) = envelope::parts(&root)?;
    if let (Some(header), Some(expected)) = (header, request_id)
        && let Some(relates_to) = header.optional_child(ns::ADDRESSING, "RelatesTo")?
    {
        let found = trim_xml(relates_to.text());
        if found != expected.as_str() {
            return Err(Error::RelatesToMismatch {
                expected: expected.as_str().to_owned(),
                found: quoted(found),
            });
        }
    }
    let payload = envelope::payload(body)?.ok_or_else(|| Error::MissingElement {
        parent: "Body".to_owned(),
        element: "reply".to_owned(),
    })?;
    if payload.is(ns::SOAP, "Fault") {
        return Err(Error::Fault(Box::new(Fault::from_element(
            [&root, body],
            payload,
        )?)));
    }
    read_payload(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(header: &str, body: &str) -> Vec<u8> {
        format!(
            r#"<s:Envelope xmlns:s="{}" xmlns:a="{}"><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"#,
            ns::SOAP,
            ns::ADDRESSING
        )
        .into_bytes()
    }

    #[test]
    fn relates_to_must_name_the_request() {
        let body = envelope("<a:RelatesTo> uuid:2 </a:RelatesTo>", "");
        assert_eq!(
            parse_enumerate(&body, &MessageId::new("uuid:1").unwrap(), Limits::default()),
            Err(Error::RelatesToMismatch {
                expected: "uuid:1".into(),
                found: "uuid:2".into()
            })
        );
        let twice = envelope(
            "<a:RelatesTo>1</a:RelatesTo><a:RelatesTo>1</a:RelatesTo>",
            "",
        );
        assert!(matches!(
            parse_enumerate(&twice, &MessageId::new("1").unwrap(), Limits::default()),
            Err(Error::DuplicateElement { .. })
        ));
    }

    #[test]
    fn an_empty_body_is_a_missing_reply() {
        let body = envelope("<a:RelatesTo>1</a:RelatesTo>", "");
        assert_eq!(
            parse_power_state(&body, &MessageId::new("1").unwrap(), Limits::default()),
            Err(Error::MissingElement {
                parent: "Body".into(),
                element: "reply".into()
            })
        );
    }

    #[test]
    fn amt_version_must_be_the_amt_instance() {
        let flash = SoftwareIdentity {
            instance_id: "Flash".into(),
            version_string: "16.1.25".into(),
            is_entity: Some(true),
        };
        let body = crate::device::build_response(
            &Response::AmtVersion(flash),
            Some(&MessageId::new("1").unwrap()),
            &MessageId::amt(1),
        );
        assert!(matches!(
            parse_amt_version(&body, &MessageId::new("1").unwrap(), Limits::default()),
            Err(Error::InvalidValue { .. })
        ));
    }

    #[test]
    fn get_checks_the_instance_namespace() {
        let body = crate::device::build_response(
            &Response::Get(Element::new("urn:other", "X")),
            None,
            &MessageId::amt(1),
        );
        assert!(matches!(
            parse_get(
                &body,
                &MessageId::new("1").unwrap(),
                "urn:wanted",
                Limits::default()
            ),
            Err(Error::UnexpectedElement { .. })
        ));
        assert!(
            parse_get(
                &body,
                &MessageId::new("1").unwrap(),
                "urn:other",
                Limits::default()
            )
            .is_ok()
        );
    }
}
