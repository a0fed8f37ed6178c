//! Construction of the objects the scheduler creates: deployments, allocations on the one
//! simulated node, blocked evaluations, and placement-failure metrics.

use crate::api::{
    Allocation, AllocationMetric, Deployment, DeploymentState, Evaluation, Map, TaskEvent,
    TaskState,
};
use crate::config::Config;
use crate::jobspec::{self, str_field, u64_field};
use crate::store::AllocRecord;
use crate::util::{self, ZERO_TIME};
use serde_json::{json, Value};

pub const NODE_ID: &str = "f2b5c3a1-7d4e-4c8b-9a61-3e0d5b7c9f10";
pub const NODE_NAME: &str = "nomad-double-client";
pub const NODE_CLASS: &str = "orchestrator";

pub fn new_deployment(job: &Value, eval: &Evaluation, idx: u64, now: i64) -> Deployment {
    let mut groups = Map::new();
    for g in jobspec::groups(job) {
        let u = jobspec::group_update(g);
        let get = |k: &str| u.and_then(|u| u.get(k)).cloned().unwrap_or(Value::Null);
        if get("MaxParallel").as_i64().unwrap_or(1) == 0 {
            continue;
        }
        groups.insert(
            str_field(g, "Name").to_string(),
            DeploymentState {
                auto_revert: get("AutoRevert").as_bool().unwrap_or(false),
                auto_promote: get("AutoPromote").as_bool().unwrap_or(false),
                progress_deadline: get("ProgressDeadline").as_i64().unwrap_or(600_000_000_000),
                require_progress_by: ZERO_TIME.to_string(),
                promoted: false,
                placed_canaries: None,
                desired_canaries: 0,
                desired_total: jobspec::group_count(g) as i64,
                ..DeploymentState::default()
            },
        );
    }
    Deployment {
        id: util::uuid(),
        namespace: eval.namespace.clone(),
        job_id: eval.job_id.clone(),
        job_version: u64_field(job, "Version"),
        job_modify_index: u64_field(job, "ModifyIndex"),
        job_spec_modify_index: u64_field(job, "JobModifyIndex"),
        job_create_index: u64_field(job, "CreateIndex"),
        is_multiregion: false,
        task_groups: groups,
        status: "running".into(),
        status_description: "Deployment is running".into(),
        eval_priority: eval.priority,
        create_index: idx,
        modify_index: idx,
        create_time: now,
        modify_time: now,
    }
}

#[allow(clippy::too_many_arguments)]
pub fn new_alloc(
    job: &Value,
    group: &Value,
    n: u64,
    eval: &Evaluation,
    deployment: Option<&str>,
    cfg: &Config,
    idx: u64,
    now: i64,
) -> AllocRecord {
    let gname = str_field(group, "Name");
    let jid = str_field(job, "ID");
    let mut task_states = Map::new();
    let mut task_resources = serde_json::Map::new();
    let mut allocated = serde_json::Map::new();
    let mut will_fail = false;
    for t in jobspec::tasks(group) {
        let name = str_field(t, "Name").to_string();
        let cpu = t["Resources"]["CPU"].as_u64().unwrap_or(100);
        let mem = t["Resources"]["MemoryMB"].as_u64().unwrap_or(300);
        if let Some(p) = cfg.fail_image_pattern.as_deref().filter(|p| !p.is_empty()) {
            will_fail |= jobspec::task_image(t).contains(p);
        }
        task_states.insert(
            name.clone(),
            TaskState {
                state: "pending".into(),
                last_restart: ZERO_TIME.into(),
                started_at: ZERO_TIME.into(),
                finished_at: ZERO_TIME.into(),
                events: vec![TaskEvent::new("Received", now, "Task received by client")],
                ..TaskState::default()
            },
        );
        task_resources.insert(
            name.clone(),
            json!({"CPU": cpu, "Cores": 0, "MemoryMB": mem, "MemoryMaxMB": 0, "DiskMB": 0, "Networks": null}),
        );
        allocated.insert(name, json!({"Cpu": {"CpuShares": cpu}, "Memory": {"MemoryMB": mem, "MemoryMaxMB": 0}, "Networks": null}));
    }
    let alloc = Allocation {
        id: util::uuid(),
        namespace: eval.namespace.clone(),
        eval_id: eval.id.clone(),
        name: format!("{jid}.{gname}[{n}]"),
        node_id: NODE_ID.into(),
        node_name: NODE_NAME.into(),
        job_id: jid.to_string(),
        job: job.clone(),
        task_group: gname.to_string(),
        resources: json!({
            "CPU": jobspec::group_cpu(group), "Cores": 0, "MemoryMB": jobspec::group_memory(group),
            "MemoryMaxMB": 0, "DiskMB": 300, "Networks": null,
        }),
        task_resources: Value::Object(task_resources),
        allocated_resources: json!({"Tasks": allocated, "Shared": {"DiskMB": 300, "Networks": null}}),
        services: None,
        metrics: AllocationMetric {
            nodes_evaluated: 1,
            nodes_in_pool: 1,
            node_pool: "default".into(),
            nodes_available: Some(datacenters(job)),
            allocation_time: 120_000,
            ..AllocationMetric::default()
        },
        desired_status: "run".into(),
        desired_transition: json!({"Migrate": null, "Reschedule": null, "ForceReschedule": null, "NoShutdownDelay": null}),
        client_status: "pending".into(),
        client_description: "No tasks have started".into(),
        task_states,
        deployment_id: deployment.unwrap_or("").to_string(),
        create_index: idx,
        modify_index: idx,
        alloc_modify_index: idx,
        create_time: now,
        modify_time: now,
        ..Allocation::default()
    };
    AllocRecord {
        alloc,
        will_fail,
        next_at: None,
        stop_at: None,
    }
}

fn datacenters(job: &Value) -> Map<i64> {
    let dc = job["Datacenters"]
        .as_array()
        .and_then(|d| d.first())
        .and_then(Value::as_str)
        .filter(|d| *d != "*")
        .unwrap_or("dc1");
    Map::from([(dc.to_string(), 1)])
}

/// The first `${node.class}` constraint (job, group or task level) the one node fails.
/// Other constraints are taken as satisfied.
pub fn unmet_constraint(job: &Value, group: &Value) -> Option<String> {
    let lists = [job.get("Constraints"), group.get("Constraints")]
        .into_iter()
        .chain(jobspec::tasks(group).iter().map(|t| t.get("Constraints")));
    for c in lists.flatten().filter_map(Value::as_array).flatten() {
        let (l, op, r) = (
            str_field(c, "LTarget"),
            str_field(c, "Operand"),
            str_field(c, "RTarget"),
        );
        if l != "${node.class}" {
            continue;
        }
        let ok = match op {
            "=" | "==" | "is" => r == NODE_CLASS,
            "!=" | "not" => r != NODE_CLASS,
            _ => true,
        };
        if !ok {
            return Some(format!("{l} {op} {r}"));
        }
    }
    None
}

/// The metric of a group whose constraints filtered out the one node.
pub fn filtered_metric(job: &Value, constraint: &str, unplaced: u64) -> AllocationMetric {
    AllocationMetric {
        nodes_evaluated: 1,
        nodes_filtered: 1,
        nodes_in_pool: 1,
        node_pool: "default".into(),
        nodes_available: Some(datacenters(job)),
        class_filtered: Some(Map::from([(NODE_CLASS.to_string(), 1)])),
        constraint_filtered: Some(Map::from([(constraint.to_string(), 1)])),
        allocation_time: 40_000,
        coalesced_failures: unplaced as i64 - 1,
        ..AllocationMetric::default()
    }
}

/// The metric of a group that did not fit: CPU exhausted on the one node.
pub fn exhausted_metric(job: &Value, group: &Value, unplaced: u64) -> AllocationMetric {
    let resources = jobspec::tasks(group)
        .iter()
        .map(|t| {
            (
                str_field(t, "Name").to_string(),
                json!({
                    "CPU": t["Resources"]["CPU"], "Cores": 0, "MemoryMB": t["Resources"]["MemoryMB"],
                    "MemoryMaxMB": 0, "DiskMB": 0,
                }),
            )
        })
        .collect();
    AllocationMetric {
        nodes_evaluated: 1,
        nodes_filtered: 0,
        nodes_in_pool: 1,
        node_pool: "default".into(),
        nodes_available: Some(datacenters(job)),
        class_filtered: None,
        constraint_filtered: None,
        nodes_exhausted: 1,
        class_exhausted: Some(Map::from([(NODE_CLASS.to_string(), 1)])),
        dimension_exhausted: Some(Map::from([("cpu".to_string(), 1)])),
        quota_exhausted: None,
        resources_exhausted: Some(resources),
        scores: None,
        score_meta_data: None,
        allocation_time: 95_000,
        coalesced_failures: unplaced as i64 - 1,
    }
}

pub fn blocked_eval(parent: &Evaluation, idx: u64, now: i64) -> Evaluation {
    Evaluation {
        id: util::uuid(),
        namespace: parent.namespace.clone(),
        priority: parent.priority,
        r#type: parent.r#type.clone(),
        triggered_by: "queued-allocs".into(),
        job_id: parent.job_id.clone(),
        job_modify_index: parent.job_modify_index,
        status: "blocked".into(),
        status_description: "created to place remaining allocations".into(),
        wait_until: ZERO_TIME.into(),
        previous_eval: parent.id.clone(),
        class_eligibility: Some(Map::from([(format!("v1:{NODE_CLASS}"), true)])),
        queued_allocations: parent.queued_allocations.clone(),
        snapshot_index: idx,
        create_index: idx,
        modify_index: idx,
        create_time: now,
        modify_time: now,
        ..Evaluation::default()
    }
}
