//! HTTP CONNECT tunnels through a real tinyproxy on 127.0.0.1: plain and
//! TLS traffic, Basic auth, and the proxy's refusals as typed errors.

mod proxy_tunnel_support;

use std::time::Duration;

use proxy_tunnel_support::bounded;
use proxy_tunnel_support::echo::{round_trip, tcp_echo};
use proxy_tunnel_support::proxies::ProxyProcess;
use proxy_tunnel_support::tunnels::{
    assert_asks_for_credentials, assert_credentials_rejected, open_tunnel, refused_tunnel,
    ws_and_wss_through, TlsThroughTunnel,
};
use proxy_tunnel_support::ws_echo::ws_echo;
use switchboard::proxy::{connect_tcp, ProxyConfig, ProxyError};
use switchboard::{ClientBuilder, Error};
use switchboard_testkit::free_port;

fn authed_proxy(proxy: &ProxyProcess) -> ProxyConfig {
    ProxyConfig::http("127.0.0.1", proxy.port).with_credentials("alice", "s3cret")
}

#[tokio::test]
async fn plain_tunnel_with_basic_auth_carries_bytes_both_ways() {
    bounded(async {
        let target = tcp_echo().await;
        let proxy = ProxyProcess::tinyproxy(&format!(
            "BasicAuth alice s3cret\nConnectPort {}",
            target.port()
        ));
        let mut tunnel =
            open_tunnel(&proxy, &authed_proxy(&proxy), "127.0.0.1", target.port()).await;
        assert_eq!(
            round_trip(&mut tunnel, b"GET / HTTP/1.1\r\n\r\n").await,
            b"GET / HTTP/1.1\r\n\r\n"
        );
        assert_eq!(
            round_trip(&mut tunnel, &[0_u8, 255, 1, 254]).await,
            [0_u8, 255, 1, 254]
        );
        assert!(proxy
            .log()
            .contains(&format!("CONNECT 127.0.0.1:{}", target.port())));
    })
    .await;
}

#[tokio::test]
async fn tls_runs_end_to_end_through_the_tunnel() {
    bounded(async {
        let proxy = ProxyProcess::tinyproxy("BasicAuth alice s3cret");
        let TlsThroughTunnel {
            mut tls,
            target,
            mut accepted,
        } = TlsThroughTunnel::open(&proxy, &authed_proxy(&proxy)).await;
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(
            round_trip(&mut tls, b"secret through proxy").await,
            b"secret through proxy"
        );
        let seen = accepted.recv().await.unwrap().expect("server handshake ok");
        assert_eq!(seen.sni.as_deref(), Some("localhost"));
        assert!(proxy
            .log()
            .contains(&format!("CONNECT localhost:{}", target.port())));
    })
    .await;
}

#[tokio::test]
async fn wrong_credentials_are_rejected() {
    bounded(async {
        let target = tcp_echo().await;
        let proxy = ProxyProcess::tinyproxy("BasicAuth alice s3cret");
        let config =
            ProxyConfig::http("127.0.0.1", proxy.port).with_credentials("alice", "wrong-password");
        let error = refused_tunnel(&config, "127.0.0.1", target.port()).await;
        assert_credentials_rejected(&error, "wrong-password");
        // tinyproxy answers wrong credentials with 401 rather than 407.
        let message = error.to_string();
        assert!(
            message.contains("401") || message.contains("407"),
            "{message}"
        );
    })
    .await;
}

#[tokio::test]
async fn missing_credentials_ask_for_them() {
    bounded(async {
        let target = tcp_echo().await;
        let proxy = ProxyProcess::tinyproxy("BasicAuth alice s3cret");
        let config = ProxyConfig::http("127.0.0.1", proxy.port);
        let error = refused_tunnel(&config, "127.0.0.1", target.port()).await;
        assert_asks_for_credentials(&error);
    })
    .await;
}

#[tokio::test]
async fn port_not_allowed_by_connect_port_is_refused_with_403() {
    bounded(async {
        let target = tcp_echo().await;
        // Only 443 may be tunnelled; the echo server's port is not.
        let proxy = ProxyProcess::tinyproxy("BasicAuth alice s3cret\nConnectPort 443");
        let error = refused_tunnel(&authed_proxy(&proxy), "127.0.0.1", target.port()).await;
        let message = error.to_string();
        assert!(
            matches!(error, ProxyError::TargetRefused { .. }),
            "{error:?}"
        );
        assert!(message.contains("403"), "{message}");
        assert!(
            message.contains(&format!("127.0.0.1:{}", target.port())),
            "{message}"
        );
        assert!(message.contains("access rules"), "{message}");
    })
    .await;
}

#[tokio::test]
async fn unreachable_target_is_reported_by_the_proxy() {
    bounded(async {
        // A port that was free a moment ago has nothing listening.
        let closed_port = free_port();
        let proxy = ProxyProcess::tinyproxy("BasicAuth alice s3cret");
        let error = refused_tunnel(&authed_proxy(&proxy), "127.0.0.1", closed_port).await;
        // tinyproxy answers "500 Unable to connect".
        assert!(matches!(error, ProxyError::Rejected { .. }), "{error:?}");
        assert!(error.to_string().contains("500"), "{error}");
    })
    .await;
}

#[tokio::test]
async fn proxy_not_listening_is_a_connect_error_naming_the_proxy() {
    bounded(async {
        let closed_port = free_port();
        let config =
            ProxyConfig::http("127.0.0.1", closed_port).with_credentials("alice", "s3cret");
        let error = refused_tunnel(&config, "example.invalid", 443).await;
        let message = error.to_string();
        assert!(
            matches!(error, ProxyError::ConnectToProxy { .. }),
            "{error:?}"
        );
        assert!(
            message.contains(&format!("http://alice@127.0.0.1:{closed_port}")),
            "{message}"
        );
        assert!(!message.contains("s3cret"), "{message}");
    })
    .await;
}

#[tokio::test]
async fn a_silent_proxy_hits_the_timeout() {
    bounded(async {
        // Accepts TCP but never answers the CONNECT request.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let _held = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = silent.accept().await {
                held.push(stream);
            }
        });
        let config = ProxyConfig::http("127.0.0.1", port);
        let error = connect_tcp(&config, "127.0.0.1", 1, Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(error, ProxyError::Timeout { .. }), "{error:?}");
        assert!(error.to_string().contains("connect timeout"), "{error}");
    })
    .await;
}

#[tokio::test]
async fn ws_and_wss_through_tinyproxy_with_the_client_builder() {
    bounded(async {
        let proxy = ProxyProcess::tinyproxy("BasicAuth alice s3cret");
        let (plain_port, secure_port) = ws_and_wss_through(
            &proxy,
            authed_proxy(&proxy),
            "/through-proxy",
            "/tls-through-proxy",
        )
        .await;

        let log = proxy.log();
        assert!(
            log.contains(&format!("CONNECT localhost:{}", plain_port)),
            "{log}"
        );
        assert!(
            log.contains(&format!("CONNECT localhost:{}", secure_port)),
            "{log}"
        );
    })
    .await;
}

#[tokio::test]
async fn client_builder_surfaces_proxy_errors_typed() {
    bounded(async {
        let (plain, _outcomes) = ws_echo(None).await;
        let proxy = ProxyProcess::tinyproxy("BasicAuth alice s3cret");
        let url = format!("ws://127.0.0.1:{}/", plain.port());
        let error = ClientBuilder::new(url)
            .proxy(ProxyConfig::http("127.0.0.1", proxy.port).with_credentials("alice", "nope"))
            .connect()
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::Proxy(inner) if matches!(**inner, ProxyError::AuthRejected { .. })),
            "{error:?}"
        );
        assert!(error.to_string().contains("rejected the credentials"), "{error}");
    })
    .await;
}
