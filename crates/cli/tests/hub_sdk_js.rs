//! centrifuge-js (npm `centrifuge`, under Node) against a real `switchboard serve` hub, in JSON and in
//! Protobuf: connect, subscribe, publish, history, presence, recovery after a
//! cut (and past the history window), and a slow consumer. Needs
//! `scripts/install-deps.sh`; `SWITCHBOARD_SKIP_INTEROP=1` skips.

mod common;
mod hub_support;

use hub_support::{run, scenarios, skip_requested, Format, Sdk};

#[test]
fn js_json_connect_subscribe_publish_history_presence() {
    if skip_requested("js_json_connect_subscribe_publish_history_presence") {
        return;
    }
    run(scenarios::pubsub_history_presence(Sdk::Js, Format::Json));
}

#[test]
fn js_json_recovers_every_publication_after_relay_cut() {
    if skip_requested("js_json_recovers_every_publication_after_relay_cut") {
        return;
    }
    run(scenarios::recovery_after_cut(Sdk::Js, Format::Json));
}

#[test]
fn js_json_reports_recovered_false_past_history_window() {
    if skip_requested("js_json_reports_recovered_false_past_history_window") {
        return;
    }
    run(scenarios::recovery_fails_past_history_window(
        Sdk::Js,
        Format::Json,
    ));
}

#[test]
fn js_json_slow_consumer_is_disconnected_3008_and_recovers() {
    if skip_requested("js_json_slow_consumer_is_disconnected_3008_and_recovers") {
        return;
    }
    run(scenarios::slow_consumer(Sdk::Js, Format::Json));
}

#[test]
fn js_protobuf_connect_subscribe_publish_history_presence() {
    if skip_requested("js_protobuf_connect_subscribe_publish_history_presence") {
        return;
    }
    run(scenarios::pubsub_history_presence(
        Sdk::Js,
        Format::Protobuf,
    ));
}

#[test]
fn js_protobuf_recovers_every_publication_after_relay_cut() {
    if skip_requested("js_protobuf_recovers_every_publication_after_relay_cut") {
        return;
    }
    run(scenarios::recovery_after_cut(Sdk::Js, Format::Protobuf));
}

#[test]
fn js_protobuf_reports_recovered_false_past_history_window() {
    if skip_requested("js_protobuf_reports_recovered_false_past_history_window") {
        return;
    }
    run(scenarios::recovery_fails_past_history_window(
        Sdk::Js,
        Format::Protobuf,
    ));
}

#[test]
fn js_protobuf_slow_consumer_is_disconnected_3008_and_recovers() {
    if skip_requested("js_protobuf_slow_consumer_is_disconnected_3008_and_recovers") {
        return;
    }
    run(scenarios::slow_consumer(Sdk::Js, Format::Protobuf));
}
