//! `ClientBuilder` discovers proxies from the environment by default.
//!
//! This binary holds exactly one test because it changes the process
//! environment, which must not race with other threads reading it.

mod proxy_tunnel_support;

use proxy_tunnel_support::proxies::ProxyProcess;
use proxy_tunnel_support::ws_echo::{exchange_and_close, ws_echo};
use proxy_tunnel_support::{acceptor_for, bounded, client_trusting};
use switchboard::ClientBuilder;
use switchboard_testkit::pki::TestPki;

fn connect_count(proxy: &ProxyProcess, port: u16) -> usize {
    proxy
        .log()
        .matches(&format!("CONNECT localhost:{port}"))
        .count()
}

#[tokio::test]
async fn client_builder_reads_proxy_variables_like_curl() {
    bounded(async {
        let pki = TestPki::new();
        let (plain, _plain_outcomes) = ws_echo(None).await;
        let (secure, _secure_outcomes) = ws_echo(Some(acceptor_for(&pki))).await;
        let http_proxy = ProxyProcess::tinyproxy("BasicAuth alice s3cret");
        let https_proxy = ProxyProcess::tinyproxy("");
        let tls = client_trusting(&pki);

        for name in [
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
            "no_proxy",
            "NO_PROXY",
        ] {
            std::env::remove_var(name);
        }
        std::env::set_var(
            "http_proxy",
            format!("http://alice:s3cret@127.0.0.1:{}", http_proxy.port),
        );
        std::env::set_var("HTTPS_PROXY", format!("127.0.0.1:{}", https_proxy.port));

        // ws:// goes through http_proxy, wss:// through HTTPS_PROXY.
        let (mut ws, _) = ClientBuilder::new(format!("ws://localhost:{}/", plain.port()))
            .connect()
            .await
            .unwrap();
        exchange_and_close(&mut ws).await;
        assert_eq!(
            connect_count(&http_proxy, plain.port()),
            1,
            "{}",
            http_proxy.log()
        );

        let (mut ws, _) = ClientBuilder::new(format!("wss://localhost:{}/", secure.port()))
            .tls_config(tls.clone())
            .connect()
            .await
            .unwrap();
        exchange_and_close(&mut ws).await;
        assert_eq!(
            connect_count(&https_proxy, secure.port()),
            1,
            "{}",
            https_proxy.log()
        );

        // no_proxy sends both directly: the proxies see nothing new.
        std::env::set_var("no_proxy", "example.invalid, .localhost, localhost");
        let (mut ws, _) = ClientBuilder::new(format!("ws://localhost:{}/", plain.port()))
            .connect()
            .await
            .unwrap();
        exchange_and_close(&mut ws).await;
        let (mut ws, _) = ClientBuilder::new(format!("wss://localhost:{}/", secure.port()))
            .tls_config(tls)
            .connect()
            .await
            .unwrap();
        exchange_and_close(&mut ws).await;
        assert_eq!(connect_count(&http_proxy, plain.port()), 1);
        assert_eq!(connect_count(&https_proxy, secure.port()), 1);

        // A malformed variable is an error, not a silent direct connection.
        std::env::remove_var("no_proxy");
        std::env::set_var("http_proxy", "ftp://127.0.0.1:21");
        let error = ClientBuilder::new(format!("ws://localhost:{}/", plain.port()))
            .connect()
            .await
            .unwrap_err();
        assert!(matches!(error, switchboard::Error::Proxy(_)), "{error:?}");
        assert!(error.to_string().contains("http_proxy"), "{error}");

        for name in ["http_proxy", "HTTPS_PROXY"] {
            std::env::remove_var(name);
        }
    })
    .await;
}
