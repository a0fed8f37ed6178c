//! Shared state of a running double: settings, the store, and the change signal that
//! wakes blocking queries and the scheduler.

use crate::config::Config;
use crate::store::{self, Store};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::watch;

pub struct App {
    pub config: Config,
    store: Mutex<Store>,
    /// Carries the latest raft index after each committed write.
    pub changes: watch::Sender<u64>,
}

impl App {
    pub fn new(config: Config, store: Store) -> App {
        let (changes, _) = watch::channel(store.index);
        App {
            config,
            store: Mutex::new(store),
            changes,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
