//! Switchboard behind real reverse proxies: nginx, HAProxy and Caddy, each
//! started on loopback with the configuration `docs/deployment.md` shows
//! (`tests/proxy-configs/`), with a 2 s idle timeout in the tests about
//! idleness so the effects show within seconds.
//!
//! For each proxy:
//! * the problem is real: with keepalive off on both sides, an idle
//!   connection is cut by the proxy;
//! * keepalive solves it: with the server (or only the client) pinging
//!   every 500 ms, a connection idle for 10 s (5x the proxy's timeout)
//!   stays open and messages flow afterwards;
//! * the application sees the real client address when, and only when,
//!   the forwarding headers come from the trusted proxy;
//! * `ws://` and `wss://` (TLS ended at the proxy) both work, with the
//!   Switchboard client and with Python `websockets` as the client.
//!
//! Plus one-way (client to server only) traffic, which the server's
//! keepalive alone keeps open through every proxy (Caddy included, whose
//! `read_timeout` counts only backend bytes), and Caddy's default of no
//! idle timeout at all.
//!
//! The idle tests take real time (about 10 s each) but mostly sleep: run
//! them with `--test-threads 32` and the whole file takes about 11 s
//! (about a minute with the default two threads).

mod reverse_proxy_support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use switchboard::forwarded::TrustedProxies;
use switchboard::tls::{wrap_client, TlsClientConfig};
use switchboard::{proto, ClientBuilder, CloseCode, Config, Error, Message, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};

use reverse_proxy_support::backend::{Backend, EchoPolicy, Ended, ECHO_MARK};
use reverse_proxy_support::peers::run_python_client;
use reverse_proxy_support::proxies::{ProxySetup, ReverseProxy};
use reverse_proxy_support::templates::ProxyKind;
use reverse_proxy_support::{bounded, skip_interop};

/// The proxies' idle timeout in the tests about idleness.
const PROXY_IDLE_TIMEOUT_SECS: u64 = 2;

/// The idle timeout in the tests that are not about idleness (addresses,
/// TLS, third-party clients): the documented 60 s, so that a machine too
/// busy to move a 4 MiB message within 2 s cannot fail them.
const FUNCTIONAL_IDLE_TIMEOUT_SECS: u64 = 60;

/// The ping interval in the keepalive tests: well under the proxy's
/// timeout, as `docs/deployment.md` recommends.
const KEEPALIVE_PING_INTERVAL: Duration = Duration::from_millis(500);

/// How long the keepalive tests keep a connection idle: 5x the proxy's
/// idle timeout.
const IDLE_PERIOD: Duration = Duration::from_secs(5 * PROXY_IDLE_TIMEOUT_SECS);

/// How long the no-keepalive tests wait for the proxy to cut the
/// connection: well past its 2 s timeout.
const CUT_BOUND: Duration = Duration::from_secs(10);

/// Bound on every test.
const TEST_BOUND: Duration = Duration::from_secs(90);

/// The address the test clients come from when they go through a proxy,
/// so "the client address" is distinguishable from every proxy's.
const CLIENT_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 7);

/// The address nginx and HAProxy connect to the backend from; the only
/// one the backend trusts in the client-address tests.
const PROXY_SOURCE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// What a client forges in the hope of being taken for someone else
/// (TEST-NET-3, RFC 5737).
const FORGED_CLIENT: &str = "203.0.113.9";

fn no_keepalive() -> Config {
    Config::default().ping_interval(None)
}

/// A Switchboard client that never pings (only the server keeps the
/// connection alive).
fn client(url: &str) -> ClientBuilder {
    ClientBuilder::new(url).config(no_keepalive())
}

/// Dials `addr` and runs `builder`'s handshake on that connection, so no
/// proxy environment variable can reroute the test's traffic.
async fn open(builder: ClientBuilder, addr: SocketAddr) -> WebSocket<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (ws, _response) = builder.connect_on(tcp).await.unwrap();
    ws
}

/// Sends `text` and waits for its echo, skipping pings.
async fn echo<S>(ws: &mut WebSocket<S>, text: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.send(Message::text(text)).await.unwrap();
    loop {
        match ws.recv().await {
            Some(Ok(Message::Text(echoed))) => {
                assert_eq!(echoed.as_str(), text, "the echo differs");
                return;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected the echo of {text:?}, got {other:?}"),
        }
    }
}

/// Closes cleanly and checks that the backend saw the close handshake.
async fn close_cleanly<S>(mut ws: WebSocket<S>, backend: &mut Backend)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.close(CloseCode::NORMAL, "done").await.unwrap();
    assert_eq!(backend.next_ended().await, Ended::Closed);
}

/// Without keepalive on either side, the proxy cuts an idle connection.
async fn idle_connection_is_cut_without_keepalive(kind: ProxyKind) {
    let mut backend = Backend::start(no_keepalive(), TrustedProxies::none()).await;
    let proxy = ReverseProxy::start(&ProxySetup::new(
        kind,
        backend.addr,
        PROXY_IDLE_TIMEOUT_SECS,
    ));
    let mut ws = open(client(&proxy.ws_url("/")), proxy.plain_addr()).await;
    // The path through the proxy works: what follows is about idleness.
    echo(&mut ws, "before the idle period").await;
    backend.next_opened().await;

    let outcome = tokio::time::timeout(CUT_BOUND, ws.recv()).await;
    match outcome {
        Err(_) => panic!(
            "an idle connection without keepalive survived {CUT_BOUND:?} through {kind:?} \
             with a {PROXY_IDLE_TIMEOUT_SECS} s idle timeout; proxy log:\n{}",
            proxy.log()
        ),
        // Cut: TCP ended without a close frame (1006); all three proxies
        // close this way (a reset would be an I/O error).
        Ok(Some(Err(Error::Connection(proto::Error::AbnormalClosure) | Error::Io(_)))) => {}
        Ok(other) => panic!("expected the proxy to cut the connection, got {other:?}"),
    }
    // The application behind the proxy lost the connection too, without a
    // close handshake.
    assert!(
        matches!(backend.next_ended().await, Ended::Failed(_)),
        "the backend should see the connection fail"
    );
}

/// With the server pinging under the proxy's timeout, an idle connection
/// lives 5x that timeout and messages still flow afterwards.
async fn server_keepalive_keeps_idle_connection_open(kind: ProxyKind) {
    let server_config = Config::default().ping_interval(Some(KEEPALIVE_PING_INTERVAL));
    let setup = |backend| ProxySetup::new(kind, backend, PROXY_IDLE_TIMEOUT_SECS);
    stays_open_while_idle(setup, server_config, no_keepalive(), Keepalive::On).await;
}

/// The same with only the client pinging: the server's pongs are the
/// traffic the proxy needs.
async fn client_keepalive_keeps_idle_connection_open(kind: ProxyKind) {
    let client_config = Config::default().ping_interval(Some(KEEPALIVE_PING_INTERVAL));
    let setup = |backend| ProxySetup::new(kind, backend, PROXY_IDLE_TIMEOUT_SECS);
    stays_open_while_idle(setup, no_keepalive(), client_config, Keepalive::On).await;
}

/// Caddy without `read_timeout` (its default) never closes an idle
/// upgraded connection: no keepalive is needed to get through it.
async fn caddy_default_keeps_idle_connection_open() {
    let setup = |backend| {
        ProxySetup::new(ProxyKind::Caddy, backend, PROXY_IDLE_TIMEOUT_SECS).without_idle_timeout()
    };
    stays_open_while_idle(setup, no_keepalive(), no_keepalive(), Keepalive::Off).await;
}

/// A client that only sends (a browser reporting telemetry, say) to a
/// server that only listens, with the server's and the client's keepalive
/// as given, for [`IDLE_PERIOD`] (5x the proxy's timeout); `expected` says
/// whether the proxy keeps the connection open.
///
/// Switchboard pings when nothing has been received *or* nothing has been
/// sent for the ping interval, so a server with keepalive on pings here
/// although it receives all the time. nginx and HAProxy count traffic in
/// both directions and would keep the connection anyway; Caddy's
/// `read_timeout` counts only bytes from the backend, which the server's
/// pings provide. With keepalive off on both sides, Caddy cuts it.
async fn one_way_client_traffic(
    kind: ProxyKind,
    server_config: Config,
    client_config: Config,
    expected: OneWay,
) {
    let server_pings = server_config.ping_interval.is_some();
    let client_pings = client_config.ping_interval.is_some();
    let mut backend = Backend::start_with(
        server_config,
        TrustedProxies::none(),
        EchoPolicy::MarkedOnly,
    )
    .await;
    let proxy = ReverseProxy::start(&ProxySetup::new(
        kind,
        backend.addr,
        PROXY_IDLE_TIMEOUT_SECS,
    ));
    let builder = client(&proxy.ws_url("/")).config(client_config);
    let mut ws = open(builder, proxy.plain_addr()).await;
    echo(&mut ws, &format!("{ECHO_MARK}before")).await;
    backend.next_opened().await;

    let mut sent = 0;
    let mut pings_received = 0;
    // Five messages per ping interval: the server never goes a whole
    // interval without receiving (even with some scheduling jitter on a
    // busy machine), so whatever it sends is due to its sent side.
    let mut ticks = tokio::time::interval(KEEPALIVE_PING_INTERVAL / 5);
    let stream_for = tokio::time::sleep(IDLE_PERIOD);
    tokio::pin!(stream_for);
    let broke = loop {
        tokio::select! {
            () = &mut stream_for => break None,
            _ = ticks.tick() => {
                if let Err(error) = ws.send(Message::text(format!("report {sent}"))).await {
                    break Some(Some(Err(error)));
                }
                sent += 1;
            }
            received = ws.recv() => match received {
                Some(Ok(Message::Ping(_))) => pings_received += 1,
                Some(Ok(Message::Pong(_))) => {}
                other => break Some(other),
            },
        }
    };
    match (expected, broke) {
        (OneWay::StaysOpen, None) => {
            if server_pings && !client_pings {
                // Only the server's own pings can have come back from it.
                assert!(
                    pings_received > 0,
                    "the server, receiving all the time, never pinged through {kind:?}"
                );
            }
            echo(&mut ws, &format!("{ECHO_MARK}after")).await;
            close_cleanly(ws, &mut backend).await;
        }
        (
            OneWay::IsCut,
            Some(Some(Err(Error::Connection(proto::Error::AbnormalClosure) | Error::Io(_)))),
        ) => {
            assert!(matches!(backend.next_ended().await, Ended::Failed(_)));
        }
        (OneWay::StaysOpen, Some(other)) => panic!(
            "the one-way connection through {kind:?} broke after {sent} messages \
             ({pings_received} pings from the server): {other:?}; proxy log:\n{}",
            proxy.log()
        ),
        (OneWay::IsCut, None) => panic!(
            "{kind:?} kept a one-way connection open for {IDLE_PERIOD:?} although the backend \
             sent nothing (keepalive off on both sides, {pings_received} pings received); \
             is the proxy's timeout on backend bytes still configured?"
        ),
        (OneWay::IsCut, Some(other)) => panic!("expected an abnormal closure, got {other:?}"),
    }
}

/// What [`one_way_client_traffic`] must observe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OneWay {
    /// Open for the whole [`IDLE_PERIOD`], then an echo and a clean close.
    StaysOpen,
    /// Cut by the proxy before the end of [`IDLE_PERIOD`].
    IsCut,
}

/// Whether the connection under test carries keepalive pings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keepalive {
    On,
    Off,
}

/// Connects through the proxy `setup` builds for the backend, echoes once,
/// stays idle for [`IDLE_PERIOD`] (only reading, which answers pings),
/// then echoes again and closes cleanly.
async fn stays_open_while_idle(
    setup: impl FnOnce(SocketAddr) -> ProxySetup,
    server_config: Config,
    client_config: Config,
    keepalive: Keepalive,
) {
    let mut backend = Backend::start(server_config, TrustedProxies::none()).await;
    let setup = setup(backend.addr);
    let proxy = ReverseProxy::start(&setup);
    let builder = client(&proxy.ws_url("/")).config(client_config);
    let mut ws = open(builder, proxy.plain_addr()).await;
    echo(&mut ws, "before the idle period").await;
    backend.next_opened().await;

    // Idle: the application sends nothing and only reads.
    let mut keepalive_frames = 0;
    let idle = tokio::time::sleep(IDLE_PERIOD);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            () = &mut idle => break,
            received = ws.recv() => match received {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => keepalive_frames += 1,
                other => panic!(
                    "the idle connection through {:?} broke: {other:?}; proxy log:\n{}",
                    setup.kind,
                    proxy.log()
                ),
            },
        }
    }
    match keepalive {
        Keepalive::On => assert!(keepalive_frames > 0, "no keepalive ping or pong arrived"),
        Keepalive::Off => assert_eq!(keepalive_frames, 0, "keepalive was meant to be off"),
    }

    echo(&mut ws, "after the idle period").await;
    close_cleanly(ws, &mut backend).await;
}

/// The application sees the client's real address when the forwarding
/// headers come from the trusted proxy, and ignores the same headers
/// forged on a direct connection.
async fn client_address_comes_from_the_trusted_proxy(kind: ProxyKind) {
    // nginx and HAProxy connect from 127.0.0.2 (`proxy_bind`, `source`),
    // and only that address is trusted, so direct clients on 127.0.0.1
    // are not. Caddy 2.6 cannot choose its source address: it connects
    // from 127.0.0.1, which is then trusted, and direct clients come from
    // CLIENT_SOURCE.
    let (setup_source, trusted_proxy, direct_source) = match kind {
        ProxyKind::Caddy => (None, Ipv4Addr::LOCALHOST, CLIENT_SOURCE),
        ProxyKind::Nginx | ProxyKind::Haproxy => {
            (Some(PROXY_SOURCE), PROXY_SOURCE, Ipv4Addr::LOCALHOST)
        }
    };
    let trusted = TrustedProxies::parse([trusted_proxy.to_string()]).unwrap();
    let mut backend = Backend::start(Config::default(), trusted).await;
    let mut setup = ProxySetup::new(kind, backend.addr, FUNCTIONAL_IDLE_TIMEOUT_SECS);
    if let Some(source) = setup_source {
        setup = setup.upstream_source(IpAddr::V4(source));
    }
    let proxy = ReverseProxy::start(&setup);

    // Through the proxy, with forged headers.
    let ws = connect_from(CLIENT_SOURCE, proxy.plain_addr(), &proxy.ws_url("/")).await;
    let opened = backend.next_opened().await;
    let headers = format!("{:?}", opened.headers);
    assert_eq!(
        opened.peer.ip(),
        IpAddr::V4(trusted_proxy),
        "the backend's TCP peer should be the proxy"
    );
    assert_eq!(
        opened.client_addr,
        IpAddr::V4(CLIENT_SOURCE),
        "through {kind:?} the application should see the real client; headers: {headers}"
    );
    // What each proxy made of the forged headers (the table in
    // docs/deployment.md).
    let (expected_xff, expected_forwarded): (&[&str], &[&str]) = match kind {
        ProxyKind::Nginx => (&["203.0.113.9, 127.0.0.7"], &["for=127.0.0.7;proto=http"]),
        ProxyKind::Haproxy => (&["203.0.113.9", "127.0.0.7"], &[]),
        ProxyKind::Caddy => (&["127.0.0.7"], &[]),
    };
    assert_eq!(
        header_values(&opened.headers, "x-forwarded-for"),
        expected_xff,
        "{kind:?}: {headers}"
    );
    assert_eq!(
        header_values(&opened.headers, "forwarded"),
        expected_forwarded,
        "{kind:?}: {headers}"
    );
    close_cleanly(ws, &mut backend).await;

    // Directly, with the same forged headers: not believed.
    let direct_url = format!("ws://{}/", backend.addr);
    let ws = connect_from(direct_source, backend.addr, &direct_url).await;
    let opened = backend.next_opened().await;
    assert_eq!(opened.peer.ip(), IpAddr::V4(direct_source));
    assert_eq!(
        opened.client_addr,
        IpAddr::V4(direct_source),
        "headers from an untrusted peer must be ignored; headers: {:?}",
        opened.headers
    );
    close_cleanly(ws, &mut backend).await;
}

/// An IPv6 client through nginx: the `map` in the nginx template writes
/// its address bracketed and quoted, as RFC 7239 §6 requires, and the
/// application reads it back.
async fn nginx_forwards_an_ipv6_client_address() {
    let trusted = TrustedProxies::parse([PROXY_SOURCE.to_string()]).unwrap();
    let mut backend = Backend::start(Config::default(), trusted).await;
    let setup = ProxySetup::new(ProxyKind::Nginx, backend.addr, FUNCTIONAL_IDLE_TIMEOUT_SECS)
        .upstream_source(IpAddr::V4(PROXY_SOURCE));
    let proxy = ReverseProxy::start(&setup);
    let url = format!("ws://{}/", proxy.plain_addr_v6());
    let ws = connect_from(Ipv6Addr::LOCALHOST, proxy.plain_addr_v6(), &url).await;
    let opened = backend.next_opened().await;
    assert_eq!(
        header_values(&opened.headers, "forwarded"),
        ["for=\"[::1]\";proto=http"]
    );
    assert_eq!(
        header_values(&opened.headers, "x-forwarded-for"),
        ["203.0.113.9, ::1"]
    );
    assert_eq!(opened.client_addr, IpAddr::V6(Ipv6Addr::LOCALHOST));
    close_cleanly(ws, &mut backend).await;
}

/// Every value of the header `name`, in order.
fn header_values<'a>(headers: &'a http::HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect()
}

/// Connects from `source` to `addr` and runs the handshake for `url`,
/// sending forged forwarding headers.
async fn connect_from(
    source: impl Into<IpAddr>,
    addr: SocketAddr,
    url: &str,
) -> WebSocket<TcpStream> {
    let source = source.into();
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4(),
        IpAddr::V6(_) => TcpSocket::new_v6(),
    }
    .unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (mut ws, _) = client(url)
        .header(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_static(FORGED_CLIENT),
        )
        .header(
            http::header::FORWARDED,
            HeaderValue::from_str(&format!("for={FORGED_CLIENT}")).unwrap(),
        )
        .connect_on(tcp)
        .await
        .unwrap();
    echo(&mut ws, "hello").await;
    ws
}

/// `wss://` to the proxy (TLS ended there with a certificate from a test
/// CA) reaches the plain backend, with the Switchboard client.
async fn switchboard_client_over_wss(kind: ProxyKind) {
    let mut backend = Backend::start(Config::default(), TrustedProxies::none()).await;
    let proxy = ReverseProxy::start(&ProxySetup::new(
        kind,
        backend.addr,
        FUNCTIONAL_IDLE_TIMEOUT_SECS,
    ));
    let tls = TlsClientConfig::new()
        .without_builtin_roots()
        .add_root_certificates_pem(proxy.pki.ca_pem.as_bytes())
        .unwrap();
    let tcp = TcpStream::connect(proxy.tls_addr()).await.unwrap();
    let tls_stream = wrap_client(tcp, &tls, "localhost").await.unwrap();
    let (mut ws, _) = client(&proxy.wss_url("/"))
        .connect_on(tls_stream)
        .await
        .unwrap();
    echo(&mut ws, "over TLS").await;
    // A message spanning many TLS records and frames of the proxy's buffers.
    let large: Vec<u8> = (0..1_000_000_u32).map(|i| (i * 31 + 7) as u8).collect();
    ws.send(Message::binary(large.clone())).await.unwrap();
    match ws.recv().await {
        Some(Ok(Message::Binary(echoed))) => assert!(echoed == large, "large echo differs"),
        other => panic!("expected the large echo, got {other:?}"),
    }
    let opened = backend.next_opened().await;
    assert_eq!(
        opened
            .headers
            .get("x-forwarded-proto")
            .map(|value| value.as_bytes()),
        Some(&b"https"[..]),
        "the proxy should tell the backend the client used TLS; headers: {:?}",
        opened.headers
    );
    close_cleanly(ws, &mut backend).await;
}

/// Python `websockets` as the client, over `ws://` and `wss://` at once:
/// the full interop script (text, binary, 4 MiB and 2 MiB messages,
/// fragments, a ping) and a close with 4000.
async fn python_client_over_ws_and_wss(kind: ProxyKind) {
    let mut backend = Backend::start(Config::default(), TrustedProxies::none()).await;
    let proxy = ReverseProxy::start(&ProxySetup::new(
        kind,
        backend.addr,
        FUNCTIONAL_IDLE_TIMEOUT_SECS,
    ));
    // Generous: 12 MiB of echoes in pure Python on a loaded machine.
    let limit = Duration::from_secs(60);
    let ws_url = proxy.ws_url("/");
    let wss_url = proxy.wss_url("/");
    let ca_path = proxy.pki.ca_path();
    let (plain, secure) = tokio::join!(
        run_python_client(&ws_url, None, limit),
        run_python_client(&wss_url, Some(&ca_path), limit),
    );
    for (url, run) in [(&ws_url, plain), (&wss_url, secure)] {
        let report = format!(
            "Python client at {url}\nstdout:\n{}\nstderr:\n{}\nproxy log:\n{}",
            run.stdout,
            run.stderr,
            proxy.log()
        );
        assert_eq!(run.code, Some(0), "{report}");
        assert_eq!(run.events("message").len(), 7, "{report}");
        assert_eq!(run.events("mismatch").len(), 0, "{report}");
        let close = run.events("close");
        assert!(
            close.len() == 1 && close[0].contains("\"code\":4000"),
            "the server should echo the 4000 close: {report}"
        );
        assert!(
            run.events("done")
                .first()
                .is_some_and(|done| done.contains("\"ok\":true")),
            "{report}"
        );
    }
    for _ in 0..2 {
        assert_eq!(backend.next_ended().await, Ended::Closed);
    }
}

/// One module of tests per proxy, each test bounded and skippable with
/// `SWITCHBOARD_SKIP_INTEROP=1`.
macro_rules! proxy_tests {
    ($module:ident, $kind:expr) => {
        mod $module {
            use super::*;

            async fn run<F: std::future::Future<Output = ()>>(test: &str, scenario: F) {
                if skip_interop(test) {
                    return;
                }
                bounded(TEST_BOUND, scenario).await;
            }

            #[tokio::test]
            async fn idle_connection_is_cut_without_keepalive() {
                let test = concat!(
                    stringify!($module),
                    "::idle_connection_is_cut_without_keepalive"
                );
                run(test, super::idle_connection_is_cut_without_keepalive($kind)).await;
            }

            #[tokio::test]
            async fn server_keepalive_keeps_idle_connection_open() {
                let test = concat!(
                    stringify!($module),
                    "::server_keepalive_keeps_idle_connection_open"
                );
                run(
                    test,
                    super::server_keepalive_keeps_idle_connection_open($kind),
                )
                .await;
            }

            #[tokio::test]
            async fn client_keepalive_keeps_idle_connection_open() {
                let test = concat!(
                    stringify!($module),
                    "::client_keepalive_keeps_idle_connection_open"
                );
                run(
                    test,
                    super::client_keepalive_keeps_idle_connection_open($kind),
                )
                .await;
            }

            #[tokio::test]
            async fn client_address_comes_from_the_trusted_proxy() {
                let test = concat!(
                    stringify!($module),
                    "::client_address_comes_from_the_trusted_proxy"
                );
                run(
                    test,
                    super::client_address_comes_from_the_trusted_proxy($kind),
                )
                .await;
            }

            #[tokio::test]
            async fn switchboard_client_over_wss() {
                let test = concat!(stringify!($module), "::switchboard_client_over_wss");
                run(test, super::switchboard_client_over_wss($kind)).await;
            }

            #[tokio::test]
            async fn python_client_over_ws_and_wss() {
                let test = concat!(stringify!($module), "::python_client_over_ws_and_wss");
                run(test, super::python_client_over_ws_and_wss($kind)).await;
            }
        }
    };
}

proxy_tests!(nginx, ProxyKind::Nginx);
proxy_tests!(haproxy, ProxyKind::Haproxy);
proxy_tests!(caddy, ProxyKind::Caddy);

/// One-way traffic (client to server only), see
/// [`one_way_client_traffic`].
mod one_way_traffic {
    use super::*;

    async fn run(
        test: &str,
        kind: ProxyKind,
        server_config: Config,
        client_config: Config,
        expected: OneWay,
    ) {
        if skip_interop(test) {
            return;
        }
        bounded(
            TEST_BOUND,
            one_way_client_traffic(kind, server_config, client_config, expected),
        )
        .await;
    }

    fn keepalive() -> Config {
        Config::default().ping_interval(Some(KEEPALIVE_PING_INTERVAL))
    }

    #[tokio::test]
    async fn nginx_server_keepalive_suffices() {
        let test = "one_way_traffic::nginx_server_keepalive_suffices";
        let expected = OneWay::StaysOpen;
        run(
            test,
            ProxyKind::Nginx,
            keepalive(),
            no_keepalive(),
            expected,
        )
        .await;
    }

    #[tokio::test]
    async fn haproxy_server_keepalive_suffices() {
        let test = "one_way_traffic::haproxy_server_keepalive_suffices";
        let expected = OneWay::StaysOpen;
        run(
            test,
            ProxyKind::Haproxy,
            keepalive(),
            no_keepalive(),
            expected,
        )
        .await;
    }

    /// The server receives all the time but has sent nothing for a ping
    /// interval, so it pings, and its pings are the backend bytes Caddy's
    /// `read_timeout` waits for.
    #[tokio::test]
    async fn caddy_server_keepalive_suffices() {
        let test = "one_way_traffic::caddy_server_keepalive_suffices";
        let expected = OneWay::StaysOpen;
        run(
            test,
            ProxyKind::Caddy,
            keepalive(),
            no_keepalive(),
            expected,
        )
        .await;
    }

    /// Client pings work too: they draw pongs from the backend.
    #[tokio::test]
    async fn caddy_client_keepalive_suffices() {
        let test = "one_way_traffic::caddy_client_keepalive_suffices";
        let expected = OneWay::StaysOpen;
        run(
            test,
            ProxyKind::Caddy,
            no_keepalive(),
            keepalive(),
            expected,
        )
        .await;
    }

    /// The control: with keepalive off on both sides the backend sends
    /// nothing, and Caddy cuts the connection although the client keeps
    /// sending. So the survival above is the keepalive's doing.
    #[tokio::test]
    async fn caddy_cuts_it_without_keepalive() {
        let test = "one_way_traffic::caddy_cuts_it_without_keepalive";
        let expected = OneWay::IsCut;
        run(
            test,
            ProxyKind::Caddy,
            no_keepalive(),
            no_keepalive(),
            expected,
        )
        .await;
    }
}

mod ipv6 {
    use super::*;

    #[tokio::test]
    async fn nginx_forwards_an_ipv6_client_address() {
        if skip_interop("ipv6::nginx_forwards_an_ipv6_client_address") {
            return;
        }
        bounded(TEST_BOUND, super::nginx_forwards_an_ipv6_client_address()).await;
    }
}

mod caddy_without_read_timeout {
    use super::*;

    #[tokio::test]
    async fn idle_connection_survives_without_keepalive() {
        let test = "caddy_without_read_timeout::idle_connection_survives_without_keepalive";
        if skip_interop(test) {
            return;
        }
        bounded(TEST_BOUND, caddy_default_keeps_idle_connection_open()).await;
    }
}
