//! Resolved settings of a running double (the CLI maps onto this).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::faults::Rule;
use crate::version::NomadVersion;

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    /// When set, every request but `/v1/status/*` needs this ACL token.
    pub token: Option<String>,
    /// CPU (MHz) of the single simulated client node.
    pub cpu_capacity: u64,
    /// Allocations whose task image contains this substring fail.
    pub fail_image_pattern: Option<String>,
    /// Delay added to every request.
    pub latency: Duration,
    /// Time from a deployment's creation to its success.
    pub deploy_time: Duration,
    pub state_file: Option<PathBuf>,
    /// Injected faults (`--fail-requests`), see `faults`.
    pub fail_requests: Vec<Rule>,
    /// The Nomad version played (`--nomad-version`).
    pub nomad_version: NomadVersion,
    /// Plays a client agent or a non-leader server: 500 bodies carry `rpc error: `.
    pub rpc_error_prefix: bool,
    /// Tasks ignore the kill signal: a stop takes the task's `kill_timeout`.
    pub slow_stop: bool,
    /// Garbage collection: dead jobs, terminal evaluations and deployments older than
    /// this are removed (Nomad: 4h for jobs, 1h for the others). None: never.
    pub gc_after: Option<Duration>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 4646)),
            token: None,
            cpu_capacity: 4000,
            fail_image_pattern: None,
            latency: Duration::ZERO,
            deploy_time: Duration::from_secs(2),
            state_file: None,
            fail_requests: Vec::new(),
            nomad_version: NomadVersion::PRODUCTION,
            rpc_error_prefix: false,
            slow_stop: false,
            gc_after: None,
        }
    }
}
