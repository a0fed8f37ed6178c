//! The environment's PostgreSQL database.

pub mod backup;
mod connect;
pub mod decode;
pub mod dump;
pub mod pg_error;
pub mod require;
pub mod restore;
pub mod scratch;
pub mod target;

pub use backup::{dump_size, make_backup, Backup};
pub use connect::{connect, connect_required, describe, ping, unreachable, ServerInfo};
pub use target::{inspect, selected_tables, Target, TargetState, TargetTable};
