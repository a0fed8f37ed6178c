//! The values csi uses for one environment, resolved once: flags, then the
//! configuration file, then environment variables, then defaults. What csi.hcl sets for an environment wins: an
//! environment variable (`NOMAD_ADDR`, `PGHOST`, `BORG_REPO`, ...) only fills what the
//! environment leaves unset, and one that disagrees with the file is reported
//! (`Settings::ignored_env`), so that a shell exported for production never redirects
//! another environment. Credentials still come from their variables and files.
//! Nothing else reads the environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config::{EnvironmentFile, LoadedConfig};
use crate::env_vars;
use crate::error::{usage, CsiError};
use crate::secret::Secret;

/// The restart waves of the reference, each listing the job types it adds.
pub const DEFAULT_WAVES: &[&[&str]] = &[
    &["fsc_rlie_job", "rlies1_job"],
    &["sws_wds_job", "rlies1s2_job"],
    &["gfsc_job"],
];

#[derive(Debug, Serialize)]
pub struct Settings {
    pub config_path: PathBuf,
    pub env_name: String,
    pub protected: bool,
    /// This environment's own folder for its lock and journal.
    pub state_dir: PathBuf,
    pub terraform: TerraformSettings,
    pub nomad: NomadSettings,
    pub services: Vec<Service>,
    pub database: DatabaseSettings,
    pub borg: BorgSettings,
    /// The host the database, the borg repository (and maybe Nomad) are reached
    /// through, when the environment has an `ssh` block.
    pub ssh: Option<SshSettings>,
    pub waves: Vec<Vec<String>>,
    pub restart: RestartSettings,
    pub jobs: JobsSettings,
    /// Where `db-patch` rehearses: a PostgreSQL URL (its password registered as a
    /// secret, so never printed); None: a throwaway local cluster.
    pub scratch_database: Option<String>,
    /// Where each overridable value came from (`flag --x`, `csi.hcl`, `env var NAME`,
    /// `default`).
    pub origins: Origins,
    /// One line per environment variable that was set but ignored because csi.hcl
    /// sets the value otherwise (printed as a warning when settings are resolved).
    pub ignored_env: Vec<String>,
    /// The environment's ssh connection once `ssh::attach` opened it (the database,
    /// borg and Nomad settings then point through it); closed when this is dropped.
    #[serde(skip)]
    pub transport: Option<std::sync::Arc<crate::ssh::Session>>,
}

/// Where each value came from, and the variables the file overrode.
#[derive(Debug, Default, Serialize)]
#[serde(transparent)]
pub struct Origins {
    map: BTreeMap<&'static str, String>,
    #[serde(skip)]
    ignored: Vec<String>,
}

impl Origins {
    pub fn insert(&mut self, key: &'static str, origin: impl Into<String>) {
        self.map.insert(key, origin.into());
    }

    pub fn get(&self, key: &str) -> Option<&String> {
        self.map.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.map.iter().map(|(k, v)| (*k, v.as_str()))
    }
}

/// The origin labels `show-settings` and `env check` print.
pub const FROM_FILE: &str = "csi.hcl";
pub const FROM_DEFAULT: &str = "default";

fn from_var(var: &str) -> String {
    format!("env var {var}")
}

#[derive(Debug, Serialize)]
pub struct TerraformSettings {
    pub dir: PathBuf,
    pub binary: Option<String>,
    pub target: String,
    pub configuration_var_file: PathBuf,
    pub secrets_var_file: PathBuf,
    /// None: counted from the target module's configuration (`terraform::expected`).
    pub expected_add: Option<u32>,
    pub expected_destroy: Option<u32>,
    pub parallelism: u32,
    pub lock_timeout: String,
    pub openstack_project_id: Option<String>,
    pub packages_tag: String,
    /// Names (never values) of TF_VAR_* variables terraform will also see.
    pub tf_var_names: Vec<String>,
    /// Where the state lives: a local file of this environment, or the backend file.
    pub state: StateLocation,
    pub packages_location: Option<String>,
    /// terraform's working data (`TF_DATA_DIR`: providers, modules, the backend
    /// initialised), this environment's own, under its state directory.
    pub data_dir: PathBuf,
}

/// Where an environment's terraform state is kept.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StateLocation {
    /// The local backend, at this file (`-backend-config=path=...`).
    LocalFile(PathBuf),
    /// A remote backend configured by this file (`-backend-config=FILE`).
    BackendConfig(PathBuf),
    /// Neither configured: whatever the tree's backend block says.
    TreeDefault,
}

#[derive(Debug, Default, Serialize)]
pub struct NomadSettings {
    pub address: Option<String>,
    pub token: Option<Secret>,
    pub namespace: Option<String>,
    pub region: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub ca_path: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub tls_server_name: Option<String>,
    pub skip_verify: bool,
    /// `user:password` for HTTP basic authentication (NOMAD_HTTP_AUTH).
    pub http_auth: Option<Secret>,
    pub template_values: BTreeMap<String, String>,
    pub template_files: BTreeMap<String, PathBuf>,
    pub tag_pattern: String,
    #[serde(with = "humantime_serde_compat")]
    pub deploy_timeout: Duration,
    pub cpu_step: u32,
    pub cpu_floor: u32,
    /// The address is reached through a port forwarded by the ssh host.
    pub over_ssh: bool,
    /// The `$VARIABLES` rendered into job files (production's envsubst list by default).
    pub template_variables: Vec<String>,
    /// Restarts a task of a new version may have before csi fails the deployment.
    pub restart_budget: u32,
    /// How long a stop may take until every stopped allocation is terminal.
    #[serde(with = "humantime_serde_compat")]
    pub stop_timeout: Duration,
}

const DEFAULT_JOBS_DIR: &str = "nomad";
const DEFAULT_DEPLOY_TIMEOUT: Duration = Duration::from_secs(300);
const DEFAULT_CPU_STEP: u32 = 500;
const DEFAULT_CPU_FLOOR: u32 = 500;
const DEFAULT_RESTART_BUDGET: u32 = 1;
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: String,
    pub job_file: PathBuf,
    pub job_id: String,
}

#[derive(Debug, Serialize)]
pub struct DatabaseSettings {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub name: Option<String>,
    pub service: Option<String>,
    pub schema: String,
    pub password: Option<Secret>,
    /// PostgreSQL is reached through the ssh host's unix socket in `socket_dir`.
    pub over_ssh: bool,
    pub socket_dir: String,
    /// Once reached over ssh: the remote socket and the ssh destination, for messages
    /// (`host` is then a private local folder that means nothing to the operator).
    /// `(remote socket, ssh destination)`.
    pub via: Option<(String, String)>,
}

/// Debian's (and the PGDG packages') socket folder.
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// The environment's `ssh` block, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct SshSettings {
    pub host: String,
    pub user: String,
    pub port: u16,
    pub jump: Option<String>,
    pub identity_file: Option<PathBuf>,
    pub known_hosts_file: Option<PathBuf>,
    pub strict_host_keys: bool,
}

#[derive(Debug, Serialize)]
pub struct BorgSettings {
    pub repository: Option<String>,
    pub archive_prefix: String,
    #[serde(with = "humantime_serde_compat")]
    pub max_backup_age: Duration,
    pub rsh: Option<String>,
    pub passphrase: Option<Secret>,
    pub passcommand: Option<String>,
    /// The repository is a path on the ssh host, read through the ssh connection.
    pub over_ssh: bool,
    pub remote_path: Option<String>,
}

/// `csi env restart-waves`: the gate and how often it is evaluated.
#[derive(Debug, Serialize)]
pub struct RestartSettings {
    /// Gate SQL; `{schema}` stands for the quoted schema (see crate::waves::gate).
    pub gate_sql: String,
    #[serde(with = "humantime_serde_compat")]
    pub nrt_max_age: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub recent_production: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub poll_interval: Duration,
}

/// `csi env jobs`: the pause between jobs and what `retry` means.
#[derive(Debug, Serialize)]
pub struct JobsSettings {
    #[serde(with = "humantime_serde_compat")]
    pub pause: Duration,
    /// Status names, resolved against the database's `job_status` when a command runs.
    pub retry_from: Vec<String>,
    pub retry_to: Vec<String>,
}

const DEFAULT_JOBS_PAUSE: Duration = Duration::from_secs(2);
const DEFAULT_RETRY_FROM: &[&str] = &["internal_error", "external_error"];
const DEFAULT_RETRY_TO: &[&str] = &["error_checked", "ready"];

/// Values given on the command line that override everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub state_dir: Option<PathBuf>,
}

pub fn resolve(
    config: &LoadedConfig,
    env_name: &str,
    overrides: &Overrides,
) -> Result<Settings, CsiError> {
    let env = environment(config, env_name)?;
    let base = config.base_dir();
    let mut origins = Origins::default();
    let state_dir = state_dir(config, env, overrides, &mut origins)?.join(env_name);
    let mut settings = Settings {
        config_path: config.path.clone(),
        env_name: env_name.to_owned(),
        protected: env.protected,
        terraform: terraform(env, base, &state_dir)?,
        state_dir,
        nomad: nomad(env, base, &mut origins)?,
        services: services(config, env, base),
        database: database(env, base, &mut origins)?,
        borg: borg(env, base, &mut origins)?,
        ssh: ssh(env, base)?,
        waves: waves(config, env),
        restart: restart(config, env, &mut origins)?,
        jobs: jobs(config, env)?,
        scratch_database: scratch_database(env)?,
        origins,
        ignored_env: Vec::new(),
        transport: None,
    };
    settings.ignored_env = std::mem::take(&mut settings.origins.ignored);
    Ok(settings)
}

pub fn environment<'a>(
    config: &'a LoadedConfig,
    env_name: &str,
) -> Result<&'a EnvironmentFile, CsiError> {
    config.file.environment.get(env_name).ok_or_else(|| {
        let known: Vec<&str> = config.file.environment.keys().map(String::as_str).collect();
        usage(format!(
            "unknown environment `{env_name}` in {}",
            config.path.display()
        ))
        .with_hint(format!("known environments: {}", known.join(", ")))
    })
}

/// Picks the file's value when it sets one, else the environment variable, and records
/// which; a variable that disagrees with the file is noted as ignored.
fn pick(
    origins: &mut Origins,
    key: &'static str,
    var: &'static str,
    file: Option<String>,
) -> Option<String> {
    let from_env = env_vars::get(var);
    match (file, from_env) {
        (Some(file), env) => {
            if let Some(env) = env.filter(|env| *env != file) {
                origins.ignored.push(format!(
                    "ignoring {var}={env}: csi.hcl sets {key} = {file} for this environment"
                ));
            }
            origins.insert(key, FROM_FILE);
            Some(file)
        }
        (None, Some(env)) => {
            origins.insert(key, from_var(var));
            Some(env)
        }
        (None, None) => {
            origins.insert(key, FROM_DEFAULT);
            None
        }
    }
}

fn state_dir(
    config: &LoadedConfig,
    env: &EnvironmentFile,
    overrides: &Overrides,
    origins: &mut Origins,
) -> Result<PathBuf, CsiError> {
    if let Some(dir) = &overrides.state_dir {
        origins.insert("state_dir", "flag --state-dir");
        return Ok(dir.clone());
    }
    let from_file = env.state_dir.as_ref().or(config.file.state_dir.as_ref());
    if let Some(dir) = pick(
        origins,
        "state_dir",
        env_vars::CSI_STATE_DIR,
        from_file.cloned(),
    ) {
        return Ok(relative_to(config.base_dir(), &dir));
    }
    let xdg = env_vars::get(env_vars::XDG_STATE_HOME)
        .map(PathBuf::from)
        .or_else(|| env_vars::get(env_vars::HOME).map(|h| Path::new(&h).join(".local/state")))
        .ok_or_else(|| {
            usage("cannot choose a state directory: neither XDG_STATE_HOME nor HOME is set")
                .with_hint("set CSI_STATE_DIR or state_dir in csi.hcl")
        })?;
    Ok(xdg.join("csi"))
}

fn terraform(
    env: &EnvironmentFile,
    base: &Path,
    state_dir: &Path,
) -> Result<TerraformSettings, CsiError> {
    let tf = &env.terraform;
    // Absolute once: terraform runs with -chdir into the tree, where a path relative
    // to the operator's directory would point elsewhere.
    let absolute = |path: &Path| {
        let path = if path.as_os_str().is_empty() {
            Path::new(".")
        } else {
            path
        };
        std::path::absolute(path).map_err(|e| {
            usage(format!("cannot resolve the path {}: {e}", path.display()))
                .with_hint("run csi from an existing directory")
        })
    };
    let base = &absolute(base)?;
    let dir = relative_to(base, &tf.dir);
    let state = match (&tf.state_file, &tf.backend_config) {
        (Some(_), Some(_)) => {
            return Err(usage(
                "terraform.state_file and terraform.backend_config are both set: choose one",
            )
            .with_hint("state_file for a local state, backend_config for the remote (S3) one"))
        }
        (Some(file), None) => StateLocation::LocalFile(relative_to(base, file)),
        (None, Some(file)) => StateLocation::BackendConfig(relative_to(&dir, file)),
        (None, None) => StateLocation::TreeDefault,
    };
    let mut tf_var_names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with(env_vars::TF_VAR_PREFIX))
        .collect();
    tf_var_names.sort();
    Ok(TerraformSettings {
        configuration_var_file: relative_to(&dir, &tf.configuration_var_file),
        secrets_var_file: relative_to(&dir, &tf.secrets_var_file),
        // A binary given as a path is relative to csi.hcl; a bare name is looked up on PATH.
        binary: tf.binary.as_ref().map(|b| {
            if b.contains('/') {
                relative_to(base, b).display().to_string()
            } else {
                b.clone()
            }
        }),
        target: tf.target.clone(),
        expected_add: tf.expected_add,
        expected_destroy: tf.expected_destroy,
        parallelism: tf.parallelism,
        lock_timeout: tf.lock_timeout.clone(),
        openstack_project_id: tf.openstack_project_id.clone(),
        packages_tag: tf.packages_tag.clone(),
        tf_var_names,
        state,
        packages_location: tf.packages_location.clone(),
        data_dir: absolute(state_dir)?.join("terraform"),
        dir,
    })
}

fn nomad(
    env: &EnvironmentFile,
    base: &Path,
    origins: &mut Origins,
) -> Result<NomadSettings, CsiError> {
    let n = &env.nomad;
    let token = match env_vars::get(env_vars::NOMAD_TOKEN) {
        Some(token) => {
            origins.insert("nomad.token", from_var(env_vars::NOMAD_TOKEN));
            Some(Secret::new(token))
        }
        None => secret_file(base, n.token_file.as_deref(), "nomad.token_file")?,
    };
    Ok(NomadSettings {
        address: pick(
            origins,
            "nomad.address",
            env_vars::NOMAD_ADDR,
            n.address.clone(),
        ),
        namespace: pick(
            origins,
            "nomad.namespace",
            env_vars::NOMAD_NAMESPACE,
            n.namespace.clone(),
        ),
        region: pick(
            origins,
            "nomad.region",
            env_vars::NOMAD_REGION,
            n.region.clone(),
        ),
        ca_cert: pick(
            origins,
            "nomad.ca_cert",
            env_vars::NOMAD_CACERT,
            n.ca_cert.clone(),
        )
        .map(|p| relative_to(base, &p)),
        ca_path: pick(
            origins,
            "nomad.ca_path",
            env_vars::NOMAD_CAPATH,
            n.ca_path.clone(),
        )
        .map(|p| relative_to(base, &p)),
        client_cert: pick(
            origins,
            "nomad.client_cert",
            env_vars::NOMAD_CLIENT_CERT,
            n.client_cert.clone(),
        )
        .map(|p| relative_to(base, &p)),
        client_key: pick(
            origins,
            "nomad.client_key",
            env_vars::NOMAD_CLIENT_KEY,
            n.client_key.clone(),
        )
        .map(|p| relative_to(base, &p)),
        tls_server_name: pick(
            origins,
            "nomad.tls_server_name",
            env_vars::NOMAD_TLS_SERVER_NAME,
            n.tls_server_name.clone(),
        ),
        skip_verify: skip_verify(origins, n.skip_verify)?,
        http_auth: match env_vars::get(env_vars::NOMAD_HTTP_AUTH) {
            Some(auth) => {
                origins.insert("nomad.http_auth", from_var(env_vars::NOMAD_HTTP_AUTH));
                Some(Secret::new(auth))
            }
            None => None,
        },
        token,
        template_values: n.template_values.clone().into_iter().collect(),
        template_files: n
            .template_files
            .iter()
            .map(|(k, v)| (k.clone(), relative_to(base, v)))
            .collect(),
        tag_pattern: n
            .tag_pattern
            .clone()
            .unwrap_or_else(|| crate::nomad::jobfile::DEFAULT_TAG_PATTERN.to_owned()),
        deploy_timeout: match &n.deploy_timeout {
            Some(text) => humantime::parse_duration(text).map_err(|e| {
                usage(format!(
                    "nomad.deploy_timeout `{text}` is not a duration: {e}"
                ))
            })?,
            None => DEFAULT_DEPLOY_TIMEOUT,
        },
        cpu_step: n.cpu_step.unwrap_or(DEFAULT_CPU_STEP),
        cpu_floor: n.cpu_floor.unwrap_or(DEFAULT_CPU_FLOOR),
        over_ssh: n.over_ssh,
        template_variables: match &n.template_variables {
            Some(names) => names.clone(),
            None => crate::nomad::jobfile::DEFAULT_TEMPLATE_VARIABLES
                .iter()
                .map(|v| (*v).to_owned())
                .collect(),
        },
        restart_budget: n.restart_budget.unwrap_or(DEFAULT_RESTART_BUDGET),
        stop_timeout: match &n.stop_timeout {
            Some(text) => humantime::parse_duration(text).map_err(|e| {
                usage(format!(
                    "nomad.stop_timeout `{text}` is not a duration: {e}"
                ))
            })?,
            None => DEFAULT_STOP_TIMEOUT,
        },
    })
}

/// `nomad.skip_verify`, else NOMAD_SKIP_VERIFY read as the nomad CLI does (a Go bool).
fn skip_verify(origins: &mut Origins, file: Option<bool>) -> Result<bool, CsiError> {
    let text = pick(
        origins,
        "nomad.skip_verify",
        env_vars::NOMAD_SKIP_VERIFY,
        file.map(|b| b.to_string()),
    );
    match text.as_deref() {
        None => Ok(false),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(other) => Err(
            usage(format!("NOMAD_SKIP_VERIFY `{other}` is not a boolean"))
                .with_hint("use true or false, or unset it"),
        ),
    }
}

/// Job files are relative to the environment's `nomad.jobs_dir` (default `nomad/`).
fn services(config: &LoadedConfig, env: &EnvironmentFile, base: &Path) -> Vec<Service> {
    let jobs_dir = relative_to(
        base,
        env.nomad.jobs_dir.as_deref().unwrap_or(DEFAULT_JOBS_DIR),
    );
    let declared = if env.service.is_empty() {
        &config.file.service
    } else {
        &env.service
    };
    declared
        .iter()
        .map(|(name, service)| Service {
            name: name.clone(),
            job_file: relative_to(&jobs_dir, &service.job_file),
            job_id: service.job_id.clone().unwrap_or_else(|| name.clone()),
        })
        .collect()
}

fn database(
    env: &EnvironmentFile,
    base: &Path,
    origins: &mut Origins,
) -> Result<DatabaseSettings, CsiError> {
    let d = &env.database;
    let password = match env_vars::get(env_vars::PGPASSWORD) {
        Some(p) => {
            origins.insert("database.password", from_var(env_vars::PGPASSWORD));
            Some(Secret::new(p))
        }
        None => secret_file(base, d.password_file.as_deref(), "database.password_file")?,
    };
    let port = pick(
        origins,
        "database.port",
        env_vars::PGPORT,
        d.port.map(|p| p.to_string()),
    )
    .map(|p| {
        p.parse::<u16>()
            .map_err(|_| usage(format!("PGPORT `{p}` is not a port number")))
    })
    .transpose()?;
    Ok(DatabaseSettings {
        host: pick(origins, "database.host", env_vars::PGHOST, d.host.clone()),
        user: pick(origins, "database.user", env_vars::PGUSER, d.user.clone()),
        name: pick(
            origins,
            "database.name",
            env_vars::PGDATABASE,
            d.name.clone(),
        ),
        service: pick(
            origins,
            "database.service",
            env_vars::PGSERVICE,
            d.service.clone(),
        ),
        schema: d.schema.clone(),
        port,
        password,
        over_ssh: d.over_ssh,
        socket_dir: d
            .socket_dir
            .clone()
            .unwrap_or_else(|| DEFAULT_SOCKET_DIR.to_owned()),
        via: None,
    })
}

fn borg(
    env: &EnvironmentFile,
    base: &Path,
    origins: &mut Origins,
) -> Result<BorgSettings, CsiError> {
    let b = &env.borg;
    let max_backup_age = humantime::parse_duration(&b.max_backup_age).map_err(|e| {
        usage(format!(
            "borg.max_backup_age `{}` is not a duration: {e}",
            b.max_backup_age
        ))
        .with_hint("write it like 26h or 2d")
    })?;
    let repository = pick(
        origins,
        "borg.repository",
        env_vars::BORG_REPO,
        b.repository.clone(),
    )
    // Over ssh, the path is on the ssh host: never made relative to csi.hcl.
    .map(|repo| {
        if b.over_ssh {
            repo
        } else {
            local_repository_path(base, &repo)
        }
    });
    Ok(BorgSettings {
        repository,
        archive_prefix: b.archive_prefix.clone(),
        max_backup_age,
        rsh: pick(origins, "borg.rsh", env_vars::BORG_RSH, b.rsh.clone()),
        passphrase: env_vars::get(env_vars::BORG_PASSPHRASE).map(Secret::new),
        passcommand: pick(
            origins,
            "borg.passcommand",
            env_vars::BORG_PASSCOMMAND,
            b.passcommand.clone(),
        ),
        over_ssh: b.over_ssh,
        remote_path: pick(
            origins,
            "borg.remote_path",
            env_vars::BORG_REMOTE_PATH,
            b.remote_path.clone(),
        ),
    })
}

/// The `ssh` block, and what needs it: `over_ssh` without one is an error, and so is
/// a database `host` next to `over_ssh` (which host would csi mean?).
fn ssh(env: &EnvironmentFile, base: &Path) -> Result<Option<SshSettings>, CsiError> {
    let wanted = [
        ("database.over_ssh", env.database.over_ssh),
        ("borg.over_ssh", env.borg.over_ssh),
        ("nomad.over_ssh", env.nomad.over_ssh),
    ];
    if env.database.over_ssh && env.database.host.is_some() {
        return Err(usage(
            "database.over_ssh and database.host are both set: over ssh, PostgreSQL is the ssh host's unix socket",
        )
        .with_hint("remove database.host (the host is ssh.host; socket_dir names the socket's folder)"));
    }
    let Some(s) = &env.ssh else {
        if let Some((key, _)) = wanted.iter().find(|(_, on)| *on) {
            return Err(usage(format!("{key} is set but the environment has no ssh block"))
                .with_hint("add `ssh { host = ..., user = ... }` to the environment (README, \"Configuration\")"));
        }
        return Ok(None);
    };
    Ok(Some(SshSettings {
        host: s.host.as_str().to_owned(),
        user: match &s.user {
            Some(user) => user.as_str().to_owned(),
            None => local_account("ssh.user")?,
        },
        port: s.port,
        jump: s.jump.as_ref().map(|j| j.as_str().to_owned()),
        identity_file: s.identity_file.as_deref().map(|p| local_path(base, p)),
        known_hosts_file: s.known_hosts_file.as_deref().map(|p| local_path(base, p)),
        strict_host_keys: s.strict_host_keys,
    }))
}

fn waves(config: &LoadedConfig, env: &EnvironmentFile) -> Vec<Vec<String>> {
    env.waves
        .clone()
        .or_else(|| config.file.waves.clone())
        .unwrap_or_else(|| {
            DEFAULT_WAVES
                .iter()
                .map(|wave| wave.iter().map(|t| t.to_string()).collect())
                .collect()
        })
}

/// The environment's `restart` keys, else the top-level ones, else the defaults.
fn restart(
    config: &LoadedConfig,
    env: &EnvironmentFile,
    origins: &mut Origins,
) -> Result<RestartSettings, CsiError> {
    let own = env.restart.clone().unwrap_or_default();
    let top = config.file.restart.clone().unwrap_or_default();
    let gate_sql = match own.gate_sql.or(top.gate_sql) {
        Some(sql) => {
            origins.insert("restart.gate_sql", FROM_FILE);
            sql
        }
        None => {
            origins.insert("restart.gate_sql", FROM_DEFAULT);
            crate::waves::DEFAULT_GATE_SQL.to_owned()
        }
    };
    let duration = |key: &str, given: Option<String>, default: Duration| match given {
        Some(text) => humantime::parse_duration(&text).map_err(|e| {
            usage(format!("restart.{key} `{text}` is not a duration: {e}"))
                .with_hint("write it like 3h, 90m or 30s")
        }),
        None => Ok(default),
    };
    Ok(RestartSettings {
        gate_sql,
        nrt_max_age: duration(
            "nrt_max_age",
            own.nrt_max_age.or(top.nrt_max_age),
            DEFAULT_NRT_MAX_AGE,
        )?,
        recent_production: duration(
            "recent_production",
            own.recent_production.or(top.recent_production),
            DEFAULT_RECENT_PRODUCTION,
        )?,
        poll_interval: duration(
            "poll_interval",
            own.poll_interval.or(top.poll_interval),
            DEFAULT_POLL_INTERVAL,
        )?,
    })
}

const DEFAULT_NRT_MAX_AGE: Duration = Duration::from_secs(3 * 3600);
const DEFAULT_RECENT_PRODUCTION: Duration = Duration::from_secs(6 * 3600);
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(60);

/// The environment's `jobs` keys, else the top-level ones, else the defaults.
fn jobs(config: &LoadedConfig, env: &EnvironmentFile) -> Result<JobsSettings, CsiError> {
    let env_jobs = env.jobs.clone().unwrap_or_default();
    let top = config.file.jobs.clone().unwrap_or_default();
    let pause = match env_jobs.pause.or(top.pause) {
        Some(text) => humantime::parse_duration(&text).map_err(|e| {
            usage(format!("jobs.pause `{text}` is not a duration: {e}"))
                .with_hint("write it like 2s or 500ms")
        })?,
        None => DEFAULT_JOBS_PAUSE,
    };
    let statuses = |key: &str, given: Option<Vec<String>>, default: &[&str]| {
        let list: Vec<String> = given
            .unwrap_or_else(|| default.iter().map(|s| s.to_string()).collect())
            .iter()
            .flat_map(|t| t.split(','))
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if list.is_empty() {
            return Err(usage(format!("jobs.{key} is empty"))
                .with_hint("name job statuses, e.g. [\"internal_error\", \"external_error\"]"));
        }
        Ok(list)
    };
    Ok(JobsSettings {
        pause,
        retry_from: statuses(
            "retry_from",
            env_jobs.retry_from.or(top.retry_from),
            DEFAULT_RETRY_FROM,
        )?,
        retry_to: statuses(
            "retry_to",
            env_jobs.retry_to.or(top.retry_to),
            DEFAULT_RETRY_TO,
        )?,
    })
}

/// `database.scratch_database`: checked to be a URL; its password is registered as a
/// secret so that no output shows it.
fn scratch_database(env: &EnvironmentFile) -> Result<Option<String>, CsiError> {
    let Some(url) = &env.database.scratch_database else {
        return Ok(None);
    };
    let parsed = <tokio_postgres::Config as std::str::FromStr>::from_str(url).map_err(|e| {
        usage(format!(
            "database.scratch_database is not a PostgreSQL URL: {e}"
        ))
        .with_hint("e.g. postgresql://user@scratch-host:5432/postgres")
    })?;
    if let Some(password) = parsed.get_password() {
        crate::secret::register(&String::from_utf8_lossy(password));
    }
    Ok(Some(url.clone()))
}

/// Reads a secret from a file named in the configuration (first line, trimmed).
fn secret_file(base: &Path, file: Option<&str>, key: &str) -> Result<Option<Secret>, CsiError> {
    let Some(file) = file else { return Ok(None) };
    let path = relative_to(base, file);
    let content =
        fs_err::read_to_string(&path).map_err(|e| usage(format!("cannot read {key}: {e}")))?;
    Ok(Some(Secret::new(
        content.lines().next().unwrap_or("").trim(),
    )))
}

/// Borg repositories are local paths or remote URLs; only local paths are relative.
fn local_repository_path(base: &Path, repo: &str) -> String {
    let remote = repo.contains("://") || repo.contains('@') || repo.contains(':');
    if remote {
        repo.to_owned()
    } else {
        relative_to(base, repo).display().to_string()
    }
}

/// `~/x` is in the operator's home (as ssh would read it); other relative paths are
/// relative to csi.hcl.
pub fn local_path(base: &Path, path: &str) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/") {
        if let Some(home) = env_vars::get(env_vars::HOME) {
            return Path::new(&home).join(rest);
        }
    }
    relative_to(base, path)
}

/// The name ssh logs in with when none is given: the local account's.
pub fn local_account(key: &str) -> Result<String, CsiError> {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .ok_or_else(|| {
            usage(format!(
                "{key} is not set and the local account has no name"
            ))
            .with_hint(format!("set {key} in csi.hcl"))
        })
}

pub fn relative_to(base: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    }
}

/// The configured environments, for `env list` and completions.
pub fn environment_names(config: &LoadedConfig) -> Vec<&str> {
    config.file.environment.keys().map(String::as_str).collect()
}

mod humantime_serde_compat {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}
