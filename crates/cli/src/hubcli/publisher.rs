//! `switchboard pub`: publish one value and print the reply.

use bytes::Bytes;
use switchboard_hub_core::wire::{Command, PublishRequest};

use super::args::PubArgs;
use super::client::HubConnection;
use super::error::HubCliError;

/// Publishes `args.data` into the channel; returns the reply as a JSON line.
pub async fn publish(args: PubArgs) -> Result<String, HubCliError> {
    let data = if args.text {
        serde_json::json!({ "text": args.data }).to_string()
    } else {
        let value: serde_json::Value = serde_json::from_str(&args.data)
            .map_err(|source| HubCliError::DataNotJson { source })?;
        value.to_string()
    };
    let (mut connection, _connected) = HubConnection::open(&args.client).await?;
    let reply = connection
        .request(
            "publish",
            Command {
                publish: Some(PublishRequest {
                    channel: args.client.channel.clone(),
                    data: Bytes::from(data),
                }),
                ..Command::default()
            },
        )
        .await?;
    connection.close().await;
    serde_json::to_string(&reply).map_err(|error| HubCliError::Malformed(error.to_string()))
}
