//! Stopping and starting an environment: destroy or apply the terraform target
//! through a saved plan that is checked against expectations, shown, confirmed,
//! applied exactly, and verified against the state.

mod downtime;
mod nomad_wait;
mod show;

use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use crate::borg::Borg;
use crate::error::{precondition, verification, CsiError, Kind};
use crate::journal::{Event, Journal, Operation, Outcome};
use crate::output::Printer;
use crate::preflight::{self, Status};
use crate::prompts::Prompter;
use crate::settings::Settings;
use crate::terraform::display::ApplyDisplay;
use crate::terraform::identity::{self, Expected, StateIdentity};
use crate::terraform::plan::{self, Action, Expectation, PlanSummary};
use crate::terraform::{
    self, packages, packages_tag, ui::UiEvent, ApplyReport, Direction, SavedPlan, Tree,
};

pub use downtime::{advice, since_last_activity, Downtime};

/// The tag passed on destroy, where its value does not matter.
const TAG_UNUSED_ON_DESTROY: &str = "unused-on-destroy";

#[derive(Debug, Clone)]
pub struct PowerRequest {
    pub direction: Direction,
    /// What the operator states the plan will do, instead of the configured count.
    pub expect: Option<usize>,
    pub tag: Option<String>,
    pub allow_dirty: bool,
    pub accept_old_backup: bool,
    pub no_wait: bool,
    pub wait_timeout: Duration,
}

/// The printer and the prompter, which every step reports through.
pub struct Io<'a> {
    pub printer: &'a Printer,
    pub prompter: &'a Prompter,
}

/// A plan made, shown and compared with what is expected.
pub struct CheckedPlan {
    pub saved: SavedPlan,
    pub summary: PlanSummary,
    pub mismatches: Vec<String>,
    pub tag: String,
    /// What the state recorded about its environment before planning.
    pub state: StateIdentity,
    /// Where the init packages were found (a start with a packages location).
    pub packages: Option<String>,
}

/// The `--output json` document of `plan`, `stop` and `start`.
#[derive(Debug, serde::Serialize)]
pub struct PowerResult<'a> {
    pub environment: &'a str,
    pub operation: &'static str,
    /// `planned` (plan, --dry-run), `nothing_to_do`, `done`.
    pub outcome: &'static str,
    pub changed: bool,
    pub tag: &'a str,
    pub state: &'a StateIdentity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_packages: Option<&'a str>,
    pub totals: plan::Totals,
    pub changes: &'a [plan::PlannedChange],
    pub mismatches: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<&'a ApplyReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources_under_target: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downtime_seconds: Option<i64>,
}

impl<'a> PowerResult<'a> {
    pub fn of(env: &'a str, direction: Direction, plan: &'a CheckedPlan) -> Self {
        PowerResult {
            environment: env,
            operation: verb(direction),
            outcome: if plan.summary.changes.is_empty() {
                "nothing_to_do"
            } else {
                "planned"
            },
            changed: false,
            tag: &plan.tag,
            state: &plan.state,
            init_packages: plan.packages.as_deref(),
            totals: plan.summary.totals(),
            changes: &plan.summary.changes,
            mismatches: &plan.mismatches,
            applied: None,
            resources_under_target: None,
            downtime_seconds: None,
        }
    }
}

pub fn verb(direction: Direction) -> &'static str {
    match direction {
        Direction::Stop => "stop",
        Direction::Start => "start",
    }
}

/// What must hold before terraform runs: var files, a private secrets file, the
/// backend's configuration, a terraform binary. Every failure is a precondition. (The
/// OpenStack project is checked against the state and the plan: see `checked_plan`.)
pub fn preflight(settings: &Settings) -> Result<Tree, CsiError> {
    let checks = preflight::var_files(settings);
    if let Some(failed) = checks.iter().find(|c| c.status == Status::Fail) {
        return Err(precondition(format!("{}: {}", failed.name, failed.detail))
            .with_hint("`csi env check` runs every preflight check"));
    }
    let tf = terraform::locate(settings.terraform.binary.as_deref())?;
    Ok(Tree::new(tf, settings))
}

/// This environment's expectations of its state, for the identity checks.
fn expected<'a>(settings: &'a Settings, state: &'a str) -> Expected<'a> {
    Expected {
        environment: &settings.env_name,
        openstack_project_id: settings.terraform.openstack_project_id.as_deref(),
        state,
    }
}

/// Before planning: the state is this environment's (or new).
pub async fn check_state(settings: &Settings, tree: &Tree) -> anyhow::Result<StateIdentity> {
    let raw = tree.pull_state().await?;
    let found = identity::of_state(&raw)?;
    drop(raw);
    let where_ = tree.state_description();
    identity::check_state(&found, &expected(settings, &where_))?;
    Ok(found)
}

/// Before a start: the init packages of the tag where the VMs fetch them.
pub async fn check_packages(
    settings: &Settings,
    tag: &str,
    printer: &Printer,
) -> Result<Option<String>, CsiError> {
    let Some(location) = &settings.terraform.packages_location else {
        printer.warn("init packages not checked: terraform.packages_location is not set for this environment");
        return Ok(None);
    };
    let (path, entries) = packages::check(location, tag).await?;
    printer.info(&format!(
        "init packages of {tag}: {entries} entries at {path}"
    ));
    Ok(Some(path))
}

/// Warns when the last stop or start did not finish, and says what the state holds.
pub async fn report_unfinished(
    settings: &Settings,
    tree: &Tree,
    printer: &Printer,
) -> anyhow::Result<()> {
    let journal = Journal::for_state_dir(&settings.state_dir);
    let last = journal.last_matching(|e| {
        (e.operation == "stop" || e.operation == "start")
            && matches!(e.event, Event::Finished { .. })
    })?;
    if let Some(entry) = last {
        if let Event::Finished { outcome, message } = &entry.event {
            if *outcome != Outcome::Ok {
                // A new data directory (another machine, a first run) is initialised first.
                let read = async {
                    if !tree.is_initialised() {
                        tree.init().await?;
                    }
                    tree.target_addresses().await
                };
                let present = match read.await {
                    Ok(addresses) => addresses.len().to_string(),
                    Err(e) => format!("an unknown number of (the state is unreadable: {e:#})"),
                };
                printer.warn(&format!(
                    "the last {} of `{}` ({}) ended {:?}: {message}",
                    entry.operation,
                    settings.env_name,
                    entry.time.format("%Y-%m-%d %H:%M UTC"),
                    outcome
                ));
                printer.warn(&format!(
                    "the state now holds {present} resource(s) under {}",
                    tree.target
                ));
            }
        }
    }
    Ok(())
}

/// Before a stop: the newest nightly backup and its age; none recent enough (or an
/// unreadable repository) needs its own confirmation.
pub async fn backup_gate(
    settings: &Settings,
    io: &Io<'_>,
    accept_old: bool,
) -> anyhow::Result<serde_json::Value> {
    let max_age = chrono::Duration::from_std(settings.borg.max_backup_age)
        .unwrap_or(chrono::Duration::hours(26));
    let newest = async {
        let borg = Borg::new(&settings.borg)?;
        borg.newest(&settings.borg.archive_prefix).await
    }
    .await;
    let (problem, detail) = match &newest {
        Ok(Some(archive)) => {
            let age = Utc::now() - archive.start;
            io.printer.info(&format!(
                "newest database backup: {} ({} old)",
                archive.name,
                crate::output::human_age(age)
            ));
            let detail = json!({"archive": archive.name, "age_seconds": age.num_seconds()});
            let problem = (age > max_age).then(|| {
                format!(
                    "the newest backup is {} old, older than {}",
                    crate::output::human_age(age),
                    crate::output::human_duration(settings.borg.max_backup_age)
                )
            });
            (problem, detail)
        }
        Ok(None) => (
            Some("there is no database backup at all".to_owned()),
            json!({"archive": null}),
        ),
        Err(e) => (
            Some(format!("the backups cannot be listed: {e:#}")),
            json!({"error": format!("{e:#}")}),
        ),
    };
    if let Some(problem) = problem {
        io.printer.warn(&problem);
        if !accept_old {
            io.prompter.confirm_exception(
                &format!("{problem}. Stop anyway?"),
                "pass --accept-old-backup to stop without a recent backup",
            )?;
        }
    }
    Ok(detail)
}

pub async fn resolve_tag(settings: &Settings, request: &PowerRequest) -> Result<String, CsiError> {
    if request.direction == Direction::Stop {
        return Ok(request
            .tag
            .clone()
            .unwrap_or_else(|| TAG_UNUSED_ON_DESTROY.to_owned()));
    }
    if let Some(tag) = &request.tag {
        return Ok(tag.clone());
    }
    match settings.terraform.packages_tag.as_str() {
        "git" => packages_tag::from_git(&settings.terraform.dir, request.allow_dirty).await,
        fixed => Ok(fixed.to_owned()),
    }
}

/// `--expect`, else csi.hcl's count, else the target module's resources as its
/// configuration declares them.
pub fn expectation(settings: &Settings, request: &PowerRequest) -> Result<Expectation, CsiError> {
    let tf = &settings.terraform;
    let (action, configured) = match request.direction {
        Direction::Stop => (Action::Delete, tf.expected_destroy),
        Direction::Start => (Action::Create, tf.expected_add),
    };
    let count = match (request.expect, configured) {
        (Some(count), _) => count,
        (None, Some(count)) => count as usize,
        (None, None) => terraform::expected::resources_in_target(&tf.dir, &tf.target)?,
    };
    Ok(Expectation { action, count })
}

/// init, plan to a private file, show -json, summarise, compare, print.
pub async fn checked_plan(
    tree: &Tree,
    settings: &Settings,
    request: &PowerRequest,
    io: &Io<'_>,
) -> anyhow::Result<CheckedPlan> {
    let tag = resolve_tag(settings, request).await?;
    let expected_count = expectation(settings, request)?;
    io.printer.info(&format!(
        "planning the {} of {} in `{}` with {}",
        verb(request.direction),
        tree.target,
        settings.env_name,
        tree.tf.path.display()
    ));
    tree.init().await?;
    let state = check_state(settings, tree).await?;
    let packages = match request.direction {
        Direction::Start => check_packages(settings, &tag, io.printer).await?,
        Direction::Stop => None,
    };
    let saved = tree
        .plan(request.direction, &tag, |event| match event {
            UiEvent::Diagnostic(d) if d.is_expected_warning() => {}
            UiEvent::Diagnostic(d) if !d.is_error() => {
                io.printer.warn(&format!("terraform: {}", d.one_line()))
            }
            UiEvent::Message(m) => io.printer.detail(&format!("terraform: {m}")),
            _ => {}
        })
        .await?;
    let json = tree.show(&saved).await?;
    let summary = PlanSummary::from_json(&json, &tree.target).map_err(crate::error::failed)?;
    drop(json);
    if let Some(planned) = &summary.identity {
        let where_ = tree.state_description();
        identity::check_planned(planned, &expected(settings, &where_))?;
    }
    let mismatches = plan::mismatches(&summary, expected_count, &tree.target);
    show::print_summary(io.printer, &summary, &mismatches);
    Ok(CheckedPlan {
        saved,
        summary,
        mismatches,
        tag,
        state,
        packages,
    })
}

/// A plan that differs from expectations goes ahead only with the operator's own,
/// separate yes at a terminal (`--yes` does not give it), or with `--expect N` when
/// only the count differs.
pub fn accept_differences(
    plan: &CheckedPlan,
    request: &PowerRequest,
    io: &Io<'_>,
) -> Result<(), CsiError> {
    if plan.mismatches.is_empty() {
        return Ok(());
    }
    let question = "The plan differs from what is expected. Apply it anyway?";
    io.prompter.confirm_exception(question, "").map_err(|_| {
        let how = if request.expect.is_some() {
            "the plan does not match --expect either"
        } else {
            "review the plan; if it is what you expect, state the count with --expect N"
        };
        CsiError::new(
            Kind::Precondition,
            format!(
                "refused: the plan differs from what is expected ({})",
                plan.mismatches.join("; ")
            ),
        )
        .with_hint(how)
    })
}

/// Applies the saved plan with a progress display; journals what terraform reported.
pub async fn apply(
    tree: &Tree,
    plan: &CheckedPlan,
    op: &Operation,
    io: &Io<'_>,
) -> anyhow::Result<ApplyReport> {
    let mut display = ApplyDisplay::new(io.printer, plan.summary.changes.len());
    let result = tree
        .apply(&plan.saved, |event| display.on_event(event))
        .await;
    display.finish();
    match result {
        Ok(report) => {
            op.step("apply", json!({"completed": report.completed.len()}))?;
            Ok(report)
        }
        Err((report, error)) => {
            let step = if crate::error::kind_of(&error) == Kind::Interrupted {
                "interrupted"
            } else {
                "apply_failed"
            };
            op.step(step, json!({"completed": report.completed, "errored": report.errored, "errors": report.errors}))?;
            let done = report.completed.len();
            let total = plan.summary.changes.len();
            Err(error.context(format!(
                "{done} of {total} changes were applied before terraform stopped"
            )))
        }
    }
}

/// The state after the apply: a stop leaves nothing under the target; a start has
/// every planned resource.
pub async fn verify(
    tree: &Tree,
    direction: Direction,
    summary: &PlanSummary,
) -> anyhow::Result<usize> {
    let present = tree.target_addresses().await?;
    match direction {
        Direction::Stop if !present.is_empty() => Err(verification(format!(
            "{} resource(s) remain under {} after the stop: {}",
            present.len(),
            tree.target,
            present.join(", ")
        ))
        .into()),
        Direction::Start => {
            let missing: Vec<&str> = summary
                .changes
                .iter()
                .filter(|c| c.action == Action::Create && !present.contains(&c.address))
                .map(|c| c.address.as_str())
                .collect();
            if missing.is_empty() {
                Ok(present.len())
            } else {
                Err(verification(format!(
                    "planned resources missing from the state: {}",
                    missing.join(", ")
                ))
                .into())
            }
        }
        Direction::Stop => Ok(0),
    }
}

pub use nomad_wait::wait_for_services;
