//! The Redis engine's errors.

/// What went wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum RedisEngineError {
    /// Redis could not be reached or did not answer in time. The operation
    /// did not happen (a publish is then never acknowledged).
    #[error("Redis is unavailable ({0}): check that redis-server is running and that --redis-url points at it")]
    Unavailable(#[source] redis::RedisError),
    /// The URL could not be parsed.
    #[error("invalid Redis URL {url:?} ({source}): use the form redis://HOST:PORT[/DB]")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why the client refused it.
        #[source]
        source: redis::RedisError,
    },
    /// Redis answered with something this engine did not write: another
    /// program uses the same keys, or two incompatible versions share a
    /// prefix.
    #[error("unexpected data in Redis under {key:?} ({what}): give this hub its own key prefix")]
    Corrupt {
        /// The key or channel concerned.
        key: String,
        /// What was wrong with it.
        what: String,
    },
    /// The pub/sub connection is down, so a subscription cannot be made
    /// now; the engine reconnects by itself.
    #[error("the Redis pub/sub connection is down: retry once the engine is healthy again")]
    PubSubDown,
    /// The request itself was refused, as the memory engine refuses it
    /// (e.g. a history position from another epoch).
    #[error(transparent)]
    Refused(#[from] switchboard_hub_core::HubError),
}

impl From<redis::RedisError> for RedisEngineError {
    fn from(error: redis::RedisError) -> Self {
        RedisEngineError::Unavailable(error)
    }
}
