//! The Nomad HTTP API.

mod client;

pub use client::NomadClient;
