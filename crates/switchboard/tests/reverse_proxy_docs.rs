//! `docs/deployment.md` shows exactly the proxy configurations that
//! `tests/reverse_proxy.rs` runs: each template in `tests/proxy-configs/`,
//! rendered with the documented production values, must appear in the
//! document verbatim, so the two cannot drift apart.

mod reverse_proxy_support;

use std::path::PathBuf;

use reverse_proxy_support::templates::{render, ProxyKind};

fn deployment_doc() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/deployment.md");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn assert_documented(kind: ProxyKind) {
    let rendered = render(&kind.template(), &kind.documented_values());
    assert!(
        deployment_doc().contains(&rendered),
        "docs/deployment.md must contain tests/proxy-configs/{} rendered with the documented \
         values; replace its {kind:?} block with:\n\n{rendered}",
        kind.template_file()
    );
}

#[test]
fn nginx_config_in_the_docs_is_the_tested_one() {
    assert_documented(ProxyKind::Nginx);
}

#[test]
fn haproxy_config_in_the_docs_is_the_tested_one() {
    assert_documented(ProxyKind::Haproxy);
}

#[test]
fn caddy_config_in_the_docs_is_the_tested_one() {
    assert_documented(ProxyKind::Caddy);
}

#[test]
fn documented_values_leave_no_placeholder() {
    for kind in [ProxyKind::Nginx, ProxyKind::Haproxy, ProxyKind::Caddy] {
        let rendered = render(&kind.template(), &kind.documented_values());
        assert!(!rendered.contains("{{"), "{kind:?}: {rendered}");
        // The test-only source address never reaches the documented text.
        assert!(!rendered.contains("127.0.0.2"), "{kind:?}: {rendered}");
    }
}
