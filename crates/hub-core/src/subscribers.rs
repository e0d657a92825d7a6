//! The subscriber index of one channel: a dense list for fan-out with
//! constant-time removal.

use std::collections::HashMap;

/// Identifies one connection's session inside a node. The runtime assigns
/// it (e.g. a counter) and passes it to every node call for that session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// The sessions subscribed to one channel. Fan-out iterates a contiguous
/// slice; removal swaps the last member into the gap, found through an
/// index map, so a channel of 10,000 subscribers empties in linear time.
#[derive(Debug, Default)]
pub struct SubscriberSet {
    members: Vec<SessionId>,
    index: HashMap<SessionId, usize>,
}

impl SubscriberSet {
    /// Adds `session`; false when it was already a member.
    pub fn insert(&mut self, session: SessionId) -> bool {
        if self.index.contains_key(&session) {
            return false;
        }
        self.index.insert(session, self.members.len());
        self.members.push(session);
        true
    }

    /// Removes `session`; false when it was not a member.
    pub fn remove(&mut self, session: SessionId) -> bool {
        let Some(position) = self.index.remove(&session) else {
            return false;
        };
        self.members.swap_remove(position);
        if let Some(moved) = self.members.get(position) {
            self.index.insert(*moved, position);
        }
        true
    }

    /// Whether `session` is a member.
    pub fn contains(&self, session: SessionId) -> bool {
        self.index.contains_key(&session)
    }

    /// Every member, in no particular order.
    pub fn as_slice(&self) -> &[SessionId] {
        &self.members
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_keeps_index_consistent() {
        let mut set = SubscriberSet::default();
        for id in 0..10 {
            assert!(set.insert(SessionId(id)));
        }
        assert!(!set.insert(SessionId(3)));
        for id in [0, 5, 9, 3] {
            assert!(set.remove(SessionId(id)));
            assert!(!set.remove(SessionId(id)));
        }
        let mut left: Vec<u64> = set.as_slice().iter().map(|id| id.0).collect();
        left.sort_unstable();
        assert_eq!(left, vec![1, 2, 4, 6, 7, 8]);
        for id in &left {
            assert!(set.contains(SessionId(*id)));
            assert!(set.remove(SessionId(*id)));
        }
        assert!(set.is_empty());
    }
}
