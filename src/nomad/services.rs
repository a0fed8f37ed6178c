//! Stopping the orchestrator services around an operation that needs them quiet (a
//! database restore), and bringing back exactly those that were running.

use anyhow::Context as _;
use serde_json::Value;

use super::NomadClient;
use crate::settings::Service;

/// A service csi stopped, with the job definition to bring it back.
#[derive(Debug, Clone)]
pub struct StoppedService {
    pub name: String,
    pub job_id: String,
    job: Value,
}

impl NomadClient {
    /// The job's full definition, or None when Nomad has no such job.
    pub async fn read_job(&self, job_id: &str) -> anyhow::Result<Option<Value>> {
        let path = format!("/v1/job/{job_id}");
        let response = self
            .request(reqwest::Method::GET, &path)
            .send()
            .await
            .with_context(|| format!("cannot reach Nomad at {}", self.address()))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = checked(response, &path).await?;
        Ok(Some(
            response
                .json()
                .await
                .with_context(|| format!("decoding {path}"))?,
        ))
    }

    /// Stops the job (`DELETE /v1/job/:id`, not purged: it can be brought back).
    pub async fn stop_job(&self, job_id: &str) -> anyhow::Result<()> {
        let path = format!("/v1/job/{job_id}");
        let response = self
            .request(reqwest::Method::DELETE, &path)
            .send()
            .await
            .with_context(|| format!("cannot reach Nomad at {}", self.address()))?;
        checked(response, &path).await?;
        Ok(())
    }

    /// Registers a job definition (`POST /v1/jobs`).
    pub async fn register_job(&self, job: &Value) -> anyhow::Result<Value> {
        let path = "/v1/jobs";
        let response = self
            .request(reqwest::Method::POST, path)
            .json(&serde_json::json!({ "Job": job }))
            .send()
            .await
            .with_context(|| format!("cannot reach Nomad at {}", self.address()))?;
        let response = checked(response, path).await?;
        response
            .json()
            .await
            .context("decoding the register response")
    }
}

async fn checked(response: reqwest::Response, path: &str) -> anyhow::Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    anyhow::bail!("Nomad answered {status} for {path}: {}", body.trim())
}

/// Stopping failed partway: the error, and the services to bring back.
#[derive(Debug)]
pub struct PartialStop {
    /// The services stopped before the failure, and the one whose stop failed: its
    /// answer may have been lost after Nomad stopped it, and registering an unchanged
    /// job again changes nothing.
    pub stopped: Vec<StoppedService>,
    pub error: anyhow::Error,
}

/// Stops every configured service that is running; returns what was stopped, or on a
/// failure what must be brought back.
pub async fn stop_running(
    client: &NomadClient,
    services: &[Service],
) -> Result<Vec<StoppedService>, PartialStop> {
    let mut stopped = Vec::new();
    for service in services {
        let job = match client.read_job(&service.job_id).await {
            Ok(Some(job)) => job,
            Ok(None) => continue,
            Err(error) => return Err(PartialStop { stopped, error }),
        };
        let running = job.get("Status").and_then(Value::as_str) == Some("running")
            && job.get("Stop").and_then(Value::as_bool) != Some(true);
        if !running {
            continue;
        }
        let result = client.stop_job(&service.job_id).await;
        stopped.push(StoppedService {
            name: service.name.clone(),
            job_id: service.job_id.clone(),
            job,
        });
        if let Err(error) = result {
            let error = error.context(format!("stopping {}", service.name));
            return Err(PartialStop { stopped, error });
        }
    }
    Ok(stopped)
}

/// Brings back the services `stop_running` stopped, as they were.
pub async fn restart(client: &NomadClient, stopped: &[StoppedService]) -> anyhow::Result<()> {
    for service in stopped {
        let mut job = service.job.clone();
        if let Some(object) = job.as_object_mut() {
            object.insert("Stop".into(), Value::Bool(false));
        }
        client
            .register_job(&job)
            .await
            .with_context(|| format!("restarting {}", service.name))?;
    }
    Ok(())
}
