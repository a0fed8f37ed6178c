//! Shared state of a running double: settings, the store, the change signal that
//! wakes blocking queries and the scheduler, and the injected faults with the log of
//! requests received.

use crate::config::Config;
use crate::faults::{Answer, Faults};
use crate::store::{self, Store};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::watch;

pub struct App {
    pub config: Config,
    store: Mutex<Store>,
    /// Carries the latest raft index after each committed write.
    pub changes: watch::Sender<u64>,
    pub faults: Mutex<Faults>,
    requests: Mutex<Vec<Served>>,
}

/// One API request received, and the fault it got (for `GET /_double/requests`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Served {
    #[serde(rename = "Method")]
    pub method: String,
    #[serde(rename = "Path")]
    pub path: String,
    /// `500`, `hang`, `lose`; None when answered normally.
    #[serde(rename = "Fault")]
    pub fault: Option<String>,
}

impl App {
    pub fn new(config: Config, mut store: Store) -> App {
        store.slow_stop = config.slow_stop;
        let (changes, _) = watch::channel(store.index);
        let faults = Faults::new(config.fail_requests.clone());
        App {
            config,
            store: Mutex::new(store),
            changes,
            faults: Mutex::new(faults),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// Logs an API request and returns the fault it gets, if any.
    pub fn receive(&self, method: &str, path: &str) -> Option<Answer> {
        let fault = unpoisoned(&self.faults).take(method, path);
        unpoisoned(&self.requests).push(Served {
            method: method.to_owned(),
            path: path.to_owned(),
            fault: fault.map(|f| f.to_string()),
        });
        fault
    }

    /// Every API request received so far, in order.
    pub fn served(&self) -> Vec<Served> {
        unpoisoned(&self.requests).clone()
    }

    pub fn lock(&self) -> MutexGuard<'_, Store> {
        unpoisoned(&self.store)
    }

    /// Publishes a write: persists the state (when configured) and wakes waiters.
    pub fn commit(&self, store: &Store) {
        if let Some(path) = &self.config.state_file {
            if let Err(e) = store::save(path, store) {
                tracing::warn!("could not persist state: {e}");
            }
        }
        self.changes.send_replace(store.index);
    }
}

fn unpoisoned<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
