//! The chaos tests' rule (chaos_support::check) on hand-written event
//! sequences: it must accept what is right and catch each way of being
//! wrong, or the chaos tests would prove nothing.

mod chaos_support;

use std::collections::HashMap;

use chaos_support::check::{check, reached, Target};
use serde_json::{json, Value};

fn subscribed(offset: u64, epoch: &str, was_recovering: bool, recovered: bool) -> Value {
    json!({"sub": 0, "event": "subscribed", "offset": offset, "epoch": epoch,
           "wasRecovering": was_recovering, "recovered": recovered})
}

fn publication(offset: u64, n: u64) -> Value {
    json!({"sub": 0, "event": "publication", "offset": offset, "n": n})
}

fn connecting(code: i64) -> Value {
    json!({"sub": 0, "event": "connecting", "code": code, "reason": ""})
}

/// The publisher put n = offset - 1 at offsets 1..=top of epoch `e1`.
fn target(top: u64) -> Target {
    Target {
        epoch: "e1".to_owned(),
        offset: top,
        data: (1..=top).map(|o| (("e1".to_owned(), o), o - 1)).collect(),
    }
}

#[test]
fn every_offset_once_passes() {
    let events = vec![
        connecting(0),
        subscribed(0, "e1", false, false),
        publication(1, 0),
        publication(2, 1),
        connecting(3001),
        subscribed(4, "e1", true, true),
        publication(3, 2),
        publication(4, 3),
    ];
    let summary = check(&events, &target(4)).expect("valid");
    assert_eq!(summary.publications, 4);
    assert_eq!(summary.recovered, 1);
    assert_eq!(summary.reconnect_codes, vec![3001]);
    assert!(reached(&events, &target(4)));
}

#[test]
fn a_duplicate_offset_fails() {
    let events = vec![
        subscribed(0, "e1", false, false),
        publication(1, 0),
        subscribed(1, "e1", true, true),
        publication(1, 0),
        publication(2, 1),
    ];
    let error = check(&events, &target(2)).expect_err("a duplicate");
    assert!(error.contains("offset 1 delivered twice"), "{error}");
}

#[test]
fn a_silent_gap_fails() {
    let events = vec![
        subscribed(0, "e1", false, false),
        publication(1, 0),
        publication(3, 2),
    ];
    let error = check(&events, &target(3)).expect_err("a gap");
    assert!(error.contains("offsets 2..2"), "{error}");
}

#[test]
fn recovered_false_allows_the_gap_then_needs_every_offset() {
    let mut data: HashMap<(String, u64), u64> = HashMap::new();
    data.insert(("e2".to_owned(), 1), 10);
    data.insert(("e2".to_owned(), 2), 11);
    let target = Target {
        epoch: "e2".to_owned(),
        offset: 2,
        data,
    };
    let mut events = vec![
        subscribed(0, "e1", false, false),
        publication(1, 0),
        subscribed(1, "e2", true, false),
        publication(2, 11),
    ];
    let summary = check(&events, &target).expect("an explicit loss is allowed");
    assert_eq!(summary.not_recovered, 1);
    assert_eq!(summary.epochs, vec!["e1".to_owned(), "e2".to_owned()]);
    // Starting at the new position, nothing may be missed afterwards.
    events[2] = subscribed(0, "e2", true, false);
    let error = check(&events, &target).expect_err("offset 1 of e2 missing");
    assert!(error.contains("offsets 1..1 of epoch e2"), "{error}");
}

#[test]
fn recovered_true_across_an_epoch_change_fails() {
    let events = vec![
        subscribed(0, "e1", false, false),
        subscribed(0, "e2", true, true),
    ];
    let error = check(&events, &target(0)).expect_err("epoch change");
    assert!(error.contains("across an epoch change"), "{error}");
}

#[test]
fn a_resubscribe_without_recovery_fails() {
    let events = vec![
        subscribed(0, "e1", false, false),
        subscribed(5, "e1", false, false),
    ];
    let error = check(&events, &target(5)).expect_err("no recovery attempted");
    assert!(error.contains("did not try to recover"), "{error}");
}

#[test]
fn wrong_data_at_an_offset_fails() {
    let events = vec![subscribed(0, "e1", false, false), publication(1, 7)];
    let error = check(&events, &target(1)).expect_err("wrong data");
    assert!(error.contains("n=0"), "{error}");
}

#[test]
fn ending_before_the_last_publish_fails() {
    let events = vec![subscribed(0, "e1", false, false), publication(1, 0)];
    assert!(!reached(&events, &target(2)));
    let error = check(&events, &target(2)).expect_err("behind");
    assert!(error.contains("ended at offset 1"), "{error}");
}

#[test]
fn a_position_acknowledged_for_two_publications_is_found() {
    use chaos_support::publisher::{PublishLog, Published};
    let published = |n, offset| Published {
        n,
        offset,
        epoch: "e1".to_owned(),
    };
    let log = PublishLog {
        published: vec![
            published(0, 1),
            published(1, 2),
            published(1, 2),
            published(7, 2),
        ],
        ..PublishLog::default()
    };
    // The same publication acknowledged twice (an idempotent retry) is fine;
    // another publication at a taken position is not.
    assert_eq!(log.reused_positions(), vec![("e1".to_owned(), 2, 1, 7)]);
}
