//! The `devicebridge` binary: `serve` runs the daemon; the other subcommands are REST clients,
//! but for `migrate`, which copies the database into PostgreSQL.

#[cfg(not(target_env = "msvc"))]
mod allocator;
mod signals;

use anyhow::Context;
use devicebridge::app;
use devicebridge::cli::{self, Cli, Command};
use devicebridge::config::{self, LogFormat, Sources};
use devicebridge::console::Console;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::from_process();
    let serve = match cli.command.unwrap_or_default() {
        Command::Serve(serve) => serve,
        Command::Migrate(migrate) => {
            std::process::exit(cli::migrate::copy_to_postgres(migrate).await);
        }
        client => {
            // A client mistake is one line on stderr, not a backtrace.
            if let Err(error) = cli::run_client(client, &cli.client).await {
                eprintln!("devicebridge: {error}");
                std::process::exit(1);
            }
            return Ok(());
        }
    };
    signals::ignore_file_size_signal();
    let shutdown = signals::shutdown_signal();
    let mut sources = Sources::from_process();
    // `--api-key` and `DEVICEBRIDGE_API_KEY` are one argument: given either way, it adds the
    // admin key the variable's shortcut adds.
    if let Some(key) = cli.client.api_key {
        sources.env.push((config::ENV_API_KEY.to_owned(), key));
    }
    let settings = match config::load(&sources, &serve.overrides(), app::SETTINGS_CHECKS) {
        Ok(settings) => settings,
        Err(problems) => {
            eprintln!("devicebridge: the configuration has problems:\n{problems}");
            std::process::exit(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&settings.log.level));
    // The logs share standard output with the QR codes; colours only for a terminal.
    let console = Console::stdout();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(console.is_terminal())
        .with_writer(console.clone());
    match settings.log.format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Human => logs.init(),
    }
    let listener = tokio::net::TcpListener::bind(settings.server.bind)
        .await
        .with_context(|| format!("cannot listen on {}", settings.server.bind))?;
    let options = devicebridge::RunOptions {
        console: Some(console),
        ..Default::default()
    };
    devicebridge::run(settings, listener, shutdown, options).await?;
    Ok(())
}
