//! Evaluation processing: reconcile a job's allocations with its current version on the
//! single simulated node, placing what fits in the CPU capacity.

use super::build::{
    blocked_eval, exhausted_metric, filtered_metric, new_alloc, new_deployment, unmet_constraint,
};
use super::Tx;
use crate::api::{Allocation, AllocationMetric, Deployment, Evaluation, Map, TaskEvent};
use crate::config::Config;
use crate::diff::{self, GroupChange};
use crate::jobspec::{self, str_field, u64_field};
use crate::store::Store;
use crate::util::{self, ZERO_TIME};
use serde_json::Value;
use std::collections::BTreeSet;

pub fn is_active(d: &Deployment) -> bool {
    matches!(
        d.status.as_str(),
        "running" | "paused" | "blocked" | "unblocking" | "initializing" | "pending"
    )
}

/// Processes a pending (or re-tried blocked) evaluation.
pub fn process_eval(store: &mut Store, cfg: &Config, eval_id: &str, tx: &mut Tx, now: i64) {
    let Some(eval) = store.evals.get(eval_id).cloned() else {
        return;
    };
    let job = store
        .job(&eval.namespace, &eval.job_id)
        .map(|r| r.job.clone());
    match job {
        Some(job) if purged_before(&eval, &job) => {
            let incarnation = u64_field(&job, "CreateIndex");
            stop_job(store, eval, Scope::Before(incarnation), tx, now)
        }
        Some(job) if !jobspec::is_stopped(&job) => reconcile(store, cfg, eval, &job, tx, now),
        Some(_) => stop_job(store, eval, Scope::Job, tx, now),
        None => stop_job(store, eval, Scope::Purged, tx, now),
    }
}

/// What a stopping evaluation stops.
#[derive(Clone, Copy)]
enum Scope {
    /// The stopped job, which stays (and becomes `dead`).
    Job,
    /// Every incarnation of a purged job.
    Purged,
    /// The incarnations older than the given `CreateIndex`: the job was purged, then
    /// registered again before this deregistration was processed. Nomad's scheduler
    /// processes the purge within milliseconds, so the new job never inherits the old
    /// allocations (nor their CPU).
    Before(u64),
}

impl Scope {
    fn covers(self, job_create_index: u64) -> bool {
        match self {
            Scope::Before(incarnation) => job_create_index < incarnation,
            Scope::Job | Scope::Purged => true,
        }
    }
}

/// A deregistration evaluation made for an incarnation older than the current job.
fn purged_before(eval: &Evaluation, job: &Value) -> bool {
    eval.triggered_by == "job-deregister" && eval.job_modify_index < u64_field(job, "CreateIndex")
}

fn stop_job(store: &mut Store, mut eval: Evaluation, scope: Scope, tx: &mut Tx, now: i64) {
    let idx = tx.idx(store);
    let (ns, id) = (eval.namespace.clone(), eval.job_id.clone());
    let live: Vec<String> = store
        .allocs_of_job(&ns, &id)
        .filter(|r| r.alloc.is_live() && scope.covers(r.alloc.job_create_index()))
        .map(|r| r.alloc.id.clone())
        .collect();
    for alloc_id in live {
        stop_alloc(
            store,
            &alloc_id,
            "alloc not needed due to job update",
            idx,
            now,
        );
    }
    let active: Vec<String> = store
        .deployments_of_job(&ns, &id)
        .filter(|d| is_active(d) && scope.covers(d.job_create_index))
        .map(|d| d.id.clone())
        .collect();
    for dep_id in active {
        end_deployment(
            store,
            &dep_id,
            "cancelled",
            "Cancelled because job is stopped",
            idx,
            now,
        );
    }
    match scope {
        Scope::Job => {
            cancel_blocked(store, &ns, &id, &eval.id, idx, now);
            store.set_job_status(&ns, &id, "dead", idx);
        }
        Scope::Purged => cancel_blocked(store, &ns, &id, &eval.id, idx, now),
        // The new incarnation's evaluations are its own.
        Scope::Before(_) => {}
    }
    eval.status = "complete".into();
    eval.snapshot_index = idx;
    touch_eval(store, eval, idx, now);
}

fn reconcile(
    store: &mut Store,
    cfg: &Config,
    mut eval: Evaluation,
    job: &Value,
    tx: &mut Tx,
    now: i64,
) {
    let idx = tx.idx(store);
    let (ns, id) = (eval.namespace.clone(), eval.job_id.clone());
    let version = u64_field(job, "Version");
    let create_index = u64_field(job, "CreateIndex");
    let is_current =
        |a: &Allocation| a.job_version() == version && a.job_create_index() == create_index;

    // A newer version supersedes older deployments and blocked evaluations.
    let stale: Vec<String> = store
        .deployments_of_job(&ns, &id)
        .filter(|d| {
            is_active(d) && (d.job_version != version || d.job_create_index != create_index)
        })
        .map(|d| d.id.clone())
        .collect();
    for dep_id in stale {
        end_deployment(
            store,
            &dep_id,
            "cancelled",
            "Cancelled due to newer version of job",
            idx,
            now,
        );
    }
    cancel_blocked(store, &ns, &id, &eval.id, idx, now);

    // Groups that disappeared from the job: stop their allocations.
    let names: BTreeSet<&str> = jobspec::groups(job)
        .iter()
        .map(|g| str_field(g, "Name"))
        .collect();
    let orphans: Vec<String> = store
        .allocs_of_job(&ns, &id)
        .filter(|r| r.alloc.is_live() && !names.contains(r.alloc.task_group.as_str()))
        .map(|r| r.alloc.id.clone())
        .collect();
    for alloc_id in orphans {
        stop_alloc(
            store,
            &alloc_id,
            "alloc not needed due to job update",
            idx,
            now,
        );
    }

    let mut deployment = store
        .deployments_of_job(&ns, &id)
        .find(|d| is_active(d) && d.job_version == version && d.job_create_index == create_index)
        .cloned();
    let wants_deployment = jobspec::job_type(job) == "service"
        && jobspec::groups(job).iter().any(|g| {
            jobspec::group_update(g)
                .and_then(|u| u["MaxParallel"].as_i64())
                .unwrap_or(1)
                > 0
        });

    let mut used = store.cpu_used(Some((&ns, &id)))
        + store
            .allocs_of_job(&ns, &id)
            .filter(|r| r.alloc.is_live() && is_current(&r.alloc))
            .map(|r| r.alloc.resources["CPU"].as_u64().unwrap_or(0))
            .sum::<u64>();
    let mut failed_tg: Map<AllocationMetric> = Map::new();
    let mut queued: Map<i64> = Map::new();
    let mut placements: Vec<(String, u64)> = Vec::new(); // (group, name index)
    let mut in_place: Vec<(String, String)> = Vec::new(); // (group, alloc ID)

    for group in jobspec::groups(job) {
        let gname = str_field(group, "Name").to_string();
        let count = jobspec::group_count(group);
        let in_group = |a: &Allocation| a.task_group == gname;
        let mut taken: BTreeSet<u64> = store
            .allocs_of_job(&ns, &id)
            .filter(|r| {
                in_group(&r.alloc)
                    && is_current(&r.alloc)
                    && r.alloc.desired_status == "run"
                    && r.alloc.next_allocation.is_empty()
            })
            .map(|r| name_index(&r.alloc.name))
            .collect();
        let mut current = taken.len() as u64;
        // Older allocations whose change is not destructive are updated in place.
        let old: Vec<(String, Value)> = store
            .allocs_of_job(&ns, &id)
            .filter(|r| in_group(&r.alloc) && r.alloc.is_live() && !is_current(&r.alloc))
            .map(|r| (r.alloc.id.clone(), r.alloc.job.clone()))
            .collect();
        for (alloc_id, old_job) in old {
            if current >= count {
                break;
            }
            let change = diff::job_diff(Some(&old_job), job)
                .groups
                .get(&gname)
                .copied();
            if matches!(change, Some(GroupChange::InPlace | GroupChange::Unchanged)) {
                // Listed from the store just above, under the same lock.
                let Some(rec) = store.allocs.get_mut(&alloc_id) else {
                    continue;
                };
                rec.alloc.job = job.clone();
                rec.alloc.deployment_status = None;
                rec.alloc.modify_index = idx;
                rec.alloc.alloc_modify_index = idx;
                rec.alloc.modify_time = now;
                taken.insert(name_index(&rec.alloc.name));
                current += 1;
                let rec = rec.clone();
                store.put_alloc(rec);
                in_place.push((gname.clone(), alloc_id));
            }
        }
        let need = count.saturating_sub(current);
        if let Some(constraint) = unmet_constraint(job, group).filter(|_| need > 0) {
            queued.insert(gname.clone(), need as i64);
            failed_tg.insert(gname.clone(), filtered_metric(job, &constraint, need));
            continue;
        }
        let cpu = jobspec::group_cpu(group);
        let mut unplaced: u64 = 0;
        let mut next = 0;
        for _ in 0..need {
            if used + cpu <= cfg.cpu_capacity {
                used += cpu;
                while taken.contains(&next) {
                    next += 1;
                }
                taken.insert(next);
                placements.push((gname.clone(), next));
            } else {
                unplaced += 1;
            }
        }
        queued.insert(gname.clone(), unplaced as i64);
        if unplaced > 0 {
            failed_tg.insert(gname.clone(), exhausted_metric(job, group, unplaced));
        }
    }

    let needs_work = !placements.is_empty() || !in_place.is_empty() || !failed_tg.is_empty();
    if deployment.is_none() && wants_deployment && needs_work {
        deployment = Some(new_deployment(job, &eval, idx, now));
    }
    for (gname, alloc_id) in &in_place {
        if let Some(d) = deployment.as_mut() {
            attach(store, d, alloc_id, gname, now);
        }
    }
    for (gname, n) in &placements {
        // The placements are named after the job's own groups.
        let Some(group) = jobspec::groups(job)
            .iter()
            .find(|g| str_field(g, "Name") == gname)
        else {
            continue;
        };
        let rec = new_alloc(
            job,
            group,
            *n,
            &eval,
            deployment.as_ref().map(|d| d.id.as_str()),
            cfg,
            idx,
            now,
        );
        let alloc_id = rec.alloc.id.clone();
        store.put_alloc(rec);
        if let Some(d) = deployment.as_mut() {
            attach(store, d, &alloc_id, gname, now);
        }
    }
    if let Some(mut d) = deployment {
        d.modify_index = idx;
        d.modify_time = now;
        eval.deployment_id = d.id.clone();
        store.put_deployment(d);
    }

    let any_live = store.allocs_of_job(&ns, &id).any(|r| r.alloc.is_live());
    let deploying = cfg.nomad_version.running_while_deploying()
        && store.deployments_of_job(&ns, &id).any(is_active);
    let status = if any_live || deploying {
        "running"
    } else {
        "pending"
    };
    store.set_job_status(&ns, &id, status, idx);

    eval.queued_allocations = Some(queued);
    eval.snapshot_index = idx;
    if failed_tg.is_empty() {
        eval.status = "complete".into();
        eval.status_description = String::new();
        eval.failed_tg_allocs = None;
    } else if eval.status == "blocked" {
        eval.failed_tg_allocs = None;
    } else {
        eval.status = "complete".into();
        eval.failed_tg_allocs = Some(failed_tg);
        let mut blocked = blocked_eval(&eval, idx, now);
        if cfg.nomad_version.blocked_eval_has_metrics() {
            blocked.failed_tg_allocs = eval.failed_tg_allocs.clone();
        }
        eval.blocked_eval = blocked.id.clone();
        store.put_eval(blocked);
    }
    touch_eval(store, eval, idx, now);
}

/// Whether a blocked evaluation could now place at least one allocation.
pub fn blocked_can_progress(store: &Store, cfg: &Config, eval: &Evaluation) -> bool {
    let Some(rec) = store.job(&eval.namespace, &eval.job_id) else {
        return true;
    };
    if u64_field(&rec.job, "JobModifyIndex") != eval.job_modify_index
        || jobspec::is_stopped(&rec.job)
    {
        return true; // superseded: let processing cancel or complete it
    }
    let free = cfg.cpu_capacity.saturating_sub(store.cpu_used(None));
    let queued = eval.queued_allocations.clone().unwrap_or_default();
    jobspec::groups(&rec.job).iter().any(|g| {
        queued.get(str_field(g, "Name")).copied().unwrap_or(0) > 0 && jobspec::group_cpu(g) <= free
    })
}

fn attach(store: &mut Store, d: &mut Deployment, alloc_id: &str, group: &str, now: i64) {
    let Some(state) = d.task_groups.get_mut(group) else {
        return;
    };
    state.placed_allocs += 1;
    if state.require_progress_by == ZERO_TIME {
        state.require_progress_by = util::rfc3339(now + state.progress_deadline);
    }
    if let Some(rec) = store.allocs.get_mut(alloc_id) {
        rec.alloc.deployment_id = d.id.clone();
    }
}

fn cancel_blocked(store: &mut Store, ns: &str, job_id: &str, except: &str, idx: u64, now: i64) {
    let blocked: Vec<Evaluation> = store
        .evals_of_job(ns, job_id)
        .filter(|e| e.status == "blocked" && e.id != except)
        .cloned()
        .collect();
    for mut e in blocked {
        e.status = "canceled".into();
        e.status_description = "evaluation for a newer job version superseded this one".into();
        touch_eval(store, e, idx, now);
    }
}

fn touch_eval(store: &mut Store, mut eval: Evaluation, idx: u64, now: i64) {
    eval.modify_index = idx;
    eval.modify_time = now;
    store.put_eval(eval);
}

pub fn stop_alloc(store: &mut Store, alloc_id: &str, why: &str, idx: u64, now: i64) {
    let Some(mut rec) = store.allocs.get(alloc_id).cloned() else {
        return;
    };
    rec.alloc.desired_status = "stop".into();
    rec.alloc.desired_description = why.into();
    let kill_timeout = jobspec::groups(&rec.alloc.job)
        .iter()
        .filter(|g| g["Name"] == rec.alloc.task_group.as_str())
        .flat_map(|g| jobspec::tasks(g).iter())
        .filter_map(|t| t["KillTimeout"].as_i64())
        .max()
        .unwrap_or(5_000_000_000);
    if store.slow_stop && rec.alloc.client_status == "running" && rec.stop_at.is_none() {
        // The task ignores the interrupt: the client kills it at kill_timeout
        // (client/allocrunner/taskrunner: "Sent interrupt. Waiting ... before force killing").
        rec.stop_at = Some(now + kill_timeout);
        for state in rec.alloc.task_states.values_mut() {
            state.events.push(TaskEvent::new(
                "Killing",
                now,
                &format!(
                    "Sent interrupt. Waiting {} before force killing",
                    util::go_duration(kill_timeout)
                ),
            ));
        }
    } else if !rec.alloc.is_terminal() {
        finish_stop(&mut rec, now);
    }
    rec.alloc.modify_index = idx;
    rec.alloc.alloc_modify_index = idx;
    rec.alloc.modify_time = now;
    store.put_alloc(rec);
}

/// The allocation's tasks are dead: the stop is complete.
pub fn finish_stop(rec: &mut crate::store::AllocRecord, now: i64) {
    let announced = rec.stop_at.take().is_some();
    {
        rec.alloc.client_status = "complete".into();
        rec.alloc.client_description = "All tasks have completed".into();
        for state in rec.alloc.task_states.values_mut() {
            state.state = "dead".into();
            state.finished_at = util::rfc3339(now);
            if !announced {
                state.events.push(TaskEvent::new(
                    "Killing",
                    now,
                    "Sent interrupt. Waiting 5s before force killing",
                ));
            }
            state
                .events
                .push(TaskEvent::new("Killed", now, "Task successfully killed"));
        }
    }
}

pub fn end_deployment(
    store: &mut Store,
    dep_id: &str,
    status: &str,
    description: &str,
    idx: u64,
    now: i64,
) {
    let Some(mut d) = store.deployments.get(dep_id).cloned() else {
        return;
    };
    d.status = status.into();
    d.status_description = description.into();
    d.modify_index = idx;
    d.modify_time = now;
    store.put_deployment(d);
}

/// `job.group[3]` -> 3
pub fn name_index(name: &str) -> u64 {
    name.rsplit('[')
        .next()
        .and_then(|s| s.strip_suffix(']'))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
