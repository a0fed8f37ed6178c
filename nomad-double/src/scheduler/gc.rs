//! Garbage collection on a shortened clock (`--gc-seconds`), as the leader's core
//! scheduler does (nomad/core_sched.go: `jobGC`, `evalGC`, `deploymentGC`; thresholds
//! `job_gc_threshold` 4h, `eval_gc_threshold` 1h, `deployment_gc_threshold` 1h in
//! nomad/config.go). One threshold for all three here.

use crate::api::Evaluation;
use crate::jobspec::str_field;
use crate::store::Store;

fn terminal_eval(e: &Evaluation) -> bool {
    matches!(e.status.as_str(), "complete" | "failed" | "canceled")
}

/// Removes what has been dead for `after` ns; returns whether anything went.
pub fn collect(store: &mut Store, after: i64, now: i64) -> bool {
    let cutoff = now - after;
    let mut removed = false;
    // Dead jobs (stopped or finished) whose allocations are all terminal and whose
    // evaluations are all terminal, untouched since the cutoff.
    let mut dead_jobs = Vec::new();
    for (ns, jobs) in &store.jobs {
        for (id, rec) in jobs {
            if str_field(&rec.job, "Status") != "dead" {
                continue;
            }
            let submitted = rec.job["SubmitTime"].as_i64().unwrap_or(0);
            let allocs_done = store.allocs_of_job(ns, id).all(|r| {
                r.alloc.is_terminal() && r.stop_at.is_none() && r.alloc.modify_time <= cutoff
            });
            let evals_done = store
                .evals_of_job(ns, id)
                .all(|e| terminal_eval(e) && e.modify_time <= cutoff);
            if submitted <= cutoff && allocs_done && evals_done {
                dead_jobs.push((ns.clone(), id.clone()));
            }
        }
    }
    for (ns, id) in dead_jobs {
        if let Some(jobs) = store.jobs.get_mut(&ns) {
            jobs.remove(&id);
        }
        store
            .allocs
            .retain(|_, r| !(r.alloc.namespace == ns && r.alloc.job_id == id));
        store
            .evals
            .retain(|_, e| !(e.namespace == ns && e.job_id == id));
        store
            .deployments
            .retain(|_, d| !(d.namespace == ns && d.job_id == id));
        removed = true;
    }
    // Terminal evaluations whose allocations are all terminal (evalGC).
    let old_evals: Vec<String> = store
        .evals
        .values()
        .filter(|e| terminal_eval(e) && e.modify_time <= cutoff)
        .filter(|e| {
            store
                .allocs
                .values()
                .filter(|r| r.alloc.eval_id == e.id)
                .all(|r| r.alloc.is_terminal() && r.stop_at.is_none())
        })
        .map(|e| e.id.clone())
        .collect();
    for id in old_evals {
        store.evals.remove(&id);
        removed = true;
    }
    // Terminal deployments (deploymentGC).
    let before = store.deployments.len();
    store.deployments.retain(|_, d| {
        matches!(d.status.as_str(), "running" | "paused" | "pending") || d.modify_time > cutoff
    });
    removed |= store.deployments.len() != before;
    removed
}
