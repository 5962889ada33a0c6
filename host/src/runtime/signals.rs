//! Signals: SIGINT/SIGTERM stop the run (at any point, connecting included).

use std::sync::Arc;

use crate::pipeline::Stop;

/// Raises `stop` on the first SIGINT or SIGTERM.
pub fn stop_on_signal(async_rt: &tokio::runtime::Runtime, stop: Arc<Stop>) {
    async_rt.spawn(async move {
        wait_for_signal().await;
        eprintln!("streamplug: stopping: finishing current batches and flushing");
        stop.raise();
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!("cannot watch SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
