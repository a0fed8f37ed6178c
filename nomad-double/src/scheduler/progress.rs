//! Time-driven progress of placed allocations and their deployments:
//! pending -> running (or failed) -> healthy -> deployment successful (or failed).

use super::place::{end_deployment, is_active, stop_alloc};
use super::{Timing, Tx};
use crate::api::{AllocDeploymentStatus, TaskEvent};
use crate::config::Config;
use crate::jobspec::{self, u64_field};
use crate::store::{RegisterOpts, Store};
use crate::util;

pub fn advance(store: &mut Store, cfg: &Config, tx: &mut Tx, now: i64) {
    let t = Timing::of(cfg);
    let starting: Vec<String> = store
        .allocs
        .values()
        .filter(|r| r.alloc.desired_status == "run" && r.alloc.client_status == "pending")
        .filter(|r| r.alloc.create_time + t.start <= now)
        .map(|r| r.alloc.id.clone())
        .collect();
    for id in starting {
        if store.allocs[&id].will_fail {
            fail_alloc(store, cfg, &id, tx, now);
        } else {
            start_alloc(store, &id, tx, now);
        }
    }
    let healthy: Vec<String> = store
        .allocs
        .values()
        .filter(|r| {
            r.alloc.is_live()
                && r.alloc.client_status == "running"
                && r.alloc.deployment_status.is_none()
        })
        .filter(|r| {
            store
                .deployments
                .get(&r.alloc.deployment_id)
                .is_some_and(is_active)
        })
        .filter(|r| r.alloc.create_time + t.healthy <= now)
        .map(|r| r.alloc.id.clone())
        .collect();
    for id in healthy {
        mark_healthy(store, &id, tx, now);
    }
    let done: Vec<String> = store
        .deployments
        .values()
        .filter(|d| d.status == "running" && d.create_time + t.deploy <= now)
        .filter(|d| {
            d.task_groups
                .values()
                .all(|g| g.healthy_allocs >= g.desired_total)
        })
        .map(|d| d.id.clone())
        .collect();
    for id in done {
        succeed_deployment(store, &id, tx, now);
    }
}

/// When the next time-driven transition is due (Unix ns), if any.
pub fn next_due(store: &Store, cfg: &Config) -> Option<i64> {
    let t = Timing::of(cfg);
    let evals = store
        .evals
        .values()
        .filter(|e| e.status == "pending")
        .map(|e| e.create_time + t.eval);
    let starts = store
        .allocs
        .values()
        .filter(|r| r.alloc.desired_status == "run" && r.alloc.client_status == "pending")
        .map(|r| r.alloc.create_time + t.start);
    let health = store
        .allocs
        .values()
        .filter(|r| {
            r.alloc.is_live()
                && r.alloc.client_status == "running"
                && r.alloc.deployment_status.is_none()
        })
        .filter(|r| {
            store
                .deployments
                .get(&r.alloc.deployment_id)
                .is_some_and(is_active)
        })
        .map(|r| r.alloc.create_time + t.healthy);
    let deploys = store
        .deployments
        .values()
        .filter(|d| d.status == "running")
        .filter(|d| {
            d.task_groups
                .values()
                .all(|g| g.healthy_allocs >= g.desired_total)
        })
        .map(|d| d.create_time + t.deploy);
    evals.chain(starts).chain(health).chain(deploys).min()
}

fn start_alloc(store: &mut Store, id: &str, tx: &mut Tx, now: i64) {
    let idx = tx.idx(store);
    let mut rec = store.allocs[id].clone();
    let a = &mut rec.alloc;
    a.client_status = "running".into();
    a.client_description = "Tasks are running".into();
    for (name, state) in a.task_states.iter_mut() {
        let image = task_image(&a.job, &a.task_group, name);
        state.state = "running".into();
        state.started_at = util::rfc3339(now);
        state
            .events
            .push(TaskEvent::new("Task Setup", now, "Building Task Directory"));
        state.events.push(TaskEvent::new(
            "Driver",
            now,
            &format!("Downloading image {image}"),
        ));
        state
            .events
            .push(TaskEvent::new("Started", now, "Task started by client"));
    }
    a.modify_index = idx;
    a.modify_time = now;
    let (ns, job_id, group, version, without_deployment) = (
        a.namespace.clone(),
        a.job_id.clone(),
        a.task_group.clone(),
        a.job_version(),
        a.deployment_id.is_empty(),
    );
    store.put_alloc(rec);
    store.set_job_status(&ns, &job_id, "running", idx);
    if without_deployment {
        stop_older(store, &ns, &job_id, Some(&group), version, 1, idx, now);
    }
}

fn fail_alloc(store: &mut Store, cfg: &Config, id: &str, tx: &mut Tx, now: i64) {
    let idx = tx.idx(store);
    let mut rec = store.allocs[id].clone();
    let a = &mut rec.alloc;
    let pattern = cfg.fail_image_pattern.clone().unwrap_or_default();
    a.client_status = "failed".into();
    a.client_description = "Failed tasks".into();
    for (name, state) in a.task_states.iter_mut() {
        let image = task_image(&a.job, &a.task_group, name);
        state.state = "dead".into();
        state.finished_at = util::rfc3339(now);
        state
            .events
            .push(TaskEvent::new("Task Setup", now, "Building Task Directory"));
        if !pattern.is_empty() && image.contains(&pattern) {
            state.failed = true;
            let msg = format!("Failed to pull `{image}`: API error (404): manifest for {image} not found: manifest unknown");
            let mut ev = TaskEvent::new("Driver Failure", now, &msg);
            ev.driver_error = msg.clone();
            ev.fails_task = true;
            state.events.push(ev);
            state.events.push(TaskEvent::new(
                "Not Restarting",
                now,
                "Error was unrecoverable",
            ));
        } else {
            state.events.push(TaskEvent::new(
                "Sibling Task Failed",
                now,
                "Task's sibling failed",
            ));
        }
    }
    let dep_id = a.deployment_id.clone();
    let group = a.task_group.clone();
    let active = store.deployments.get(&dep_id).is_some_and(is_active);
    if active {
        a.deployment_status = Some(AllocDeploymentStatus {
            healthy: Some(false),
            timestamp: util::rfc3339(now),
            canary: false,
            modify_index: idx,
        });
    }
    a.modify_index = idx;
    a.modify_time = now;
    let (ns, job_id) = (a.namespace.clone(), a.job_id.clone());
    store.put_alloc(rec);
    if active {
        let mut d = store.deployments[&dep_id].clone();
        if let Some(g) = d.task_groups.get_mut(&group) {
            g.unhealthy_allocs += 1;
        }
        store.put_deployment(d);
        fail_deployment(
            store,
            &dep_id,
            "Failed due to unhealthy allocations",
            tx,
            now,
        );
    }
    let live = store.allocs_of_job(&ns, &job_id).any(|r| r.alloc.is_live());
    if !live {
        store.set_job_status(&ns, &job_id, "pending", idx);
    }
}

fn mark_healthy(store: &mut Store, id: &str, tx: &mut Tx, now: i64) {
    let idx = tx.idx(store);
    let mut rec = store.allocs[id].clone();
    rec.alloc.deployment_status = Some(AllocDeploymentStatus {
        healthy: Some(true),
        timestamp: util::rfc3339(now),
        canary: false,
        modify_index: idx,
    });
    rec.alloc.modify_index = idx;
    rec.alloc.modify_time = now;
    let (ns, job_id, group, version, dep_id) = (
        rec.alloc.namespace.clone(),
        rec.alloc.job_id.clone(),
        rec.alloc.task_group.clone(),
        rec.alloc.job_version(),
        rec.alloc.deployment_id.clone(),
    );
    store.put_alloc(rec);
    let mut d = store.deployments[&dep_id].clone();
    if let Some(g) = d.task_groups.get_mut(&group) {
        g.healthy_allocs += 1;
        g.require_progress_by = util::rfc3339(now + g.progress_deadline);
    }
    d.modify_index = idx;
    d.modify_time = now;
    store.put_deployment(d);
    // Rolling update: one old allocation goes for each new healthy one.
    stop_older(store, &ns, &job_id, Some(&group), version, 1, idx, now);
}

fn succeed_deployment(store: &mut Store, dep_id: &str, tx: &mut Tx, now: i64) {
    let idx = tx.idx(store);
    end_deployment(
        store,
        dep_id,
        "successful",
        "Deployment completed successfully",
        idx,
        now,
    );
    let d = store.deployments[dep_id].clone();
    store.set_stable(&d.namespace, &d.job_id, d.job_version, true, idx);
    stop_older(
        store,
        &d.namespace,
        &d.job_id,
        None,
        d.job_version,
        usize::MAX,
        idx,
        now,
    );
}

/// Fails a deployment and, when a group asks for it, reverts to the latest stable version.
pub fn fail_deployment(store: &mut Store, dep_id: &str, why: &str, tx: &mut Tx, now: i64) {
    let idx = tx.idx(store);
    let Some(d) = store.deployments.get(dep_id).cloned() else {
        return;
    };
    if !is_active(&d) {
        return;
    }
    let mut description = why.to_string();
    let mut revert_to = None;
    if d.task_groups.values().any(|g| g.auto_revert) {
        if let Some(rec) = store.job(&d.namespace, &d.job_id) {
            let stable = rec
                .versions
                .iter()
                .find(|v| v["Stable"] == true && u64_field(v, "Version") < d.job_version);
            match stable {
                None => description.push_str(" - no stable job version to auto revert to"),
                Some(v) if !jobspec::spec_changed(v, &rec.job) => description.push_str(&format!(
                    " - not rolling back to stable job version {} as current job has same specification",
                    u64_field(v, "Version")
                )),
                Some(v) => {
                    description.push_str(&format!(" - rolling back to job version {}", u64_field(v, "Version")));
                    revert_to = Some(jobspec::spec(v));
                }
            }
        }
    }
    end_deployment(store, dep_id, "failed", &description, idx, now);
    if let Some(job) = revert_to {
        let opts = RegisterOpts {
            triggered_by: "deployment-watcher",
            ..RegisterOpts::default()
        };
        if let Err(e) = store.register(&d.namespace, job, &opts, now) {
            tracing::warn!("auto-revert of {} failed: {}", d.job_id, e.message);
        }
    }
}

/// Stops up to `limit` live allocations of the job from versions other than `version`.
#[allow(clippy::too_many_arguments)]
fn stop_older(
    store: &mut Store,
    ns: &str,
    job_id: &str,
    group: Option<&str>,
    version: u64,
    limit: usize,
    idx: u64,
    now: i64,
) {
    let older: Vec<String> = store
        .allocs_of_job(ns, job_id)
        .filter(|r| r.alloc.is_live() && r.alloc.job_version() != version)
        .filter(|r| group.is_none_or(|g| r.alloc.task_group == g))
        .map(|r| r.alloc.id.clone())
        .take(limit)
        .collect();
    for id in older {
        stop_alloc(
            store,
            &id,
            "alloc is being updated due to job update",
            idx,
            now,
        );
    }
}

fn task_image(job: &serde_json::Value, group: &str, task: &str) -> String {
    jobspec::groups(job)
        .iter()
        .filter(|g| g["Name"] == group)
        .flat_map(|g| jobspec::tasks(g).iter())
        .find(|t| t["Name"] == task)
        .map(|t| jobspec::task_image(t).to_string())
        .unwrap_or_default()
}
