//! `serve --tls-cert/--tls-key` and `connect --ca/--insecure`: wss:// and
//! HTTPS on one port, with a throwaway CA.

mod common;

use common::{connect, run_async, Server};
use switchboard::tls::{wrap_client, TlsClientConfig};
use switchboard_testkit::pki::TestPki;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn tls_server(pki: &TestPki) -> Server {
    Server::start(&[
        "--tls-cert",
        pki.chain_path().to_str().unwrap(),
        "--tls-key",
        pki.key_path().to_str().unwrap(),
    ])
}

#[test]
fn wss_echo_with_the_ca_trusted() {
    let pki = TestPki::new();
    let server = tls_server(&pki);
    let url = format!("wss://localhost:{}/echo", server.addr.port());
    let done = connect(
        &["--ca", pki.ca_path().to_str().unwrap(), &url],
        b"secure\n",
    );
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(done.stdout, "secure\n");
}

#[test]
fn an_untrusted_certificate_fails_the_handshake_unless_insecure() {
    let pki = TestPki::new();
    let server = tls_server(&pki);
    let url = format!("wss://localhost:{}/echo", server.addr.port());
    let done = connect(&[&url], b"x\n");
    assert_eq!(done.code, Some(3), "stderr: {}", done.stderr);
    assert!(
        done.stderr.contains("handshake failed"),
        "stderr: {}",
        done.stderr
    );

    let done = connect(&["--insecure", &url], b"x\n");
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(done.stdout, "x\n");
    assert!(
        done.stderr.contains("--insecure"),
        "a warning: {}",
        done.stderr
    );

    let done = connect(&["--ca", "/nonexistent/ca.pem", &url], b"");
    assert_eq!(done.code, Some(2), "stderr: {}", done.stderr);
}

#[test]
fn healthz_over_https_keeps_the_connection_alive() {
    let pki = TestPki::new();
    let server = tls_server(&pki);
    run_async(async {
        let config = TlsClientConfig::new()
            .without_builtin_roots()
            .add_root_certificates_pem(pki.ca_pem.as_bytes())
            .unwrap();
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let mut tls = wrap_client(tcp, &config, "localhost").await.unwrap();
        tls.write_all(
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nGET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let mut answer = Vec::new();
        // The server closes after the second answer; TLS peers may skip
        // close_notify, so an error at the very end is tolerated.
        let _ = tls.read_to_end(&mut answer).await;
        let answer = String::from_utf8(answer).unwrap();
        assert_eq!(answer.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{answer}");
        assert!(answer.ends_with("\r\n\r\nok"), "{answer}");
    });
}

#[test]
fn a_missing_key_file_is_reported_at_startup() {
    let pki = TestPki::new();
    let output = std::process::Command::new(common::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(pki.chain_path())
        .args(["--tls-key", "/nonexistent/key.pem"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TLS"), "{stderr}");
    let output = std::process::Command::new(common::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(pki.chain_path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn a_tls_client_on_the_plain_port_gets_a_plain_text_answer_at_once() {
    use std::io::{Read, Write};
    let server = Server::start(&[]);
    let mut stream = common::tcp(server.addr);
    // The start of a TLS ClientHello: a handshake record (type 22).
    stream
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x03])
        .unwrap();
    // The server answers and closes; a server that waited for more would
    // leave this read to the test's read timeout and an empty answer.
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("not TLS"), "{answer}");
    assert!(answer.contains("ws://"), "{answer}");
    // Plain clients are still served.
    let health = common::request(server.addr, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(health.status, 200);
}

#[test]
fn connect_wss_to_a_plain_port_says_the_server_does_not_speak_tls() {
    let server = Server::start(&[]);
    let url = format!("wss://localhost:{}/echo", server.addr.port());
    // A connect timeout far above the test's own bound: the message must
    // come from the server's answer, not from a timeout.
    let done = connect(&["--connect-timeout", "60s", &url], b"");
    assert_eq!(done.code, Some(3), "stderr: {}", done.stderr);
    assert!(
        done.stderr.contains("does not speak TLS on that port"),
        "stderr: {}",
        done.stderr
    );
    assert!(done.stderr.contains("ws://"), "stderr: {}", done.stderr);
}
