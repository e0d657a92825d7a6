//! TLS in both roles with certificates generated at test time: trusted,
//! untrusted, wrong host name, explicit opt-out, and PEM loading errors.

mod proxy_tunnel_support;

use proxy_tunnel_support::echo::{round_trip, tls_echo};
use proxy_tunnel_support::ws_echo::{exchange_and_close, ws_echo};
use proxy_tunnel_support::{acceptor_for, bounded, client_trusting};
use switchboard::proxy::ProxyMode;
use switchboard::tls::{wrap_client, MaybeTlsStream, TlsAcceptor, TlsClientConfig, TlsError};
use switchboard::{ClientBuilder, Error};
use switchboard_testkit::pki::TestPki;
use tokio::net::TcpStream;

#[tokio::test]
async fn trusted_handshake_sends_sni_and_negotiates_http11() {
    bounded(async {
        let pki = TestPki::new();
        let acceptor = acceptor_for(&pki);
        let (addr, mut accepted) = tls_echo(acceptor).await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = wrap_client(tcp, &client_trusting(&pki), "localhost")
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(round_trip(&mut tls, b"over tls").await, b"over tls");
        let seen = accepted.recv().await.unwrap().expect("server handshake ok");
        assert_eq!(seen.alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert_eq!(seen.sni.as_deref(), Some("localhost"));
    })
    .await;
}

#[tokio::test]
async fn ip_address_names_are_verified_against_ip_sans() {
    bounded(async {
        let pki = TestPki::new();
        let acceptor =
            TlsAcceptor::from_pem(pki.chain_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap();
        let (addr, mut accepted) = tls_echo(acceptor).await;
        let config = TlsClientConfig::new()
            .without_builtin_roots()
            .add_root_certificates_pem(pki.ca_pem.as_bytes())
            .unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = wrap_client(tcp, &config, "127.0.0.1").await.unwrap();
        assert_eq!(round_trip(&mut tls, b"by ip").await, b"by ip");
        // RFC 6066 §3: no SNI for IP literals.
        assert_eq!(accepted.recv().await.unwrap().unwrap().sni, None);
    })
    .await;
}

#[tokio::test]
async fn untrusted_certificate_fails_with_a_clear_error_on_both_sides() {
    bounded(async {
        let server_pki = TestPki::new();
        let other_pki = TestPki::new();
        let acceptor =
            TlsAcceptor::from_pem_files(server_pki.chain_path(), server_pki.key_path()).unwrap();
        let (addr, mut accepted) = tls_echo(acceptor).await;

        // Trusting only the webpki roots, and trusting a different CA.
        let webpki_only = TlsClientConfig::new().with_webpki_roots();
        for config in [webpki_only, client_trusting(&other_pki)] {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let error = wrap_client(tcp, &config, "localhost").await.unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error, TlsError::UntrustedCertificate { .. }),
                "{error:?}"
            );
            assert!(message.contains("localhost"), "{message}");
            assert!(message.contains("not trusted"), "{message}");
            assert!(
                message.contains("add_root_certificates_pem_file"),
                "{message}"
            );

            let server_error = accepted.recv().await.unwrap().unwrap_err();
            assert!(
                matches!(server_error, TlsError::AlertReceived { .. }),
                "{server_error:?}"
            );
            // Unknown CA, or (same CA name, other key) a failed signature check.
            let server_message = server_error.to_string();
            assert!(server_message.contains("client"), "{server_message}");
            assert!(server_message.contains("CA"), "{server_message}");
        }
    })
    .await;
}

#[tokio::test]
async fn wrong_hostname_fails_with_a_clear_error() {
    bounded(async {
        let pki = TestPki::for_names(&["ws.example.test"]);
        let acceptor = acceptor_for(&pki);
        let (addr, _accepted) = tls_echo(acceptor).await;
        for name in ["localhost", "127.0.0.1", "other.example.test"] {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let error = wrap_client(tcp, &client_trusting(&pki), name)
                .await
                .unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error, TlsError::HostnameMismatch { .. }),
                "{name}: {error:?}"
            );
            assert!(
                message.contains(&format!("not valid for `{name}`")),
                "{message}"
            );
            assert!(message.contains("subjectAltName"), "{message}");
        }
        // The right name works with the same CA.
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = wrap_client(tcp, &client_trusting(&pki), "ws.example.test")
            .await
            .unwrap();
        assert_eq!(round_trip(&mut tls, b"named").await, b"named");
    })
    .await;
}

#[tokio::test]
async fn disabling_verification_is_explicit_and_accepts_anything() {
    bounded(async {
        let pki = TestPki::for_names(&["ws.example.test"]);
        let acceptor = acceptor_for(&pki);
        let (addr, _accepted) = tls_echo(acceptor).await;
        let config = TlsClientConfig::new().dangerous_disable_certificate_verification();
        assert!(!config.verifies_certificates());
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = wrap_client(tcp, &config, "wrong.name").await.unwrap();
        assert_eq!(round_trip(&mut tls, b"unverified").await, b"unverified");
    })
    .await;
}

#[tokio::test]
async fn tls_client_against_a_plain_server_fails_cleanly() {
    bounded(async {
        let addr = proxy_tunnel_support::echo::tcp_echo().await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        // The echo server reflects the ClientHello, which is not a ServerHello.
        let error = wrap_client(tcp, &TlsClientConfig::new(), "localhost")
            .await
            .unwrap_err();
        assert!(matches!(error, TlsError::Handshake { .. }), "{error:?}");
        assert!(error.to_string().contains("speaks TLS"), "{error}");
    })
    .await;
}

#[tokio::test]
async fn maybe_tls_stream_carries_both_plain_and_tls() {
    bounded(async {
        let plain_addr = proxy_tunnel_support::echo::tcp_echo().await;
        let mut plain = MaybeTlsStream::Plain(TcpStream::connect(plain_addr).await.unwrap());
        assert!(!plain.is_tls());
        assert_eq!(plain.alpn_protocol(), None);
        assert_eq!(round_trip(&mut plain, b"plain").await, b"plain");

        let pki = TestPki::new();
        let acceptor = acceptor_for(&pki);
        let (addr, _accepted) = tls_echo(acceptor).await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let tls = wrap_client(tcp, &client_trusting(&pki), "localhost")
            .await
            .unwrap();
        let mut wrapped = MaybeTlsStream::from(tls);
        assert!(wrapped.is_tls());
        assert_eq!(wrapped.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(wrapped.get_ref().peer_addr().unwrap(), addr);
        assert_eq!(round_trip(&mut wrapped, b"tls").await, b"tls");
    })
    .await;
}

#[test]
fn server_pem_errors_say_which_file_and_what_is_wrong() {
    let pki = TestPki::new();
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("missing.pem");
    let error = TlsAcceptor::from_pem_files(&missing, pki.key_path()).unwrap_err();
    assert!(matches!(error, TlsError::ReadFile { .. }), "{error:?}");
    assert!(error.to_string().contains("missing.pem"), "{error}");

    // A key file given where the chain belongs holds no certificate.
    let error = TlsAcceptor::from_pem_files(pki.key_path(), pki.key_path()).unwrap_err();
    assert!(matches!(error, TlsError::MissingPem { .. }), "{error:?}");
    assert!(error.to_string().contains("BEGIN CERTIFICATE"), "{error}");

    // And the other way round.
    let error = TlsAcceptor::from_pem_files(pki.chain_path(), pki.chain_path()).unwrap_err();
    assert!(matches!(error, TlsError::MissingPem { .. }), "{error:?}");
    assert!(error.to_string().contains("PRIVATE KEY"), "{error}");

    let garbled = dir.path().join("garbled.pem");
    std::fs::write(
        &garbled,
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let error = TlsAcceptor::from_pem_files(&garbled, pki.key_path()).unwrap_err();
    assert!(matches!(error, TlsError::InvalidPem { .. }), "{error:?}");
    assert!(error.to_string().contains("garbled.pem"), "{error}");

    // A key that does not belong to the certificate.
    let other = TestPki::new();
    let error = TlsAcceptor::from_pem_files(pki.chain_path(), other.key_path()).unwrap_err();
    assert!(matches!(error, TlsError::Config { .. }), "{error:?}");
    assert!(error.to_string().contains("private key"), "{error}");
}

/// A client for `url` that trusts `pki` and ignores any proxy environment.
fn wss_client(url: String, pki: &TestPki) -> ClientBuilder {
    ClientBuilder::new(url)
        .tls_config(client_trusting(pki))
        .proxy_mode(ProxyMode::Disabled)
}

#[tokio::test]
async fn wss_client_and_server_exchange_messages() {
    bounded(async {
        let pki = TestPki::new();
        let acceptor = acceptor_for(&pki);
        let (addr, mut outcomes) = ws_echo(Some(acceptor)).await;
        for host in ["localhost", "127.0.0.1"] {
            let url = format!("wss://{host}:{}/secure/chat", addr.port());
            let (mut ws, response) = wss_client(url, &pki).connect().await.unwrap();
            assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
            assert!(ws.get_ref().is_tls());
            assert_eq!(ws.get_ref().alpn_protocol(), Some(&b"http/1.1"[..]));
            exchange_and_close(&mut ws).await;
            assert_eq!(
                outcomes.recv().await.unwrap(),
                Ok("/secure/chat".to_owned())
            );
        }
    })
    .await;
}

#[tokio::test]
async fn wss_connect_reports_untrusted_and_mismatched_certificates() {
    bounded(async {
        let pki = TestPki::for_names(&["ws.example.test"]);
        let acceptor = acceptor_for(&pki);
        let (addr, mut outcomes) = ws_echo(Some(acceptor)).await;

        // Default roots (webpki, or the OS store with `native-roots`): the
        // private CA is unknown.
        let url = format!("wss://127.0.0.1:{}/", addr.port());
        let error = ClientBuilder::new(url.clone())
            .proxy_mode(ProxyMode::Disabled)
            .connect()
            .await
            .unwrap_err();
        assert!(
            matches!(&error, Error::Tls(tls) if matches!(**tls, TlsError::UntrustedCertificate { .. })),
            "{error:?}"
        );
        assert!(error.to_string().contains("not trusted"), "{error}");
        let server_side = outcomes.recv().await.unwrap().unwrap_err();
        assert!(server_side.contains("aborted the handshake"), "{server_side}");

        // Trusted CA, but the certificate does not name 127.0.0.1.
        let error = wss_client(url, &pki).connect().await.unwrap_err();
        assert!(
            matches!(&error, Error::Tls(tls) if matches!(**tls, TlsError::HostnameMismatch { .. })),
            "{error:?}"
        );
        assert!(error.to_string().contains("not valid for `127.0.0.1`"), "{error}");
    })
    .await;
}

#[tokio::test]
async fn wss_client_against_a_plain_ws_server_fails_with_a_tls_error() {
    bounded(async {
        let (addr, mut outcomes) = ws_echo(None).await;
        let url = format!("wss://localhost:{}/", addr.port());
        let error = ClientBuilder::new(url)
            .proxy_mode(ProxyMode::Disabled)
            .connect()
            .await
            .unwrap_err();
        // The server answers the ClientHello with an HTTP 400 at once, which
        // is not a TLS record.
        assert!(
            matches!(&error, Error::Tls(tls) if matches!(**tls, TlsError::Handshake { .. })),
            "{error:?}"
        );
        assert!(error.to_string().contains("speaks TLS"), "{error}");
        let server_side = outcomes.recv().await.unwrap().unwrap_err();
        assert!(server_side.contains("handshake"), "{server_side}");
    })
    .await;
}

#[tokio::test]
async fn server_without_tls_serves_plain_ws_through_the_same_path() {
    bounded(async {
        let (addr, mut outcomes) = ws_echo(None).await;
        let url = format!("ws://127.0.0.1:{}/plain", addr.port());
        let (mut ws, _) = ClientBuilder::new(url)
            .proxy_mode(ProxyMode::Disabled)
            .connect()
            .await
            .unwrap();
        assert!(!ws.get_ref().is_tls());
        exchange_and_close(&mut ws).await;
        assert_eq!(outcomes.recv().await.unwrap(), Ok("/plain".to_owned()));
    })
    .await;
}

#[tokio::test]
async fn tls_handshake_counts_against_the_server_handshake_timeout() {
    bounded(async {
        let pki = TestPki::new();
        let acceptor = acceptor_for(&pki);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            switchboard::ServerBuilder::new()
                .tls(acceptor)
                .handshake_timeout(std::time::Duration::from_millis(200))
                .accept_maybe_tls(tcp)
                .await
                .map(|_| ())
        });
        // Connect and say nothing: no ClientHello ever arrives.
        let _silent = TcpStream::connect(addr).await.unwrap();
        let error = server.await.unwrap().unwrap_err();
        assert!(
            matches!(
                error,
                Error::Timeout(switchboard::TimeoutKind::Handshake(_))
            ),
            "{error:?}"
        );
    })
    .await;
}
