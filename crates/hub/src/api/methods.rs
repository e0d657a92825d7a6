//! Each server API method: parse its parameters, run it against the
//! engine, and build the `result` object the way Centrifugo writes it
//! (fields with default values left out).

use base64::Engine as _;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use switchboard_hub_core::codes::DisconnectCode;
use switchboard_hub_core::history::{HistoryQuery, Publication};
use switchboard_hub_core::position::{Epoch, StreamPosition};
use switchboard_hub_core::presence::ClientInfo;
use switchboard_hub_core::session::SERVER_VERSION;
use switchboard_hub_redis::NodeInfo;

use super::error::ApiError;
use super::pattern::matches;
use super::requests;
use super::NodeIdentity;
use crate::app::Hub;
use crate::engine::{PublishResult, Target};

/// Every method `batch` and `/api/<method>` accept.
pub(crate) const METHODS: [&str; 13] = [
    "publish",
    "broadcast",
    "subscribe",
    "unsubscribe",
    "disconnect",
    "refresh",
    "presence",
    "presence_stats",
    "history",
    "history_remove",
    "channels",
    "info",
    "batch",
];

/// Longest close reason a close frame carries (RFC 6455 §5.5: 125 bytes
/// of payload, two of them the code).
const MAX_CLOSE_REASON: usize = 123;

/// What a method runs against.
pub(crate) struct Context<'a> {
    pub(crate) hub: &'a Hub,
    pub(crate) node: &'a NodeIdentity,
}

/// Runs `method` with the JSON `params`; the `result` object or an error.
pub(crate) async fn execute(
    context: &Context<'_>,
    method: &str,
    params: &[u8],
) -> Result<Value, ApiError> {
    let engine = &context.hub.engine;
    match method {
        "publish" => {
            let request: requests::Publish = parse(params)?;
            let data = payload(request.data, request.b64data, "data")?;
            let channel = required(&request.channel, "channel")?;
            let result = engine
                .api_publish(channel, data, request.idempotency_key.as_deref())
                .await?;
            Ok(publish_result(&result))
        }
        "broadcast" => {
            let request: requests::Broadcast = parse(params)?;
            let data = payload(request.data, request.b64data, "data")?;
            if request.channels.is_empty() {
                return Err(ApiError::bad_request("channels required"));
            }
            let mut responses = Vec::with_capacity(request.channels.len());
            for channel in &request.channels {
                let outcome = match required(channel, "channel") {
                    Ok(channel) => engine
                        .api_publish(channel, data.clone(), request.idempotency_key.as_deref())
                        .await
                        .map_err(ApiError::from),
                    Err(error) => Err(error),
                };
                responses.push(match outcome {
                    Ok(result) => json!({ "result": publish_result(&result) }),
                    Err(error) => json!({ "error": error }),
                });
            }
            Ok(json!({ "responses": responses }))
        }
        "subscribe" => {
            let request: requests::Subscribe = parse(params)?;
            let channel = required(&request.channel, "channel")?;
            let target = target(&request.user, request.client.as_deref())?;
            let info = optional_payload(request.info, request.b64info, "info")?;
            let data = optional_payload(request.data, request.b64data, "data")?;
            engine
                .api_subscribe(target, channel, info, data.unwrap_or_default())
                .await?;
            Ok(json!({}))
        }
        "unsubscribe" => {
            let request: requests::Unsubscribe = parse(params)?;
            let channel = required(&request.channel, "channel")?;
            let target = target(&request.user, request.client.as_deref())?;
            engine.api_unsubscribe(target, channel).await?;
            Ok(json!({}))
        }
        "disconnect" => {
            let request: requests::Disconnect = parse(params)?;
            let target = target(&request.user, request.client.as_deref())?;
            let (code, reason) = match &request.disconnect {
                Some(custom) if custom.code != 0 => {
                    let code = u16::try_from(custom.code)
                        .ok()
                        .filter(|code| (3000..=4999).contains(code))
                        .ok_or_else(|| {
                            ApiError::bad_request("disconnect code must be in 3000..=4999")
                        })?;
                    (code, truncate(&custom.reason, MAX_CLOSE_REASON))
                }
                // Centrifugo's default: "force disconnect", no reconnect.
                _ => (
                    DisconnectCode::FORCE_NO_RECONNECT.code,
                    DisconnectCode::FORCE_NO_RECONNECT.reason.to_owned(),
                ),
            };
            engine
                .api_disconnect(target, &request.whitelist, code, &reason)
                .await?;
            Ok(json!({}))
        }
        "refresh" => {
            let request: requests::Refresh = parse(params)?;
            let target = target(&request.user, request.client.as_deref())?;
            if request.expired {
                let expired = DisconnectCode::EXPIRED;
                engine
                    .api_disconnect(target, &[], expired.code, expired.reason)
                    .await?;
            }
            // Connections here never expire: nothing else to extend.
            Ok(json!({}))
        }
        "presence" => {
            let request: requests::ChannelOnly = parse(params)?;
            let channel = required(&request.channel, "channel")?;
            let presence: Map<String, Value> = engine
                .api_presence(channel)
                .await?
                .iter()
                .map(|info| (info.client.clone(), client_info(info)))
                .collect();
            Ok(json!({ "presence": presence }))
        }
        "presence_stats" => {
            let request: requests::ChannelOnly = parse(params)?;
            let channel = required(&request.channel, "channel")?;
            let stats = engine.api_presence_stats(channel).await?;
            let mut result = Map::new();
            insert_nonzero(&mut result, "num_clients", u64::from(stats.num_clients));
            insert_nonzero(&mut result, "num_users", u64::from(stats.num_users));
            Ok(Value::Object(result))
        }
        "history" => {
            let request: requests::History = parse(params)?;
            let channel = required(&request.channel, "channel")?;
            let since = match request.since {
                Some(since) => Some(StreamPosition::new(
                    since.offset,
                    Epoch::parse(&since.epoch).ok_or_else(|| {
                        ApiError::from(switchboard_hub_core::HubError::UnrecoverablePosition)
                    })?,
                )),
                None => None,
            };
            let limit = match request.limit {
                // Centrifugo: no limit means the position only.
                None | Some(0) => Some(0),
                Some(limit) if limit < 0 => None,
                Some(limit) => Some(usize::try_from(limit).unwrap_or(usize::MAX)),
            };
            let query = HistoryQuery {
                since,
                limit,
                reverse: request.reverse,
            };
            let read = engine.api_history(channel, &query).await?;
            let publications: Vec<Value> = read.publications.iter().map(publication).collect();
            let mut result = Map::new();
            if !publications.is_empty() {
                result.insert("publications".into(), Value::Array(publications));
            }
            insert_nonzero(&mut result, "offset", read.position.offset);
            insert_nonempty(&mut result, "epoch", read.position.epoch.as_str());
            Ok(Value::Object(result))
        }
        "history_remove" => {
            let request: requests::ChannelOnly = parse(params)?;
            engine
                .api_history_remove(required(&request.channel, "channel")?)
                .await?;
            Ok(json!({}))
        }
        "channels" => {
            let request: requests::Channels = if params.iter().all(u8::is_ascii_whitespace) {
                requests::Channels::default()
            } else {
                parse(params)?
            };
            let channels: Map<String, Value> = engine
                .api_channels()
                .into_iter()
                .filter(|(name, _)| request.pattern.is_empty() || matches(&request.pattern, name))
                .map(|(name, count)| {
                    let mut info = Map::new();
                    insert_nonzero(&mut info, "num_clients", count as u64);
                    (name, Value::Object(info))
                })
                .collect();
            Ok(json!({ "channels": channels }))
        }
        "info" => {
            if let Some(nodes) = engine.nodes().await {
                // Every live node of the hub, from the Redis registry.
                let nodes: Vec<Value> = nodes?.iter().map(registry_node).collect();
                return Ok(json!({ "nodes": nodes }));
            }
            let stats = engine.stats();
            let mut node = Map::new();
            node.insert("uid".into(), context.node.uid.clone().into());
            node.insert("name".into(), context.node.name.clone().into());
            node.insert("version".into(), SERVER_VERSION.into());
            insert_nonzero(&mut node, "num_clients", stats.num_clients as u64);
            insert_nonzero(&mut node, "num_users", stats.num_users as u64);
            insert_nonzero(&mut node, "num_channels", stats.num_channels as u64);
            insert_nonzero(&mut node, "uptime", engine.metrics().uptime().as_secs());
            insert_nonzero(&mut node, "num_subs", stats.num_subs as u64);
            Ok(json!({ "nodes": [node] }))
        }
        other => Err(ApiError::method_not_found(other)),
    }
}

/// A registry entry as Centrifugo's `info` writes a node.
pub(crate) fn registry_node(info: &NodeInfo) -> Value {
    let mut node = Map::new();
    node.insert("uid".into(), info.id.clone().into());
    node.insert("name".into(), info.name.clone().into());
    node.insert("version".into(), info.version.clone().into());
    insert_nonzero(&mut node, "num_clients", info.num_clients);
    insert_nonzero(&mut node, "num_users", info.num_users);
    insert_nonzero(&mut node, "num_channels", info.num_channels);
    insert_nonzero(&mut node, "uptime", info.uptime);
    insert_nonzero(&mut node, "num_subs", info.num_subs);
    Value::Object(node)
}

fn parse<T: DeserializeOwned>(params: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(params).map_err(ApiError::bad_request)
}

fn required<'a>(value: &'a str, field: &str) -> Result<&'a str, ApiError> {
    if value.is_empty() {
        Err(ApiError::bad_request(format!("{field} required")))
    } else {
        Ok(value)
    }
}

/// Which connections a user-aimed command reaches. An empty user means
/// the anonymous connections, which only a client id may single out.
fn target<'a>(user: &'a str, client: Option<&'a str>) -> Result<Target<'a>, ApiError> {
    let client = client.filter(|client| !client.is_empty());
    if user.is_empty() && client.is_none() {
        return Err(ApiError::bad_request("user required"));
    }
    Ok(Target { user, client })
}

/// The payload of `data` (raw JSON) or `b64data` (base64 bytes).
fn payload(
    data: Option<Box<RawValue>>,
    b64data: Option<String>,
    field: &str,
) -> Result<Bytes, ApiError> {
    optional_payload(data, b64data, field)?
        .ok_or_else(|| ApiError::bad_request(format!("{field} required")))
}

fn optional_payload(
    data: Option<Box<RawValue>>,
    b64data: Option<String>,
    field: &str,
) -> Result<Option<Bytes>, ApiError> {
    if let Some(encoded) = b64data.filter(|encoded| !encoded.is_empty()) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|error| ApiError::bad_request(format!("b64{field}: {error}")))?;
        return Ok(Some(bytes.into()));
    }
    Ok(data.map(|raw| Bytes::copy_from_slice(raw.get().as_bytes())))
}

fn publish_result(result: &PublishResult) -> Value {
    let mut object = Map::new();
    insert_nonzero(&mut object, "offset", result.offset);
    insert_nonempty(&mut object, "epoch", &result.epoch);
    Value::Object(object)
}

/// A payload as JSON: embedded when it is JSON, else a base64 string.
fn embedded(data: &Bytes) -> Value {
    serde_json::from_slice(data)
        .unwrap_or_else(|_| Value::String(base64::engine::general_purpose::STANDARD.encode(data)))
}

fn client_info(info: &ClientInfo) -> Value {
    let mut object = Map::new();
    insert_nonempty(&mut object, "user", &info.user);
    insert_nonempty(&mut object, "client", &info.client);
    if let Some(conn_info) = &info.conn_info {
        object.insert("conn_info".into(), embedded(conn_info));
    }
    if let Some(chan_info) = &info.chan_info {
        object.insert("chan_info".into(), embedded(chan_info));
    }
    Value::Object(object)
}

fn publication(publication: &Publication) -> Value {
    let mut object = Map::new();
    object.insert("data".into(), embedded(&publication.data));
    insert_nonzero(&mut object, "offset", publication.offset);
    if let Some(info) = &publication.info {
        object.insert("info".into(), client_info(info));
    }
    Value::Object(object)
}

fn insert_nonzero(object: &mut Map<String, Value>, key: &str, value: u64) {
    if value != 0 {
        object.insert(key.into(), value.into());
    }
}

fn insert_nonempty(object: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        object.insert(key.into(), value.into());
    }
}

fn truncate(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
