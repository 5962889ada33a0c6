//! The routes: what each answers, and errors as JSON (`{"error": "..."}`)
//! with a 4xx status for every request that cannot be served.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::AdminState;
use super::auth::require_token;
use super::reply::error;
use crate::metrics::{self, Snapshot};
use crate::plugin::World;
use crate::supervisor::Supervisor;

pub(crate) fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/plugins", get(plugins))
        .route("/plugins/{name}", get(plugin))
        .route("/plugins/{name}/pause", post(pause))
        .route("/plugins/{name}/resume", post(resume))
        .route("/reload", post(reload))
        .route("/config", get(config))
        .route("/cluster", get(cluster))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .with_state(state)
}

/// Boxed: a `Response` is large, and the `Ok` side is one pointer.
fn supervisor(state: &AdminState) -> Result<Arc<Supervisor>, Box<Response>> {
    state.supervisor.upgrade().ok_or_else(|| {
        Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "streamplug is shutting down",
        ))
    })
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such path: see GET /metrics, /health, /ready, /plugins, /plugins/{name}, /config, /cluster; POST /plugins/{name}/pause, /plugins/{name}/resume, /reload",
    )
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "this path does not take this method",
    )
}

async fn metrics(State(state): State<Arc<AdminState>>) -> Response {
    let sup = match supervisor(&state) {
        Ok(s) => s,
        Err(e) => return *e,
    };
    let snapshot = Snapshot {
        plugins: sup.plugin_counters(),
        window_records: sup.window_records(),
        kafka: sup.kafka_stats(),
        in_flight: sup.in_flight(),
        commits: sup.checkpoint_commits(),
    };
    match metrics::render(snapshot) {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the metrics",
        ),
    }
}

async fn health() -> Response {
    axum::Json(json!({ "status": "alive" })).into_response()
}

/// Ready: the broker answers and no plugin was given up on.
async fn ready(State(state): State<Arc<AdminState>>) -> Response {
    let sup = match supervisor(&state) {
        Ok(s) => s,
        Err(e) => return *e,
    };
    let check = tokio::task::spawn_blocking(move || {
        let broker = sup.check_broker(Duration::from_secs(2));
        let given_up: Vec<String> = sup
            .plugin_counters()
            .into_iter()
            .filter(|(_, p)| p.gave_up)
            .map(|(n, _)| n)
            .collect();
        (broker, given_up)
    })
    .await;
    let Ok((broker, given_up)) = check else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the readiness check failed",
        );
    };
    let ready = broker.is_ok() && given_up.is_empty();
    let body = json!({
        "ready": ready,
        "broker": broker.as_ref().map_or_else(|e| format!("{e:#}"), |()| "reachable".into()),
        "given_up": given_up,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// Every plugin: world, tenant, live hash, state, last error, a source's
/// records in flight, in a cluster whether this host runs it, and its
/// counters.
fn describe(sup: &Supervisor) -> Vec<Value> {
    let states = sup.plugin_states();
    let in_flight = sup.in_flight();
    let cluster = sup.cluster();
    sup.plugin_counters()
        .into_iter()
        .map(|(name, p)| {
            let mut v = json!({
                "name": name,
                "world": p.world.to_string(),
                "tenant": p.tenant,
                "hash": p.hash,
                "state": states.get(&name).map(|s| s.label()),
                "last_error": p.last_error.clone(),
            });
            if p.world == World::Source {
                let (records, bytes) = in_flight.get(&name).copied().unwrap_or((0, 0));
                v["in_flight_records"] = json!(records);
                v["in_flight_bytes"] = json!(bytes);
                if let Some(c) = &cluster {
                    v["runs_here"] = json!(c.assigned.contains(&name));
                }
            }
            v["counters"] = json!(p);
            v
        })
        .collect()
}

/// In a cluster: the group, this host's id, the sources assigned to it
/// now and every one it ran, and its rebalances.
async fn cluster(State(state): State<Arc<AdminState>>) -> Response {
    let sup = match supervisor(&state) {
        Ok(s) => s,
        Err(e) => return *e,
    };
    match sup.cluster() {
        Some(view) => axum::Json(view).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "this host is not in a cluster (no [cluster] in its config)",
        ),
    }
}

async fn plugins(State(state): State<Arc<AdminState>>) -> Response {
    let sup = match supervisor(&state) {
        Ok(s) => s,
        Err(e) => return *e,
    };
    match tokio::task::spawn_blocking(move || describe(&sup)).await {
        Ok(list) => axum::Json(json!({ "plugins": list })).into_response(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "cannot list the plugins"),
    }
}

async fn plugin(
    State(state): State<Arc<AdminState>>,
    name: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(name)) = name else {
        return error(
            StatusCode::BAD_REQUEST,
            "the plugin name in the path is not valid",
        );
    };
    let sup = match supervisor(&state) {
        Ok(s) => s,
        Err(e) => return *e,
    };
    let list = tokio::task::spawn_blocking(move || describe(&sup)).await;
    match list
        .ok()
        .and_then(|l| l.into_iter().find(|p| p["name"] == name.as_str()))
    {
        Some(p) => axum::Json(p).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            &format!("no plugin is named `{name}`"),
        ),
    }
}

async fn pause(
    State(state): State<Arc<AdminState>>,
    name: Result<Path<String>, PathRejection>,
) -> Response {
    steer(state, name, "paused", |s, n| s.pause(n)).await
}

async fn resume(
    State(state): State<Arc<AdminState>>,
    name: Result<Path<String>, PathRejection>,
) -> Response {
    steer(state, name, "resumed", |s, n| s.resume(n)).await
}

/// Pauses or resumes a source: waits (on the blocking pool) until it has
/// stopped at a batch boundary and delivered what it had in flight, or
/// has started again.
async fn steer(
    state: Arc<AdminState>,
    name: Result<Path<String>, PathRejection>,
    done: &'static str,
    action: fn(&Supervisor, &str) -> anyhow::Result<()>,
) -> Response {
    let Ok(Path(name)) = name else {
        return error(
            StatusCode::BAD_REQUEST,
            "the plugin name in the path is not valid",
        );
    };
    let sup = match supervisor(&state) {
        Ok(s) => s,
        Err(e) => return *e,
    };
    if sup.config().source(&name).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            &format!("no source is named `{name}` (only sources can be paused)"),
        );
    }
    let n = name.clone();
    match tokio::task::spawn_blocking(move || action(&sup, &n)).await {
        Ok(Ok(())) => axum::Json(json!({ "plugin": name, "state": done })).into_response(),
        Ok(Err(e)) => error(StatusCode::CONFLICT, &format!("{e:#}")),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the request failed"),
    }
}

async fn reload(State(state): State<Arc<AdminState>>) -> Response {
    state.controls.request_reload();
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({ "reload": "requested" })),
    )
        .into_response()
}

/// The running config as JSON, with every value whose key names a secret
/// replaced and every known secret scrubbed from the rest.
async fn config(State(state): State<Arc<AdminState>>) -> Response {
    let sup = match supervisor(&state) {
        Ok(s) => s,
        Err(e) => return *e,
    };
    let raw = match tokio::task::spawn_blocking(move || sup.config().raw).await {
        Ok(raw) => raw,
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the config"),
    };
    match serde_json::to_value(&raw) {
        Ok(mut v) => {
            redact(&mut v);
            axum::Json(v).into_response()
        }
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the config",
        ),
    }
}

fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let k = k.to_ascii_lowercase();
                if [
                    "password",
                    "secret",
                    "token",
                    "passphrase",
                    "key.pem",
                    "ssl_key",
                ]
                .iter()
                .any(|w| k.contains(w))
                    && v.is_string()
                {
                    *v = Value::String("[redacted]".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::String(s) => *s = crate::secrets::scrub(s).into_owned(),
        _ => {}
    }
}
