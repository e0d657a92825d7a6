//! A channel's in-memory stream: its position and a bounded window of
//! recent publications, with history reads and the recovery decision.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::HubError;
use crate::position::{Epoch, StreamPosition};
use crate::presence::ClientInfo;

/// One publication as the node keeps and delivers it. Cloning shares the
/// payload and the publisher info (reference counts only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// Its offset in the channel's stream; 0 in channels without history.
    pub offset: u64,
    /// The payload: raw JSON for JSON clients, any bytes for Protobuf ones.
    pub data: Bytes,
    /// The publishing client, when a client published it.
    pub info: Option<Arc<ClientInfo>>,
}

/// A history read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HistoryQuery {
    /// Read after (or, reversed, before) this position; it must belong to
    /// the stream's current epoch and not be beyond its top.
    pub since: Option<StreamPosition>,
    /// Most publications to return: `Some(0)` returns only the position,
    /// `None` returns all up to the node's configured maximum.
    pub limit: Option<usize>,
    /// Newest first.
    pub reverse: bool,
}

/// The result of a history read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistoryRead {
    /// The publications, in the requested order.
    pub publications: Vec<Publication>,
    /// The stream's current position.
    pub position: StreamPosition,
}

/// The recovery decision for a subscriber coming back with a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Every publication after the requested offset is still in the window
    /// (possibly none), in offset order, and the epoch is the same.
    Recovered(Vec<Publication>),
    /// The epoch changed, the offset is ahead of the stream, or some missed
    /// publication left the window: the client gets only the current
    /// position and must restore its state elsewhere. Never partial.
    NotRecovered,
}

/// One retained publication and the instant it leaves the window.
#[derive(Debug)]
struct Retained {
    expires_at: Instant,
    publication: Publication,
}

/// The stream of one channel with history.
#[derive(Debug)]
pub struct Stream {
    epoch: Epoch,
    top: u64,
    window: VecDeque<Retained>,
    last_publish: Instant,
}

impl Stream {
    /// A new, empty stream (top offset 0) created at `now`.
    pub fn new(epoch: Epoch, now: Instant) -> Self {
        Self {
            epoch,
            top: 0,
            window: VecDeque::new(),
            last_publish: now,
        }
    }

    /// The current position: the top offset in this epoch.
    pub fn position(&self) -> StreamPosition {
        StreamPosition::new(self.top, self.epoch)
    }

    /// When the last publication was appended (or the stream created).
    pub fn last_publish(&self) -> Instant {
        self.last_publish
    }

    /// Publications currently kept (some may be expired until the next
    /// [`Stream::expire`]).
    pub fn retained(&self) -> usize {
        self.window.len()
    }

    /// Appends a publication with offset `top + 1`, keeps at most `size`
    /// publications, each for `ttl`; returns the publication.
    pub fn append(
        &mut self,
        now: Instant,
        data: Bytes,
        info: Option<Arc<ClientInfo>>,
        size: usize,
        ttl: Duration,
    ) -> Publication {
        self.top += 1;
        self.last_publish = now;
        let publication = Publication {
            offset: self.top,
            data,
            info,
        };
        while self.window.len() >= size.max(1) {
            self.window.pop_front();
        }
        self.window.push_back(Retained {
            expires_at: now + ttl,
            publication: publication.clone(),
        });
        publication
    }

    /// Drops every kept publication but keeps the position (epoch and top
    /// offset), as Centrifugo's `history_remove` does: later publications
    /// continue the same offsets.
    pub fn clear(&mut self) {
        self.window.clear();
    }

    /// Drops publications whose TTL ended at `now`.
    pub fn expire(&mut self, now: Instant) {
        while self
            .window
            .front()
            .is_some_and(|kept| kept.expires_at <= now)
        {
            self.window.pop_front();
        }
    }

    /// When the oldest kept publication expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.window.front().map(|kept| kept.expires_at)
    }

    /// The live part of the window at `now` (expired publications are
    /// skipped even before [`Stream::expire`] runs).
    fn live(
        &self,
        now: Instant,
    ) -> impl DoubleEndedIterator<Item = &Publication> + ExactSizeIterator {
        let first_live = self.window.partition_point(|kept| kept.expires_at <= now);
        self.window
            .range(first_live..)
            .map(|kept| &kept.publication)
    }

    /// A history read at `now`; `max_limit` caps the number returned.
    pub fn read(
        &self,
        now: Instant,
        query: &HistoryQuery,
        max_limit: usize,
    ) -> Result<HistoryRead, HubError> {
        let limit = query.limit.map_or(max_limit, |limit| limit.min(max_limit));
        let position = self.position();
        if let Some(since) = query.since {
            if since.epoch != self.epoch || since.offset > self.top {
                return Err(HubError::UnrecoverablePosition);
            }
        }
        let live = self.live(now);
        let publications = match (query.since, query.reverse) {
            (None, false) => live.take(limit).cloned().collect(),
            (None, true) => live.rev().take(limit).cloned().collect(),
            (Some(since), false) => live
                .skip_while(|publication| publication.offset <= since.offset)
                .take(limit)
                .cloned()
                .collect(),
            (Some(since), true) => live
                .rev()
                .skip_while(|publication| publication.offset >= since.offset)
                .take(limit)
                .cloned()
                .collect(),
        };
        Ok(HistoryRead {
            publications,
            position,
        })
    }

    /// The recovery decision for a subscriber that last saw `requested`:
    /// recovered with every later publication, in order, or not recovered
    /// at all. `max_publications` caps how far behind a client may be.
    pub fn recover(
        &self,
        now: Instant,
        requested: StreamPosition,
        max_publications: usize,
    ) -> Recovery {
        recovery_decision(requested, self.position(), self.live(now), max_publications)
    }
}

/// The all-or-nothing recovery decision shared by every engine: a
/// subscriber that last saw `requested` in a stream now at `current`, whose
/// live window `window` is contiguous, in offset order and ends at
/// `current.offset` (any engine's tail of it that still reaches past
/// `requested` will do). Recovered with every later publication, or not
/// recovered at all; `max_publications` caps how far behind a client may
/// be.
pub fn recovery_decision<'a, W>(
    requested: StreamPosition,
    current: StreamPosition,
    window: W,
    max_publications: usize,
) -> Recovery
where
    W: ExactSizeIterator<Item = &'a Publication>,
{
    if requested.epoch != current.epoch || requested.offset > current.offset {
        return Recovery::NotRecovered;
    }
    let missed = current.offset - requested.offset;
    if missed == 0 {
        return Recovery::Recovered(Vec::new());
    }
    if missed > max_publications as u64 {
        return Recovery::NotRecovered;
    }
    // The window is contiguous and ends at the top, so it covers every
    // missed offset exactly when it holds at least `missed` of them.
    if (window.len() as u64) < missed {
        return Recovery::NotRecovered;
    }
    let skip = window.len() - missed as usize;
    Recovery::Recovered(window.skip(skip).cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::EpochSource;

    const TTL: Duration = Duration::from_secs(60);

    fn stream_with(now: Instant, count: u64, size: usize) -> Stream {
        let mut stream = Stream::new(EpochSource::new(7).next_epoch(), now);
        for index in 0..count {
            stream.append(now, Bytes::from(index.to_string()), None, size, TTL);
        }
        stream
    }

    fn offsets(publications: &[Publication]) -> Vec<u64> {
        publications
            .iter()
            .map(|publication| publication.offset)
            .collect()
    }

    #[test]
    fn append_assigns_consecutive_offsets_and_bounds_the_window() {
        let now = Instant::now();
        let stream = stream_with(now, 10, 4);
        assert_eq!(stream.position().offset, 10);
        assert_eq!(stream.retained(), 4);
        let all = stream.read(now, &HistoryQuery::default(), 100).unwrap();
        assert_eq!(offsets(&all.publications), vec![7, 8, 9, 10]);
    }

    #[test]
    fn reads_since_limit_and_reverse() {
        let now = Instant::now();
        let stream = stream_with(now, 10, 100);
        let epoch = stream.position().epoch;
        let read = |since: Option<u64>, limit, reverse| {
            let query = HistoryQuery {
                since: since.map(|offset| StreamPosition::new(offset, epoch)),
                limit,
                reverse,
            };
            offsets(&stream.read(now, &query, 5).unwrap().publications)
        };
        assert_eq!(read(None, None, false), vec![1, 2, 3, 4, 5]);
        assert_eq!(read(None, Some(2), true), vec![10, 9]);
        assert_eq!(read(None, Some(0), false), Vec::<u64>::new());
        assert_eq!(read(Some(7), None, false), vec![8, 9, 10]);
        assert_eq!(read(Some(4), Some(2), true), vec![3, 2]);
        let foreign = HistoryQuery {
            since: Some(StreamPosition::new(1, Epoch::parse("other").unwrap())),
            ..HistoryQuery::default()
        };
        assert_eq!(
            stream.read(now, &foreign, 5),
            Err(HubError::UnrecoverablePosition)
        );
    }

    #[test]
    fn recovery_is_all_or_nothing() {
        let now = Instant::now();
        let stream = stream_with(now, 10, 4);
        let epoch = stream.position().epoch;
        let at = |offset| StreamPosition::new(offset, epoch);
        assert_eq!(
            stream.recover(now, at(10), 300),
            Recovery::Recovered(Vec::new())
        );
        match stream.recover(now, at(6), 300) {
            Recovery::Recovered(publications) => {
                assert_eq!(offsets(&publications), vec![7, 8, 9, 10])
            }
            Recovery::NotRecovered => panic!("offsets 7..=10 are in the window"),
        }
        assert_eq!(stream.recover(now, at(5), 300), Recovery::NotRecovered);
        assert_eq!(stream.recover(now, at(11), 300), Recovery::NotRecovered);
        assert_eq!(stream.recover(now, at(8), 1), Recovery::NotRecovered);
        let other = StreamPosition::new(10, Epoch::parse("x").unwrap());
        assert_eq!(stream.recover(now, other, 300), Recovery::NotRecovered);
    }

    #[test]
    fn ttl_expiry_breaks_recovery_but_keeps_position() {
        let start = Instant::now();
        let mut stream = Stream::new(Epoch::parse("e").unwrap(), start);
        stream.append(start, Bytes::new(), None, 10, TTL);
        let later = start + Duration::from_secs(30);
        stream.append(later, Bytes::new(), None, 10, TTL);
        let after_first_expired = start + TTL;
        let at = |offset| StreamPosition::new(offset, stream.position().epoch);
        assert_eq!(
            stream.recover(after_first_expired, at(0), 300),
            Recovery::NotRecovered
        );
        assert!(
            matches!(stream.recover(after_first_expired, at(1), 300), Recovery::Recovered(p) if p.len() == 1)
        );
        assert_eq!(stream.next_expiry(), Some(start + TTL));
        stream.expire(after_first_expired);
        assert_eq!(stream.retained(), 1);
        assert_eq!(stream.next_expiry(), Some(later + TTL));
        assert_eq!(stream.position().offset, 2);
    }
}
