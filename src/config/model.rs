//! The shape of `csi.hcl`, as written in the file. Every struct refuses unknown keys.
//! Nothing here is resolved: see `settings` for the values csi actually uses.

use indexmap::IndexMap;
use serde::Deserialize;

mod dashboard;
mod ssh;
pub use dashboard::{DashboardFile, FileName, RemoteDir, SshWord};
pub use ssh::{JumpHosts, SshFile};

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where locks and journals live; default `$XDG_STATE_HOME/csi`.
    pub state_dir: Option<String>,
    /// Services shared by every environment that declares none of its own.
    #[serde(default)]
    pub service: IndexMap<String, ServiceFile>,
    /// Restart waves shared by every environment that declares none.
    pub waves: Option<Vec<Vec<String>>>,
    /// The wave restart's gate and polling (`csi env restart-waves`) for every environment.
    pub restart: Option<RestartFile>,
    /// Job repair defaults (`csi env jobs`) for every environment.
    pub jobs: Option<JobsFile>,
    #[serde(default)]
    pub environment: IndexMap<String, EnvironmentFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentFile {
    #[serde(default)]
    pub protected: bool,
    pub description: Option<String>,
    /// Overrides the top-level state_dir for this environment.
    pub state_dir: Option<String>,
    pub terraform: TerraformFile,
    pub nomad: NomadFile,
    pub database: DatabaseFile,
    pub borg: BorgFile,
    #[serde(default)]
    pub service: IndexMap<String, ServiceFile>,
    pub waves: Option<Vec<Vec<String>>>,
    /// Overrides the top-level `restart` block, key by key.
    pub restart: Option<RestartFile>,
    /// Overrides the top-level `jobs` block, key by key.
    pub jobs: Option<JobsFile>,
    /// The web host of the dashboard (`csi env deploy-dashboard`).
    pub dashboard: Option<DashboardFile>,
    /// The host the database and the borg repository live on, reached with ssh
    /// (`database.over_ssh`, `borg.over_ssh`, `nomad.over_ssh`).
    pub ssh: Option<SshFile>,
}

/// `jobs { pause = "2s", retry_from = [...], retry_to = [...] }` for `csi env jobs`.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct JobsFile {
    /// Pause between two jobs written (the services are live); default 2s.
    pub pause: Option<String>,
    /// Statuses `retry` selects; default internal_error, external_error.
    pub retry_from: Option<Vec<String>>,
    /// Statuses `retry` walks them through; default error_checked, ready.
    pub retry_to: Option<Vec<String>>,
}

/// `restart { gate_sql = "...", nrt_max_age = "3h", recent_production = "6h",
/// poll_interval = "1m" }` for `csi env restart-waves`.
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RestartFile {
    /// The gate "caught up with NRT production", per job type (see the README).
    pub gate_sql: Option<String>,
    /// An NRT job still not finished after this long counts as backlog; default 3h.
    pub nrt_max_age: Option<String>,
    /// A job type must have produced within this long (and since it was enabled); default 6h.
    pub recent_production: Option<String>,
    /// How often the gate is evaluated; default 1m.
    pub poll_interval: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformFile {
    pub dir: String,
    /// `terraform`, `tofu` or a path; autodetected when absent.
    pub binary: Option<String>,
    #[serde(default = "default_target")]
    pub target: String,
    pub configuration_var_file: String,
    pub secrets_var_file: String,
    /// Default: the `resource` blocks of the target module's files.
    pub expected_add: Option<u32>,
    pub expected_destroy: Option<u32>,
    #[serde(default = "default_parallelism")]
    pub parallelism: u32,
    #[serde(default = "default_lock_timeout")]
    pub lock_timeout: String,
    /// The OpenStack project the environment lives in: the state's record and the plan
    /// (the project the credentials act in) must match.
    pub openstack_project_id: Option<String>,
    /// `git` (git-hash-<8 hex of HEAD>, `-changed` when tracked files changed) or a fixed tag.
    #[serde(default = "default_packages_tag")]
    pub packages_tag: String,
    /// A local backend's state file, relative to csi.hcl (one per environment, outside
    /// the tree's tracked files). Exclusive with `backend_config`.
    pub state_file: Option<String>,
    /// A `-backend-config` file for the tree's remote backend (S3), relative to the tree.
    pub backend_config: Option<String>,
    /// Where the instance-init packages live, as rclone names it
    /// (`csi:<bucket>/instance_init_packages`); a start checks `<this>/<tag>` exists.
    pub packages_location: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NomadFile {
    pub address: Option<String>,
    pub namespace: Option<String>,
    pub region: Option<String>,
    pub ca_cert: Option<String>,
    /// A folder of PEM CA certificates (as NOMAD_CAPATH).
    pub ca_path: Option<String>,
    /// The client certificate and key (PEM) for mutual TLS.
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    /// The name the server's certificate is checked against (e.g. server.global.nomad).
    pub tls_server_name: Option<String>,
    /// Accept any server certificate (as NOMAD_SKIP_VERIFY); never for production.
    pub skip_verify: Option<bool>,
    /// A file holding the ACL token (never the token itself in this file).
    pub token_file: Option<String>,
    /// Where the services' job files are; default `nomad` next to csi.hcl.
    pub jobs_dir: Option<String>,
    /// Values of the job files' allow-listed `$VARIABLES` (non-secret ones only).
    #[serde(default)]
    pub template_values: IndexMap<String, String>,
    /// Files whose whole content fills a `$VARIABLE` (the env files spliced into heredocs).
    #[serde(default)]
    pub template_files: IndexMap<String, String>,
    /// The image tags patch-image accepts; default `git-[0-9a-f]{8}`.
    pub tag_pattern: Option<String>,
    /// How long a rollout may take before it counts as failed; default 5m.
    pub deploy_timeout: Option<String>,
    /// doctor --fix lowers a pending task's CPU (MHz) by this step...
    pub cpu_step: Option<u32>,
    /// ...down to this floor.
    pub cpu_floor: Option<u32>,
    /// Reach `address` through the environment's ssh host (a forwarded port): for a
    /// Nomad that only the admin VM or the database host can reach.
    #[serde(default)]
    pub over_ssh: bool,
    /// The `$VARIABLES` csi renders; default production's envsubst list
    /// (`CSI_ROOT_DIR CSI_CONFIG_ENV_FILE_CONTENT CSI_SECRETS_ENV_FILE_CONTENT GITLAB_TOKEN_PASSWORD`).
    pub template_variables: Option<Vec<String>>,
    /// Restarts a task of a new version may have before csi fails the deployment; default 1.
    pub restart_budget: Option<u32>,
    /// How long stopped services may take to be terminal (kill_timeout); default 2m.
    pub stop_timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFile {
    pub job_file: String,
    pub job_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseFile {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub name: Option<String>,
    pub service: Option<String>,
    #[serde(default = "default_schema")]
    pub schema: String,
    /// A file holding the password (never the password itself in this file).
    pub password_file: Option<String>,
    /// A PostgreSQL server where `db-patch` rehearses (a URL); default: a throwaway
    /// local cluster started for the rehearsal.
    pub scratch_database: Option<String>,
    /// PostgreSQL listens on a unix socket of the environment's ssh host only: csi
    /// forwards that socket over ssh (`host` must then be unset).
    #[serde(default)]
    pub over_ssh: bool,
    /// With `over_ssh`: the socket's folder on the ssh host (Debian's default).
    pub socket_dir: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BorgFile {
    pub repository: Option<String>,
    #[serde(default = "default_archive_prefix")]
    pub archive_prefix: String,
    /// A stop with no archive younger than this needs its own confirmation.
    #[serde(default = "default_max_backup_age")]
    pub max_backup_age: String,
    pub rsh: Option<String>,
    pub passcommand: Option<String>,
    /// The repository is a path on the environment's ssh host, read through the
    /// environment's ssh connection.
    #[serde(default)]
    pub over_ssh: bool,
    /// The borg run on the repository's host (BORG_REMOTE_PATH), e.g. `sudo borg` for
    /// a repository root owns.
    pub remote_path: Option<String>,
}

fn default_target() -> String {
    "module.core".into()
}
fn default_parallelism() -> u32 {
    2
}
fn default_lock_timeout() -> String {
    "5m".into()
}
fn default_packages_tag() -> String {
    "git".into()
}
fn default_schema() -> String {
    "cosims".into()
}
fn default_archive_prefix() -> String {
    "pgdump_".into()
}
fn default_max_backup_age() -> String {
    "26h".into()
}
