//! The admin server (`[admin]`): `GET /metrics` for Prometheus, the health
//! checks, and a JSON API to see and steer plugins. It runs on the host's
//! tokio runtime and reads existing state through the supervisor; the hot
//! path never waits on it. Calls that wait for Kafka (pause, resume) run on
//! tokio's blocking pool, never on the runtime's one worker thread.

mod auth;
pub mod client;
mod reply;
mod routes;

use std::sync::{Arc, Weak};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::oneshot;

use crate::config::Admin;
use crate::reload::Controls;
use crate::supervisor::Supervisor;

/// What the handlers reach: the supervisor (weakly: the admin server must
/// not keep it alive past the run), reload requests, the token.
pub(crate) struct AdminState {
    pub supervisor: Weak<Supervisor>,
    pub controls: Arc<Controls>,
    pub token: Option<crate::secrets::Secret>,
}

/// The running server; [`AdminServer::stop`] ends it.
pub struct AdminServer {
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    rt: tokio::runtime::Handle,
}

/// Binds `admin.listen` and serves on `rt`. Fails if the address cannot be
/// bound (in use, or not an address of this machine).
pub fn start(
    rt: &tokio::runtime::Handle,
    admin: &Admin,
    supervisor: &Arc<Supervisor>,
    controls: Arc<Controls>,
) -> Result<AdminServer> {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(admin.listen))
        .with_context(|| format!("[admin]: cannot listen on {}", admin.listen))?;
    let state = Arc::new(AdminState {
        supervisor: Arc::downgrade(supervisor),
        controls,
        token: admin.token.clone(),
    });
    let app = routes::router(state);
    let (shutdown, stopped) = oneshot::channel();
    let task = rt.spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!("admin server stopped: {e}");
        }
    });
    tracing::info!(
        "admin server on http://{} (/metrics, /health, /ready, /plugins)",
        admin.listen
    );
    Ok(AdminServer {
        shutdown: Some(shutdown),
        task,
        rt: rt.clone(),
    })
}

impl AdminServer {
    /// Stops accepting requests and lets those in progress finish (up to a
    /// second: a client holding a connection open does not delay the exit).
    pub fn stop(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        let task = &mut self.task;
        let ended = self
            .rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(1), task).await });
        if ended.is_err() {
            self.task.abort();
        }
    }
}
