//! `kgroup`: the project's command-line tool.
//!
//! One binary with one subcommand per job, so that later tools (`consume`, `proxy`, `assign`)
//! slot in as new [`Command`] variants:
//!
//! - `kgroup simulate`: runs group-fsm members against testkit's model coordinator on a script
//!   of timed events and reports rebalances, time to stable, partitions moved and
//!   partition-seconds without an owner (see the `simulate` module).
//! - `kgroup assign`: runs an assignor on a synthetic group and reports time, peak memory,
//!   balance and movement (see the `assign` module).
//! - `kgroup consume`: a real group member on a real cluster (kafka-client over the std or
//!   tokio adapter): prints assignments, messages and commits, leaves cleanly (see `consume`).
//! - `kgroup proxy`: forwards Kafka traffic between clients and a broker, prints every
//!   request and response as a JSON line, rewrites broker addresses so that every connection
//!   goes through the proxy, and can record each connection (see the `proxy` module).
//! - `kgroup decode`: turns the raw bytes of one captured TCP connection into JSON lines,
//!   one object per Kafka frame, and can check that every frame re-encodes to the same bytes
//!   (see the `decode` module).
//!
//! Exit codes are shared by all subcommands: 0 success, 1 a check failed (e.g. a round-trip
//! mismatch), 2 bad input or bad usage, 141 standard output closed early (as with `SIGPIPE`).
#![forbid(unsafe_code)]

mod assign;
mod consume;
mod decode;
mod error;
mod frames;
mod proxy;
mod simulate;

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::CliError;

/// Text shown after `kgroup --help`.
const TOP_EXAMPLES: &str = "\
Examples:
  kgroup decode --requests conn-1.c2s.bin --responses conn-1.s2c.bin
  kgroup decode --requests conn-1.c2s.bin --responses conn-1.s2c.bin --check-roundtrip
  cat conn-1.c2s.bin | kgroup decode --requests -
  kgroup proxy --listen 127.0.0.1:9093 --upstream 127.0.0.1:9092 --out /tmp/cap --seconds 60

Exit codes: 0 success, 1 a check failed (round-trip mismatch), 2 bad input or usage,
141 standard output closed early.";

/// The command line of `kgroup`.
#[derive(Debug, Parser)]
#[command(
    name = "kgroup",
    version,
    about = "Tools for the Kafka consumer-group protocol, built on the kafka-wire codecs.",
    long_about = "Tools for the Kafka consumer-group protocol, built on the sans-IO kafka-wire \
                  codecs.\n\nRun `kgroup <COMMAND> --help` for the details of a command.",
    after_help = TOP_EXAMPLES
)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands of `kgroup`.
#[derive(Debug, Subcommand)]
enum Command {
    /// Decode captured Kafka traffic (size-prefixed frames) into JSON lines.
    #[command(
        long_about = decode::LONG_ABOUT,
        after_help = decode::EXAMPLES,
    )]
    Decode(decode::DecodeArgs),
    /// Forward Kafka traffic to a broker, printing every frame as JSON and rewriting addresses.
    #[command(long_about = proxy::LONG_ABOUT, after_help = proxy::EXAMPLES)]
    Proxy(proxy::ProxyArgs),
    /// Simulate a consumer group against the model coordinator, following a script of events.
    #[command(
        long_about = simulate::LONG_ABOUT,
        after_help = simulate::EXAMPLES,
    )]
    Simulate(simulate::SimulateArgs),
    /// Join a consumer group on a real cluster and print assignments, messages and commits.
    #[command(long_about = consume::LONG_ABOUT, after_help = consume::EXAMPLES)]
    Consume(consume::ConsumeArgs),
    /// Run an assignor on a synthetic group: time, peak memory, balance, movement.
    #[command(long_about = assign::LONG_ABOUT, after_help = assign::EXAMPLES)]
    Assign(assign::AssignArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Decode(args) => decode::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Assign(args) => assign::run(args),
        Command::Proxy(args) => proxy::run(args),
        Command::Consume(args) => consume::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e),
    }
}

/// Prints `e` on standard error (unless it is a closed pipe) and returns its exit code.
fn report(e: &CliError) -> ExitCode {
    if let Some(message) = e.message() {
        // Nothing sensible is left to do if standard error itself is gone.
        let _ = writeln!(std::io::stderr().lock(), "kgroup: error: {message}");
    }
    ExitCode::from(e.exit_code())
}
