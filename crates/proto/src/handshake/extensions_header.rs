//! `Sec-WebSocket-Extensions` text: the RFC 6455 §9.1 grammar, both ways.
//!
//! ```text
//! extension-list = 1#extension
//! extension      = extension-token *( ";" extension-param )
//! extension-param = token [ "=" (token | quoted-string) ]
//! ```
//! Optional whitespace may surround every separator, empty list elements are
//! ignored (RFC 7230 §7), so a value with no element at all (`""`, `" , "`)
//! means "no extensions", and a quoted value must still be a token once
//! unescaped.

use super::header_values::is_token;
use super::HandshakeError;
use crate::extension::is_token_byte;
use crate::{ExtensionOffer, ExtensionParam};

/// Parses a `Sec-WebSocket-Extensions` value (several header lines joined
/// with `,`) by the RFC 6455 §9.1 grammar, keeping offers and parameters in
/// order.
///
/// Empty list elements are ignored (RFC 7230 §7), so a value made only of
/// commas and whitespace, including the empty value that Python `websockets`
/// sends when configured with no extensions, gives no offers, exactly like an
/// absent header.
///
/// Errors with [`HandshakeError::InvalidExtensions`] on malformed input.
pub fn parse_extensions(value: &str) -> Result<Vec<ExtensionOffer>, HandshakeError> {
    let mut cursor = Cursor {
        bytes: value.as_bytes(),
        position: 0,
    };
    let mut offers = Vec::new();
    loop {
        cursor.skip_whitespace();
        if cursor.eat(b',') {
            continue;
        }
        if cursor.at_end() {
            break;
        }
        let mut offer = ExtensionOffer::new(cursor.token("expected an extension name")?);
        loop {
            cursor.skip_whitespace();
            if cursor.at_end() || cursor.eat(b',') {
                break;
            }
            if !cursor.eat(b';') {
                return Err(cursor.error("expected ';' or ',' after an extension or parameter"));
            }
            offer.params.push(cursor.param()?);
        }
        offers.push(offer);
    }
    // RFC 7230 §7: a recipient MUST parse and ignore a reasonable number of
    // empty list elements, so `1#extension` with only empty elements is
    // read as no extension rather than refused (their number is bounded by
    // the header size limit).
    Ok(offers)
}

/// Checks that `offer` can be written as header text that parses back to
/// the same offer: every name and value is a token.
pub(super) fn validate_offer(offer: &ExtensionOffer) -> Result<(), HandshakeError> {
    let invalid = |reason| HandshakeError::InvalidExtensionOffer {
        name: offer.name.clone(),
        reason,
    };
    if !is_token(&offer.name) {
        return Err(invalid("the name must be a non-empty token"));
    }
    for param in &offer.params {
        if !is_token(&param.name) {
            return Err(invalid("parameter names must be non-empty tokens"));
        }
        // RFC 6455 §9.1: a value, quoted or not, must be a token.
        if param.value.as_deref().is_some_and(|value| !is_token(value)) {
            return Err(invalid("parameter values must be non-empty tokens"));
        }
    }
    Ok(())
}

/// Joins offers into one header value, `a; x=1, b`.
pub(super) fn format_offers<'a>(offers: impl IntoIterator<Item = &'a ExtensionOffer>) -> String {
    let mut text = String::new();
    for offer in offers {
        if !text.is_empty() {
            text.push_str(", ");
        }
        text.push_str(&offer.to_string());
    }
    text
}

/// A position in the header value.
struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    fn error(&self, reason: &'static str) -> HandshakeError {
        HandshakeError::InvalidExtensions {
            reason,
            position: self.position,
        }
    }

    fn at_end(&self) -> bool {
        self.position >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.position += 1;
        }
        found
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.position += 1;
        }
    }

    fn token(&mut self, reason: &'static str) -> Result<String, HandshakeError> {
        let start = self.position;
        while self.peek().is_some_and(is_token_byte) {
            self.position += 1;
        }
        if start == self.position {
            return Err(self.error(reason));
        }
        Ok(String::from_utf8_lossy(&self.bytes[start..self.position]).into_owned())
    }

    /// `token [ "=" (token | quoted-string) ]`, after the `;`.
    fn param(&mut self) -> Result<ExtensionParam, HandshakeError> {
        self.skip_whitespace();
        let name = self.token("expected a parameter name after ';'")?;
        self.skip_whitespace();
        if !self.eat(b'=') {
            return Ok(ExtensionParam { name, value: None });
        }
        self.skip_whitespace();
        let value = if self.peek() == Some(b'"') {
            self.quoted_token()?
        } else {
            self.token("expected a token or quoted string after '='")?
        };
        Ok(ExtensionParam {
            name,
            value: Some(value),
        })
    }

    /// A quoted-string (RFC 7230 §3.2.6) whose unescaped content is a token.
    fn quoted_token(&mut self) -> Result<String, HandshakeError> {
        let opening = self.position;
        self.position += 1;
        let mut content = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                self.position = opening;
                return Err(self.error("unterminated quoted string"));
            };
            self.position += 1;
            match byte {
                b'"' => break,
                b'\\' => match self.peek() {
                    // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                    Some(escaped @ (b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff)) => {
                        content.push(escaped);
                        self.position += 1;
                    }
                    _ => return Err(self.error("invalid escape in quoted string")),
                },
                // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
                b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff => content.push(byte),
                _ => {
                    self.position -= 1;
                    return Err(self.error("invalid character in quoted string"));
                }
            }
        }
        // RFC 6455 §9.1: after unescaping, a quoted value MUST be a token.
        if content.is_empty() || !content.iter().copied().all(is_token_byte) {
            self.position = opening;
            return Err(self.error("quoted parameter value is not a token once unquoted"));
        }
        Ok(String::from_utf8_lossy(&content).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(name: &str, params: &[(&str, Option<&str>)]) -> ExtensionOffer {
        let mut offer = ExtensionOffer::new(name);
        for (param, value) in params {
            offer = offer.with_param(*param, *value);
        }
        offer
    }

    #[test]
    fn several_offers_with_parameters_in_order() {
        let parsed = parse_extensions(
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate",
        )
        .unwrap();
        assert_eq!(
            parsed,
            [
                offer(
                    "permessage-deflate",
                    &[
                        ("client_max_window_bits", None),
                        ("server_max_window_bits", Some("10"))
                    ]
                ),
                offer("permessage-deflate", &[]),
            ]
        );
    }

    #[test]
    fn whitespace_around_every_separator() {
        let parsed = parse_extensions(" \tfoo ;  a = 1 ;b\t,\tbar ; c= \"x\" ").unwrap();
        assert_eq!(
            parsed,
            [
                offer("foo", &[("a", Some("1")), ("b", None)]),
                offer("bar", &[("c", Some("x"))]),
            ]
        );
    }

    #[test]
    fn quoted_values_are_unescaped() {
        let parsed = parse_extensions(r#"foo; a="10"; b="\1\0"; c="x\-y""#).unwrap();
        assert_eq!(
            parsed,
            [offer(
                "foo",
                &[("a", Some("10")), ("b", Some("10")), ("c", Some("x-y"))]
            )]
        );
    }

    #[test]
    fn empty_list_elements_are_ignored() {
        let parsed = parse_extensions(", foo ,, bar,").unwrap();
        assert_eq!(parsed, [offer("foo", &[]), offer("bar", &[])]);
        let parsed = parse_extensions("a, , b").unwrap();
        assert_eq!(parsed, [offer("a", &[]), offer("b", &[])]);
        let parsed = parse_extensions("\tfoo; x=1 ,\t,").unwrap();
        assert_eq!(parsed, [offer("foo", &[("x", Some("1"))])]);
    }

    #[test]
    fn lists_of_only_empty_elements_mean_no_extensions() {
        for value in ["", " ", "\t", ",", " , ,", ",,,", " \t, \t"] {
            assert_eq!(parse_extensions(value).unwrap(), [], "{value:?}");
        }
    }

    #[test]
    fn malformed_values_are_rejected_with_a_position() {
        let cases: &[(&str, usize)] = &[
            ("foo;", 4),
            (",;", 1),
            (" , =", 3),
            ("\"\"", 0),
            (", , foo bar", 8),
            ("foo; =1", 5),
            ("foo; a=", 7),
            ("foo bar", 4),
            ("foo; a=1 2", 9),
            ("foo; a=\"unterminated", 7),
            ("foo; a=\"has space\"", 7),
            ("foo; a=\"\"", 7),
            ("foo; a=\"x\\\"", 7),
            ("foo; a=\"x\u{1}\"", 9),
            ("fo\"o", 2),
            ("foo; a==1", 7),
            (";a", 0),
            ("föo", 1),
        ];
        for (value, position) in cases {
            match parse_extensions(value) {
                Err(HandshakeError::InvalidExtensions { position: at, .. }) => {
                    assert_eq!(at, *position, "position for {value:?}")
                }
                other => panic!("{value:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn formatted_offers_parse_back() {
        let offers = [
            offer("permessage-deflate", &[("client_max_window_bits", None)]),
            offer("x-custom", &[("a", Some("1")), ("b", Some("two"))]),
        ];
        for offer in &offers {
            validate_offer(offer).unwrap();
        }
        let text = format_offers(&offers);
        assert_eq!(
            text,
            "permessage-deflate; client_max_window_bits, x-custom; a=1; b=two"
        );
        assert_eq!(parse_extensions(&text).unwrap(), offers);
    }

    #[test]
    fn offers_that_cannot_be_written_are_refused() {
        for bad in [
            offer("", &[]),
            offer("a b", &[]),
            offer("ok", &[("", None)]),
            offer("ok", &[("p", Some(""))]),
            offer("ok", &[("p", Some("x\r\nInjected: 1"))]),
            offer("ok", &[("p", Some("a,b"))]),
        ] {
            assert!(
                matches!(
                    validate_offer(&bad),
                    Err(HandshakeError::InvalidExtensionOffer { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
