//! Standard-input lines: data to send, or (interactive mode only) a
//! command.

use switchboard::CloseCode;

/// The commands help, printed by `/help` and at start in interactive mode.
pub const COMMANDS_HELP: &str = "\
commands: /ping [payload]  /close [code [reason]]  /help
          a line starting with // sends it with one / removed; Ctrl-D closes";

/// What one input line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Send these bytes as a data message.
    Data(Vec<u8>),
    /// Send a ping; `None` lets the session pick a payload.
    Ping(Option<Vec<u8>>),
    /// Start the close handshake.
    Close(CloseCode, String),
    /// Show the commands.
    Help,
    /// A mistyped command, with what to do instead.
    Invalid(String),
}

/// Removes the line ending (`\n` or `\r\n`).
pub fn trim_line_ending(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    line
}

/// Reads one line (without its ending). With `commands` false (pipe mode)
/// every line is data.
pub fn parse(line: Vec<u8>, commands: bool) -> Input {
    if !commands || !line.starts_with(b"/") {
        return Input::Data(line);
    }
    if line.starts_with(b"//") {
        return Input::Data(line[1..].to_vec());
    }
    let text = String::from_utf8_lossy(&line[1..]).into_owned();
    let (command, rest) = match text.split_once(' ') {
        Some((command, rest)) => (command, rest.trim()),
        None => (text.as_str(), ""),
    };
    match command {
        "ping" if rest.is_empty() => Input::Ping(None),
        "ping" => Input::Ping(Some(rest.as_bytes().to_vec())),
        "close" => parse_close(rest),
        "help" => Input::Help,
        other => Input::Invalid(format!("unknown command /{other}; {COMMANDS_HELP}")),
    }
}

fn parse_close(rest: &str) -> Input {
    if rest.is_empty() {
        return Input::Close(CloseCode::NORMAL, String::new());
    }
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    match code.parse::<u16>().map(CloseCode) {
        // RFC 6455 §7.4: only these codes may be sent in a close frame.
        Ok(code) if code.is_valid_on_wire() => Input::Close(code, reason.trim().to_owned()),
        _ => Input::Invalid(format!(
            "{code:?} cannot be sent as a close code; use 1000-1003, 1007-1014 or 3000-4999"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_mode_sends_every_line() {
        assert_eq!(
            parse(b"/ping".to_vec(), false),
            Input::Data(b"/ping".to_vec())
        );
    }

    #[test]
    fn interactive_commands() {
        assert_eq!(
            parse(b"hello".to_vec(), true),
            Input::Data(b"hello".to_vec())
        );
        assert_eq!(
            parse(b"//ping".to_vec(), true),
            Input::Data(b"/ping".to_vec())
        );
        assert_eq!(parse(b"/ping".to_vec(), true), Input::Ping(None));
        assert_eq!(
            parse(b"/ping abc".to_vec(), true),
            Input::Ping(Some(b"abc".to_vec()))
        );
        assert_eq!(
            parse(b"/close".to_vec(), true),
            Input::Close(CloseCode::NORMAL, String::new())
        );
        assert_eq!(
            parse(b"/close 4000 done now".to_vec(), true),
            Input::Close(CloseCode(4000), "done now".into())
        );
        assert!(matches!(
            parse(b"/close 1006".to_vec(), true),
            Input::Invalid(_)
        ));
        assert!(matches!(parse(b"/nope".to_vec(), true), Input::Invalid(_)));
        assert_eq!(parse(b"/help".to_vec(), true), Input::Help);
    }

    #[test]
    fn line_endings_are_removed() {
        assert_eq!(trim_line_ending(b"a\r\n".to_vec()), b"a");
        assert_eq!(trim_line_ending(b"a\n".to_vec()), b"a");
        assert_eq!(trim_line_ending(b"a".to_vec()), b"a");
        assert_eq!(trim_line_ending(b"a\r".to_vec()), b"a\r");
    }
}
