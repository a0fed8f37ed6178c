//! The double's own endpoints (not Nomad's): the injected faults and the log of the
//! requests received, for tests that break Nomad on purpose and check what was sent.

use crate::app::App;
use crate::faults::Rule;
use crate::store::ApiError;
use axum::extract::State;
use axum::response::Response;

use super::http::json_reply;
use std::sync::Arc;

pub const PREFIX: &str = "/_double/";
pub const FAULTS: &str = "/_double/faults";
pub const REQUESTS: &str = "/_double/requests";

/// `GET /_double/faults`: the rules in force, with the faults each has left.
pub async fn list_faults(State(app): State<Arc<App>>) -> Response {
    reply(&faults(&app))
}

/// `POST /_double/faults`: adds the rules of the body (one per line); none is added
/// when one is invalid (400 with the reason).
pub async fn add_faults(State(app): State<Arc<App>>, body: String) -> Result<Response, ApiError> {
    let rules = body
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(Rule::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::new(400, e))?;
    {
        let mut faults = app.faults.lock().unwrap_or_else(|p| p.into_inner());
        for rule in rules {
            faults.add(rule);
        }
    }
    Ok(reply(&faults(&app)))
}

/// `DELETE /_double/faults`: no more faults.
pub async fn clear_faults(State(app): State<Arc<App>>) -> Response {
    app.faults.lock().unwrap_or_else(|p| p.into_inner()).clear();
    reply(&faults(&app))
}

/// `GET /_double/requests`: every API request received, in order, with its fault.
pub async fn requests(State(app): State<Arc<App>>) -> Response {
    reply(&app.served())
}

fn faults(app: &App) -> Vec<String> {
    app.faults
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .describe()
}

fn reply(body: &impl serde::Serialize) -> Response {
    json_reply(0, body, true)
}
