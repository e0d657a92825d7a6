//! The settings-and-assembly core that [`ClientBuilder`](crate::ClientBuilder),
//! [`ServerBuilder`](crate::ServerBuilder) and `upgrade::Upgrade` share:
//! the connection settings each holds, their setters, permessage-deflate
//! negotiation for either role, and the assembly of the [`WebSocket`] once
//! a handshake has agreed. Each builder adds only what is its own (URL,
//! headers and proxy; TLS acceptor; hyper's pending upgrade).

use std::sync::Arc;

use switchboard_proto::deflate::{DeflateConfig, DeflateNegotiationError};
use switchboard_proto::{Connection, Extension, ExtensionOffer, Role, Settings};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::core::DEFAULT_WRITE_BUFFER_LIMIT;
use crate::websocket::WebSocket;

/// What every connection a builder makes is set up with.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionSetup {
    /// Behaviour settings and limits, shared by every connection this
    /// builds (see [`Settings`]).
    pub(crate) settings: Arc<Settings>,
    /// permessage-deflate to offer (client) or accept (server); `None`: off.
    pub(crate) deflate: Option<DeflateConfig>,
    /// Queued bytes above which `send` waits.
    pub(crate) write_buffer_limit: usize,
}

impl Default for ConnectionSetup {
    fn default() -> Self {
        ConnectionSetup {
            settings: Settings::shared_default(),
            deflate: None,
            write_buffer_limit: DEFAULT_WRITE_BUFFER_LIMIT,
        }
    }
}

impl ConnectionSetup {
    /// The `Sec-WebSocket-Extensions` offers a client sends.
    pub(crate) fn client_offers(&self) -> Vec<ExtensionOffer> {
        self.deflate
            .as_ref()
            .map_or_else(Vec::new, DeflateConfig::client_offers)
    }

    /// The client's connection for the extensions the server accepted.
    /// The handshake has already refused extensions that were not offered
    /// (RFC 6455 §4.1); a deflate answer that does not fit our offer fails
    /// the connection (RFC 7692 §7).
    pub(crate) fn client_agreed(
        &self,
        accepted: &[ExtensionOffer],
    ) -> Result<Agreed, DeflateNegotiationError> {
        let extension = match &self.deflate {
            Some(config) => config
                .client_accept(accepted)?
                .map(|deflate| Box::new(deflate) as Box<dyn Extension>),
            None => None,
        };
        Ok(self.agreed(Role::Client, extension))
    }

    /// The server's answer to the client's extension offers (for the 101
    /// response) and its connection: permessage-deflate when configured and
    /// offered, nothing otherwise.
    pub(crate) fn server_agreed(&self, offers: &[ExtensionOffer]) -> (Vec<ExtensionOffer>, Agreed) {
        match self
            .deflate
            .as_ref()
            .and_then(|config| config.server_negotiate(offers))
        {
            Some((answer, deflate)) => (
                vec![answer],
                self.agreed(Role::Server, Some(Box::new(deflate))),
            ),
            None => (Vec::new(), self.agreed(Role::Server, None)),
        }
    }

    fn agreed(&self, role: Role, extension: Option<Box<dyn Extension>>) -> Agreed {
        Agreed {
            role,
            settings: Arc::clone(&self.settings),
            extension,
            write_buffer_limit: self.write_buffer_limit,
        }
    }
}

/// What an opening handshake agreed on, ready to become a [`WebSocket`]
/// once the transport is at hand.
#[derive(Debug)]
pub(crate) struct Agreed {
    role: Role,
    settings: Arc<Settings>,
    extension: Option<Box<dyn Extension>>,
    write_buffer_limit: usize,
}

impl Agreed {
    /// The WebSocket over `io`; `leftover` holds bytes read past the end of
    /// the handshake (a pipelined first frame), decoded before anything is
    /// read from `io`.
    pub(crate) fn websocket<S>(self, io: S, leftover: &[u8]) -> WebSocket<S>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut conn = Connection::with_settings(self.role, self.settings);
        if let Some(extension) = self.extension {
            conn.set_extension(extension);
        }
        if !leftover.is_empty() {
            conn.receive(leftover);
        }
        let mut ws = WebSocket::from_connection(io, conn);
        ws.set_write_buffer_limit(self.write_buffer_limit);
        ws
    }
}

/// The connection setters every builder has, written once: `$($setup).+`
/// names the builder's [`ConnectionSetup`] field (through a wrapped
/// builder if need be). `$deflate_doc` says what `deflate` does for the
/// builder's role.
macro_rules! connection_setters {
    ($deflate_doc:literal, $($setup:ident).+) => {
        /// Behaviour settings (keepalive, close timeout, delivery ...),
        /// copied into this builder's own [`Settings`](crate::proto::Settings).
        pub fn config(mut self, config: $crate::Config) -> Self {
            ::std::sync::Arc::make_mut(&mut self.$($setup).+.settings).config = config;
            self
        }

        /// Safety limits (header, frame and message sizes, memory budget),
        /// copied into this builder's own [`Settings`](crate::proto::Settings).
        pub fn limits(mut self, limits: $crate::Limits) -> Self {
            ::std::sync::Arc::make_mut(&mut self.$($setup).+.settings).limits = limits;
            self
        }

        /// Behaviour settings and limits together, shared: every connection
        /// built with the same `Arc` points at it, where `config` and
        /// `limits` give this builder a copy of its own (about 130 bytes).
        /// Build the `Arc` once and hand it to every builder.
        pub fn settings(
            mut self,
            settings: ::std::sync::Arc<$crate::proto::Settings>,
        ) -> Self {
            self.$($setup).+.settings = settings;
            self
        }

        #[doc = $deflate_doc]
        ///
        /// Off by default: compression costs memory per connection; the
        /// figures for each setting are in the table of
        /// [`switchboard_proto::deflate`](crate::proto::deflate#memory-usage).
        pub fn deflate(mut self, config: $crate::DeflateConfig) -> Self {
            self.$($setup).+.deflate = Some(config);
            self
        }

        /// Queued bytes above which `send` waits; see
        /// [`WebSocket::set_write_buffer_limit`](crate::WebSocket::set_write_buffer_limit).
        /// Default 128 KiB.
        pub fn write_buffer_limit(mut self, limit: usize) -> Self {
            self.$($setup).+.write_buffer_limit = limit.max(1);
            self
        }
    };
}

pub(crate) use connection_setters;
