//! The parts of Nomad's API objects csi decodes, with the field names and JSON types of
//! the official spec. Everything else in a response is ignored (and kept, where csi
//! must send an object back, as raw JSON).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobRegisterResponse {
    #[serde(rename = "EvalID", default)]
    pub eval_id: String,
    #[serde(default)]
    pub job_modify_index: u64,
    #[serde(default)]
    pub warnings: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobPlanResponse {
    #[serde(default)]
    pub job_modify_index: u64,
    #[serde(default)]
    pub diff: Option<JobDiff>,
    #[serde(rename = "FailedTGAllocs", default)]
    pub failed_tg_allocs: Option<BTreeMap<String, AllocationMetric>>,
    #[serde(default)]
    pub warnings: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobDiff {
    #[serde(rename = "Type", default)]
    pub kind: String,
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(default)]
    pub fields: Option<Vec<FieldDiff>>,
    #[serde(default)]
    pub objects: Option<Vec<ObjectDiff>>,
    #[serde(default)]
    pub task_groups: Option<Vec<TaskGroupDiff>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskGroupDiff {
    #[serde(rename = "Type", default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub fields: Option<Vec<FieldDiff>>,
    #[serde(default)]
    pub objects: Option<Vec<ObjectDiff>>,
    #[serde(default)]
    pub tasks: Option<Vec<TaskDiff>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskDiff {
    #[serde(rename = "Type", default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub fields: Option<Vec<FieldDiff>>,
    #[serde(default)]
    pub objects: Option<Vec<ObjectDiff>>,
    #[serde(default)]
    pub annotations: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectDiff {
    #[serde(rename = "Type", default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub fields: Option<Vec<FieldDiff>>,
    #[serde(default)]
    pub objects: Option<Vec<ObjectDiff>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FieldDiff {
    #[serde(rename = "Type", default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub old: String,
    #[serde(default)]
    pub new: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocationMetric {
    #[serde(default)]
    pub nodes_evaluated: i64,
    #[serde(default)]
    pub nodes_exhausted: i64,
    #[serde(default)]
    pub dimension_exhausted: Option<BTreeMap<String, i64>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Evaluation {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub status_description: String,
    #[serde(rename = "DeploymentID", default)]
    pub deployment_id: String,
    #[serde(default)]
    pub blocked_eval: String,
    #[serde(rename = "FailedTGAllocs", default)]
    pub failed_tg_allocs: Option<BTreeMap<String, AllocationMetric>>,
    #[serde(rename = "JobID", default)]
    pub job_id: String,
    #[serde(default)]
    pub triggered_by: String,
    #[serde(default)]
    pub create_index: u64,
}

impl Evaluation {
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "complete" | "failed" | "canceled")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Deployment {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "JobID", default)]
    pub job_id: String,
    #[serde(default)]
    pub job_version: u64,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub status_description: String,
    #[serde(default)]
    pub task_groups: Option<BTreeMap<String, DeploymentState>>,
    #[serde(default)]
    pub create_index: u64,
    #[serde(default)]
    pub modify_index: u64,
}

impl Deployment {
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "successful" | "failed" | "cancelled")
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentState {
    #[serde(default)]
    pub desired_total: i64,
    #[serde(default)]
    pub placed_allocs: i64,
    #[serde(default)]
    pub healthy_allocs: i64,
    #[serde(default)]
    pub unhealthy_allocs: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocationListStub {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(default)]
    pub task_group: String,
    #[serde(default)]
    pub job_version: u64,
    #[serde(default)]
    pub client_status: String,
    #[serde(default)]
    pub desired_status: String,
    #[serde(default)]
    pub deployment_status: Option<AllocDeploymentStatus>,
    #[serde(default)]
    pub task_states: Option<BTreeMap<String, TaskState>>,
}

impl AllocationListStub {
    /// Stopped or finished: its tasks no longer run (a stop is complete only then).
    pub fn is_terminal(&self) -> bool {
        matches!(self.client_status.as_str(), "complete" | "failed" | "lost")
    }

    /// Running and reported healthy by its deployment (every service job has one:
    /// without an `update` block Nomad applies its default strategy).
    pub fn is_healthy(&self) -> bool {
        self.client_status == "running"
            && self
                .deployment_status
                .as_ref()
                .is_some_and(|d| d.healthy == Some(true))
    }

    /// A task whose image the registry says does not exist: docker's "manifest ...
    /// not found" or "pull access denied" behind the driver's "Failed to pull". Nomad
    /// treats it as recoverable (drivers/docker `recoverablePullError` spares only
    /// "Error: image ... not found") and restarts after the policy's delay (a minute
    /// for some services), but no restart will find the image: it decides at once.
    pub fn unpullable_image(&self) -> Option<String> {
        self.task_states.iter().flatten().find_map(|(task, state)| {
            state.events.iter().flatten().find_map(|e| {
                let message = &e.display_message;
                let missing = [
                    "not found",
                    "manifest unknown",
                    "pull access denied",
                    "does not exist",
                ]
                .iter()
                .any(|m| message.contains(m));
                (e.kind == "Driver Failure" && message.contains("Failed to pull") && missing)
                    .then(|| format!("{task}: {message}"))
            })
        })
    }

    /// The most restarts of any of its tasks, and the task's latest failure message.
    pub fn restarts(&self) -> (u64, String) {
        self.task_states
            .iter()
            .flatten()
            .map(|(task, state)| {
                let why = state
                    .events
                    .iter()
                    .flatten()
                    .rev()
                    .find(|e| !e.display_message.is_empty() && e.kind != "Restarting")
                    .map(|e| format!("{task}: {}", e.display_message))
                    .unwrap_or_else(|| task.clone());
                (state.restarts, why)
            })
            .max_by_key(|(restarts, _)| *restarts)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskState {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub failed: bool,
    #[serde(default)]
    pub restarts: u64,
    #[serde(default)]
    pub events: Option<Vec<TaskEvent>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskEvent {
    #[serde(rename = "Type", default)]
    pub kind: String,
    #[serde(default)]
    pub display_message: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocDeploymentStatus {
    #[serde(default)]
    pub healthy: Option<bool>,
}

/// The answer to `/v1/deployment/fail/:id`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentUpdateResponse {
    #[serde(rename = "EvalID", default)]
    pub eval_id: String,
    /// Set when Nomad rolled the job back itself (the group's `auto_revert`).
    #[serde(default)]
    pub reverted_job_version: Option<u64>,
}

/// `GET /v1/agent/self`: only the version.
#[derive(Debug, Clone, Deserialize)]
pub struct AgentSelf {
    #[serde(default)]
    pub config: Option<AgentConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentConfig {
    #[serde(default)]
    pub version: Option<AgentVersion>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentVersion {
    #[serde(default)]
    pub version: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobVersionsResponse {
    #[serde(default)]
    pub versions: Vec<Value>,
}

/// The few fields csi reads from a full job; the rest travels as raw JSON.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JobHeader {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(default)]
    pub version: u64,
    #[serde(default)]
    pub stable: bool,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub stop: bool,
    #[serde(default)]
    pub job_modify_index: u64,
    #[serde(default)]
    pub task_groups: Option<Vec<TaskGroupHeader>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskGroupHeader {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub tasks: Option<Vec<TaskHeader>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskHeader {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub config: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub resources: Option<Resources>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resources {
    #[serde(rename = "CPU", default)]
    pub cpu: Option<i64>,
    #[serde(rename = "MemoryMB", default)]
    pub memory_mb: Option<i64>,
}

impl JobHeader {
    /// Every task's image, as `(group, task, image)`.
    pub fn images(&self) -> Vec<(String, String, String)> {
        let mut images = Vec::new();
        for group in self.task_groups.iter().flatten() {
            for task in group.tasks.iter().flatten() {
                let image = task
                    .config
                    .as_ref()
                    .and_then(|c| c.get("image"))
                    .and_then(Value::as_str);
                if let Some(image) = image {
                    images.push((group.name.clone(), task.name.clone(), image.to_owned()));
                }
            }
        }
        images
    }
}

#[cfg(test)]
mod tests {
    use super::AllocationListStub;

    fn alloc_with_event(kind: &str, message: &str) -> AllocationListStub {
        serde_json::from_value(serde_json::json!({
            "ID": "3d773f5e-0000",
            "ClientStatus": "pending",
            "TaskStates": { "monitor": { "State": "pending", "Restarts": 1, "Events": [
                { "Type": kind, "DisplayMessage": message },
                { "Type": "Restarting", "DisplayMessage": "Task restarting in 1m0s" }
            ] } }
        }))
        .unwrap()
    }

    #[test]
    fn an_image_the_registry_does_not_have_decides_at_once() {
        let missing = alloc_with_event(
            "Driver Failure",
            "Failed to pull `registry/cosims/monitor:git-baadf00d`: API error (404): manifest for registry/cosims/monitor:git-baadf00d not found: manifest unknown",
        );
        let why = missing
            .unpullable_image()
            .expect("a missing image is decisive");
        assert!(why.starts_with("monitor: Failed to pull"), "{why}");
        let denied = alloc_with_event(
            "Driver Failure",
            "Failed to pull `cosims/monitor:x`: pull access denied for cosims/monitor, repository does not exist or may require 'docker login'",
        );
        assert!(denied.unpullable_image().is_some());
    }

    #[test]
    fn a_transient_pull_error_or_a_crash_is_left_to_the_restart_budget() {
        let timeout = alloc_with_event(
            "Driver Failure",
            "Failed to pull `cosims/monitor:x`: net/http: TLS handshake timeout",
        );
        assert_eq!(timeout.unpullable_image(), None);
        let crash = alloc_with_event("Terminated", "Exit Code: 1, Exit Message: \"not found\"");
        assert_eq!(crash.unpullable_image(), None);
    }
}
