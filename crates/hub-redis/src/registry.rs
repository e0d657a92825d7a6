//! The node registry (who is up, for `/info` and the API's `info`) and the
//! control channel (user-targeted API commands that must reach whichever
//! node holds the user's connections).
//!
//! The registry is built like presence: a ZSET of node ids scored by
//! their expiry and a HASH of their [`NodeInfo`] as JSON. A node that
//! stops its heartbeats drops out within [`RedisEngineConfig::node_ttl`].
//!
//! Control messages are JSON published to `<prefix>:control`, which every
//! node subscribes to, e.g.
//! `{"from":"node-a","op":"disconnect","user":"alice","code":3000,"reason":"bye"}`
//! or `{"from":"node-a","op":"unsubscribe","user":"alice","channel":"news"}`.
//! Each node applies them to its own connections of that user; a node
//! receives its own messages too (`from` tells which).
//!
//! [`RedisEngineConfig::node_ttl`]: crate::RedisEngineConfig::node_ttl

use redis::AsyncCommands as _;
use serde::{Deserialize, Serialize};

use crate::config::millis;
use crate::error::RedisEngineError;
use crate::RedisBroker;

/// What a node tells the others about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's id (unique).
    pub id: String,
    /// A human name (host name, pod name).
    pub name: String,
    /// The software version.
    pub version: String,
    /// Connections it holds.
    pub num_clients: u64,
    /// Distinct users among them.
    pub num_users: u64,
    /// Subscriptions of its connections.
    pub num_subs: u64,
    /// Channels with local subscribers.
    pub num_channels: u64,
    /// Seconds since it started.
    pub uptime: u64,
}

/// A user-targeted command for every node. Each node applies it to its own
/// connections of `user` (only the one with client id `client` when
/// given).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ControlCommand {
    /// Disconnect every connection of `user` with `code` and `reason`,
    /// except the client ids in `whitelist`.
    Disconnect {
        /// The user.
        user: String,
        /// Only this connection, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
        /// Connections left alone.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        whitelist: Vec<String>,
        /// The disconnect code.
        code: u32,
        /// The disconnect reason.
        reason: String,
    },
    /// Unsubscribe every connection of `user` from `channel`.
    Unsubscribe {
        /// The user.
        user: String,
        /// Only this connection, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
        /// The channel.
        channel: String,
    },
    /// Subscribe every connection of `user` to `channel` (the server API's
    /// `subscribe`).
    Subscribe {
        /// The user.
        user: String,
        /// Only this connection, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
        /// The channel.
        channel: String,
        /// Channel info for the subscribers' presence, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chan_info: Option<Vec<u8>>,
        /// Custom data for the `subscribe` push.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        data: Vec<u8>,
    },
}

/// A control command and the node that sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlMessage {
    /// The sending node's id.
    pub from: String,
    /// The command.
    #[serde(flatten)]
    pub command: ControlCommand,
}

impl RedisBroker {
    /// Adds or refreshes this node's registry entry; call it well within
    /// the node TTL.
    pub async fn heartbeat(&self, info: &NodeInfo) -> Result<(), RedisEngineError> {
        let shared = &self.shared;
        let json = serde_json::to_vec(info).map_err(|error| RedisEngineError::Corrupt {
            key: shared.keys.node_infos(),
            what: error.to_string(),
        })?;
        let mut connection = shared.commands.clone();
        let _: i64 = shared
            .scripts
            .presence_add
            .key(shared.keys.node_expiries())
            .key(shared.keys.node_infos())
            .arg(&info.id)
            .arg(json)
            .arg(millis(shared.config.node_ttl))
            .invoke_async(&mut connection)
            .await?;
        Ok(())
    }

    /// Every node whose heartbeat is still within the node TTL.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, RedisEngineError> {
        let shared = &self.shared;
        let mut connection = shared.commands.clone();
        let infos: Vec<Vec<u8>> = shared
            .scripts
            .presence_get
            .key(shared.keys.node_expiries())
            .key(shared.keys.node_infos())
            .invoke_async(&mut connection)
            .await?;
        infos
            .iter()
            .map(|json| {
                serde_json::from_slice(json).map_err(|error| RedisEngineError::Corrupt {
                    key: shared.keys.node_infos(),
                    what: error.to_string(),
                })
            })
            .collect()
    }

    /// Removes this node from the registry (a clean shutdown).
    pub async fn leave_registry(&self) -> Result<(), RedisEngineError> {
        let shared = &self.shared;
        let id = &shared.config.node_id;
        let mut connection = shared.commands.clone();
        let _: () = redis::pipe()
            .atomic()
            .zrem(shared.keys.node_expiries(), id)
            .ignore()
            .hdel(shared.keys.node_infos(), id)
            .ignore()
            .query_async(&mut connection)
            .await?;
        Ok(())
    }

    /// Sends a control command to every node (this one included).
    pub async fn send_control(&self, command: ControlCommand) -> Result<(), RedisEngineError> {
        let shared = &self.shared;
        let message = ControlMessage {
            from: shared.config.node_id.clone(),
            command,
        };
        let json = serde_json::to_vec(&message).map_err(|error| RedisEngineError::Corrupt {
            key: shared.keys.control_channel(),
            what: error.to_string(),
        })?;
        let mut connection = shared.commands.clone();
        let _: i64 = connection
            .publish(shared.keys.control_channel(), json)
            .await?;
        Ok(())
    }
}
