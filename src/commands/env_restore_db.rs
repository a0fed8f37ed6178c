//! `csi env restore-db <env> --archive NAME|latest|YYYY-MM-DD`: resolve the archive,
//! show what will happen, confirm, stop the services, make a safety backup, stream the
//! archive into PostgreSQL in one transaction committed only when complete and
//! verified, restart the services, and advise on the restart.

use std::time::Duration;

use chrono::{Local, Utc};
use indicatif::HumanBytes;
use serde::Serialize;
use serde_json::json;

use super::Context;
use crate::borg::{safety_archive_name, Archive, ArchiveSpec, Borg};
use crate::cli::RestoreDbArgs;
use crate::database::restore::{
    staging_name, Emptying, FullOptions, LoadOutcome, LoadRequest, Mode, ParallelOptions,
    SelectedTable, SelectiveOptions,
};
use crate::database::{inspect, selected_tables, Target, TargetState, TargetTable};
use crate::error::{precondition, usage, CsiError, Kind};
use crate::journal::Operation;
use crate::nomad::services::{restart, stop_running, PartialStop, StoppedService};
use crate::nomad::NomadClient;
use crate::operation;
use crate::preflight::human_age;
use crate::remote;
use crate::settings::Settings;

const NOMAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything decided before anything changes.
#[derive(Serialize)]
struct Plan {
    environment: String,
    archive: String,
    dumped_at: chrono::DateTime<Utc>,
    age_seconds: i64,
    dump_bytes: u64,
    source_database: String,
    target: String,
    schema: String,
    external_target: bool,
    tables: Vec<String>,
    /// Services that will be stopped and brought back; None: kept running.
    services_to_stop: Option<Vec<String>>,
    safety_archive: Option<String>,
    include_globals: bool,
    target_state: TargetState,
}

pub async fn run(ctx: &Context, args: RestoreDbArgs) -> anyhow::Result<()> {
    let settings = ctx.reach(&args.env).await?;
    let target = match &args.to {
        Some(url) => Target::url(url, &settings.database.schema)?,
        None => Target::environment(&settings.database)?,
    };
    let source_db = match (&args.source_database, &settings.database.name) {
        (Some(name), _) | (None, Some(name)) => name.clone(),
        (None, None) => return Err(usage("no database name for this environment").into()),
    };
    let borg = Borg::new(&settings.borg)?;
    // The archive and the target's state, at the same time.
    let spec = ArchiveSpec::parse(&args.archive);
    let (archive, inspected) = tokio::join!(
        borg.resolve_dump(&spec, &settings.borg.archive_prefix),
        inspect_target(&target, &args.tables)
    );
    let (archive, size) = archive?;
    let (state, selection) = inspected?;
    if size == 0 {
        return Err(precondition(format!("the dump in archive {} is empty", archive.name)).into());
    }
    refuse_unsafe(&state, selection.is_some(), &target)?;
    remote::prepare(&settings, &target, &ctx.printer).await?;

    let nomad = if args.keep_services || target.external {
        None
    } else {
        Some(NomadClient::new(&settings.nomad, NOMAD_TIMEOUT)?)
    };
    let services_to_stop = match &nomad {
        Some(client) => Some(running_services(client, &settings).await?),
        None => None,
    };
    let safety_archive =
        (!args.no_safety_backup && !target.external).then(|| safety_archive_name(Local::now()));
    let plan = Plan {
        environment: settings.env_name.clone(),
        archive: archive.name.clone(),
        dumped_at: archive.start,
        age_seconds: (Utc::now() - archive.start).num_seconds(),
        dump_bytes: size,
        source_database: source_db.clone(),
        target: target.describe(),
        schema: target.schema.clone(),
        external_target: target.external,
        tables: selection
            .iter()
            .flatten()
            .map(|t| t.name.to_string())
            .collect(),
        services_to_stop,
        safety_archive,
        include_globals: args.include_globals,
        target_state: state,
    };
    show(ctx, &plan, &args);
    if ctx.global.dry_run {
        ctx.printer.info("dry run: nothing was changed");
        return Ok(());
    }
    let question = if plan.tables.is_empty() {
        format!(
            "Replace schema `{}` of {} with archive {}?",
            plan.schema, plan.target, plan.archive
        )
    } else {
        format!(
            "Replace the rows of {} in {} with archive {}?",
            plan.tables.join(", "),
            plan.target,
            plan.archive
        )
    };
    ctx.prompter.confirm(
        &question,
        &settings.env_name,
        settings.protected && !target.external,
    )?;

    let mode = match &selection {
        None if args.include_globals => Mode::Full(FullOptions {
            schema: target.schema.clone(),
            include_globals: true,
            lock_timeout: args.lock_timeout,
        }),
        None => Mode::Parallel {
            options: ParallelOptions {
                schema: target.schema.clone(),
                staging: staging_name(&target.schema),
                lock_timeout: args.lock_timeout,
            },
            connections: usize::from(args.jobs),
        },
        Some(tables) => Mode::Selective(selective_options(tables, &args)),
    };
    let params = json!({
        "archive": args.archive,
        "tables": args.tables,
        "to": args.to.as_ref().map(|_| target.describe()),
        "source_database": source_db,
        "keep_services": args.keep_services,
        "no_safety_backup": args.no_safety_backup,
        "include_globals": args.include_globals,
    });
    let settings = &settings;
    let context = Execution {
        ctx,
        settings,
        borg: &borg,
        archive: &archive,
        dump_size: size,
        target: &target,
        source_db: &source_db,
        plan: &plan,
        nomad: nomad.as_ref(),
    };
    let context = &context;
    let outcome = operation::run_locked(settings, "restore-db", params, |op| async move {
        let outcome = context.execute(&op, mode).await?;
        let message = format!(
            "restored {} into {}: {} tables, {} rows",
            context.archive.name,
            context.target.describe(),
            outcome.tables.len(),
            outcome.rows
        );
        Ok((outcome, message))
    })
    .await?;
    if ctx.printer.is_json() {
        ctx.printer
            .json(&json!({ "plan": plan, "outcome": outcome }));
    }
    Ok(())
}

struct Execution<'a> {
    ctx: &'a Context,
    settings: &'a Settings,
    borg: &'a Borg,
    archive: &'a Archive,
    dump_size: u64,
    target: &'a Target,
    source_db: &'a str,
    plan: &'a Plan,
    nomad: Option<&'a NomadClient>,
}

impl Execution<'_> {
    /// Services down, safety backup, load; services back whatever happened.
    async fn execute(&self, op: &Operation, mode: Mode) -> anyhow::Result<LoadOutcome> {
        // From here until the services are back, a signal is handled here (the restore
        // is stopped, the services restarted), not by exiting on the spot.
        let _handled = crate::interrupt::ChildGuard::enter();
        op.step(
            "archive_resolved",
            json!({"archive": self.archive.name, "dumped_at": self.archive.start, "bytes": self.dump_size}),
        )?;
        let printer = &self.ctx.printer;
        let mut stopped: Vec<StoppedService> = Vec::new();
        if let Some(client) = self.nomad {
            printer.info("stopping the orchestrator services");
            stopped = match stop_running(
                client,
                &self.settings.services,
                self.settings.nomad.stop_timeout,
            )
            .await
            {
                Ok(stopped) => stopped,
                Err(partial) => return Err(self.stop_failed(op, client, partial).await),
            };
            let names = names_of(&stopped);
            op.step("services_stopped", json!({ "services": names }))?;
            if !names.is_empty() {
                printer.info(&format!("stopped: {}", names.join(", ")));
            }
        }
        let result = self.restore(op, mode).await;
        // Fresh statistics for the restored tables while the services come back.
        let analyze = async {
            let Ok(outcome) = &result else { return };
            let restored: Vec<_> = outcome.tables.iter().map(|t| t.name.clone()).collect();
            let analyzed = match outcome.analyzed {
                true => Ok(()),
                false => self.target.analyze(&restored).await,
            };
            match analyzed {
                Ok(()) => {
                    // The restore is committed: a journal that cannot take this step is
                    // said, not silently dropped.
                    if let Err(e) = op.step("analyzed", json!({ "tables": restored.len() })) {
                        printer.warn(&format!(
                            "the restore is committed and analyzed, but the journal did not record the `analyzed` step: {e:#}"
                        ));
                    }
                }
                Err(e) => printer.warn(&format!(
                    "the restore is committed, but ANALYZE failed ({e:#}): autovacuum will gather the statistics"
                )),
            }
        };
        let restarting = async {
            match self.nomad.filter(|_| !stopped.is_empty()) {
                Some(client) => self.restart_services(op, client, &stopped).await,
                None => Ok(()),
            }
        };
        let ((), restarted) = tokio::join!(analyze, restarting);
        if let Err(restart_error) = restarted {
            return match result {
                Ok(_) => Err(restart_error),
                Err(first) => {
                    printer.warn(&restart_error.to_string());
                    Err(first)
                }
            };
        }
        let outcome = result?;
        if !self.target.external && self.plan.tables.is_empty() {
            let age = Utc::now() - self.archive.start;
            printer.info(&format!(
                "the backup is {} old: that counts as downtime",
                human_age(age)
            ));
            printer.info(&crate::power::advice(&self.settings.env_name, age));
        }
        Ok(outcome)
    }

    /// Stopping the services failed partway: nothing is restored, and the services
    /// stopped so far (with the one whose stop failed) are brought back.
    async fn stop_failed(
        &self,
        op: &Operation,
        client: &NomadClient,
        partial: PartialStop,
    ) -> anyhow::Error {
        let names = names_of(&partial.stopped);
        let failure: anyhow::Error = CsiError::new(
            Kind::Failed,
            format!(
                "stopping the services failed, the restore did not begin and nothing was changed: {:#}",
                partial.error
            ),
        )
        .with_hint("check Nomad, then run the restore again (--keep-services restores without stopping them)")
        .into();
        let journaled = op.step(
            "services_stop_failed",
            json!({ "services": names, "error": format!("{:#}", partial.error) }),
        );
        if let Err(e) = journaled {
            self.ctx.printer.warn(&format!("{e:#}"));
        }
        if partial.stopped.is_empty() {
            return failure;
        }
        if let Err(restart_error) = self.restart_services(op, client, &partial.stopped).await {
            self.ctx.printer.warn(&restart_error.to_string());
        }
        failure
    }

    /// Brings the stopped services back, journaled; a failure says how to finish by hand.
    async fn restart_services(
        &self,
        op: &Operation,
        client: &NomadClient,
        stopped: &[StoppedService],
    ) -> anyhow::Result<()> {
        let names = names_of(stopped);
        match restart(client, stopped).await {
            Ok(()) => {
                op.step("services_restarted", json!({ "services": names }))?;
                self.ctx
                    .printer
                    .info(&format!("restarted: {}", names.join(", ")));
                Ok(())
            }
            Err(e) => {
                op.step(
                    "services_restart_failed",
                    json!({ "services": names, "error": format!("{e:#}") }),
                )?;
                Err(CsiError::new(
                    Kind::Failed,
                    format!("restarting the services failed: {e:#}"),
                )
                .with_hint(format!(
                    "bring them back with their job files ({}); `csi env doctor {}` can help",
                    names.join(", "),
                    self.settings.env_name
                ))
                .into())
            }
        }
    }

    async fn restore(&self, op: &Operation, mode: Mode) -> anyhow::Result<LoadOutcome> {
        let printer = &self.ctx.printer;
        stop_if_interrupted()?;
        if let Some(name) = &self.plan.safety_archive {
            let backup =
                remote::make_backup(self.settings, self.borg, self.target, name, printer).await?;
            op.step("safety_backup", json!(backup))?;
            printer.info(&format!(
                "safety backup made: {} ({}); restore it with --archive {}",
                backup.archive,
                HumanBytes(backup.size),
                backup.archive
            ));
        }
        stop_if_interrupted()?;
        printer.info(&format!(
            "restoring {} into {}",
            self.archive.name,
            self.target.describe()
        ));
        let request = LoadRequest {
            target: self.target,
            source_db: self.source_db,
            mode,
            printer,
        };
        let outcome = remote::load(
            self.settings,
            request,
            self.borg,
            &self.archive.name,
            self.dump_size,
        )
        .await?;
        op.step(
            "restored",
            json!({"tables": outcome.tables.len(), "rows": outcome.rows, "bytes": outcome.bytes, "seconds": outcome.seconds, "connections": outcome.connections, "leftovers_dropped": outcome.leftovers_dropped}),
        )?;
        op.step(
            "verified",
            json!({"row_counts": outcome.tables, "sequences": "at or past the columns they feed"}),
        )?;
        for line in outcome.report.lines() {
            printer.info(&line);
        }
        for dropped in &outcome.dropped_columns {
            printer.warn(&format!("left out (--ignore-missing-columns): {dropped}"));
        }
        let rate = outcome.bytes as f64 / outcome.seconds.max(0.001);
        printer.info(&format!(
            "restored and verified: {} tables, {} rows, {} in {:.1}s ({}/s); committed",
            outcome.tables.len(),
            outcome.rows,
            HumanBytes(outcome.bytes),
            outcome.seconds,
            HumanBytes(rate as u64)
        ));
        Ok(outcome)
    }
}

fn names_of(services: &[StoppedService]) -> Vec<&str> {
    services.iter().map(|s| s.name.as_str()).collect()
}

fn stop_if_interrupted() -> Result<(), CsiError> {
    match crate::interrupt::received() {
        Some(signal) => Err(CsiError::new(
            Kind::Interrupted,
            format!("interrupted by {signal} before the restore began; nothing was changed"),
        )),
        None => Ok(()),
    }
}

/// The target's state, and the tables `--tables` names as the target has them.
async fn inspect_target(
    target: &Target,
    tables: &[String],
) -> anyhow::Result<(TargetState, Option<Vec<TargetTable>>)> {
    let client = target.connect().await.map_err(|e| {
        CsiError::new(Kind::Precondition, format!("{e:#}"))
            .with_hint("`csi env check` tests the database connection")
    })?;
    let state = inspect(&client, &target.schema).await?;
    let selection = if tables.is_empty() {
        None
    } else {
        Some(selected_tables(&client, &target.schema, tables).await?)
    };
    Ok((state, selection))
}

/// What must not happen silently: dropping objects outside the schema, a selective
/// load without the rights it needs.
fn refuse_unsafe(state: &TargetState, selective: bool, target: &Target) -> Result<(), CsiError> {
    if !selective && !state.dependents.is_empty() {
        return Err(precondition(format!(
            "objects outside schema `{}` depend on it and would be dropped with it: {}",
            target.schema,
            state.dependents.join(", ")
        ))
        .with_hint("drop or move them first (and re-create them after the restore)"));
    }
    if selective && !state.superuser {
        return Err(precondition(
            "a restore with --tables needs a superuser (it disables triggers for its transaction)",
        )
        .with_hint("connect as the database superuser (database.user, PGUSER or --to)"));
    }
    Ok(())
}

fn selective_options(tables: &[TargetTable], args: &RestoreDbArgs) -> SelectiveOptions {
    let referenced = tables.iter().any(|t| !t.referenced_by.is_empty());
    SelectiveOptions {
        tables: tables
            .iter()
            .map(|t| SelectedTable {
                name: t.name.clone(),
                columns: t.columns.clone(),
            })
            .collect(),
        ignore_missing_columns: args.ignore_missing_columns,
        lock_timeout: args.lock_timeout,
        emptying: if referenced {
            Emptying::Delete
        } else {
            Emptying::Truncate
        },
    }
}

/// The configured services Nomad runs now.
async fn running_services(
    client: &NomadClient,
    settings: &Settings,
) -> anyhow::Result<Vec<String>> {
    let mut running = Vec::new();
    for service in &settings.services {
        let status = client.job_status(&service.job_id).await.map_err(|e| {
            CsiError::new(Kind::Precondition, format!("cannot ask Nomad which services run: {e:#}"))
                .with_hint("--keep-services restores without stopping them (the restore waits for their locks)")
        })?;
        if status.as_deref() == Some("running") {
            running.push(service.name.clone());
        }
    }
    Ok(running)
}

fn show(ctx: &Context, plan: &Plan, args: &RestoreDbArgs) {
    let p = &ctx.printer;
    if p.is_json() {
        if ctx.global.dry_run {
            p.json(plan);
        }
        return;
    }
    let age = human_age(chrono::TimeDelta::seconds(plan.age_seconds));
    p.data(&p.emphasis(&format!("Restore of `{}`", plan.environment)));
    p.data(&format!(
        "  archive    {} (dumped {}, {age} ago, {})",
        plan.archive,
        plan.dumped_at
            .with_timezone(&Local)
            .format("%Y-%m-%d %H:%M:%S"),
        HumanBytes(plan.dump_bytes)
    ));
    p.data(&format!(
        "  source     database `{}` of the dump",
        plan.source_database
    ));
    let state = &plan.target_state;
    let how = if args.include_globals {
        "in one transaction".to_owned()
    } else {
        format!(
            "loaded on {} connection(s) into a staging schema, swapped in by one transaction",
            args.jobs
        )
    };
    let what = if plan.tables.is_empty() {
        if state.schema_exists {
            format!(
                "schema `{}` ({} tables) replaced entirely, {how}",
                plan.schema, state.tables
            )
        } else {
            format!("schema `{}` (absent now) created, {how}", plan.schema)
        }
    } else {
        format!(
            "rows of {} replaced, sequences continued, in one transaction",
            plan.tables.join(", ")
        )
    };
    let external = if plan.external_target {
        " (--to: not the environment's database)"
    } else {
        ""
    };
    p.data(&format!(
        "  target     {}{external}, PostgreSQL {}",
        plan.target, state.server_version
    ));
    p.data(&format!("  change     {what}"));
    let services = match &plan.services_to_stop {
        None if plan.external_target => "untouched (--to)".to_owned(),
        None => p.highlight("kept running (--keep-services)"),
        Some(names) if names.is_empty() => "none running".to_owned(),
        Some(names) => format!("stop {} and restart them after", names.join(", ")),
    };
    p.data(&format!("  services   {services}"));
    let safety = match &plan.safety_archive {
        Some(name) => format!("backup of the current database first: {name} (same repository)"),
        None if plan.external_target => "none (--to)".to_owned(),
        None => p.highlight("skipped (--no-safety-backup): this cannot be undone"),
    };
    p.data(&format!("  safety     {safety}"));
    let globals = if args.include_globals {
        "roles of the dump applied (existing roles kept, attributes as in the dump)"
    } else {
        "roles and other databases of the dump skipped"
    };
    p.data(&format!("  globals    {globals}"));
    if !state.other_sessions.is_empty() {
        p.warn(&format!(
            "{} other session(s) connected to the database: {}",
            state.other_sessions.len(),
            state.other_sessions.join("; ")
        ));
    }
}
