//! What the load loop needs from a connection, whether it speaks WebSocket
//! through `switchboard_proto::Connection` or raw pre-framed TCP.

use std::io::IoSlice;

use bytes::Bytes;

use crate::bench::load::ReadRoom;
use crate::bench::options::PayloadKind;
use crate::bench::payload::Pattern;

/// One echoed data message.
#[derive(Debug)]
pub(crate) struct Echo {
    /// Text or binary, as the frame said.
    pub kind: PayloadKind,
    /// The payload as received.
    pub payload: Bytes,
    /// The key the payload is still masked with (raw-TCP mode, where the
    /// echo server sends the client's masked frames back), if any.
    pub mask: Option<[u8; 4]>,
}

impl Echo {
    /// Whether this echo is message `seq` of `pattern`.
    pub fn matches(&self, pattern: &Pattern, seq: u64) -> bool {
        self.kind == pattern.kind()
            && match self.mask {
                None => pattern.verify(seq, &self.payload),
                Some(key) => pattern.verify_masked(seq, &self.payload, key),
            }
    }
}

/// A sans-I/O view of one benchmark connection: bytes in through
/// [`Wire::read_room`], echoes out through [`Wire::next_echo`], messages in
/// through [`Wire::queue`], bytes out through [`Wire::transmit_slices`].
pub(crate) trait Wire {
    /// Encodes message `seq` of `pattern` into the transmit buffer.
    fn queue(&mut self, pattern: &Pattern, seq: u64) -> anyhow::Result<()>;

    /// Where bytes read from the socket go.
    type Room: ReadRoom;

    /// The receive buffer to append bytes read from the socket to.
    fn read_room(&mut self) -> &mut Self::Room;

    /// The next complete echoed data message, if the receive buffer holds
    /// one. Fails when the server breaks the protocol or closes.
    fn next_echo(&mut self) -> anyhow::Result<Option<Echo>>;

    /// Bytes waiting to be written.
    fn transmit_len(&self) -> usize;

    /// Fills `dst` with the pending bytes for one vectored write.
    fn transmit_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize;

    /// Drops `n` written bytes from the transmit buffer.
    fn advance_transmit(&mut self, n: usize);
}
