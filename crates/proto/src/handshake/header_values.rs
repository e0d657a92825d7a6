//! Reading the handshake's header values as text: comma-separated lists,
//! token matching, single-occurrence headers. Every value is checked to be
//! UTF-8 text before it is looked at, so odd bytes become a typed error.

use http::{HeaderMap, HeaderName, HeaderValue};

use super::HandshakeError;
use crate::extension::is_token_byte;

/// The value as text, or [`HandshakeError::InvalidHeaderValue`].
pub(super) fn text<'a>(
    name: &HeaderName,
    value: &'a HeaderValue,
) -> Result<&'a str, HandshakeError> {
    std::str::from_utf8(value.as_bytes())
        .map_err(|_| HandshakeError::InvalidHeaderValue { name: name.clone() })
}

/// The value of a header that may appear at most once, trimmed of
/// surrounding whitespace.
pub(super) fn single<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a str>, HandshakeError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(HandshakeError::DuplicateHeader(name.clone()));
    }
    Ok(Some(trim_ows(text(name, first)?)))
}

/// All lines of a list header joined with ", " (RFC 7230 §3.2.2: several
/// lines of a list header mean the same as one comma-joined line), or `None`
/// when the header is absent.
pub(super) fn joined(
    headers: &HeaderMap,
    name: &HeaderName,
) -> Result<Option<String>, HandshakeError> {
    let mut joined: Option<String> = None;
    for value in headers.get_all(name) {
        let value = text(name, value)?;
        match &mut joined {
            None => joined = Some(value.to_owned()),
            Some(all) => {
                all.push_str(", ");
                all.push_str(value);
            }
        }
    }
    Ok(joined)
}

/// The non-empty elements of a comma-separated list, trimmed (RFC 7230 §7:
/// empty elements are accepted and ignored).
pub(super) fn list_elements(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(trim_ows)
        .filter(|element| !element.is_empty())
}

/// Whether any line of the list header `name` holds `token`, compared ASCII
/// case-insensitively (so `Connection: keep-alive, Upgrade` holds `upgrade`).
pub(super) fn contains_token(
    headers: &HeaderMap,
    name: &HeaderName,
    token: &str,
) -> Result<bool, HandshakeError> {
    for value in headers.get_all(name) {
        if list_elements(text(name, value)?).any(|element| element.eq_ignore_ascii_case(token)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `value` is a non-empty HTTP token (RFC 7230 §3.2.6).
pub(super) fn is_token(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(is_token_byte)
}

/// `value` without leading and trailing spaces and tabs (RFC 7230 `OWS`).
pub(super) fn trim_ows(value: &str) -> &str {
    value.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{CONNECTION, HOST, SEC_WEBSOCKET_PROTOCOL};

    fn map(lines: &[(&HeaderName, &[u8])]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in lines {
            headers.append((*name).clone(), HeaderValue::from_bytes(value).unwrap());
        }
        headers
    }

    #[test]
    fn tokens_match_case_insensitively_across_lines_and_lists() {
        let headers = map(&[
            (&CONNECTION, b"keep-alive"),
            (&CONNECTION, b" foo ,UPGRADE "),
        ]);
        assert!(contains_token(&headers, &CONNECTION, "upgrade").unwrap());
        assert!(!contains_token(&headers, &CONNECTION, "close").unwrap());
        // Substrings are not tokens.
        let headers = map(&[(&CONNECTION, b"upgrades, xupgrade")]);
        assert!(!contains_token(&headers, &CONNECTION, "upgrade").unwrap());
    }

    #[test]
    fn non_utf8_values_are_a_typed_error() {
        let headers = map(&[(&CONNECTION, b"up\xffgrade")]);
        assert_eq!(
            contains_token(&headers, &CONNECTION, "upgrade"),
            Err(HandshakeError::InvalidHeaderValue { name: CONNECTION })
        );
        assert!(matches!(
            single(&headers, &CONNECTION),
            Err(HandshakeError::InvalidHeaderValue { .. })
        ));
        assert!(joined(&headers, &CONNECTION).is_err());
    }

    #[test]
    fn single_rejects_repeats_and_trims() {
        let headers = map(&[(&HOST, b"a"), (&HOST, b"b")]);
        assert_eq!(
            single(&headers, &HOST),
            Err(HandshakeError::DuplicateHeader(HOST))
        );
        let headers = map(&[(&HOST, b"\t example.com ")]);
        assert_eq!(single(&headers, &HOST), Ok(Some("example.com")));
        assert_eq!(single(&HeaderMap::new(), &HOST), Ok(None));
    }

    #[test]
    fn joined_lists_keep_order_and_skip_empty_elements() {
        let headers = map(&[
            (&SEC_WEBSOCKET_PROTOCOL, b"chat,, superchat"),
            (&SEC_WEBSOCKET_PROTOCOL, b"v2"),
        ]);
        let all = joined(&headers, &SEC_WEBSOCKET_PROTOCOL).unwrap().unwrap();
        assert_eq!(
            list_elements(&all).collect::<Vec<_>>(),
            ["chat", "superchat", "v2"]
        );
        assert_eq!(joined(&HeaderMap::new(), &SEC_WEBSOCKET_PROTOCOL), Ok(None));
    }
}
