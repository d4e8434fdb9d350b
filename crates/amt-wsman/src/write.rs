//! Writing element trees as XML documents, in the client's style or in Intel AMT's.
//!
//! All namespaces are declared once, on the root element, with the prefixes of a [`Layout`];
//! namespaces the layout does not know get generated prefixes in order of first appearance.
//! Text and attribute values are escaped so that reading them back gives the same string, and
//! characters XML 1.0 cannot carry at all are replaced with U+FFFD.

use crate::ns;
use crate::xml::{Element, is_ncname, is_xml_char};

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
    /// `(namespace, prefix)` of generated and preferred bindings, in order of first use.
    bound: Vec<(String, String)>,
}

impl Writer {
    pub(crate) fn new(layout: &'static Layout) -> Self {
        Self {
            layout,
            bound: Vec::new(),
        }
    }

    /// The prefix `namespace` is written with, binding one if needed. The empty namespace has
    /// no prefix; the XML namespace is always `xml`.
    pub(crate) fn prefix(&mut self, namespace: &str) -> String {
        self.bind(namespace);
        self.bound_prefix(namespace).to_owned()
    }

    /// Binds a prefix to `namespace` unless it has one already.
    fn bind(&mut self, namespace: &str) {
        if namespace.is_empty() || namespace == ns::XML {
            return;
        }
        let fixed = self.layout.leading.iter().chain(self.layout.trailing);
        if fixed.clone().any(|(_, uri)| *uri == namespace)
            || self.bound.iter().any(|(uri, _)| uri == namespace)
        {
            return;
        }
        let taken = |candidate: &str| {
            fixed.clone().any(|(p, _)| *p == candidate)
                || self.bound.iter().any(|(_, p)| p == candidate)
                || self.layout.preferred.iter().any(|(p, _)| *p == candidate)
        };
        let prefix = match self
            .layout
            .preferred
            .iter()
            .find(|(_, uri)| *uri == namespace)
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
        self.bound.push((namespace.to_owned(), prefix));
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
        for attribute in element.attributes() {
            out.push(' ');
            if attribute.namespace.is_empty() && attribute.name == "xmlns" {
                // Written as is it would be a namespace declaration, not an attribute.
                out.push('_');
            }
            self.write_qualified(out, &attribute.namespace, &attribute.name);
            out.push_str("=\"");
            escape_into(out, &attribute.value, true);
            out.push('"');
        }
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

    fn write_qualified(&self, out: &mut String, namespace: &str, name: &str) {
        let prefix = self.bound_prefix(namespace);
        if !prefix.is_empty() {
            out.push_str(prefix);
            out.push(':');
        }
        push_name(out, name);
    }

    /// The prefix bound by [`Self::bind_tree`]; every namespace in the tree has one.
    fn bound_prefix(&self, namespace: &str) -> &str {
        if namespace.is_empty() {
            return "";
        }
        if namespace == ns::XML {
            return "xml";
        }
        self.layout
            .leading
            .iter()
            .chain(self.layout.trailing)
            .find(|(_, uri)| *uri == namespace)
            .map(|(p, _)| *p)
            .or_else(|| {
                self.bound
                    .iter()
                    .find(|(uri, _)| uri == namespace)
                    .map(|(_, p)| p.as_str())
            })
            .unwrap_or_default()
    }
}

/// Writes `name`, replacing what an NCName cannot hold with `_`.
fn push_name(out: &mut String, name: &str) {
    if is_ncname(name) {
        out.push_str(name);
        return;
    }
    if name.is_empty() {
        out.push('_');
        return;
    }
    for (i, c) in name.chars().enumerate() {
        let mut probe = String::new();
        if i > 0 {
            probe.push('a');
        }
        probe.push(c);
        out.push(if is_ncname(&probe) { c } else { '_' });
    }
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
    use super::*;
    use crate::xml::{Attribute, Limits, parse};

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
    fn sanitises_impossible_names() {
        let root = Element::new("", "r")
            .with_child(Element::new("", "1 bad<name"))
            .with_child(Element::new("", ""));
        assert!(render(&CLIENT, &root).ends_with("><__bad_name/><_/></r>"));
    }
}
