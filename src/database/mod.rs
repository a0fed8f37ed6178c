//! The environment's PostgreSQL database.

mod connect;

pub use connect::{connect, describe, ping, ServerInfo};
