//! The in-memory state: jobs with their versions, evaluations, allocations, deployments,
//! and a single raft-like index shared by every write.

mod persist;
mod register;

pub use persist::{load, save};
pub use register::{Deregistered, RegisterOpts};

use crate::api::{Allocation, Deployment, Evaluation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Nomad keeps this many versions of a job (`job_tracked_versions`).
pub const TRACKED_VERSIONS: usize = 6;

#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
pub struct Tables {
    pub jobs: u64,
    pub evals: u64,
    pub allocs: u64,
    pub deployments: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobRecord {
    /// The current job, as GET /v1/job/:id returns it.
    pub job: Value,
    /// Tracked versions, newest first.
    pub versions: Vec<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AllocRecord {
    pub alloc: Allocation,
    /// Decided at placement: a task image matched the failure pattern.
    pub will_fail: bool,
    /// A failing allocation's next step (Unix ns): its task's next attempt (restart
    /// policy delay) while pending, its replacement (reschedule delay) once failed.
    #[serde(default)]
    pub next_at: Option<i64>,
    /// A stop that takes the task's kill_timeout (`--slow-stop`) completes then.
    #[serde(default)]
    pub stop_at: Option<i64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Store {
    pub index: u64,
    pub tables: Tables,
    /// namespace -> job ID -> record
    pub jobs: BTreeMap<String, BTreeMap<String, JobRecord>>,
    pub evals: BTreeMap<String, Evaluation>,
    pub allocs: BTreeMap<String, AllocRecord>,
    pub deployments: BTreeMap<String, Deployment>,
    /// `--slow-stop`: stops take the task's kill_timeout (not persisted: a setting).
    #[serde(skip)]
    pub slow_stop: bool,
}

/// A write the server refused; the message is Nomad's plain-text body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl Store {
    pub fn new() -> Store {
        Store {
            index: 1,
            ..Store::default()
        }
    }

    /// Starts a new write and returns its index.
    pub fn bump(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    pub fn job(&self, ns: &str, id: &str) -> Option<&JobRecord> {
        self.jobs.get(ns).and_then(|m| m.get(id))
    }

    pub fn job_mut(&mut self, ns: &str, id: &str) -> Option<&mut JobRecord> {
        self.jobs.get_mut(ns).and_then(|m| m.get_mut(id))
    }

    pub fn put_eval(&mut self, eval: Evaluation) {
        self.tables.evals = self.tables.evals.max(eval.modify_index);
        self.evals.insert(eval.id.clone(), eval);
    }

    pub fn put_alloc(&mut self, rec: AllocRecord) {
        self.tables.allocs = self.tables.allocs.max(rec.alloc.modify_index);
        self.allocs.insert(rec.alloc.id.clone(), rec);
    }

    pub fn put_deployment(&mut self, d: Deployment) {
        self.tables.deployments = self.tables.deployments.max(d.modify_index);
        self.deployments.insert(d.id.clone(), d);
    }

    /// Sets a job's status fields, bumping its ModifyIndex (not its JobModifyIndex).
    pub fn set_job_status(&mut self, ns: &str, id: &str, status: &str, idx: u64) {
        let Some(rec) = self.job_mut(ns, id) else {
            return;
        };
        if rec.job["Status"] == status {
            return;
        }
        rec.job["Status"] = status.into();
        rec.job["ModifyIndex"] = idx.into();
        self.tables.jobs = self.tables.jobs.max(idx);
    }

    /// Marks a version stable (or not); the current job too when it is that version.
    pub fn set_stable(&mut self, ns: &str, id: &str, version: u64, stable: bool, idx: u64) -> bool {
        let Some(rec) = self.job_mut(ns, id) else {
            return false;
        };
        let mut found = false;
        for v in rec.versions.iter_mut().filter(|v| v["Version"] == version) {
            v["Stable"] = stable.into();
            v["ModifyIndex"] = idx.into();
            found = true;
        }
        if rec.job["Version"] == version {
            rec.job["Stable"] = stable.into();
            rec.job["ModifyIndex"] = idx.into();
        }
        if found {
            self.tables.jobs = self.tables.jobs.max(idx);
        }
        found
    }

    pub fn allocs_of_job<'a>(
        &'a self,
        ns: &'a str,
        id: &'a str,
    ) -> impl Iterator<Item = &'a AllocRecord> + 'a {
        self.allocs
            .values()
            .filter(move |r| r.alloc.namespace == ns && r.alloc.job_id == id)
    }

    pub fn evals_of_job<'a>(
        &'a self,
        ns: &'a str,
        id: &'a str,
    ) -> impl Iterator<Item = &'a Evaluation> + 'a {
        self.evals
            .values()
            .filter(move |e| e.namespace == ns && e.job_id == id)
    }

    pub fn deployments_of_job<'a>(
        &'a self,
        ns: &'a str,
        id: &'a str,
    ) -> impl Iterator<Item = &'a Deployment> + 'a {
        self.deployments
            .values()
            .filter(move |d| d.namespace == ns && d.job_id == id)
    }

    /// The newest deployment of the current incarnation of the job, if any.
    pub fn latest_deployment(&self, ns: &str, id: &str) -> Option<&Deployment> {
        let create_index = self.job(ns, id)?.job["CreateIndex"].as_u64()?;
        self.deployments
            .values()
            .filter(|d| d.namespace == ns && d.job_id == id && d.job_create_index == create_index)
            .max_by_key(|d| d.create_index)
    }

    /// CPU (MHz) held by live allocations, optionally leaving one job out.
    pub fn cpu_used(&self, except: Option<(&str, &str)>) -> u64 {
        self.allocs
            .values()
            .filter(|r| r.alloc.is_live())
            .filter(|r| {
                except.is_none_or(|(ns, id)| !(r.alloc.namespace == ns && r.alloc.job_id == id))
            })
            .map(|r| r.alloc.resources["CPU"].as_u64().unwrap_or(0))
            .sum()
    }
}
