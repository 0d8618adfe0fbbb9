//! Shutdown on SIGINT (ctrl-c) or SIGTERM (service managers, containers).

use tokio_util::sync::CancellationToken;

/// Cancels `shutdown` on the first SIGINT or SIGTERM. If the handlers cannot be installed
/// the server keeps running; it can still be killed, and jobs resume after a restart.
pub fn on_signal(shutdown: CancellationToken) {
    tokio::spawn(async move {
        let name = signal().await;
        tracing::info!(
            signal = name,
            "shutting down: no new connections; open ones may finish"
        );
        shutdown.cancel();
    });
}

#[cfg(unix)]
async fn signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only ctrl-c stops easel gracefully");
            return match tokio::signal::ctrl_c().await {
                Ok(()) => "SIGINT",
                Err(_) => std::future::pending().await,
            };
        }
    };
    tokio::select! {
        result = tokio::signal::ctrl_c() => match result {
            Ok(()) => "SIGINT",
            Err(_) => { term.recv().await; "SIGTERM" }
        },
        _ = term.recv() => "SIGTERM",
    }
}

#[cfg(not(unix))]
async fn signal() -> &'static str {
    match tokio::signal::ctrl_c().await {
        Ok(()) => "ctrl-c",
        Err(_) => std::future::pending().await,
    }
}
