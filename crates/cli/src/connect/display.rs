//! What `connect` prints: received data on standard output, pongs and the
//! close on standard error.
//!
//! | event | interactive (TTY) | pipe mode |
//! | --- | --- | --- |
//! | text | `< text` | `text` |
//! | binary | `< [binary N bytes] 68656c6c6f` | `68656c6c6f` (lowercase hex) |
//! | pong | `< pong "payload"` (stderr) | same |
//! | close | `closed: 1000 "reason"` (stderr) | same |
//!
//! Binary is printed as hex in both modes: one line per message, safe for
//! terminals, and unambiguous for scripts (`xxd -r -p` turns it back).

use std::fmt::Write as _;

use switchboard::CloseFrame;

/// How output is decorated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A person at a terminal: received lines are marked with `< `.
    Interactive,
    /// A script: data only, one message per line.
    Pipe,
}

/// The stdout line for a text message.
pub fn text_line(style: Style, text: &str) -> String {
    match style {
        Style::Interactive => format!("< {text}"),
        Style::Pipe => text.to_owned(),
    }
}

/// The stdout line for a binary message.
pub fn binary_line(style: Style, data: &[u8]) -> String {
    let hex = hex(data);
    match style {
        Style::Interactive => format!("< [binary {} bytes] {hex}", data.len()),
        Style::Pipe => hex,
    }
}

/// The stderr line for a pong.
pub fn pong_line(payload: &[u8]) -> String {
    format!("< pong {:?}", String::from_utf8_lossy(payload))
}

/// The stderr line for the close frame that ended the connection
/// (`None`: a close frame without a status code, shown as 1005).
pub fn close_line(frame: Option<&CloseFrame>) -> String {
    match frame {
        Some(frame) => format!("closed: {} {:?}", frame.code.0, frame.reason.as_str()),
        None => "closed: 1005 \"\"".to_owned(),
    }
}

/// Lowercase hex, two digits per byte.
pub fn hex(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 2);
    for byte in data {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_in_both_styles() {
        assert_eq!(text_line(Style::Interactive, "hi"), "< hi");
        assert_eq!(text_line(Style::Pipe, "hi"), "hi");
        assert_eq!(binary_line(Style::Pipe, b"\x00\xffA"), "00ff41");
        assert_eq!(
            binary_line(Style::Interactive, b"ok"),
            "< [binary 2 bytes] 6f6b"
        );
        assert_eq!(pong_line(b"1"), "< pong \"1\"");
        assert_eq!(
            close_line(Some(&CloseFrame::new(1001u16, "bye \"now\""))),
            "closed: 1001 \"bye \\\"now\\\"\""
        );
        assert_eq!(close_line(None), "closed: 1005 \"\"");
    }
}
