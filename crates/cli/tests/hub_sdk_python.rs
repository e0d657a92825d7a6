//! centrifuge-python (PyPI) against a real `switchboard serve` hub, in JSON and in
//! Protobuf: connect, subscribe, publish, history, presence, recovery after a
//! cut (and past the history window), and a slow consumer. Needs
//! `scripts/install-deps.sh`; `SWITCHBOARD_SKIP_INTEROP=1` skips.

mod common;
mod hub_support;

use hub_support::{run, scenarios, skip_requested, Format, Sdk};

#[test]
fn python_json_connect_subscribe_publish_history_presence() {
    if skip_requested("python_json_connect_subscribe_publish_history_presence") {
        return;
    }
    run(scenarios::pubsub_history_presence(
        Sdk::Python,
        Format::Json,
    ));
}

#[test]
fn python_json_recovers_every_publication_after_relay_cut() {
    if skip_requested("python_json_recovers_every_publication_after_relay_cut") {
        return;
    }
    run(scenarios::recovery_after_cut(Sdk::Python, Format::Json));
}

#[test]
fn python_json_reports_recovered_false_past_history_window() {
    if skip_requested("python_json_reports_recovered_false_past_history_window") {
        return;
    }
    run(scenarios::recovery_fails_past_history_window(
        Sdk::Python,
        Format::Json,
    ));
}

#[test]
fn python_json_slow_consumer_is_disconnected_3008_and_recovers() {
    if skip_requested("python_json_slow_consumer_is_disconnected_3008_and_recovers") {
        return;
    }
    run(scenarios::slow_consumer(Sdk::Python, Format::Json));
}

#[test]
fn python_protobuf_connect_subscribe_publish_history_presence() {
    if skip_requested("python_protobuf_connect_subscribe_publish_history_presence") {
        return;
    }
    run(scenarios::pubsub_history_presence(
        Sdk::Python,
        Format::Protobuf,
    ));
}

#[test]
fn python_protobuf_recovers_every_publication_after_relay_cut() {
    if skip_requested("python_protobuf_recovers_every_publication_after_relay_cut") {
        return;
    }
    run(scenarios::recovery_after_cut(Sdk::Python, Format::Protobuf));
}

#[test]
fn python_protobuf_reports_recovered_false_past_history_window() {
    if skip_requested("python_protobuf_reports_recovered_false_past_history_window") {
        return;
    }
    run(scenarios::recovery_fails_past_history_window(
        Sdk::Python,
        Format::Protobuf,
    ));
}

#[test]
fn python_protobuf_slow_consumer_is_disconnected_3008_and_recovers() {
    if skip_requested("python_protobuf_slow_consumer_is_disconnected_3008_and_recovers") {
        return;
    }
    run(scenarios::slow_consumer(Sdk::Python, Format::Protobuf));
}
