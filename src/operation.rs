//! The frame every changing command runs in: take the environment's lock, journal the
//! start, run, journal the outcome, release the lock on every exit path.

use std::future::Future;

use serde_json::Value;

use crate::error;
use crate::journal::{Journal, Operation, Outcome};
use crate::lock;
use crate::settings::Settings;

/// Runs `body` under the environment's lock. The body returns its value and the
/// one-line message journaled with the outcome.
pub async fn run_locked<T, F, Fut>(
    settings: &Settings,
    name: &str,
    params: Value,
    body: F,
) -> anyhow::Result<T>
where
    F: FnOnce(Operation) -> Fut,
    Fut: Future<Output = anyhow::Result<(T, String)>>,
{
    let command_line = format!("csi env {name} {}", settings.env_name);
    let _lock = lock::acquire(&settings.state_dir, &settings.env_name, &command_line)?;
    let operation = Journal::for_state_dir(&settings.state_dir).start(name, params)?;
    let on_interrupt = operation.clone();
    let _journal_guard = crate::interrupt::on_interrupt(move || {
        let _ = on_interrupt.finish(Outcome::Interrupted, "csi was interrupted by a signal");
    });
    let result = body(operation.clone()).await;
    let (outcome, message) = match &result {
        Ok((_, message)) => (Outcome::Ok, message.clone()),
        Err(err) => (Outcome::from_kind(error::kind_of(err)), err.to_string()),
    };
    operation.finish(outcome, &message)?;
    result.map(|(value, _)| value)
}
