//! [`ApiError`]: an error in the body of a server API reply,
//! `{"error":{"code":..,"message":..}}` with Centrifugo's codes.

use serde::Serialize;
use switchboard_hub_core::HubError;

/// An error reply of one server API command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ApiError {
    /// Centrifugo's error code (100 internal, 102 unknown channel, 107
    /// bad request, 108 not available, ...).
    pub(crate) code: u32,
    /// What went wrong.
    pub(crate) message: String,
}

impl ApiError {
    /// 107 "bad request" with what to fix.
    pub(crate) fn bad_request(detail: impl std::fmt::Display) -> Self {
        ApiError {
            code: HubError::BadRequest.code(),
            message: format!("bad request: {detail}"),
        }
    }

    /// 104 "method not found" for `method`.
    pub(crate) fn method_not_found(method: &str) -> Self {
        ApiError {
            code: HubError::MethodNotFound.code(),
            message: format!(
                "method not found: {method} (see the Centrifugo server API: publish, broadcast, \
                 subscribe, unsubscribe, disconnect, refresh, presence, presence_stats, history, \
                 history_remove, channels, info, batch)"
            ),
        }
    }
}

impl From<HubError> for ApiError {
    fn from(error: HubError) -> Self {
        ApiError {
            code: error.code(),
            message: error.protocol_message().to_owned(),
        }
    }
}

impl From<crate::engine::EngineError> for ApiError {
    fn from(error: crate::engine::EngineError) -> Self {
        match error {
            crate::engine::EngineError::Refused(refused) => refused.into(),
            unavailable => ApiError {
                code: HubError::Internal.code(),
                message: unavailable.to_string(),
            },
        }
    }
}
