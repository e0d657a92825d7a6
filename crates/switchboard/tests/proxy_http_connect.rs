//! HTTP CONNECT tunnels through a real tinyproxy on 127.0.0.1: plain and
//! TLS traffic, Basic auth, and the proxy's refusals as typed errors.

mod net_fixtures;

use std::time::Duration;

use net_fixtures::bounded;
use net_fixtures::echo::{round_trip, tcp_echo, tls_echo};
use net_fixtures::proxies::ProxyProcess;
use net_fixtures::ws_echo::{exchange_and_close, ws_echo};
use switchboard::proxy::{connect_tcp, ProxyConfig, ProxyError};
use switchboard::tls::{wrap_client, TlsAcceptor, TlsClientConfig};
use switchboard::{ClientBuilder, Error};
use switchboard_testkit::pki::TestPki;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
        let mut tunnel = connect_tcp(
            &authed_proxy(&proxy),
            "127.0.0.1",
            target.port(),
            CONNECT_TIMEOUT,
        )
        .await
        .unwrap_or_else(|error| panic!("{error}\nproxy log:\n{}", proxy.log()));
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
        let pki = TestPki::new();
        let acceptor = TlsAcceptor::from_pem_files(pki.chain_path(), pki.key_path()).unwrap();
        let (target, mut accepted) = tls_echo(acceptor).await;
        let proxy = ProxyProcess::tinyproxy("BasicAuth alice s3cret");
        // The host name goes to the proxy; the certificate is checked for it
        // by the client, end to end.
        let tunnel = connect_tcp(
            &authed_proxy(&proxy),
            "localhost",
            target.port(),
            CONNECT_TIMEOUT,
        )
        .await
        .unwrap_or_else(|error| panic!("{error}\nproxy log:\n{}", proxy.log()));
        let config = TlsClientConfig::new()
            .add_root_certificates_pem_file(pki.ca_path())
            .unwrap();
        let mut tls = wrap_client(tunnel, &config, "localhost").await.unwrap();
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
        let error = connect_tcp(&config, "127.0.0.1", target.port(), CONNECT_TIMEOUT)
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, ProxyError::AuthRejected { .. }),
            "{error:?}"
        );
        // tinyproxy answers wrong credentials with 401 rather than 407.
        assert!(
            message.contains("401") || message.contains("407"),
            "{message}"
        );
        assert!(
            message.contains("check the user name and password"),
            "{message}"
        );
        assert!(
            !message.contains("wrong-password"),
            "password leaked: {message}"
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
        let error = connect_tcp(&config, "127.0.0.1", target.port(), CONNECT_TIMEOUT)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ProxyError::AuthRequired { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("user:password@"), "{error}");
    })
    .await;
}

#[tokio::test]
async fn port_not_allowed_by_connect_port_is_refused_with_403() {
    bounded(async {
        let target = tcp_echo().await;
        // Only 443 may be tunnelled; the echo server's port is not.
        let proxy = ProxyProcess::tinyproxy("BasicAuth alice s3cret\nConnectPort 443");
        let error = connect_tcp(
            &authed_proxy(&proxy),
            "127.0.0.1",
            target.port(),
            CONNECT_TIMEOUT,
        )
        .await
        .unwrap_err();
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
        // Bind and drop to find a port with nothing listening.
        let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let proxy = ProxyProcess::tinyproxy("BasicAuth alice s3cret");
        let error = connect_tcp(
            &authed_proxy(&proxy),
            "127.0.0.1",
            closed_port,
            CONNECT_TIMEOUT,
        )
        .await
        .unwrap_err();
        // tinyproxy answers "500 Unable to connect".
        assert!(matches!(error, ProxyError::Rejected { .. }), "{error:?}");
        assert!(error.to_string().contains("500"), "{error}");
    })
    .await;
}

#[tokio::test]
async fn proxy_not_listening_is_a_connect_error_naming_the_proxy() {
    bounded(async {
        let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config =
            ProxyConfig::http("127.0.0.1", closed_port).with_credentials("alice", "s3cret");
        let error = connect_tcp(&config, "example.invalid", 443, CONNECT_TIMEOUT)
            .await
            .unwrap_err();
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
        let pki = TestPki::new();
        let acceptor = TlsAcceptor::from_pem_files(pki.chain_path(), pki.key_path()).unwrap();
        let (plain, mut plain_outcomes) = ws_echo(None).await;
        let (secure, mut secure_outcomes) = ws_echo(Some(acceptor)).await;
        let proxy = ProxyProcess::tinyproxy("BasicAuth alice s3cret");

        let url = format!("ws://localhost:{}/through-proxy", plain.port());
        let (mut ws, _) = ClientBuilder::new(url)
            .proxy(authed_proxy(&proxy))
            .connect()
            .await
            .unwrap_or_else(|error| panic!("{error}\n{}", proxy.log()));
        exchange_and_close(&mut ws).await;
        assert_eq!(
            plain_outcomes.recv().await.unwrap(),
            Ok("/through-proxy".to_owned())
        );

        let url = format!("wss://localhost:{}/tls-through-proxy", secure.port());
        let tls = TlsClientConfig::new()
            .add_root_certificates_pem_file(pki.ca_path())
            .unwrap();
        let (mut ws, _) = ClientBuilder::new(url)
            .proxy(authed_proxy(&proxy))
            .tls_config(tls)
            .connect()
            .await
            .unwrap_or_else(|error| panic!("{error}\n{}", proxy.log()));
        assert!(ws.get_ref().is_tls());
        exchange_and_close(&mut ws).await;
        assert_eq!(
            secure_outcomes.recv().await.unwrap(),
            Ok("/tls-through-proxy".to_owned())
        );

        let log = proxy.log();
        assert!(
            log.contains(&format!("CONNECT localhost:{}", plain.port())),
            "{log}"
        );
        assert!(
            log.contains(&format!("CONNECT localhost:{}", secure.port())),
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
