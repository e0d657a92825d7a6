//! The `switchboard` binary: argument parsing, logging and the runtime;
//! the work happens in the `switchboard_cli` library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use switchboard_cli::bench::{self, BenchOptions};
use switchboard_cli::config::LogFormat;
use switchboard_cli::connect::{self, ConnectArgs, Outcome};
use switchboard_cli::hubcli::{self, PubArgs, SubArgs};
use switchboard_cli::runtime::{self, Scheduler};
use switchboard_cli::serve::{self, ServeArgs, ServeSettings};
use switchboard_cli::token::{self, TokenArgs};
use tracing_subscriber::EnvFilter;

/// WebSocket tools: an echo and chat server (`serve`), an interactive client
/// (`connect`) and an echo load generator (`bench`).
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: the pub/sub hub, echo and chat (plain HTTP and WebSocket on one port).
    // Boxed: the serve flags outweigh every other subcommand's.
    Serve(Box<ServeArgs>),
    /// Connect to a WebSocket server: send standard-input lines, print what arrives.
    Connect(ConnectArgs),
    /// Load-test an echo server (messages/s, MB/s, latency percentiles), or
    /// with --pubsub a fan-out server (deliveries/s, publish-to-delivery latency).
    Bench(BenchArgs),
    /// Mint a development JWT for the hub (connection or subscription), or check one.
    Token(TokenArgs),
    /// Subscribe to a hub channel and print its publications as JSON lines
    /// (recovering missed ones across reconnects).
    Sub(SubArgs),
    /// Publish one JSON value into a hub channel and print the reply.
    Pub(PubArgs),
}

#[derive(Debug, clap::Args)]
struct BenchArgs {
    #[command(flatten)]
    options: BenchOptions,

    /// Print the report as one line of JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve_main(&args),
        Command::Connect(args) => connect_main(args),
        Command::Bench(args) => bench_main(args),
        Command::Token(args) => token_main(&args),
        Command::Sub(args) => {
            hub_client_main(async move { hubcli::subscribe(args).await.map(|()| None) })
        }
        Command::Pub(args) => hub_client_main(async move { hubcli::publish(args).await.map(Some) }),
    }
}

/// Runs `sub` or `pub`: prints the final line (if any), exits 0; on an
/// error prints it and exits 1.
fn hub_client_main(
    work: impl std::future::Future<Output = Result<Option<String>, hubcli::HubCliError>>,
) -> ExitCode {
    init_logging(LogFormat::Text, "warn");
    let Some(runtime) = runtime::start(Scheduler::CurrentThread) else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(work) {
        Ok(line) => {
            if let Some(line) = line {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a minted token, or the verdict on `--check` (exit 1 when the
/// token is refused, 2 when the keys or arguments are unusable).
fn token_main(args: &TokenArgs) -> ExitCode {
    let outcome = match &args.check {
        Some(candidate) => token::check(args, candidate).map(|verdict| match verdict {
            Ok(report) => {
                println!("{report}");
                ExitCode::SUCCESS
            }
            Err(refused) => {
                eprintln!("error: {refused}");
                ExitCode::FAILURE
            }
        }),
        None => token::mint(args).map(|minted| {
            println!("{minted}");
            ExitCode::SUCCESS
        }),
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::from(2)
    })
}

fn bench_main(args: BenchArgs) -> ExitCode {
    if args.options.pubsub.protocol.is_some() {
        return bench::pubsub::main(args.options, args.json);
    }
    // The load generator runs every connection on this one thread.
    let Some(runtime) = runtime::start(Scheduler::CurrentThread) else {
        return ExitCode::FAILURE;
    };
    let report = match runtime.block_on(bench::run(args.options)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        println!("{}", report.to_json());
    } else {
        println!("{report}");
    }
    if report.mismatches > 0 {
        eprintln!(
            "error: {} echoed messages did not match what was sent",
            report.mismatches
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn serve_main(args: &ServeArgs) -> ExitCode {
    let settings = match ServeSettings::resolve(args) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(settings.log_format, "info");
    let Some(runtime) = runtime::start(Scheduler::MultiThread) else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(serve::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

fn connect_main(args: ConnectArgs) -> ExitCode {
    // Quiet by default: standard error carries the session's own lines.
    init_logging(LogFormat::Text, "warn");
    let Some(runtime) = runtime::start(Scheduler::CurrentThread) else {
        return ExitCode::from(Outcome::LocalError.exit_code());
    };
    let outcome = runtime.block_on(connect::run(args));
    // Standard input is read on a blocking thread that cannot be
    // interrupted; do not wait for it (it would wait for the next line).
    runtime.shutdown_background();
    ExitCode::from(outcome.exit_code())
}

/// Logs to standard error, filtered by `RUST_LOG` (else `default_level`).
fn init_logging(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use switchboard_cli::config::Compression;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_serve_flag_parses() {
        let cli = Cli::try_parse_from([
            "switchboard",
            "serve",
            "--config",
            "serve.toml",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "chain.pem",
            "--tls-key",
            "key.pem",
            "--origin",
            "https://a.example",
            "--origin",
            "https://b.example",
            "--ping-interval",
            "off",
            "--compression",
            "low-memory",
            "--max-message-size",
            "1MiB",
            "--max-connections",
            "3",
            "--log-format",
            "json",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.origins.len(), 2);
        assert_eq!(
            args.tls_cert.as_deref(),
            Some(std::path::Path::new("chain.pem"))
        );
        assert_eq!(
            args.tls_key.as_deref(),
            Some(std::path::Path::new("key.pem"))
        );
        assert_eq!(args.ping_interval, Some(serve::PingInterval(None)));
        assert_eq!(args.max_message_size, Some(1 << 20));
        assert_eq!(args.max_connections, Some(3));
        assert_eq!(args.log_format, Some(LogFormat::Json));
        assert_eq!(args.compression, Some(Compression::LowMemory));
        assert!(Cli::try_parse_from(["switchboard", "serve", "--max-connections", "0"]).is_err());
    }

    #[test]
    fn bench_is_a_subcommand() {
        let cli = Cli::try_parse_from([
            "switchboard",
            "bench",
            "-c",
            "3",
            "--json",
            "ws://127.0.0.1:1/",
        ])
        .unwrap();
        let Command::Bench(args) = cli.command else {
            panic!("not bench")
        };
        assert_eq!(args.options.connections, 3);
        assert!(args.json);
    }

    #[test]
    fn every_connect_flag_parses() {
        let cli = Cli::try_parse_from([
            "switchboard",
            "connect",
            "--binary",
            "--pipe",
            "-H",
            "A: b",
            "--header",
            "C: d",
            "--subprotocol",
            "chat",
            "--origin",
            "https://a.example",
            "--ping",
            "5s",
            "--max-message-size",
            "64KiB",
            "--connect-timeout",
            "2s",
            "--ca",
            "ca.pem",
            "--insecure",
            "--proxy",
            "socks5h://user:pw@proxy.example:1080",
            "--compression",
            "on",
            "ws://127.0.0.1:1/",
        ])
        .unwrap();
        let Command::Connect(args) = cli.command else {
            panic!("not connect")
        };
        assert!(args.binary && args.pipe);
        assert_eq!(args.headers.len(), 2);
        assert_eq!(args.ping, Some(std::time::Duration::from_secs(5)));
        assert_eq!(args.max_message_size, Some(64 * 1024));
        assert_eq!(args.url, "ws://127.0.0.1:1/");
        assert_eq!(args.ca_files, [std::path::PathBuf::from("ca.pem")]);
        assert!(args.insecure);
        assert_eq!(args.proxy.unwrap().host(), "proxy.example");
        assert!(Cli::try_parse_from([
            "switchboard",
            "connect",
            "--proxy",
            "http://p:1",
            "--no-proxy",
            "ws://a/"
        ])
        .is_err());
        assert_eq!(args.compression, Compression::Balanced);
    }
}
