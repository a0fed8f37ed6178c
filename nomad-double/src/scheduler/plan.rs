//! `POST /v1/job/:id/plan`: a dry run of the scheduler against the current state.

use super::build::{exhausted_metric, filtered_metric, unmet_constraint, NODE_CLASS};
use crate::api::{AllocationMetric, DesiredUpdates, Evaluation, Map};
use crate::config::Config;
use crate::diff::{self, GroupChange};
use crate::jobspec::{self, str_field, u64_field};
use crate::store::Store;
use crate::util::ZERO_TIME;
use serde_json::{json, Value};

pub fn plan(store: &Store, cfg: &Config, ns: &str, mut job: Value, want_diff: bool) -> Value {
    jobspec::canonicalize(&mut job);
    job["Namespace"] = json!(ns);
    let id = str_field(&job, "ID").to_string();
    let existing = store.job(ns, &id).map(|r| r.job.clone());
    let mut diffed = diff::job_diff(existing.as_ref(), &job);
    let changed = existing
        .as_ref()
        .is_none_or(|e| jobspec::spec_changed(e, &job));
    let stopping = jobspec::is_stopped(&job);

    let live_in = |group: &str| -> Vec<u64> {
        store
            .allocs_of_job(ns, &id)
            .filter(|r| r.alloc.is_live() && r.alloc.task_group == group)
            .map(|r| r.alloc.resources["CPU"].as_u64().unwrap_or(0))
            .collect()
    };
    let mut updates: Map<DesiredUpdates> = Map::new();
    let mut kept_cpu = 0;
    let mut to_place: Vec<(&Value, u64)> = Vec::new();
    for group in jobspec::groups(&job) {
        let name = str_field(group, "Name").to_string();
        let live = live_in(&name);
        let count = if stopping {
            0
        } else {
            jobspec::group_count(group)
        };
        let kept = (live.len() as u64).min(count);
        let mut u = DesiredUpdates {
            place: count - kept,
            stop: live.len() as u64 - kept,
            ..DesiredUpdates::default()
        };
        let change = diffed
            .groups
            .get(&name)
            .copied()
            .unwrap_or(GroupChange::Unchanged);
        match change {
            GroupChange::Destructive => u.destructive_update = kept,
            _ if changed => u.in_place_update = kept,
            _ => u.ignore = kept,
        }
        if change != GroupChange::Destructive {
            kept_cpu += live.iter().take(kept as usize).sum::<u64>();
        }
        to_place.push((group, u.place + u.destructive_update));
        updates.insert(name, u);
    }
    if let Some(old) = &existing {
        for group in jobspec::groups(old) {
            let name = str_field(group, "Name").to_string();
            updates
                .entry(name.clone())
                .or_insert_with(|| DesiredUpdates {
                    stop: live_in(&name).len() as u64,
                    ..DesiredUpdates::default()
                });
        }
    }

    let mut used = store.cpu_used(Some((ns, &id))) + kept_cpu;
    let mut failed: Map<AllocationMetric> = Map::new();
    for (group, n) in to_place {
        if let Some(constraint) = unmet_constraint(&job, group).filter(|_| n > 0) {
            failed.insert(
                str_field(group, "Name").to_string(),
                filtered_metric(&job, &constraint, n),
            );
            continue;
        }
        let cpu = jobspec::group_cpu(group);
        let mut unplaced = 0;
        for _ in 0..n {
            if used + cpu <= cfg.cpu_capacity {
                used += cpu;
            } else {
                unplaced += 1;
            }
        }
        if unplaced > 0 {
            failed.insert(
                str_field(group, "Name").to_string(),
                exhausted_metric(&job, group, unplaced),
            );
        }
    }

    if let Some(tgs) = diffed.diff.task_groups.as_mut() {
        for tg in tgs {
            if let Some(u) = updates.get(&tg.name) {
                tg.updates = Some(update_counts(u));
            }
        }
    }
    let created_evals = (!failed.is_empty()).then(|| {
        vec![Evaluation {
            namespace: ns.to_string(),
            priority: job["Priority"].as_i64().unwrap_or(50),
            r#type: jobspec::job_type(&job).to_string(),
            triggered_by: "queued-allocs".into(),
            job_id: id.clone(),
            status: "blocked".into(),
            status_description: "created to place remaining allocations".into(),
            wait_until: ZERO_TIME.into(),
            class_eligibility: Some(Map::from([(format!("v1:{NODE_CLASS}"), true)])),
            ..Evaluation::default()
        }]
    });
    json!({
        "Annotations": {"DesiredTGUpdates": updates, "PreemptedAllocs": null},
        "FailedTGAllocs": if failed.is_empty() { Value::Null } else { json!(failed) },
        "JobModifyIndex": existing.as_ref().map_or(0, |e| u64_field(e, "JobModifyIndex")),
        "CreatedEvals": created_evals,
        "Diff": if want_diff { json!(diffed.diff) } else { Value::Null },
        "NextPeriodicLaunch": ZERO_TIME,
        "Warnings": "",
        "Index": store.index,
    })
}

fn update_counts(u: &DesiredUpdates) -> Map<u64> {
    [
        ("ignore", u.ignore),
        ("create", u.place),
        ("destroy", u.stop),
        ("migrate", u.migrate),
        ("canary", u.canary),
        ("in-place update", u.in_place_update),
        ("create/destroy update", u.destructive_update),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(k, n)| (k.to_string(), n))
    .collect()
}
