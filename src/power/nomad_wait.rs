//! After a start: wait until Nomad has a leader and the configured services run.

use std::time::{Duration, Instant};

use crate::error::verification;
use crate::nomad::NomadClient;
use crate::output::{Meter, Printer};
use crate::settings::Settings;

const POLL: Duration = Duration::from_secs(3);

pub async fn wait_for_services(
    settings: &Settings,
    printer: &Printer,
    timeout: Duration,
) -> anyhow::Result<()> {
    let client = NomadClient::new(&settings.nomad, Duration::from_secs(5))?;
    let spinner = printer.live_bar(Meter::Spinner);
    let started = Instant::now();
    let mut waiting_for = String::from("the Nomad leader");
    loop {
        spinner.set_message(0, &format!("waiting for {waiting_for}"));
        match pending(&client, settings).await {
            Ok(pending) if pending.is_empty() => break,
            Ok(pending) => waiting_for = pending.join(", "),
            Err(e) => waiting_for = format!("Nomad ({e:#})"),
        }
        if started.elapsed() > timeout {
            spinner.clear();
            return Err(verification(format!(
                "after {}: still waiting for {waiting_for}",
                crate::output::human_duration(timeout)
            ))
            .with_hint(format!(
                "the infrastructure is up; see `csi env check {}` and the services in Nomad",
                settings.env_name
            ))
            .into());
        }
        tokio::time::sleep(POLL).await;
    }
    spinner.clear();
    printer.info("Nomad has a leader and every configured service is running");
    Ok(())
}

/// What is not ready yet: the leader, or services by name with their status.
async fn pending(client: &NomadClient, settings: &Settings) -> anyhow::Result<Vec<String>> {
    client.leader().await?;
    let mut pending = Vec::new();
    for service in &settings.services {
        match client.job_status(&service.job_id).await? {
            Some(status) if status == "running" => {}
            Some(status) => pending.push(format!("{} ({status})", service.name)),
            None => pending.push(format!("{} (not in Nomad)", service.name)),
        }
    }
    Ok(pending)
}
