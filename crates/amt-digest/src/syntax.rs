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

/// Rejects header values longer than [`MAX_HEADER_LEN`].
fn check_len(input: &str) -> Result<(), Error> {
    if input.len() > MAX_HEADER_LEN {
        return Err(Error::TooLong {
            len: input.len(),
            max: MAX_HEADER_LEN,
        });
    }
    Ok(())
}

/// The first byte of `input[start..end]` that no authentication header may hold (a control
/// character or non-ASCII), as the error naming it.
fn invalid_byte(input: &str, start: usize, end: usize) -> Option<Error> {
    let span = input.as_bytes().get(start..end)?;
    span.iter()
        .enumerate()
        .find(|&(_, &b)| !is_quotable(b))
        .map(|(at, &byte)| Error::InvalidByte {
            offset: start + at,
            byte,
        })
}

/// The Digest challenge parameters (RFC 7616 3.3). A broken element named like one of them
/// right after a Digest challenge is read as a broken parameter of that challenge, never as a
/// challenge of its own: dropping a mangled `qop` or `algorithm` would silently change the
/// answer (down to the RFC 2069 form) and get it refused as a wrong password.
const DIGEST_CHALLENGE_PARAMS: [&str; 9] = [
    "realm",
    "domain",
    "nonce",
    "opaque",
    "stale",
    "algorithm",
    "qop",
    "charset",
    "userhash",
];

/// An element the reader could not read, with the scheme it began with (empty if none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Broken {
    pub(crate) scheme: String,
    pub(crate) error: Error,
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

    /// Looks ahead for a token that is not a parameter name: the scheme of a new element.
    fn scheme_follows(&self) -> bool {
        self.peek().is_some_and(is_tchar) && !self.param_follows()
    }

    /// Where the element that starts at `start` and could not be read ends: at the first comma
    /// outside a quoted string that a new element's scheme follows, or at the end.
    fn next_element_start(&self, start: usize) -> usize {
        let bytes = self.input.as_bytes();
        let mut at = start;
        let mut quoted = false;
        while let Some(&b) = bytes.get(at) {
            match b {
                b'\\' if quoted => at += 1,
                b'"' => quoted = !quoted,
                b',' if !quoted => {
                    let mut probe = Scanner {
                        input: self.input,
                        pos: at,
                    };
                    probe.skip_list_separators();
                    if probe.scheme_follows() {
                        return at;
                    }
                    // The separators just skipped hold no other candidate: go on after them,
                    // so that a long run of commas is scanned once.
                    at = probe.pos;
                    continue;
                }
                _ => {}
            }
            at += 1;
        }
        self.input.len()
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

impl Scanner<'_> {
    /// Reads one element from here, leaving the scanner where the next one may begin.
    fn element(&mut self) -> Result<Element, Error> {
        let scheme = self
            .token()
            .ok_or_else(|| self.syntax("an authentication scheme"))?;
        let mut element = Element::new(scheme);
        let spaced = self.skip_ows();
        match self.peek() {
            None | Some(b',') => return Ok(element),
            Some(_) if !spaced => return Err(self.syntax("a space after the scheme")),
            Some(_) => {}
        }
        if let Some(blob) = self.token68() {
            element.token68 = Some(blob.to_owned());
            return Ok(element);
        }
        loop {
            element.params.push(self.param()?);
            let spaced = self.skip_ows();
            match self.peek() {
                None => return Ok(element),
                Some(b',') => {
                    self.skip_list_separators();
                    if self.at_end() || self.scheme_follows() {
                        return Ok(element);
                    }
                    if !self.param_follows() {
                        return Err(self.syntax("a parameter or an authentication scheme"));
                    }
                }
                // A token not followed by `=` after whitespace alone starts a new element.
                Some(b) if spaced && is_tchar(b) => {
                    if !self.param_follows() {
                        return Ok(element);
                    }
                }
                Some(_) => return Err(self.syntax("',' between parameters")),
            }
        }
    }
}

/// Reads a header value element by element, each one read or broken on its own.
///
/// A broken element (bad syntax, a control or non-ASCII byte) ends at the next comma outside
/// a quoted string that a new scheme follows, so the elements around it are still read. Every
/// byte of the input is part of some element or of a separator, so none escapes the byte check.
fn read_elements(input: &str) -> Vec<Result<Element, Broken>> {
    let mut scanner = Scanner { input, pos: 0 };
    let mut pieces: Vec<Result<Element, Broken>> = Vec::new();
    loop {
        scanner.skip_list_separators();
        if scanner.at_end() {
            break;
        }
        let start = scanner.pos;
        let read = scanner.element();
        if read.is_err() {
            scanner.pos = scanner.next_element_start(start);
        }
        let piece = match (invalid_byte(input, start, scanner.pos), read) {
            (None, Ok(element)) => Ok(element),
            (Some(error), Ok(element)) => Err(Broken {
                scheme: element.scheme,
                error,
            }),
            (Some(error), Err(_)) | (None, Err(error)) => {
                let mut probe = Scanner { input, pos: start };
                Err(Broken {
                    scheme: probe.token().unwrap_or_default().to_owned(),
                    error,
                })
            }
        };
        push_piece(&mut pieces, piece);
    }
    pieces
}

/// Appends an element, folding a broken one named like a Digest parameter into the Digest
/// challenge before it (see [`DIGEST_CHALLENGE_PARAMS`]).
fn push_piece(pieces: &mut Vec<Result<Element, Broken>>, piece: Result<Element, Broken>) {
    if let Err(broken) = &piece
        && DIGEST_CHALLENGE_PARAMS
            .iter()
            .any(|name| name.eq_ignore_ascii_case(&broken.scheme))
        && let Some(last) = pieces.last_mut()
    {
        match last {
            Ok(element) if element.is_digest() => {
                *last = Err(Broken {
                    scheme: element.scheme.clone(),
                    error: broken.error.clone(),
                });
                return;
            }
            Err(earlier) if earlier.scheme.eq_ignore_ascii_case("Digest") => return,
            _ => {}
        }
    }
    pieces.push(piece);
}

/// Parses a header value into its elements (challenges or credentials), strictly: any control
/// or non-ASCII byte, or any broken element, fails the whole value.
///
/// Tolerates what real devices send: missing spaces after commas, empty list elements, and
/// parameters separated by whitespace alone. A token that is not followed by `=` after a
/// parameter starts a new element, so `Digest realm="a" Basic realm="b"` is two challenges.
pub(crate) fn parse_elements(input: &str) -> Result<Vec<Element>, Error> {
    check_len(input)?;
    if let Some(error) = invalid_byte(input, 0, input.len()) {
        return Err(error);
    }
    let elements = read_elements(input)
        .into_iter()
        .map(|piece| piece.map_err(|broken| broken.error))
        .collect::<Result<Vec<_>, _>>()?;
    if elements.is_empty() {
        return Err(Error::Empty);
    }
    Ok(elements)
}

/// Parses a `WWW-Authenticate` value into its challenges, each read or broken on its own, so
/// that one bad challenge (say `Basic realm="Zürich"`) does not hide a good Digest one.
///
/// Fails as a whole only for a value over [`MAX_HEADER_LEN`] or one without any element.
pub(crate) fn parse_challenge_elements(input: &str) -> Result<Vec<Result<Element, Broken>>, Error> {
    check_len(input)?;
    let pieces = read_elements(input);
    if pieces.is_empty() {
        return Err(Error::Empty);
    }
    Ok(pieces)
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

    /// The scheme of each piece, and the error of the broken ones.
    fn pieces(input: &str) -> Vec<(String, Option<Error>)> {
        read_elements(input)
            .into_iter()
            .map(|piece| match piece {
                Ok(element) => (element.scheme, None),
                Err(broken) => (broken.scheme, Some(broken.error)),
            })
            .collect()
    }

    #[test]
    fn a_broken_element_is_read_apart_from_its_neighbours() {
        let digest = r#"Digest realm="r", nonce="n""#;
        let basic = "Basic realm=\"Z\u{fc}rich\"";
        let bad_byte = Error::InvalidByte {
            offset: 14,
            byte: 0xc3,
        };
        assert_eq!(
            pieces(&format!("{basic}, {digest}")),
            [
                ("Basic".to_owned(), Some(bad_byte.clone())),
                ("Digest".to_owned(), None)
            ]
        );
        let after = pieces(&format!("{digest}, {basic}"));
        assert_eq!(after[0], ("Digest".to_owned(), None));
        assert!(matches!(
            after[1],
            (ref scheme, Some(Error::InvalidByte { byte: 0xc3, .. })) if scheme == "Basic"
        ));
        // Broken syntax ends at the next comma outside quotes that a scheme follows.
        let broken = pieces(&format!(
            r#"Negotiate "x, y", a=b=c, {digest}, Foo "z", Bar"#
        ));
        let schemes: Vec<_> = broken.iter().map(|(scheme, _)| scheme.as_str()).collect();
        assert_eq!(schemes, ["Negotiate", "Digest", "Foo", "Bar"]);
        let errors: Vec<_> = broken.iter().map(|(_, error)| error.is_some()).collect();
        assert_eq!(errors, [true, false, true, false]);
        // A quote left open pairs up with the quotes after it: nothing there can be told apart.
        let open = pieces(&format!(r#"Bearer error="open, {digest}"#));
        assert!(matches!(
            open.as_slice(),
            [(bearer, Some(Error::Syntax { .. }))] if bearer == "Bearer"
        ));
    }

    #[test]
    fn a_broken_digest_parameter_breaks_its_challenge() {
        // `qop "auth"` reads like a scheme with a broken parameter; dropping it would answer
        // without qop, so it breaks the Digest challenge before it instead.
        let spaced = pieces(r#"Digest realm="r", nonce="n", qop "auth", Basic realm="b""#);
        assert!(matches!(
            spaced.as_slice(),
            [(digest, Some(Error::Syntax { .. })), (basic, None)] if digest == "Digest" && basic == "Basic"
        ));
        let twice = pieces(r#"Digest realm="r", nonce="n", Algorithm "x", QOP "auth""#);
        assert_eq!(twice.len(), 1);
        assert!(twice[0].1.is_some());
        // Named like a Digest parameter but after another scheme: a piece of its own.
        let other = pieces(r#"Basic realm="b", qop "auth", Digest realm="r", nonce="n""#);
        let schemes: Vec<_> = other.iter().map(|(scheme, _)| scheme.as_str()).collect();
        assert_eq!(schemes, ["Basic", "qop", "Digest"]);
    }

    #[test]
    fn a_broken_element_before_a_long_comma_run_is_one_piece() {
        let input = format!("={}", ",".repeat(MAX_HEADER_LEN - 1));
        let read = pieces(&input);
        assert_eq!(read.len(), 1);
        assert!(matches!(read[0].1, Some(Error::Syntax { offset: 0, .. })));
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
