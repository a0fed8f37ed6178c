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
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocDeploymentStatus {
    #[serde(default)]
    pub healthy: Option<bool>,
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
