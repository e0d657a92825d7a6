//! The result of a run as one JSON line (the keys `bench/summarize.py`
//! reads, as `switchboard bench --json` writes them) or a short summary.

use serde_json::{json, Value};

use crate::drive::Outcome;
use crate::options::Options;

/// The JSON report of a loaded run.
pub fn json(options: &Options, connections_open: usize, outcome: &Outcome) -> Value {
    let seconds = outcome.window.as_secs_f64();
    let share = |cpu: Option<std::time::Duration>| cpu.map(|busy| busy.as_secs_f64() / seconds);
    let latency = (!outcome.latency.is_empty()).then(|| {
        let us = |quantile: f64| outcome.latency.value_at_quantile(quantile) as f64 / 1000.0;
        json!({
            "p50_us": us(0.5),
            "p90_us": us(0.9),
            "p99_us": us(0.99),
            "p99_9_us": us(0.999),
            "max_us": outcome.latency.max() as f64 / 1000.0,
            "mean_us": outcome.latency.mean() / 1000.0,
        })
    });
    json!({
        "load_generator": "echo-loadgen",
        "url": options.url,
        "mode": if options.raw_tcp { "raw-tcp" } else { "websocket" },
        "connections": options.connections,
        "connections_open": connections_open,
        "payload_size": options.payload_size,
        "kind": options.kind.name(),
        "in_flight": options.in_flight,
        "warmup_secs": options.warmup.as_secs_f64(),
        "duration_secs": seconds,
        "messages": outcome.messages,
        "bytes": outcome.messages * options.payload_size as u64,
        "messages_per_sec": outcome.messages as f64 / seconds,
        "megabytes_per_sec": (outcome.messages * options.payload_size as u64) as f64 / seconds / 1e6,
        "latency": latency,
        "load_generator_cpu": share(outcome.own_cpu),
        "load_generator_busy": share(outcome.own_cpu.map(|cpu| cpu.saturating_sub(outcome.idle_spin))),
        "server_cpu": share(outcome.server_cpu),
        "content_checked": outcome.content_checked,
        "mismatches": outcome.mismatches,
        "connection_errors": outcome.connection_errors,
        "first_error": outcome.first_error,
    })
}

/// A few human-readable lines from the JSON report.
pub fn summary(report: &Value) -> String {
    let number = |key: &str| report[key].as_f64().unwrap_or(f64::NAN);
    let percent = |key: &str| match report[key].as_f64() {
        Some(share) => format!("{:.0}%", share * 100.0),
        None => "–".to_owned(),
    };
    let latency = &report["latency"];
    format!(
        "{} ({}): {} connections x {} B {}, {} in flight\n\
         messages/s   {:.0}\n\
         latency µs   p50 {} p99 {}\n\
         CPU          load generator {}, server {}\n\
         checked      every echo's length, content of {}\n\
         mismatches   {}, connection errors {}{}",
        report["url"].as_str().unwrap_or_default(),
        report["mode"].as_str().unwrap_or_default(),
        report["connections_open"],
        report["payload_size"],
        report["kind"].as_str().unwrap_or_default(),
        report["in_flight"],
        number("messages_per_sec"),
        latency["p50_us"],
        latency["p99_us"],
        percent("load_generator_cpu"),
        percent("server_cpu"),
        report["content_checked"],
        report["mismatches"],
        report["connection_errors"],
        match report["first_error"].as_str() {
            Some(error) => format!(" (first: {error})"),
            None => String::new(),
        },
    )
}
