//! Real reverse proxies (nginx, HAProxy, Caddy from the Debian packages)
//! started as child processes on free 127.0.0.1 ports, with the configs
//! from `tests/proxy-configs/` rendered into a temporary directory, and
//! stopped when dropped.
//!
//! Each proxy listens twice: plain (`ws://127.0.0.1:<plain_port>/`) and
//! with TLS terminated at the proxy (`wss://localhost:<tls_port>/`, a
//! certificate from [`TestPki`]). Both forward to one plain backend.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

use switchboard_testkit::daemon::{Daemon, DaemonSpec};
use switchboard_testkit::pki::TestPki;

use super::install_hint;
use super::templates::{render, ProxyKind, Values};

/// How a test wants the proxy configured.
#[derive(Debug, Clone)]
pub struct ProxySetup {
    /// Which proxy.
    pub kind: ProxyKind,
    /// The Switchboard backend (plain ws) it forwards to.
    pub backend: SocketAddr,
    /// The proxy's idle timeout for upgraded connections, whole seconds.
    pub idle_timeout_secs: u64,
    /// The local address the proxy connects to the backend from (nginx
    /// `proxy_bind`, HAProxy `source`), so the backend can tell the proxy
    /// from direct clients on one machine. Caddy 2.6 has no such setting.
    pub upstream_source: Option<IpAddr>,
    /// Whether the template's idle-timeout directives are kept; without
    /// them the proxy runs with its built-in default.
    pub idle_timeout_directives: bool,
}

impl ProxySetup {
    /// `kind` in front of `backend` with a `idle_timeout_secs` idle timeout.
    pub fn new(kind: ProxyKind, backend: SocketAddr, idle_timeout_secs: u64) -> Self {
        ProxySetup {
            kind,
            backend,
            idle_timeout_secs,
            upstream_source: None,
            idle_timeout_directives: true,
        }
    }

    /// Leaves out every template line that sets the idle timeout, so the
    /// proxy's default applies (Caddy: none at all).
    pub fn without_idle_timeout(mut self) -> Self {
        self.idle_timeout_directives = false;
        self
    }

    /// The template text this setup uses.
    fn template(&self) -> String {
        let template = self.kind.template();
        if self.idle_timeout_directives {
            return template;
        }
        template
            .split_inclusive('\n')
            .filter(|line| !line.contains("{{idle_timeout}}"))
            .collect()
    }

    /// Connect to the backend from `source` (see [`ProxySetup::upstream_source`]).
    pub fn upstream_source(mut self, source: IpAddr) -> Self {
        self.upstream_source = Some(source);
        self
    }

    /// The template values for this setup on the given ports.
    fn values(&self, plain_port: u16, tls_port: u16, pki: &TestPki) -> Values {
        let values = Values::new()
            .set("backend", self.backend.to_string())
            .set("idle_timeout", format!("{}s", self.idle_timeout_secs));
        let source = |directive: &str| {
            self.upstream_source
                .map(|source| format!("{directive} {source}"))
                .unwrap_or_default()
        };
        match self.kind {
            ProxyKind::Nginx => values
                .set("listen", format!("127.0.0.1:{plain_port}"))
                .set("listen_v6", format!("[::1]:{plain_port}"))
                .set("tls_listen", format!("127.0.0.1:{tls_port}"))
                .set("tls_listen_v6", format!("[::1]:{tls_port}"))
                .set("server_name", "localhost")
                .set("tls_certificate", path_text(&pki.chain_path()))
                .set("tls_certificate_key", path_text(&pki.key_path()))
                .set("upstream_source", {
                    let line = source("proxy_bind");
                    if line.is_empty() {
                        line
                    } else {
                        format!("{line};")
                    }
                }),
            ProxyKind::Haproxy => values
                .set("listen", format!("127.0.0.1:{plain_port}"))
                .set("tls_listen", format!("127.0.0.1:{tls_port}"))
                .set("tls_pem", path_text(&pki.combined_path()))
                .set("upstream_source", source("source")),
            ProxyKind::Caddy => {
                assert!(
                    self.upstream_source.is_none(),
                    "Caddy 2.6 cannot choose the address it connects to the backend from; \
                     bind the test client instead"
                );
                values
                    .set("plain_site", format!("http://127.0.0.1:{plain_port}"))
                    .set("tls_site", format!("https://localhost:{tls_port}"))
                    .set("tls_certificate", path_text(&pki.chain_path()))
                    .set("tls_certificate_key", path_text(&pki.key_path()))
            }
        }
    }
}

/// A running reverse proxy; stopped (with its workers) when dropped.
pub struct ReverseProxy {
    daemon: Daemon,
    kind: ProxyKind,
    /// The plain HTTP port on 127.0.0.1.
    pub plain_port: u16,
    /// The TLS port on 127.0.0.1 (certificate for `localhost`).
    pub tls_port: u16,
    /// The certificates the TLS port serves; clients trust `pki.ca_pem`.
    pub pki: TestPki,
}

impl ReverseProxy {
    /// Starts the proxy described by `setup` and waits until it listens.
    pub fn start(setup: &ProxySetup) -> Self {
        let program = find_program(setup.kind.program());
        let pki = TestPki::new();
        let spec = DaemonSpec {
            name: setup.kind.program(),
            ports: 2,
            log_files: &["error.log"],
            install_hint: &install_hint(setup.kind.program()),
        };
        let daemon = Daemon::start(&spec, |dir, ports| {
            let (plain_port, tls_port) = (ports[0], ports[1]);
            let rendered = render(&setup.template(), &setup.values(plain_port, tls_port, &pki));
            command_for(setup.kind, &program, dir, &rendered)
        });
        let (plain_port, tls_port) = (daemon.ports()[0], daemon.ports()[1]);
        ReverseProxy {
            daemon,
            kind: setup.kind,
            plain_port,
            tls_port,
            pki,
        }
    }

    /// `ws://127.0.0.1:<plain_port><path>`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.plain_port)
    }

    /// `wss://localhost:<tls_port><path>`.
    pub fn wss_url(&self, path: &str) -> String {
        format!("wss://localhost:{}{path}", self.tls_port)
    }

    /// The plain listening address on IPv6 loopback (nginx only: the
    /// other templates listen on IPv4 in the tests).
    pub fn plain_addr_v6(&self) -> SocketAddr {
        assert_eq!(self.kind, ProxyKind::Nginx, "only nginx listens on [::1]");
        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, self.plain_port))
    }

    /// The TLS listening address.
    pub fn tls_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.tls_port))
    }

    /// The plain listening address.
    pub fn plain_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.plain_port))
    }

    /// Which proxy this is.
    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    /// Everything the proxy wrote so far (stdout, stderr, error log), for
    /// assertion messages.
    pub fn log(&self) -> String {
        self.daemon.log()
    }
}

/// Writes the configuration for `kind` into `dir` and builds the command
/// line that runs it in the foreground, with every path inside `dir`.
fn command_for(kind: ProxyKind, program: &Path, dir: &Path, rendered: &str) -> Command {
    let dir_text = path_text(dir);
    match kind {
        ProxyKind::Nginx => {
            std::fs::write(dir.join("switchboard.conf"), rendered).unwrap();
            // Only the process-level frame is test-specific; the WebSocket
            // part is the documented template, included verbatim.
            let main = format!(
                "worker_processes 1;\n\
                 pid {dir_text}/nginx.pid;\n\
                 error_log {dir_text}/error.log info;\n\
                 events {{ worker_connections 256; }}\n\
                 http {{\n\
                 access_log {dir_text}/access.log;\n\
                 client_body_temp_path {dir_text}/client_body;\n\
                 proxy_temp_path {dir_text}/proxy;\n\
                 fastcgi_temp_path {dir_text}/fastcgi;\n\
                 uwsgi_temp_path {dir_text}/uwsgi;\n\
                 scgi_temp_path {dir_text}/scgi;\n\
                 include {dir_text}/switchboard.conf;\n\
                 }}\n"
            );
            std::fs::write(dir.join("nginx.conf"), main).unwrap();
            let mut command = Command::new(program);
            command
                .arg("-p")
                .arg(format!("{dir_text}/"))
                .arg("-e")
                .arg(dir.join("error.log"))
                .arg("-c")
                .arg(dir.join("nginx.conf"))
                .args(["-g", "daemon off;"]);
            command
        }
        ProxyKind::Haproxy => {
            let config = format!("global\n    maxconn 256\n\n{rendered}");
            std::fs::write(dir.join("haproxy.cfg"), config).unwrap();
            let mut command = Command::new(program);
            command.arg("-db").arg("-f").arg(dir.join("haproxy.cfg"));
            command
        }
        ProxyKind::Caddy => {
            // admin off: no admin listener on :2019 to collide between tests;
            // auto_https off: no certificate automation, no :80 redirects;
            // h1 h2: no HTTP/3 UDP listener, which no test uses.
            let config = format!(
                "{{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n\
                 \tservers {{\n\t\tprotocols h1 h2\n\t}}\n}}\n\n{rendered}"
            );
            std::fs::write(dir.join("Caddyfile"), config).unwrap();
            let mut command = Command::new(program);
            command
                .args(["run", "--adapter", "caddyfile", "--config"])
                .arg(dir.join("Caddyfile"))
                .env("HOME", dir)
                .env("XDG_DATA_HOME", dir.join("data"))
                .env("XDG_CONFIG_HOME", dir.join("config"));
            command
        }
    }
}

/// `program` from `PATH`, or from the sbin directories Debian installs
/// nginx and HAProxy into (not on a normal user's `PATH`).
pub fn find_program(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{}", install_hint(program)))
}

fn path_text(path: &Path) -> String {
    path.to_str().expect("temporary paths are UTF-8").to_owned()
}
