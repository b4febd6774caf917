//! The `devicebridge` binary: `serve` runs the daemon; the other subcommands are REST clients.

use anyhow::Context;
use devicebridge::app;
use devicebridge::cli::{Cli, Command};
use devicebridge::config::{self, LogFormat, Sources};

/// The daemon allocates many small, short-lived buffers per message (event payloads, SQL
/// parameters, socket frames) across threads; jemalloc's per-thread caches make that cheaper
/// than glibc's malloc: ~15 % less CPU per sent message in the load tool's `send` scenario,
/// for ~1 KiB more per idle connection (its size classes round allocations up).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before its first allocation (this build prefixes jemalloc's
/// names, hence the symbol's; `_RJEM_MALLOC_CONF` in the environment still overrides them for
/// an experiment).
///
/// They make memory come back when clients leave. jemalloc keeps the pages that freed
/// allocations leave behind for reuse and gives them back to the kernel as they age past
/// `dirty_decay_ms`, but without background threads that clock only advances while the
/// threads that freed them go on allocating, and a daemon whose clients have left is quiet:
/// after 5,000 or 10,000 idle clients left, it held 11–66 MiB more than before they came,
/// as much 30 s later as 10 s later (the load tool's `churn` scenario). With `background_thread:true`
/// jemalloc's own threads (at most one per CPU) purge on a timer whatever the daemon does;
/// `dirty_decay_ms:1000` gives pages back over a second after they were freed instead of ten;
/// `muzzy_decay_ms:0` (jemalloc's default, pinned here) gives them back with `MADV_DONTNEED`
/// at once rather than `MADV_FREE`, whose pages count in the resident set until the kernel
/// needs them. The daemon is then back within 15 MiB of its baseline a few seconds after
/// the clients leave, and send, fanout and idle measure the same as without (see
/// `docs/performance.md`).
#[cfg(not(target_env = "msvc"))]
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: Option<&'static std::ffi::c_char> =
    // SAFETY: a pointer to the first byte of a static string is a valid `&'static c_char`.
    Some(unsafe { &*c"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr() });

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::from_process();
    let serve = match cli.command.unwrap_or_default() {
        Command::Serve(serve) => serve,
        Command::Migrate(migrate) => {
            let code = copy_to_postgres(migrate).await;
            std::process::exit(code);
        }
        client => {
            // A client mistake is one line on stderr, not a backtrace.
            if let Err(error) = devicebridge::cli::run_client(client, &cli.client).await {
                eprintln!("devicebridge: {error}");
                std::process::exit(1);
            }
            return Ok(());
        }
    };
    ignore_file_size_signal();
    let shutdown = shutdown_signal();
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

/// `devicebridge migrate --to postgres://…`: copies the SQLite database `serve` would open
/// into PostgreSQL, a line per table; the exit code says how it went (2: the arguments or
/// the configuration are wrong, 1: the copy failed and nothing was written).
async fn copy_to_postgres(migrate: devicebridge::cli::MigrateArgs) -> i32 {
    let settings = match config::load(
        &Sources::from_process(),
        &migrate.from.overrides(),
        app::SETTINGS_CHECKS,
    ) {
        Ok(settings) => settings,
        Err(problems) => {
            eprintln!(
                "devicebridge: the configuration has problems:
{problems}"
            );
            return 2;
        }
    };
    let target = config::StorageSettings {
        url: migrate.to.clone(),
        ..settings.storage.clone()
    };
    let Some(url) = target.postgres_url().map(str::to_owned) else {
        eprintln!("devicebridge: --to must be a PostgreSQL URL (postgres://user:password@host:port/database)");
        return 2;
    };
    let sqlite = settings.storage.database_path();
    let secret = match &settings.auth.jwt_secret {
        Some(_) => None,
        None => std::fs::read_to_string(settings.storage.data_dir.join("jwt-secret"))
            .ok()
            .map(|secret| secret.trim().to_owned()),
    };
    println!("copying {} into PostgreSQL", sqlite.display());
    // The `postgres` client blocks on a runtime of its own, which it may not do on this one.
    let copied = tokio::task::spawn_blocking(move || {
        devicebridge::store::copy::sqlite_to_postgres(&sqlite, &url, secret.as_deref(), |table| {
            let so_far = if table.done { "" } else { " so far" };
            println!("  {:<24} {} rows{so_far}", table.table, table.rows);
        })
    })
    .await;
    match copied {
        Ok(Ok(tables)) => {
            let rows: u64 = tables.iter().map(|table| table.rows).sum();
            println!(
                "copied {rows} rows in {} tables; start the daemon with storage.url set to the \
                 database (it keeps using {} for its secrets and uploads)",
                tables.len(),
                settings.storage.data_dir.display()
            );
            0
        }
        Ok(Err(error)) => {
            eprintln!("devicebridge: the copy failed, nothing was written: {error}");
            1
        }
        Err(panicked) => std::panic::resume_unwind(panicked.into_panic()),
    }
}

/// Writing past the process's file size limit (`ulimit -f`, `RLIMIT_FSIZE`) raises SIGXFSZ,
/// which by default kills the process on the spot, with writes in flight and clients
/// unanswered. Ignored, the write fails with `EFBIG` instead, as on a full disk: the store
/// answers `storage_unavailable`, `/ready` fails, and both recover once the limit is lifted.
fn ignore_file_size_signal() {
    #[cfg(unix)]
    // SAFETY: sets the process's disposition of one signal to "ignore"; no handler of ours
    // runs, so nothing has to be async-signal-safe.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
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

#[cfg(all(test, not(target_env = "msvc")))]
mod tests {
    use std::ffi::{CStr, CString};

    use super::MALLOC_CONF;

    /// Reads one of jemalloc's settings, whose type `T` its manual gives.
    fn setting<T: Default>(name: &CStr) -> T {
        let mut value = T::default();
        let mut len = std::mem::size_of::<T>();
        // SAFETY: `value` is a `T` of `len` bytes, and nothing is written (no new value).
        let status = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr(),
                (&raw mut value).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        assert_eq!(status, 0, "mallctl {name:?}");
        value
    }

    /// jemalloc takes a misspelt option for a warning on stderr and a symbol of the wrong name
    /// for no options at all: every option of `MALLOC_CONF` must be the one in force.
    #[test]
    fn jemalloc_runs_with_every_option_of_malloc_conf() {
        let conf = MALLOC_CONF.expect("options");
        // SAFETY: `MALLOC_CONF` points at a NUL-terminated static string.
        let conf = unsafe { CStr::from_ptr(conf) }.to_str().expect("ASCII");
        for option in conf.split(',') {
            let (key, value) = option.split_once(':').expect("key:value");
            let name = CString::new(format!("opt.{key}")).expect("no NUL");
            let in_force = match value {
                "true" | "false" => setting::<bool>(&name).to_string(),
                _ => setting::<isize>(&name).to_string(),
            };
            assert_eq!(in_force, value, "{key}");
        }
        // `opt.background_thread` says they were asked for; this, that they run.
        assert!(setting::<bool>(c"background_thread"));
    }
}
