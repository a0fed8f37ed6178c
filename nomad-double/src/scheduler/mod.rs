//! The scheduler stand-in: one client node with a CPU capacity. It processes evaluations,
//! places allocations, and moves them and their deployments along over time.

mod build;
mod gc;
pub mod place;
pub mod plan;
mod progress;

use crate::app::App;
use crate::config::Config;
use crate::store::Store;
use crate::util::now_ns;
use std::sync::Arc;
use std::time::Duration;

/// One batch of scheduler writes shares one index, like one raft apply.
#[derive(Default)]
pub struct Tx {
    idx: Option<u64>,
}

impl Tx {
    pub fn idx(&mut self, store: &mut Store) -> u64 {
        *self.idx.get_or_insert_with(|| store.bump())
    }

    pub fn wrote(&self) -> bool {
        self.idx.is_some()
    }
}

/// Offsets (ns) from creation at which things happen, scaled on `--deploy-seconds`.
pub struct Timing {
    /// A pending evaluation is picked up by the scheduler.
    pub eval: i64,
    /// A placed allocation starts (or fails).
    pub start: i64,
    /// A running allocation of a deployment reports healthy.
    pub healthy: i64,
    /// A deployment whose allocations are all healthy completes.
    pub deploy: i64,
}

impl Timing {
    pub fn of(cfg: &Config) -> Timing {
        let d = cfg.deploy_time.as_nanos() as i64;
        Timing {
            eval: (d / 20).min(50_000_000),
            start: d / 4,
            healthy: d * 3 / 5,
            deploy: d,
        }
    }
}

/// Applies everything that is due. Returns whether state changed and the next due time.
pub fn tick(
    store: &mut Store,
    cfg: &Config,
    now: i64,
    seen_allocs: &mut u64,
) -> (bool, Option<i64>) {
    let mut tx = Tx::default();
    let t = Timing::of(cfg);
    let mut due: Vec<(u64, String)> = store
        .evals
        .values()
        .filter(|e| e.status == "pending" && e.create_time + t.eval <= now)
        .map(|e| (e.create_index, e.id.clone()))
        .collect();
    due.sort();
    for (_, id) in due {
        place::process_eval(store, cfg, &id, &mut tx, now);
    }
    progress::advance(store, cfg, &mut tx, now);
    if let Some(after) = cfg.gc_after {
        if gc::collect(store, after.as_nanos() as i64, now) {
            let idx = tx.idx(store);
            store.tables.jobs = idx;
            store.tables.evals = idx;
            store.tables.allocs = idx;
            store.tables.deployments = idx;
        }
    }
    if store.tables.allocs != *seen_allocs {
        // Capacity may have changed: retry blocked evaluations.
        let blocked: Vec<String> = store
            .evals
            .values()
            .filter(|e| e.status == "blocked" && place::blocked_can_progress(store, cfg, e))
            .map(|e| e.id.clone())
            .collect();
        for id in blocked {
            place::process_eval(store, cfg, &id, &mut tx, now);
        }
        *seen_allocs = store.tables.allocs;
    }
    let mut next = progress::next_due(store, cfg);
    if let Some(after) = cfg.gc_after {
        // Nomad's core scheduler runs periodically; here a tenth of the threshold.
        let period = (after.as_nanos() as i64 / 10).max(10_000_000);
        next = Some(next.map_or(now + period, |n| n.min(now + period)));
    }
    (tx.wrote(), next)
}

/// Runs until the process ends: wakes on state changes and on the next due transition.
pub async fn run(app: Arc<App>) {
    let mut changes = app.changes.subscribe();
    let mut seen_allocs = 0;
    loop {
        let next = {
            let mut store = app.lock();
            let (wrote, next) = tick(&mut store, &app.config, now_ns(), &mut seen_allocs);
            if wrote {
                app.commit(&store);
            }
            next
        };
        let sleep_for = next
            .map(|at| Duration::from_nanos((at - now_ns()).max(1) as u64))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep(sleep_for) => {}
        }
    }
}

pub use progress::fail_deployment;
