//! Time-driven progress of placed allocations and their deployments:
//! pending -> running (or failed) -> healthy -> deployment successful (or failed).

use super::place::{end_deployment, is_active, stop_alloc};
use super::{Timing, Tx};
use crate::api::{AllocDeploymentStatus, TaskEvent};
use crate::config::Config;
use crate::jobspec::{self, str_field, u64_field};
use crate::store::{RegisterOpts, Store};
use crate::util;

pub fn advance(store: &mut Store, cfg: &Config, tx: &mut Tx, now: i64) {
    let t = Timing::of(cfg);
    let starting: Vec<String> = store
        .allocs
        .values()
        .filter(|r| r.alloc.desired_status == "run" && r.alloc.client_status == "pending")
        .filter(|r| r.next_at.unwrap_or(r.alloc.create_time + t.start) <= now)
        .map(|r| r.alloc.id.clone())
        .collect();
    for id in starting {
        if store.allocs[&id].will_fail {
            attempt_failed(store, cfg, &id, tx, now);
        } else {
            start_alloc(store, &id, tx, now);
        }
    }
    let stopped: Vec<String> = store
        .allocs
        .values()
        .filter(|r| r.stop_at.is_some_and(|at| at <= now))
        .map(|r| r.alloc.id.clone())
        .collect();
    for id in stopped {
        let idx = tx.idx(store);
        let mut rec = store.allocs[&id].clone();
        super::place::finish_stop(&mut rec, now);
        rec.alloc.modify_index = idx;
        rec.alloc.alloc_modify_index = idx;
        rec.alloc.modify_time = now;
        store.put_alloc(rec);
    }
    for id in reschedulable(store, now) {
        reschedule(store, cfg, &id, tx, now);
    }
    let overdue: Vec<String> = store
        .deployments
        .values()
        .filter(|d| is_active(d) && progress_due(d).is_some_and(|at| at <= now))
        .map(|d| d.id.clone())
        .collect();
    for id in overdue {
        fail_deployment(store, &id, "Failed due to progress deadline", tx, now);
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
        .map(|r| r.next_at.unwrap_or(r.alloc.create_time + t.start));
    let stops = store.allocs.values().filter_map(|r| r.stop_at);
    let reschedules = store
        .allocs
        .values()
        .filter(|r| r.alloc.client_status == "failed" && r.alloc.next_allocation.is_empty())
        .filter_map(|r| r.next_at);
    let deadlines = store
        .deployments
        .values()
        .filter(|d| is_active(d))
        .filter_map(progress_due);
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
    evals
        .chain(starts)
        .chain(stops)
        .chain(reschedules)
        .chain(deadlines)
        .chain(health)
        .chain(deploys)
        .min()
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

/// The group's restart policy: (attempts, delay ns, interval ns, mode).
fn restart_policy(job: &serde_json::Value, group: &str) -> (u64, i64, i64, String) {
    let g = jobspec::groups(job).iter().find(|g| g["Name"] == group);
    let rp = g.map(|g| &g["RestartPolicy"]);
    let get = |k: &str| {
        rp.and_then(|r| r.get(k))
            .and_then(serde_json::Value::as_i64)
    };
    (
        get("Attempts").unwrap_or(2).max(0) as u64,
        get("Delay").unwrap_or(15_000_000_000),
        get("Interval").unwrap_or(1_800_000_000_000),
        rp.and_then(|r| r["Mode"].as_str())
            .unwrap_or("fail")
            .to_string(),
    )
}

/// A task of a broken image failed to start. As client/allocrunner/taskrunner's restart
/// tracker (restarts.go) decides: restart after the policy's delay while attempts are
/// left (or forever in `delay` mode); else the allocation fails, is unhealthy in its
/// deployment, and is rescheduled after the reschedule policy's delay.
fn attempt_failed(store: &mut Store, cfg: &Config, id: &str, tx: &mut Tx, now: i64) {
    let idx = tx.idx(store);
    let mut rec = store.allocs[id].clone();
    let (attempts, delay, interval, mode) = restart_policy(&rec.alloc.job, &rec.alloc.task_group);
    let restarts = rec
        .alloc
        .task_states
        .values()
        .map(|s| s.restarts)
        .max()
        .unwrap_or(0);
    let pattern = cfg.fail_image_pattern.clone().unwrap_or_default();
    let restart = mode == "delay" || restarts < attempts;
    let a = &mut rec.alloc;
    for (name, state) in a.task_states.iter_mut() {
        let image = task_image(&a.job, &a.task_group, name);
        state
            .events
            .push(TaskEvent::new("Task Setup", now, "Building Task Directory"));
        if !pattern.is_empty() && image.contains(&pattern) {
            // drivers/docker: a pull error is recoverable unless "image ... not found".
            let msg = format!("Failed to pull `{image}`: API error (404): manifest for {image} not found: manifest unknown");
            let mut ev = TaskEvent::new("Driver Failure", now, &msg);
            ev.driver_error = msg.clone();
            state.events.push(ev);
        } else {
            state.events.push(TaskEvent::new(
                "Sibling Task Failed",
                now,
                "Task's sibling failed",
            ));
        }
        if restart {
            state.state = "pending".into();
            state.restarts += 1;
            state.last_restart = util::rfc3339(now);
            state.events.push(TaskEvent::new(
                "Restarting",
                now,
                &format!("Task restarting in {}", util::go_duration(delay)),
            ));
        } else {
            state.state = "dead".into();
            state.failed = true;
            state.finished_at = util::rfc3339(now);
            state.events.push(TaskEvent::new(
                "Not Restarting",
                now,
                &format!(
                    "Exceeded allowed attempts {attempts} in interval {} and mode is \"fail\"",
                    util::go_duration(interval)
                ),
            ));
        }
    }
    a.modify_index = idx;
    a.modify_time = now;
    if restart {
        rec.next_at = Some(now + delay);
        store.put_alloc(rec);
        return;
    }
    a.client_status = "failed".into();
    a.client_description = "Failed tasks".into();
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
    let (ns, job_id) = (a.namespace.clone(), a.job_id.clone());
    rec.next_at = reschedule_at(store, &rec, now);
    store.put_alloc(rec);
    if active {
        let mut d = store.deployments[&dep_id].clone();
        let mut progress_based = false;
        if let Some(g) = d.task_groups.get_mut(&group) {
            g.unhealthy_allocs += 1;
            progress_based = g.progress_deadline != 0;
        }
        store.put_deployment(d);
        // nomad/deploymentwatcher handleAllocUpdate: with a progress deadline the
        // unhealthy allocation is replaced; without one the deployment fails now.
        if !progress_based {
            fail_deployment(
                store,
                &dep_id,
                "Failed due to unhealthy allocations",
                tx,
                now,
            );
        }
    }
    let live = store.allocs_of_job(&ns, &job_id).any(|r| r.alloc.is_live())
        || (cfg.nomad_version.running_while_deploying()
            && store.deployments_of_job(&ns, &job_id).any(is_active));
    if !live {
        store.set_job_status(&ns, &job_id, "pending", idx);
    }
}

/// When a failed allocation is replaced (ReschedulePolicy: `Delay`, doubled per
/// earlier attempt up to `MaxDelay` for `exponential`), None when the policy is spent.
fn reschedule_at(store: &Store, rec: &crate::store::AllocRecord, now: i64) -> Option<i64> {
    let group = jobspec::groups(&rec.alloc.job)
        .iter()
        .find(|g| g["Name"] == rec.alloc.task_group.as_str())?;
    let rp = group.get("ReschedulePolicy").filter(|r| r.is_object())?;
    let mut earlier = 0u32;
    let mut prev = rec.alloc.previous_allocation.clone();
    while let Some(p) = store.allocs.get(&prev) {
        earlier += 1;
        prev = p.alloc.previous_allocation.clone();
    }
    let unlimited = rp["Unlimited"].as_bool().unwrap_or(false);
    if !unlimited && u64::from(earlier) >= rp["Attempts"].as_u64().unwrap_or(0) {
        return None;
    }
    let delay = rp["Delay"].as_i64().unwrap_or(30_000_000_000);
    let delay = if rp["DelayFunction"] == "exponential" {
        let max = rp["MaxDelay"]
            .as_i64()
            .filter(|m| *m > 0)
            .unwrap_or(i64::MAX);
        delay.saturating_mul(1i64 << earlier.min(30)).min(max)
    } else {
        delay
    };
    Some(now + delay)
}

/// Failed allocations of the current job version whose replacement is due.
fn reschedulable(store: &Store, now: i64) -> Vec<String> {
    store
        .allocs
        .values()
        .filter(|r| {
            r.alloc.client_status == "failed"
                && r.alloc.desired_status == "run"
                && r.alloc.next_allocation.is_empty()
                && r.next_at.is_some_and(|at| at <= now)
        })
        .filter(|r| {
            store
                .job(&r.alloc.namespace, &r.alloc.job_id)
                .is_some_and(|j| {
                    !jobspec::is_stopped(&j.job)
                        && u64_field(&j.job, "Version") == r.alloc.job_version()
                        && u64_field(&j.job, "CreateIndex") == r.alloc.job_create_index()
                })
        })
        .map(|r| r.alloc.id.clone())
        .collect()
}

fn reschedule(store: &mut Store, cfg: &Config, id: &str, tx: &mut Tx, now: i64) {
    let idx = tx.idx(store);
    let mut old = store.allocs[id].clone();
    let Some(eval) = store.evals.get(&old.alloc.eval_id).cloned() else {
        old.next_at = None;
        store.put_alloc(old);
        return;
    };
    let job = old.alloc.job.clone();
    let Some(group) = jobspec::groups(&job)
        .iter()
        .find(|g| g["Name"] == old.alloc.task_group.as_str())
        .cloned()
    else {
        return;
    };
    let dep_id = old.alloc.deployment_id.clone();
    let deployment = store
        .deployments
        .get(&dep_id)
        .filter(|d| is_active(d))
        .map(|d| d.id.clone());
    let n = super::place::name_index(&old.alloc.name);
    let mut new =
        super::build::new_alloc(&job, &group, n, &eval, deployment.as_deref(), cfg, idx, now);
    new.alloc.previous_allocation = old.alloc.id.clone();
    old.alloc.next_allocation = new.alloc.id.clone();
    old.next_at = None;
    old.alloc.modify_index = idx;
    old.alloc.modify_time = now;
    store.put_alloc(old);
    store.put_alloc(new);
    if let Some(dep_id) = deployment {
        let mut d = store.deployments[&dep_id].clone();
        if let Some(g) = d.task_groups.get_mut(str_field(&group, "Name")) {
            g.placed_allocs += 1;
        }
        d.modify_index = idx;
        d.modify_time = now;
        store.put_deployment(d);
    }
}

/// The earliest `RequireProgressBy` of a group that is still short of healthy
/// allocations and has a progress deadline.
fn progress_due(d: &crate::api::Deployment) -> Option<i64> {
    d.task_groups
        .values()
        .filter(|g| g.progress_deadline != 0 && g.healthy_allocs < g.desired_total)
        .filter_map(|g| util::parse_rfc3339(&g.require_progress_by))
        .filter(|at| *at > 0)
        .min()
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
/// Returns the stable version rolled back to, if any (`RevertedJobVersion`).
pub fn fail_deployment(
    store: &mut Store,
    dep_id: &str,
    why: &str,
    tx: &mut Tx,
    now: i64,
) -> Option<u64> {
    let idx = tx.idx(store);
    let d = store.deployments.get(dep_id).cloned()?;
    if !is_active(&d) {
        return None;
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
                    revert_to = Some((u64_field(v, "Version"), jobspec::spec(v)));
                }
            }
        }
    }
    end_deployment(store, dep_id, "failed", &description, idx, now);
    let (version, job) = revert_to?;
    let opts = RegisterOpts {
        triggered_by: "deployment-watcher",
        ..RegisterOpts::default()
    };
    match store.register(&d.namespace, job, &opts, now) {
        Ok(_) => Some(version),
        Err(e) => {
            tracing::warn!("auto-revert of {} failed: {}", d.job_id, e.message);
            None
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
