//! Reading the SOAP envelope shared by requests and replies.

use crate::error::Error;
use crate::ns;
use crate::xml::{self, Element, Limits, trim_xml};

/// Parses `body` and checks that its root is a SOAP 1.2 `Envelope`.
pub(crate) fn parse(body: &[u8], limits: Limits) -> Result<Element, Error> {
    let root = xml::parse(body, limits)?;
    if root.is(ns::SOAP, "Envelope") {
        Ok(root)
    } else {
        Err(Error::NotSoapEnvelope {
            found: root.clark_name(),
        })
    }
}

/// The envelope's `Header` (optional) and `Body` (required), each at most once.
pub(crate) fn parts(envelope: &Element) -> Result<(Option<&Element>, &Element), Error> {
    let header = envelope.optional_child(ns::SOAP, "Header")?;
    let body = envelope.required_child(ns::SOAP, "Body")?;
    Ok((header, body))
}

/// A URI-valued header (`Action`, `MessageID`, …): trimmed, absent when missing or empty.
pub(crate) fn header_uri<'a>(
    header: Option<&'a Element>,
    namespace: &str,
    name: &str,
) -> Result<Option<&'a str>, Error> {
    let Some(header) = header else {
        return Ok(None);
    };
    Ok(header
        .optional_child(namespace, name)?
        .map(|e| trim_xml(e.text()))
        .filter(|t| !t.is_empty()))
}

/// The body's payload: its one child element, if any; several are an error.
pub(crate) fn payload(body: &Element) -> Result<Option<&Element>, Error> {
    match body.children() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        [_, second, ..] => Err(Error::UnexpectedElement {
            expected: "a single element in Body".to_owned(),
            found: second.clark_name(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_other_roots() {
        assert_eq!(
            parse(b"<html/>", Limits::default()),
            Err(Error::NotSoapEnvelope {
                found: "{}html".into()
            })
        );
        let soap11 = br#"<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>"#;
        assert!(matches!(
            parse(soap11, Limits::default()),
            Err(Error::NotSoapEnvelope { .. })
        ));
    }

    #[test]
    fn needs_one_body_and_at_most_one_header() {
        let env = |inner: &str| {
            parse(
                format!(r#"<s:Envelope xmlns:s="{}">{inner}</s:Envelope>"#, ns::SOAP).as_bytes(),
                Limits::default(),
            )
            .unwrap()
        };
        assert!(matches!(
            parts(&env("<s:Header/>")),
            Err(Error::MissingElement { .. })
        ));
        assert!(matches!(
            parts(&env("<s:Body/><s:Body/>")),
            Err(Error::DuplicateElement { .. })
        ));
        assert!(matches!(
            parts(&env("<s:Header/><s:Header/><s:Body/>")),
            Err(Error::DuplicateElement { .. })
        ));
        let root = env("<s:Body><a/><b/></s:Body>");
        let (header, body) = parts(&root).unwrap();
        assert!(header.is_none());
        assert!(matches!(
            payload(body),
            Err(Error::UnexpectedElement { .. })
        ));
    }

    #[test]
    fn header_uris_are_trimmed_and_empty_means_absent() {
        let header = Element::new(ns::SOAP, "Header")
            .with_child(Element::new(ns::ADDRESSING, "Action").with_text("\n urn:a \n"))
            .with_child(Element::new(ns::ADDRESSING, "MessageID").with_text("  "));
        assert_eq!(
            header_uri(Some(&header), ns::ADDRESSING, "Action"),
            Ok(Some("urn:a"))
        );
        assert_eq!(
            header_uri(Some(&header), ns::ADDRESSING, "MessageID"),
            Ok(None)
        );
        assert_eq!(header_uri(None, ns::ADDRESSING, "Action"), Ok(None));
    }
}
