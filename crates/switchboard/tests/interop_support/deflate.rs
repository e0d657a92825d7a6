//! permessage-deflate (RFC 7692) interop scenarios: our client against a
//! peer server and peer clients against our server, with parameter
//! combinations, asserting the negotiated `Sec-WebSocket-Extensions` value
//! on both sides, that every message arrives intact, and (from our
//! socket's [`WebSocket::stats`](switchboard::WebSocket::stats)) that
//! compressed frames (RSV1) really flowed both ways.

use bytes::Bytes;
use switchboard::proto::Stats;
use switchboard::{ClientBuilder, Config, DeflateConfig, Message, ServerBuilder};
use tokio::net::TcpListener;

use super::scenarios::{assert_data, recv, send, send_script_message};
use super::*;

fn quiet_config() -> Config {
    Config::default().ping_interval(None)
}

/// Messages that exercise compression with context takeover: the same text
/// three times (later copies compress against the window), a highly
/// compressible 1 MiB run. (The script already carries 2-4 MiB messages;
/// debug builds compress slowly, so these stay small.)
fn repeated_and_compressible() -> Vec<(bool, Vec<u8>)> {
    let json = br#"{"channel":"prices","symbol":"ACME","bid":101.25,"ask":101.5}"#.to_vec();
    vec![
        (true, json.clone()),
        (true, json.clone()),
        (true, json),
        (false, vec![0u8; 1024 * 1024]),
    ]
}

/// Every peer here compresses at least the messages of this size: Node's
/// `ws` does not compress below its `threshold`, 1024 bytes by default (our
/// Node peer sets 0); python-websockets and Chromium compress every
/// message. The scripts carry messages of several MiB, well above it.
const PEER_COMPRESSES_FROM: usize = 1024;

/// The data messages a test moved through our socket, to check its
/// [`Stats`] against: what must have been compressed each way.
#[derive(Debug, Default)]
struct Ledger {
    /// Our threshold: smaller whole messages go out uncompressed.
    threshold: usize,
    received: u64,
    /// Received messages of at least [`PEER_COMPRESSES_FROM`] bytes.
    received_compressible: u64,
    sent: u64,
    /// Sent messages our extension compresses: whole ones at or above
    /// `threshold`, streamed ones always.
    sent_compressible: u64,
}

impl Ledger {
    fn new(ours: &DeflateConfig) -> Self {
        Ledger {
            threshold: ours.get_threshold(),
            ..Ledger::default()
        }
    }

    fn received(&mut self, payload_len: usize) {
        self.received += 1;
        self.received_compressible += u64::from(payload_len >= PEER_COMPRESSES_FROM);
    }

    fn sent(&mut self, payload_len: usize, streamed: bool) {
        self.sent += 1;
        self.sent_compressible += u64::from(streamed || payload_len >= self.threshold);
    }

    /// Our socket saw every message, received RSV1 frames for every message
    /// the peer must have compressed, and compressed what it had to.
    fn assert_compression_flowed(&self, peer: &Peer, stats: Stats) {
        let ok = stats.messages_received == self.received
            && stats.messages_sent == self.sent
            && self.received_compressible > 0
            && stats.compressed_messages_received >= self.received_compressible
            && stats.compressed_messages_received <= stats.messages_received
            && self.sent_compressible > 0
            && stats.compressed_messages_sent == self.sent_compressible;
        if !ok {
            peer.fail(&format!(
                "compression did not flow both ways: our socket counted {stats:?}; \
                 expected {} messages received of which at least {} compressed (RSV1), \
                 {} sent of which exactly {} compressed",
                self.received, self.received_compressible, self.sent, self.sent_compressible
            ));
        }
    }
}

/// Our client with `ours` against a peer server started with `--deflate` and
/// `peer_args`; both must report `expected` as the negotiated extension.
pub async fn our_deflate_client_against_peer_server(
    kind: PeerKind,
    peer_args: &[&str],
    ours: DeflateConfig,
    expected: &str,
) {
    let mut ledger = Ledger::new(&ours);
    let mut args = vec!["--once", "--deflate"];
    args.extend_from_slice(peer_args);
    let (mut server, port) = Peer::server(kind, &args).await;
    let (mut ws, response) = ClientBuilder::new(format!("ws://127.0.0.1:{port}/deflate"))
        .config(quiet_config())
        .deflate(ours)
        .connect()
        .await
        .unwrap_or_else(|e| server.fail(&format!("connect with permessage-deflate failed: {e}")));
    let negotiated = response
        .headers()
        .get("sec-websocket-extensions")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let open = server.wait_for("open").await;
    if negotiated != expected || open["extensions"] != expected {
        server.fail(&format!(
            "negotiated {negotiated:?} (server says {}), expected {expected:?}",
            open["extensions"]
        ));
    }

    // Client -> server -> client, compressed both ways.
    for message in script_messages() {
        send_script_message(&mut ws, &server, &message).await;
        ledger.sent(message.payload.len(), message.fragments.len() > 1);
        let echo = recv(
            &mut ws,
            &server,
            &format!("the echo of step {}", message.step),
        )
        .await;
        assert_data(&server, &echo, message.is_text, &message.payload);
        ledger.received(message.payload.len());
        let event = server.wait_for("message").await;
        assert_describes(&server, &event, message.is_text, &message.payload);
    }
    for (is_text, payload) in repeated_and_compressible() {
        send(&mut ws, &server, scenarios::message_of(is_text, &payload)).await;
        ledger.sent(payload.len(), false);
        let echo = recv(&mut ws, &server, "an echo").await;
        assert_data(&server, &echo, is_text, &payload);
        ledger.received(payload.len());
    }
    // Messages the peer compresses and fragments itself.
    for (command, is_text, payload) in [
        (
            "__fragment text 1048576 5",
            true,
            text_pattern(1024 * 1024).into_bytes(),
        ),
        (
            "__send binary 3145728",
            false,
            binary_pattern(3 * 1024 * 1024),
        ),
    ] {
        send(&mut ws, &server, Message::text(command)).await;
        ledger.sent(command.len(), false);
        let got = recv(&mut ws, &server, command).await;
        assert_data(&server, &got, is_text, &payload);
        ledger.received(payload.len());
    }
    send(
        &mut ws,
        &server,
        Message::Ping(Bytes::from_static(b"deflate-ping")),
    )
    .await;
    let pong = recv(&mut ws, &server, "the pong").await;
    assert_eq!(pong, Message::Pong(Bytes::from_static(b"deflate-ping")));
    if let Err(error) = ws.close(1000, "deflate done").await {
        server.fail(&format!("close handshake failed: {error}"));
    }
    let close = server.wait_for("close").await;
    assert_close(
        &server,
        &close,
        (1000, "deflate done"),
        Some((1000, "deflate done")),
    );
    ledger.assert_compression_flowed(&server, ws.stats());
}

/// A peer client started with `peer_args` (its deflate options) runs the
/// scripted exchange against our server configured with `ours`; the client
/// must report `expected` as the negotiated extension.
pub async fn peer_deflate_client_against_our_server(
    kind: PeerKind,
    peer_args: &[&str],
    ours: DeflateConfig,
    expected: &str,
) {
    let mut ledger = Ledger::new(&ours);
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let url = format!(
        "ws://127.0.0.1:{}/deflate",
        listener.local_addr().expect("addr").port()
    );
    let mut client = Peer::client(kind, &url, peer_args);
    let (tcp, _) = tokio::time::timeout(EVENT_TIMEOUT, listener.accept())
        .await
        .unwrap_or_else(|_| client.fail("the peer client never connected"))
        .unwrap_or_else(|e| client.fail(&format!("accept failed: {e}")));
    let mut ws = ServerBuilder::new()
        .config(quiet_config())
        .deflate(ours)
        .accept_maybe_tls(tcp)
        .await
        .unwrap_or_else(|e| client.fail(&format!("server handshake failed: {e}")));
    let open = client.wait_for("open").await;
    if open["extensions"] != expected {
        client.fail(&format!(
            "client negotiated {}, expected {expected:?}",
            open["extensions"]
        ));
    }

    // Echo everything until the client's close; compare with the script.
    let mut expected_messages = script_messages().into_iter();
    loop {
        match recv(&mut ws, &client, "the next scripted message").await {
            Message::Close(frame) => {
                let frame = frame.unwrap_or_else(|| client.fail("close frame without a code"));
                assert_eq!(
                    (frame.code.0, frame.reason.as_str()),
                    (SCRIPT_CLOSE_CODE, SCRIPT_CLOSE_REASON)
                );
                break;
            }
            Message::Ping(data) => assert_eq!(&data[..], SCRIPT_PING.as_bytes()),
            data => {
                let want = expected_messages
                    .next()
                    .unwrap_or_else(|| client.fail("more data messages than the script has"));
                assert_data(&client, &data, want.is_text, &want.payload);
                ledger.received(want.payload.len());
                send(&mut ws, &client, data).await;
                ledger.sent(want.payload.len(), false);
            }
        }
    }
    if expected_messages.next().is_some() {
        client.fail("the client closed before sending every scripted message");
    }
    for message in script_messages() {
        let event = client.wait_for("message").await;
        assert_describes(&client, &event, message.is_text, &message.payload);
    }
    client.expect_success().await;
    ledger.assert_compression_flowed(&client, ws.stats());
}
