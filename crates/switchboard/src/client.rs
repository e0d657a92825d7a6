//! The client side: [`connect`] and [`ClientBuilder`].

#[cfg(feature = "http2")]
pub(crate) mod h2;

use std::time::Duration;

use bytes::BytesMut;
use http::{HeaderName, HeaderValue, Uri};
use switchboard_proto::handshake::{ClientOutcome, ClientRequest};
use switchboard_proto::HandshakeError;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::connection_setup::{connection_setters, Agreed, ConnectionSetup};
use crate::error::{Error, TimeoutKind};
use crate::handshake_io::{self, Deadline};
use crate::proxy::{self, ProxyConfig, ProxyMode};
use crate::tls::{self, MaybeTlsStream, TlsClientConfig};
use crate::websocket::WebSocket;

/// Default for [`ClientBuilder::connect_timeout`] and
/// [`ClientBuilder::handshake_timeout`]: 10 s, python-websockets' open
/// timeout. A healthy server answers in milliseconds; 10 s still tolerates a
/// congested mobile link.
pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a `ws://` or `wss://` URL points.
#[derive(Debug)]
struct Target {
    secure: bool,
    host: String,
    port: u16,
}

/// Most bytes of a non-101 response body kept in [`Error::Http`].
const MAX_REJECTION_BODY: usize = 64 * 1024;

/// Opens a WebSocket to a `ws://` or `wss://` URL with default settings:
/// certificates verified against the webpki roots, and the proxy taken from
/// the environment (`https_proxy`/`http_proxy`/`all_proxy`/`no_proxy`, as
/// curl reads them).
///
/// Returns the socket and the server's `101 Switching Protocols` response
/// (for its headers, e.g. the chosen subprotocol). Use [`ClientBuilder`] for
/// headers, subprotocols, TLS and proxy settings, limits and timeouts.
///
/// ```no_run
/// # async fn run() -> Result<(), switchboard::Error> {
/// let (mut ws, _response) = switchboard::connect("ws://127.0.0.1:9001/chat").await?;
/// ws.send(switchboard::Message::text("hello")).await?;
/// # Ok(()) }
/// ```
pub async fn connect(
    url: &str,
) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, http::Response<()>), Error> {
    ClientBuilder::new(url).connect().await
}

/// Settings for a client connection.
///
/// ```no_run
/// use std::time::Duration;
/// use switchboard::{ClientBuilder, Config};
///
/// # async fn run() -> Result<(), switchboard::Error> {
/// let (ws, response) = ClientBuilder::new("ws://127.0.0.1:9001/feed")
///     .subprotocol("v2.feed")
///     .origin("https://example.com")
///     .header(http::header::AUTHORIZATION, http::HeaderValue::from_static("Bearer token"))
///     .config(Config::default().ping_interval(Some(Duration::from_secs(15))))
///     .handshake_timeout(Duration::from_secs(5))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    subprotocols: Vec<String>,
    origin: Option<String>,
    setup: ConnectionSetup,
    connect_timeout: Duration,
    handshake_timeout: Duration,
    tls: TlsClientConfig,
    proxy: ProxyMode,
}

impl ClientBuilder {
    /// A client for `url` (`ws://` or `wss://`).
    pub fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            url: url.into(),
            headers: Vec::new(),
            subprotocols: Vec::new(),
            origin: None,
            setup: ConnectionSetup::default(),
            connect_timeout: DEFAULT_CLIENT_TIMEOUT,
            handshake_timeout: DEFAULT_CLIENT_TIMEOUT,
            tls: TlsClientConfig::new(),
            proxy: ProxyMode::FromEnvironment,
        }
    }

    /// Adds a request header (e.g. `Authorization`, `Cookie`).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Offers a subprotocol; call several times to offer several, in order
    /// of preference.
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Sets the `Origin` header (browsers always send one; servers may check it).
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    connection_setters!(
        "Offers permessage-deflate compression (RFC 7692) with these settings; if the server declines, the connection works uncompressed.",
        setup
    );

    /// Bound on establishing the TCP connection (through a proxy: the
    /// connection to the proxy plus the tunnel setup). Default
    /// [`DEFAULT_CLIENT_TIMEOUT`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Bound on the whole opening handshake: the TLS handshake for
    /// `wss://`, then the upgrade (request out, response in), against one
    /// deadline. Default [`DEFAULT_CLIENT_TIMEOUT`].
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// TLS settings for `wss://`: trusted roots, private CAs, ALPN. Default
    /// [`TlsClientConfig::new`] (webpki roots, or the OS store with the
    /// `native-roots` feature).
    pub fn tls_config(mut self, tls: TlsClientConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Connects through `proxy` (HTTP CONNECT or SOCKS5), whatever the
    /// environment says. For `wss://`, TLS runs end to end through the
    /// tunnel.
    pub fn proxy(self, proxy: ProxyConfig) -> Self {
        self.proxy_mode(ProxyMode::Explicit(proxy))
    }

    /// Where the proxy comes from: [`ProxyMode::FromEnvironment`] (the
    /// default), [`ProxyMode::Explicit`] or [`ProxyMode::Disabled`].
    pub fn proxy_mode(mut self, mode: ProxyMode) -> Self {
        self.proxy = mode;
        self
    }

    fn uri(&self) -> Result<Uri, Error> {
        self.url.parse::<Uri>().map_err(|_| Error::InvalidUrl {
            url: self.url.clone(),
            reason: "not a valid URI; expected ws://host[:port]/path or wss://host[:port]/path",
        })
    }

    /// Opens a TCP connection to the URL's host (directly or through the
    /// proxy, see [`proxy_mode`](ClientBuilder::proxy_mode)), runs TLS for
    /// `wss://`, then the WebSocket handshake. `TCP_NODELAY` is set:
    /// WebSocket frames are latency-sensitive and already batched by
    /// `feed`/`flush`.
    pub async fn connect(
        self,
    ) -> Result<(WebSocket<MaybeTlsStream<TcpStream>>, http::Response<()>), Error> {
        let (uri, target) = self.target()?;
        let tcp = self.dial(&target).await?;
        let Target { secure, host, .. } = target;
        let deadline = Deadline::after(self.handshake_timeout);
        let io = if secure {
            let tls = deadline
                .run_step(tls::wrap_client(tcp, &self.tls, &host))
                .await?;
            MaybeTlsStream::from(tls)
        } else {
            MaybeTlsStream::Plain(tcp)
        };
        // Boxed for the same reason as the server's handshake: its state
        // would otherwise size the caller's future for the connection's life.
        Box::pin(self.handshake(io, &uri, deadline)).await
    }

    /// The URL, parsed, and where it points.
    fn target(&self) -> Result<(Uri, Target), Error> {
        let uri = self.uri()?;
        let invalid = |reason| Error::InvalidUrl {
            url: self.url.clone(),
            reason,
        };
        let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
        let secure = match scheme.as_str() {
            "ws" | "http" => false,
            "wss" | "https" => true,
            _ => return Err(invalid("the scheme must be ws:// or wss://")),
        };
        let host = uri.host().ok_or_else(|| invalid("the URL has no host"))?;
        // `Uri::host` keeps the brackets of an IPv6 literal.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        Ok((uri, Target { secure, host, port }))
    }

    /// The TCP connection to the target, directly or through the proxy.
    async fn dial(&self, target: &Target) -> Result<TcpStream, Error> {
        let Target { secure, host, port } = target;
        let (secure, host, port) = (*secure, host.as_str(), *port);
        let tcp = match self.proxy.resolve(secure, host, port)? {
            Some(proxy) => proxy::connect_tcp(&proxy, host, port, self.connect_timeout).await?,
            None => {
                let dial = TcpStream::connect((host, port));
                let tcp = match tokio::time::timeout(self.connect_timeout, dial).await {
                    Ok(result) => result?,
                    Err(_) => {
                        return Err(Error::Timeout(TimeoutKind::Connect(self.connect_timeout)))
                    }
                };
                tcp.set_nodelay(true)?;
                tcp
            }
        };
        Ok(tcp)
    }

    /// Runs the opening handshake over an already established transport:
    /// a TLS stream, a proxy tunnel, an in-memory pipe. The URL's host and
    /// path go into the request; nothing is dialed, and the TLS and proxy
    /// settings are not used.
    pub async fn connect_on<S>(self, io: S) -> Result<(WebSocket<S>, http::Response<()>), Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let uri = self.uri()?;
        let deadline = Deadline::after(self.handshake_timeout);
        Box::pin(self.handshake(io, &uri, deadline)).await
    }

    async fn handshake<S>(
        self,
        mut io: S,
        uri: &Uri,
        deadline: Deadline,
    ) -> Result<(WebSocket<S>, http::Response<()>), Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let request = self.client_request(uri)?;
        let mut out = Vec::with_capacity(256);
        request.encode(&mut out);
        handshake_io::write_all(&mut io, &out, &deadline).await?;

        let limits = &self.setup.settings.limits;
        let head = handshake_io::read_head(
            &mut io,
            &deadline,
            limits.max_header_bytes,
            "server",
            |buf| request.parse_response(buf, limits),
        )
        .await?;
        let (outcome, leftover) = match head {
            Ok(head) => head,
            Err(refused) => return Err(rejection(refused, &mut io, limits, &deadline).await),
        };
        let ws = self.client_agreed(&outcome)?.websocket(io, &leftover);
        Ok((ws, outcome.response))
    }

    /// The opening request this builder describes, in sans-I/O form.
    fn client_request(&self, uri: &Uri) -> Result<ClientRequest, Error> {
        let mut request = ClientRequest::new(uri)?;
        if let Some(origin) = &self.origin {
            request = request.origin(origin.clone());
        }
        for protocol in &self.subprotocols {
            request = request.subprotocol(protocol.clone());
        }
        for offer in self.setup.client_offers() {
            request = request.extension(offer);
        }
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        Ok(request)
    }

    /// What the handshake agreed on: the server's extension answer checked
    /// against our offers (RFC 7692 §7: a bad answer fails the connection).
    fn client_agreed(&self, outcome: &ClientOutcome) -> Result<Agreed, Error> {
        self.setup
            .client_agreed(&outcome.extensions)
            .map_err(Error::Extension)
    }
}

/// The error for a response the core refused. A non-101 answer
/// ([`HandshakeError::UnexpectedStatus`]) becomes [`Error::Http`] with its
/// headers and up to 64 KiB of its body: the body bytes that came with the
/// head, then the rest read from `io` (until `Content-Length`, EOF, or a
/// short grace period for a body without a length). Any other refusal is
/// the handshake error itself.
async fn rejection<S: AsyncRead + Unpin>(
    refused: HandshakeError,
    io: &mut S,
    limits: &switchboard_proto::Limits,
    deadline: &Deadline,
) -> Error {
    let HandshakeError::UnexpectedStatus {
        status,
        headers,
        body,
    } = refused
    else {
        return refused.into();
    };
    let content_length = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse::<usize>().ok());
    let limit = content_length
        .unwrap_or(MAX_REJECTION_BODY)
        .min(MAX_REJECTION_BODY);
    // The core keeps at most `max_header_bytes` of the body; bytes past
    // that were already read and dropped, so reading on would leave a gap.
    let mut body = BytesMut::from(body);
    if body.len() < limits.max_header_bytes {
        handshake_io::read_body(io, &mut body, limit, deadline, content_length.is_some()).await;
    }
    let mut response = http::Response::new(body.freeze());
    *response.status_mut() = status;
    *response.headers_mut() = *headers;
    Error::Http(Box::new(response))
}
