//! Nomad API objects, with the field names of the official spec (PascalCase, Go names).
//!
//! Maps and slices that Go leaves nil are `Option`s serialized as `null`, as Nomad does.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub type Map<T> = BTreeMap<String, T>;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Evaluation {
    #[serde(rename = "ID")]
    pub id: String,
    pub namespace: String,
    pub priority: i64,
    pub r#type: String,
    pub triggered_by: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub job_modify_index: u64,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_modify_index: u64,
    #[serde(rename = "DeploymentID")]
    pub deployment_id: String,
    pub status: String,
    pub status_description: String,
    pub wait: i64,
    pub wait_until: String,
    pub next_eval: String,
    pub previous_eval: String,
    pub blocked_eval: String,
    pub related_evals: Option<Vec<Value>>,
    #[serde(rename = "FailedTGAllocs")]
    pub failed_tg_allocs: Option<Map<AllocationMetric>>,
    pub class_eligibility: Option<Map<bool>>,
    pub escaped_computed_class: bool,
    pub quota_limit_reached: String,
    pub annotate_plan: bool,
    pub queued_allocations: Option<Map<i64>>,
    pub snapshot_index: u64,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocationMetric {
    pub nodes_evaluated: i64,
    pub nodes_filtered: i64,
    pub nodes_in_pool: i64,
    pub node_pool: String,
    pub nodes_available: Option<Map<i64>>,
    pub class_filtered: Option<Map<i64>>,
    pub constraint_filtered: Option<Map<i64>>,
    pub nodes_exhausted: i64,
    pub class_exhausted: Option<Map<i64>>,
    pub dimension_exhausted: Option<Map<i64>>,
    pub quota_exhausted: Option<Vec<String>>,
    pub resources_exhausted: Option<Map<Value>>,
    pub scores: Option<Map<f64>>,
    pub score_meta_data: Option<Vec<Value>>,
    pub allocation_time: i64,
    pub coalesced_failures: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Deployment {
    #[serde(rename = "ID")]
    pub id: String,
    pub namespace: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub job_version: u64,
    pub job_modify_index: u64,
    pub job_spec_modify_index: u64,
    pub job_create_index: u64,
    pub is_multiregion: bool,
    pub task_groups: Map<DeploymentState>,
    pub status: String,
    pub status_description: String,
    pub eval_priority: i64,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentState {
    pub auto_revert: bool,
    pub auto_promote: bool,
    pub progress_deadline: i64,
    pub require_progress_by: String,
    pub promoted: bool,
    pub placed_canaries: Option<Vec<String>>,
    pub desired_canaries: i64,
    pub desired_total: i64,
    pub placed_allocs: i64,
    pub healthy_allocs: i64,
    pub unhealthy_allocs: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocDeploymentStatus {
    pub healthy: Option<bool>,
    pub timestamp: String,
    pub canary: bool,
    pub modify_index: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskState {
    pub state: String,
    pub failed: bool,
    pub restarts: u64,
    pub last_restart: String,
    pub started_at: String,
    pub finished_at: String,
    pub events: Vec<TaskEvent>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskEvent {
    pub r#type: String,
    pub time: i64,
    pub display_message: String,
    pub details: Map<String>,
    pub message: String,
    pub fails_task: bool,
    pub restart_reason: String,
    pub setup_error: String,
    pub driver_error: String,
    pub driver_message: String,
    pub exit_code: i64,
    pub signal: i64,
    pub kill_reason: String,
    pub kill_timeout: i64,
    pub kill_error: String,
    pub start_delay: i64,
    pub download_error: String,
    pub validation_error: String,
    pub disk_limit: i64,
    pub disk_size: i64,
    pub failed_sibling: String,
    pub vault_error: String,
    pub task_signal_reason: String,
    pub task_signal: String,
    pub generic_source: String,
}

impl TaskEvent {
    pub fn new(kind: &str, time: i64, message: &str) -> TaskEvent {
        TaskEvent {
            r#type: kind.to_string(),
            time,
            display_message: message.to_string(),
            ..TaskEvent::default()
        }
    }
}

/// The full allocation (GET /v1/allocation/:id). List endpoints render [`AllocationListStub`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Allocation {
    #[serde(rename = "ID")]
    pub id: String,
    pub namespace: String,
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub name: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub node_name: String,
    #[serde(rename = "JobID")]
    pub job_id: String,
    pub job: Value,
    pub task_group: String,
    pub resources: Value,
    pub task_resources: Value,
    pub allocated_resources: Value,
    pub services: Option<Map<String>>,
    pub metrics: AllocationMetric,
    pub desired_status: String,
    pub desired_description: String,
    pub desired_transition: Value,
    pub client_status: String,
    pub client_description: String,
    pub task_states: Map<TaskState>,
    #[serde(rename = "DeploymentID")]
    pub deployment_id: String,
    pub deployment_status: Option<AllocDeploymentStatus>,
    pub reschedule_tracker: Option<Value>,
    pub network_status: Option<Value>,
    #[serde(rename = "FollowupEvalID")]
    pub followup_eval_id: String,
    pub previous_allocation: String,
    pub next_allocation: String,
    pub preempted_allocations: Option<Vec<String>>,
    pub preempted_by_allocation: String,
    pub create_index: u64,
    pub modify_index: u64,
    pub alloc_modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocationListStub<'a> {
    #[serde(rename = "ID")]
    pub id: &'a str,
    #[serde(rename = "EvalID")]
    pub eval_id: &'a str,
    pub name: &'a str,
    pub namespace: &'a str,
    #[serde(rename = "NodeID")]
    pub node_id: &'a str,
    pub node_name: &'a str,
    #[serde(rename = "JobID")]
    pub job_id: &'a str,
    pub job_type: &'a str,
    pub job_version: u64,
    pub task_group: &'a str,
    pub allocated_resources: Option<&'a Value>,
    pub desired_status: &'a str,
    pub desired_description: &'a str,
    pub client_status: &'a str,
    pub client_description: &'a str,
    pub task_states: &'a Map<TaskState>,
    pub deployment_status: &'a Option<AllocDeploymentStatus>,
    #[serde(rename = "FollowupEvalID")]
    pub followup_eval_id: &'a str,
    pub next_allocation: &'a str,
    pub reschedule_tracker: &'a Option<Value>,
    pub preempted_allocations: &'a Option<Vec<String>>,
    pub preempted_by_allocation: &'a str,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

impl Allocation {
    pub fn job_version(&self) -> u64 {
        self.job.get("Version").and_then(Value::as_u64).unwrap_or(0)
    }

    pub fn job_create_index(&self) -> u64 {
        self.job
            .get("CreateIndex")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    pub fn stub(&self) -> AllocationListStub<'_> {
        AllocationListStub {
            id: &self.id,
            eval_id: &self.eval_id,
            name: &self.name,
            namespace: &self.namespace,
            node_id: &self.node_id,
            node_name: &self.node_name,
            job_id: &self.job_id,
            job_type: self
                .job
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or("service"),
            job_version: self.job_version(),
            task_group: &self.task_group,
            allocated_resources: None,
            desired_status: &self.desired_status,
            desired_description: &self.desired_description,
            client_status: &self.client_status,
            client_description: &self.client_description,
            task_states: &self.task_states,
            deployment_status: &self.deployment_status,
            followup_eval_id: &self.followup_eval_id,
            next_allocation: &self.next_allocation,
            reschedule_tracker: &self.reschedule_tracker,
            preempted_allocations: &self.preempted_allocations,
            preempted_by_allocation: &self.preempted_by_allocation,
            create_index: self.create_index,
            modify_index: self.modify_index,
            create_time: self.create_time,
            modify_time: self.modify_time,
        }
    }

    /// Placed and not yet terminal: it holds resources on the node.
    pub fn is_live(&self) -> bool {
        self.desired_status == "run" && matches!(self.client_status.as_str(), "pending" | "running")
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self.client_status.as_str(), "complete" | "failed" | "lost")
    }
}

/// The write response for register, revert and deregister.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobRegisterResponse {
    #[serde(rename = "EvalID")]
    pub eval_id: String,
    pub eval_create_index: u64,
    pub job_modify_index: u64,
    /// Register and revert answer with `Warnings`; deregister does not have the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<String>,
    pub index: u64,
    pub last_index: u64,
    pub last_contact: i64,
    pub known_leader: bool,
    pub next_token: String,
    pub request_time: i64,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DesiredUpdates {
    pub ignore: u64,
    pub place: u64,
    pub migrate: u64,
    pub stop: u64,
    pub in_place_update: u64,
    pub destructive_update: u64,
    pub canary: u64,
    pub preemptions: u64,
    pub disconnect: u64,
    pub reconnect: u64,
    pub reschedule_now: u64,
    pub reschedule_later: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FieldDiff {
    pub r#type: String,
    pub name: String,
    pub old: String,
    pub new: String,
    pub annotations: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectDiff {
    pub r#type: String,
    pub name: String,
    pub fields: Option<Vec<FieldDiff>>,
    pub objects: Option<Vec<ObjectDiff>>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskDiff {
    pub r#type: String,
    pub name: String,
    pub fields: Option<Vec<FieldDiff>>,
    pub objects: Option<Vec<ObjectDiff>>,
    pub annotations: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskGroupDiff {
    pub r#type: String,
    pub name: String,
    pub fields: Option<Vec<FieldDiff>>,
    pub objects: Option<Vec<ObjectDiff>>,
    pub tasks: Option<Vec<TaskDiff>>,
    pub updates: Option<Map<u64>>,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobDiff {
    pub r#type: String,
    #[serde(rename = "ID")]
    pub id: String,
    pub fields: Option<Vec<FieldDiff>>,
    pub objects: Option<Vec<ObjectDiff>>,
    pub task_groups: Option<Vec<TaskGroupDiff>>,
}
