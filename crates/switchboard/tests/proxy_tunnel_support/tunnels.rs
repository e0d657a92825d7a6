//! Tunnels through the test proxies opened with the crate's client, and
//! the end-to-end exchanges the HTTP CONNECT and SOCKS5 tests both run.

use std::net::SocketAddr;
use std::time::Duration;

use switchboard::proxy::{connect_tcp, ProxyConfig, ProxyError};
use switchboard::tls::{wrap_client, ClientTlsStream};
use switchboard::ClientBuilder;
use switchboard_testkit::pki::TestPki;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::echo::{tls_echo, Accepted};
use super::proxies::ProxyProcess;
use super::ws_echo::{exchange_and_close, ws_echo};
use super::{acceptor_for, client_trusting};

/// How long opening one tunnel may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A tunnel through `proxy` to `host:port`, or why the proxy refused it.
pub async fn connect_through(
    proxy: &ProxyConfig,
    host: &str,
    port: u16,
) -> Result<TcpStream, ProxyError> {
    connect_tcp(proxy, host, port, CONNECT_TIMEOUT).await
}

/// The error of a tunnel the proxy must refuse.
pub async fn refused_tunnel(proxy: &ProxyConfig, host: &str, port: u16) -> ProxyError {
    connect_through(proxy, host, port).await.unwrap_err()
}

/// Checks the refusal of a proxy that wants credentials and got none: the
/// error is typed and tells the user how to give them.
pub fn assert_asks_for_credentials(error: &ProxyError) {
    assert!(
        matches!(error, ProxyError::AuthRequired { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("user:password@"), "{error}");
}

/// Checks the refusal of credentials the proxy rejected: the error is
/// typed, says what to check, and does not repeat `password`.
pub fn assert_credentials_rejected(error: &ProxyError, password: &str) {
    let message = error.to_string();
    assert!(
        matches!(error, ProxyError::AuthRejected { .. }),
        "{error:?}"
    );
    assert!(
        message.contains("check the user name and password"),
        "{message}"
    );
    assert!(!message.contains(password), "password leaked: {message}");
}

/// A tunnel that must open; a failure shows what the daemon logged.
pub async fn open_tunnel(
    daemon: &ProxyProcess,
    proxy: &ProxyConfig,
    host: &str,
    port: u16,
) -> TcpStream {
    connect_through(proxy, host, port)
        .await
        .unwrap_or_else(|error| panic!("{error}\nproxy log:\n{}", daemon.log()))
}

/// A TLS session with a `localhost` echo server, run end to end through a
/// tunnel: the proxy only sees the host name and the encrypted bytes.
pub struct TlsThroughTunnel {
    /// The client side of the session.
    pub tls: ClientTlsStream<TcpStream>,
    /// The echo server, as the tunnel reached it.
    pub target: SocketAddr,
    /// The server's handshake outcomes.
    pub accepted: mpsc::UnboundedReceiver<Accepted>,
}

impl TlsThroughTunnel {
    /// Starts the echo server, opens the tunnel to `localhost` through
    /// `proxy` (run by `daemon`) and does the client handshake in it.
    pub async fn open(daemon: &ProxyProcess, proxy: &ProxyConfig) -> Self {
        let pki = TestPki::new();
        let (target, accepted) = tls_echo(acceptor_for(&pki)).await;
        // The host name goes to the proxy; the certificate is checked for it
        // by the client, end to end.
        let tunnel = open_tunnel(daemon, proxy, "localhost", target.port()).await;
        let tls = wrap_client(tunnel, &client_trusting(&pki), "localhost")
            .await
            .unwrap();
        Self {
            tls,
            target,
            accepted,
        }
    }
}

/// Runs the echo exchange with a ws:// and a wss:// server on `localhost`
/// through `proxy` (run by `daemon`), checking that each server saw its
/// path (`plain_path`, `tls_path`). Returns the two servers' ports.
pub async fn ws_and_wss_through(
    daemon: &ProxyProcess,
    proxy: ProxyConfig,
    plain_path: &str,
    tls_path: &str,
) -> (u16, u16) {
    let pki = TestPki::new();
    let (plain, mut plain_outcomes) = ws_echo(None).await;
    let (secure, mut secure_outcomes) = ws_echo(Some(acceptor_for(&pki))).await;

    let url = format!("ws://localhost:{}{plain_path}", plain.port());
    let (mut ws, _) = ClientBuilder::new(url)
        .proxy(proxy.clone())
        .connect()
        .await
        .unwrap_or_else(|error| panic!("{error}\n{}", daemon.log()));
    exchange_and_close(&mut ws).await;
    assert_eq!(
        plain_outcomes.recv().await.unwrap(),
        Ok(plain_path.to_owned())
    );

    let url = format!("wss://localhost:{}{tls_path}", secure.port());
    let (mut ws, _) = ClientBuilder::new(url)
        .proxy(proxy)
        .tls_config(client_trusting(&pki))
        .connect()
        .await
        .unwrap_or_else(|error| panic!("{error}\n{}", daemon.log()));
    assert!(ws.get_ref().is_tls());
    exchange_and_close(&mut ws).await;
    assert_eq!(
        secure_outcomes.recv().await.unwrap(),
        Ok(tls_path.to_owned())
    );
    (plain.port(), secure.port())
}
