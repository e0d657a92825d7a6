//! [`EngineError`]: why an engine operation did not happen.

use switchboard_hub_core::HubError;
use switchboard_hub_redis::RedisEngineError;

/// Why an engine refused or failed an operation.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EngineError {
    /// Refused as the protocol defines it (unknown channel, no history...).
    #[error(transparent)]
    Refused(#[from] HubError),
    /// The Redis engine could not reach Redis: nothing happened (a publish
    /// was not published).
    #[error("the Redis engine is unavailable ({0}); retry once /ready answers 200")]
    Unavailable(#[source] RedisEngineError),
}

impl From<RedisEngineError> for EngineError {
    fn from(error: RedisEngineError) -> Self {
        match error {
            RedisEngineError::Refused(refused) => EngineError::Refused(refused),
            other => EngineError::Unavailable(other),
        }
    }
}

impl EngineError {
    /// The error as a client protocol error: a Redis failure is 100
    /// "internal server error: retry later" (the SDKs retry it).
    pub(crate) fn into_hub_error(self) -> HubError {
        match self {
            EngineError::Refused(error) => error,
            EngineError::Unavailable(error) => {
                tracing::warn!(%error, "a client command failed in Redis");
                HubError::Internal
            }
        }
    }
}
