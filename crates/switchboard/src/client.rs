//! The client side: [`connect`] and [`ClientBuilder`].

#[cfg(feature = "http2")]
pub(crate) mod h2;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue, Uri};
use switchboard_proto::deflate::DeflateConfig;
use switchboard_proto::handshake::{ClientOutcome, ClientRequest};
use switchboard_proto::{
    Config, Connection, Extension, ExtensionOffer, HandshakeError, Limits, Role, Settings,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::core::DEFAULT_WRITE_BUFFER_LIMIT;
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
    /// Shared by every connection this builds (see [`Settings`]).
    settings: Arc<Settings>,
    connect_timeout: Duration,
    handshake_timeout: Duration,
    write_buffer_limit: usize,
    deflate: Option<DeflateConfig>,
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
            settings: Settings::shared_default(),
            connect_timeout: DEFAULT_CLIENT_TIMEOUT,
            handshake_timeout: DEFAULT_CLIENT_TIMEOUT,
            write_buffer_limit: DEFAULT_WRITE_BUFFER_LIMIT,
            deflate: None,
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

    /// Behaviour settings (keepalive, close timeout, delivery ...).
    pub fn config(mut self, config: Config) -> Self {
        Arc::make_mut(&mut self.settings).config = config;
        self
    }

    /// Safety limits (header, frame and message sizes).
    pub fn limits(mut self, limits: Limits) -> Self {
        Arc::make_mut(&mut self.settings).limits = limits;
        self
    }

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

    /// Queued bytes above which `send` waits; see
    /// [`WebSocket::set_write_buffer_limit`]. Default 128 KiB.
    pub fn write_buffer_limit(mut self, limit: usize) -> Self {
        self.write_buffer_limit = limit.max(1);
        self
    }

    /// Offers permessage-deflate compression (RFC 7692) with these
    /// settings. Off by default: compression costs memory per connection
    /// (from 6 KiB idle with `DeflateConfig::low_memory()` to about 420 KiB
    /// with the default context takeover; see `switchboard_proto::deflate`).
    /// If the server declines, the connection works uncompressed.
    pub fn deflate(mut self, config: DeflateConfig) -> Self {
        self.deflate = Some(config);
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

    /// The extensions this client offers, in `Sec-WebSocket-Extensions`.
    fn extension_offers(&self) -> Vec<ExtensionOffer> {
        self.deflate
            .as_ref()
            .map_or_else(Vec::new, DeflateConfig::client_offers)
    }

    /// Turns what the server accepted into the connection's extension
    /// (RFC 7692 §7: a response that accepts none of the offers fails the
    /// connection).
    fn negotiate_extensions(
        &self,
        accepted: &[ExtensionOffer],
    ) -> Result<Option<Box<dyn Extension>>, Error> {
        if let Some(unknown) = accepted
            .iter()
            .find(|offer| self.deflate.is_none() || offer.name != "permessage-deflate")
        {
            return Err(Error::Extension(format!(
                "the server accepted {:?}, which this client did not offer",
                unknown.name
            )));
        }
        let Some(config) = &self.deflate else {
            return Ok(None);
        };
        match config.client_accept(accepted) {
            Ok(extension) => Ok(extension.map(|e| Box::new(e) as Box<dyn Extension>)),
            Err(error) => Err(Error::Extension(error.to_string())),
        }
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

        let mut buf = BytesMut::new();
        let (outcome, consumed): (ClientOutcome, usize) = loop {
            let scanned = buf.len();
            let read = handshake_io::read_more(&mut io, &mut buf, &deadline).await?;
            if read > 0
                && !handshake_io::head_may_be_complete(
                    &buf,
                    scanned,
                    self.settings.limits.max_header_bytes,
                )
            {
                continue;
            }
            match request.parse_response(&buf, &self.settings.limits) {
                Ok(Some(done)) => break done,
                Ok(None) if read == 0 => {
                    return Err(Error::Io(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the server closed the connection during the opening handshake",
                    )))
                }
                Ok(None) => {}
                Err(error) => return Err(http_rejection(error, buf, &mut io, &deadline).await),
            }
        };
        let leftover = buf.split_off(consumed);
        let mut conn = self.client_connection(&outcome)?;
        if !leftover.is_empty() {
            conn.receive(&leftover);
        }
        let mut ws = WebSocket::from_connection(io, conn);
        ws.set_write_buffer_limit(self.write_buffer_limit);
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
        for offer in self.extension_offers() {
            request = request.extension(offer);
        }
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        Ok(request)
    }

    /// The client side protocol state for what the handshake agreed on.
    fn client_connection(&self, outcome: &ClientOutcome) -> Result<Connection, Error> {
        let extension = self.negotiate_extensions(&outcome.extensions)?;
        let mut conn = Connection::with_settings(Role::Client, Arc::clone(&self.settings));
        if let Some(extension) = extension {
            conn.set_extension(extension);
        }
        Ok(conn)
    }
}

/// A failed response that is a complete non-101 HTTP answer becomes
/// [`Error::Http`] with (up to 64 KiB of) its body; anything else is the
/// handshake error itself.
async fn http_rejection<S: AsyncRead + Unpin>(
    error: HandshakeError,
    mut buf: BytesMut,
    io: &mut S,
    deadline: &Deadline,
) -> Error {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let head_len = match parsed.parse(&buf) {
        Ok(httparse::Status::Complete(len)) => len,
        _ => return error.into(),
    };
    let status = match parsed.code.map(http::StatusCode::from_u16) {
        Some(Ok(status)) if status != http::StatusCode::SWITCHING_PROTOCOLS => status,
        _ => return error.into(),
    };
    let mut response = http::Response::new(Bytes::new());
    *response.status_mut() = status;
    for header in parsed.headers.iter() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(header.name.as_bytes()),
            HeaderValue::from_bytes(header.value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    let content_length = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse::<usize>().ok());
    let limit = content_length
        .unwrap_or(MAX_REJECTION_BODY)
        .min(MAX_REJECTION_BODY);
    let mut body = buf.split_off(head_len);
    handshake_io::read_body(io, &mut body, limit, deadline, content_length.is_some()).await;
    *response.body_mut() = body.freeze();
    Error::Http(Box::new(response))
}
