//! The SOCKS5 client handshake: RFC 1928 (CONNECT) with RFC 1929
//! username/password authentication.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::config::HostPort;
use super::{ProxyConfig, ProxyError, ProxyProtocol};

const VERSION: u8 = 0x05;
const METHOD_NO_AUTH: u8 = 0x00;
const METHOD_USERNAME_PASSWORD: u8 = 0x02;
const METHOD_NONE_ACCEPTABLE: u8 = 0xFF;
const AUTH_SUBNEGOTIATION_VERSION: u8 = 0x01;
const COMMAND_CONNECT: u8 = 0x01;
const ADDRESS_IPV4: u8 = 0x01;
const ADDRESS_DOMAIN: u8 = 0x03;
const ADDRESS_IPV6: u8 = 0x04;
const REPLY_SUCCEEDED: u8 = 0x00;
const REPLY_NOT_ALLOWED: u8 = 0x02;

/// The address sent in the CONNECT request.
enum TargetAddress<'a> {
    Ip(IpAddr),
    Domain(&'a str),
}

/// Runs the SOCKS5 handshake on `stream` for `host:port`. On success the
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
    let address = target_address(proxy, host, port, &target).await?;
    authenticate(stream, proxy).await?;
    connect(stream, proxy, &address, port, &target).await
}

async fn target_address<'a>(
    proxy: &ProxyConfig,
    host: &'a str,
    port: u16,
    target: &str,
) -> Result<TargetAddress<'a>, ProxyError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(TargetAddress::Ip(ip));
    }
    let resolve_at_proxy = matches!(
        proxy.protocol(),
        ProxyProtocol::Socks5 {
            resolve_at_proxy: true
        }
    );
    if resolve_at_proxy {
        // RFC 1928 §5: the domain is sent with a one-byte length.
        if host.is_empty() || host.len() > 255 {
            return Err(ProxyError::InvalidTarget {
                proxy: proxy.to_string(),
                target: target.to_owned(),
                reason: "SOCKS5 carries host names of 1 to 255 bytes".to_owned(),
            });
        }
        return Ok(TargetAddress::Domain(host));
    }
    let resolve_error = |source| ProxyError::ResolveTarget {
        proxy: proxy.to_string(),
        target: target.to_owned(),
        source,
    };
    let mut addresses = tokio::net::lookup_host((host, port))
        .await
        .map_err(resolve_error)?;
    addresses
        .next()
        .map(|address: SocketAddr| TargetAddress::Ip(address.ip()))
        .ok_or_else(|| {
            resolve_error(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the name has no addresses",
            ))
        })
}

async fn authenticate<S>(stream: &mut S, proxy: &ProxyConfig) -> Result<(), ProxyError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // RFC 1928 §3: offer "no authentication", and username/password only
    // when we have credentials, so the proxy cannot pick a method we
    // cannot complete.
    let greeting: &[u8] = if proxy.credentials().is_some() {
        &[VERSION, 2, METHOD_NO_AUTH, METHOD_USERNAME_PASSWORD]
    } else {
        &[VERSION, 1, METHOD_NO_AUTH]
    };
    write(stream, proxy, greeting, "sending the SOCKS5 greeting").await?;
    let mut choice = [0_u8; 2];
    read(
        stream,
        proxy,
        &mut choice,
        "reading the SOCKS5 method choice",
    )
    .await?;
    if choice[0] != VERSION {
        return Err(protocol(
            proxy,
            format!(
                "the method choice has version {:#04x}, expected 0x05",
                choice[0]
            ),
        ));
    }
    match choice[1] {
        METHOD_NO_AUTH => Ok(()),
        METHOD_USERNAME_PASSWORD if proxy.credentials().is_some() => {
            username_password(stream, proxy).await
        }
        METHOD_NONE_ACCEPTABLE if proxy.credentials().is_none() => Err(ProxyError::AuthRequired {
            proxy: proxy.to_string(),
            detail: "it accepts no unauthenticated clients (SOCKS5 method 0xFF)".to_owned(),
        }),
        METHOD_NONE_ACCEPTABLE => Err(ProxyError::UnsupportedAuthMethod {
            proxy: proxy.to_string(),
            detail: "offered: none, username/password".to_owned(),
        }),
        other => Err(protocol(
            proxy,
            format!("it chose authentication method {other:#04x}, which was not offered"),
        )),
    }
}

/// RFC 1929 §2: VER=1, ULEN, UNAME, PLEN, PASSWD; reply VER, STATUS.
async fn username_password<S>(stream: &mut S, proxy: &ProxyConfig) -> Result<(), ProxyError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(credentials) = proxy.credentials() else {
        return Err(protocol(
            proxy,
            "it asked for credentials that were not offered".to_owned(),
        ));
    };
    let username = credentials.username().as_bytes();
    let password = credentials.password().as_bytes();
    // RFC 1929 §2: ULEN and PLEN are 1..=255.
    for (what, value) in [("user name", username), ("password", password)] {
        if value.is_empty() || value.len() > 255 {
            return Err(ProxyError::InvalidCredentials {
                proxy: proxy.to_string(),
                reason: format!(
                    "SOCKS5 (RFC 1929) needs a {what} of 1 to 255 bytes, this one has {}",
                    value.len()
                ),
            });
        }
    }
    let mut request = Vec::with_capacity(3 + username.len() + password.len());
    request.push(AUTH_SUBNEGOTIATION_VERSION);
    request.push(username.len() as u8);
    request.extend_from_slice(username);
    request.push(password.len() as u8);
    request.extend_from_slice(password);
    write(stream, proxy, &request, "sending SOCKS5 credentials").await?;
    let mut reply = [0_u8; 2];
    read(
        stream,
        proxy,
        &mut reply,
        "reading the SOCKS5 authentication result",
    )
    .await?;
    // RFC 1929 §2: STATUS 0 is success; anything else means failure and
    // the server closes the connection.
    if reply[1] != 0 {
        return Err(ProxyError::AuthRejected {
            proxy: proxy.to_string(),
            detail: format!("SOCKS5 username/password status {:#04x}", reply[1]),
        });
    }
    Ok(())
}

async fn connect<S>(
    stream: &mut S,
    proxy: &ProxyConfig,
    address: &TargetAddress<'_>,
    port: u16,
    target: &str,
) -> Result<(), ProxyError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = vec![VERSION, COMMAND_CONNECT, 0x00];
    match address {
        TargetAddress::Ip(IpAddr::V4(ip)) => {
            request.push(ADDRESS_IPV4);
            request.extend_from_slice(&ip.octets());
        }
        TargetAddress::Ip(IpAddr::V6(ip)) => {
            request.push(ADDRESS_IPV6);
            request.extend_from_slice(&ip.octets());
        }
        TargetAddress::Domain(name) => {
            request.push(ADDRESS_DOMAIN);
            request.push(name.len() as u8);
            request.extend_from_slice(name.as_bytes());
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    write(
        stream,
        proxy,
        &request,
        "sending the SOCKS5 CONNECT request",
    )
    .await?;

    // RFC 1928 §6: VER, REP, RSV, ATYP, BND.ADDR, BND.PORT.
    let mut head = [0_u8; 4];
    read(stream, proxy, &mut head, "reading the SOCKS5 CONNECT reply").await?;
    if head[0] != VERSION {
        return Err(protocol(
            proxy,
            format!(
                "the CONNECT reply has version {:#04x}, expected 0x05",
                head[0]
            ),
        ));
    }
    if head[1] != REPLY_SUCCEEDED {
        return Err(reply_error(head[1], proxy, target));
    }
    let bound_address_len = match head[3] {
        ADDRESS_IPV4 => 4,
        ADDRESS_IPV6 => 16,
        ADDRESS_DOMAIN => {
            let mut len = [0_u8; 1];
            read(stream, proxy, &mut len, "reading the SOCKS5 CONNECT reply").await?;
            usize::from(len[0])
        }
        other => {
            return Err(protocol(
                proxy,
                format!("the CONNECT reply has unknown address type {other:#04x}"),
            ))
        }
    };
    // The bound address is of no use to a WebSocket client; consume it so
    // the tunnel starts at the right byte. At most 255 + 2 bytes.
    let mut bound = [0_u8; 257];
    read(
        stream,
        proxy,
        &mut bound[..bound_address_len + 2],
        "reading the SOCKS5 CONNECT reply",
    )
    .await
}

fn reply_error(code: u8, proxy: &ProxyConfig, target: &str) -> ProxyError {
    let proxy_name = proxy.to_string();
    let target = target.to_owned();
    // RFC 1928 §6 reply field.
    let meaning = match code {
        0x01 => "general SOCKS server failure",
        REPLY_NOT_ALLOWED => "connection not allowed by ruleset",
        0x03 => "network unreachable",
        0x04 => "host unreachable",
        0x05 => "connection refused",
        0x06 => "TTL expired",
        0x07 => "command not supported",
        0x08 => "address type not supported",
        _ => "unassigned reply code",
    };
    let detail = format!("SOCKS5 reply {code:#04x}: {meaning}");
    match code {
        REPLY_NOT_ALLOWED => ProxyError::TargetRefused {
            proxy: proxy_name,
            target,
            detail,
        },
        0x03..=0x06 => ProxyError::TargetUnreachable {
            proxy: proxy_name,
            target,
            detail,
        },
        _ => ProxyError::Rejected {
            proxy: proxy_name,
            target,
            detail,
        },
    }
}

async fn write<S>(
    stream: &mut S,
    proxy: &ProxyConfig,
    bytes: &[u8],
    stage: &'static str,
) -> Result<(), ProxyError>
where
    S: AsyncWrite + Unpin,
{
    stream
        .write_all(bytes)
        .await
        .map_err(|source| io_error(proxy, stage, source))
}

async fn read<S>(
    stream: &mut S,
    proxy: &ProxyConfig,
    buffer: &mut [u8],
    stage: &'static str,
) -> Result<(), ProxyError>
where
    S: AsyncRead + Unpin,
{
    match stream.read_exact(buffer).await {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => Err(protocol(
            proxy,
            format!("the proxy closed the connection while {stage}"),
        )),
        Err(source) => Err(io_error(proxy, stage, source)),
    }
}

fn protocol(proxy: &ProxyConfig, detail: String) -> ProxyError {
    ProxyError::Protocol {
        proxy: proxy.to_string(),
        detail,
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
    use tokio::io::{duplex, DuplexStream};

    use super::*;

    /// A scripted SOCKS5 server: reads exactly `expect` and answers `reply`
    /// for each step, then returns.
    fn script(
        mut server: DuplexStream,
        steps: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            for (expect, reply) in steps {
                let mut got = vec![0_u8; expect.len()];
                server.read_exact(&mut got).await.unwrap();
                assert_eq!(got, expect);
                server.write_all(&reply).await.unwrap();
            }
        })
    }

    const OK_IPV4_REPLY: [u8; 10] = [5, 0, 0, 1, 127, 0, 0, 1, 0x1F, 0x90];

    #[tokio::test]
    async fn socks5h_sends_the_domain_and_credentials() {
        let (mut client, server) = duplex(4096);
        let proxy = ProxyConfig::socks5h("p", 1).with_credentials("user", "pw");
        let task = script(
            server,
            vec![
                (vec![5, 2, 0, 2], vec![5, 2]),
                (b"\x01\x04user\x02pw".to_vec(), vec![1, 0]),
                (
                    [&[5, 1, 0, 3, 10][..], b"ws.example", &[0x1F, 0x90]].concat(),
                    OK_IPV4_REPLY.to_vec(),
                ),
            ],
        );
        handshake(&mut client, &proxy, "ws.example", 8080)
            .await
            .unwrap();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn ip_targets_use_address_types_and_domain_replies_are_consumed() {
        let (mut client, server) = duplex(4096);
        let proxy = ProxyConfig::socks5("p", 1);
        let mut domain_reply = vec![5, 0, 0, 3, 4];
        domain_reply.extend_from_slice(b"host\x00\x50");
        domain_reply.extend_from_slice(b"TUNNEL");
        let task = script(
            server,
            vec![
                (vec![5, 1, 0], vec![5, 0]),
                (
                    [&[5, 1, 0, 4][..], &[0; 15], &[1], &[0, 80]].concat(),
                    domain_reply,
                ),
            ],
        );
        handshake(&mut client, &proxy, "::1", 80).await.unwrap();
        task.await.unwrap();
        let mut tunnel = [0_u8; 6];
        client.read_exact(&mut tunnel).await.unwrap();
        assert_eq!(&tunnel, b"TUNNEL");
    }

    #[tokio::test]
    async fn auth_failures_are_typed() {
        let (mut client, server) = duplex(4096);
        let proxy = ProxyConfig::socks5h("p", 1).with_credentials("user", "bad");
        let _task = script(
            server,
            vec![
                (vec![5, 2, 0, 2], vec![5, 2]),
                (b"\x01\x04user\x03bad".to_vec(), vec![1, 1]),
            ],
        );
        let error = handshake(&mut client, &proxy, "h", 1).await.unwrap_err();
        assert!(
            matches!(error, ProxyError::AuthRejected { .. }),
            "{error:?}"
        );

        let (mut client, server) = duplex(4096);
        let proxy = ProxyConfig::socks5h("p", 1);
        let _task = script(server, vec![(vec![5, 1, 0], vec![5, 0xFF])]);
        let error = handshake(&mut client, &proxy, "h", 1).await.unwrap_err();
        assert!(
            matches!(error, ProxyError::AuthRequired { .. }),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn reply_codes_are_typed() {
        for (code, variant) in [
            (2, "TargetRefused"),
            (5, "TargetUnreachable"),
            (4, "TargetUnreachable"),
            (1, "Rejected"),
            (9, "Rejected"),
        ] {
            let (mut client, server) = duplex(4096);
            let proxy = ProxyConfig::socks5h("p", 1);
            let _task = script(
                server,
                vec![
                    (vec![5, 1, 0], vec![5, 0]),
                    (
                        [&[5, 1, 0, 3, 1][..], b"h", &[0, 1]].concat(),
                        vec![5, code, 0, 1, 0, 0, 0, 0, 0, 0],
                    ),
                ],
            );
            let error = handshake(&mut client, &proxy, "h", 1).await.unwrap_err();
            assert!(
                format!("{error:?}").starts_with(variant),
                "{code}: {error:?}"
            );
        }
    }

    #[tokio::test]
    async fn hostile_replies_are_protocol_errors() {
        let proxy = ProxyConfig::socks5h("p", 1);
        for (choice, connect_reply) in [
            (vec![4, 0], vec![]),                   // SOCKS4 answer
            (vec![5, 0x80], vec![]),                // method we never offered
            (vec![5, 0], vec![5, 0, 0, 9]),         // unknown address type
            (vec![5, 0], vec![5, 0, 0, 1, 1]),      // truncated, then EOF
            (vec![5, 0], b"HTTP/1.1 400".to_vec()), // wrong protocol
        ] {
            let (mut client, mut server) = duplex(4096);
            tokio::spawn(async move {
                let mut greeting = [0_u8; 3];
                server.read_exact(&mut greeting).await.unwrap();
                server.write_all(&choice).await.unwrap();
                let mut request = [0_u8; 7];
                if server.read_exact(&mut request).await.is_ok() {
                    let _ = server.write_all(&connect_reply).await;
                }
            });
            let error = handshake(&mut client, &proxy, "h", 1).await.unwrap_err();
            assert!(matches!(error, ProxyError::Protocol { .. }), "{error:?}");
        }
    }

    #[tokio::test]
    async fn overlong_names_and_credentials_are_rejected_before_sending() {
        let (mut client, _server) = duplex(4096);
        let proxy = ProxyConfig::socks5h("p", 1);
        let long_name = "a".repeat(256);
        let error = handshake(&mut client, &proxy, &long_name, 1)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ProxyError::InvalidTarget { .. }),
            "{error:?}"
        );

        let (mut client, server) = duplex(4096);
        let proxy = ProxyConfig::socks5h("p", 1).with_credentials("u", "x".repeat(300));
        let _task = script(server, vec![(vec![5, 2, 0, 2], vec![5, 2])]);
        let error = handshake(&mut client, &proxy, "h", 1).await.unwrap_err();
        assert!(
            matches!(error, ProxyError::InvalidCredentials { .. }),
            "{error:?}"
        );
    }
}
