//! The load tool: `cargo bench --bench load -- <send|fanout|fanrate|idle|churn|fleet> [options]`.
//!
//! It starts the release daemon as a child process — a fresh temporary data directory,
//! `storage.synchronous = full` (the measurement condition of the targets), the per-connection
//! inbound rate limit raised out of the way, warnings-only logs — creates a simulator device
//! over REST, links it the way a phone would, and drives it over Socket.IO with the test client
//! (`tests/common/sio.rs`). `--url` and `--api-key` target a daemon that is already running
//! instead (add `--pid` to get its memory and CPU figures); `--peer` starts the Node socket.io
//! peer (`benches/peer`) in its place, for side-by-side figures (`benches/side-by-side`).
//!
//! - `send`: N clients on one device namespace keep M `message:send` requests in flight in
//!   total; acknowledged messages per second and send→ack latency.
//! - `fanout` (or `fanrate`): K subscribers on one device namespace, one publisher at a fixed
//!   offered rate; every subscriber checks every journal `seq` arrives once and in order;
//!   deliveries per second, delivery latency of `message` events (the send instant travels in
//!   the text), events per message and the server's CPU per delivered event.
//! - `idle`: C idle connections; the daemon's RSS before and after, per connection.
//! - `churn`: cycles of C idle connections that open and then all close; the daemon's RSS
//!   before the first cycle, right after each close and `--wait` seconds later: whether the
//!   memory clients took comes back when they leave.
//! - `fleet`: N simulator devices linked, one exchange each with a contact who answers, then
//!   a restart: how long each step takes, the daemon's RSS and the store's bytes per device
//!   and per exchange, and the largest the write-ahead log grew.
//!
//! Progress goes to stderr; the summary block (with the exact command) goes to stdout.
//! Run `cargo bench --bench load -- --help` for every option.

#[path = "../tests/common/sio.rs"]
mod sio;

#[path = "load/churn.rs"]
mod churn;
#[path = "load/fanout.rs"]
mod fanout;
#[path = "load/fleet.rs"]
mod fleet;
#[path = "load/idle.rs"]
mod idle;
#[path = "load/measure.rs"]
mod measure;
#[path = "load/send.rs"]
mod send;
#[path = "load/target.rs"]
mod target;

use std::process::ExitCode;

/// The tool parses every event it receives; with the daemon's allocator it spends less of the
/// CPU the two share on that.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use anyhow::{anyhow, Result};
use clap::{CommandFactory, Parser, Subcommand};

use churn::ChurnArgs;
use fanout::FanoutArgs;
use fleet::FleetArgs;
use idle::IdleArgs;
use measure::Summary;
use send::SendArgs;
use target::{Target, TargetArgs};

#[derive(Debug, Parser)]
#[command(
    name = "load",
    about = "Load scenarios for the devicebridge daemon",
    after_help = "Examples:\n  cargo bench --bench load -- idle --connections 10000\n  \
                  cargo bench --bench load -- send --clients 10 --in-flight 100 --duration 10\n  \
                  cargo bench --bench load -- fanout --subscribers 1000 --rate 20\n  \
                  cargo bench --bench load -- churn --connections 5000 --cycles 3 --wait 30\n  \
                  cargo bench --bench load -- fleet --devices 1000"
)]
struct Cli {
    /// None when run bare (`cargo bench` with no arguments, `cargo test --all-targets`): the
    /// tool then prints its usage and succeeds instead of failing the whole run.
    #[command(subcommand)]
    scenario: Option<Scenario>,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// N clients on one device send `message:send`, M requests in flight in total.
    Send(SendArgs),
    /// K subscribers on one device; a publisher sends messages at a fixed offered rate
    /// (`fanrate`): latency, events per message and server CPU per delivered event.
    #[command(visible_alias = "fanrate")]
    Fanout(FanoutArgs),
    /// C idle connections; the daemon's resident memory before and after.
    Idle(IdleArgs),
    /// Cycles of C idle connections that open and all close; resident memory after each.
    Churn(ChurnArgs),
    /// N devices linked, one exchange each, then a restart: time, memory and store weight.
    Fleet(FleetArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(scenario) = cli.scenario else {
        let _ = Cli::command().print_help();
        return ExitCode::SUCCESS;
    };
    // 10,000 connections need 10,000 descriptors on each side; the child inherits the limit.
    let nofile = raise_nofile_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // `block_on` runs on this thread, which lives as long as the process: the daemon is
    // spawned from it, so its parent-death signal only fires when the tool really exits.
    match runtime.block_on(run(&scenario, &cli.target, nofile)) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("load: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(scenario: &Scenario, args: &TargetArgs, nofile: u64) -> Result<Summary> {
    let mut target = Target::open(args).await?;
    let outcome = tokio::select! {
        result = run_scenario(&mut target, scenario) => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    target.finish().await;
    let mut summary = outcome.map_err(|error| target.explain(error))?;
    summary.header(&target, nofile);
    Ok(summary)
}

async fn run_scenario(target: &mut Target, scenario: &Scenario) -> Result<Summary> {
    match scenario {
        Scenario::Fleet(args) => fleet::run(target, args).await,
        Scenario::Send(args) => send::run(target, args).await,
        Scenario::Fanout(args) => fanout::run(target, args).await,
        Scenario::Idle(args) => idle::run(target, args).await,
        Scenario::Churn(args) => churn::run(target, args).await,
    }
}

/// Raises the soft limit on open files to the hard limit; returns the limit now in force.
fn raise_nofile_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a stack value.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            limit = raised;
        }
    }
    limit.rlim_cur
}
