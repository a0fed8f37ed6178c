//! The Nomad HTTP API, and the job files that are its source of truth.

pub mod api;
mod calls;
mod client;
pub mod deployment;
pub mod diff;
pub mod jobfile;
pub mod services;
pub mod version;

pub use calls::{Indexed, NomadError};
pub use client::NomadClient;
pub use version::NomadVersion;
