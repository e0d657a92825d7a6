//! The HTTP `CONNECT` handshake (RFC 9110 §9.3.6), with Basic auth
//! (RFC 7617) when credentials are configured.

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::config::HostPort;
use super::{ProxyConfig, ProxyError};

/// Upper bound on the proxy's response head. Real proxies answer CONNECT
/// in a few hundred bytes; the bound stops a hostile proxy from making us
/// buffer without limit.
const MAX_RESPONSE_HEAD: usize = 8 * 1024;

/// Upper bound on response header lines.
const MAX_RESPONSE_HEADERS: usize = 64;

/// Asks the proxy on `stream` for a tunnel to `host:port`. On success the
/// stream carries raw bytes to and from the target.
pub(crate) async fn handshake<S>(
    stream: &mut S,
    proxy: &ProxyConfig,
    host: &str,
    port: u16,
) -> Result<(), ProxyError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let target = HostPort(host, port).to_string();
    let request = connect_request(proxy, &target);
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|source| io_error(proxy, "sending the CONNECT request", source))?;
    stream
        .flush()
        .await
        .map_err(|source| io_error(proxy, "sending the CONNECT request", source))?;
    let (head, extra) = read_response_head(stream, proxy).await?;
    let (status, reason) = parse_status(&head, proxy)?;
    check_status(status, &reason, proxy, &target)?;
    // Tunnel bytes may only follow once the client has spoken (WebSocket
    // and TLS clients both speak first), so anything here means the proxy
    // misbehaved; passing it on would corrupt the next protocol layer.
    if extra > 0 {
        return Err(ProxyError::Protocol {
            proxy: proxy.to_string(),
            detail: format!(
                "{extra} unexpected bytes followed the `{status}` CONNECT response before the client sent anything"
            ),
        });
    }
    Ok(())
}

fn connect_request(proxy: &ProxyConfig, target: &str) -> String {
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(credentials) = proxy.credentials() {
        let token = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            credentials.username(),
            credentials.password()
        ));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    request
}

/// Reads until the blank line ending the head. Returns the head and how
/// many bytes arrived after it.
async fn read_response_head<S>(
    stream: &mut S,
    proxy: &ProxyConfig,
) -> Result<(Vec<u8>, usize), ProxyError>
where
    S: AsyncRead + Unpin,
{
    let mut buffer = Vec::with_capacity(512);
    let mut chunk = [0_u8; 512];
    loop {
        let read = stream
            .read(&mut chunk)
            .await
            .map_err(|source| io_error(proxy, "reading the CONNECT response", source))?;
        if read == 0 {
            return Err(ProxyError::Protocol {
                proxy: proxy.to_string(),
                detail: if buffer.is_empty() {
                    "the proxy closed the connection without answering CONNECT".to_owned()
                } else {
                    "the proxy closed the connection in the middle of its CONNECT response"
                        .to_owned()
                },
            });
        }
        // Only the new bytes (plus 3 before them) can complete "\r\n\r\n".
        let search_from = buffer.len().saturating_sub(3);
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = find_head_end(&buffer[search_from..]) {
            let head_len = search_from + end;
            let extra = buffer.len() - head_len;
            buffer.truncate(head_len);
            return Ok((buffer, extra));
        }
        if buffer.len() > MAX_RESPONSE_HEAD {
            return Err(ProxyError::Protocol {
                proxy: proxy.to_string(),
                detail: format!("the CONNECT response head exceeds {MAX_RESPONSE_HEAD} bytes"),
            });
        }
    }
}

/// The index just past the first `\r\n\r\n`.
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|index| index + 4)
}

fn parse_status(head: &[u8], proxy: &ProxyConfig) -> Result<(u16, String), ProxyError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let invalid = |detail: String| ProxyError::Protocol {
        proxy: proxy.to_string(),
        detail,
    };
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(invalid(
                "the CONNECT response head is incomplete".to_owned(),
            ))
        }
        Err(error) => {
            return Err(invalid(format!(
                "the CONNECT response is not HTTP/1.x ({error})"
            )))
        }
    }
    let status = response
        .code
        .ok_or_else(|| invalid("the CONNECT response has no status code".to_owned()))?;
    let reason = response.reason.unwrap_or_default().to_owned();
    Ok((status, reason))
}

fn check_status(
    status: u16,
    reason: &str,
    proxy: &ProxyConfig,
    target: &str,
) -> Result<(), ProxyError> {
    let detail = format!("HTTP {status} {reason}").trim_end().to_owned();
    let proxy_name = proxy.to_string();
    let target = target.to_owned();
    match status {
        200..=299 => Ok(()),
        // 407 is the proxy's own "authenticate", but some proxies
        // (tinyproxy among them) answer wrong credentials with 401.
        401 | 407 if proxy.credentials().is_some() => Err(ProxyError::AuthRejected {
            proxy: proxy_name,
            detail,
        }),
        401 | 407 => Err(ProxyError::AuthRequired {
            proxy: proxy_name,
            detail,
        }),
        403 => Err(ProxyError::TargetRefused {
            proxy: proxy_name,
            target,
            detail,
        }),
        502 | 504 => Err(ProxyError::TargetUnreachable {
            proxy: proxy_name,
            target,
            detail,
        }),
        _ => Err(ProxyError::Rejected {
            proxy: proxy_name,
            target,
            detail,
        }),
    }
}

fn io_error(proxy: &ProxyConfig, stage: &'static str, source: std::io::Error) -> ProxyError {
    ProxyError::Io {
        proxy: proxy.to_string(),
        stage,
        source,
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::duplex;

    use super::*;

    /// Runs the handshake against a scripted proxy that answers `reply`
    /// after reading the request, and returns the result and the request.
    async fn against(
        proxy: &ProxyConfig,
        reply: &'static [u8],
    ) -> (Result<(), ProxyError>, String) {
        let (mut client, mut server) = duplex(64 * 1024);
        let server_task = tokio::spawn(async move {
            let mut request = Vec::new();
            let mut byte = [0_u8; 1];
            while !request.ends_with(b"\r\n\r\n") {
                server.read_exact(&mut byte).await.unwrap();
                request.push(byte[0]);
            }
            server.write_all(reply).await.unwrap();
            String::from_utf8(request).unwrap()
        });
        let result = handshake(&mut client, proxy, "ws.example", 8080).await;
        (result, server_task.await.unwrap())
    }

    #[tokio::test]
    async fn sends_connect_with_basic_auth_and_accepts_200() {
        let proxy = ProxyConfig::http("p", 1).with_credentials("Aladdin", "open sesame");
        let (result, request) =
            against(&proxy, b"HTTP/1.1 200 Connection established\r\n\r\n").await;
        result.unwrap();
        assert_eq!(
            request,
            "CONNECT ws.example:8080 HTTP/1.1\r\nHost: ws.example:8080\r\n\
             Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn ipv6_targets_are_bracketed() {
        let (mut client, mut server) = duplex(4096);
        let proxy = ProxyConfig::http("p", 1);
        let server_task = tokio::spawn(async move {
            let mut buf = vec![0_u8; 256];
            let read = server.read(&mut buf).await.unwrap();
            server.write_all(b"HTTP/1.0 200 OK\r\n\r\n").await.unwrap();
            String::from_utf8(buf[..read].to_vec()).unwrap()
        });
        handshake(&mut client, &proxy, "::1", 9).await.unwrap();
        assert!(server_task
            .await
            .unwrap()
            .starts_with("CONNECT [::1]:9 HTTP/1.1\r\n"));
    }

    #[tokio::test]
    async fn status_codes_map_to_typed_errors() {
        let plain = ProxyConfig::http("p", 1);
        let authed = ProxyConfig::http("p", 1).with_credentials("u", "wrong");
        let cases: [(&ProxyConfig, &'static [u8], &str); 5] = [
            (
                &plain,
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
                "AuthRequired",
            ),
            (
                &authed,
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
                "AuthRejected",
            ),
            (
                &plain,
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
                "TargetRefused",
            ),
            (
                &plain,
                b"HTTP/1.1 502 Bad Gateway\r\n\r\n",
                "TargetUnreachable",
            ),
            (
                &plain,
                b"HTTP/1.1 500 Unable to connect\r\n\r\n",
                "Rejected",
            ),
        ];
        for (proxy, reply, variant) in cases {
            let (result, _) = against(proxy, reply).await;
            let error = result.unwrap_err();
            assert!(
                format!("{error:?}").starts_with(variant),
                "{variant}: {error:?}"
            );
            assert!(
                !error.to_string().contains("wrong"),
                "password leaked: {error}"
            );
        }
    }

    #[tokio::test]
    async fn malformed_replies_are_protocol_errors() {
        let proxy = ProxyConfig::http("p", 1);
        for reply in [
            &b"SSH-2.0-OpenSSH_9.2\r\n\r\n"[..],
            &b"HTTP/1.1 200 OK\r\n\r\nearly tunnel bytes"[..],
            &b"HTTP/1.1 200 OK\r\n"[..],
        ] {
            let (result, _) = against(&proxy, reply).await;
            assert!(
                matches!(result, Err(ProxyError::Protocol { .. })),
                "{:?}: {result:?}",
                String::from_utf8_lossy(reply)
            );
        }
    }

    #[tokio::test]
    async fn oversized_response_head_is_bounded() {
        let (mut client, mut server) = duplex(64 * 1024);
        let proxy = ProxyConfig::http("p", 1);
        tokio::spawn(async move {
            let mut buf = [0_u8; 256];
            let _ = server.read(&mut buf).await;
            let mut endless = b"HTTP/1.1 200 OK\r\n".to_vec();
            endless.extend(std::iter::repeat_n(b'x', 32 * 1024));
            let _ = server.write_all(&endless).await;
        });
        let error = handshake(&mut client, &proxy, "h", 1).await.unwrap_err();
        assert!(error.to_string().contains("exceeds"), "{error}");
    }
}
