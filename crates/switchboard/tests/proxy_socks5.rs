//! SOCKS5 tunnels through real servers on 127.0.0.1: microsocks (with
//! RFC 1929 username/password) and dante (with access rules).

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

#[tokio::test]
async fn socks5h_with_credentials_resolves_the_name_at_the_proxy() {
    bounded(async {
        let target = tcp_echo().await;
        let proxy = ProxyProcess::microsocks(Some(("bob", "hunter2")));
        let config =
            ProxyConfig::socks5h("127.0.0.1", proxy.port).with_credentials("bob", "hunter2");
        // "localhost" travels as a SOCKS5 domain name (address type 3).
        let mut tunnel = connect_tcp(&config, "localhost", target.port(), CONNECT_TIMEOUT)
            .await
            .unwrap_or_else(|error| panic!("{error}\nproxy log:\n{}", proxy.log()));
        assert_eq!(
            round_trip(&mut tunnel, b"via socks5h").await,
            b"via socks5h"
        );
    })
    .await;
}

#[tokio::test]
async fn socks5_with_ip_target_and_no_auth() {
    bounded(async {
        let target = tcp_echo().await;
        let proxy = ProxyProcess::microsocks(None);
        for config in [
            ProxyConfig::socks5("127.0.0.1", proxy.port),
            ProxyConfig::socks5h("127.0.0.1", proxy.port),
        ] {
            let mut tunnel = connect_tcp(&config, "127.0.0.1", target.port(), CONNECT_TIMEOUT)
                .await
                .unwrap_or_else(|error| panic!("{config}: {error}"));
            assert_eq!(round_trip(&mut tunnel, b"via ip").await, b"via ip");
        }
        // socks5:// resolves locally and sends an address.
        let config = ProxyConfig::socks5("127.0.0.1", proxy.port);
        let mut tunnel = connect_tcp(&config, "localhost", target.port(), CONNECT_TIMEOUT)
            .await
            .unwrap();
        assert_eq!(
            round_trip(&mut tunnel, b"resolved here").await,
            b"resolved here"
        );
    })
    .await;
}

#[tokio::test]
async fn tls_runs_end_to_end_through_socks5() {
    bounded(async {
        let pki = TestPki::new();
        let acceptor = TlsAcceptor::from_pem_files(pki.chain_path(), pki.key_path()).unwrap();
        let (target, mut accepted) = tls_echo(acceptor).await;
        let proxy = ProxyProcess::microsocks(Some(("bob", "hunter2")));
        let config =
            ProxyConfig::socks5h("127.0.0.1", proxy.port).with_credentials("bob", "hunter2");
        let tunnel = connect_tcp(&config, "localhost", target.port(), CONNECT_TIMEOUT)
            .await
            .unwrap();
        let tls_config = TlsClientConfig::new()
            .add_root_certificates_pem_file(pki.ca_path())
            .unwrap();
        let mut tls = wrap_client(tunnel, &tls_config, "localhost").await.unwrap();
        assert_eq!(round_trip(&mut tls, b"tls in socks").await, b"tls in socks");
        let seen = accepted.recv().await.unwrap().expect("server handshake ok");
        assert_eq!(seen.sni.as_deref(), Some("localhost"));
    })
    .await;
}

#[tokio::test]
async fn wrong_password_is_an_auth_failure() {
    bounded(async {
        let target = tcp_echo().await;
        let proxy = ProxyProcess::microsocks(Some(("bob", "hunter2")));
        let config = ProxyConfig::socks5h("127.0.0.1", proxy.port).with_credentials("bob", "wrong");
        let error = connect_tcp(&config, "127.0.0.1", target.port(), CONNECT_TIMEOUT)
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, ProxyError::AuthRejected { .. }),
            "{error:?}"
        );
        assert!(
            message.contains("check the user name and password"),
            "{message}"
        );
        assert!(!message.contains("wrong"), "password leaked: {message}");
    })
    .await;
}

#[tokio::test]
async fn missing_credentials_ask_for_them() {
    bounded(async {
        let target = tcp_echo().await;
        let proxy = ProxyProcess::microsocks(Some(("bob", "hunter2")));
        let config = ProxyConfig::socks5h("127.0.0.1", proxy.port);
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
async fn dante_tunnels_allowed_targets() {
    bounded(async {
        let target = tcp_echo().await;
        let proxy = ProxyProcess::dante("");
        let config = ProxyConfig::socks5h("127.0.0.1", proxy.port);
        let mut tunnel = connect_tcp(&config, "localhost", target.port(), CONNECT_TIMEOUT)
            .await
            .unwrap_or_else(|error| panic!("{error}\nproxy log:\n{}", proxy.log()));
        assert_eq!(round_trip(&mut tunnel, b"via dante").await, b"via dante");
    })
    .await;
}

#[tokio::test]
async fn dante_rule_blocking_the_target_is_target_refused() {
    bounded(async {
        let target = tcp_echo().await;
        let proxy = ProxyProcess::dante(&format!(
            "socks block {{ from: 0.0.0.0/0 to: 127.0.0.1/32 port = {} log: connect error }}",
            target.port()
        ));
        let config = ProxyConfig::socks5h("127.0.0.1", proxy.port);
        let error = connect_tcp(&config, "127.0.0.1", target.port(), CONNECT_TIMEOUT)
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, ProxyError::TargetRefused { .. }),
            "{error:?}\n{}",
            proxy.log()
        );
        assert!(message.contains("not allowed by ruleset"), "{message}");
        assert!(message.contains("access rules"), "{message}");
    })
    .await;
}

#[tokio::test]
async fn dante_reports_a_closed_target_port_as_unreachable() {
    bounded(async {
        let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let proxy = ProxyProcess::dante("");
        let config = ProxyConfig::socks5h("127.0.0.1", proxy.port);
        let error = connect_tcp(&config, "127.0.0.1", closed_port, CONNECT_TIMEOUT)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ProxyError::TargetUnreachable { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("connection refused"), "{error}");
    })
    .await;
}

#[tokio::test]
async fn ws_and_wss_through_socks5_with_the_client_builder() {
    bounded(async {
        let pki = TestPki::new();
        let acceptor = TlsAcceptor::from_pem_files(pki.chain_path(), pki.key_path()).unwrap();
        let (plain, mut plain_outcomes) = ws_echo(None).await;
        let (secure, mut secure_outcomes) = ws_echo(Some(acceptor)).await;
        let proxy = ProxyProcess::microsocks(Some(("bob", "hunter2")));
        let socks =
            ProxyConfig::socks5h("127.0.0.1", proxy.port).with_credentials("bob", "hunter2");

        let url = format!("ws://localhost:{}/socks-plain", plain.port());
        let (mut ws, _) = ClientBuilder::new(url)
            .proxy(socks.clone())
            .connect()
            .await
            .unwrap();
        exchange_and_close(&mut ws).await;
        assert_eq!(
            plain_outcomes.recv().await.unwrap(),
            Ok("/socks-plain".to_owned())
        );

        let url = format!("wss://localhost:{}/socks-tls", secure.port());
        let tls = TlsClientConfig::new()
            .add_root_certificates_pem_file(pki.ca_path())
            .unwrap();
        let (mut ws, _) = ClientBuilder::new(url)
            .proxy(socks)
            .tls_config(tls)
            .connect()
            .await
            .unwrap();
        assert!(ws.get_ref().is_tls());
        exchange_and_close(&mut ws).await;
        assert_eq!(
            secure_outcomes.recv().await.unwrap(),
            Ok("/socks-tls".to_owned())
        );
    })
    .await;
}

#[tokio::test]
async fn client_builder_surfaces_socks_refusals_typed() {
    bounded(async {
        let (plain, _outcomes) = ws_echo(None).await;
        let proxy = ProxyProcess::dante(&format!(
            "socks block {{ from: 0.0.0.0/0 to: 127.0.0.1/32 port = {} log: connect error }}",
            plain.port()
        ));
        let url = format!("ws://127.0.0.1:{}/", plain.port());
        let error = ClientBuilder::new(url)
            .proxy(ProxyConfig::socks5h("127.0.0.1", proxy.port))
            .connect()
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::Proxy(inner) if matches!(**inner, ProxyError::TargetRefused { .. })),
            "{error:?}"
        );
    })
    .await;
}
