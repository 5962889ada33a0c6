//! The bearer token: asked of every request but `/metrics` and the health
//! checks when `[admin]` has one.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AdminState;
use super::reply::error;

/// Paths anyone who can reach the server may read.
const OPEN: [&str; 3] = ["/metrics", "/health", "/ready"];

pub(crate) async fn require_token(
    State(state): State<Arc<AdminState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.token else {
        return next.run(request).await;
    };
    if OPEN.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        // Compared in constant time: the time taken says nothing about
        // how much of a guess was right.
        Some(g)
            if g.len() == token.expose().len()
                && openssl::memcmp::eq(g.as_bytes(), token.expose().as_bytes()) =>
        {
            next.run(request).await
        }
        Some(_) => error(StatusCode::UNAUTHORIZED, "the bearer token is wrong"),
        None => error(
            StatusCode::UNAUTHORIZED,
            "this request needs `Authorization: Bearer <token>` (the token of [admin] `token_env`/`token_file`)",
        ),
    }
}
