//! Stream protocols (NATS, MQTT) over WebSocket: their packets may span
//! messages, and one message may hold several. [`Reassembly`] parses
//! straight from each message and keeps only an incomplete tail.

/// The unparsed tail of the byte stream.
#[derive(Debug, Default)]
pub(super) struct Reassembly {
    pending: Vec<u8>,
}

impl Reassembly {
    /// Appends `message` to the stream and runs `parse` over everything
    /// unparsed. `parse` returns how many bytes it consumed (whole packets
    /// only); the rest waits for the next message.
    pub(super) fn feed<E>(
        &mut self,
        message: &[u8],
        mut parse: impl FnMut(&[u8]) -> Result<usize, E>,
    ) -> Result<(), E> {
        if self.pending.is_empty() {
            let consumed = parse(message)?;
            self.pending.extend_from_slice(&message[consumed..]);
        } else {
            self.pending.extend_from_slice(message);
            let consumed = parse(&self.pending)?;
            self.pending.drain(..consumed);
        }
        Ok(())
    }
}
