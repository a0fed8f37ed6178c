//! Every environment variable csi reads, declared once.

pub const CSI_CONFIG: &str = "CSI_CONFIG";
pub const CSI_STATE_DIR: &str = "CSI_STATE_DIR";
/// The PostgreSQL server binaries (initdb, pg_ctl) of a throwaway rehearsal cluster.
pub const CSI_PG_BINDIR: &str = "CSI_PG_BINDIR";
/// The csi binary shipped to an ssh host that runs the data's part of a backup or a
/// restore (default: this one); one built for that host when it cannot run this one.
pub const CSI_AGENT_BINARY: &str = "CSI_AGENT_BINARY";
pub const XDG_STATE_HOME: &str = "XDG_STATE_HOME";
pub const HOME: &str = "HOME";
pub const NO_COLOR: &str = "NO_COLOR";
pub const RUST_LOG: &str = "RUST_LOG";
pub const USER: &str = "USER";

pub const NOMAD_ADDR: &str = "NOMAD_ADDR";
pub const NOMAD_TOKEN: &str = "NOMAD_TOKEN";
pub const NOMAD_NAMESPACE: &str = "NOMAD_NAMESPACE";
pub const NOMAD_REGION: &str = "NOMAD_REGION";
pub const NOMAD_CACERT: &str = "NOMAD_CACERT";
pub const NOMAD_CAPATH: &str = "NOMAD_CAPATH";
pub const NOMAD_CLIENT_CERT: &str = "NOMAD_CLIENT_CERT";
pub const NOMAD_CLIENT_KEY: &str = "NOMAD_CLIENT_KEY";
pub const NOMAD_TLS_SERVER_NAME: &str = "NOMAD_TLS_SERVER_NAME";
pub const NOMAD_SKIP_VERIFY: &str = "NOMAD_SKIP_VERIFY";
pub const NOMAD_HTTP_AUTH: &str = "NOMAD_HTTP_AUTH";

pub const BORG_REPO: &str = "BORG_REPO";
pub const BORG_PASSPHRASE: &str = "BORG_PASSPHRASE";
pub const BORG_PASSCOMMAND: &str = "BORG_PASSCOMMAND";
pub const BORG_RSH: &str = "BORG_RSH";
pub const BORG_REMOTE_PATH: &str = "BORG_REMOTE_PATH";

pub const PGHOST: &str = "PGHOST";
pub const PGPORT: &str = "PGPORT";
pub const PGUSER: &str = "PGUSER";
pub const PGPASSWORD: &str = "PGPASSWORD";
pub const PGDATABASE: &str = "PGDATABASE";
pub const PGSERVICE: &str = "PGSERVICE";

pub const OS_PROJECT_ID: &str = "OS_PROJECT_ID";

/// Prefix of terraform's own input variables; passed through to terraform untouched.
pub const TF_VAR_PREFIX: &str = "TF_VAR_";
/// Variables that would silently change what terraform plans; removed from its environment.
pub const TF_SCRUBBED: &[&str] = &["TF_CLI_ARGS", "TF_WORKSPACE"];
pub const TF_CLI_ARGS_PREFIX: &str = "TF_CLI_ARGS_";

/// Reads a variable; an empty value counts as unset (as the ecosystems themselves do).
pub fn get(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}
