//! The permessage-deflate data path (RFC 7692 §7.2): compress outgoing
//! messages, inflate incoming ones within the message size limit.

use bytes::{Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::extension::RSV1;
use crate::{
    CloseCode, DataKind, EncodeError, Encoded, Error, Extension, LimitError, ProtocolError,
};

use super::config::DeflateConfig;
use super::negotiate::{DeflateParams, EXTENSION_NAME};

/// The empty stored block a sync flush ends with. RFC 7692 §7.2.1 removes
/// it from every compressed message; §7.2.2 appends it again before
/// inflating.
const SYNC_FLUSH_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Inflate output is produced in steps of at most this many bytes, so that
/// the size limit is checked long before a bomb's full size is reached.
const MAX_INFLATE_STEP: usize = 64 * 1024;
/// Smallest inflate step, so tiny frames do not cause tiny reallocations.
const MIN_INFLATE_STEP: usize = 4 * 1024;

/// zlib's deflate refuses an 8-bit raw window and its inflate needs no
/// more than the sender's, so 8 is served by a 9-bit zlib window. For
/// compression this still honours an 8-bit limit: zlib never emits a
/// match farther back than the window size minus 262 bytes
/// (`MIN_LOOKAHEAD`), i.e. 250 bytes for a 512-byte window, which an
/// inflater with a 256-byte window decodes. A test checks our output with
/// an 8-bit inflater.
fn zlib_window_bits(bits: u8) -> u8 {
    bits.max(9)
}

/// A negotiated permessage-deflate extension for one connection.
///
/// Built by [`DeflateConfig::client_accept`] or
/// [`DeflateConfig::server_negotiate`] and plugged into the
/// [`Connection`](crate::Connection) with
/// [`Connection::set_extension`](crate::Connection::set_extension).
///
/// The compressor and decompressor are created on first use. A direction
/// without context takeover frees its state after every message, so an
/// idle connection holds none; with context takeover the state lives as
/// long as the connection (see the memory table in the module docs).
#[derive(Debug)]
pub struct PerMessageDeflate {
    params: DeflateParams,
    level: u32,
    threshold: usize,
    compressor: Option<Compress>,
    decompressor: Option<Decompress>,
}

impl PerMessageDeflate {
    /// An extension with already negotiated parameters; the level and
    /// threshold come from `config`. Most callers get one from the
    /// negotiation functions of [`DeflateConfig`] instead.
    pub fn new(params: DeflateParams, config: &DeflateConfig) -> Self {
        PerMessageDeflate {
            params,
            level: config.level,
            threshold: config.threshold,
            compressor: None,
            decompressor: None,
        }
    }

    /// The negotiated parameters.
    pub fn params(&self) -> &DeflateParams {
        &self.params
    }

    fn compressor(&mut self) -> &mut Compress {
        let (level, bits) = (self.level, self.params.outgoing.max_window_bits);
        self.compressor.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::new(level), false, zlib_window_bits(bits))
        })
    }

    fn decompressor(&mut self) -> &mut Decompress {
        let bits = self.params.incoming.max_window_bits;
        self.decompressor
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, zlib_window_bits(bits)))
    }

    fn inflate_frame(
        &mut self,
        payload: &[u8],
        fin: bool,
        out: &mut BytesMut,
        max_len: usize,
    ) -> Result<(), Error> {
        let decompressor = self.decompressor();
        inflate_bounded(decompressor, payload, out, max_len)?;
        if fin {
            // RFC 7692 §7.2.2: append 0x00 0x00 0xff 0xff to the payload of
            // the message, then inflate.
            inflate_bounded(decompressor, &SYNC_FLUSH_TAIL, out, max_len)?;
        }
        Ok(())
    }
}

impl Extension for PerMessageDeflate {
    fn name(&self) -> &'static str {
        EXTENSION_NAME
    }

    fn rsv_mask(&self) -> u8 {
        // RFC 7692 §6: permessage-deflate allocates RSV1 ("Per-Message
        // Compressed" bit).
        RSV1
    }

    fn encode(
        &mut self,
        _kind: DataKind,
        payload: &[u8],
        first: bool,
        fin: bool,
    ) -> Result<Encoded, EncodeError> {
        // RFC 7692 §6: a message sent with RSV1 clear is uncompressed, and an
        // endpoint may send any message that way.
        // Streamed messages (first && !fin) have no known size yet and are
        // always compressed.
        if first && fin && payload.len() < self.threshold {
            return Ok(Encoded::PassThrough);
        }
        let result = compress_piece(self.compressor(), payload, fin);
        // RFC 7692 §7.1.1: without context takeover the next message starts
        // from an empty window. Freeing the state does that and releases its
        // memory while idle; on error the state is unusable anyway.
        if result.is_err() || (fin && self.params.outgoing.no_context_takeover) {
            self.compressor = None;
        }
        // RFC 7692 §6: RSV1 is set on the first frame of a compressed
        // message only; the connection ignores `rsv` for later pieces.
        Ok(Encoded::Transformed {
            rsv: RSV1,
            payload: result?,
        })
    }

    fn decode(
        &mut self,
        rsv: u8,
        payload: &[u8],
        fin: bool,
        out: &mut BytesMut,
        max_len: usize,
    ) -> Result<(), Error> {
        if rsv != RSV1 {
            // RFC 6455 §5.2: bits the extension does not define fail the
            // connection (the connection already filters by rsv_mask).
            return Err(ProtocolError::ReservedBits(rsv).into());
        }
        let result = self.inflate_frame(payload, fin, out, max_len);
        if result.is_err() || (fin && self.params.incoming.no_context_takeover) {
            self.decompressor = None;
        }
        result
    }
}

/// Compresses one piece with a sync flush, so the receiver can inflate each
/// frame as it arrives, and strips the flush's empty stored block from the
/// message's last piece (RFC 7692 §7.2.1).
fn compress_piece(
    compressor: &mut Compress,
    input: &[u8],
    fin: bool,
) -> Result<Bytes, EncodeError> {
    let mut output = Vec::with_capacity(input.len() / 2 + 64);
    let mut consumed = 0;
    loop {
        if output.len() == output.capacity() {
            output.reserve(output.capacity().max(64));
        }
        let (in_before, out_before) = (compressor.total_in(), compressor.total_out());
        compressor
            .compress_vec(&input[consumed..], &mut output, FlushCompress::Sync)
            .map_err(|e| EncodeError::Codec {
                extension: EXTENSION_NAME,
                detail: e.to_string(),
            })?;
        consumed += (compressor.total_in() - in_before) as usize;
        let progressed = compressor.total_in() != in_before || compressor.total_out() != out_before;
        // zlib: the flush is complete once a call leaves output space unused.
        if consumed == input.len() && output.len() < output.capacity() {
            break;
        }
        if !progressed && output.len() < output.capacity() {
            return Err(EncodeError::NoProgress {
                extension: EXTENSION_NAME,
            });
        }
    }
    if output.is_empty() {
        // zlib emits nothing for a flush without new input right after
        // another flush (Z_BUF_ERROR). The stream is byte-aligned after that
        // flush, so an empty stored block written here is what zlib would
        // have written; the receiver needs it to see a valid payload.
        output.push(0x00);
        output.extend_from_slice(&SYNC_FLUSH_TAIL);
    }
    if fin {
        // A sync flush always ends with the empty stored block.
        if !output.ends_with(&SYNC_FLUSH_TAIL) {
            return Err(EncodeError::MalformedOutput {
                extension: EXTENSION_NAME,
            });
        }
        output.truncate(output.len() - SYNC_FLUSH_TAIL.len());
    }
    Ok(output.into())
}

/// Compressed data that does not inflate fails the connection. RFC 7692
/// names no close code for it; 1007 ("data within a message
/// that was not consistent with the type of the message", RFC 6455
/// §7.4.1) fits a payload that does not inflate, and is what Node's `ws`
/// and the Autobahn suite expect.
fn corrupt(reason: String) -> Error {
    ProtocolError::Extension {
        extension: EXTENSION_NAME,
        reason,
        code: CloseCode::INVALID_PAYLOAD,
    }
    .into()
}

fn too_large(size: usize, max: usize) -> Error {
    LimitError::MessageTooLarge {
        size: size as u64,
        max,
    }
    .into()
}

/// One inflate call: bytes consumed, bytes produced, status.
fn inflate_step(
    decompressor: &mut Decompress,
    input: &[u8],
    output: &mut [u8],
) -> Result<(usize, usize, Status), Error> {
    let (in_before, out_before) = (decompressor.total_in(), decompressor.total_out());
    let status = decompressor
        .decompress(input, output, FlushDecompress::None)
        .map_err(|e| corrupt(format!("corrupt compressed data: {e}")))?;
    Ok((
        (decompressor.total_in() - in_before) as usize,
        (decompressor.total_out() - out_before) as usize,
        status,
    ))
}

/// Makes room for `additional` more bytes in `out` without its capacity
/// ever exceeding `limit` (the message size limit) unless it already did:
/// `BytesMut::reserve` may double the buffer, which could allocate up to
/// twice the limit, so growth is done by hand.
fn reserve_bounded(out: &mut BytesMut, additional: usize, limit: usize) {
    let needed = out.len() + additional;
    if out.capacity() >= needed {
        return;
    }
    let capacity = out
        .capacity()
        .saturating_mul(2)
        .clamp(needed, limit.max(needed));
    let mut grown = BytesMut::with_capacity(capacity);
    grown.extend_from_slice(out);
    *out = grown;
}

/// Inflates `input` into `out`, in steps, failing as soon as `out` would
/// exceed `max_len` bytes. Memory stays bounded by `max_len` whatever the
/// compressed data claims or expands to.
fn inflate_bounded(
    decompressor: &mut Decompress,
    mut input: &[u8],
    out: &mut BytesMut,
    max_len: usize,
) -> Result<(), Error> {
    loop {
        let budget = max_len.saturating_sub(out.len());
        let (consumed, produced, status, room) = if budget == 0 {
            // The limit is reached: any further byte of output is one too
            // many. Probe with a one-byte buffer instead of growing `out`.
            let mut probe = [0u8; 1];
            let (consumed, produced, status) = inflate_step(decompressor, input, &mut probe)?;
            if produced > 0 {
                return Err(too_large(out.len() + produced, max_len));
            }
            (consumed, produced, status, probe.len())
        } else {
            let step = (input.len().saturating_mul(4))
                .clamp(MIN_INFLATE_STEP, MAX_INFLATE_STEP)
                .min(budget);
            reserve_bounded(out, step, max_len);
            let start = out.len();
            out.resize(start + step, 0);
            let result = inflate_step(decompressor, input, &mut out[start..]);
            let produced = result.as_ref().map_or(0, |(_, produced, _)| *produced);
            out.truncate(start + produced);
            let (consumed, produced, status) = result?;
            (consumed, produced, status, step)
        };
        input = &input[consumed..];
        if status == Status::StreamEnd {
            // A block with BFINAL set ended the DEFLATE stream (RFC 7692
            // §7.2.3.4 allows this). What follows, such as the appended
            // tail, starts a new stream with an empty window.
            decompressor.reset(false);
            if input.is_empty() {
                return Ok(());
            }
            continue;
        }
        // zlib: with all input consumed and output space left over, the
        // inflater has nothing more to give until more input arrives.
        if input.is_empty() && produced < room {
            return Ok(());
        }
        if consumed == 0 && produced == 0 {
            return Err(corrupt("compressed data makes no progress".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_bounded_never_exceeds_the_limit() {
        let mut out = BytesMut::new();
        let limit = 100_000;
        while out.len() < limit {
            let step = 4096.min(limit - out.len());
            reserve_bounded(&mut out, step, limit);
            assert!(out.capacity() <= limit, "capacity {}", out.capacity());
            out.resize(out.len() + step, 7);
        }
        assert_eq!(out.len(), limit);
        assert!(out.iter().all(|&b| b == 7));
    }

    #[test]
    fn compressed_hello_matches_rfc_7692_7_2_3_1() {
        let mut compressor = Compress::new_with_window_bits(Compression::new(6), false, 15);
        let payload = compress_piece(&mut compressor, b"Hello", true).unwrap();
        assert_eq!(&payload[..], &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    }
}
