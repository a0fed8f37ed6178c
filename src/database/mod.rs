//! The environment's PostgreSQL database.

mod connect;
pub mod dump;
pub mod restore;

pub use connect::{connect, describe, ping, ServerInfo};
