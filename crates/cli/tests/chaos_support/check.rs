//! The chaos tests' assertion. A subscriber's events, in order, must show
//! every offset of its channel from its first subscription to the last
//! publish exactly once and in order, except after an explicit
//! `recovered: false` resubscribe, from whose position on it must again have
//! every offset. Data must match what the publisher was told was at each
//! offset.

use std::collections::HashMap;

use serde_json::Value;

use super::publisher::PublishLog;

/// What one subscriber went through, for the test's report and its
/// fault-specific assertions.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Publications received.
    pub publications: u64,
    /// `connected` events (1 when it never reconnected).
    pub connects: u64,
    /// Resubscribes that recovered every missed publication.
    pub recovered: u64,
    /// Resubscribes that said `recovered: false` (an explicit loss).
    pub not_recovered: u64,
    /// The codes of every `connecting` after the first (why it reconnected).
    pub reconnect_codes: Vec<i64>,
    /// The codes of every `subscribing` after the first subscription and
    /// every `unsubscribed`.
    pub subscription_codes: Vec<i64>,
    /// The epochs it saw, in order.
    pub epochs: Vec<String>,
}

/// The position a subscriber must end at: the last acknowledged publish.
#[derive(Debug, Clone)]
pub struct Target {
    /// The channel's epoch at the last publish.
    pub epoch: String,
    /// The offset of the last publish.
    pub offset: u64,
    /// `n` by `(epoch, offset)`, from the publisher's acknowledgements.
    pub data: HashMap<(String, u64), u64>,
}

impl Target {
    /// The target of a finished publisher.
    pub fn of(log: &PublishLog) -> Target {
        let last = log.last().expect("the publisher published something");
        Target {
            epoch: last.epoch.clone(),
            offset: last.offset,
            // A position acknowledged twice is reported on its own
            // (PublishLog::reused_positions); the data check keeps the first.
            data: log
                .published
                .iter()
                .rev()
                .map(|p| ((p.epoch.clone(), p.offset), p.n))
                .collect(),
        }
    }
}

/// Whether `events` reached `target` (whatever else is wrong with them):
/// the last subscription is in the target's epoch and has seen its offset,
/// by a publication or as the position of a `recovered: false` resubscribe
/// (a recovering one is followed by its recovered publications).
pub fn reached(events: &[Value], target: &Target) -> bool {
    let mut epoch = None;
    let mut position = None;
    for event in events {
        match event["event"].as_str() {
            Some("subscribed") => {
                epoch = event["epoch"].as_str();
                if event["recovered"] != true {
                    position = event["offset"].as_u64();
                }
            }
            Some("publication") => position = position.max(event["offset"].as_u64()),
            _ => {}
        }
    }
    epoch == Some(target.epoch.as_str()) && position.is_some_and(|p| p >= target.offset)
}

/// Checks one subscriber's events against the rule; the error says which
/// offset broke it and shows the events around it.
pub fn check(events: &[Value], target: &Target) -> Result<Summary, String> {
    let mut summary = Summary::default();
    let mut epoch: Option<String> = None;
    let mut next = 0u64;
    let mut connecting_seen = false;
    let mut subscribed_once = false;
    for (index, event) in events.iter().enumerate() {
        let context = || around(events, index);
        match event["event"].as_str().unwrap_or_default() {
            "connecting" => {
                if connecting_seen {
                    summary
                        .reconnect_codes
                        .push(event["code"].as_i64().unwrap_or(-1));
                }
                connecting_seen = true;
            }
            "connected" => summary.connects += 1,
            "subscribing" if subscribed_once => {
                summary
                    .subscription_codes
                    .push(event["code"].as_i64().unwrap_or(-1));
            }
            "unsubscribed" => summary
                .subscription_codes
                .push(event["code"].as_i64().unwrap_or(-1)),
            "subscribed" => {
                let offset = event["offset"]
                    .as_u64()
                    .ok_or_else(|| format!("subscribed without an offset: {}", context()))?;
                let new_epoch = event["epoch"]
                    .as_str()
                    .filter(|e| !e.is_empty())
                    .ok_or_else(|| format!("subscribed without an epoch: {}", context()))?
                    .to_owned();
                match &epoch {
                    None => {
                        epoch = Some(new_epoch.clone());
                        summary.epochs.push(new_epoch);
                        next = offset + 1;
                    }
                    Some(current) => {
                        if event["wasRecovering"] != true {
                            return Err(format!(
                                "a resubscribe that did not try to recover: publications in \
                                 between would be lost without a `recovered: false`: {}",
                                context()
                            ));
                        }
                        if event["recovered"] == true {
                            summary.recovered += 1;
                            if &new_epoch != current {
                                return Err(format!(
                                    "`recovered: true` across an epoch change ({current} -> \
                                     {new_epoch}): {}",
                                    context()
                                ));
                            }
                            if offset + 1 < next {
                                return Err(format!(
                                    "recovered at offset {offset}, behind offset {} already \
                                     received: {}",
                                    next - 1,
                                    context()
                                ));
                            }
                        } else {
                            summary.not_recovered += 1;
                            if &new_epoch != current {
                                summary.epochs.push(new_epoch.clone());
                            }
                            epoch = Some(new_epoch);
                            next = offset + 1;
                        }
                    }
                }
                subscribed_once = true;
            }
            "publication" => {
                summary.publications += 1;
                let offset = event["offset"]
                    .as_u64()
                    .ok_or_else(|| format!("publication without an offset: {}", context()))?;
                let Some(current) = &epoch else {
                    return Err(format!("publication before any subscribed: {}", context()));
                };
                if offset < next {
                    return Err(format!(
                        "offset {offset} delivered twice or out of order (expected {next} in \
                         epoch {current}): {}",
                        context()
                    ));
                }
                if offset > next {
                    return Err(format!(
                        "offsets {next}..{} of epoch {current} lost without a `recovered: \
                         false`: {}",
                        offset - 1,
                        context()
                    ));
                }
                if let Some(&n) = target.data.get(&(current.clone(), offset)) {
                    if event["n"].as_u64() != Some(n) {
                        return Err(format!(
                            "offset {offset} of epoch {current} carries {} but the publisher was \
                             told n={n} is there: {}",
                            event["n"],
                            context()
                        ));
                    }
                }
                next += 1;
            }
            _ => {}
        }
    }
    let Some(epoch) = epoch else {
        return Err("never subscribed".to_owned());
    };
    if epoch != target.epoch || next != target.offset + 1 {
        return Err(format!(
            "ended at offset {} of epoch {epoch}, but the last publish is at offset {} of epoch \
             {}; last events: {}",
            next.saturating_sub(1),
            target.offset,
            target.epoch,
            around(events, events.len().saturating_sub(1))
        ));
    }
    Ok(summary)
}

/// The events around `index`, one a line, for error messages.
fn around(events: &[Value], index: usize) -> String {
    let from = index.saturating_sub(6);
    let to = (index + 4).min(events.len());
    let mut text = String::new();
    for (i, event) in events[from..to].iter().enumerate() {
        let marker = if from + i == index { ">>" } else { "  " };
        text.push_str(&format!("\n{marker} {event}"));
    }
    text
}
