//! Keepalive pings, missing pongs, idle timeouts: the protocol core's timers
//! driven by the runtime's shared timer (`src/timer`), on real and virtual time.

mod common;

use std::time::Duration;

use common::*;
use switchboard::{
    proto, ClientBuilder, Config, Error, Limits, Message, Role, ServerBuilder, WebSocket,
};
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// One end of an in-memory connection, with default limits: the
/// virtual-time tests drive the timers without sockets.
fn over_duplex(io: DuplexStream, role: Role, config: Config) -> WebSocket<DuplexStream> {
    WebSocket::from_raw(io, role, config, Limits::default())
}

fn fast_keepalive() -> Config {
    Config::default()
        .ping_interval(Some(Duration::from_millis(100)))
        .pong_timeout(Duration::from_millis(300))
}

/// A server with `config` that accepts one connection and hands back what
/// its first `recv` returns, and a raw client connected to it, so the test
/// controls exactly which frames the server gets.
async fn raw_client_and_first_recv(
    config: Config,
) -> (TcpStream, JoinHandle<Option<Result<Message, Error>>>) {
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = ServerBuilder::new()
            .config(config)
            .accept(tcp)
            .await
            .unwrap();
        ws.recv().await
    });
    (raw_client(addr).await, server)
}

#[tokio::test]
async fn idle_connection_sends_keepalive_pings() {
    bounded(async {
        let (mut tcp, server) = raw_client_and_first_recv(fast_keepalive()).await;
        // Nothing sent: the server's timer alone produces the ping.
        let ping = read_frame(&mut tcp).await.unwrap();
        assert_eq!(ping.opcode, 0x9);
        // Answer it; the server stays open and reads our message.
        tcp.write_all(&client_frame(0xA, &ping.payload))
            .await
            .unwrap();
        tcp.write_all(&client_frame(0x1, b"alive")).await.unwrap();
        let received = server.await.unwrap();
        // The pong is reported to the application first.
        assert!(
            matches!(received, Some(Ok(Message::Pong(_)))),
            "{received:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn missing_pong_fails_with_a_keepalive_timeout() {
    bounded(async {
        let (mut tcp, server) = raw_client_and_first_recv(fast_keepalive()).await;
        let ping = read_frame(&mut tcp).await.unwrap();
        assert_eq!(ping.opcode, 0x9);
        // Never answer.
        let result = server.await.unwrap();
        match result {
            Some(Err(error @ Error::Connection(proto::Error::KeepaliveTimeout(_)))) => {
                assert!(error.to_string().contains("reconnect"), "{error}");
            }
            other => panic!("expected a keepalive timeout, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn automatic_pongs_keep_a_reading_peer_alive() {
    bounded(async {
        let (mut client, mut server) = pair_with(
            |url| ClientBuilder::new(url).config(Config::default().ping_interval(None)),
            ServerBuilder::new().config(fast_keepalive()),
        )
        .await;
        // The client only reads (its pongs go out automatically) until it
        // has seen five keepalive pings, i.e. several pong timeouts passed.
        let client_task = tokio::spawn(async move {
            let mut pings = 0;
            while pings < 5 {
                if let Message::Ping(_) = client.recv().await.unwrap().unwrap() {
                    pings += 1;
                }
            }
            client.send(Message::text("still here")).await.unwrap();
            client
        });
        // The server never fails with a keepalive timeout meanwhile.
        let mut pongs = 0;
        loop {
            match server.recv().await {
                Some(Ok(Message::Pong(_))) => pongs += 1,
                Some(Ok(Message::Text(text))) => {
                    assert_eq!(text, "still here");
                    break;
                }
                other => panic!("server got {other:?}"),
            }
        }
        assert!(pongs >= 5, "{pongs} pongs");
        client_task.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn idle_timeout_ends_a_silent_connection() {
    bounded(async {
        let (_tcp, server) = raw_client_and_first_recv(
            Config::default()
                .ping_interval(None)
                .idle_timeout(Some(Duration::from_millis(300))),
        )
        .await;
        let result = server.await.unwrap();
        assert!(
            matches!(
                result,
                Some(Err(Error::Connection(proto::Error::IdleTimeout(_))))
            ),
            "{result:?}"
        );
    })
    .await;
}

/// The defaults on virtual time: the first ping after 20 s of silence
/// (below the 60 s idle timeout of common proxies), the failure 20 s later.
#[tokio::test(start_paused = true)]
async fn default_keepalive_on_virtual_time() {
    // `bounded` would fire first on virtual time; this bound is virtual too.
    let bound = Duration::from_secs(120);
    tokio::time::timeout(bound, async {
        let (client_io, server_io) = tokio::io::duplex(4096);
        let mut server = over_duplex(server_io, Role::Server, Config::default());
        // A client that never reads or writes anything.
        let _client = client_io;
        let start = tokio::time::Instant::now();
        let result = server.recv().await;
        let waited = start.elapsed();
        assert!(
            matches!(
                result,
                Some(Err(Error::Connection(proto::Error::KeepaliveTimeout(_))))
            ),
            "{result:?}"
        );
        // 20 s until the ping, 20 s until the missing pong is noticed.
        assert!(waited >= Duration::from_secs(40), "{waited:?}");
        assert!(waited < Duration::from_secs(41), "{waited:?}");
    })
    .await
    .expect("no keepalive failure within 120 virtual seconds");
}

/// Many connections on one runtime share its timer: each gets its own
/// keepalive ping at its own interval, in interval order, on virtual time.
#[tokio::test(start_paused = true)]
async fn many_connections_get_their_pings_in_deadline_order() {
    let bound = Duration::from_secs(120);
    tokio::time::timeout(bound, async {
        let start = tokio::time::Instant::now();
        let mut clients = Vec::new();
        let mut servers = Vec::new();
        // Intervals 1.0 s to 10.9 s, 100 ms apart, opened in a scrambled order.
        for i in 0..100u64 {
            let interval = Duration::from_millis(1000 + (i * 37) % 100 * 100);
            let (client_io, server_io) = tokio::io::duplex(4096);
            let mut server = over_duplex(
                server_io,
                Role::Server,
                Config::default().ping_interval(Some(interval)),
            );
            servers.push(tokio::spawn(async move { server.recv().await }));
            let mut client = over_duplex(
                client_io,
                Role::Client,
                Config::default().ping_interval(None),
            );
            clients.push(tokio::spawn(async move {
                // Its first message is the server's ping; reading it
                // sends the automatic pong.
                match client.recv().await {
                    Some(Ok(Message::Ping(_))) => (interval, start.elapsed(), client),
                    other => panic!("client got {other:?}"),
                }
            }));
        }
        let mut pings = Vec::new();
        for client in clients {
            pings.push(client.await.unwrap());
        }
        for (interval, at, _) in &pings {
            // Rounded up to the shared timer's few-millisecond ticks.
            assert!(
                *at >= *interval && *at < *interval + Duration::from_millis(10),
                "{interval:?}: ping at {at:?}"
            );
        }
        pings.sort_by_key(|(_, at, _)| *at);
        assert!(pings.windows(2).all(|pair| pair[0].0 <= pair[1].0));
        // Each server reports its peer's automatic pong, not a timeout.
        for server in servers {
            let received = server.await.unwrap();
            assert!(
                matches!(received, Some(Ok(Message::Pong(_)))),
                "{received:?}"
            );
        }
    })
    .await
    .expect("every connection pinged within 120 virtual seconds");
}

/// Dead peers on a shared timer: each server fails with a keepalive
/// timeout at its own ping interval plus pong timeout, and the others keep
/// running meanwhile.
#[tokio::test(start_paused = true)]
async fn dead_peers_are_closed_at_their_own_deadlines() {
    let bound = Duration::from_secs(300);
    tokio::time::timeout(bound, async {
        let start = tokio::time::Instant::now();
        let mut servers = Vec::new();
        let mut peers = Vec::new();
        for i in 0..50u64 {
            let ping_interval = Duration::from_secs(5 + i % 7);
            let pong_timeout = Duration::from_secs(1 + i % 5);
            let (client_io, server_io) = tokio::io::duplex(4096);
            // A peer that never reads or writes.
            peers.push(client_io);
            let mut server = over_duplex(
                server_io,
                Role::Server,
                Config::default()
                    .ping_interval(Some(ping_interval))
                    .pong_timeout(pong_timeout),
            );
            servers.push(tokio::spawn(async move {
                let result = server.recv().await;
                (ping_interval + pong_timeout, start.elapsed(), result)
            }));
        }
        for server in servers {
            let (expected, at, result) = server.await.unwrap();
            assert!(
                matches!(
                    result,
                    Some(Err(Error::Connection(proto::Error::KeepaliveTimeout(_))))
                ),
                "{result:?}"
            );
            assert!(
                at >= expected && at < expected + Duration::from_millis(20),
                "expected the failure at {expected:?}, got it at {at:?}"
            );
        }
    })
    .await
    .expect("every dead peer noticed within 300 virtual seconds");
}
