//! WS-Management selectors and endpoint references.

use crate::error::Error;
use crate::ns;
use crate::xml::{Attribute, Element, trim_xml};

/// One `wsman:Selector`: a key property name and its value (exact, not trimmed).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Selector {
    /// The key property, e.g. `InstanceID`.
    pub name: String,
    /// Its value, e.g. `AMT`.
    pub value: String,
}

/// A `wsman:SelectorSet`: which instance of a class a request addresses. Order is kept.
///
/// ```
/// use amt_wsman::SelectorSet;
///
/// let set = SelectorSet::new().with("InstanceID", "AMT");
/// assert_eq!(set.value("InstanceID"), Some("AMT"));
/// assert_eq!(set.len(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SelectorSet(Vec<Selector>);

impl SelectorSet {
    /// An empty set (no `SelectorSet` element is sent).
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// This set with `name = value` appended.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.push(name, value);
        self
    }

    /// Appends `name = value`.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push(Selector {
            name: name.into(),
            value: value.into(),
        });
    }

    /// The value of the first selector called `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value.as_str())
    }

    /// The selectors in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Selector> {
        self.0.iter()
    }

    /// The selectors in order.
    pub fn as_slice(&self) -> &[Selector] {
        &self.0
    }

    /// Number of selectors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `wsman:SelectorSet` element.
    pub(crate) fn to_element(&self) -> Element {
        Element::new(ns::WSMAN, "SelectorSet").with_children(self.0.iter().map(|s| {
            Element::new(ns::WSMAN, "Selector")
                .with_attribute(Attribute::new("", "Name", s.name.clone()))
                .with_text(s.value.clone())
        }))
    }

    /// Reads a `wsman:SelectorSet` element. Only text values are supported; a selector whose
    /// value is an endpoint reference is refused.
    pub(crate) fn from_element(set: &Element) -> Result<Self, Error> {
        let mut selectors = Vec::with_capacity(set.children().len());
        for selector in set.children() {
            if !selector.is(ns::WSMAN, "Selector") {
                return Err(Error::UnexpectedElement {
                    expected: "wsman:Selector".to_owned(),
                    found: selector.clark_name(),
                });
            }
            if let Some(child) = selector.children().first() {
                return Err(Error::UnexpectedElement {
                    expected: "a text selector value".to_owned(),
                    found: child.clark_name(),
                });
            }
            let name = selector
                .attribute("", "Name")
                .ok_or_else(|| Error::MissingAttribute {
                    element: "Selector".to_owned(),
                    attribute: "Name".to_owned(),
                })?;
            selectors.push(Selector {
                name: name.to_owned(),
                value: selector.text().to_owned(),
            });
        }
        Ok(Self(selectors))
    }
}

impl<'a> IntoIterator for &'a SelectorSet {
    type Item = &'a Selector;
    type IntoIter = std::slice::Iter<'a, Selector>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for SelectorSet {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(name, value)| Selector {
                    name: name.into(),
                    value: value.into(),
                })
                .collect(),
        )
    }
}

/// A WS-Addressing endpoint reference as WS-Management uses it to name an instance: an address,
/// and the reference parameters `ResourceURI` and `SelectorSet`.
///
/// `RequestPowerStateChange` names the host it acts on with one (its `ManagedElement`):
///
/// ```
/// use amt_wsman::{EndpointReference, resource};
///
/// let host = EndpointReference::managed_system();
/// assert_eq!(host.resource_uri.as_deref(), Some(resource::CIM_COMPUTER_SYSTEM));
/// assert_eq!(host.selectors.value("Name"), Some("ManagedSystem"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct EndpointReference {
    /// `wsa:Address`, read trimmed. AMT's own references hold the anonymous role
    /// ([`ns::ANONYMOUS`]); Intel's libraries send the addressing namespace URI instead.
    pub address: String,
    /// The reference parameter `wsman:ResourceURI`, read trimmed, when present.
    pub resource_uri: Option<String>,
    /// The reference parameter `wsman:SelectorSet` (empty when absent).
    pub selectors: SelectorSet,
}

impl EndpointReference {
    /// A reference to the instance of `resource_uri` that `selectors` name, addressed to the
    /// anonymous role as AMT does.
    pub fn new(resource_uri: impl Into<String>, selectors: SelectorSet) -> Self {
        Self {
            address: ns::ANONYMOUS.to_owned(),
            resource_uri: Some(resource_uri.into()),
            selectors,
        }
    }

    /// The managed host: `CIM_ComputerSystem` with `CreationClassName=CIM_ComputerSystem` and
    /// `Name=ManagedSystem`, the `ManagedElement` every `RequestPowerStateChange` names.
    pub fn managed_system() -> Self {
        Self::new(
            crate::resource::CIM_COMPUTER_SYSTEM,
            SelectorSet::new()
                .with("CreationClassName", "CIM_ComputerSystem")
                .with("Name", "ManagedSystem"),
        )
    }

    /// The reference as the element `name` in `namespace`. `ReferenceParameters` is left out
    /// when there is neither a resource URI nor a selector.
    pub(crate) fn to_element(&self, namespace: &'static str, name: &'static str) -> Element {
        let mut element = Element::new(namespace, name)
            .with_child(Element::new(ns::ADDRESSING, "Address").with_text(self.address.clone()));
        if self.resource_uri.is_some() || !self.selectors.is_empty() {
            let mut parameters = Element::new(ns::ADDRESSING, "ReferenceParameters");
            if let Some(resource_uri) = &self.resource_uri {
                parameters = parameters.with_child(
                    Element::new(ns::WSMAN, "ResourceURI").with_text(resource_uri.clone()),
                );
            }
            if !self.selectors.is_empty() {
                parameters = parameters.with_child(self.selectors.to_element());
            }
            element = element.with_child(parameters);
        }
        element
    }

    /// Reads a reference element: `wsa:Address` is required, the reference parameters are not;
    /// other children are ignored.
    pub(crate) fn from_element(element: &Element) -> Result<Self, Error> {
        let address = trim_xml(element.required_child(ns::ADDRESSING, "Address")?.text());
        let (resource_uri, selectors) =
            match element.optional_child(ns::ADDRESSING, "ReferenceParameters")? {
                Some(parameters) => (
                    parameters
                        .optional_child(ns::WSMAN, "ResourceURI")?
                        .map(|uri| trim_xml(uri.text()).to_owned()),
                    parameters
                        .optional_child(ns::WSMAN, "SelectorSet")?
                        .map(SelectorSet::from_element)
                        .transpose()?
                        .unwrap_or_default(),
                ),
                None => (None, SelectorSet::new()),
            };
        Ok(Self {
            address: address.to_owned(),
            resource_uri,
            selectors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, parse};

    #[test]
    fn reads_selectors_in_order() {
        let xml = format!(
            r#"<w:SelectorSet xmlns:w="{}"><w:Selector Name="B">2</w:Selector><w:Selector Name="A"> 1 </w:Selector></w:SelectorSet>"#,
            ns::WSMAN
        );
        let set =
            SelectorSet::from_element(&parse(xml.as_bytes(), Limits::default()).unwrap()).unwrap();
        assert_eq!(set, SelectorSet::new().with("B", "2").with("A", " 1 "));
        assert_eq!(set.value("A"), Some(" 1 "));
        assert_eq!(set.iter().count(), 2);
        assert_eq!(
            (&set).into_iter().next().map(|s| s.name.as_str()),
            Some("B")
        );
    }

    #[test]
    fn refuses_nameless_and_foreign_selectors() {
        let nameless = Element::new(ns::WSMAN, "SelectorSet")
            .with_child(Element::new(ns::WSMAN, "Selector").with_text("x"));
        assert!(matches!(
            SelectorSet::from_element(&nameless),
            Err(Error::MissingAttribute { .. })
        ));
        let foreign =
            Element::new(ns::WSMAN, "SelectorSet").with_child(Element::new("urn:x", "Selector"));
        assert!(matches!(
            SelectorSet::from_element(&foreign),
            Err(Error::UnexpectedElement { .. })
        ));
        let epr = Element::new(ns::WSMAN, "SelectorSet").with_child(
            Element::new(ns::WSMAN, "Selector")
                .with_attribute(Attribute::new("", "Name", "x"))
                .with_child(Element::new(ns::ADDRESSING, "EndpointReference")),
        );
        assert!(matches!(
            SelectorSet::from_element(&epr),
            Err(Error::UnexpectedElement { .. })
        ));
    }

    #[test]
    fn endpoint_references_round_trip_through_their_element() {
        let mut bare = EndpointReference::managed_system();
        bare.resource_uri = None;
        bare.selectors = SelectorSet::new();
        for reference in [
            EndpointReference::managed_system(),
            EndpointReference::new("urn:x", SelectorSet::new()),
            bare,
        ] {
            let element = reference.to_element("urn:p", "Ref");
            assert_eq!(EndpointReference::from_element(&element), Ok(reference));
        }
        let element = Element::new("urn:p", "Ref")
            .with_child(Element::new(ns::ADDRESSING, "Address").with_text("\n urn:a \n"));
        assert_eq!(
            EndpointReference::from_element(&element).map(|r| r.address),
            Ok("urn:a".to_owned())
        );
        let without_address = Element::new("urn:p", "Ref");
        assert!(matches!(
            EndpointReference::from_element(&without_address),
            Err(Error::MissingElement { .. })
        ));
    }

    #[test]
    fn collects_from_pairs() {
        let set: SelectorSet = [("a", "1"), ("b", "2")].into_iter().collect();
        assert_eq!(set.as_slice().len(), 2);
        assert!(!set.is_empty());
        assert!(SelectorSet::new().is_empty());
    }
}
