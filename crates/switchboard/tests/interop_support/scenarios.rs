//! The interop scenarios, written once and run against every peer by
//! `interop_python.rs`, `interop_node.rs` and `interop_chromium.rs`.
//!
//! Each scenario asserts both sides: what Switchboard received (here) and
//! what the peer reports it received and sent (its JSON event lines).

use bytes::Bytes;
use switchboard::{
    Accept, ClientBuilder, CloseFrame, Config, DataKind, MaybeTlsStream, Message, ReceivedClose,
    ServerBuilder, UpgradeRequest, WebSocket,
};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// Client and server sockets share one type: `connect` returns a
/// `MaybeTlsStream` (plain here), and the server accepts through the same
/// `accept_maybe_tls` path (no TLS configured).
type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

/// No keepalive pings: every ping on the wire is one the test sent on purpose.
fn quiet_config() -> Config {
    Config::default().ping_interval(None)
}

pub(crate) fn message_of(is_text: bool, payload: &[u8]) -> Message {
    if is_text {
        Message::text(String::from_utf8(payload.to_vec()).expect("script text is UTF-8"))
    } else {
        Message::binary(payload.to_vec())
    }
}

/// Short description of a message for failure output (payloads can be MiBs).
fn summary(message: &Message) -> String {
    match message {
        Message::Text(t) => format!(
            "text of {} bytes, sha256 {}",
            t.len(),
            sha256_hex(t.as_bytes())
        ),
        Message::Binary(b) => format!("binary of {} bytes, sha256 {}", b.len(), sha256_hex(b)),
        other => format!("{other:?}"),
    }
}

/// The next message on `ws`, bounded by [`EVENT_TIMEOUT`]; failures show the peer's output.
pub(crate) async fn recv(ws: &mut Ws, peer: &Peer, what: &str) -> Message {
    match tokio::time::timeout(EVENT_TIMEOUT, ws.recv()).await {
        Ok(Some(Ok(message))) => message,
        Ok(Some(Err(error))) => peer.fail(&format!(
            "switchboard error while waiting for {what}: {error}"
        )),
        Ok(None) => peer.fail(&format!("connection ended while waiting for {what}")),
        Err(_) => peer.fail(&format!(
            "nothing received within {EVENT_TIMEOUT:?} while waiting for {what}"
        )),
    }
}

/// Asserts that `ws` has ended (after the close handshake).
async fn expect_end(ws: &mut Ws, peer: &Peer) {
    match tokio::time::timeout(EVENT_TIMEOUT, ws.recv()).await {
        Ok(None) => {}
        Ok(Some(other)) => peer.fail(&format!("expected the end of the stream, got {other:?}")),
        Err(_) => peer.fail("the stream did not end after the close handshake"),
    }
}

pub(crate) fn assert_data(peer: &Peer, got: &Message, is_text: bool, payload: &[u8]) {
    let expected = message_of(is_text, payload);
    if *got != expected {
        peer.fail(&format!(
            "received {}, expected {}",
            summary(got),
            summary(&expected)
        ));
    }
}

pub(crate) async fn send(ws: &mut Ws, peer: &Peer, message: Message) {
    let what = summary(&message);
    if let Err(error) = ws.send(message).await {
        peer.fail(&format!("sending {what} failed: {error}"));
    }
}

/// Sends a script message whole, or as its fragments with `send_fragment`.
pub(crate) async fn send_script_message(ws: &mut Ws, peer: &Peer, message: &ScriptMessage) {
    if message.fragments.len() == 1 {
        return send(ws, peer, message_of(message.is_text, &message.payload)).await;
    }
    let kind = if message.is_text {
        DataKind::Text
    } else {
        DataKind::Binary
    };
    let last = message.fragments.len() - 1;
    for (i, piece) in message.fragments.iter().enumerate() {
        if let Err(error) = ws
            .send_fragment(kind, Bytes::from(piece.clone()), i == 0, i == last)
            .await
        {
            peer.fail(&format!(
                "sending fragment {i} of step {} failed: {error}",
                message.step
            ));
        }
    }
}

fn assert_close_frame(
    peer: &Peer,
    got: Option<ReceivedClose<'_>>,
    code: u16,
    reason: Option<&str>,
) {
    let ok = match got.and_then(ReceivedClose::frame) {
        Some(frame) => frame.code.0 == code && reason.is_none_or(|r| frame.reason == r),
        None => false,
    };
    if !ok {
        peer.fail(&format!(
            "peer close frame {got:?}, expected code {code} reason {reason:?}"
        ));
    }
}

// ----------------------------------------------------- our client, peer server

/// Our client runs the scripted exchange against the peer's echo server, then
/// has the server send multi-megabyte and fragmented messages and a ping, and
/// closes with 4000 "bye-interop".
pub async fn our_client_against_peer_server(kind: PeerKind) {
    let (mut server, port) = Peer::server(kind, &["--once"]).await;
    let (mut ws, response) = ClientBuilder::new(format!("ws://127.0.0.1:{port}/interop"))
        .config(quiet_config())
        .connect()
        .await
        .unwrap_or_else(|e| server.fail(&format!("connect failed: {e}")));
    assert_eq!(response.status(), 101);
    let open = server.wait_for("open").await;
    if open["path"] != "/interop" || open["extensions"] != "" {
        server.fail(&format!("unexpected open event {open}"));
    }

    // Client -> server -> client: every script message, echoed.
    for message in script_messages() {
        send_script_message(&mut ws, &server, &message).await;
        let echo = recv(
            &mut ws,
            &server,
            &format!("the echo of step {}", message.step),
        )
        .await;
        assert_data(&server, &echo, message.is_text, &message.payload);
        let event = server.wait_for("message").await;
        assert_describes(&server, &event, message.is_text, &message.payload);
    }

    // Our ping, the peer's automatic pong.
    send(
        &mut ws,
        &server,
        Message::Ping(Bytes::from_static(SCRIPT_PING.as_bytes())),
    )
    .await;
    let pong = recv(&mut ws, &server, "the pong").await;
    if pong != Message::Pong(Bytes::from_static(SCRIPT_PING.as_bytes())) {
        server.fail(&format!("expected Pong(\"{SCRIPT_PING}\"), got {pong:?}"));
    }
    if kind == PeerKind::Node {
        let ping = server.wait_for("ping").await;
        assert_eq!(
            ping["data"], SCRIPT_PING,
            "the Node server saw our ping payload"
        );
    }

    // Server -> client: multi-megabyte and fragmented messages made by the peer.
    let server_sends: [(&str, bool, Vec<u8>, u64); 4] = [
        (
            "__send binary 3145728",
            false,
            binary_pattern(3 * 1024 * 1024),
            1,
        ),
        (
            "__send text 2097152",
            true,
            text_pattern(2 * 1024 * 1024).into_bytes(),
            1,
        ),
        (
            "__fragment text 1048576 7",
            true,
            text_pattern(1024 * 1024).into_bytes(),
            7,
        ),
        ("__fragment binary 65536 4", false, binary_pattern(65536), 4),
    ];
    for (command, is_text, payload, fragments) in server_sends {
        send(&mut ws, &server, Message::text(command)).await;
        let got = recv(&mut ws, &server, command).await;
        assert_data(&server, &got, is_text, &payload);
        let sent = server.wait_for("sent").await;
        assert_describes(&server, &sent, is_text, &payload);
        assert_eq!(
            sent["fragments"], fragments,
            "{command}: fragment count the peer used"
        );
    }

    // The server's ping, answered automatically by Switchboard.
    send(&mut ws, &server, Message::text("__ping server-ping-7")).await;
    let ping = recv(&mut ws, &server, "the server's ping").await;
    if ping != Message::Ping(Bytes::from_static(b"server-ping-7")) {
        server.fail(&format!("expected Ping(\"server-ping-7\"), got {ping:?}"));
    }
    let pong = server.wait_for("pong").await;
    assert_eq!(
        pong["data"], "server-ping-7",
        "the peer got our automatic pong"
    );

    // Client-initiated close with a code and a reason.
    if let Err(error) = ws.close(SCRIPT_CLOSE_CODE, SCRIPT_CLOSE_REASON).await {
        server.fail(&format!("close handshake failed: {error}"));
    }
    // Both peers echo our code and reason.
    assert_close_frame(
        &server,
        ws.peer_close_frame(),
        SCRIPT_CLOSE_CODE,
        Some(SCRIPT_CLOSE_REASON),
    );
    let close = server.wait_for("close").await;
    let script_close = (SCRIPT_CLOSE_CODE, SCRIPT_CLOSE_REASON);
    assert_close(&server, &close, script_close, Some(script_close));
    assert_eq!(close["initiator"], "remote");
}

/// The peer server closes with 4001 and a reason containing spaces; our
/// client reports it and answers with the same code.
pub async fn peer_server_initiated_close(kind: PeerKind) {
    let (mut server, port) = Peer::server(kind, &["--once"]).await;
    let (mut ws, _) = ClientBuilder::new(format!("ws://127.0.0.1:{port}/"))
        .config(quiet_config())
        .connect()
        .await
        .unwrap_or_else(|e| server.fail(&format!("connect failed: {e}")));
    send(&mut ws, &server, Message::text("before the close")).await;
    let echo = recv(&mut ws, &server, "the echo").await;
    assert_data(&server, &echo, true, b"before the close");

    send(
        &mut ws,
        &server,
        Message::text("__close 4001 server-bye now"),
    )
    .await;
    let close = recv(&mut ws, &server, "the server's close frame").await;
    if close != Message::Close(Some(CloseFrame::new(4001, "server-bye now"))) {
        server.fail(&format!(
            "expected Close(4001, \"server-bye now\"), got {close:?}"
        ));
    }
    expect_end(&mut ws, &server).await;

    let event = server.wait_for("close").await;
    // Switchboard echoes the status code with an empty reason (RFC 6455 §5.5.1).
    assert_close(&server, &event, (4001, ""), Some((4001, "server-bye now")));
    assert_eq!(event["initiator"], "local");
}

// ----------------------------------------------------- peer client, our server

async fn accept_one(listener: &TcpListener, client: &Peer) -> Ws {
    let (tcp, _) = match tokio::time::timeout(EVENT_TIMEOUT, listener.accept()).await {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(e)) => client.fail(&format!("accept failed: {e}")),
        Err(_) => client.fail("the peer client never connected"),
    };
    ServerBuilder::new()
        .config(quiet_config())
        .accept_maybe_tls(tcp)
        .await
        .unwrap_or_else(|e| client.fail(&format!("server handshake failed: {e}")))
}

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let url = format!(
        "ws://127.0.0.1:{}/interop",
        listener.local_addr().expect("local addr").port()
    );
    (listener, url)
}

/// The peer client runs the scripted exchange against our echo server and
/// closes with 4000 "bye-interop".
pub async fn peer_client_against_our_server(kind: PeerKind) {
    let (listener, url) = listen().await;
    let mut client = Peer::client(kind, &url, &[]);
    let mut ws = accept_one(&listener, &client).await;

    for message in script_messages() {
        let got = recv(&mut ws, &client, &format!("step {}", message.step)).await;
        assert_data(&client, &got, message.is_text, &message.payload);
        send(&mut ws, &client, got).await;
    }
    if kind != PeerKind::Chromium {
        let ping = recv(&mut ws, &client, "the scripted ping").await;
        if ping != Message::Ping(Bytes::from_static(SCRIPT_PING.as_bytes())) {
            client.fail(&format!("expected Ping(\"{SCRIPT_PING}\"), got {ping:?}"));
        }
    }
    let close = recv(&mut ws, &client, "the client's close frame").await;
    if close
        != Message::Close(Some(CloseFrame::new(
            SCRIPT_CLOSE_CODE,
            SCRIPT_CLOSE_REASON,
        )))
    {
        client.fail(&format!(
            "expected Close({SCRIPT_CLOSE_CODE}, \"{SCRIPT_CLOSE_REASON}\"), got {close:?}"
        ));
    }
    expect_end(&mut ws, &client).await;

    // The client saw every echo intact (it compares bytes itself, and we check its digests).
    for message in script_messages() {
        let event = client.wait_for("message").await;
        assert_eq!(event["step"], message.step);
        assert_describes(&client, &event, message.is_text, &message.payload);
    }
    if kind != PeerKind::Chromium {
        let pong = client.wait_for("pong").await;
        assert_eq!(
            pong["data"], SCRIPT_PING,
            "our automatic pong reached the client"
        );
    }
    let event = client.wait_for("close").await;
    // Switchboard echoes the status code with an empty reason (RFC 6455 §5.5.1).
    assert_close(
        &client,
        &event,
        (SCRIPT_CLOSE_CODE, ""),
        Some((SCRIPT_CLOSE_CODE, SCRIPT_CLOSE_REASON)),
    );
    if kind == PeerKind::Chromium && event["was_clean"] != true {
        client.fail("Chromium reports an unclean close");
    }
    client.expect_success().await;
}

/// The peer client echoes and obeys commands (`--after serve`) while our
/// server sends multi-megabyte and fragmented messages, pings it, has it ping
/// us and send its own messages, then closes with 4002 "server-initiated".
pub async fn our_server_drives_peer_client(kind: PeerKind) {
    let (listener, url) = listen().await;
    let mut client = Peer::client(kind, &url, &["--script", "none", "--after", "serve"]);
    let mut ws = accept_one(&listener, &client).await;
    client.wait_for("open").await;

    // Server -> client -> server: whole and fragmented, text and binary, up to 5 MiB.
    let fragmented_text = script_messages().remove(5);
    let big_fragmented = binary_pattern(3 * 1024 * 1024);
    let sends = [
        ScriptMessage {
            step: 0,
            is_text: false,
            fragments: vec![binary_pattern(5 * 1024 * 1024)],
            payload: binary_pattern(5 * 1024 * 1024),
        },
        ScriptMessage {
            step: 0,
            is_text: true,
            fragments: vec![text_pattern(2 * 1024 * 1024).into_bytes()],
            payload: text_pattern(2 * 1024 * 1024).into_bytes(),
        },
        fragmented_text,
        ScriptMessage {
            step: 0,
            is_text: false,
            fragments: big_fragmented
                .chunks(1024 * 1024)
                .map(<[u8]>::to_vec)
                .collect(),
            payload: big_fragmented,
        },
    ];
    for message in &sends {
        send_script_message(&mut ws, &client, message).await;
        let echo = recv(&mut ws, &client, "an echo from the client").await;
        assert_data(&client, &echo, message.is_text, &message.payload);
        let event = client.wait_for("message").await;
        assert_describes(&client, &event, message.is_text, &message.payload);
    }

    if kind == PeerKind::Chromium {
        // A browser cannot ping or choose frames; it can still send its own message.
        send(&mut ws, &client, Message::text("__send binary 2097152")).await;
        let got = recv(&mut ws, &client, "the browser's message").await;
        assert_data(&client, &got, false, &binary_pattern(2 * 1024 * 1024));
    } else {
        // Our ping, the client's automatic pong.
        send(
            &mut ws,
            &client,
            Message::Ping(Bytes::from_static(b"server-ping")),
        )
        .await;
        let pong = recv(&mut ws, &client, "the client's pong").await;
        if pong != Message::Pong(Bytes::from_static(b"server-ping")) {
            client.fail(&format!("expected Pong(\"server-ping\"), got {pong:?}"));
        }
        // The client's ping, our automatic pong.
        send(&mut ws, &client, Message::text("__ping client-ping")).await;
        let ping = recv(&mut ws, &client, "the client's ping").await;
        if ping != Message::Ping(Bytes::from_static(b"client-ping")) {
            client.fail(&format!("expected Ping(\"client-ping\"), got {ping:?}"));
        }
        let pong = client.wait_for("pong").await;
        assert_eq!(
            pong["data"], "client-ping",
            "our automatic pong reached the client"
        );
        // A multi-megabyte message the client fragments itself.
        send(
            &mut ws,
            &client,
            Message::text("__fragment binary 2097152 5"),
        )
        .await;
        let got = recv(&mut ws, &client, "the client's fragmented message").await;
        assert_data(&client, &got, false, &binary_pattern(2 * 1024 * 1024));
        let sent = client.wait_for("sent").await;
        assert_eq!(sent["fragments"], 5);
    }

    // Server-initiated close with a code and a reason.
    if let Err(error) = ws.close(4002, "server-initiated").await {
        client.fail(&format!("close handshake failed: {error}"));
    }
    // Python and Node echo the reason too; browsers are only required to echo the code.
    let echoed_reason = (kind != PeerKind::Chromium).then_some("server-initiated");
    assert_close_frame(&client, ws.peer_close_frame(), 4002, echoed_reason);
    let event = client.wait_for("close").await;
    if event["code"] != 4002
        || event["reason"] != "server-initiated"
        || event["initiator"] != "remote"
    {
        client.fail(&format!(
            "client close event {event}: expected 4002 \"server-initiated\" from the server"
        ));
    }
    client.expect_success().await;
}

// ------------------------------------------------------------- subprotocols

/// Our client offers `chat.v1, chat.v2`; the peer server supports only
/// `chat.v2` and picks it; both sides agree, then close with 1000.
pub async fn subprotocol_chosen_by_peer_server(kind: PeerKind) {
    let (mut server, port) = Peer::server(kind, &["--once", "--subprotocol", "chat.v2"]).await;
    let (mut ws, response) = ClientBuilder::new(format!("ws://127.0.0.1:{port}/"))
        .subprotocol("chat.v1")
        .subprotocol("chat.v2")
        .config(quiet_config())
        .connect()
        .await
        .unwrap_or_else(|e| server.fail(&format!("connect failed: {e}")));
    let chosen = response
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| v.as_bytes().to_vec());
    if chosen.as_deref() != Some(b"chat.v2".as_slice()) {
        server.fail(&format!(
            "response Sec-WebSocket-Protocol {chosen:?}, expected chat.v2"
        ));
    }
    let open = server.wait_for("open").await;
    assert_eq!(
        open["subprotocol"], "chat.v2",
        "the peer server's view of the subprotocol"
    );
    send(&mut ws, &server, Message::text("with chat.v2")).await;
    let echo = recv(&mut ws, &server, "the echo").await;
    assert_data(&server, &echo, true, b"with chat.v2");
    if let Err(error) = ws.close(1000, "done").await {
        server.fail(&format!("close handshake failed: {error}"));
    }
    let close = server.wait_for("close").await;
    assert_close(&server, &close, (1000, "done"), Some((1000, "done")));
}

/// The peer client offers `chat.v1, chat.v2`; our server sees both, in
/// order, and picks `chat.v2`; the client reports it.
pub async fn subprotocol_chosen_by_our_server(kind: PeerKind) {
    let (listener, url) = listen().await;
    let mut client = Peer::client(
        kind,
        &url,
        &[
            "--script",
            "none",
            "--after",
            "serve",
            "--subprotocol",
            "chat.v1",
            "--subprotocol",
            "chat.v2",
        ],
    );
    let (tcp, _) = tokio::time::timeout(EVENT_TIMEOUT, listener.accept())
        .await
        .unwrap_or_else(|_| client.fail("the peer client never connected"))
        .unwrap_or_else(|e| client.fail(&format!("accept failed: {e}")));
    let mut offered = Vec::new();
    let mut ws = ServerBuilder::new()
        .config(quiet_config())
        .accept_maybe_tls_with(tcp, |request: &UpgradeRequest| {
            offered = request.subprotocols.clone();
            Ok(Accept::new().subprotocol("chat.v2"))
        })
        .await
        .unwrap_or_else(|e| client.fail(&format!("server handshake failed: {e}")));
    assert_eq!(
        offered,
        ["chat.v1", "chat.v2"],
        "subprotocols the {kind:?} client offered"
    );
    let open = client.wait_for("open").await;
    assert_eq!(
        open["subprotocol"], "chat.v2",
        "the peer client's view of the subprotocol"
    );
    send(&mut ws, &client, Message::text("with chat.v2")).await;
    let echo = recv(&mut ws, &client, "the echo").await;
    assert_data(&client, &echo, true, b"with chat.v2");
    if let Err(error) = ws.close(1000, "done").await {
        client.fail(&format!("close handshake failed: {error}"));
    }
    let close = client.wait_for("close").await;
    if close["code"] != 1000 || close["reason"] != "done" {
        client.fail(&format!(
            "client close event {close}: expected 1000 \"done\""
        ));
    }
    client.expect_success().await;
}
