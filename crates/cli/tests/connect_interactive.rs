//! `connect` at a terminal: received lines marked `< `, `/` commands.
//! A pseudo-terminal comes from `script` (util-linux, part of every Debian
//! base system); the terminal echoes what was typed, so assertions look for
//! the program's own lines.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{binary, finish, Server};

/// Runs `switchboard connect URL` on a pseudo-terminal with `typed` as
/// the keyboard, and returns (exit code, everything the terminal showed).
fn at_terminal(url: &str, typed: &[u8]) -> (Option<i32>, String) {
    let command = format!("{} connect {url}", binary());
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run script(1) from util-linux");
    child.stdin.take().unwrap().write_all(typed).unwrap();
    let done = finish(child);
    (done.code, done.stdout.replace('\r', ""))
}

#[test]
fn received_lines_are_marked_and_commands_work() {
    let server = Server::start(&[]);
    let (code, screen) = at_terminal(&server.ws_url("/echo"), b"hello\n/ping abc\n//x\n/help\n");
    assert_eq!(code, Some(0), "{screen}");
    let lines: Vec<&str> = screen.lines().collect();
    assert!(
        lines.iter().any(|l| l.starts_with("connected to ws://")),
        "{screen}"
    );
    assert!(lines.contains(&"< hello"), "{screen}");
    assert!(lines.contains(&"< pong \"abc\""), "{screen}");
    // `//x` sends `/x`, it is not a command.
    assert!(lines.contains(&"< /x"), "{screen}");
    assert!(
        screen.matches("commands: /ping").count() >= 2,
        "/help shows the commands: {screen}"
    );
    // End of input (Ctrl-D) closes cleanly.
    assert_eq!(lines.last(), Some(&"closed: 1000 \"\""), "{screen}");
}

#[test]
fn close_command_sends_the_code() {
    let server = Server::start(&[]);
    let (code, screen) = at_terminal(&server.ws_url("/echo"), b"/close 4000 done\n");
    assert_eq!(code, Some(0), "{screen}");
    // The server echoes the code (RFC 6455 §5.5.1).
    assert!(screen.lines().any(|l| l == "closed: 4000 \"\""), "{screen}");

    let (code, screen) = at_terminal(&server.ws_url("/echo"), b"/close 1006\n/bogus\n");
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        screen.contains("cannot be sent as a close code"),
        "{screen}"
    );
    assert!(screen.contains("unknown command /bogus"), "{screen}");
}
