//! `upgrade`: the upgrade practice in one resumable operation. A safety backup, the
//! schema migrations the running version tolerates (rehearsed together on a scratch
//! copy, then applied one by one with their ledger rows), then every service rolled
//! out to the new tag; a failed rollout takes every service back to its previous
//! version, in Nomad and in the job files. Nothing here knows about the command line.

mod execute;
mod plan;
mod preflight;
pub mod progress;
mod rollback;
mod rollout;

pub use execute::{execute, UpgradeRunner};
pub use plan::show;
pub use preflight::{prepare, PreparedUpgrade, UpgradeRequest};
pub use progress::{Migration, State, Step, UpgradeRecord};

/// Prefix of the archive made before an upgrade (never the nightly prefix).
pub const SAFETY_PREFIX: &str = crate::borg::UPGRADE_SAFETY_PREFIX;
