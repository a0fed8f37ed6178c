//! The environment's PostgreSQL database.

mod connect;
pub mod decode;
pub mod dump;
pub mod pg_error;
pub mod restore;
pub mod scratch;

pub use connect::{connect, describe, ping, ServerInfo};
