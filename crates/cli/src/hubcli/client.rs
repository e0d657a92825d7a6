//! One connection to the hub in the JSON form: connect, commands with
//! replies matched by id, pushes, and the protocol's ping/pong.

use std::collections::VecDeque;
use std::time::Duration;

use switchboard::tls::{MaybeTlsStream, TlsClientConfig};
use switchboard::{ClientBuilder, Message, WebSocket};
use switchboard_hub_core::codes::reconnect_advised;
use switchboard_hub_core::wire::{Command, ConnectRequest, ConnectResult, Push, Reply};
use tokio::net::TcpStream;

use super::args::ClientArgs;
use super::error::HubCliError;

/// How long a connect or any one reply may take.
pub(super) const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Slack on top of the server's ping interval before the link counts as dead.
const PING_SLACK: Duration = Duration::from_secs(5);

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ended {
    /// The close code (1006 when the socket broke without a close frame).
    pub(super) code: u16,
    /// The close reason or the transport error.
    pub(super) reason: String,
}

impl Ended {
    /// Whether the protocol advises reconnecting after this end.
    pub(super) fn reconnect(&self) -> bool {
        reconnect_advised(self.code)
    }
}

/// What [`HubConnection::next_push`] yields.
#[derive(Debug)]
pub(super) enum Incoming {
    /// An asynchronous push (publication, join, leave, unsubscribe ...).
    Push(Box<Push>),
    /// The connection is over.
    Ended(Ended),
}

/// An open, connected hub session.
pub(super) struct HubConnection {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    /// Pushes read while waiting for a reply, handed out first.
    backlog: VecDeque<Push>,
    next_id: u32,
    /// The server wants `{}` back for each `{}` ping.
    pong: bool,
    /// No message for this long means the link is dead.
    silence_limit: Duration,
}

/// Adds the hub path to a URL given as only `ws://host:port`.
pub(super) fn hub_url(url: &str) -> Result<String, HubCliError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| HubCliError::BadUrl { url: url.into() })?;
    match uri.scheme_str() {
        Some("ws" | "wss") => {}
        _ => return Err(HubCliError::BadUrl { url: url.into() }),
    }
    if uri.path() == "/" && !url.ends_with('/') {
        return Ok(format!("{url}/connection/websocket"));
    }
    if uri.path() == "/" {
        return Ok(format!("{url}connection/websocket"));
    }
    Ok(url.to_owned())
}

impl HubConnection {
    /// Opens the WebSocket and sends `connect`; returns the connect result.
    pub(super) async fn open(args: &ClientArgs) -> Result<(Self, ConnectResult), HubCliError> {
        let mut tls = TlsClientConfig::new();
        if let Some(ca) = &args.ca {
            tls = tls
                .add_root_certificates_pem_file(ca)
                .map_err(HubCliError::Ca)?;
        }
        let (ws, _response) = ClientBuilder::new(hub_url(&args.url)?)
            .tls_config(tls)
            .connect()
            .await?;
        let mut connection = HubConnection {
            ws,
            backlog: VecDeque::new(),
            next_id: 1,
            pong: false,
            silence_limit: REPLY_TIMEOUT,
        };
        let reply = connection
            .request(
                "connect",
                Command {
                    connect: Some(ConnectRequest {
                        token: args.token.clone().unwrap_or_default(),
                        name: "switchboard-cli".into(),
                        ..ConnectRequest::default()
                    }),
                    ..Command::default()
                },
            )
            .await?;
        let result = reply.connect.unwrap_or_default();
        connection.pong = result.pong;
        if result.ping > 0 {
            connection.silence_limit = Duration::from_secs(u64::from(result.ping)) + PING_SLACK;
        }
        Ok((connection, result))
    }

    /// Sends `command` with a fresh id and waits for its reply; pushes
    /// read meanwhile are kept for [`next_push`](Self::next_push).
    pub(super) async fn request(
        &mut self,
        name: &'static str,
        mut command: Command,
    ) -> Result<Reply, HubCliError> {
        command.id = self.next_id;
        self.next_id += 1;
        self.send(&command).await?;
        let wait = async {
            loop {
                for reply in self.read_replies().await? {
                    if reply.id == command.id {
                        if let Some(error) = reply.error {
                            return Err(HubCliError::Refused {
                                command: name,
                                code: error.code,
                                message: error.message,
                            });
                        }
                        return Ok(reply);
                    }
                    if let Some(push) = reply.push {
                        self.backlog.push_back(push);
                    }
                }
            }
        };
        tokio::time::timeout(REPLY_TIMEOUT, wait)
            .await
            .map_err(|_| HubCliError::Timeout(REPLY_TIMEOUT))?
    }

    /// The next push; ends when the connection does (or falls silent for
    /// longer than the server's ping interval allows).
    pub(super) async fn next_push(&mut self) -> Incoming {
        loop {
            if let Some(push) = self.backlog.pop_front() {
                return Incoming::Push(Box::new(push));
            }
            let replies = match tokio::time::timeout(self.silence_limit, self.read_replies()).await
            {
                Ok(Ok(replies)) => replies,
                Ok(Err(error)) => return Incoming::Ended(ended_by(error)),
                Err(_) => {
                    self.ws.close_now();
                    return Incoming::Ended(Ended {
                        code: 3012,
                        reason: format!("no ping from the hub for {:?}", self.silence_limit),
                    });
                }
            };
            self.backlog
                .extend(replies.into_iter().filter_map(|reply| reply.push));
        }
    }

    /// Reads one WebSocket message and decodes its replies, answering
    /// pings on the way.
    async fn read_replies(&mut self) -> Result<Vec<Reply>, HubCliError> {
        loop {
            let message = match self.ws.recv().await {
                Some(Ok(message)) => message,
                Some(Err(error)) => return Err(HubCliError::Socket(error)),
                None => {
                    let (code, reason) = match self.ws.peer_close_frame().and_then(|c| c.frame()) {
                        Some(frame) => (u16::from(frame.code), frame.reason.to_string()),
                        None => (1006, "closed without a close frame".to_owned()),
                    };
                    if !reconnect_advised(code) {
                        return Err(HubCliError::Terminal { code, reason });
                    }
                    return Err(HubCliError::Ended(format!("{code} {reason}")));
                }
            };
            let text = match &message {
                Message::Text(text) => text.as_str(),
                Message::Binary(_) => {
                    return Err(HubCliError::Malformed(
                        "a binary message on a JSON connection".into(),
                    ))
                }
                _ => continue,
            };
            let mut replies = Vec::new();
            for line in text.lines().filter(|line| !line.trim().is_empty()) {
                let reply: Reply = serde_json::from_str(line)
                    .map_err(|error| HubCliError::Malformed(format!("{error}: {line}")))?;
                if reply == Reply::default() {
                    if self.pong {
                        self.send(&Command::default()).await?;
                    }
                    continue;
                }
                replies.push(reply);
            }
            return Ok(replies);
        }
    }

    async fn send(&mut self, command: &Command) -> Result<(), HubCliError> {
        let json = serde_json::to_string(command)
            .map_err(|error| HubCliError::Malformed(error.to_string()))?;
        self.ws.send(Message::text(json)).await?;
        Ok(())
    }

    /// Closes the WebSocket normally.
    pub(super) async fn close(mut self) {
        let _ = self.ws.close(1000u16, "").await;
    }
}

/// The end a read error stands for.
fn ended_by(error: HubCliError) -> Ended {
    match error {
        HubCliError::Terminal { code, reason } => Ended { code, reason },
        HubCliError::Ended(text) => {
            let (code, reason) = text.split_once(' ').unwrap_or((&text, ""));
            Ended {
                code: code.parse().unwrap_or(1006),
                reason: reason.to_owned(),
            }
        }
        other => Ended {
            code: 1006,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_address_gets_the_hub_path() {
        assert_eq!(
            hub_url("ws://127.0.0.1:8080").unwrap(),
            "ws://127.0.0.1:8080/connection/websocket"
        );
        assert_eq!(
            hub_url("wss://h.test/").unwrap(),
            "wss://h.test/connection/websocket"
        );
        assert_eq!(hub_url("ws://h.test/other").unwrap(), "ws://h.test/other");
        assert!(hub_url("http://h.test").is_err());
    }

    #[test]
    fn codes_below_3500_reconnect_and_3500_up_do_not() {
        let ended = |code| Ended {
            code,
            reason: String::new(),
        };
        assert!(ended(3008).reconnect());
        assert!(ended(1006).reconnect());
        assert!(!ended(3500).reconnect());
    }
}
