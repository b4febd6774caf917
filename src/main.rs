//! The `devicebridge` binary: `serve` runs the daemon; the other subcommands are REST clients.

use anyhow::Context;
use devicebridge::cli::{Cli, Command};
use devicebridge::config::{self, LogFormat, Sources};

/// The daemon allocates many small, short-lived buffers per message (event payloads, SQL
/// parameters, socket frames) across threads; jemalloc's per-thread caches make that cheaper
/// than glibc's malloc: ~15 % less CPU per sent message in the load tool's `send` scenario,
/// for ~1 KiB more per idle connection (its size classes round allocations up).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::from_process();
    let serve = match cli.command.unwrap_or_default() {
        Command::Serve(serve) => serve,
        client => {
            // A client mistake is one line on stderr, not a backtrace.
            if let Err(error) = devicebridge::cli::run_client(client, &cli.client).await {
                eprintln!("devicebridge: {error}");
                std::process::exit(1);
            }
            return Ok(());
        }
    };
    let mut sources = Sources::from_process();
    // `--api-key` and `DEVICEBRIDGE_API_KEY` are one argument: given either way, it adds the
    // admin key the variable's shortcut adds.
    if let Some(key) = cli.client.api_key {
        sources.env.push((config::ENV_API_KEY.to_owned(), key));
    }
    let settings = match config::load(&sources, &serve.overrides()) {
        Ok(settings) => settings,
        Err(problems) => {
            eprintln!("devicebridge: the configuration has problems:\n{problems}");
            std::process::exit(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&settings.log.level));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match settings.log.format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Human => logs.init(),
    }
    let listener = tokio::net::TcpListener::bind(settings.server.bind)
        .await
        .with_context(|| format!("cannot listen on {}", settings.server.bind))?;
    let options = devicebridge::RunOptions {
        terminal: true,
        ..Default::default()
    };
    devicebridge::run(settings, listener, shutdown_signal(), options).await?;
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = interrupt => {}, _ = terminate => {} }
}
