//! WS-Management selectors and endpoint references.

use crate::error::Error;
use crate::ns;
use crate::xml::{Attribute, Element};

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

/// An endpoint reference element (`wsa:Address` + `wsa:ReferenceParameters` with a resource URI
/// and selectors) named `name` in `namespace`, addressed to the anonymous role as AMT does.
pub(crate) fn reference(
    namespace: &'static str,
    name: &'static str,
    resource_uri: &str,
    selectors: &SelectorSet,
) -> Element {
    Element::new(namespace, name)
        .with_child(Element::new(ns::ADDRESSING, "Address").with_text(ns::ANONYMOUS))
        .with_child(
            Element::new(ns::ADDRESSING, "ReferenceParameters")
                .with_child(Element::new(ns::WSMAN, "ResourceURI").with_text(resource_uri))
                .with_child(selectors.to_element()),
        )
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
    fn collects_from_pairs() {
        let set: SelectorSet = [("a", "1"), ("b", "2")].into_iter().collect();
        assert_eq!(set.as_slice().len(), 2);
        assert!(!set.is_empty());
        assert!(SelectorSet::new().is_empty());
    }
}
