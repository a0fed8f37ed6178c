//! What goes between csi and its copy on the ssh host: one request (a JSON line on the
//! agent's stdin, secrets included: never on a command line), then one reply (a JSON
//! line on its stdout). Progress comes as the agent's printer lines on stderr.

use serde::{Deserialize, Serialize};

use crate::database::restore::{LoadOutcome, Mode};
use crate::database::Backup;
use crate::error::{CsiError, Kind};

#[derive(Serialize, Deserialize)]
pub struct Request {
    pub database: HostDatabase,
    pub borg: HostBorg,
    pub task: Task,
}

/// The database as the host reaches it: its own unix socket.
#[derive(Serialize, Deserialize, Clone)]
pub struct HostDatabase {
    pub socket_dir: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub name: String,
    pub schema: String,
    pub password: Option<String>,
}

/// The repository as the host reaches it: a path, borg run through `remote_path`.
#[derive(Serialize, Deserialize, Clone)]
pub struct HostBorg {
    pub repository: String,
    pub remote_path: Option<String>,
    pub passcommand: Option<String>,
    pub passphrase: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub enum Task {
    /// Answers with its version: the binary runs there.
    Probe,
    /// `make_backup` on the host.
    Backup { archive: String },
    /// `restore::load` on the host.
    Restore {
        archive: String,
        dump_size: u64,
        source_db: String,
        mode: Mode,
    },
}

#[derive(Serialize, Deserialize)]
pub enum Reply {
    Probed {
        version: String,
    },
    BackedUp(Backup),
    Restored(LoadOutcome),
    Failed {
        exit_code: u8,
        message: String,
        hint: Option<String>,
    },
}

impl Reply {
    pub fn failed(error: &anyhow::Error) -> Reply {
        Reply::Failed {
            exit_code: crate::error::kind_of(error).exit_code(),
            message: format!("{error:#}"),
            hint: crate::error::hint_of(error).map(str::to_owned),
        }
    }
}

/// The error the agent reported, with the kind (exit code) it had there.
pub fn reported_error(exit_code: u8, message: String, hint: Option<String>) -> CsiError {
    let kind = [
        Kind::Failed,
        Kind::Usage,
        Kind::Refused,
        Kind::Precondition,
        Kind::Verification,
        Kind::RolledBack,
        Kind::Drift,
        Kind::Interrupted,
    ]
    .into_iter()
    .find(|k| k.exit_code() == exit_code)
    .unwrap_or(Kind::Failed);
    let error = CsiError::new(kind, message);
    match hint {
        Some(hint) => error.with_hint(hint),
        None => error,
    }
}
