//! Each source of the overview, on its own.

use crate::database::decode;
use crate::database::pg_error::PgContext;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::borg::Borg;
use crate::journal::{Event, Journal};
use crate::nomad::{jobfile, NomadClient};
use crate::settings::Settings;

#[derive(Debug, Serialize)]
pub struct ServiceHealth {
    pub service: String,
    pub status: String,
    pub running_tag: Option<String>,
    pub file_tag: Option<String>,
    pub drift: bool,
    pub healthy: usize,
    pub total: usize,
}

#[derive(Debug, Serialize)]
pub struct NomadSection {
    pub leader: String,
    pub services: Vec<ServiceHealth>,
}

/// Every request at once (the leader, and each service's job and allocations): the
/// section costs one round trip to Nomad, not one per service or per call.
pub async fn nomad(settings: &Settings) -> anyhow::Result<NomadSection> {
    let client = NomadClient::new(&settings.nomad, Duration::from_secs(5))?;
    let rows = settings
        .services
        .iter()
        .map(|service| service_health(&client, service));
    let (leader, services) =
        tokio::try_join!(client.leader(), futures::future::try_join_all(rows))?;
    Ok(NomadSection { leader, services })
}

async fn service_health(
    client: &NomadClient,
    service: &crate::settings::Service,
) -> anyhow::Result<ServiceHealth> {
    let file_tag = fs_err::read_to_string(&service.job_file)
        .ok()
        .and_then(|text| jobfile::find_images(&text).ok())
        .and_then(|images| images.into_iter().next())
        .and_then(|image| image.reference.and_then(|r| r.tag));
    let (job, allocations) = tokio::try_join!(
        client.job(&service.job_id),
        client.job_allocations(&service.job_id, 0, Duration::from_secs(1))
    )?;
    let Some((header, _)) = job else {
        return Ok(ServiceHealth {
            service: service.name.clone(),
            status: "missing".into(),
            running_tag: None,
            file_tag,
            drift: true,
            healthy: 0,
            total: 0,
        });
    };
    let running_tag = header
        .images()
        .first()
        .and_then(|(_, _, image)| jobfile::ImageReference::parse(image).tag);
    let live: Vec<_> = allocations
        .value
        .iter()
        .filter(|a| a.desired_status == "run" && a.job_version == header.version)
        .collect();
    let healthy = live.iter().filter(|a| a.is_healthy()).count();
    // Nomad says `running` once anything is placed (2.0.1+: while a deployment is
    // active, placed or not); a service is up only with healthy allocations.
    let status = if header.stop {
        "stopped".to_owned()
    } else if header.status == "running" && (live.is_empty() || healthy < live.len()) {
        "running, not healthy yet".to_owned()
    } else {
        header.status.clone()
    };
    Ok(ServiceHealth {
        service: service.name.clone(),
        drift: running_tag != file_tag || header.stop,
        status,
        running_tag,
        file_tag,
        healthy,
        total: live.len(),
    })
}

#[derive(Debug, Serialize)]
pub struct JobTypeHealth {
    pub job_type: String,
    pub in_error: i64,
    pub stuck: i64,
}

#[derive(Debug, Serialize)]
pub struct DatabaseSection {
    pub job_types_list: Option<String>,
    pub job_types: Vec<JobTypeHealth>,
}

/// Jobs in error, and jobs stuck in a non-terminal status for more than 3 hours,
/// per job type: a job's type is the table that holds it (read from the catalog),
/// not `parent_jobs.name`, which is each job's own name.
pub async fn database(settings: &Settings) -> anyhow::Result<DatabaseSection> {
    let client = crate::database::connect(&settings.database, Duration::from_secs(5)).await?;
    let schema = &settings.database.schema;
    let quoted = crate::database::dump::quote_ident(schema);
    // The schema's times are `timestamp` in UTC: compare them in UTC.
    client
        .batch_execute("set time zone 'UTC'")
        .await
        .pg_context("preparing the database session")?;
    let list_sql =
        format!("select job_types_list::text from {quoted}.system_parameters where id = 1");
    let (list_rows, types) = tokio::try_join!(
        async {
            client
                .query_typed(&list_sql, &[])
                .await
                .pg_context(format!("reading {schema}.system_parameters.job_types_list"))
        },
        crate::jobs::job_types(&client, schema)
    )?;
    let job_types_list = match list_rows.first() {
        Some(row) => decode::get(
            row,
            0,
            &format!("{schema}.system_parameters.job_types_list"),
        )?,
        None => None,
    };
    let mut job_types = Vec::with_capacity(types.len());
    if !types.is_empty() {
        // Statuses by name, through job_status: the ids are the database's.
        const UNFINISHED: &str = "'initialized', 'configured', 'ready', 'queued', 'started', \
             'pre_processing', 'processing', 'post_processing', 'processed', 'start_publication'";
        let health_sql = types
            .iter()
            .map(|t| {
                format!(
                    "select {name}::text, \
                     count(*) filter (where s.name in ('internal_error', 'external_error')), \
                     count(*) filter (where s.name in ({UNFINISHED}) \
                                      and p.last_status_change_date < now() - interval '3 hours') \
                     from {quoted}.parent_jobs p join {quoted}.{table} t on t.fk_parent_job_id = p.id \
                     left join {quoted}.job_status s on s.id = p.last_status_id",
                    name = crate::database::dump::quote_literal(&t.name),
                    table = crate::database::dump::quote_ident(&t.table),
                )
            })
            .collect::<Vec<_>>()
            .join(" union all ");
        let rows = client
            .query_typed(&format!("{health_sql} order by 1"), &[])
            .await
            .pg_context("counting the jobs in error per job type")?;
        let source = format!("{schema}.parent_jobs (per job type)");
        for row in &rows {
            job_types.push(JobTypeHealth {
                job_type: decode::get(row, 0, &source)?,
                in_error: decode::get(row, 1, &source)?,
                stuck: decode::get(row, 2, &source)?,
            });
        }
    }
    Ok(DatabaseSection {
        job_types_list,
        job_types,
    })
}

#[derive(Debug, Serialize)]
pub struct BackupSection {
    pub newest: Option<String>,
    pub age_seconds: Option<i64>,
}

pub async fn backup(settings: &Settings) -> anyhow::Result<BackupSection> {
    let borg = Borg::new(&settings.borg)?;
    let newest = borg.newest(&settings.borg.archive_prefix).await?;
    Ok(BackupSection {
        age_seconds: newest
            .as_ref()
            .map(|a| (Utc::now() - a.start).num_seconds()),
        newest: newest.map(|a| a.name),
    })
}

#[derive(Debug, Serialize)]
pub struct LastOperation {
    pub operation: String,
    pub time: DateTime<Utc>,
    pub outcome: String,
    pub message: String,
}

pub fn last_operation(settings: &Settings) -> anyhow::Result<Option<LastOperation>> {
    let journal = Journal::for_state_dir(&settings.state_dir);
    let last = journal.last_matching(|e| matches!(e.event, Event::Finished { .. }))?;
    Ok(last.and_then(|entry| match entry.event {
        Event::Finished { outcome, message } => Some(LastOperation {
            operation: entry.operation,
            time: entry.time,
            outcome: serde_json::to_value(outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            message,
        }),
        _ => None,
    }))
}

/// The wave restart in progress, if any: its last journaled step.
pub fn waves(settings: &Settings) -> anyhow::Result<Option<serde_json::Value>> {
    let journal = Journal::for_state_dir(&settings.state_dir);
    let last = journal.last_matching(|e| e.operation == "restart-waves")?;
    Ok(last.and_then(|entry| match entry.event {
        Event::Finished { .. } => None,
        Event::Step { step, detail } => {
            Some(serde_json::json!({"step": step, "detail": detail, "since": entry.time}))
        }
        Event::Started { .. } => Some(serde_json::json!({"step": "started", "since": entry.time})),
    }))
}
