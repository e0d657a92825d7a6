//! WebSocket mode: the opening handshake and the sans-I/O
//! `switchboard_proto::Connection` driven directly (no driver layer), so the
//! load generator pays only for framing, masking and checking.

use std::io::IoSlice;
use std::net::SocketAddr;

use anyhow::{bail, Context as _};
use bytes::BytesMut;
use switchboard_proto::handshake::ClientRequest;
use switchboard_proto::{Config, Connection, Event, Limits, Message, Role, Utf8Bytes};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::bench::options::PayloadKind;
use crate::bench::payload::Pattern;
use crate::bench::wire::{Echo, Wire};

/// A WebSocket benchmark connection after the opening handshake.
#[derive(Debug)]
pub(crate) struct WsWire {
    connection: Connection,
    /// Payloads are built here and split off as `Bytes`; the connection
    /// copies (masks) and drops each one inside `send`, so the next
    /// `reserve` reclaims the same space: steady state allocates nothing per
    /// message.
    scratch: BytesMut,
}

/// Opens a TCP connection to `addr` and performs the client handshake for
/// `uri`. Returns the socket and the connection, with any bytes that
/// arrived after the handshake response already in its receive buffer.
pub(crate) async fn connect(
    uri: &http::Uri,
    addr: SocketAddr,
) -> anyhow::Result<(TcpStream, WsWire)> {
    let (stream, connection) = connect_with(uri, addr, None).await?;
    Ok((
        stream,
        WsWire {
            connection,
            scratch: BytesMut::new(),
        },
    ))
}

/// Like [`connect`], asking for `subprotocol` if given, and returning the
/// bare connection (the pub/sub mode drives it itself).
pub(crate) async fn connect_with(
    uri: &http::Uri,
    addr: SocketAddr,
    subprotocol: Option<&str>,
) -> anyhow::Result<(TcpStream, Connection)> {
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let mut request =
        ClientRequest::new(uri).with_context(|| format!("{uri} is not a WebSocket URL"))?;
    if let Some(subprotocol) = subprotocol {
        request = request.subprotocol(subprotocol);
    }
    let mut head = Vec::with_capacity(256);
    request.encode(&mut head);
    stream.write_all(&head).await?;

    let limits = Limits::default();
    let mut received = BytesMut::with_capacity(1024);
    let consumed = loop {
        if stream.read_buf(&mut received).await? == 0 {
            bail!("{addr} closed the connection during the opening handshake");
        }
        if let Some((_outcome, consumed)) = request
            .parse_response(&received, &limits)
            .context("the server refused or broke the opening handshake")?
        {
            break consumed;
        }
    };
    // The load generator sends no keepalive pings: the run's own deadline
    // ends every connection, and pings would be traffic that is not load.
    let config = Config::default().ping_interval(None);
    let mut connection = Connection::with_limits(Role::Client, config, limits);
    connection.receive(&received[consumed..]);
    Ok((stream, connection))
}

impl Wire for WsWire {
    fn queue(&mut self, pattern: &Pattern, seq: u64) -> anyhow::Result<()> {
        self.scratch.reserve(pattern.size());
        pattern.write_to(seq, &mut self.scratch);
        let payload = self.scratch.split().freeze();
        let message = match pattern.kind() {
            PayloadKind::Binary => Message::Binary(payload),
            PayloadKind::Text => Message::Text(
                Utf8Bytes::try_from_bytes(payload)
                    .map_err(|_| anyhow::anyhow!("text pattern is not UTF-8 (a bug)"))?,
            ),
        };
        self.connection
            .send(message)
            .context("queueing a message on the WebSocket connection")?;
        Ok(())
    }

    type Room = Connection;

    fn read_room(&mut self) -> &mut Connection {
        &mut self.connection
    }

    fn next_echo(&mut self) -> anyhow::Result<Option<Echo>> {
        loop {
            let event = self
                .connection
                .poll_event()
                .context("the server broke the WebSocket protocol")?;
            let kind_and_payload = match event {
                None => return Ok(None),
                Some(Event::Message(Message::Binary(payload))) => (PayloadKind::Binary, payload),
                Some(Event::Message(Message::Text(text))) => (PayloadKind::Text, text.into_bytes()),
                // Pings are answered by the connection itself; pongs need nothing.
                Some(Event::Message(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Event::Message(Message::Close(frame))) => {
                    bail!("the server closed the WebSocket connection ({frame:?})")
                }
                Some(Event::Chunk(_)) => {
                    bail!("received a fragment although whole messages were configured (a bug)")
                }
            };
            let (kind, payload) = kind_and_payload;
            return Ok(Some(Echo {
                kind,
                payload,
                mask: None,
            }));
        }
    }

    fn transmit_len(&self) -> usize {
        self.connection.transmit_len()
    }

    fn transmit_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        self.connection.transmit_slices(dst)
    }

    fn advance_transmit(&mut self, n: usize) {
        self.connection.advance_transmit(n);
    }
}
