//! The Nomad HTTP API, and the job files that are its source of truth.

mod client;
pub mod jobfile;
pub mod services;

pub use client::NomadClient;
