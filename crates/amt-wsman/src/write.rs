//! Writing element trees as XML documents, in the client's style or in Intel AMT's.
//!
//! All namespaces are declared once, on the root element, with the prefixes of a [`Layout`];
//! namespaces the layout does not know get generated prefixes in order of first appearance.
//! Text and attribute values are escaped so that reading them back gives the same string, and
//! characters XML 1.0 cannot carry at all are replaced with U+FFFD.
//!
//! The output is well-formed and namespace-well-formed whatever tree it is given, and reads back
//! within this crate's own reader's bounds:
//!
//! - names that are not NCNames are repaired with `_`, and an unqualified attribute called
//!   `xmlns` is written `_xmlns`;
//! - names in a namespace that cannot be declared — the `xmlns` namespace, which no name may be
//!   in, or a namespace beyond the first [`MAX_NAMESPACES`] that are not well known — are
//!   written without a namespace;
//! - of attributes that end up with one written name, only the first is written.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::ns;
use crate::xml::{
    Attribute, Element, MAX_NAMESPACES, XMLNS_NAMESPACE, is_name_char, is_name_start_char,
    is_ncname, is_xml_char, well_known,
};

/// How a document's namespaces are prefixed and how empty elements are written.
#[derive(Debug)]
pub(crate) struct Layout {
    /// Declared on the root, in this order, whether used or not (AMT declares a fixed set).
    pub(crate) leading: &'static [(&'static str, &'static str)],
    /// Declared after the generated prefixes, whether used or not.
    pub(crate) trailing: &'static [(&'static str, &'static str)],
    /// Prefixes for well-known namespaces, declared only when used.
    pub(crate) preferred: &'static [(&'static str, &'static str)],
    /// Prefixes handed out to other namespaces, in order; then `n1`, `n2`, ….
    pub(crate) generated: &'static [&'static str],
    /// `<a></a>` (AMT) rather than `<a/>`.
    pub(crate) empty_as_pair: bool,
}

/// What our client sends: the prefixes of the DSP0226 examples.
pub(crate) const CLIENT: Layout = Layout {
    leading: &[
        ("s", ns::SOAP),
        ("wsa", ns::ADDRESSING),
        ("wsman", ns::WSMAN),
    ],
    trailing: &[],
    preferred: &[
        ("wsen", ns::ENUMERATION),
        ("wsmid", ns::IDENTITY),
        ("xsi", ns::XSI),
        ("dash", ns::DASH),
    ],
    generated: &["p", "q", "r", "t", "u", "v"],
    empty_as_pair: false,
};

/// Intel AMT's replies: `a:` to `f:` fixed, `g:`, `h:`, … for the body's namespaces, `xsi:` last.
pub(crate) const AMT: Layout = Layout {
    leading: &[
        ("a", ns::SOAP),
        ("b", ns::ADDRESSING),
        ("c", ns::WSMAN),
        ("d", ns::TRUST),
        ("e", ns::WSSE),
        ("f", ns::CIM_BINDING),
    ],
    trailing: &[("xsi", ns::XSI)],
    preferred: &[],
    generated: &["g", "h", "i", "j", "k", "l", "m"],
    empty_as_pair: true,
};

/// Intel AMT's faults, which declare another set in another order (`e:` is WS-Management here).
pub(crate) const AMT_FAULT: Layout = Layout {
    leading: &[
        ("g", ns::CIM_BINDING),
        ("f", ns::EVENTING),
        ("e", ns::WSMAN),
        ("d", ns::TRANSFER),
        ("c", ns::ENUMERATION),
        ("b", ns::ADDRESSING),
        ("a", ns::SOAP),
        ("h", ns::TRUST),
        ("i", ns::WSSE),
    ],
    trailing: &[("xsi", ns::XSI)],
    preferred: &[],
    generated: &["j", "k", "l", "m"],
    empty_as_pair: true,
};

/// Intel AMT's Identify reply.
pub(crate) const AMT_IDENTIFY: Layout = Layout {
    leading: &[("a", ns::SOAP), ("b", ns::IDENTITY), ("c", ns::DASH)],
    trailing: &[],
    preferred: &[],
    generated: &["d", "e", "f", "g", "h"],
    empty_as_pair: false,
};

/// Assigns prefixes and writes one document.
#[derive(Debug)]
pub(crate) struct Writer {
    layout: &'static Layout,
    /// `(namespace, prefix)` of generated and preferred bindings, in order of first use; the
    /// namespace as [`written_uri`] gives it.
    bound: Vec<(String, String)>,
    /// How many entries of `bound` are not well-known namespaces.
    others: usize,
}

impl Writer {
    pub(crate) fn new(layout: &'static Layout) -> Self {
        Self {
            layout,
            bound: Vec::new(),
            others: 0,
        }
    }

    /// The prefix `namespace` is written with, binding one if needed. The empty namespace, and
    /// one that cannot be declared, have none; the XML namespace is always `xml`.
    pub(crate) fn prefix(&mut self, namespace: &str) -> String {
        self.bind(namespace);
        self.bound_prefix(namespace).unwrap_or_default().to_owned()
    }

    fn fixed(&self) -> impl Iterator<Item = &(&'static str, &'static str)> + Clone {
        self.layout.leading.iter().chain(self.layout.trailing)
    }

    /// Binds a prefix to `namespace` unless it has one already or cannot have one.
    fn bind(&mut self, namespace: &str) {
        let uri = written_uri(namespace);
        if uri.is_empty() || uri == ns::XML || uri == XMLNS_NAMESPACE {
            return;
        }
        if self.fixed().any(|(_, fixed)| *fixed == uri)
            || self.bound.iter().any(|(bound, _)| *bound == uri)
        {
            return;
        }
        let is_well_known = well_known(&uri).is_some();
        if !is_well_known && self.others >= MAX_NAMESPACES {
            return;
        }
        let taken = |candidate: &str| {
            self.fixed().any(|(p, _)| *p == candidate)
                || self.bound.iter().any(|(_, p)| p == candidate)
                || self.layout.preferred.iter().any(|(p, _)| *p == candidate)
        };
        let prefix = match self
            .layout
            .preferred
            .iter()
            .find(|(_, known)| *known == uri)
        {
            Some((prefix, _)) => (*prefix).to_owned(),
            None => match self.layout.generated.iter().find(|p| !taken(p)) {
                Some(prefix) => (*prefix).to_owned(),
                None => (1..)
                    .map(|i| format!("n{i}"))
                    .find(|p| !taken(p))
                    .unwrap_or_default(),
            },
        };
        if !is_well_known {
            self.others += 1;
        }
        self.bound.push((uri.into_owned(), prefix));
    }

    fn bind_tree(&mut self, element: &Element) {
        self.bind(element.namespace());
        for attribute in element.attributes() {
            self.bind(&attribute.namespace);
        }
        for child in element.children() {
            self.bind_tree(child);
        }
    }

    /// Writes `root` as a complete document with an XML declaration.
    pub(crate) fn finish(mut self, root: &Element) -> Vec<u8> {
        self.bind_tree(root);
        let mut out = String::with_capacity(2048);
        out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        self.write_element(&mut out, root, true);
        out.into_bytes()
    }

    fn write_element(&self, out: &mut String, element: &Element, is_root: bool) {
        out.push('<');
        self.write_qualified(out, element.namespace(), element.name());
        if is_root {
            let generated = self.bound.iter().map(|(u, p)| (p.as_str(), u.as_str()));
            let fixed_leading = self.layout.leading.iter().map(|(p, u)| (*p, *u));
            let fixed_trailing = self.layout.trailing.iter().map(|(p, u)| (*p, *u));
            for (prefix, uri) in fixed_leading.chain(generated).chain(fixed_trailing) {
                out.push_str(" xmlns:");
                out.push_str(prefix);
                out.push_str("=\"");
                escape_into(out, uri, true);
                out.push('"');
            }
        }
        self.write_attributes(out, element.attributes());
        if element.text().is_empty() && element.children().is_empty() && !self.layout.empty_as_pair
        {
            out.push_str("/>");
            return;
        }
        out.push('>');
        escape_into(out, element.text(), false);
        for child in element.children() {
            self.write_element(out, child, false);
        }
        out.push_str("</");
        self.write_qualified(out, element.namespace(), element.name());
        out.push('>');
    }

    /// Writes the attributes, skipping any whose written name an earlier one already has: two
    /// attributes with one expanded name are not well-formed.
    fn write_attributes(&self, out: &mut String, attributes: &[Attribute]) {
        let mut written: HashSet<(&str, Cow<'_, str>)> = HashSet::new();
        for attribute in attributes {
            let prefix = self.bound_prefix(&attribute.namespace).unwrap_or_default();
            let mut name = repaired_name(&attribute.name);
            if prefix.is_empty() && name == "xmlns" {
                // Written as is it would be a namespace declaration, not an attribute.
                name = Cow::Borrowed("_xmlns");
            }
            if attributes.len() > 1 && !written.insert((prefix, name.clone())) {
                continue;
            }
            out.push(' ');
            if !prefix.is_empty() {
                out.push_str(prefix);
                out.push(':');
            }
            out.push_str(&name);
            out.push_str("=\"");
            escape_into(out, &attribute.value, true);
            out.push('"');
        }
    }

    fn write_qualified(&self, out: &mut String, namespace: &str, name: &str) {
        let prefix = self.bound_prefix(namespace).unwrap_or_default();
        if !prefix.is_empty() {
            out.push_str(prefix);
            out.push(':');
        }
        out.push_str(&repaired_name(name));
    }

    /// The prefix bound by [`Self::bind_tree`]: `Some("")` for the empty namespace, `None` for a
    /// namespace that could not be declared (its names are written without a namespace).
    fn bound_prefix(&self, namespace: &str) -> Option<&str> {
        if namespace.is_empty() {
            return Some("");
        }
        let uri = written_uri(namespace);
        if uri == ns::XML {
            return Some("xml");
        }
        self.fixed()
            .find(|(_, fixed)| *fixed == uri)
            .map(|(p, _)| *p)
            .or_else(|| {
                self.bound
                    .iter()
                    .find(|(bound, _)| *bound == uri)
                    .map(|(_, p)| p.as_str())
            })
    }
}

/// `namespace` as it reads back once written: characters XML cannot carry become U+FFFD, so
/// two URIs differing only there are one namespace on the wire.
fn written_uri(namespace: &str) -> Cow<'_, str> {
    // Printable ASCII, what URIs are made of, needs no character-by-character look.
    if namespace.bytes().all(|b| (0x20..0x7F).contains(&b)) || namespace.chars().all(is_xml_char) {
        Cow::Borrowed(namespace)
    } else {
        Cow::Owned(
            namespace
                .chars()
                .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

/// `name`, with what an NCName cannot hold replaced with `_`.
fn repaired_name(name: &str) -> Cow<'_, str> {
    if is_ncname(name) {
        return Cow::Borrowed(name);
    }
    if name.is_empty() {
        return Cow::Borrowed("_");
    }
    Cow::Owned(
        name.chars()
            .enumerate()
            .map(|(i, c)| {
                let fits = if i == 0 {
                    is_name_start_char(c)
                } else {
                    is_name_char(c)
                };
                if fits { c } else { '_' }
            })
            .collect(),
    )
}

/// Escapes `text` for element content or (with `attribute`) a double-quoted attribute value,
/// such that an XML reader returns exactly `text`.
pub(crate) fn escape_into(out: &mut String, text: &str, attribute: bool) {
    // Copy runs of ordinary bytes in one go; every byte that may need attention is ASCII or
    // 0xEF (the lead byte of U+FFFE and U+FFFF), so each run ends on a character boundary.
    let needs_care =
        |b: u8| b < 0x20 || matches!(b, b'&' | b'<' | b'>' | 0xEF) || (attribute && b == b'"');
    let mut rest = text;
    while let Some(at) = rest.bytes().position(needs_care) {
        let (plain, tail) = rest.split_at(at);
        out.push_str(plain);
        let mut chars = tail.chars();
        let Some(c) = chars.next() else { break };
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Line-end normalisation would turn a raw CR into LF.
            '\r' => out.push_str("&#xD;"),
            '"' => out.push_str("&quot;"),
            // Attribute-value normalisation would turn raw tabs and LFs into spaces.
            '\t' if attribute => out.push_str("&#x9;"),
            '\n' if attribute => out.push_str("&#xA;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::xml::{Limits, parse};

    fn render(layout: &'static Layout, root: &Element) -> String {
        String::from_utf8(Writer::new(layout).finish(root)).unwrap()
    }

    #[test]
    fn escapes_so_that_reading_back_is_exact() {
        let nasty = "a<b>&c\"d'e\r\nf\tg]]>h\u{1}";
        let root = Element::new("urn:x", "r")
            .with_text(nasty)
            .with_attribute(Attribute::new("", "v", nasty));
        let text = render(&CLIENT, &root);
        let back = parse(text.as_bytes(), Limits::default()).unwrap();
        let expected = nasty.replace('\u{1}', "\u{FFFD}");
        assert_eq!(back.text(), expected);
        assert_eq!(back.attribute("", "v"), Some(expected.as_str()));
    }

    #[test]
    fn amt_layout_declares_its_fixed_set_and_generates_g_h() {
        let root = Element::new(ns::SOAP, "Envelope").with_child(
            Element::new(ns::SOAP, "Body").with_child(
                Element::new(ns::ENUMERATION, "PullResponse")
                    .with_child(Element::new("urn:class", "C").with_text("1")),
            ),
        );
        let text = render(&AMT, &root);
        assert!(text.starts_with(
            r#"<?xml version="1.0" encoding="UTF-8"?><a:Envelope xmlns:a="http://www.w3.org/2003/05/soap-envelope" xmlns:b="#
        ));
        assert!(text.contains(r#"xmlns:g="http://schemas.xmlsoap.org/ws/2004/09/enumeration" xmlns:h="urn:class" xmlns:xsi="#));
        assert!(text.ends_with(
            "<a:Body><g:PullResponse><h:C>1</h:C></g:PullResponse></a:Body></a:Envelope>"
        ));
    }

    #[test]
    fn client_layout_self_closes_and_uses_preferred_prefixes() {
        let root = Element::new(ns::SOAP, "Envelope").with_child(
            Element::new(ns::SOAP, "Body").with_child(Element::new(ns::ENUMERATION, "Enumerate")),
        );
        let text = render(&CLIENT, &root);
        assert!(
            text.contains(r#" xmlns:wsen="http://schemas.xmlsoap.org/ws/2004/09/enumeration""#)
        );
        assert!(text.ends_with("<s:Body><wsen:Enumerate/></s:Body></s:Envelope>"));
    }

    #[test]
    fn unqualified_and_xml_namespace_names() {
        let root = Element::new("", "r")
            .with_attribute(Attribute::new(ns::XML, "lang", "en"))
            .with_child(Element::new("", "c"));
        assert_eq!(
            render(&CLIENT, &root),
            r#"<?xml version="1.0" encoding="UTF-8"?><r xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xml:lang="en"><c/></r>"#
        );
    }

    #[test]
    fn runs_out_of_letters_gracefully() {
        let mut root = Element::new("", "r");
        for i in 0..20 {
            root = root.with_child(Element::new(format!("urn:{i}"), "c"));
        }
        let text = render(&AMT, &root);
        let back = parse(text.as_bytes(), Limits::default()).unwrap();
        assert_eq!(back, root);
        assert!(text.contains("xmlns:n1="));
    }

    #[test]
    fn an_attribute_named_xmlns_is_not_written_as_a_declaration() {
        let root = Element::new("", "r").with_attribute(Attribute::new("", "xmlns", "urn:x"));
        assert!(render(&CLIENT, &root).ends_with(r#" _xmlns="urn:x"/>"#));
    }

    #[test]
    fn later_attributes_with_a_taken_written_name_are_skipped() {
        let root = Element::new("", "r")
            .with_attribute(Attribute::new("urn:a", "x", "1"))
            .with_attribute(Attribute::new("urn:a", "x", "2"))
            .with_attribute(Attribute::new("", "a b", "3"))
            .with_attribute(Attribute::new("", "a_b", "4"))
            .with_attribute(Attribute::new("", "xmlns", "5"))
            .with_attribute(Attribute::new("", "_xmlns", "6"))
            // Two URIs that differ only where XML cannot carry a character are one namespace.
            .with_attribute(Attribute::new("urn:\u{1}", "y", "7"))
            .with_attribute(Attribute::new("urn:\u{2}", "y", "8"));
        let back = parse(render(&CLIENT, &root).as_bytes(), Limits::default()).unwrap();
        let values: Vec<&str> = back.attributes().iter().map(|a| a.value.as_str()).collect();
        assert_eq!(values, ["1", "3", "5", "7"]);
        assert_eq!(back.attribute("urn:\u{FFFD}", "y"), Some("7"));
    }

    #[test]
    fn names_in_the_xmlns_namespace_are_written_without_one() {
        let root = Element::new(XMLNS_NAMESPACE, "r")
            .with_attribute(Attribute::new(XMLNS_NAMESPACE, "p", "urn:x"))
            .with_attribute(Attribute::new("", "p", "second"))
            .with_child(Element::new(XMLNS_NAMESPACE, "c"));
        let text = render(&AMT, &root);
        assert!(!text.contains(XMLNS_NAMESPACE), "{text}");
        let back = parse(text.as_bytes(), Limits::default()).unwrap();
        assert!(back.is("", "r"));
        assert_eq!(back.attributes(), [Attribute::new("", "p", "urn:x")]);
        assert!(back.children()[0].is("", "c"));
    }

    #[test]
    fn namespaces_beyond_the_cap_are_written_without_one() {
        let mut root = Element::new(ns::SOAP, "r");
        for i in 0..MAX_NAMESPACES + 100 {
            root = root.with_child(
                Element::new(format!("urn:{i}"), "c").with_attribute(Attribute::new(
                    format!("urn:a{i}"),
                    "a",
                    "v",
                )),
            );
        }
        for layout in [&CLIENT, &AMT, &AMT_FAULT, &AMT_IDENTIFY] {
            let back = parse(render(layout, &root).as_bytes(), Limits::default()).unwrap();
            // Element and attribute namespaces alternate in order of first appearance.
            let kept = back
                .children()
                .iter()
                .filter(|c| !c.namespace().is_empty())
                .count();
            assert_eq!(kept, MAX_NAMESPACES / 2);
            assert_eq!(back.children()[0].namespace(), "urn:0");
            assert_eq!(back.children()[0].attribute("urn:a0", "a"), Some("v"));
            let last = back.children().last().unwrap();
            assert!(last.is("", "c"));
            assert_eq!(last.attribute("", "a"), Some("v"));
        }
    }

    #[test]
    fn repairs_name_starts_by_the_start_rule() {
        assert_eq!(repaired_name("\u{300}a"), "_a");
        assert_eq!(repaired_name("a\u{300}"), "a\u{300}");
        assert_eq!(repaired_name("-1.x"), "_1.x");
        assert_eq!(repaired_name("a:b"), "a_b");
    }

    /// Any string, control characters and markup included.
    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,6}",
            any::<String>().prop_map(|s| s.chars().take(8).collect()),
            Just(String::new()),
            Just("xmlns".to_owned()),
            Just("xml:lang".to_owned()),
        ]
    }

    fn any_namespace() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just(XMLNS_NAMESPACE.to_owned()),
            Just(ns::XML.to_owned()),
            Just(ns::SOAP.to_owned()),
            Just(ns::XSI.to_owned()),
            (0..200u32).prop_map(|i| format!("urn:{i}")),
            any_text(),
        ]
    }

    fn any_attribute() -> impl Strategy<Value = Attribute> {
        (any_namespace(), any_text(), any_text())
            .prop_map(|(namespace, name, value)| Attribute::new(namespace, name, value))
    }

    fn any_tree() -> impl Strategy<Value = Element> {
        let leaf = (
            any_namespace(),
            any_text(),
            prop::collection::vec(any_attribute(), 0..6),
            any_text(),
        )
            .prop_map(|(namespace, name, attributes, text)| {
                attributes
                    .into_iter()
                    .fold(Element::new(namespace, name), Element::with_attribute)
                    .with_text(text)
            });
        leaf.prop_recursive(4, 96, 24, |inner| {
            (inner.clone(), prop::collection::vec(inner, 0..24))
                .prop_map(|(parent, children)| parent.with_children(children))
        })
    }

    /// Reads back whatever the writer could produce (its bodies may exceed the default size).
    const READ_BACK: Limits = Limits {
        max_body_bytes: usize::MAX,
        max_depth: 32,
        max_elements: usize::MAX,
    };

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Whatever the tree, every layout writes a document that reads back; and what reads back
        /// is a tree the writer renders faithfully.
        #[test]
        fn any_tree_is_written_well_formed(tree in any_tree()) {
            for layout in [&CLIENT, &AMT, &AMT_FAULT, &AMT_IDENTIFY] {
                let text = render(layout, &tree);
                let back = parse(text.as_bytes(), READ_BACK);
                prop_assert!(back.is_ok(), "{:?} for {}", back, text);
                let back = back.unwrap_or_default();
                let again = parse(render(layout, &back).as_bytes(), READ_BACK);
                prop_assert_eq!(again.as_ref(), Ok(&back));
            }
        }
    }

    #[test]
    fn sanitises_impossible_names() {
        let root = Element::new("", "r")
            .with_child(Element::new("", "1 bad<name"))
            .with_child(Element::new("", ""));
        assert!(render(&CLIENT, &root).ends_with("><__bad_name/><_/></r>"));
    }
}
