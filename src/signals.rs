//! The process's signals: the ones the daemon stops on, and the one it must not die of.

/// Writing past the process's file size limit (`ulimit -f`, `RLIMIT_FSIZE`) raises SIGXFSZ,
/// which by default kills the process on the spot, with writes in flight and clients
/// unanswered. Ignored, the write fails with `EFBIG` instead, as on a full disk: the store
/// answers `storage_unavailable`, `/ready` fails, and both recover once the limit is lifted.
pub fn ignore_file_size_signal() {
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
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
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
