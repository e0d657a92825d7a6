//! Who is subscribed to a channel: client infos and their counts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;

use crate::subscribers::SessionId;

/// What subscribers learn about a client: in presence, join and leave
/// pushes, and as the publisher of its publications. Shared behind an
/// `Arc` so that fan-out and history never copy it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientInfo {
    /// The user id; empty for anonymous connections.
    pub user: String,
    /// The connection's client id (unique per connection).
    pub client: String,
    /// Connection info set at connect time, raw JSON or bytes.
    pub conn_info: Option<Bytes>,
    /// Channel info set at subscribe time, raw JSON or bytes.
    pub chan_info: Option<Bytes>,
}

/// Counts of a channel's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PresenceStats {
    /// Connections subscribed.
    pub num_clients: u32,
    /// Distinct users among them (anonymous connections count as one user,
    /// the empty one, as in Centrifugo).
    pub num_users: u32,
}

/// The presence of one channel: one entry per subscribed session.
#[derive(Debug, Default)]
pub struct Presence {
    entries: HashMap<SessionId, Arc<ClientInfo>>,
}

impl Presence {
    /// Adds or replaces the entry of `session`.
    pub fn insert(&mut self, session: SessionId, info: Arc<ClientInfo>) {
        self.entries.insert(session, info);
    }

    /// Removes the entry of `session` and returns its info.
    pub fn remove(&mut self, session: SessionId) -> Option<Arc<ClientInfo>> {
        self.entries.remove(&session)
    }

    /// Whether nobody is present.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every present client.
    pub fn clients(&self) -> impl Iterator<Item = &Arc<ClientInfo>> {
        self.entries.values()
    }

    /// Counts of clients and distinct users.
    pub fn stats(&self) -> PresenceStats {
        let users: HashSet<&str> = self
            .entries
            .values()
            .map(|info| info.user.as_str())
            .collect();
        PresenceStats {
            num_clients: self.entries.len() as u32,
            num_users: users.len() as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(user: &str, client: &str) -> Arc<ClientInfo> {
        Arc::new(ClientInfo {
            user: user.into(),
            client: client.into(),
            ..ClientInfo::default()
        })
    }

    #[test]
    fn counts_clients_and_distinct_users() {
        let mut presence = Presence::default();
        presence.insert(SessionId(1), info("alice", "c1"));
        presence.insert(SessionId(2), info("alice", "c2"));
        presence.insert(SessionId(3), info("bob", "c3"));
        presence.insert(SessionId(3), info("bob", "c3"));
        assert_eq!(
            presence.stats(),
            PresenceStats {
                num_clients: 3,
                num_users: 2
            }
        );
        assert_eq!(presence.remove(SessionId(1)).unwrap().client, "c1");
        assert!(presence.remove(SessionId(1)).is_none());
        assert_eq!(presence.clients().count(), 2);
    }
}
