//! The Nomad endpoints csi calls, with blocking queries for watching, retries with
//! backoff and jitter for idempotent calls, and errors that say which call failed and why.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::api::*;
use super::version::NomadVersion;
use super::NomadClient;

const RETRIES: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum NomadError {
    #[error("cannot reach Nomad at {address} ({call}): {detail}")]
    Unreachable {
        address: String,
        call: String,
        detail: String,
    },
    #[error("Nomad refused {call}: 403 {body} (check NOMAD_TOKEN or nomad.token_file: the token must allow submit-job and read-job in this namespace)")]
    Forbidden { call: String, body: String },
    #[error("{call}: the job was changed by someone else since csi read it ({body}); nothing was overwritten")]
    Conflict { call: String, body: String },
    #[error("Nomad answered {status} to {call}: {body}")]
    Status {
        call: String,
        status: u16,
        body: String,
    },
    #[error("unexpected answer from Nomad to {call}: {detail}")]
    Decode { call: String, detail: String },
}

/// A read answer with the index to block on next.
pub struct Indexed<T> {
    pub value: T,
    pub index: u64,
}

impl NomadClient {
    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<Indexed<T>, NomadError> {
        let call = format!("{method} {path}");
        let mut attempt = 0;
        loop {
            let mut request = self.request(method.clone(), path).query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            let retry = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let index = response
                        .headers()
                        .get("X-Nomad-Index")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let text = response.text().await.unwrap_or_default();
                    if status.is_success() {
                        let value =
                            serde_json::from_str(&text).map_err(|e| NomadError::Decode {
                                call: call.clone(),
                                detail: e.to_string(),
                            })?;
                        return Ok(Indexed { value, index });
                    }
                    let error = classify(&call, status.as_u16(), text.trim());
                    if !(idempotent && status.is_server_error()) {
                        return Err(error);
                    }
                    error
                }
                Err(e) => {
                    let detail = root_cause(&e);
                    // A TLS setting the operator must change: no use retrying.
                    let advice = super::client::tls::advice(&detail);
                    let error = NomadError::Unreachable {
                        address: self.address().to_owned(),
                        call: call.clone(),
                        detail: match advice {
                            Some(advice) => format!("{detail}; {advice}"),
                            None => detail,
                        },
                    };
                    if !idempotent || advice.is_some() {
                        return Err(error);
                    }
                    error
                }
            };
            attempt += 1;
            if attempt > RETRIES {
                return Err(retry);
            }
            tracing::debug!("retrying {call} after: {retry}");
            tokio::time::sleep(crate::backoff::delay(FIRST_BACKOFF, attempt)).await;
        }
    }

    async fn read<T: DeserializeOwned>(&self, path: &str) -> Result<Indexed<T>, NomadError> {
        self.call(reqwest::Method::GET, path, &[], None, true).await
    }

    /// A read that blocks until the answer's index passes `index` (or `wait` elapses).
    async fn read_blocking<T: DeserializeOwned>(
        &self,
        path: &str,
        index: u64,
        wait: Duration,
    ) -> Result<Indexed<T>, NomadError> {
        self.call(
            reqwest::Method::GET,
            path,
            &blocking(index, wait),
            None,
            true,
        )
        .await
    }

    /// `POST /v1/jobs/parse`: the job file's HCL to the API's JSON job. `hcl_v1` asks
    /// for the HCL1 parser (Nomad before 1.9) for files a strict HCL2 parser rejects.
    pub async fn parse_job(&self, hcl: &str, hcl_v1: bool) -> Result<Value, NomadError> {
        let mut body = json!({ "JobHCL": hcl, "Canonicalize": true });
        if hcl_v1 {
            body["HCLv1"] = json!(true);
        }
        Ok(self
            .call(
                reqwest::Method::POST,
                "/v1/jobs/parse",
                &[],
                Some(&body),
                true,
            )
            .await?
            .value)
    }

    /// `POST /v1/job/:id/plan` with the diff.
    pub async fn plan_job(&self, job_id: &str, job: &Value) -> Result<JobPlanResponse, NomadError> {
        let body = json!({ "Job": job, "Diff": true });
        let path = format!("/v1/job/{job_id}/plan");
        Ok(self
            .call(reqwest::Method::POST, &path, &[], Some(&body), true)
            .await?
            .value)
    }

    /// `POST /v1/job/:id` with EnforceIndex: registers only if the job is still at
    /// `job_modify_index` (0: only if it does not exist). Never retried.
    pub async fn register_enforced(
        &self,
        job_id: &str,
        job: &Value,
        job_modify_index: u64,
        source: Option<&str>,
    ) -> Result<JobRegisterResponse, NomadError> {
        let mut body = json!({
            "Job": job,
            "EnforceIndex": true,
            "JobModifyIndex": job_modify_index,
        });
        if let Some(source) = source {
            body["Submission"] = json!({ "Source": source, "Format": "hcl2" });
        }
        let path = format!("/v1/job/{job_id}");
        Ok(self
            .call(reqwest::Method::POST, &path, &[], Some(&body), false)
            .await?
            .value)
    }

    /// `GET /v1/job/:id` as a header and the raw job; None when Nomad has no such job.
    pub async fn job(&self, job_id: &str) -> Result<Option<(JobHeader, Value)>, NomadError> {
        let path = format!("/v1/job/{job_id}");
        match self
            .call::<Value>(reqwest::Method::GET, &path, &[], None, true)
            .await
        {
            Ok(found) => {
                let header = serde_json::from_value(found.value.clone()).map_err(|e| {
                    NomadError::Decode {
                        call: format!("GET {path}"),
                        detail: e.to_string(),
                    }
                })?;
                Ok(Some((header, found.value)))
            }
            Err(NomadError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn job_versions(&self, job_id: &str) -> Result<Vec<JobHeader>, NomadError> {
        let path = format!("/v1/job/{job_id}/versions");
        let response: JobVersionsResponse = self
            .call(reqwest::Method::GET, &path, &[], None, true)
            .await?
            .value;
        response
            .versions
            .into_iter()
            .map(|v| {
                serde_json::from_value(v).map_err(|e| NomadError::Decode {
                    call: format!("GET {path}"),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// `POST /v1/job/:id/revert` to `version`, only if the job is still at `current`.
    pub async fn revert_job(
        &self,
        job_id: &str,
        version: u64,
        current: u64,
    ) -> Result<JobRegisterResponse, NomadError> {
        let body =
            json!({ "JobID": job_id, "JobVersion": version, "EnforcePriorVersion": current });
        let path = format!("/v1/job/{job_id}/revert");
        Ok(self
            .call(reqwest::Method::POST, &path, &[], Some(&body), false)
            .await?
            .value)
    }

    /// `GET /v1/evaluation/:id`, blocking until its index passes `index`.
    pub async fn evaluation(
        &self,
        eval_id: &str,
        index: u64,
        wait: Duration,
    ) -> Result<Indexed<Evaluation>, NomadError> {
        let path = format!("/v1/evaluation/{eval_id}");
        self.read_blocking(&path, index, wait).await
    }

    pub async fn job_evaluations(&self, job_id: &str) -> Result<Vec<Evaluation>, NomadError> {
        let path = format!("/v1/job/{job_id}/evaluations");
        Ok(self.read(&path).await?.value)
    }

    /// `GET /v1/deployment/:id`, blocking until its index passes `index`.
    pub async fn deployment(
        &self,
        id: &str,
        index: u64,
        wait: Duration,
    ) -> Result<Indexed<Deployment>, NomadError> {
        let path = format!("/v1/deployment/{id}");
        self.read_blocking(&path, index, wait).await
    }

    /// `GET /v1/job/:id/deployment`: the latest deployment, or None.
    pub async fn latest_deployment(
        &self,
        job_id: &str,
        index: u64,
        wait: Duration,
    ) -> Result<Indexed<Option<Deployment>>, NomadError> {
        let path = format!("/v1/job/{job_id}/deployment");
        self.read_blocking(&path, index, wait).await
    }

    pub async fn job_allocations(
        &self,
        job_id: &str,
        index: u64,
        wait: Duration,
    ) -> Result<Indexed<Vec<AllocationListStub>>, NomadError> {
        let path = format!("/v1/job/{job_id}/allocations");
        self.read_blocking(&path, index, wait).await
    }
}

impl NomadClient {
    /// The address of the cluster's leader (`/v1/status/leader`); no leader is an error.
    /// Asked once, not retried: callers poll it (the wait after a start) or show it
    /// within a time limit (status).
    pub async fn leader(&self) -> anyhow::Result<String> {
        let leader: String = self
            .call(reqwest::Method::GET, "/v1/status/leader", &[], None, false)
            .await?
            .value;
        if leader.is_empty() {
            anyhow::bail!("Nomad at {} has no leader", self.address());
        }
        Ok(leader)
    }

    /// The version of the agent csi talks to (`/v1/agent/self` `config.Version`).
    pub async fn agent_version(&self) -> Result<NomadVersion, NomadError> {
        let call = "GET /v1/agent/self";
        let me: AgentSelf = self.read("/v1/agent/self").await?.value;
        let text = me
            .config
            .and_then(|c| c.version)
            .map(|v| v.version)
            .unwrap_or_default();
        NomadVersion::parse(&text).ok_or_else(|| NomadError::Decode {
            call: call.into(),
            detail: format!("no Nomad version in the answer (got {text:?})"),
        })
    }

    /// `PUT /v1/deployment/fail/:id`: Nomad fails it, and reverts the job itself when
    /// the group has `auto_revert` (the answer's `RevertedJobVersion`). Never retried.
    pub async fn fail_deployment(&self, id: &str) -> Result<DeploymentUpdateResponse, NomadError> {
        let path = format!("/v1/deployment/fail/{id}");
        let body = json!({ "DeploymentID": id });
        Ok(self
            .call(reqwest::Method::PUT, &path, &[], Some(&body), false)
            .await?
            .value)
    }

    pub async fn job_deployments(&self, job_id: &str) -> Result<Vec<Deployment>, NomadError> {
        let path = format!("/v1/job/{job_id}/deployments");
        Ok(self.read(&path).await?.value)
    }

    /// `GET /v1/deployment/allocations/:id`, blocking until its index passes `index`.
    pub async fn deployment_allocations(
        &self,
        id: &str,
        index: u64,
        wait: Duration,
    ) -> Result<Indexed<Vec<AllocationListStub>>, NomadError> {
        let path = format!("/v1/deployment/allocations/{id}");
        self.read_blocking(&path, index, wait).await
    }

    /// `DELETE /v1/job/:id` (not purged: it can be brought back). Not retried: a
    /// refused stop stops the operation that needed it (the services are brought back).
    pub async fn stop_job(&self, job_id: &str) -> Result<JobRegisterResponse, NomadError> {
        let path = format!("/v1/job/{job_id}");
        Ok(self
            .call(reqwest::Method::DELETE, &path, &[], None, false)
            .await?
            .value)
    }

    /// `POST /v1/jobs` without EnforceIndex, to bring back a job csi stopped (the same
    /// definition registered twice makes no new version, so it is retried).
    pub async fn register_job(&self, job: &Value) -> Result<JobRegisterResponse, NomadError> {
        let body = json!({ "Job": job });
        Ok(self
            .call(reqwest::Method::POST, "/v1/jobs", &[], Some(&body), true)
            .await?
            .value)
    }
}

fn blocking(index: u64, wait: Duration) -> Vec<(&'static str, String)> {
    if index == 0 {
        return Vec::new();
    }
    vec![
        ("index", index.to_string()),
        ("wait", format!("{}ms", wait.as_millis())),
    ]
}

/// Nomad's texts for "someone changed the job since you read it": EnforceIndex on
/// register (nomad/job_endpoint.go "Enforcing job modify index") and
/// EnforcePriorVersion on revert ("Current job has version N; enforcing version M").
/// Matched anywhere in the body, as the nomad CLI does: through a client agent or a
/// non-leader server the text comes after `rpc error: `.
const CONFLICT_TEXTS: &[&str] = &["Enforcing job modify index", "enforcing version"];

fn classify(call: &str, status: u16, body: &str) -> NomadError {
    let call = call.to_owned();
    let body = body.to_owned();
    match status {
        403 => NomadError::Forbidden { call, body },
        _ if CONFLICT_TEXTS.iter().any(|t| body.contains(t)) => NomadError::Conflict { call, body },
        _ => NomadError::Status { call, status, body },
    }
}

fn root_cause(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    if error.is_timeout() {
        format!("timed out ({source})")
    } else {
        source.to_string()
    }
}
