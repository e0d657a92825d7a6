//! What the browser tests check of every page run, shared by the demo
//! page's tests (`hub_browser.rs`) and the drain behind HAProxy
//! (`hub_browser_drain.rs`).

use serde_json::Value;

/// Asserts that the page logged no console error and no failed request,
/// except Chromium's own log line for a reconnect attempt made while the
/// page is offline (`ERR_INTERNET_DISCONNECTED`): the browser prints it for
/// any WebSocket that cannot connect, and the SDK keeps retrying by design.
pub fn assert_no_page_problems(result: &Value) {
    let problems: Vec<&Value> = result["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("the page reports its problems: {result}"))
        .iter()
        .filter(|problem| {
            !(problem["offline"] == true
                && problem["text"]
                    .as_str()
                    .is_some_and(|text| text.contains("ERR_INTERNET_DISCONNECTED")))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "console errors or failed requests: {problems:#?}"
    );
}
