//! Stopping the orchestrator services around an operation that needs them quiet (a
//! database restore), and bringing back exactly those that were running.
//!
//! A stop is complete only when every allocation of the job is terminal: Nomad
//! answers the DELETE (and reads the job `dead`) at once, while the tasks run until they
//! exit, up to their `kill_timeout` (45 s for job-configuration), still holding their
//! database connections.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{NomadClient, NomadError};
use crate::settings::Service;

/// How long one blocking query waits before the overall deadline is checked.
const BLOCKING_WAIT: Duration = Duration::from_secs(5);

/// A service csi stopped, with the job definition to bring it back.
#[derive(Clone)]
pub struct StoppedService {
    pub name: String,
    pub job_id: String,
    job: Value,
}

/// The job definition holds rendered secrets (env files, registry password): never
/// in a debug print.
impl std::fmt::Debug for StoppedService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoppedService")
            .field("name", &self.name)
            .field("job_id", &self.job_id)
            .finish_non_exhaustive()
    }
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

/// Stops every configured service that is running, then waits (up to `timeout`) until
/// all their allocations are terminal; returns what was stopped, or on a failure (a
/// stop refused, or tasks still running at the deadline) what must be brought back.
pub async fn stop_running(
    client: &NomadClient,
    services: &[Service],
    timeout: Duration,
) -> Result<Vec<StoppedService>, PartialStop> {
    let mut stopped = Vec::new();
    for service in services {
        let (header, job) = match client.job(&service.job_id).await {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err(error) => {
                return Err(PartialStop {
                    stopped,
                    error: error.into(),
                })
            }
        };
        if header.status != "running" || header.stop {
            continue;
        }
        let result = client.stop_job(&service.job_id).await;
        stopped.push(StoppedService {
            name: service.name.clone(),
            job_id: service.job_id.clone(),
            job,
        });
        if let Err(error) = result {
            let error = anyhow::Error::new(error).context(format!("stopping {}", service.name));
            return Err(PartialStop { stopped, error });
        }
    }
    if let Err(error) = wait_terminal(client, &stopped, timeout).await {
        return Err(PartialStop { stopped, error });
    }
    Ok(stopped)
}

/// Blocks until no allocation of the stopped jobs still runs, or `timeout` passes.
async fn wait_terminal(
    client: &NomadClient,
    stopped: &[StoppedService],
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    for service in stopped {
        let mut index = 1;
        loop {
            let wait = BLOCKING_WAIT.min(deadline.saturating_duration_since(Instant::now()));
            let answer = client
                .job_allocations(&service.job_id, index, wait.max(Duration::from_millis(100)))
                .await?;
            let running = answer.value.iter().filter(|a| !a.is_terminal()).count();
            if running == 0 {
                break;
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "{} still has {running} allocation(s) running {} after the stop (a task \
                     that ignores the interrupt runs until its kill_timeout; nomad.stop_timeout \
                     bounds the wait)",
                    service.name,
                    crate::output::human_duration(timeout)
                );
            }
            index = answer.index.max(index + 1);
        }
    }
    Ok(())
}

/// Brings back the services `stop_running` stopped, as they were.
pub async fn restart(client: &NomadClient, stopped: &[StoppedService]) -> anyhow::Result<()> {
    for service in stopped {
        let mut job = service.job.clone();
        if let Some(object) = job.as_object_mut() {
            object.insert("Stop".into(), Value::Bool(false));
        }
        client.register_job(&job).await.map_err(|e: NomadError| {
            anyhow::Error::new(e).context(format!("restarting {}", service.name))
        })?;
    }
    Ok(())
}
