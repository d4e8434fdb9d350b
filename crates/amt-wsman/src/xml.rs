//! The XML layer: parsing limits, the owned element tree, and a namespace-aware reader that
//! builds the tree from untrusted bytes.
//!
//! Every message is read into an [`Element`] tree first and interpreted second. The tree keeps
//! namespace URIs and local names (never prefixes), attributes, text and children; comments and
//! processing instructions are dropped. The reader refuses DTDs, entities other than the XML
//! predefined and character references, invalid UTF-8, characters XML 1.0 forbids, and
//! anything beyond the [`Limits`].

use std::borrow::Cow;
use std::collections::HashSet;

use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::escape::{EscapeError, resolve_predefined_entity, unescape};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{PrefixDeclaration, QName, ResolveResult};

use crate::error::{Error, quoted};
use crate::ns;
use crate::resource;

/// Caps applied while parsing, so that a hostile peer cannot make us allocate without bound.
///
/// The defaults fit Intel AMT with a wide margin: its replies are a few kilobytes, at most about
/// ten levels deep. Change a field on a default value:
///
/// ```
/// let mut limits = amt_wsman::Limits::default();
/// limits.max_body_bytes = 64 * 1024;
/// assert_eq!(limits.max_depth, 32);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest body accepted, in bytes. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Deepest element nesting accepted (the envelope is depth 1). Default 32; values above
    /// 256 act as 256.
    pub max_depth: usize,
    /// Most elements accepted in one document. Default 16 384.
    pub max_elements: usize,
}

impl Limits {
    /// The default limits.
    pub const DEFAULT: Self = Self {
        max_body_bytes: 1 << 20,
        max_depth: 32,
        max_elements: 16_384,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// An attribute: namespace URI (empty for none), local name and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Namespace URI, or the empty string for an unqualified attribute.
    pub namespace: String,
    /// Local name.
    pub name: String,
    /// Value, with references resolved.
    pub value: String,
}

impl Attribute {
    /// An attribute in `namespace` (empty for none).
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            value: value.into(),
        }
    }
}

/// An XML element, namespace-resolved: what generic calls (Get, Pull, Invoke) carry.
///
/// Equality compares namespace, name, attributes, text and children; how the element was
/// written on the wire (prefixes, whitespace between child elements) does not matter.
///
/// `text` is the element's own character data, exact (not trimmed). When an element has child
/// elements and its own text is only whitespace, the text is dropped, so indentation never
/// shows up as content.
#[derive(Clone, Debug, Default)]
pub struct Element {
    // Borrowed for the well-known namespaces and the names our builders use, which saves an
    // allocation per element on both sides.
    namespace: Cow<'static, str>,
    name: Cow<'static, str>,
    attributes: Vec<Attribute>,
    text: String,
    children: Vec<Self>,
    /// `(prefix, URI)` pairs declared on this element in the parsed document, the empty prefix
    /// being the default namespace. Kept only to resolve QName-valued text such as fault codes.
    declarations: Vec<(String, String)>,
}

impl PartialEq for Element {
    fn eq(&self, other: &Self) -> bool {
        self.namespace == other.namespace
            && self.name == other.name
            && self.attributes == other.attributes
            && self.text == other.text
            && self.children == other.children
    }
}

impl Eq for Element {}

impl Element {
    /// An empty element `name` in `namespace` (empty for none).
    ///
    /// `name` should be an XML name without a prefix (an NCName); when writing, characters that
    /// cannot appear in one are replaced with `_`.
    pub fn new(
        namespace: impl Into<Cow<'static, str>>,
        name: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            ..Self::default()
        }
    }

    /// This element with its text set to `text`.
    #[must_use]
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = text.into();
        self
    }

    /// This element with `child` appended.
    #[must_use]
    pub fn with_child(mut self, child: Self) -> Self {
        self.children.push(child);
        self
    }

    /// This element with `children` appended.
    #[must_use]
    pub fn with_children(mut self, children: impl IntoIterator<Item = Self>) -> Self {
        self.children.extend(children);
        self
    }

    /// This element with `attribute` appended.
    #[must_use]
    pub fn with_attribute(mut self, attribute: Attribute) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// Namespace URI, or the empty string for none.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Local name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The element's own text, exact.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Attributes in document order (namespace declarations excluded).
    pub fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    /// Child elements in document order.
    pub fn children(&self) -> &[Self] {
        &self.children
    }

    /// Whether this element is `name` in `namespace`.
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.name == name && self.namespace == namespace
    }

    /// The children named `name` in `namespace`, in document order.
    pub fn children_named<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Self> + 'a {
        self.children.iter().filter(move |c| c.is(namespace, name))
    }

    /// The value of the attribute `name` in `namespace` (empty for an unqualified attribute).
    pub fn attribute(&self, namespace: &str, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name && a.namespace == namespace)
            .map(|a| a.value.as_str())
    }

    /// Whether the element carries `xsi:nil="true"` (a CIM NULL).
    pub fn is_nil(&self) -> bool {
        self.attribute(ns::XSI, "nil")
            .is_some_and(|v| matches!(v.trim(), "true" | "1"))
    }

    /// The only child named `name` in `namespace`, if any; several are an error.
    pub(crate) fn optional_child(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<&Self>, Error> {
        let mut matching = self.children.iter().filter(|c| c.is(namespace, name));
        let first = matching.next();
        if first.is_some() && matching.next().is_some() {
            return Err(Error::DuplicateElement {
                parent: quoted(&self.name),
                element: name.to_owned(),
            });
        }
        Ok(first)
    }

    /// The one child named `name` in `namespace`; none or several are an error.
    pub(crate) fn required_child(&self, namespace: &str, name: &str) -> Result<&Self, Error> {
        self.optional_child(namespace, name)?
            .ok_or_else(|| Error::MissingElement {
                parent: quoted(&self.name),
                element: name.to_owned(),
            })
    }

    /// `{namespace}name`, for error messages.
    pub(crate) fn clark_name(&self) -> String {
        quoted(&format!("{{{}}}{}", self.namespace, self.name))
    }

    /// The namespace `prefix` is bound to by a declaration on this element.
    fn declared(&self, prefix: &str) -> Option<&str> {
        self.declarations
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, uri)| uri.as_str())
    }

    /// Concatenated text of this element and all its descendants.
    pub(crate) fn deep_text(&self) -> String {
        let mut out = self.text.clone();
        for child in &self.children {
            out.push_str(&child.deep_text());
        }
        out
    }
}

/// Resolves the QName `value` (element content such as `b:DestinationUnreachable`) against the
/// declarations in scope: `scope` lists the element holding the value and its ancestors,
/// outermost first. Returns `(namespace URI, local name)`.
pub(crate) fn resolve_qname_text<'a>(
    scope: &[&'a Element],
    value: &'a str,
) -> Result<(&'a str, &'a str), Error> {
    let holder = scope.last().map_or("", |e| e.name.as_ref());
    let trimmed = value.trim();
    let (prefix, local) = trimmed.split_once(':').unwrap_or(("", trimmed));
    if !is_ncname(local) || (!prefix.is_empty() && !is_ncname(prefix)) {
        return Err(Error::InvalidValue {
            element: quoted(holder),
            value: quoted(value),
            expected: "a qualified name",
        });
    }
    if prefix == "xml" {
        return Ok((ns::XML, local));
    }
    let bound = scope.iter().rev().find_map(|e| e.declared(prefix));
    match bound {
        Some(uri) if !uri.is_empty() || prefix.is_empty() => Ok((uri, local)),
        _ if prefix.is_empty() => Ok(("", local)),
        _ => Err(Error::UndeclaredPrefix {
            prefix: quoted(prefix),
        }),
    }
}

/// Whether `name` is an XML NCName (a name without a colon), by the `NameStartChar` and
/// `NameChar` productions of XML 1.0 (fifth edition).
pub(crate) fn is_ncname(name: &str) -> bool {
    if let Some((&first, rest)) = name.as_bytes().split_first()
        && (first.is_ascii_alphabetic() || first == b'_')
        && rest
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return true;
    }
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
}

/// Whether `c` may start an NCName.
pub(crate) fn is_name_start_char(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || is_name_start_non_ascii(c)
}

/// Whether `c` may follow the start of an NCName.
pub(crate) fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '-' | '.' | '\u{B7}')
        || is_name_char_non_ascii(c)
}

/// `NameStartChar` above U+007F (XML 1.0 fifth edition, production 4).
fn is_name_start_non_ascii(c: char) -> bool {
    matches!(c, '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// `NameChar` above U+007F other than U+00B7 (production 4a): the start characters plus the
/// combining marks U+0300 to U+036F and the connectors U+203F, U+2040.
fn is_name_char_non_ascii(c: char) -> bool {
    matches!(c, '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{300}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{203F}'..='\u{2040}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// Whether XML 1.0 allows `c` in a document at all (production `Char`).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// XML whitespace (space, tab, CR, LF); `char::is_whitespace` would also accept others.
pub(crate) fn is_xml_whitespace(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Trims XML whitespace only.
pub(crate) fn trim_xml(text: &str) -> &str {
    text.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Most distinct namespace URIs one document may declare besides the well-known ones (see
/// [`well_known`]). AMT uses about a dozen; the cap keeps prefix resolution cheap and lets every
/// document we read be written back with all its namespaces declared on the root, within the
/// 128 bindings quick-xml's reader allows in scope.
pub(crate) const MAX_NAMESPACES: usize = 64;

/// Deepest nesting ever accepted, whatever [`Limits::max_depth`] says: tree operations recurse.
pub(crate) const MAX_SUPPORTED_DEPTH: usize = 256;

/// The namespace of `xmlns` attributes, which no element or ordinary attribute may be in.
pub(crate) const XMLNS_NAMESPACE: &str = "http://www.w3.org/2000/xmlns/";

/// Parses `body` into its root element under `limits`.
pub(crate) fn parse(body: &[u8], limits: Limits) -> Result<Element, Error> {
    if body.len() > limits.max_body_bytes {
        return Err(Error::BodyTooLarge {
            size: body.len(),
            limit: limits.max_body_bytes,
        });
    }
    let body = body.strip_prefix(UTF8_BOM).unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|e| Error::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    TreeBuilder::new(text, limits).run()
}

struct TreeBuilder<'i> {
    input: &'i str,
    reader: NsReader<&'i [u8]>,
    limits: Limits,
    open: Vec<Element>,
    root: Option<Element>,
    elements: usize,
    /// Distinct namespace URIs declared so far (at most [`MAX_NAMESPACES`], so a scan is cheap).
    namespaces: Vec<String>,
}

impl<'i> TreeBuilder<'i> {
    fn new(text: &'i str, limits: Limits) -> Self {
        Self {
            input: text,
            reader: NsReader::from_str(text),
            limits,
            open: Vec::new(),
            root: None,
            elements: 0,
            namespaces: Vec::new(),
        }
    }

    fn run(mut self) -> Result<Element, Error> {
        loop {
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(e) => return Err(self.reader_error(e)),
            };
            match event {
                Event::Start(start) => {
                    let element = self.open_element(&start)?;
                    self.open.push(element);
                }
                Event::Empty(start) => {
                    let element = self.open_element(&start)?;
                    self.close_element(element)?;
                }
                Event::End(_) => {
                    // check_end_names (on by default) guarantees the end tag matches.
                    let element = self
                        .open
                        .pop()
                        .ok_or_else(|| self.malformed("unmatched end tag"))?;
                    self.close_element(element)?;
                }
                Event::Text(text) => self.append_text(&text.xml10_content())?,
                Event::CData(data) => self.append_text(&data.xml10_content())?,
                Event::GeneralRef(reference) => {
                    let resolved = if reference.is_char_ref() {
                        match reference.resolve_char_ref() {
                            Ok(Some(c)) if is_xml_char(c) => c.to_string(),
                            _ => {
                                return Err(self.malformed(&format!(
                                    "invalid character reference &{};",
                                    quoted(&reference)
                                )));
                            }
                        }
                    } else {
                        match resolve_predefined_entity(&reference) {
                            Some(s) => s.to_owned(),
                            None => {
                                return Err(Error::UnknownEntity {
                                    name: quoted(&reference),
                                });
                            }
                        }
                    };
                    self.append_text(&resolved)?;
                }
                Event::DocType(_) => return Err(Error::Doctype),
                Event::Decl(decl) => {
                    if let Some(Ok(encoding)) = decl.encoding() {
                        let encoding = encoding.trim();
                        if !encoding.eq_ignore_ascii_case("utf-8")
                            && !encoding.eq_ignore_ascii_case("utf8")
                        {
                            return Err(Error::UnsupportedEncoding {
                                encoding: quoted(encoding),
                            });
                        }
                    }
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => break,
            }
        }
        if let Some(open) = self.open.last() {
            return Err(Error::Truncated {
                inside: quoted(&open.name),
            });
        }
        self.root.ok_or_else(|| Error::Truncated {
            inside: "document".to_owned(),
        })
    }

    fn open_element(&mut self, start: &BytesStart<'_>) -> Result<Element, Error> {
        let max_depth = self.limits.max_depth.min(MAX_SUPPORTED_DEPTH);
        if self.open.len() >= max_depth {
            return Err(Error::TooDeep { limit: max_depth });
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(Error::TooManyElements {
                limit: self.limits.max_elements,
            });
        }
        if self.root.is_some() && self.open.is_empty() {
            return Err(self.malformed("more than one root element"));
        }

        let qname = start.name();
        check_qname(qname).map_err(|reason| self.malformed(&reason))?;
        let (resolved, local) = self.reader.resolver().resolve_element(qname);
        let namespace = namespace_of(resolved)?;
        if namespace == XMLNS_NAMESPACE {
            return Err(self.malformed("an element cannot be in the xmlns namespace"));
        }
        let mut element = Element::new(namespace, local.as_ref().to_owned());

        for attribute in start.attributes() {
            let attribute =
                attribute.map_err(|e| self.malformed(&quoted(&format!("bad attribute: {e}"))))?;
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| self.reader_error(e))?;
            check_chars(&value).map_err(|reason| self.malformed(&reason))?;
            let declared = match attribute.key.as_namespace_binding() {
                Some(PrefixDeclaration::Default) => Some(String::new()),
                Some(PrefixDeclaration::Named(prefix)) => Some(prefix.to_owned()),
                None => None,
            };
            match declared {
                Some(prefix) => {
                    // The well-known namespaces are free: whatever we read, the writer may add
                    // its layout's fixed set, all of which are well known, and still stay
                    // within what we read back.
                    if well_known(&value).is_none()
                        && !self.namespaces.iter().any(|known| *known == value)
                    {
                        if self.namespaces.len() >= MAX_NAMESPACES {
                            return Err(self.malformed(&format!(
                                "more than {MAX_NAMESPACES} namespaces declared"
                            )));
                        }
                        self.namespaces.push(value.clone().into_owned());
                    }
                    element.declarations.push((prefix, value.into_owned()));
                }
                None => {
                    check_qname(attribute.key).map_err(|reason| self.malformed(&reason))?;
                    let (resolved, local) = self.reader.resolver().resolve_attribute(attribute.key);
                    let namespace = namespace_of(resolved)?;
                    element
                        .attributes
                        .push(Attribute::new(namespace, local.as_ref(), value));
                }
            }
        }
        if has_duplicate_attributes(&element.attributes) {
            return Err(self.malformed(&format!(
                "element {} has two attributes with the same name",
                quoted(&element.name)
            )));
        }
        Ok(element)
    }

    fn close_element(&mut self, mut element: Element) -> Result<(), Error> {
        if !element.children.is_empty() && is_xml_whitespace(&element.text) {
            element.text.clear();
        }
        match self.open.last_mut() {
            Some(parent) => parent.children.push(element),
            None => self.root = Some(element),
        }
        Ok(())
    }

    fn append_text(&mut self, text: &str) -> Result<(), Error> {
        check_chars(text).map_err(|reason| self.malformed(&reason))?;
        match self.open.last_mut() {
            Some(element) => {
                element.text.push_str(text);
                Ok(())
            }
            None if is_xml_whitespace(text) => Ok(()),
            None => Err(self.malformed("text outside the root element")),
        }
    }

    /// The input from byte `position` on, if that is a character boundary within it.
    fn rest_from(&self, position: u64) -> Option<&'i str> {
        self.input.get(usize::try_from(position).ok()?..)
    }

    /// Whether the input ends inside the reference the reader stopped at (its `&`, then name
    /// or number characters only).
    fn ends_inside_reference(&self) -> bool {
        self.rest_from(self.reader.error_position())
            .and_then(|rest| rest.strip_prefix('&'))
            .is_some_and(is_reference_prefix)
    }

    fn malformed_at_error(&self, reason: &str) -> Error {
        Error::Malformed {
            position: self.reader.error_position(),
            reason: reason.to_owned(),
        }
    }

    fn malformed(&self, reason: &str) -> Error {
        Error::Malformed {
            position: self.reader.buffer_position(),
            reason: reason.to_owned(),
        }
    }

    fn reader_error(&self, error: XmlError) -> Error {
        let inside = || {
            self.open
                .last()
                .map_or_else(|| "document".to_owned(), |e| quoted(&e.name))
        };
        match error {
            XmlError::Syntax(SyntaxError::UnclosedDoctype) => Error::Doctype,
            // `<!` followed by anything but a comment, CDATA or DOCTYPE (`<!ENTITY` outside a
            // DTD, say) is malformed; only a cut inside one of those three is a truncation.
            XmlError::Syntax(SyntaxError::InvalidBangMarkup)
                if !self
                    .rest_from(self.reader.error_position())
                    .is_some_and(is_bang_prefix) =>
            {
                self.malformed_at_error(
                    "markup starting with <! is not a comment, CDATA or DOCTYPE",
                )
            }
            // A reference without its `;`: a truncation only when the input ends inside it.
            XmlError::IllFormed(IllFormedError::UnclosedReference)
                if !self.ends_inside_reference() =>
            {
                self.malformed_at_error("'&' does not start a reference ending in ';'")
            }
            XmlError::Syntax(
                SyntaxError::InvalidBangMarkup
                | SyntaxError::UnclosedPI
                | SyntaxError::UnclosedXmlDecl
                | SyntaxError::UnclosedComment
                | SyntaxError::UnclosedCData
                | SyntaxError::UnclosedTag
                | SyntaxError::UnclosedSingleQuotedAttributeValue
                | SyntaxError::UnclosedDoubleQuotedAttributeValue,
            )
            | XmlError::IllFormed(IllFormedError::UnclosedReference) => {
                Error::Truncated { inside: inside() }
            }
            XmlError::Escape(EscapeError::UnrecognizedEntity(_, name)) => Error::UnknownEntity {
                name: quoted(&name),
            },
            XmlError::Namespace(e) => Error::Malformed {
                position: self.reader.error_position(),
                reason: quoted(&format!("namespace error: {e}")),
            },
            other => Error::Malformed {
                position: self.reader.error_position(),
                reason: quoted(&other.to_string()),
            },
        }
    }
}

fn namespace_of(resolved: ResolveResult<'_>) -> Result<Cow<'static, str>, Error> {
    match resolved {
        ResolveResult::Bound(namespace) => match well_known(namespace.as_ref()) {
            Some(known) => Ok(Cow::Borrowed(known)),
            None => normalized_namespace(namespace.as_ref()).map(Cow::Owned),
        },
        ResolveResult::Unbound => Ok(Cow::Borrowed("")),
        ResolveResult::Unknown(prefix) => Err(Error::UndeclaredPrefix {
            prefix: quoted(&prefix),
        }),
    }
}

/// The static copy of a namespace this crate knows, if `namespace` is one. Every namespace a
/// writer layout declares unasked is one of these.
pub(crate) fn well_known(namespace: &str) -> Option<&'static str> {
    const KNOWN: [&str; 19] = [
        ns::SOAP,
        ns::ADDRESSING,
        ns::WSMAN,
        ns::ENUMERATION,
        ns::TRANSFER,
        ns::EVENTING,
        ns::IDENTITY,
        ns::DASH,
        ns::CIM_BINDING,
        ns::TRUST,
        ns::WSSE,
        ns::XSI,
        ns::XML,
        resource::CIM_ASSOCIATED_POWER_MANAGEMENT_SERVICE,
        resource::CIM_POWER_MANAGEMENT_SERVICE,
        resource::CIM_POWER_MANAGEMENT_CAPABILITIES,
        resource::CIM_SOFTWARE_IDENTITY,
        resource::CIM_COMPUTER_SYSTEM,
        resource::IPS_POWER_MANAGEMENT_SERVICE,
    ];
    KNOWN.into_iter().find(|known| *known == namespace)
}

/// The namespace name a declaration's raw value stands for. The resolver hands back the value
/// as written, so references and whitespace are normalised here as for any attribute value:
/// literal whitespace becomes a space first, then references are resolved.
fn normalized_namespace(raw: &str) -> Result<String, Error> {
    if !raw.contains(['&', '\t', '\n', '\r']) {
        return Ok(raw.to_owned());
    }
    let spaced = raw.replace("\r\n", " ").replace(['\t', '\n', '\r'], " ");
    match unescape(&spaced) {
        Ok(value) => Ok(value.into_owned()),
        Err(EscapeError::UnrecognizedEntity(_, name)) => Err(Error::UnknownEntity {
            name: quoted(&name),
        }),
        Err(e) => Err(Error::Malformed {
            position: 0,
            reason: quoted(&format!("bad reference in a namespace declaration: {e}")),
        }),
    }
}

/// Whether `rest` (from a `<!` on) is a proper beginning of a comment, a CDATA section or a
/// DOCTYPE, which more input could complete.
fn is_bang_prefix(rest: &str) -> bool {
    ["<!--", "<![CDATA[", "<!DOCTYPE"].iter().any(|markup| {
        rest.len() < markup.len()
            && markup
                .get(..rest.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(rest))
    })
}

/// Whether `after` (what follows a `&` up to the end of the input) could still become a
/// reference: a name, `#` and decimal digits, or `#x` and hex digits, not yet closed by `;`.
fn is_reference_prefix(after: &str) -> bool {
    match after.strip_prefix('#') {
        Some(number) => match number.strip_prefix('x') {
            Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
            None => number.bytes().all(|b| b.is_ascii_digit()),
        },
        None => after.is_empty() || is_ncname(after),
    }
}

/// Refuses names that are not `NCName` or `NCName:NCName`, so that whatever we read we can
/// also write back unchanged.
fn check_qname(name: QName<'_>) -> Result<(), String> {
    let raw: &str = name.as_ref();
    let valid = match raw.split_once(':') {
        Some((prefix, local)) => is_ncname(prefix) && is_ncname(local),
        None => is_ncname(raw),
    };
    if valid {
        Ok(())
    } else {
        Err(format!("{:?} is not a valid XML name", quoted(raw)))
    }
}

fn check_chars(text: &str) -> Result<(), String> {
    // Below U+0080 only C0 controls other than tab, LF and CR are refused; above it only
    // U+FFFE and U+FFFF (encoded EF BF BE / EF BF BF), so most text needs one byte scan.
    if text
        .bytes()
        .all(|b| (b >= 0x20 && b != 0xEF) || matches!(b, b'\t' | b'\n' | b'\r'))
    {
        return Ok(());
    }
    match text.chars().find(|&c| !is_xml_char(c)) {
        Some(c) => Err(format!(
            "character U+{:04X} is not allowed in XML",
            u32::from(c)
        )),
        None => Ok(()),
    }
}

/// Two attributes with one expanded name (possibly via different prefixes) are an error in
/// XML Namespaces; a hash set keeps the check linear however many attributes there are.
fn has_duplicate_attributes(attributes: &[Attribute]) -> bool {
    match attributes {
        [] | [_] => false,
        [a, b] => a.name == b.name && a.namespace == b.namespace,
        _ => {
            let mut seen = HashSet::with_capacity(attributes.len());
            !attributes
                .iter()
                .all(|a| seen.insert((a.namespace.as_str(), a.name.as_str())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Element, Error> {
        parse(text.as_bytes(), Limits::default())
    }

    #[test]
    fn resolves_namespaces_whatever_the_prefix() {
        let a = parse_str(r#"<x:r xmlns:x="urn:a"><x:c>1</x:c></x:r>"#).unwrap();
        let b = parse_str(r#"<r xmlns="urn:a">  <c>1</c>  </r>"#).unwrap();
        assert_eq!(a, b);
        assert!(a.is("urn:a", "r"));
        assert_eq!(a.children()[0].text(), "1");
    }

    #[test]
    fn namespace_names_are_normalised_like_attribute_values() {
        let e = parse_str(
            r#"<p:r xmlns:p="urn:a&amp;b&#x9;c
d"/>"#,
        )
        .unwrap();
        assert_eq!(e.namespace(), "urn:a&b\tc d");
    }

    #[test]
    fn keeps_text_exact_and_joins_references() {
        let e = parse_str("<r> a &amp;&lt;&#x41;&#66;<![CDATA[<x>]]> </r>").unwrap();
        assert_eq!(e.text(), " a &<AB<x> ");
    }

    #[test]
    fn normalises_line_ends_like_xml_requires() {
        let e = parse_str("<r>a\r\nb&#xD;</r>").unwrap();
        assert_eq!(e.text(), "a\nb\r");
    }

    #[test]
    fn refuses_doctype_even_when_cut_short() {
        assert_eq!(parse_str("<!DOCTYPE r><r/>"), Err(Error::Doctype));
        assert_eq!(parse_str("<!DOCTYPE r [<!ENTITY x"), Err(Error::Doctype));
    }

    #[test]
    fn refuses_unknown_entities_in_text_and_attributes() {
        assert_eq!(
            parse_str("<r>&xxe;</r>"),
            Err(Error::UnknownEntity { name: "xxe".into() })
        );
        assert_eq!(
            parse_str(r#"<r a="&xxe;"/>"#),
            Err(Error::UnknownEntity { name: "xxe".into() })
        );
    }

    #[test]
    fn refuses_forbidden_characters() {
        assert!(matches!(
            parse_str("<r>&#1;</r>"),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            parse_str("<r>\u{1}</r>"),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            parse_str("<r a=\"\u{1}\"/>"),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn enforces_limits() {
        let limits = Limits {
            max_body_bytes: 10,
            ..Limits::DEFAULT
        };
        assert_eq!(
            parse(b"<r>0123456789</r>", limits),
            Err(Error::BodyTooLarge {
                size: 17,
                limit: 10
            })
        );
        let deep = "<a>".repeat(33) + &"</a>".repeat(33);
        assert_eq!(parse_str(&deep), Err(Error::TooDeep { limit: 32 }));
        let limits = Limits {
            max_elements: 3,
            ..Limits::DEFAULT
        };
        assert_eq!(
            parse(b"<a><b/><b/><b/></a>", limits),
            Err(Error::TooManyElements { limit: 3 })
        );
    }

    #[test]
    fn reports_truncation() {
        assert_eq!(
            parse_str("<a><b>x</b>"),
            Err(Error::Truncated { inside: "a".into() })
        );
        assert_eq!(
            parse_str("<a><b att=\"x"),
            Err(Error::Truncated { inside: "a".into() })
        );
        assert_eq!(
            parse_str("  "),
            Err(Error::Truncated {
                inside: "document".into()
            })
        );
    }

    #[test]
    fn bang_markup_and_bare_ampersands_are_malformed_unless_cut_short() {
        for bad in [
            "<a><!ENTITY x 'y'></a>",
            "<a><!E",
            "<a>& b</a>",
            "<a>x &amp b</a>",
            "<a>& b &amp",
        ] {
            assert!(
                matches!(parse_str(bad), Err(Error::Malformed { .. })),
                "{bad}: {:?}",
                parse_str(bad)
            );
        }
        for cut in [
            "<a><!", "<a><!-", "<a><![CD", "<a>&", "<a>&am", "<a>&#x3", "<a>&#1",
        ] {
            assert_eq!(
                parse_str(cut),
                Err(Error::Truncated { inside: "a".into() }),
                "{cut}"
            );
        }
    }

    #[test]
    fn refuses_structural_errors() {
        for bad in [
            "<a></b>",
            "<a/><b/>",
            "x<a/>",
            "<a/>x",
            "<p:a/>",
            r#"<a x="1" x="2"/>"#,
            r#"<a xmlns:p="u" xmlns:q="u" p:x="1" q:x="2"/>"#,
            "<a:b:c xmlns:a=\"u\"/>",
        ] {
            assert!(parse_str(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn caps_distinct_namespaces_and_clamps_depth() {
        let many: String = (0..=MAX_NAMESPACES)
            .map(|i| format!(r#"<c xmlns="urn:{i}"/>"#))
            .collect();
        assert!(matches!(
            parse_str(&format!("<r>{many}</r>")),
            Err(Error::Malformed { .. })
        ));
        // The well-known namespaces come on top of the cap.
        let known: String = [
            ns::SOAP,
            ns::ADDRESSING,
            ns::WSMAN,
            ns::TRUST,
            ns::WSSE,
            ns::CIM_BINDING,
            ns::EVENTING,
            ns::XSI,
            resource::CIM_SOFTWARE_IDENTITY,
        ]
        .iter()
        .map(|uri| format!(r#"<c xmlns="{uri}"/>"#))
        .collect();
        let at_cap: String = (1..=MAX_NAMESPACES)
            .map(|i| format!(r#"<c xmlns="urn:{i}"/>"#))
            .collect();
        assert!(parse_str(&format!("<r>{known}{at_cap}</r>")).is_ok());
        assert!(matches!(
            parse_str(&format!(r#"<r>{known}{at_cap}<c xmlns="urn:0"/></r>"#)),
            Err(Error::Malformed { .. })
        ));
        let same: String = (0..200).map(|_| r#"<c xmlns="urn:same"/>"#).collect();
        assert!(parse_str(&format!("<r>{same}</r>")).is_ok());
        let limits = Limits {
            max_depth: usize::MAX,
            ..Limits::DEFAULT
        };
        let deep = "<a>".repeat(300) + &"</a>".repeat(300);
        assert_eq!(
            parse(deep.as_bytes(), limits),
            Err(Error::TooDeep {
                limit: MAX_SUPPORTED_DEPTH
            })
        );
        assert!(matches!(
            parse_str(r#"<xmlns:a/>"#),
            Err(Error::Malformed { .. }) | Err(Error::UndeclaredPrefix { .. })
        ));
    }

    #[test]
    fn refuses_invalid_utf8_and_foreign_encodings() {
        assert_eq!(
            parse(b"<a>\xff</a>", Limits::default()),
            Err(Error::InvalidUtf8 { offset: 3 })
        );
        assert_eq!(
            parse_str(r#"<?xml version="1.0" encoding="ISO-8859-1"?><a/>"#),
            Err(Error::UnsupportedEncoding {
                encoding: "ISO-8859-1".into()
            })
        );
        assert!(
            parse(
                b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?><a/>",
                Limits::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn resolves_qname_text_in_scope() {
        let root = parse_str(
            r#"<r xmlns:b="urn:b" xmlns="urn:d"><v>b:X</v><w xmlns:b="urn:c">b:Y</w></r>"#,
        )
        .unwrap();
        let v = &root.children()[0];
        let w = &root.children()[1];
        assert_eq!(
            resolve_qname_text(&[&root, v], v.text()),
            Ok(("urn:b", "X"))
        );
        assert_eq!(
            resolve_qname_text(&[&root, w], w.text()),
            Ok(("urn:c", "Y"))
        );
        assert_eq!(resolve_qname_text(&[&root, w], "Z"), Ok(("urn:d", "Z")));
        assert_eq!(
            resolve_qname_text(&[&root, w], "q:Z"),
            Err(Error::UndeclaredPrefix { prefix: "q".into() })
        );
        assert!(resolve_qname_text(&[&root, w], "a b").is_err());
    }

    #[test]
    fn ncname_rules() {
        for good in [
            "a",
            "_a",
            "a-b.c",
            "CIM_SoftwareIdentity",
            "é",
            "a\u{300}",
            "a\u{B7}",
            "a\u{203F}",
            "\u{370}",
        ] {
            assert!(is_ncname(good), "{good}");
        }
        // Combining marks, the middle dot and connectors may follow a name's start, not be it.
        for bad in [
            "",
            "1a",
            "-a",
            ".a",
            "a:b",
            "a b",
            "a\"",
            "<",
            "\u{300}a",
            "\u{B7}a",
            "\u{203F}a",
        ] {
            assert!(!is_ncname(bad), "{bad}");
        }
    }
}
