//! Nomad's HTTP conventions: query parameters, blocking queries, index headers,
//! plain-text errors.

use crate::app::App;
use crate::store::{ApiError, Store};
use crate::util::parse_go_duration;
use axum::body::Bytes;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

/// Nomad caps blocking waits at 300 s (and defaults to it).
const MAX_WAIT: Duration = Duration::from_secs(300);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.message,
        )
            .into_response()
    }
}

pub type Reply = Result<Response, ApiError>;

pub struct Params(pub HashMap<String, String>);

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn namespace(&self) -> String {
        match self.get("namespace") {
            Some(ns) if !ns.is_empty() => ns.to_string(),
            _ => "default".to_string(),
        }
    }

    /// `?key`, `?key=true` and `?key=false`; anything else is Nomad's 500 parse error.
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(false),
            Some("") | Some("true") | Some("1") | Some("True") | Some("TRUE") | Some("t") => Ok(true),
            Some("false") | Some("0") | Some("False") | Some("FALSE") | Some("f") => Ok(false),
            Some(other) => Err(ApiError::new(
                500,
                format!("Failed to parse value of {key:?} ({other:?}) as a bool: strconv.ParseBool: parsing {other:?}: invalid syntax"),
            )),
        }
    }

    pub fn pretty(&self) -> bool {
        self.0.contains_key("pretty")
    }

    fn index(&self) -> Result<u64, ApiError> {
        match self.get("index") {
            None | Some("") => Ok(0),
            Some(v) => v.parse().map_err(|_| ApiError::new(400, "Invalid index")),
        }
    }

    fn wait(&self) -> Result<Duration, ApiError> {
        match self.get("wait") {
            None | Some("") => Ok(MAX_WAIT),
            Some(v) => parse_go_duration(v)
                .filter(|ns| *ns >= 0)
                .map(|ns| Duration::from_nanos(ns as u64).min(MAX_WAIT))
                .ok_or_else(|| ApiError::new(400, "Invalid wait time")),
        }
    }
}

/// Holds a blocking query (`?index=N&wait=D`) until `index_of` exceeds N or the wait
/// (plus Nomad's jitter of up to wait/16) elapses. Wakes on committed writes.
pub async fn block(
    app: &App,
    params: &Params,
    index_of: impl Fn(&Store) -> u64,
) -> Result<(), ApiError> {
    let min = params.index()?;
    let wait = params.wait()?;
    if min == 0 {
        return Ok(());
    }
    let jitter = wait / 16 * (crate::util::now_ns() as u32 % 1000) / 1000;
    let deadline = tokio::time::Instant::now() + wait + jitter;
    let mut changes = app.changes.subscribe();
    loop {
        if index_of(&app.lock()) > min {
            return Ok(());
        }
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            () = tokio::time::sleep_until(deadline) => return Ok(()),
        }
    }
}

/// A JSON reply with the query-meta headers Nomad's clients require.
pub fn json_reply(index: u64, body: &impl Serialize, pretty: bool) -> Response {
    let bytes = if pretty {
        serde_json::to_vec_pretty(body)
    } else {
        serde_json::to_vec(body)
    }
    .unwrap_or_else(|_| b"null".to_vec());
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert("X-Nomad-Index", HeaderValue::from(index.max(1)));
    h.insert("X-Nomad-KnownLeader", HeaderValue::from_static("true"));
    h.insert("X-Nomad-LastContact", HeaderValue::from_static("0"));
    resp
}

/// Decodes a write body like Go's encoding/json: unknown fields ignored, zero defaults.
pub fn decode<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(400, "Request body is empty"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::new(400, e.to_string()))
}

pub fn invalid_method() -> ApiError {
    ApiError::new(405, "Invalid method")
}
