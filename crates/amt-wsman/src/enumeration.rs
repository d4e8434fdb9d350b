//! WS-Enumeration: contexts and pulled pages.

use std::fmt;

use crate::cim::{expect_element, number};
use crate::error::{Error, quoted};
use crate::message_id::check_token;
use crate::ns;
use crate::xml::{Element, trim_xml};

/// A WS-Enumeration context: the handle an `Enumerate` returns and each `Pull` presents.
///
/// AMT's contexts look like `E2020000-0000-0000-0000-000000000000`; treat them as opaque.
/// Read from the wire trimmed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EnumerationContext(String);

impl EnumerationContext {
    /// A context with this text.
    ///
    /// Refused with [`Error::InvalidValue`] when the text is empty, starts or ends with XML
    /// whitespace, or holds a character XML cannot carry, as the wire would not keep it.
    pub fn new(context: impl Into<String>) -> Result<Self, Error> {
        let context = context.into();
        check_token("EnumerationContext", &context)?;
        Ok(Self(context))
    }

    /// A context read from the wire, already trimmed and not empty.
    pub(crate) fn from_wire(context: &str) -> Self {
        Self(context.to_owned())
    }

    /// The context's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn from_element(element: &Element) -> Result<Self, Error> {
        let text = trim_xml(element.text());
        if text.is_empty() {
            return Err(Error::InvalidValue {
                element: quoted(element.name()),
                value: String::new(),
                expected: "a non-empty enumeration context",
            });
        }
        Ok(Self(text.to_owned()))
    }

    fn to_element(&self) -> Element {
        Element::new(ns::ENUMERATION, "EnumerationContext").with_text(self.0.clone())
    }
}

impl fmt::Display for EnumerationContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One page of a WS-Enumeration `Pull`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullResponse<T> {
    /// The items of this page, in order.
    pub items: Vec<T>,
    /// The context for the next `Pull`; always present unless [`Self::end_of_sequence`].
    pub context: Option<EnumerationContext>,
    /// `EndOfSequence`: this is the last page.
    pub end_of_sequence: bool,
}

impl<T> PullResponse<T> {
    /// Applies `f` to every item.
    pub fn try_map<U>(
        self,
        f: impl FnMut(T) -> Result<U, Error>,
    ) -> Result<PullResponse<U>, Error> {
        Ok(PullResponse {
            items: self.items.into_iter().map(f).collect::<Result<_, _>>()?,
            context: self.context,
            end_of_sequence: self.end_of_sequence,
        })
    }
}

/// `wsen:Enumerate`, the request body (plain: no filter, no optimisation).
pub(crate) fn enumerate_request() -> Element {
    Element::new(ns::ENUMERATION, "Enumerate")
}

/// `wsen:Pull` with the context and `MaxElements`.
pub(crate) fn pull_request(context: &EnumerationContext, max_elements: u32) -> Element {
    Element::new(ns::ENUMERATION, "Pull")
        .with_child(context.to_element())
        .with_child(
            Element::new(ns::ENUMERATION, "MaxElements").with_text(max_elements.to_string()),
        )
}

/// Reads `wsen:Pull`: context and `MaxElements` (1 when absent, as WS-Enumeration says; 0 is
/// refused, as WS-Enumeration's schema makes it a positive integer).
pub(crate) fn read_pull_request(pull: &Element) -> Result<(EnumerationContext, u32), Error> {
    expect_element(pull, ns::ENUMERATION, "Pull")?;
    let context = EnumerationContext::from_element(
        pull.required_child(ns::ENUMERATION, "EnumerationContext")?,
    )?;
    let max_elements = match pull.optional_child(ns::ENUMERATION, "MaxElements")? {
        Some(max) => {
            const POSITIVE: &str = "a positive 32-bit integer";
            match number(max, POSITIVE)? {
                0 => {
                    return Err(Error::InvalidValue {
                        element: "MaxElements".to_owned(),
                        value: quoted(max.text()),
                        expected: POSITIVE,
                    });
                }
                n => n,
            }
        }
        None => 1,
    };
    Ok((context, max_elements))
}

/// `wsen:EnumerateResponse`.
pub(crate) fn enumerate_response(context: &EnumerationContext) -> Element {
    Element::new(ns::ENUMERATION, "EnumerateResponse").with_child(context.to_element())
}

/// Reads `wsen:EnumerateResponse`.
pub(crate) fn read_enumerate_response(element: &Element) -> Result<EnumerationContext, Error> {
    expect_element(element, ns::ENUMERATION, "EnumerateResponse")?;
    EnumerationContext::from_element(element.required_child(ns::ENUMERATION, "EnumerationContext")?)
}

/// `wsen:PullResponse` in AMT's order: context, items, end of sequence.
pub(crate) fn pull_response(page: &PullResponse<Element>) -> Element {
    let mut element = Element::new(ns::ENUMERATION, "PullResponse");
    if let Some(context) = &page.context {
        element = element.with_child(context.to_element());
    }
    if !page.items.is_empty() {
        element = element.with_child(
            Element::new(ns::ENUMERATION, "Items").with_children(page.items.iter().cloned()),
        );
    }
    if page.end_of_sequence {
        element = element.with_child(Element::new(ns::ENUMERATION, "EndOfSequence"));
    }
    element
}

/// Reads `wsen:PullResponse`; a page without `EndOfSequence` must carry a context.
pub(crate) fn read_pull_response(element: &Element) -> Result<PullResponse<Element>, Error> {
    expect_element(element, ns::ENUMERATION, "PullResponse")?;
    let context = element
        .optional_child(ns::ENUMERATION, "EnumerationContext")?
        .map(EnumerationContext::from_element)
        .transpose()?;
    let items = element
        .optional_child(ns::ENUMERATION, "Items")?
        .map(|items| items.children().to_vec())
        .unwrap_or_default();
    let end_of_sequence = element
        .optional_child(ns::ENUMERATION, "EndOfSequence")?
        .is_some();
    if !end_of_sequence && context.is_none() {
        return Err(Error::MissingElement {
            parent: "PullResponse".to_owned(),
            element: "EnumerationContext".to_owned(),
        });
    }
    Ok(PullResponse {
        items,
        context,
        end_of_sequence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_pages_round_trip() {
        let page = PullResponse {
            items: vec![Element::new("urn:c", "C").with_text("1")],
            context: Some(EnumerationContext::new("E2020000-0000-0000-0000-000000000000").unwrap()),
            end_of_sequence: false,
        };
        assert_eq!(read_pull_response(&pull_response(&page)), Ok(page));
        let last = PullResponse {
            items: vec![],
            context: None,
            end_of_sequence: true,
        };
        assert_eq!(read_pull_response(&pull_response(&last)), Ok(last));
    }

    #[test]
    fn a_page_that_is_not_the_last_needs_a_context() {
        let page = Element::new(ns::ENUMERATION, "PullResponse");
        assert!(matches!(
            read_pull_response(&page),
            Err(Error::MissingElement { .. })
        ));
    }

    #[test]
    fn contexts_are_trimmed_and_never_empty() {
        let ctx = Element::new(ns::ENUMERATION, "EnumerationContext").with_text("\n x \n");
        assert_eq!(
            EnumerationContext::from_element(&ctx),
            Ok(EnumerationContext::new("x").unwrap())
        );
        let empty = Element::new(ns::ENUMERATION, "EnumerationContext").with_text("  ");
        assert!(EnumerationContext::from_element(&empty).is_err());
        for bad in ["", " x", "x\n", "\u{0}"] {
            assert!(EnumerationContext::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(EnumerationContext::new("c").unwrap().to_string(), "c");
    }

    #[test]
    fn pull_requests_default_max_elements_to_one() {
        let pull = Element::new(ns::ENUMERATION, "Pull")
            .with_child(EnumerationContext::new("c").unwrap().to_element());
        assert_eq!(
            read_pull_request(&pull),
            Ok((EnumerationContext::new("c").unwrap(), 1))
        );
        let pull = pull_request(&EnumerationContext::new("c").unwrap(), 999);
        assert_eq!(
            read_pull_request(&pull),
            Ok((EnumerationContext::new("c").unwrap(), 999))
        );
        let none = pull_request(&EnumerationContext::new("c").unwrap(), 0);
        assert!(matches!(
            read_pull_request(&none),
            Err(Error::InvalidValue { .. })
        ));
    }

    #[test]
    fn try_map_stops_at_the_first_error() {
        let page = PullResponse {
            items: vec![1, 2, 3],
            context: None,
            end_of_sequence: true,
        };
        let doubled = page.clone().try_map(|x| Ok(x * 2)).unwrap();
        assert_eq!(doubled.items, vec![2, 4, 6]);
        assert!(page.try_map(|_| Err::<u8, _>(Error::Doctype)).is_err());
    }
}
