//! The proxy configuration templates in `tests/proxy-configs/`, rendered
//! either with test values (ports, a 2 s timeout, temporary certificate
//! paths) or with the production values that `docs/deployment.md` shows.
//!
//! Placeholders are `{{name}}`. A line holding only a placeholder whose
//! value is empty disappears, so a test-only directive (such as nginx's
//! `proxy_bind`) leaves no trace in the documented text.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The three proxies with a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// nginx (`nginx.conf.tmpl`, the part that goes inside `http { }`).
    Nginx,
    /// HAProxy (`haproxy.cfg.tmpl`, everything after `global`).
    Haproxy,
    /// Caddy (`Caddyfile.tmpl`, everything after the global options).
    Caddy,
}

impl ProxyKind {
    /// The template's file name in `tests/proxy-configs/`.
    pub fn template_file(self) -> &'static str {
        match self {
            ProxyKind::Nginx => "nginx.conf.tmpl",
            ProxyKind::Haproxy => "haproxy.cfg.tmpl",
            ProxyKind::Caddy => "Caddyfile.tmpl",
        }
    }

    /// The program that runs the proxy.
    pub fn program(self) -> &'static str {
        match self {
            ProxyKind::Nginx => "nginx",
            ProxyKind::Haproxy => "haproxy",
            ProxyKind::Caddy => "caddy",
        }
    }

    /// The template text.
    pub fn template(self) -> String {
        let path = templates_dir().join(self.template_file());
        std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
    }

    /// The values `docs/deployment.md` shows: standard ports, a 60 s idle
    /// timeout, example certificate paths, a backend on 127.0.0.1:9001.
    pub fn documented_values(self) -> Values {
        let mut values = Values::new()
            .set("backend", "127.0.0.1:9001")
            .set("idle_timeout", "60s")
            .set("upstream_source", "");
        values = match self {
            ProxyKind::Nginx => values
                .set("listen", "80")
                .set("listen_v6", "[::]:80")
                .set("tls_listen", "443")
                .set("tls_listen_v6", "[::]:443")
                .set("server_name", "ws.example.com")
                .set("tls_certificate", "/etc/ssl/ws.example.com/fullchain.pem")
                .set("tls_certificate_key", "/etc/ssl/ws.example.com/privkey.pem"),
            ProxyKind::Haproxy => values
                .set("listen", ":80")
                .set("tls_listen", ":443")
                .set("tls_pem", "/etc/haproxy/certs/ws.example.com.pem"),
            ProxyKind::Caddy => values
                .set("plain_site", "http://ws.example.com")
                .set("tls_site", "https://ws.example.com")
                .set("tls_certificate", "/etc/ssl/ws.example.com/fullchain.pem")
                .set("tls_certificate_key", "/etc/ssl/ws.example.com/privkey.pem"),
        };
        values
    }
}

/// `tests/proxy-configs/`.
pub fn templates_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/proxy-configs")
}

/// Placeholder values for [`render`].
#[derive(Debug, Clone, Default)]
pub struct Values(BTreeMap<&'static str, String>);

impl Values {
    /// No values yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `{{name}}` to `value`.
    pub fn set(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.0.insert(name, value.into());
        self
    }
}

/// Replaces every `{{name}}` in `template`; panics on a placeholder without
/// a value (a test bug, better caught than rendered into a broken config).
pub fn render(template: &str, values: &Values) -> String {
    let mut out = String::with_capacity(template.len());
    for line in template.split_inclusive('\n') {
        let rendered = render_line(line, values);
        let only_placeholder = line.trim().starts_with("{{")
            && line.trim().ends_with("}}")
            && line.trim().matches("{{").count() == 1;
        if only_placeholder && rendered.trim().is_empty() {
            continue;
        }
        out.push_str(&rendered);
    }
    out
}

fn render_line(line: &str, values: &Values) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        let Some(length) = rest[start..].find("}}") else {
            break;
        };
        let name = &rest[start + 2..start + length];
        let value = values
            .0
            .get(name)
            .unwrap_or_else(|| panic!("no value for the template placeholder `{{{{{name}}}}}`"));
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[start + length + 2..];
    }
    out.push_str(rest);
    out
}
