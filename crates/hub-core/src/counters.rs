//! Plain counters of a node and its sessions, for the runtime to export.

/// A client command's method, for per-method counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `connect`.
    Connect,
    /// `subscribe`.
    Subscribe,
    /// `unsubscribe`.
    Unsubscribe,
    /// `publish`.
    Publish,
    /// `presence`.
    Presence,
    /// `presence_stats`.
    PresenceStats,
    /// `history`.
    History,
    /// An empty command: the client's pong, or a v1-style ping.
    Ping,
    /// `send` (asynchronous message, no reply).
    Send,
    /// `rpc`.
    Rpc,
    /// `refresh`.
    Refresh,
    /// `sub_refresh`.
    SubRefresh,
    /// A command with no known method.
    Unknown,
}

impl Method {
    /// Every method, in counter order.
    pub const ALL: [Method; 13] = [
        Method::Connect,
        Method::Subscribe,
        Method::Unsubscribe,
        Method::Publish,
        Method::Presence,
        Method::PresenceStats,
        Method::History,
        Method::Ping,
        Method::Send,
        Method::Rpc,
        Method::Refresh,
        Method::SubRefresh,
        Method::Unknown,
    ];

    /// The method's name as in the protocol (a label for metrics).
    pub const fn name(self) -> &'static str {
        match self {
            Method::Connect => "connect",
            Method::Subscribe => "subscribe",
            Method::Unsubscribe => "unsubscribe",
            Method::Publish => "publish",
            Method::Presence => "presence",
            Method::PresenceStats => "presence_stats",
            Method::History => "history",
            Method::Ping => "ping",
            Method::Send => "send",
            Method::Rpc => "rpc",
            Method::Refresh => "refresh",
            Method::SubRefresh => "sub_refresh",
            Method::Unknown => "unknown",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

const METHODS: usize = Method::ALL.len();

/// Counters of a node or of sessions. Sessions keep their own and the
/// runtime adds them up with [`Counters::merge`] (e.g. when a session ends
/// or on each metrics scrape via `Session::take_counters`) together with
/// the node's (`Node::counters`).
///
/// Who counts what, so that merging never counts twice: the node counts
/// `subscriptions`, `publications`, `recovered` and `not_recovered`; a
/// session counts `connections`, commands, messages and bytes in and out,
/// and `position_gaps`; the runtime counts `slow_disconnects` (it applies
/// the outbound-queue rule).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Counters {
    /// Connections that sent a successful `connect`.
    pub connections: u64,
    /// Subscriptions made (successful subscribe replies).
    pub subscriptions: u64,
    /// Commands by method: `[ok, error]`.
    commands: [[u64; 2]; METHODS],
    /// WebSocket messages received from clients.
    pub messages_in: u64,
    /// Bytes of those messages.
    pub bytes_in: u64,
    /// WebSocket messages sent to clients (replies, pushes).
    pub messages_out: u64,
    /// Bytes of those messages.
    pub bytes_out: u64,
    /// Publications accepted by the node.
    pub publications: u64,
    /// Connections closed as slow consumers (3008).
    pub slow_disconnects: u64,
    /// Subscriptions that asked to recover and were recovered.
    pub recovered: u64,
    /// Subscriptions that asked to recover and were not.
    pub not_recovered: u64,
    /// Live publications that arrived with an offset gap.
    pub position_gaps: u64,
}

impl Counters {
    /// Counts one command and whether it succeeded.
    pub fn command(&mut self, method: Method, ok: bool) {
        self.commands[method.index()][usize::from(!ok)] += 1;
    }

    /// Commands of `method` that succeeded.
    pub fn commands_ok(&self, method: Method) -> u64 {
        self.commands[method.index()][0]
    }

    /// Commands of `method` that ended in an error.
    pub fn commands_failed(&self, method: Method) -> u64 {
        self.commands[method.index()][1]
    }

    /// Adds `other` into these counters.
    pub fn merge(&mut self, other: &Counters) {
        for (mine, theirs) in self.commands.iter_mut().zip(&other.commands) {
            mine[0] += theirs[0];
            mine[1] += theirs[1];
        }
        self.connections += other.connections;
        self.subscriptions += other.subscriptions;
        self.messages_in += other.messages_in;
        self.bytes_in += other.bytes_in;
        self.messages_out += other.messages_out;
        self.bytes_out += other.bytes_out;
        self.publications += other.publications;
        self.slow_disconnects += other.slow_disconnects;
        self.recovered += other.recovered;
        self.not_recovered += other.not_recovered;
        self.position_gaps += other.position_gaps;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_by_method_and_merge() {
        let mut a = Counters::default();
        a.command(Method::Publish, true);
        a.command(Method::Publish, false);
        a.command(Method::Unknown, false);
        a.recovered = 2;
        let mut total = Counters::default();
        total.merge(&a);
        total.merge(&a);
        assert_eq!(total.commands_ok(Method::Publish), 2);
        assert_eq!(total.commands_failed(Method::Publish), 2);
        assert_eq!(total.commands_failed(Method::Unknown), 2);
        assert_eq!(total.commands_ok(Method::Connect), 0);
        assert_eq!(total.recovered, 4);
    }
}
