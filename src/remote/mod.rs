//! Large data stays where it lives. When the database and the repository are on the
//! environment's ssh host, csi ships its own binary there (content-addressed, in a
//! private cache folder of the ssh user) and runs the data's part of a backup or a
//! restore on that host: `pg_dumpall | borg create` and the read-back check, or `borg
//! extract | csi | psql` into the host's own socket. This machine keeps the plan, the
//! confirmation, the services and the journal, and sees only progress lines and the
//! result. The host side calls the same entry points as a local run
//! (`database::restore::make_backup`, `database::restore::load`).

mod agent;
mod client;
mod ship;
mod wire;

pub use agent::serve;
pub use client::{load, make_backup, prepare, Agent};
