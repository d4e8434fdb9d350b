//! RFC 7235 authentication header grammar: the tolerant reader and the strict writer.
//!
//! One reader serves both directions: a `WWW-Authenticate` value is a list of challenges and an
//! `Authorization` value is one such element. The reader never backtracks more than one token,
//! never indexes out of bounds and never allocates more than the input's size.

use crate::error::{Error, clip};

/// Longest header value the reader accepts, in bytes.
///
/// Real Digest headers are a few hundred bytes; anything this large is hostile or broken.
pub const MAX_HEADER_LEN: usize = 16 * 1024;

/// One parameter, with its value unquoted and unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// One element of an authentication header: a scheme with either params or a token68 blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) scheme: String,
    pub(crate) params: Vec<Param>,
    pub(crate) token68: Option<String>,
}

impl Element {
    fn new(scheme: &str) -> Self {
        Self {
            scheme: scheme.to_owned(),
            params: Vec::new(),
            token68: None,
        }
    }

    pub(crate) fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }
}

/// RFC 7230 `tchar`, as a table: the reader asks for every byte of every token.
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// RFC 7235 `token68` body characters (the trailing `=` padding is handled separately).
fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A byte that may appear inside a quoted string as we send it (HTAB, SP, VCHAR).
pub(crate) fn is_quotable(b: u8) -> bool {
    b == b'\t' || (0x20..=0x7e).contains(&b)
}

/// RFC 5987 `attr-char`.
fn is_attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        )
}

/// Rejects what no authentication header may hold: oversize values, controls, non-ASCII.
fn check_bytes(input: &str) -> Result<(), Error> {
    if input.len() > MAX_HEADER_LEN {
        return Err(Error::TooLong {
            len: input.len(),
            max: MAX_HEADER_LEN,
        });
    }
    match input.bytes().enumerate().find(|&(_, b)| !is_quotable(b)) {
        Some((offset, byte)) => Err(Error::InvalidByte { offset, byte }),
        None => Ok(()),
    }
}

struct Scanner<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// Skips spaces and tabs; says whether there were any.
    fn skip_ows(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_ows) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Skips empty list elements (`, ,`) and the whitespace around them.
    fn skip_list_separators(&mut self) {
        while self.peek().is_some_and(|b| is_ows(b) || b == b',') {
            self.pos += 1;
        }
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.input.get(start..end).unwrap_or_default()
    }

    fn token(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        (self.pos > start).then(|| self.slice(start, self.pos))
    }

    /// Looks ahead for `token OWS "="`, the start of an auth-param, without consuming it.
    fn param_follows(&self) -> bool {
        let mut probe = Scanner {
            input: self.input,
            pos: self.pos,
        };
        if probe.token().is_none() {
            return false;
        }
        probe.skip_ows();
        probe.peek() == Some(b'=')
    }

    /// Consumes a token68 if one stands alone here (followed by the end or a comma).
    fn token68(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let mut probe = Scanner {
            input: self.input,
            pos: self.pos,
        };
        while probe.peek().is_some_and(is_token68_char) {
            probe.pos += 1;
        }
        if probe.pos == start {
            return None;
        }
        while probe.peek() == Some(b'=') {
            probe.pos += 1;
        }
        let end = probe.pos;
        probe.skip_ows();
        if probe.at_end() || probe.peek() == Some(b',') {
            self.pos = end;
            Some(self.slice(start, end))
        } else {
            None
        }
    }

    /// Reads a quoted string starting at the opening quote; returns it unescaped.
    fn quoted_string(&mut self) -> Result<String, Error> {
        let open = self.pos;
        let bytes = self.input.as_bytes();
        let mut value = String::new();
        let mut run_start = open + 1;
        let mut at = run_start;
        loop {
            match bytes.get(at) {
                None => return Err(Error::UnterminatedQuote { offset: open }),
                Some(b'"') => {
                    value.push_str(self.slice(run_start, at));
                    self.pos = at + 1;
                    return Ok(value);
                }
                Some(b'\\') => {
                    value.push_str(self.slice(run_start, at));
                    let escaped = bytes
                        .get(at + 1)
                        .ok_or(Error::UnterminatedQuote { offset: open })?;
                    value.push(char::from(*escaped));
                    at += 2;
                    run_start = at;
                }
                Some(_) => at += 1,
            }
        }
    }

    fn syntax(&self, expected: &'static str) -> Error {
        Error::Syntax {
            offset: self.pos,
            expected,
        }
    }

    /// Reads `name BWS "=" BWS (token / quoted-string)`.
    fn param(&mut self) -> Result<Param, Error> {
        let name = self
            .token()
            .ok_or_else(|| self.syntax("a parameter name"))?;
        self.skip_ows();
        if self.peek() != Some(b'=') {
            return Err(self.syntax("'=' after the parameter name"));
        }
        self.pos += 1;
        self.skip_ows();
        let value = match self.peek() {
            Some(b'"') => self.quoted_string()?,
            Some(b) if is_tchar(b) => self.token().unwrap_or_default().to_owned(),
            _ => return Err(self.syntax("a token or a quoted string as the parameter value")),
        };
        Ok(Param {
            name: name.to_owned(),
            value,
        })
    }
}

/// What follows a parameter: another parameter of the same element, a new element, or the end.
enum Next {
    Param,
    Element,
    End,
}

/// Parses a header value into its elements (challenges or credentials).
///
/// Tolerates what real devices send: missing spaces after commas, empty list elements, and
/// parameters separated by whitespace alone. A token that is not followed by `=` after a
/// parameter starts a new element, so `Digest realm="a" Basic realm="b"` is two challenges.
pub(crate) fn parse_elements(input: &str) -> Result<Vec<Element>, Error> {
    check_bytes(input)?;
    let mut scanner = Scanner { input, pos: 0 };
    let mut elements = Vec::new();
    'elements: loop {
        scanner.skip_list_separators();
        if scanner.at_end() {
            break;
        }
        let scheme = scanner
            .token()
            .ok_or_else(|| scanner.syntax("an authentication scheme"))?;
        let mut element = Element::new(scheme);
        let spaced = scanner.skip_ows();
        match scanner.peek() {
            None | Some(b',') => {
                elements.push(element);
                continue;
            }
            Some(_) if !spaced => return Err(scanner.syntax("a space after the scheme")),
            Some(_) => {}
        }
        if let Some(blob) = scanner.token68() {
            element.token68 = Some(blob.to_owned());
            elements.push(element);
            continue;
        }
        loop {
            element.params.push(scanner.param()?);
            let spaced = scanner.skip_ows();
            let next = match scanner.peek() {
                None => Next::End,
                Some(b',') => {
                    scanner.skip_list_separators();
                    if scanner.at_end() {
                        Next::End
                    } else if scanner.param_follows() {
                        Next::Param
                    } else {
                        Next::Element
                    }
                }
                Some(b) if spaced && is_tchar(b) => {
                    if scanner.param_follows() {
                        Next::Param
                    } else {
                        Next::Element
                    }
                }
                Some(_) => return Err(scanner.syntax("',' between parameters")),
            };
            match next {
                Next::Param => {}
                Next::Element => {
                    elements.push(element);
                    continue 'elements;
                }
                Next::End => {
                    elements.push(element);
                    break 'elements;
                }
            }
        }
    }
    if elements.is_empty() {
        return Err(Error::Empty);
    }
    Ok(elements)
}

/// Parses an `Authorization` value: exactly one element.
pub(crate) fn parse_single(input: &str) -> Result<Element, Error> {
    let mut elements = parse_elements(input)?.into_iter();
    match (elements.next(), elements.next()) {
        (Some(element), None) => Ok(element),
        (Some(_), Some(_)) => Err(Error::Syntax {
            offset: 0,
            expected: "a single set of credentials",
        }),
        (None, _) => Err(Error::Empty),
    }
}

/// Whether a value can travel as a quoted string.
pub(crate) fn can_quote(value: &str) -> bool {
    value.bytes().all(is_quotable)
}

/// Appends `name="value", ` with `"` and `\` escaped. The caller has checked [`can_quote`].
pub(crate) fn push_quoted(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push('=');
    push_quoted_value(out, value);
    out.push_str(", ");
}

/// Appends `"value"` with `"` and `\` escaped. The caller has checked [`can_quote`].
pub(crate) fn push_quoted_value(out: &mut String, value: &str) {
    out.push('"');
    let mut rest = value;
    while let Some(at) = rest.bytes().position(|b| b == b'"' || b == b'\\') {
        let (plain, special) = rest.split_at(at);
        out.push_str(plain);
        out.push('\\');
        let (escaped, after) = special.split_at(1);
        out.push_str(escaped);
        rest = after;
    }
    out.push_str(rest);
    out.push('"');
}

/// Appends `name=value, ` for values that are tokens by construction.
pub(crate) fn push_token(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push('=');
    out.push_str(value);
    out.push_str(", ");
}

/// Appends `name*=UTF-8''<percent-encoded>, ` (RFC 5987 ext-value, as RFC 7616 3.4.4 asks for
/// user names that cannot be quoted).
pub(crate) fn push_ext_value(out: &mut String, name: &str, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push_str(name);
    out.push_str("*=UTF-8''");
    for b in value.bytes() {
        if is_attr_char(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out.push_str(", ");
}

/// Decodes an RFC 5987 ext-value (`UTF-8'lang'percent-encoded`).
pub(crate) fn decode_ext_value(value: &str) -> Result<String, Error> {
    const NAME: &str = "username*";
    let invalid = |reason| Error::InvalidParameter { name: NAME, reason };
    let mut parts = value.splitn(3, '\'');
    let (Some(charset), Some(_language), Some(encoded)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("not of the form charset'language'value"));
    };
    if !charset.eq_ignore_ascii_case("UTF-8") {
        return Err(invalid("the charset is not UTF-8"));
    }
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut rest = encoded.bytes();
    while let Some(b) = rest.next() {
        if b == b'%' {
            let high = rest.next().and_then(hex_value);
            let low = rest.next().and_then(hex_value);
            match (high, low) {
                (Some(high), Some(low)) => bytes.push(high << 4 | low),
                _ => return Err(invalid("a percent escape is not two hex digits")),
            }
        } else if is_attr_char(b) {
            bytes.push(b);
        } else {
            return Err(invalid("a character must be percent-encoded"));
        }
    }
    String::from_utf8(bytes).map_err(|_| invalid("the decoded bytes are not UTF-8"))
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Picks the named parameters out of an element, matching names without regard to case.
///
/// Unknown parameters are ignored; a known one given twice is an error, because a peer that
/// repeats `nonce` or `response` is either broken or probing for the parser's tie-breaking.
pub(crate) fn pick_params<'e, const N: usize>(
    element: &'e Element,
    names: [&'static str; N],
) -> Result<[Option<&'e str>; N], Error> {
    let mut found = [None; N];
    for param in &element.params {
        let slot = names
            .iter()
            .zip(found.iter_mut())
            .find(|(name, _)| name.eq_ignore_ascii_case(&param.name))
            .map(|(_, slot)| slot);
        if let Some(slot) = slot {
            if slot.is_some() {
                return Err(Error::DuplicateParameter {
                    name: clip(&param.name),
                });
            }
            *slot = Some(param.value.as_str());
        }
    }
    Ok(found)
}

/// Lists the schemes of elements for an error message.
pub(crate) fn scheme_list<'a>(schemes: impl IntoIterator<Item = &'a str>) -> String {
    clip(&schemes.into_iter().collect::<Vec<_>>().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(element: &Element) -> Vec<(&str, &str)> {
        element
            .params
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect()
    }

    #[test]
    fn reads_amt_challenge_with_sloppy_separators() {
        let elements = parse_elements(
            r#"Digest realm="Digest:A4070000000000000000000000000000", nonce="ab+/cd==",stale="false",qop="auth-int, auth""#,
        )
        .unwrap();
        assert_eq!(elements.len(), 1);
        assert_eq!(
            params(&elements[0]),
            [
                ("realm", "Digest:A4070000000000000000000000000000"),
                ("nonce", "ab+/cd=="),
                ("stale", "false"),
                ("qop", "auth-int, auth"),
            ]
        );
    }

    #[test]
    fn splits_challenges_on_scheme_tokens() {
        let elements =
            parse_elements(r#"Basic realm="b", Digest realm="d", nonce=n,Negotiate, NTLM abc=="#)
                .unwrap();
        let schemes: Vec<_> = elements.iter().map(|e| e.scheme.as_str()).collect();
        assert_eq!(schemes, ["Basic", "Digest", "Negotiate", "NTLM"]);
        assert_eq!(params(&elements[1]), [("realm", "d"), ("nonce", "n")]);
        assert_eq!(elements[3].token68.as_deref(), Some("abc=="));
    }

    #[test]
    fn whitespace_alone_separates_parameters() {
        let elements =
            parse_elements(r#"Digest realm="r" nonce="n"  qop="auth auth-int""#).unwrap();
        assert_eq!(
            params(&elements[0]),
            [("realm", "r"), ("nonce", "n"), ("qop", "auth auth-int")]
        );
        let elements = parse_elements(r#"Digest realm="r" Basic realm="b""#).unwrap();
        assert_eq!(elements.len(), 2);
    }

    #[test]
    fn unescapes_quoted_pairs() {
        let elements = parse_elements(r#"Digest realm="a\"b\\c\d""#).unwrap();
        assert_eq!(elements[0].params[0].value, r#"a"b\cd"#);
    }

    #[test]
    fn rejects_broken_syntax_with_offsets() {
        assert_eq!(
            parse_elements(r#"Digest realm="open"#),
            Err(Error::UnterminatedQuote { offset: 13 })
        );
        assert_eq!(
            parse_elements(r#"Digest realm="x\"#),
            Err(Error::UnterminatedQuote { offset: 13 })
        );
        assert_eq!(parse_elements(""), Err(Error::Empty));
        assert_eq!(parse_elements(" , ,"), Err(Error::Empty));
        assert!(matches!(
            parse_elements("Digest realm nonce"),
            Err(Error::Syntax { .. })
        ));
        assert_eq!(
            parse_elements("Digest realm").unwrap()[0]
                .token68
                .as_deref(),
            Some("realm")
        );
        assert!(matches!(
            parse_elements(r#"Digest realm="a"nonce="b""#),
            Err(Error::Syntax { .. })
        ));
        assert!(matches!(
            parse_elements("Digest=x"),
            Err(Error::Syntax { .. })
        ));
        assert!(matches!(parse_elements("=x"), Err(Error::Syntax { .. })));
        assert_eq!(
            parse_elements("Digest realm=\"\u{e9}\""),
            Err(Error::InvalidByte {
                offset: 14,
                byte: 0xc3
            })
        );
        assert_eq!(
            parse_elements("Digest\r\n"),
            Err(Error::InvalidByte {
                offset: 6,
                byte: b'\r'
            })
        );
        let huge = "a".repeat(MAX_HEADER_LEN + 1);
        assert!(matches!(parse_elements(&huge), Err(Error::TooLong { .. })));
    }

    #[test]
    fn picks_parameters_case_insensitively_and_refuses_duplicates() {
        let element = parse_single(r#"Digest REALM="r", Nonce=n, other=x, other=y"#).unwrap();
        assert_eq!(
            pick_params(&element, ["realm", "nonce", "qop"]).unwrap(),
            [Some("r"), Some("n"), None]
        );
        let element = parse_single(r#"Digest realm="r", Realm="s""#).unwrap();
        assert_eq!(
            pick_params(&element, ["realm"]),
            Err(Error::DuplicateParameter {
                name: "Realm".to_owned()
            })
        );
    }

    #[test]
    fn single_element_for_credentials() {
        assert!(parse_single(r#"Digest username="u""#).is_ok());
        assert!(matches!(
            parse_single("Digest a=b, Basic"),
            Err(Error::Syntax { .. })
        ));
    }

    #[test]
    fn ext_value_round_trips() {
        let mut out = String::new();
        push_ext_value(&mut out, "username", "J\u{e4}s\u{f8}n Doe");
        assert_eq!(out, "username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, ");
        assert_eq!(
            decode_ext_value("UTF-8''J%C3%A4s%C3%B8n%20Doe").unwrap(),
            "J\u{e4}s\u{f8}n Doe"
        );
        assert_eq!(decode_ext_value("utf-8'en'abc").unwrap(), "abc");
        assert!(decode_ext_value("ISO-8859-1''abc").is_err());
        assert!(decode_ext_value("UTF-8''%C3").is_err());
        assert!(decode_ext_value("UTF-8''%G0").is_err());
        assert!(decode_ext_value("UTF-8''%4").is_err());
        assert!(decode_ext_value("UTF-8''a b").is_err());
        assert!(decode_ext_value("abc").is_err());
    }

    #[test]
    fn quoting_escapes_quote_and_backslash() {
        let mut out = String::new();
        push_quoted(&mut out, "uri", r#"/a"b\c"#);
        assert_eq!(out, r#"uri="/a\"b\\c", "#);
        assert!(can_quote("a b\t~"));
        assert!(!can_quote("a\u{7f}"));
        assert!(!can_quote("\u{e9}"));
    }
}
