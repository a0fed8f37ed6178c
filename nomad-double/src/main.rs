//! `nomad-double`: a standalone test double of the Nomad HTTP API.

use clap::Parser;
use nomad_double::faults::Rule;
use nomad_double::{server, store, App, Config, NomadVersion};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// A test double of the Nomad HTTP API (jobs, plans, evaluations, allocations,
/// deployments, blocking queries) with a one-node scheduler stand-in.
#[derive(Parser, Debug)]
#[command(name = "nomad-double", version)]
struct Cli {
    /// Address to listen on (port 0 picks a free port; the line on stdout tells which).
    #[arg(long, default_value = "127.0.0.1:4646")]
    bind: SocketAddr,
    /// Require this ACL token (X-Nomad-Token or Authorization: Bearer).
    #[arg(long, env = "NOMAD_DOUBLE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// CPU (MHz) of the simulated client node.
    #[arg(long, default_value_t = 4000)]
    cpu_capacity: u64,
    /// Allocations whose task image contains this substring fail to start.
    #[arg(long)]
    fail_image_pattern: Option<String>,
    /// Delay added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Seconds from a deployment's creation to its success (fractions allowed).
    #[arg(long, default_value_t = 2.0)]
    deploy_seconds: f64,
    /// Persist the state as JSON here after each change, and load it at start.
    #[arg(long)]
    state_file: Option<PathBuf>,
    /// Inject a fault, METHOD:PATH:ANSWER[:COUNT] (repeatable): requests matching METHOD
    /// (or *) and PATH (exact, or a prefix ending with *) get ANSWER: an error status
    /// (500, 503...), `hang` (never carried out nor answered) or `lose` (carried out,
    /// never answered), COUNT times (default: always). At run time: POST rules (one per
    /// line) to /_double/faults, GET it to list them, DELETE it to clear them; GET
    /// /_double/requests lists the API requests received and the faults they got.
    #[arg(long = "fail-requests", value_name = "METHOD:PATH:ANSWER[:COUNT]")]
    fail_requests: Vec<String>,
    /// The Nomad version to behave as: 0.11.1 (production), 1.x, 2.0.5 (current).
    #[arg(long, default_value = "0.11.1")]
    nomad_version: String,
    /// Play a client agent or non-leader server: error bodies (500) start with `rpc error: `.
    #[arg(long)]
    rpc_error_prefix: bool,
    /// Tasks ignore the kill signal: stopping an allocation takes its task's kill_timeout.
    #[arg(long)]
    slow_stop: bool,
    /// Garbage-collect dead jobs, terminal evaluations and deployments this many seconds
    /// after they ended (Nomad's clock: 4h for jobs, 1h for the others).
    #[arg(long)]
    gc_seconds: Option<f64>,
}

impl Cli {
    fn into_config(self) -> Result<Config, String> {
        if !(self.deploy_seconds.is_finite() && self.deploy_seconds >= 0.0) {
            return Err(format!(
                "--deploy-seconds must be a non-negative number, got {}",
                self.deploy_seconds
            ));
        }
        let fail_requests = self
            .fail_requests
            .iter()
            .map(|spec| Rule::parse(spec))
            .collect::<Result<Vec<_>, _>>()?;
        let gc_after = match self.gc_seconds {
            Some(s) if !(s.is_finite() && s >= 0.0) => {
                return Err(format!(
                    "--gc-seconds must be a non-negative number, got {s}"
                ))
            }
            Some(s) => Some(Duration::from_secs_f64(s)),
            None => None,
        };
        Ok(Config {
            nomad_version: NomadVersion::parse(&self.nomad_version)?,
            rpc_error_prefix: self.rpc_error_prefix,
            slow_stop: self.slow_stop,
            gc_after,
            bind: self.bind,
            token: self.token.filter(|t| !t.is_empty()),
            cpu_capacity: self.cpu_capacity,
            fail_image_pattern: self.fail_image_pattern.filter(|p| !p.is_empty()),
            latency: Duration::from_millis(self.latency_ms),
            deploy_time: Duration::from_secs_f64(self.deploy_seconds),
            state_file: self.state_file,
            fail_requests,
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let result = cli.into_config().and_then(|config| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?
            .block_on(run(config))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("nomad-double: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    let state = match &config.state_file {
        Some(path) => store::load(path).map_err(|e| e.to_string())?,
        None => store::Store::new(),
    };
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = Arc::new(App::new(config, state));
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "nomad-double listening on {addr}")
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))?;
    }
    server::serve(app, listener, shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM: {e}");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
