//! The ssh transport: OpenSSH driven as a process through the process wrapper, one
//! master connection per operation (ControlMaster, its socket in a private folder)
//! that everything else rides on: the database's unix socket and Nomad's port
//! forwarded by the master, borg's own ssh (`BORG_RSH`) multiplexed over it.

mod attach;
mod diagnose;
mod session;

pub use attach::{attach, require_attached};
pub use diagnose::{failure_kind, one_line};
pub use session::{Forward, HostSide, Session};
