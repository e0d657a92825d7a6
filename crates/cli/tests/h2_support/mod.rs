//! Shared by `serve_h2.rs` and `interop_chromium_h2.rs`: a TLS
//! `switchboard serve`, a client TLS configuration trusting it, and the
//! per-HTTP-version WebSocket counters of `/metrics`.
#![allow(dead_code)]

use switchboard::tls::TlsClientConfig;
use switchboard_testkit::pki::TestPki;

use crate::common::Server;

pub fn tls_server(pki: &TestPki) -> Server {
    Server::start(&[
        "--tls-cert",
        pki.chain_path().to_str().unwrap(),
        "--tls-key",
        pki.key_path().to_str().unwrap(),
    ])
}

pub fn trusting(pki: &TestPki) -> TlsClientConfig {
    TlsClientConfig::new()
        .without_builtin_roots()
        .add_root_certificates_pem(pki.ca_pem.as_bytes())
        .unwrap()
}

/// The value of an OpenMetrics counter on the server's `/metrics` page.
pub async fn counter(server: &Server, pki: Option<&TestPki>, name: &str) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let mut page = Vec::new();
    match pki {
        Some(pki) => {
            let config = trusting(pki).alpn_protocols(vec![b"http/1.1".to_vec()]);
            let mut tls = switchboard::tls::wrap_client(tcp, &config, "localhost")
                .await
                .unwrap();
            tls.write_all(request).await.unwrap();
            let _ = tls.read_to_end(&mut page).await;
        }
        None => {
            let mut tcp = tcp;
            tcp.write_all(request).await.unwrap();
            let _ = tcp.read_to_end(&mut page).await;
        }
    }
    let page = String::from_utf8_lossy(&page);
    let line = format!("switchboard_hub_{name}_total ");
    page.lines()
        .find_map(|l| l.strip_prefix(&line))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} on /metrics: {page}"))
}
