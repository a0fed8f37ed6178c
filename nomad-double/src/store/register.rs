//! Job writes: register (with EnforceIndex), revert, stop/purge, stability.

use super::{ApiError, JobRecord, Store, TRACKED_VERSIONS};
use crate::api::{Evaluation, JobRegisterResponse};
use crate::jobspec::{self, str_field, u64_field};
use serde_json::{json, Value};

#[derive(Debug, Clone, Default)]
pub struct RegisterOpts {
    pub enforce_index: bool,
    pub job_modify_index: u64,
    pub preserve_counts: bool,
    pub eval_priority: i64,
    /// `job-register` for API writes, `deployment-watcher` for auto-reverts.
    pub triggered_by: &'static str,
}

pub struct Deregistered {
    pub eval_id: String,
    pub index: u64,
}

impl Store {
    /// Registers a job in a namespace. `job` is the request's `Job` object.
    pub fn register(
        &mut self,
        ns: &str,
        mut job: Value,
        opts: &RegisterOpts,
        now: i64,
    ) -> Result<JobRegisterResponse, ApiError> {
        jobspec::canonicalize(&mut job);
        job["Namespace"] = json!(ns);
        if matches!(str_field(&job, "Region"), "" | "global") {
            job["Region"] = json!("global");
        }
        jobspec::validate(&job).map_err(|m| ApiError::new(500, m))?;
        let id = str_field(&job, "ID").to_string();
        let existing = self.job(ns, &id).map(|r| r.job.clone());
        if opts.enforce_index {
            check_index(existing.as_ref(), opts.job_modify_index)?;
        }
        if opts.preserve_counts {
            preserve_counts(existing.as_ref(), &mut job);
        }
        let changed = existing
            .as_ref()
            .is_none_or(|e| jobspec::spec_changed(e, &job));
        let idx = self.bump();
        let job_modify_index = if changed {
            self.store_version(ns, &id, existing.as_ref(), job, idx, now);
            idx
        } else {
            existing.as_ref().map_or(0, |e| u64_field(e, "ModifyIndex"))
        };
        let current = self.job(ns, &id).map(|r| r.job.clone()).unwrap_or_default();
        let eval_id = if jobspec::is_template_job(&current) {
            String::new()
        } else {
            self.create_eval(&current, opts.triggered_by, opts.eval_priority, idx, now)
        };
        Ok(JobRegisterResponse {
            eval_id: eval_id.clone(),
            eval_create_index: if eval_id.is_empty() { 0 } else { idx },
            job_modify_index,
            warnings: Some(String::new()),
            index: idx,
            last_index: idx,
            known_leader: true,
            ..JobRegisterResponse::default()
        })
    }

    fn store_version(
        &mut self,
        ns: &str,
        id: &str,
        existing: Option<&Value>,
        mut job: Value,
        idx: u64,
        now: i64,
    ) {
        let version = existing.map_or(0, |e| u64_field(e, "Version") + 1);
        let create_index = existing.map_or(idx, |e| u64_field(e, "CreateIndex"));
        job["Version"] = json!(version);
        job["CreateIndex"] = json!(create_index);
        job["ModifyIndex"] = json!(idx);
        job["JobModifyIndex"] = json!(idx);
        job["SubmitTime"] = json!(now);
        job["Stable"] = json!(false);
        job["StatusDescription"] = json!("");
        // A purged job's allocations (an older incarnation) are not this job's.
        let live = self
            .allocs_of_job(ns, id)
            .any(|r| r.alloc.is_live() && r.alloc.job_create_index() == create_index);
        job["Status"] = json!(if jobspec::is_template_job(&job) || live {
            "running"
        } else {
            "pending"
        });
        let rec = self
            .jobs
            .entry(ns.to_string())
            .or_default()
            .entry(id.to_string())
            .or_insert_with(|| JobRecord {
                job: Value::Null,
                versions: Vec::new(),
            });
        if existing.is_none() {
            rec.versions.clear();
        }
        rec.versions.insert(0, job.clone());
        rec.versions.truncate(TRACKED_VERSIONS);
        rec.job = job;
        self.tables.jobs = self.tables.jobs.max(idx);
    }

    pub(crate) fn create_eval(
        &mut self,
        job: &Value,
        triggered_by: &str,
        priority: i64,
        idx: u64,
        now: i64,
    ) -> String {
        let priority = if priority > 0 {
            priority
        } else {
            job["Priority"].as_i64().unwrap_or(50)
        };
        let eval = Evaluation {
            id: crate::util::uuid(),
            namespace: str_field(job, "Namespace").to_string(),
            priority,
            r#type: jobspec::job_type(job).to_string(),
            triggered_by: if triggered_by.is_empty() {
                "job-register"
            } else {
                triggered_by
            }
            .to_string(),
            job_id: str_field(job, "ID").to_string(),
            job_modify_index: u64_field(job, "JobModifyIndex"),
            status: "pending".to_string(),
            wait_until: crate::util::ZERO_TIME.to_string(),
            create_index: idx,
            modify_index: idx,
            create_time: now,
            modify_time: now,
            ..Evaluation::default()
        };
        let id = eval.id.clone();
        self.put_eval(eval);
        id
    }

    /// POST /v1/job/:id/revert.
    pub fn revert(
        &mut self,
        ns: &str,
        id: &str,
        version: u64,
        enforce_prior: Option<u64>,
        now: i64,
    ) -> Result<JobRegisterResponse, ApiError> {
        let rec = self
            .job(ns, id)
            .ok_or_else(|| ApiError::new(500, format!("job {id:?} not found")))?;
        let current = u64_field(&rec.job, "Version");
        if let Some(prior) = enforce_prior {
            if prior != current {
                return Err(ApiError::new(
                    500,
                    format!("Current job has version {current}; enforcing version {prior}"),
                ));
            }
        }
        if version == current {
            return Err(ApiError::new(500, "can't revert to current version"));
        }
        let target = rec
            .versions
            .iter()
            .find(|v| u64_field(v, "Version") == version)
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    500,
                    format!("job {id:?} in namespace {ns:?} at version {version} not found"),
                )
            })?;
        let opts = RegisterOpts {
            enforce_index: enforce_prior.is_some(),
            job_modify_index: u64_field(&rec.job, "JobModifyIndex"),
            triggered_by: "job-register",
            ..RegisterOpts::default()
        };
        self.register(ns, jobspec::spec(&target), &opts, now)
    }

    /// DELETE /v1/job/:id: stop (a new version with Stop=true) or purge.
    pub fn deregister(&mut self, ns: &str, id: &str, purge: bool, now: i64) -> Deregistered {
        let Some(rec) = self.job(ns, id) else {
            return Deregistered {
                eval_id: String::new(),
                index: self.bump(),
            };
        };
        let job = rec.job.clone();
        let idx = self.bump();
        if purge {
            if let Some(m) = self.jobs.get_mut(ns) {
                m.remove(id);
            }
            self.tables.jobs = idx;
        } else if !jobspec::is_stopped(&job) {
            let mut stopped = job.clone();
            stopped["Stop"] = json!(true);
            self.store_version(ns, id, Some(&job), stopped, idx, now);
        }
        let eval_id = if jobspec::is_template_job(&job) {
            String::new()
        } else {
            self.create_eval(&job, "job-deregister", 0, idx, now)
        };
        Deregistered {
            eval_id,
            index: idx,
        }
    }
}

fn check_index(existing: Option<&Value>, want: u64) -> Result<(), ApiError> {
    let prefix = format!("Enforcing job modify index {want}");
    match (existing, want) {
        (Some(_), 0) => Err(ApiError::new(500, format!("{prefix}: job already exists"))),
        (None, 0) => Ok(()),
        (None, _) => Err(ApiError::new(500, format!("{prefix}: job does not exist"))),
        (Some(job), _) => {
            let have = u64_field(job, "JobModifyIndex");
            if have == want {
                Ok(())
            } else {
                Err(ApiError::new(
                    500,
                    format!("{prefix}: job exists with conflicting job modify index: {have}"),
                ))
            }
        }
    }
}

fn preserve_counts(existing: Option<&Value>, job: &mut Value) {
    let Some(old) = existing else { return };
    if let Some(groups) = job.get_mut("TaskGroups").and_then(Value::as_array_mut) {
        for g in groups {
            let name = str_field(g, "Name").to_string();
            if let Some(og) = jobspec::groups(old)
                .iter()
                .find(|og| str_field(og, "Name") == name)
            {
                g["Count"] = og["Count"].clone();
            }
        }
    }
}
