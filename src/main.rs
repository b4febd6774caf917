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
    let shutdown = shutdown_signal();
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
    devicebridge::run(settings, listener, shutdown, options).await?;
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
///
/// The handlers are installed when this is called, not when the server first waits on the
/// future: called before the daemon starts, a signal that arrives meanwhile (a supervisor
/// stopping it right after `listening on`) stops it in order instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, Signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt()).ok();
        let mut terminate = signal(SignalKind::terminate()).ok();
        async fn received(signal: &mut Option<Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        async move {
            tokio::select! {
                _ = received(&mut interrupt) => {}
                _ = received(&mut terminate) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
