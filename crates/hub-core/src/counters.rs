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

/// Commands by method, `[ok, error]`.
type CommandCells<T> = [[T; 2]; METHODS];

/// A session's counters between two `take`s, small because every idle
/// connection holds them: message counts in 32-bit cells (the runtime
/// takes them often enough that they never saturate in practice; they
/// saturate rather than wrap if it does not), and command counts in
/// byte cells, since a session sends few commands between two takes. A
/// byte cell that fills up moves its count to `spilled`, allocated only
/// then, so the counts stay exact.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionCounters {
    bytes_in: u64,
    bytes_out: u64,
    messages_in: u32,
    messages_out: u32,
    position_gaps: u32,
    connected: bool,
    commands: CommandCells<u8>,
    spilled: Option<Box<CommandCells<u32>>>,
}

impl SessionCounters {
    /// Counts one command and whether it succeeded.
    pub(crate) fn command(&mut self, method: Method, ok: bool) {
        let (row, column) = (method.index(), usize::from(!ok));
        let cell = &mut self.commands[row][column];
        if *cell == u8::MAX {
            let spilled = &mut self.spilled.get_or_insert_with(Box::default)[row][column];
            *spilled = spilled.saturating_add(u32::from(u8::MAX));
            *cell = 0;
        }
        *cell += 1;
    }

    /// Counts a message received.
    pub(crate) fn message_in(&mut self, len: usize) {
        self.messages_in = self.messages_in.saturating_add(1);
        self.bytes_in = self.bytes_in.saturating_add(len as u64);
    }

    /// Counts a message sent.
    pub(crate) fn message_out(&mut self, len: usize) {
        self.messages_out = self.messages_out.saturating_add(1);
        self.bytes_out = self.bytes_out.saturating_add(len as u64);
    }

    /// The connection connected.
    pub(crate) fn connected(&mut self) {
        self.connected = true;
    }

    /// A live publication skipped offsets.
    pub(crate) fn position_gap(&mut self) {
        self.position_gaps = self.position_gaps.saturating_add(1);
    }

    /// The counts so far as [`Counters`], resetting them.
    pub(crate) fn take(&mut self) -> Counters {
        let taken = std::mem::take(self);
        let spilled = taken.spilled.as_deref().copied().unwrap_or_default();
        let mut commands = [[0u64; 2]; METHODS];
        for ((wide, narrow), spilled) in commands.iter_mut().zip(&taken.commands).zip(&spilled) {
            *wide = [
                u64::from(narrow[0]) + u64::from(spilled[0]),
                u64::from(narrow[1]) + u64::from(spilled[1]),
            ];
        }
        Counters {
            connections: u64::from(taken.connected),
            commands,
            messages_in: u64::from(taken.messages_in),
            bytes_in: taken.bytes_in,
            messages_out: u64::from(taken.messages_out),
            bytes_out: taken.bytes_out,
            position_gaps: u64::from(taken.position_gaps),
            ..Counters::default()
        }
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

    #[test]
    fn session_counters_take_and_reset() {
        let mut session = SessionCounters::default();
        session.connected();
        session.command(Method::Subscribe, true);
        session.message_in(10);
        session.message_out(20);
        session.position_gap();
        let taken = session.take();
        assert_eq!(taken.connections, 1);
        assert_eq!(taken.commands_ok(Method::Subscribe), 1);
        assert_eq!((taken.bytes_in, taken.bytes_out), (10, 20));
        assert_eq!(taken.position_gaps, 1);
        assert_eq!(session.take(), Counters::default());
    }

    #[test]
    fn session_command_counts_stay_exact_past_a_byte_cell() {
        let mut session = SessionCounters::default();
        for _ in 0..1_000 {
            session.command(Method::Publish, true);
        }
        session.command(Method::Publish, false);
        let taken = session.take();
        assert_eq!(taken.commands_ok(Method::Publish), 1_000);
        assert_eq!(taken.commands_failed(Method::Publish), 1);
        assert_eq!(session.take(), Counters::default());
        assert!(std::mem::size_of::<SessionCounters>() <= 64);
    }
}
