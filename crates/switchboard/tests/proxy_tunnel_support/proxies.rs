//! Real proxy daemons from Debian packages, each started on a free
//! 127.0.0.1 port with a config in a temporary directory, and stopped when
//! dropped. Install them with `scripts/install-deps.sh` (or
//! `apt-get install tinyproxy microsocks dante-server`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use switchboard_testkit::daemon::{Daemon, DaemonSpec};

const INSTALL_HINT: &str = "install the test proxies with scripts/install-deps.sh or \
                            `apt-get install tinyproxy microsocks dante-server`";

/// A running proxy daemon.
pub struct ProxyProcess {
    daemon: Daemon,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl ProxyProcess {
    /// tinyproxy (HTTP CONNECT). `extra` is appended to a minimal config
    /// (e.g. `BasicAuth alice s3cret`, `ConnectPort 443`).
    pub fn tinyproxy(extra: &str) -> Self {
        Self::start("tinyproxy", &[], |dir, port| {
            let config = dir.join("tinyproxy.conf");
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 32\nLogLevel Info\n{extra}\n"
                ),
            )
            .unwrap();
            let mut command = Command::new("tinyproxy");
            command.arg("-d").arg("-c").arg(config);
            command
        })
    }

    /// microsocks (SOCKS5), requiring `user`/`password` when given.
    pub fn microsocks(credentials: Option<(&str, &str)>) -> Self {
        Self::start("microsocks", &[], |_dir, port| {
            let mut command = Command::new("microsocks");
            command.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
            if let Some((user, password)) = credentials {
                command.args(["-u", user, "-P", password]);
            }
            command
        })
    }

    /// dante (SOCKS5, no authentication) with `socks_rules` (dante
    /// `socks pass/block` blocks) placed before a final catch-all pass.
    pub fn dante(socks_rules: &str) -> Self {
        Self::start("danted", &["danted.log"], |dir, port| {
            let config = dir.join("danted.conf");
            std::fs::write(
                &config,
                format!(
                    "logoutput: {log}\n\
                     internal: 127.0.0.1 port = {port}\n\
                     external: 127.0.0.1\n\
                     clientmethod: none\n\
                     socksmethod: none\n\
                     user.privileged: root\n\
                     user.unprivileged: nobody\n\
                     client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\n\
                     {socks_rules}\n\
                     socks pass {{ from: 0.0.0.0/0 to: 0.0.0.0/0 }}\n",
                    log = dir.join("danted.log").display(),
                ),
            )
            .unwrap();
            let mut command = Command::new("danted");
            command.arg("-f").arg(config).args(["-N", "1"]);
            command
        })
    }

    /// The daemon's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Everything the daemon logged so far (for assertion messages).
    pub fn log(&self) -> String {
        self.daemon.log()
    }

    fn start(name: &str, log_files: &[&str], command_for: impl Fn(&Path, u16) -> Command) -> Self {
        let spec = DaemonSpec {
            name,
            ports: 1,
            log_files,
            install_hint: INSTALL_HINT,
        };
        let daemon = Daemon::start(&spec, |dir, ports| command_for(dir, ports[0]));
        let port = daemon.ports()[0];
        Self { daemon, port }
    }
}
