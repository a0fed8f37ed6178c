//! Database errors on one line: tokio-postgres says only "db error" and keeps the
//! server's message in its source, which the printer shows only with `-v`.

use std::fmt::Display;

use crate::error::failed;

/// `permission denied for schema csi (HINT: ...)`, or the client-side error chain.
pub fn message(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_owned();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" (DETAIL: {detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!(" (HINT: {hint})"));
            }
            text
        }
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}

pub trait PgContext<T> {
    /// `<what>: <the server's message>` as one line (exit 1).
    fn pg_context(self, what: impl Display) -> anyhow::Result<T>;
}

impl<T> PgContext<T> for Result<T, tokio_postgres::Error> {
    fn pg_context(self, what: impl Display) -> anyhow::Result<T> {
        self.map_err(|e| failed(format!("{what}: {}", message(&e))).into())
    }
}
