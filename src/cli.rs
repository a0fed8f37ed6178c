//! The command line, as clap sees it. Nothing here does any work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::OutputFormat;

#[derive(Debug, Parser)]
#[command(
    name = "csi",
    version,
    about = "Safe, resumable operations for the HR-S&I snow-and-ice production system",
    long_about = "csi turns the HR-S&I runbook into commands that plan, show, confirm, \
                  execute and verify. Every change is locked per environment and journaled."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Configuration file (default: $CSI_CONFIG, then csi.hcl here or in a parent)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where locks and journals live (default: from the config, then $XDG_STATE_HOME/csi)
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Output format for data on stdout
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// More detail (repeat for debug logs)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors and data
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Answer yes to confirmations (never to a plan that differs from expectations)
    #[arg(long, global = true)]
    pub yes: bool,
    /// Plan and show, change nothing
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// No colours (also: NO_COLOR)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Stream dumps and restores through this machine even when the database and the
    /// repository share an ssh host (which then cannot run csi itself)
    #[arg(long, global = true)]
    pub through_client: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Operate an environment (prod, test, sandbox, ...)
    #[command(subcommand)]
    Env(EnvCommand),
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    Man,
    /// Run on the ssh host by csi itself: one request on stdin, its result on stdout
    #[command(hide = true)]
    Agent,
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// List the configured environments and their key settings
    List,
    /// Preflight: tools, var files, project, Nomad, database, borg
    Check(EnvArg),
    /// Show the environment's journal of operations
    History(HistoryArgs),
    /// Stop the environment: destroy the terraform target through a checked plan
    Stop(StopArgs),
    /// Start the environment: apply the terraform target through a checked plan
    Start(StartArgs),
    /// Print the checked plan of a stop or a start; change nothing
    Plan(PlanArgs),
    /// Set the image tag of services in their job files and roll them out through Nomad
    PatchImage(PatchImageArgs),
    /// Compare each service's job file with what runs in Nomad
    Drift(EnvArg),
    /// Find pending, blocked or missing services; --fix repairs them
    Doctor(DoctorArgs),
    /// List the database backups (borg archives), newest first, with age and size
    Backups(EnvArg),
    /// Back up the database now, like the nightly job; kept only if the dump is complete
    Backup(EnvArg),
    /// Restore the database from a backup: all or nothing, verified, services stopped around it
    RestoreDb(RestoreDbArgs),
    /// Select jobs (type, status, ids, tile, time range) and repair stuck ones through
    /// authorized status transitions
    Jobs(JobsArgs),
    /// Apply a schema patch: rehearsed on a scratch copy, backed up, applied in one
    /// transaction, recorded in a ledger so that it is applied once
    DbPatch(DbPatchArgs),
    /// Show, set and trace the system parameters (cosims.system_parameters), typed by
    /// the database catalog
    Params(ParamsArgs),
    /// Restart after a long downtime: preflight parameters, then job types back in waves,
    /// each once the previous ones caught up with NRT production; resumable
    RestartWaves(RestartWavesArgs),
    /// Upgrade in one command: safety backup, schema migrations rehearsed and applied,
    /// then every service rolled out to the tag (rolled back together on failure); resumable
    Upgrade(UpgradeArgs),
    /// One screen: terraform, Nomad services, database, waves, backup, lock, last operation
    Status(StatusArgs),
    /// Clear a lock left behind by an operation that died
    Unlock(EnvArg),
    /// Deploy the dashboard to its web host over ssh: unpack beside the live folder,
    /// swap, keep the previous versions, verify; --rollback swaps the previous one back
    DeployDashboard(DeployDashboardArgs),
    /// List the processing images per job type, or set one (a system parameter)
    ProcessingImage(ProcessingImageArgs),
    /// Print the resolved settings and where each came from (secrets redacted)
    #[command(hide = true)]
    ShowSettings(EnvArg),
}

#[derive(Debug, Args)]
pub struct EnvArg {
    /// The environment's name in csi.hcl
    pub env: String,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    pub env: String,
    /// Show only the last N operations
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Show every step, not only starts and outcomes
    #[arg(long)]
    pub steps: bool,
}

/// How the terraform plan is made and checked.
#[derive(Debug, Args, Clone)]
pub struct PlanFlags {
    /// The number of resources you expect the plan to destroy (stop) or create (start),
    /// when it differs from the configured count
    #[arg(long, value_name = "N")]
    pub expect: Option<usize>,
    /// Instance-init packages tag (default: git-hash-<HEAD> of the terraform tree)
    #[arg(long)]
    pub tag: Option<String>,
    /// Accept a dirty git work tree (the tag gets `-changed`)
    #[arg(long)]
    pub allow_dirty: bool,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    pub env: String,
    #[command(flatten)]
    pub plan: PlanFlags,
    /// Stop even when no backup is younger than borg.max_backup_age
    #[arg(long)]
    pub accept_old_backup: bool,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    pub env: String,
    #[command(flatten)]
    pub plan: PlanFlags,
    /// Do not wait for Nomad and the services after the apply
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait for Nomad and the services
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = humantime::parse_duration)]
    pub wait_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    pub env: String,
    /// Which operation to plan
    #[arg(value_enum)]
    pub operation: PlanOperation,
    #[command(flatten)]
    pub plan: PlanFlags,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PlanOperation {
    Stop,
    Start,
}

#[derive(Debug, Args)]
pub struct PatchImageArgs {
    pub env: String,
    /// The services to patch, then the new tag: `job-creation monitor git-0123abcd`
    #[arg(required = true, num_args = 1.., value_name = "SERVICE... TAG")]
    pub words: Vec<String>,
    /// Patch every configured service (then give only the tag)
    #[arg(long)]
    pub all: bool,
    /// Rewrite the job files and stop: submit nothing to Nomad
    #[arg(long, conflicts_with = "live")]
    pub no_submit: bool,
    /// Patch only the running job in Nomad, not the file (lost at the next full restart)
    #[arg(long)]
    pub live: bool,
    /// On a failed rollout, leave the failed version in place (not with --live: a
    /// failed live patch is always reverted, the file still holds the old tag)
    #[arg(long, conflicts_with = "live")]
    pub no_revert: bool,
    /// How long each rollout may take (default: nomad.deploy_timeout, 5m)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub timeout: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    pub env: String,
    /// Repair: resubmit missing services, lower the CPU of pending ones
    #[arg(long)]
    pub fix: bool,
    /// With --fix, also write the lowered CPU into the job file
    #[arg(long, requires = "fix")]
    pub persist: bool,
}

#[derive(Debug, Args)]
pub struct RestoreDbArgs {
    pub env: String,
    /// The archive: its exact name, `latest` (the newest nightly archive), or a day
    /// YYYY-MM-DD (the newest nightly archive dumped on or before it)
    #[arg(long, value_name = "NAME|latest|YYYY-MM-DD")]
    pub archive: String,
    /// Do not stop the orchestrator services (the restore waits for their locks)
    #[arg(long)]
    pub keep_services: bool,
    /// Do not back up the current database first (the restore cannot be undone then)
    #[arg(long)]
    pub no_safety_backup: bool,
    /// Restore only these tables' rows and sequences, into the existing schema
    #[arg(long, value_delimiter = ',', value_name = "TABLE,...")]
    pub tables: Vec<String>,
    /// With --tables: leave out the dump's columns that the tables do not have
    #[arg(long, requires = "tables")]
    pub ignore_missing_columns: bool,
    /// Restore into this database instead (e.g. a scratch copy); the environment's
    /// database and services are not touched
    #[arg(long, value_name = "POSTGRES_URL")]
    pub to: Option<String>,
    /// The database of the dump to restore, when it is not named like database.name
    #[arg(long, value_name = "NAME")]
    pub source_database: Option<String>,
    /// Also apply the dump's role statements (existing roles are kept, their attributes
    /// set as in the dump)
    #[arg(long, conflicts_with = "tables")]
    pub include_globals: bool,
    /// How long the restore waits for locks on the schema
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub lock_timeout: std::time::Duration,
    /// Connections loading the schema at once (a full restore: rows of different
    /// chunks, then indexes and constraints, in parallel into a staging schema swapped
    /// in at the end)
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32), conflicts_with_all = ["tables", "include_globals"])]
    pub jobs: u16,
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    pub env: String,
    #[command(subcommand)]
    pub action: JobsAction,
}

#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Counts per status and a page of the selected jobs
    List(Box<JobsListArgs>),
    /// Walk the selected jobs through statuses, e.g. `--to error_checked,ready`
    SetStatus(Box<SetStatusArgs>),
    /// The usual repair: jobs in jobs.retry_from (internal_error, external_error) walked
    /// through jobs.retry_to (error_checked, ready)
    Retry(Box<RetryArgs>),
}

/// Which jobs: every option narrows the selection.
#[derive(Debug, Args, Clone)]
pub struct JobSelectionArgs {
    /// Job types: fsc_rlie, rlies1, rlies1s2, sws_wds, gfsc, psa_arlie, test, other
    /// (any `<type>_jobs` table of the schema)
    #[arg(long = "type", value_delimiter = ',', value_name = "TYPE,...")]
    pub types: Vec<String>,
    /// Current statuses, by name or id
    #[arg(long, value_delimiter = ',', value_name = "STATUS,...")]
    pub status: Vec<String>,
    /// Job ids (parent_jobs.id) and ranges: 42,50-60
    #[arg(long = "id", value_delimiter = ',', value_name = "ID|FIRST-LAST,...")]
    pub ids: Vec<String>,
    /// Tiles (parent_jobs.tile_id)
    #[arg(long, value_delimiter = ',', value_name = "TILE,...")]
    pub tile: Vec<String>,
    /// The date column of the type's table that --since/--before apply to
    /// (default: the type's measurement date, e.g. measurement_date_start for rlies1,
    /// product_date for gfsc)
    #[arg(long, value_name = "COLUMN")]
    pub date_column: Option<String>,
    /// Jobs whose date is at or after this: 2026-11-20, 2026-11-20T10:00:00 (UTC) or RFC 3339
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Jobs whose date is strictly before this
    #[arg(long, value_name = "TIME")]
    pub before: Option<String>,
}

#[derive(Debug, Args)]
pub struct JobsListArgs {
    #[command(flatten)]
    pub selection: JobSelectionArgs,
    /// Jobs shown (the counts cover the whole selection)
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: i64,
    /// Jobs skipped before the page (by id order)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub offset: i64,
}

/// How a walk is written.
#[derive(Debug, Args, Clone)]
pub struct WalkFlags {
    /// Refuse the whole command when any selected job's walk is not authorized
    /// (default: such jobs are listed and skipped)
    #[arg(long)]
    pub strict: bool,
    /// Pause between two jobs written (default: jobs.pause, 2s)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub pause: Option<std::time::Duration>,
    /// At most N jobs of the selection, in id order
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

#[derive(Debug, Args)]
pub struct SetStatusArgs {
    #[command(flatten)]
    pub selection: JobSelectionArgs,
    /// The statuses to walk each job through, in order
    #[arg(
        long,
        required = true,
        value_delimiter = ',',
        value_name = "STATUS,..."
    )]
    pub to: Vec<String>,
    #[command(flatten)]
    pub walk: WalkFlags,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    #[command(flatten)]
    pub selection: JobSelectionArgs,
    /// The statuses to walk each job through (default: jobs.retry_to)
    #[arg(long, value_delimiter = ',', value_name = "STATUS,...")]
    pub to: Vec<String>,
    #[command(flatten)]
    pub walk: WalkFlags,
}

#[derive(Debug, Args)]
pub struct DbPatchArgs {
    pub env: String,
    /// The patch, a file of SQL statements
    #[arg(
        required_unless_present = "list",
        conflicts_with = "list",
        value_name = "FILE.sql"
    )]
    pub file: Option<PathBuf>,
    /// Show the patches applied to the environment (the ledger)
    #[arg(long)]
    pub list: bool,
    /// Apply without rehearsing on a scratch copy first (refused on a protected environment)
    #[arg(long)]
    pub skip_rehearsal: bool,
    /// Run the statements one by one instead of in one transaction: needed for
    /// CREATE INDEX CONCURRENTLY, VACUUM and the like; a failure leaves the earlier
    /// statements applied
    #[arg(long)]
    pub no_transaction: bool,
    /// Do not back up the database to borg first (refused on a protected environment)
    #[arg(long)]
    pub no_safety_backup: bool,
    /// How long a statement of the patch waits for a lock before the patch fails
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub lock_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    pub env: String,
    /// The image tag every service is rolled out to
    #[arg(long, required_unless_present = "abandon")]
    pub tag: Option<String>,
    /// A migration (SQL file) the running version tolerates, applied before the
    /// rollout; repeat for several, applied in the order given
    #[arg(long = "migrate", value_name = "FILE.sql")]
    pub migrations: Vec<PathBuf>,
    /// Go ahead although the job files and Nomad differ
    #[arg(long)]
    pub allow_drift: bool,
    /// Give up the unfinished upgrade (nothing is undone), so that another can begin
    #[arg(long, conflicts_with_all = ["tag", "migrations", "allow_drift"])]
    pub abandon: bool,
    /// How long each service's rollout may take (default: nomad.deploy_timeout, 5m)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// How long a migration's statement waits for a lock before the migration fails
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub lock_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct ParamsArgs {
    pub env: String,
    #[command(subcommand)]
    pub action: ParamsAction,
}

#[derive(Debug, Subcommand)]
pub enum ParamsAction {
    /// Every parameter: name, type, value
    List,
    /// One parameter's value (nothing printed for null)
    Get {
        /// The parameter (a column of system_parameters)
        name: String,
    },
    /// Set parameters in one transaction: `set NAME VALUE [NAME VALUE]...`; `null`
    /// clears a nullable one
    Set {
        #[arg(required = true, num_args = 2.., allow_negative_numbers = true, value_name = "NAME VALUE")]
        pairs: Vec<String>,
    },
    /// The changes recorded in system_parameters_history: which, from what to what, when
    History {
        /// Only this parameter (its first recorded value included)
        name: Option<String>,
        /// Only the last N changes
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
}

#[derive(Debug, Args)]
pub struct RestartWavesArgs {
    pub env: String,
    /// The downtime, instead of the journal's or the database's (e.g. 5d, 36h)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub downtime: Option<std::time::Duration>,
    /// How a wave's gate is decided: the gate SQL, or the operator
    #[arg(long, value_enum, default_value_t = GateArg::Sql)]
    pub gate: GateArg,
    /// Skip the gate the restart waits for (or the next one), once; journaled
    #[arg(long)]
    pub skip_gate: bool,
    /// Where the restart stands: current wave, gate values, since when
    #[arg(long, conflicts_with_all = ["abort", "skip_gate", "detach", "downtime"])]
    pub status: bool,
    /// Stop the restart; the parameters stay as they are
    #[arg(long, conflicts_with_all = ["skip_gate", "detach", "downtime"])]
    pub abort: bool,
    /// Keep running after the terminal closes, output to a log file in the state directory
    #[arg(long)]
    pub detach: bool,
    /// How often the gate is checked (default: restart.poll_interval)
    #[arg(long, hide = true, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub poll: Option<std::time::Duration>,
    /// Set on the process `--detach` starts
    #[arg(long, hide = true)]
    pub detached_child: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GateArg {
    Sql,
    Manual,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    pub env: String,
    /// Refresh until interrupted
    #[arg(long)]
    pub watch: bool,
    /// How often --watch refreshes
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub every: std::time::Duration,
    /// How long each source may take before it is shown as unavailable
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct DeployDashboardArgs {
    pub env: String,
    /// The built dashboard: a directory (e.g. dist/) or a tarball (.tar, .tar.gz, .tgz, ...)
    #[arg(
        required_unless_present = "rollback",
        conflicts_with = "rollback",
        value_name = "DIST"
    )]
    pub source: Option<PathBuf>,
    /// Swap the previous version (<live>.prev) back in; the current one becomes <live>.prev
    #[arg(long)]
    pub rollback: bool,
}

#[derive(Debug, Args)]
pub struct ProcessingImageArgs {
    pub env: String,
    /// The job type: a `docker_image_for_<type>_processing` parameter of the schema
    /// (si, gfsc, sws_wds, rliepart2, test_job); without it, every image is listed
    #[arg(requires = "image", value_name = "JOB_TYPE")]
    pub job_type: Option<String>,
    /// The new image: registry/path/name:tag or registry/path/name@sha256:<64 hex>
    #[arg(value_name = "IMAGE")]
    pub image: Option<String>,
}
