//! What `sub` prints, and from where it resubscribes: the channel
//! position it has seen, the recovery outcome of each subscribe, and no
//! publication printed twice. No I/O, so the rules are unit-tested.

use switchboard_hub_core::wire::{Publication, SubscribeRequest, SubscribeResult};

/// The outcome of one subscribe, for the note on standard error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resubscribed {
    /// A first subscribe without a position: live from `offset` on.
    Fresh {
        /// The channel's epoch.
        epoch: String,
        /// The channel's offset at subscribe time.
        offset: u64,
    },
    /// Every publication since the last position came back.
    Recovered {
        /// How many were missed (and are now printed).
        missed: usize,
    },
    /// The hub could not give back the publications since `from` (they
    /// left the history window, or the epoch changed): live from
    /// `offset` on.
    NotRecovered {
        /// The last offset seen before.
        from: u64,
        /// The channel's epoch now.
        epoch: String,
        /// The channel's offset now.
        offset: u64,
    },
}

/// A subscriber's view of one channel.
#[derive(Debug, Clone)]
pub struct Follower {
    channel: String,
    /// `(epoch, offset)` of the last publication seen (or of the
    /// subscribe); `None` before the first subscribe.
    position: Option<(String, u64)>,
    printed: u64,
}

impl Follower {
    /// A follower of `channel`, optionally starting after `start`.
    pub fn new(channel: impl Into<String>, start: Option<(String, u64)>) -> Self {
        Follower {
            channel: channel.into(),
            position: start,
            printed: 0,
        }
    }

    /// How many publication lines were produced.
    pub fn printed(&self) -> u64 {
        self.printed
    }

    /// The subscribe request: a recovering one once a position is known.
    pub fn subscribe_request(&self) -> SubscribeRequest {
        let mut request = SubscribeRequest {
            channel: self.channel.clone(),
            recoverable: true,
            positioned: true,
            ..SubscribeRequest::default()
        };
        if let Some((epoch, offset)) = &self.position {
            request.recover = true;
            request.epoch = epoch.clone();
            request.offset = *offset;
        }
        request
    }

    /// Takes a subscribe reply: the outcome and the lines of the
    /// publications it carried (recovered ones, in order, unseen ones only).
    pub fn subscribed(&mut self, result: &SubscribeResult) -> (Resubscribed, Vec<String>) {
        let before = self.position.clone();
        let mut lines = Vec::new();
        let outcome = match before {
            Some((_, from)) if result.was_recovering && !result.recovered => {
                self.position = Some((result.epoch.clone(), result.offset));
                Resubscribed::NotRecovered {
                    from,
                    epoch: result.epoch.clone(),
                    offset: result.offset,
                }
            }
            Some(_) => {
                lines.extend(
                    result
                        .publications
                        .iter()
                        .filter_map(|p| self.publication(p)),
                );
                self.position = Some((result.epoch.clone(), result.offset.max(self.offset())));
                Resubscribed::Recovered {
                    missed: lines.len(),
                }
            }
            None => {
                self.position = Some((result.epoch.clone(), result.offset));
                Resubscribed::Fresh {
                    epoch: result.epoch.clone(),
                    offset: result.offset,
                }
            }
        };
        (outcome, lines)
    }

    /// Takes a live publication: its line, or `None` when its offset was
    /// already printed (a duplicate around a resubscribe).
    pub fn publication(&mut self, publication: &Publication) -> Option<String> {
        if publication.offset > 0 {
            if publication.offset <= self.offset() && self.position.is_some() {
                return None;
            }
            let epoch = self
                .position
                .as_ref()
                .map(|(epoch, _)| epoch.clone())
                .unwrap_or_default();
            self.position = Some((epoch, publication.offset));
        }
        self.printed += 1;
        Some(line(&self.channel, publication))
    }

    fn offset(&self) -> u64 {
        self.position.as_ref().map_or(0, |(_, offset)| *offset)
    }
}

/// `{"channel":..,"offset":..,"data":..}`: the data is the publication's
/// JSON as it came (the JSON form embeds it raw).
fn line(channel: &str, publication: &Publication) -> String {
    let data = match std::str::from_utf8(&publication.data) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_owned(),
        _ => "null".to_owned(),
    };
    format!(
        "{{\"channel\":{},\"offset\":{},\"data\":{data}}}",
        serde_json::Value::from(channel),
        publication.offset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publication(offset: u64, text: &str) -> Publication {
        Publication {
            offset,
            data: format!("{{\"text\":\"{text}\"}}").into_bytes().into(),
            ..Publication::default()
        }
    }

    fn subscribed(epoch: &str, offset: u64) -> SubscribeResult {
        SubscribeResult {
            epoch: epoch.into(),
            offset,
            recoverable: true,
            positioned: true,
            ..SubscribeResult::default()
        }
    }

    #[test]
    fn first_subscribe_is_fresh_and_later_ones_recover_from_the_last_offset() {
        let mut follower = Follower::new("chat", None);
        assert!(!follower.subscribe_request().recover);
        let (outcome, lines) = follower.subscribed(&subscribed("e1", 4));
        assert_eq!(
            outcome,
            Resubscribed::Fresh {
                epoch: "e1".into(),
                offset: 4
            }
        );
        assert!(lines.is_empty());
        assert_eq!(
            follower.publication(&publication(5, "a")).unwrap(),
            r#"{"channel":"chat","offset":5,"data":{"text":"a"}}"#
        );
        let request = follower.subscribe_request();
        assert!(request.recover);
        assert_eq!((request.epoch.as_str(), request.offset), ("e1", 5));
    }

    #[test]
    fn recovered_publications_print_once_in_order() {
        let mut follower = Follower::new("chat", Some(("e1".into(), 5)));
        let mut result = subscribed("e1", 8);
        result.was_recovering = true;
        result.recovered = true;
        result.publications = vec![
            publication(6, "b"),
            publication(7, "c"),
            publication(8, "d"),
        ];
        let (outcome, lines) = follower.subscribed(&result);
        assert_eq!(outcome, Resubscribed::Recovered { missed: 3 });
        assert_eq!(lines.len(), 3);
        assert!(lines[0].contains("\"offset\":6") && lines[2].contains("\"offset\":8"));
        // The same publication again, live: not printed twice.
        assert_eq!(follower.publication(&publication(8, "d")), None);
        assert!(follower.publication(&publication(9, "e")).is_some());
        assert_eq!(follower.printed(), 4);
    }

    #[test]
    fn an_unrecoverable_gap_moves_to_the_current_position() {
        let mut follower = Follower::new("chat", Some(("e1".into(), 2)));
        let mut result = subscribed("e1", 40);
        result.was_recovering = true;
        let (outcome, lines) = follower.subscribed(&result);
        assert_eq!(
            outcome,
            Resubscribed::NotRecovered {
                from: 2,
                epoch: "e1".into(),
                offset: 40
            }
        );
        assert!(lines.is_empty());
        assert_eq!(follower.subscribe_request().offset, 40);
    }
}
