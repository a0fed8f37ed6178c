//! Before anything changes: the tag, the lock, the migrations against the ledger,
//! drift between the job files and Nomad; and whether this run begins an upgrade or
//! resumes the unfinished one.

use std::collections::BTreeMap;

use chrono::{Local, Utc};

use super::progress::{self, Migration, State, Step, UpgradeRecord};
use super::SAFETY_PREFIX;
use crate::database::Target;
use crate::dbpatch::{self, ledger, EnvFacts, Patch};
use crate::error::{precondition, usage, CsiError, Kind};
use crate::lock::{self, LockState};
use crate::nomad::{jobfile, NomadClient};
use crate::output::Printer;
use crate::rollout::{self, DriftRow};
use crate::settings::Settings;

/// What the operator asked for.
pub struct UpgradeRequest<'a> {
    pub settings: &'a Settings,
    pub nomad: &'a NomadClient,
    pub tag: &'a str,
    pub patches: Vec<Patch>,
    pub allow_drift: bool,
}

/// An upgrade ready to show and run.
pub struct PreparedUpgrade {
    pub progress: UpgradeRecord,
    /// The run continues an unfinished upgrade.
    pub resuming: bool,
    /// The migration files, in the progress's order.
    pub patches: Vec<Patch>,
    pub target: Target,
    pub facts: EnvFacts,
    /// Empty when not checked (a resumed rollout: files may be ahead of Nomad).
    pub drift: Vec<DriftRow>,
    /// Migrations found in the ledger on resume although not marked done: the run
    /// that applied them stopped before it could say so.
    pub recovered: Vec<String>,
}

pub async fn prepare(
    request: UpgradeRequest<'_>,
    printer: &Printer,
) -> anyhow::Result<PreparedUpgrade> {
    let UpgradeRequest {
        settings,
        nomad,
        tag,
        patches,
        allow_drift,
    } = request;
    jobfile::validate_tag(tag, &settings.nomad.tag_pattern).map_err(|e| {
        usage(e.to_string())
            .with_hint("tags are the build's git commit: git- and 8 lower-case hex digits")
    })?;
    refuse_duplicate_names(&patches)?;
    check_lock(settings)?;
    let target = Target::environment(&settings.database)?;
    let client = dbpatch::connect(&target).await?;
    let mut migrations = Vec::new();
    for patch in &patches {
        migrations.push(Migration {
            file_name: patch.file_name.clone(),
            path: patch.path.clone(),
            checksum: ledger::checksum(&patch.bytes),
            statements: patch.statements.len(),
        });
    }
    let (mut progress, resuming) = match progress::load(&settings.state_dir)? {
        Some(p) if p.state == State::Unfinished => {
            if !p.same_request(tag, &migrations) {
                return Err(another_upgrade_unfinished(settings, &p).into());
            }
            (p, true)
        }
        _ => (begin(settings, tag, migrations)?, false),
    };
    let recovered = check_ledger(&client, &mut progress, resuming).await?;
    let facts = dbpatch::env_facts(&client).await?;
    drop(client);
    let drift = if resuming && progress.files_written {
        printer.info("drift not checked: the interrupted rollout rewrote the job files already");
        Vec::new()
    } else {
        check_drift(settings, nomad, allow_drift, printer).await?
    };
    Ok(PreparedUpgrade {
        progress,
        resuming,
        patches,
        target,
        facts,
        drift,
        recovered,
    })
}

fn refuse_duplicate_names(patches: &[Patch]) -> Result<(), CsiError> {
    for (i, patch) in patches.iter().enumerate() {
        if patches[..i].iter().any(|p| p.file_name == patch.file_name) {
            return Err(usage(format!(
                "--migrate {} is given twice (the ledger knows a migration by its file name)",
                patch.file_name
            )));
        }
    }
    Ok(())
}

fn check_lock(settings: &Settings) -> Result<(), CsiError> {
    match lock::inspect(&settings.state_dir)? {
        LockState::Free => Ok(()),
        LockState::Held { holder } => Err(precondition(format!(
            "environment `{}` is locked by {}",
            settings.env_name,
            holder.describe()
        ))
        .with_hint("wait for that operation to finish; `csi env history` shows what it is doing")),
        LockState::Stale { holder } => Err(lock::stale_error(&settings.env_name, &holder)),
    }
}

fn begin(
    settings: &Settings,
    tag: &str,
    migrations: Vec<Migration>,
) -> anyhow::Result<UpgradeRecord> {
    let mut previous_tags = BTreeMap::new();
    for service in &settings.services {
        // The file's image is what a rollback brings back; a file without one is refused
        // now rather than in the middle of the rollout.
        let file = rollout::patch_service_file(service, tag)?;
        previous_tags.insert(service.name.clone(), file.old_tag);
    }
    Ok(UpgradeRecord {
        id: format!(
            "{}-{}",
            Utc::now().format("%Y%m%dT%H%M%SZ"),
            std::process::id()
        ),
        begun_at: Utc::now(),
        tag: tag.to_owned(),
        migrations,
        safety_archive: format!(
            "{SAFETY_PREFIX}{}",
            Local::now().format("%Y-%m-%dT%H:%M:%S")
        ),
        previous_tags,
        done: Vec::new(),
        files_written: false,
        state: State::Unfinished,
    })
}

fn another_upgrade_unfinished(settings: &Settings, p: &UpgradeRecord) -> CsiError {
    let next = p
        .next()
        .map(|s| p.key(s))
        .unwrap_or_else(|| "nothing".into());
    precondition(format!(
        "an upgrade of `{}` begun at {} is unfinished ({}; next step: {next}): a different upgrade cannot begin",
        settings.env_name,
        p.begun_at.format("%Y-%m-%d %H:%M:%S UTC"),
        p.describe_request(),
    ))
    .with_hint(format!(
        "resume it with `csi env upgrade {env} {}`, or give it up with `csi env upgrade {env} --abandon` (nothing is undone)",
        p.describe_request(),
        env = settings.env_name
    ))
}

/// A migration must not be in the ledger yet. On resume, one applied by this upgrade
/// (same checksum, this upgrade's safety archive) is taken as done: the ledger row is
/// written in the migration's own transaction, so it is the truth.
async fn check_ledger(
    client: &tokio_postgres::Client,
    progress: &mut UpgradeRecord,
    resuming: bool,
) -> anyhow::Result<Vec<String>> {
    let mut recovered = Vec::new();
    for i in 0..progress.migrations.len() {
        let step = Step::Migration(i);
        let m = progress.migrations[i].clone();
        let (found, _) = ledger::lookup(client, &m.file_name, &m.checksum).await?;
        let Some(entry) = found else {
            continue;
        };
        let ours = resuming
            && entry.checksum == m.checksum
            && entry.safety_archive.as_deref() == Some(progress.safety_archive.as_str());
        if ours {
            if !progress.is_done(step) {
                progress.mark_done(step);
                recovered.push(m.file_name.clone());
            }
            continue;
        }
        ledger::refuse_applied(Some(&entry), &m.file_name, &m.checksum).map_err(|e| {
            CsiError::new(Kind::Precondition, e.message).with_hint(
                "an applied migration is not given again: drop its --migrate \
                 (`csi env db-patch <env> --list` shows the ledger)",
            )
        })?;
    }
    Ok(recovered)
}

async fn check_drift(
    settings: &Settings,
    nomad: &NomadClient,
    allow_drift: bool,
    printer: &Printer,
) -> anyhow::Result<Vec<DriftRow>> {
    let mut rows = Vec::new();
    for service in &settings.services {
        let row = rollout::drift_row(nomad, service).await.map_err(|e| {
            precondition(format!("cannot compare {} with Nomad: {e}", service.name))
                .with_hint("`csi env check` tests the connection to Nomad")
        })?;
        rows.push(row);
    }
    let drifting: Vec<String> = rows
        .iter()
        .filter(|r| r.drift)
        .map(|r| {
            format!(
                "{} (file {}, nomad {}, {})",
                r.service,
                r.file_tag.as_deref().unwrap_or("?"),
                r.running_tag.as_deref().unwrap_or("-"),
                r.status
            )
        })
        .collect();
    if drifting.is_empty() {
        return Ok(rows);
    }
    if !allow_drift {
        return Err(CsiError::new(
            Kind::Drift,
            format!(
                "the job files and Nomad differ, nothing was changed: {}",
                drifting.join(", ")
            ),
        )
        .with_hint(format!(
            "`csi env drift {env}` shows it; reconcile with patch-image or doctor --fix, or upgrade anyway with --allow-drift",
            env = settings.env_name
        ))
        .into());
    }
    printer.warn(&format!(
        "--allow-drift: the job files and Nomad differ: {}",
        drifting.join(", ")
    ));
    Ok(rows)
}
