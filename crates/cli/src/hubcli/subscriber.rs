//! `switchboard sub`: subscribe, print publications, and on a dropped
//! connection reconnect and resubscribe from the last position.

use std::time::Duration;

use switchboard_hub_core::wire::Command;

use super::args::SubArgs;
use super::client::{Ended, HubConnection, Incoming};
use super::error::HubCliError;
use super::follower::{Follower, Resubscribed};

/// First reconnect delay; doubles up to [`MAX_DELAY`] while reconnects fail.
const MIN_DELAY: Duration = Duration::from_millis(200);
/// Longest reconnect delay.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Unsubscribe push codes from this one on ask the client to resubscribe
/// (Centrifugo's rule); lower ones end the subscription for good.
const RESUBSCRIBE_CODES: u32 = 2500;

/// How one connection ended.
enum SessionEnd {
    /// `--count` publications were printed.
    Done,
    /// The connection dropped after subscribing; reconnect at once.
    Dropped(Ended),
}

/// Runs `sub` until `--count` publications were printed, or forever.
pub async fn subscribe(args: SubArgs) -> Result<(), HubCliError> {
    let start = args.epoch.clone().zip(args.since);
    let mut follower = Follower::new(args.client.channel.clone(), start);
    let mut delay = MIN_DELAY;
    let mut ever_subscribed = false;
    loop {
        let ended = match session(&args, &mut follower).await {
            Ok(SessionEnd::Done) => return Ok(()),
            Ok(SessionEnd::Dropped(ended)) => {
                ever_subscribed = true;
                delay = MIN_DELAY;
                ended
            }
            // A wrong URL or a refused first connect is the user's to fix.
            Err(error) if !ever_subscribed => return Err(error),
            Err(error) => match retriable(error) {
                Ok(ended) => ended,
                Err(error) => return Err(error),
            },
        };
        if !ended.reconnect() {
            return Err(HubCliError::Terminal {
                code: ended.code,
                reason: ended.reason,
            });
        }
        eprintln!(
            "sub: disconnected ({} {}); reconnecting in {delay:?}",
            ended.code, ended.reason
        );
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}

/// Errors of a reconnect attempt that are worth another try.
fn retriable(error: HubCliError) -> Result<Ended, HubCliError> {
    match error {
        HubCliError::Socket(error) => Ok(Ended {
            code: 1006,
            reason: error.to_string(),
        }),
        HubCliError::Ended(reason) => Ok(Ended { code: 1006, reason }),
        HubCliError::Timeout(after) => Ok(Ended {
            code: 1006,
            reason: format!("no answer within {after:?}"),
        }),
        other => Err(other),
    }
}

/// One connection: connect, subscribe (recovering once a position is
/// known), then print publications until the connection ends.
async fn session(args: &SubArgs, follower: &mut Follower) -> Result<SessionEnd, HubCliError> {
    let (mut connection, connected) = HubConnection::open(&args.client).await?;
    let reply = connection
        .request(
            "subscribe",
            Command {
                subscribe: Some(follower.subscribe_request()),
                ..Command::default()
            },
        )
        .await?;
    let result = reply.subscribe.unwrap_or_default();
    let (outcome, lines) = follower.subscribed(&result);
    let channel = &args.client.channel;
    match outcome {
        Resubscribed::Fresh { epoch, offset } => eprintln!(
            "sub: connected as {}, subscribed to {channel} at epoch {epoch:?} offset {offset}",
            connected.client
        ),
        Resubscribed::Recovered { missed } => {
            eprintln!("sub: resubscribed to {channel}: recovered {missed} missed publications")
        }
        Resubscribed::NotRecovered {
            from,
            epoch,
            offset,
        } => eprintln!(
            "sub: could not recover {channel}: publications after offset {from} are lost \
             (out of the history window or a new epoch); continuing at epoch {epoch:?} offset {offset}"
        ),
    }
    for line in lines {
        if print(args, follower, &line) {
            connection.close().await;
            return Ok(SessionEnd::Done);
        }
    }
    loop {
        let push = match connection.next_push().await {
            Incoming::Push(push) => *push,
            Incoming::Ended(ended) => return Ok(SessionEnd::Dropped(ended)),
        };
        if push.channel != *channel {
            continue;
        }
        if let Some(unsubscribed) = push.unsubscribe {
            if unsubscribed.code < RESUBSCRIBE_CODES {
                return Err(HubCliError::Refused {
                    command: "the subscription",
                    code: unsubscribed.code,
                    message: unsubscribed.reason,
                });
            }
            connection.close().await;
            return Ok(SessionEnd::Dropped(Ended {
                code: 3000,
                reason: format!(
                    "unsubscribed: {} {}",
                    unsubscribed.code, unsubscribed.reason
                ),
            }));
        }
        if let Some(publication) = push.publication {
            if let Some(line) = follower.publication(&publication) {
                if print(args, follower, &line) {
                    connection.close().await;
                    return Ok(SessionEnd::Done);
                }
            }
        }
    }
}

/// Prints one line; whether `--count` is reached.
fn print(args: &SubArgs, follower: &Follower, line: &str) -> bool {
    // Standard output is line-buffered: each line reaches a pipe at once.
    println!("{line}");
    args.count.is_some_and(|count| follower.printed() >= count)
}
