//! The command/reply bookkeeping both Centrifugo encodings (JSON and
//! Protobuf) share: connect with `id` 1, subscribe with `id` 2 once the
//! connect reply is in, number publications from 3, and count refused
//! publications. Only the wire form of each command differs.

use super::ServerError;

/// The `id` of the connect command.
pub(super) const CONNECT_ID: u64 = 1;
/// The `id` of the subscribe command.
pub(super) const SUBSCRIBE_ID: u64 = 2;

/// Where one Centrifugo client stands in its setup, and its publication ids.
#[derive(Debug)]
pub(super) struct CentrifugeSetup {
    /// The channel to subscribe to once connected; `None` for a publisher.
    channel: Option<String>,
    ready: bool,
    next_id: u64,
    publish_errors: u64,
}

/// What the client must send after a reply.
pub(super) enum NextStep<'a> {
    /// Nothing.
    Nothing,
    /// A subscribe command (`id` [`SUBSCRIBE_ID`]) for this channel.
    Subscribe(&'a str),
}

impl CentrifugeSetup {
    pub(super) fn new() -> Self {
        CentrifugeSetup {
            channel: None,
            ready: false,
            next_id: SUBSCRIBE_ID + 1,
            publish_errors: 0,
        }
    }

    /// Makes this client subscribe to `channel` once connected.
    pub(super) fn subscribe_after_connect(&mut self, channel: &str) {
        self.channel = Some(channel.to_owned());
    }

    /// Whether the subscription (subscriber) or connection (publisher) is confirmed.
    pub(super) fn is_ready(&self) -> bool {
        self.ready
    }

    /// The `id` for the next publish command.
    pub(super) fn next_publish_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Publications the server refused.
    pub(super) fn publish_errors(&self) -> u64 {
        self.publish_errors
    }

    /// Takes in the reply with `id` (0 when it has none): an error on a
    /// publication is counted, an error on connect or subscribe (described
    /// by `describe_error`) ends the connection; a connect reply leads to
    /// the subscribe for a subscriber.
    pub(super) fn on_reply(
        &mut self,
        id: u64,
        error: Option<impl FnOnce() -> String>,
    ) -> Result<NextStep<'_>, ServerError> {
        if let Some(describe_error) = error {
            if id > SUBSCRIBE_ID {
                self.publish_errors += 1;
                return Ok(NextStep::Nothing);
            }
            return Err(ServerError::Refused(describe_error()));
        }
        match id {
            CONNECT_ID => match &self.channel {
                Some(channel) => return Ok(NextStep::Subscribe(channel)),
                None => self.ready = true,
            },
            SUBSCRIBE_ID => self.ready = true,
            _ => {}
        }
        Ok(NextStep::Nothing)
    }
}
