//! The HTTP server: routes, the ACL/latency guard, and the serve loop.

mod control;
mod http;
mod jobs;
mod reads;

use crate::app::App;
use crate::faults::Answer;
use crate::scheduler;
use crate::store::ApiError;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/status/leader", get(reads::leader))
        .route("/v1/status/peers", get(reads::peers))
        .route("/v1/agent/self", get(reads::agent_self))
        .route(
            "/v1/jobs",
            get(reads::list_jobs)
                .put(jobs::register_new)
                .post(jobs::register_new),
        )
        .route("/v1/jobs/parse", post(jobs::parse).put(jobs::parse))
        .route(
            "/v1/job/{id}",
            get(reads::get_job)
                .put(jobs::register_existing)
                .post(jobs::register_existing)
                .delete(jobs::deregister),
        )
        .route("/v1/job/{id}/plan", post(jobs::plan).put(jobs::plan))
        .route("/v1/job/{id}/revert", post(jobs::revert).put(jobs::revert))
        .route("/v1/job/{id}/stable", post(jobs::stable).put(jobs::stable))
        .route("/v1/job/{id}/versions", get(reads::job_versions))
        .route("/v1/job/{id}/summary", get(reads::job_summary))
        .route("/v1/job/{id}/allocations", get(reads::job_allocations))
        .route("/v1/job/{id}/evaluations", get(reads::job_evaluations))
        .route("/v1/job/{id}/deployments", get(reads::job_deployments))
        .route("/v1/job/{id}/deployment", get(reads::job_latest_deployment))
        .route("/v1/deployments", get(reads::deployments))
        .route("/v1/deployment/{id}", get(reads::deployment))
        .route(
            "/v1/deployment/allocations/{id}",
            get(reads::deployment_allocations),
        )
        .route(
            "/v1/deployment/fail/{id}",
            post(jobs::fail_deployment).put(jobs::fail_deployment),
        )
        .route("/v1/evaluations", get(reads::evaluations))
        .route("/v1/evaluation/{id}", get(reads::evaluation))
        .route(
            "/v1/evaluation/{id}/allocations",
            get(reads::evaluation_allocations),
        )
        .route("/v1/allocations", get(reads::allocations))
        .route("/v1/allocation/{id}", get(reads::allocation))
        .route(
            control::FAULTS,
            get(control::list_faults)
                .post(control::add_faults)
                .delete(control::clear_faults),
        )
        .route(control::REQUESTS, get(control::requests))
        .method_not_allowed_fallback(|| async { http::invalid_method() })
        .fallback(|| async { ApiError::new(404, "404 page not found\n") })
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Adds `--latency-ms`, enforces the ACL token (status endpoints need none), logs the
/// request and applies the injected fault, if any. The control endpoints pass as is.
async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with(control::PREFIX) {
        return next.run(req).await;
    }
    if !app.config.latency.is_zero() {
        tokio::time::sleep(app.config.latency).await;
    }
    if let Some(expected) = &app.config.token {
        if !req.uri().path().starts_with("/v1/status/") {
            let headers = req.headers();
            let given = headers
                .get("X-Nomad-Token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .or_else(|| {
                    let auth = headers.get("Authorization")?.to_str().ok()?;
                    let (scheme, token) = auth.split_once(' ')?;
                    scheme
                        .eq_ignore_ascii_case("bearer")
                        .then(|| token.trim().to_string())
                })
                .filter(|t| !t.is_empty());
            match given {
                None => return ApiError::new(403, "Permission denied").into_response(),
                Some(t) if &t != expected => {
                    return ApiError::new(403, "ACL token not found").into_response()
                }
                Some(_) => {}
            }
        }
    }
    tracing::debug!(method = %req.method(), uri = %req.uri(), "request");
    match app.receive(req.method().as_str(), req.uri().path()) {
        None if app.config.rpc_error_prefix => forwarded(next.run(req).await).await,
        None => next.run(req).await,
        Some(Answer::Status(code)) => {
            ApiError::new(code, format!("rpc error: injected fault ({code})")).into_response()
        }
        Some(Answer::Hang) => std::future::pending().await,
        Some(Answer::Lose) => {
            drop(next.run(req).await);
            std::future::pending().await
        }
    }
}

/// As a client agent or a non-leader server answers: the request went over RPC to the
/// leader, and a failure comes back as a net/rpc `ServerError`, its text prefixed with
/// `rpc error: ` (nomad/rpc.go `forward`, helper/pool; the HTTP layer writes the error
/// text as is, command/agent/http.go `wrap`).
async fn forwarded(response: Response) -> Response {
    if response.status() != axum::http::StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => e.to_string(),
    };
    let mut response =
        Response::from_parts(parts, axum::body::Body::from(format!("rpc error: {text}")));
    response
        .headers_mut()
        .remove(axum::http::header::CONTENT_LENGTH);
    response
}

/// Serves until `shutdown` completes; in-flight blocking queries are dropped then.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let scheduler = tokio::spawn(scheduler::run(app.clone()));
    let result = tokio::select! {
        r = axum::serve(listener, router(app)) => r,
        () = shutdown => Ok(()),
    };
    scheduler.abort();
    result
}
