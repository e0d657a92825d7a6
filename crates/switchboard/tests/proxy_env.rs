//! Proxy discovery from environment variables, used against real proxies.
//! The variables are passed through `ProxyEnv::from_lookup`, so the tests
//! do not race on the process environment.

mod proxy_tunnel_support;

use proxy_tunnel_support::bounded;
use proxy_tunnel_support::echo::{round_trip, tcp_echo};
use proxy_tunnel_support::proxies::ProxyProcess;
use proxy_tunnel_support::tunnels::{connect_through, open_tunnel};
use switchboard::proxy::{ProxyEnv, ProxyError, ProxyMode, ProxyProtocol};

fn env_of(vars: Vec<(&'static str, String)>) -> ProxyEnv {
    ProxyEnv::from_lookup(move |name| {
        vars.iter()
            .find(|(candidate, _)| *candidate == name)
            .map(|(_, value)| value.clone())
    })
}

#[tokio::test]
async fn https_proxy_from_the_environment_is_used_for_wss_targets() {
    bounded(async {
        let target = tcp_echo().await;
        let tinyproxy = ProxyProcess::tinyproxy("BasicAuth alice p-ss.x_y");
        let microsocks = ProxyProcess::microsocks(None);
        let env = env_of(vec![
            // The password is percent-encoded (%2D is '-'): it only matches
            // if the URL's user info is decoded.
            (
                "https_proxy",
                format!("http://alice:p%2Dss.x_y@127.0.0.1:{}", tinyproxy.port),
            ),
            ("HTTPS_PROXY", "http://127.0.0.1:1".to_owned()),
            (
                "http_proxy",
                format!("socks5h://127.0.0.1:{}", microsocks.port),
            ),
        ]);

        let secure = env
            .proxy_for(true, "localhost", target.port())
            .unwrap()
            .expect("a proxy");
        assert_eq!(secure.protocol(), ProxyProtocol::HttpConnect);
        let mut tunnel = open_tunnel(&tinyproxy, &secure, "localhost", target.port()).await;
        assert_eq!(round_trip(&mut tunnel, b"wss route").await, b"wss route");

        let plain = env
            .proxy_for(false, "localhost", target.port())
            .unwrap()
            .expect("a proxy");
        assert_eq!(
            plain.protocol(),
            ProxyProtocol::Socks5 {
                resolve_at_proxy: true
            }
        );
        let mut tunnel = connect_through(&plain, "localhost", target.port())
            .await
            .unwrap();
        assert_eq!(round_trip(&mut tunnel, b"ws route").await, b"ws route");
    })
    .await;
}

#[tokio::test]
async fn all_proxy_and_no_proxy_follow_curl() {
    let env = env_of(vec![
        ("ALL_PROXY", "socks5://127.0.0.1:1080".to_owned()),
        (
            "no_proxy",
            ".internal.test, 10.0.0.0/8, localhost:9000".to_owned(),
        ),
    ]);
    let via = |secure, host: &str, port| env.proxy_for(secure, host, port).unwrap();
    assert!(via(true, "example.com", 443).is_some());
    assert!(via(false, "example.com", 80).is_some());
    assert!(via(true, "ws.internal.test", 443).is_none());
    assert!(via(true, "10.1.2.3", 443).is_none());
    assert!(via(true, "localhost", 9000).is_none());
    assert!(via(true, "localhost", 9001).is_some());
}

#[test]
fn a_malformed_variable_is_reported_not_ignored() {
    let env = env_of(vec![(
        "https_proxy",
        "https://proxy.example:443".to_owned(),
    )]);
    let error = env.proxy_for(true, "example.com", 443).unwrap_err();
    assert!(
        matches!(
            error,
            ProxyError::InvalidProxyEnv {
                variable: "https_proxy",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("unset it"), "{error}");
}

#[test]
fn explicit_and_disabled_modes_ignore_the_environment() {
    let explicit = switchboard::proxy::ProxyConfig::socks5h("127.0.0.1", 1080);
    let mode = ProxyMode::from(explicit.clone());
    assert_eq!(
        mode.resolve(true, "example.com", 443).unwrap(),
        Some(explicit)
    );
    assert_eq!(
        ProxyMode::Disabled
            .resolve(true, "example.com", 443)
            .unwrap(),
        None
    );
    assert_eq!(ProxyMode::default(), ProxyMode::FromEnvironment);
}
