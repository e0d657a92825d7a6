//! The load generator on its own (`switchboard bench` once the CLI wires
//! it in): `switchboard-bench ws://127.0.0.1:9001/ -c 100 -s 1KiB -n 8`.

use clap::Parser;
use switchboard_cli::bench::{run, BenchOptions};

/// Echo (or, with --pubsub, fan-out) load generator for WebSocket servers.
#[derive(Debug, Parser)]
#[command(name = "switchboard-bench", version)]
struct Args {
    #[command(flatten)]
    options: BenchOptions,

    /// Print the report as one line of JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<std::process::ExitCode> {
    let args = Args::parse();
    if args.options.pubsub.protocol.is_some() {
        return Ok(switchboard_cli::bench::pubsub::main(
            args.options,
            args.json,
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(args.options))?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        println!("{report}");
    }
    if report.mismatches > 0 {
        anyhow::bail!(
            "{} echoed messages did not match what was sent",
            report.mismatches
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}
