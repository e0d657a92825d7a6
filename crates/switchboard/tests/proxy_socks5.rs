//! SOCKS5 tunnels through real servers on 127.0.0.1: microsocks (with
//! RFC 1929 username/password) and dante (with access rules).

mod proxy_tunnel_support;

use proxy_tunnel_support::bounded;
use proxy_tunnel_support::echo::{round_trip, tcp_echo};
use proxy_tunnel_support::proxies::ProxyProcess;
use proxy_tunnel_support::tunnels::{
    assert_asks_for_credentials, assert_credentials_rejected, connect_through, open_tunnel,
    refused_tunnel, ws_and_wss_through, TlsThroughTunnel,
};
use proxy_tunnel_support::ws_echo::ws_echo;
use switchboard::proxy::{ProxyConfig, ProxyError};
use switchboard::{ClientBuilder, Error};
use switchboard_testkit::free_port;

#[tokio::test]
async fn socks5h_with_credentials_resolves_the_name_at_the_proxy() {
    bounded(async {
        let target = tcp_echo().await;
        let proxy = ProxyProcess::microsocks(Some(("bob", "hunter2")));
        let config =
            ProxyConfig::socks5h("127.0.0.1", proxy.port).with_credentials("bob", "hunter2");
        // "localhost" travels as a SOCKS5 domain name (address type 3).
        let mut tunnel = open_tunnel(&proxy, &config, "localhost", target.port()).await;
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
            let mut tunnel = connect_through(&config, "127.0.0.1", target.port())
                .await
                .unwrap_or_else(|error| panic!("{config}: {error}"));
            assert_eq!(round_trip(&mut tunnel, b"via ip").await, b"via ip");
        }
        // socks5:// resolves locally and sends an address.
        let config = ProxyConfig::socks5("127.0.0.1", proxy.port);
        let mut tunnel = connect_through(&config, "localhost", target.port())
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
        let proxy = ProxyProcess::microsocks(Some(("bob", "hunter2")));
        let config =
            ProxyConfig::socks5h("127.0.0.1", proxy.port).with_credentials("bob", "hunter2");
        let TlsThroughTunnel {
            mut tls,
            mut accepted,
            ..
        } = TlsThroughTunnel::open(&proxy, &config).await;
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
        let error = refused_tunnel(&config, "127.0.0.1", target.port()).await;
        assert_credentials_rejected(&error, "wrong");
    })
    .await;
}

#[tokio::test]
async fn missing_credentials_ask_for_them() {
    bounded(async {
        let target = tcp_echo().await;
        let proxy = ProxyProcess::microsocks(Some(("bob", "hunter2")));
        let config = ProxyConfig::socks5h("127.0.0.1", proxy.port);
        let error = refused_tunnel(&config, "127.0.0.1", target.port()).await;
        assert_asks_for_credentials(&error);
    })
    .await;
}

#[tokio::test]
async fn dante_tunnels_allowed_targets() {
    bounded(async {
        let target = tcp_echo().await;
        let proxy = ProxyProcess::dante("");
        let config = ProxyConfig::socks5h("127.0.0.1", proxy.port);
        let mut tunnel = open_tunnel(&proxy, &config, "localhost", target.port()).await;
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
        let error = refused_tunnel(&config, "127.0.0.1", target.port()).await;
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
        let closed_port = free_port();
        let proxy = ProxyProcess::dante("");
        let config = ProxyConfig::socks5h("127.0.0.1", proxy.port);
        let error = refused_tunnel(&config, "127.0.0.1", closed_port).await;
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
        let proxy = ProxyProcess::microsocks(Some(("bob", "hunter2")));
        let socks =
            ProxyConfig::socks5h("127.0.0.1", proxy.port).with_credentials("bob", "hunter2");
        ws_and_wss_through(&proxy, socks, "/socks-plain", "/socks-tls").await;
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
