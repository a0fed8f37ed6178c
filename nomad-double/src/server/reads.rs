//! Read endpoints. Every one answers with index headers and supports blocking queries.

use super::http::{block, json_reply, Params, Reply};
use crate::api::{AllocationListStub, Deployment, Evaluation};
use crate::app::App;
use crate::diff;
use crate::jobspec::{self, str_field, u64_field};
use crate::store::{ApiError, Store};
use axum::extract::{Path, Query, State};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

type Q = Query<HashMap<String, String>>;
type S = State<Arc<App>>;

pub async fn leader() -> Reply {
    Ok(json_reply(0, &"127.0.0.1:4647", false))
}

pub async fn peers() -> Reply {
    Ok(json_reply(0, &["127.0.0.1:4647"], false))
}

pub async fn agent_self(State(app): S, Query(q): Q) -> Reply {
    let version = app.config.nomad_version.to_string();
    let body = json!({
        "config": {
            "Region": "global", "Datacenter": "dc1", "NodeName": "nomad-double",
            "Version": {"Version": version, "VersionPrerelease": "", "VersionMetadata": "", "Revision": "nomad-double"},
            "ACL": {"Enabled": app.config.token.is_some()},
            "Server": {"Enabled": true}, "Client": {"Enabled": true},
        },
        "member": {
            "Name": "nomad-double.global", "Addr": "127.0.0.1", "Port": 4648, "Status": "alive",
            "Tags": {"region": "global", "dc": "dc1", "role": "nomad", "build": version},
        },
        "stats": {"nomad": {"leader": "true", "server": "true"}},
    });
    Ok(json_reply(0, &body, Params(q).pretty()))
}

fn ns_matches(filter: &str, ns: &str) -> bool {
    filter == "*" || filter == ns
}

pub async fn list_jobs(State(app): S, Query(q): Q) -> Reply {
    let p = Params(q);
    block(&app, &p, |s| s.tables.jobs).await?;
    let ns = p.namespace();
    let prefix = p.get("prefix").unwrap_or("").to_string();
    let with_meta = p.flag("meta")?;
    let store = app.lock();
    let stubs: Vec<Value> = store
        .jobs
        .iter()
        .filter(|(n, _)| ns_matches(&ns, n))
        .flat_map(|(_, jobs)| jobs.values())
        .filter(|r| str_field(&r.job, "ID").starts_with(&prefix))
        .map(|r| {
            let mut stub = job_stub(&store, &r.job);
            if with_meta {
                stub["Meta"] = r.job["Meta"].clone();
            }
            stub
        })
        .collect();
    Ok(json_reply(store.tables.jobs, &stubs, p.pretty()))
}

fn job_stub(store: &Store, job: &Value) -> Value {
    json!({
        "ID": job["ID"], "ParentID": job["ParentID"], "Name": job["Name"],
        "Namespace": job["Namespace"], "Datacenters": job["Datacenters"], "NodePool": job["NodePool"],
        "Multiregion": null, "Type": job["Type"], "Priority": job["Priority"],
        "Periodic": job["Periodic"].is_object(), "ParameterizedJob": job["ParameterizedJob"].is_object(),
        "Stop": job["Stop"], "Status": job["Status"], "StatusDescription": job["StatusDescription"],
        "JobSummary": summary(store, job),
        "CreateIndex": job["CreateIndex"], "ModifyIndex": job["ModifyIndex"],
        "JobModifyIndex": job["JobModifyIndex"], "SubmitTime": job["SubmitTime"],
    })
}

fn summary(store: &Store, job: &Value) -> Value {
    let (ns, id) = (str_field(job, "Namespace"), str_field(job, "ID"));
    let create_index = u64_field(job, "CreateIndex");
    let blocked: HashMap<String, i64> = store
        .evals_of_job(ns, id)
        .filter(|e| e.status == "blocked")
        .flat_map(|e| e.queued_allocations.clone().unwrap_or_default())
        .collect();
    let mut groups = serde_json::Map::new();
    for g in jobspec::groups(job) {
        let name = str_field(g, "Name");
        let mut counts = [0i64; 5]; // starting, running, failed, complete, lost
        for r in store.allocs_of_job(ns, id) {
            if r.alloc.task_group != name || r.alloc.job_create_index() != create_index {
                continue;
            }
            let slot = match r.alloc.client_status.as_str() {
                "pending" => 0,
                "running" => 1,
                "failed" => 2,
                "complete" => 3,
                _ => 4,
            };
            counts[slot] += 1;
        }
        groups.insert(
            name.to_string(),
            json!({
                "Queued": blocked.get(name).copied().unwrap_or(0), "Starting": counts[0],
                "Running": counts[1], "Failed": counts[2], "Complete": counts[3], "Lost": counts[4],
                "Unknown": 0,
            }),
        );
    }
    json!({
        "JobID": id, "Namespace": ns, "Summary": groups,
        "Children": {"Pending": 0, "Running": 0, "Dead": 0},
        "CreateIndex": job["CreateIndex"], "ModifyIndex": store.tables.allocs.max(u64_field(job, "ModifyIndex")),
    })
}

fn job_index(s: &Store, ns: &str, id: &str) -> u64 {
    s.job(ns, id)
        .map_or(s.tables.jobs, |r| u64_field(&r.job, "ModifyIndex"))
}

pub async fn get_job(State(app): S, Path(id): Path<String>, Query(q): Q) -> Reply {
    let p = Params(q);
    let ns = p.namespace();
    block(&app, &p, |s| job_index(s, &ns, &id)).await?;
    let store = app.lock();
    let rec = store
        .job(&ns, &id)
        .ok_or_else(|| ApiError::new(404, "job not found"))?;
    Ok(json_reply(
        u64_field(&rec.job, "ModifyIndex"),
        &rec.job,
        p.pretty(),
    ))
}

pub async fn job_summary(State(app): S, Path(id): Path<String>, Query(q): Q) -> Reply {
    let p = Params(q);
    let ns = p.namespace();
    block(&app, &p, |s| s.tables.allocs.max(job_index(s, &ns, &id))).await?;
    let store = app.lock();
    let rec = store
        .job(&ns, &id)
        .ok_or_else(|| ApiError::new(404, "job not found"))?;
    let body = summary(&store, &rec.job);
    Ok(json_reply(
        u64_field(&body, "ModifyIndex"),
        &body,
        p.pretty(),
    ))
}

pub async fn job_versions(State(app): S, Path(id): Path<String>, Query(q): Q) -> Reply {
    let p = Params(q);
    let ns = p.namespace();
    let with_diffs = p.flag("diffs")?;
    block(&app, &p, |s| job_index(s, &ns, &id)).await?;
    let store = app.lock();
    let rec = store
        .job(&ns, &id)
        .ok_or_else(|| ApiError::new(404, "job versions not found"))?;
    let diffs = with_diffs.then(|| {
        rec.versions
            .windows(2)
            .map(|w| json!(diff::job_diff(Some(&w[1]), &w[0]).diff))
            .collect::<Vec<_>>()
    });
    let index = u64_field(&rec.job, "ModifyIndex");
    let body = json!({
        "Versions": rec.versions, "Diffs": diffs,
        "Index": index, "LastIndex": index, "LastContact": 0, "KnownLeader": true,
        "NextToken": "", "RequestTime": 0,
    });
    Ok(json_reply(index, &body, p.pretty()))
}

pub async fn job_allocations(State(app): S, Path(id): Path<String>, Query(q): Q) -> Reply {
    let p = Params(q);
    let ns = p.namespace();
    let all = p.flag("all")?;
    block(&app, &p, |s| s.tables.allocs).await?;
    let store = app.lock();
    let incarnation = store
        .job(&ns, &id)
        .map(|r| u64_field(&r.job, "CreateIndex"));
    let mut allocs: Vec<_> = store
        .allocs_of_job(&ns, &id)
        .filter(|r| all || incarnation.is_none_or(|ci| r.alloc.job_create_index() == ci))
        .map(|r| &r.alloc)
        .collect();
    allocs.sort_by_key(|a| std::cmp::Reverse(a.create_index));
    let stubs: Vec<AllocationListStub> = allocs.iter().map(|a| a.stub()).collect();
    Ok(json_reply(store.tables.allocs, &stubs, p.pretty()))
}

fn newest_first<'a, T: 'a>(
    items: impl Iterator<Item = &'a T>,
    key: impl Fn(&T) -> u64,
) -> Vec<&'a T> {
    let mut v: Vec<&T> = items.collect();
    v.sort_by_key(|x| std::cmp::Reverse(key(x)));
    v
}

pub async fn job_evaluations(State(app): S, Path(id): Path<String>, Query(q): Q) -> Reply {
    let p = Params(q);
    let ns = p.namespace();
    block(&app, &p, |s| s.tables.evals).await?;
    let store = app.lock();
    let evals = newest_first(store.evals_of_job(&ns, &id), |e: &Evaluation| {
        e.create_index
    });
    Ok(json_reply(store.tables.evals, &evals, p.pretty()))
}

pub async fn job_deployments(State(app): S, Path(id): Path<String>, Query(q): Q) -> Reply {
    let p = Params(q);
    let ns = p.namespace();
    let all = p.flag("all")?;
    block(&app, &p, |s| s.tables.deployments).await?;
    let store = app.lock();
    let incarnation = store
        .job(&ns, &id)
        .map(|r| u64_field(&r.job, "CreateIndex"));
    let deps = newest_first(
        store
            .deployments_of_job(&ns, &id)
            .filter(|d| all || incarnation.is_none_or(|ci| d.job_create_index == ci)),
        |d: &Deployment| d.create_index,
    );
    Ok(json_reply(store.tables.deployments, &deps, p.pretty()))
}

pub async fn job_latest_deployment(State(app): S, Path(id): Path<String>, Query(q): Q) -> Reply {
    let p = Params(q);
    let ns = p.namespace();
    block(&app, &p, |s| s.tables.deployments).await?;
    let store = app.lock();
    let latest = store.latest_deployment(&ns, &id);
    Ok(json_reply(store.tables.deployments, &latest, p.pretty()))
}

pub async fn deployment(State(app): S, Path(id): Path<String>, Query(q): Q) -> Reply {
    let p = Params(q);
    block(&app, &p, |s| {
        s.deployments
            .get(&id)
            .map_or(s.tables.deployments, |d| d.modify_index)
    })
    .await?;
    let store = app.lock();
    let d = store
        .deployments
        .get(&id)
        .ok_or_else(|| ApiError::new(404, "deployment not found"))?;
    Ok(json_reply(d.modify_index, d, p.pretty()))
}

pub async fn deployment_allocations(State(app): S, Path(id): Path<String>, Query(q): Q) -> Reply {
    let p = Params(q);
    block(&app, &p, |s| s.tables.allocs).await?;
    let store = app.lock();
    let stubs: Vec<AllocationListStub> = store
        .allocs
        .values()
        .filter(|r| r.alloc.deployment_id == id)
        .map(|r| r.alloc.stub())
        .collect();
    Ok(json_reply(store.tables.allocs, &stubs, p.pretty()))
}

pub async fn deployments(State(app): S, Query(q): Q) -> Reply {
    let p = Params(q);
    let ns = p.namespace();
    let prefix = p.get("prefix").unwrap_or("").to_string();
    block(&app, &p, |s| s.tables.deployments).await?;
    let store = app.lock();
    let deps = newest_first(
        store
            .deployments
            .values()
            .filter(|d| ns_matches(&ns, &d.namespace) && d.id.starts_with(&prefix)),
        |d: &Deployment| d.create_index,
    );
    Ok(json_reply(store.tables.deployments, &deps, p.pretty()))
}

pub async fn evaluation(State(app): S, Path(id): Path<String>, Query(q): Q) -> Reply {
    let p = Params(q);
    let related = p.flag("related")?;
    block(&app, &p, |s| {
        s.evals.get(&id).map_or(s.tables.evals, |e| e.modify_index)
    })
    .await?;
    let store = app.lock();
    let mut eval = store
        .evals
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::new(404, "eval not found"))?;
    if related {
        let stubs = store
            .evals_of_job(&eval.namespace, &eval.job_id)
            .filter(|e| e.id != eval.id)
            .map(eval_stub)
            .collect();
        eval.related_evals = Some(stubs);
    }
    Ok(json_reply(eval.modify_index, &eval, p.pretty()))
}

fn eval_stub(e: &Evaluation) -> Value {
    json!({
        "ID": e.id, "Namespace": e.namespace, "Priority": e.priority, "Type": e.r#type,
        "TriggeredBy": e.triggered_by, "JobID": e.job_id, "NodeID": e.node_id,
        "DeploymentID": e.deployment_id, "Status": e.status, "StatusDescription": e.status_description,
        "WaitUntil": e.wait_until, "NextEval": e.next_eval, "PreviousEval": e.previous_eval,
        "BlockedEval": e.blocked_eval, "CreateIndex": e.create_index, "ModifyIndex": e.modify_index,
        "CreateTime": e.create_time, "ModifyTime": e.modify_time,
    })
}

pub async fn evaluation_allocations(State(app): S, Path(id): Path<String>, Query(q): Q) -> Reply {
    let p = Params(q);
    block(&app, &p, |s| s.tables.allocs).await?;
    let store = app.lock();
    let stubs: Vec<AllocationListStub> = store
        .allocs
        .values()
        .filter(|r| r.alloc.eval_id == id)
        .map(|r| r.alloc.stub())
        .collect();
    Ok(json_reply(store.tables.allocs, &stubs, p.pretty()))
}

pub async fn evaluations(State(app): S, Query(q): Q) -> Reply {
    let p = Params(q);
    let ns = p.namespace();
    let prefix = p.get("prefix").unwrap_or("").to_string();
    let job = p.get("job").unwrap_or("").to_string();
    let status = p.get("status").unwrap_or("").to_string();
    block(&app, &p, |s| s.tables.evals).await?;
    let store = app.lock();
    let evals = newest_first(
        store.evals.values().filter(|e| {
            ns_matches(&ns, &e.namespace)
                && e.id.starts_with(&prefix)
                && (job.is_empty() || e.job_id == job)
                && (status.is_empty() || e.status == status)
        }),
        |e: &Evaluation| e.create_index,
    );
    Ok(json_reply(store.tables.evals, &evals, p.pretty()))
}

pub async fn allocation(State(app): S, Path(id): Path<String>, Query(q): Q) -> Reply {
    let p = Params(q);
    block(&app, &p, |s| {
        s.allocs
            .get(&id)
            .map_or(s.tables.allocs, |r| r.alloc.modify_index)
    })
    .await?;
    let store = app.lock();
    let rec = store
        .allocs
        .get(&id)
        .ok_or_else(|| ApiError::new(404, "alloc not found"))?;
    Ok(json_reply(rec.alloc.modify_index, &rec.alloc, p.pretty()))
}

pub async fn allocations(State(app): S, Query(q): Q) -> Reply {
    let p = Params(q);
    let ns = p.namespace();
    let prefix = p.get("prefix").unwrap_or("").to_string();
    block(&app, &p, |s| s.tables.allocs).await?;
    let store = app.lock();
    let stubs: Vec<AllocationListStub> = newest_first(
        store
            .allocs
            .values()
            .map(|r| &r.alloc)
            .filter(|a| ns_matches(&ns, &a.namespace) && a.id.starts_with(&prefix)),
        |a| a.create_index,
    )
    .into_iter()
    .map(|a| a.stub())
    .collect();
    Ok(json_reply(store.tables.allocs, &stubs, p.pretty()))
}
