//! A test double of the Nomad HTTP API for csi's tests and sandbox: jobs with versions,
//! plans with diffs, evaluations, allocations and deployments driven by a scheduler
//! stand-in with a CPU capacity, blocking queries, an optional ACL token, and injected
//! faults for tests (error statuses, hanging requests, lost answers).

pub mod api;
pub mod app;
pub mod config;
pub mod diff;
pub mod faults;
pub mod hcl;
pub mod jobspec;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod util;
pub mod version;

pub use app::App;
pub use config::Config;
pub use version::NomadVersion;
