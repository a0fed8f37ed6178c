//! The one exit point: parse, set up the printer and logging, run, map the outcome to
//! an exit code.

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::commands::{self, Context};
use crate::env_vars;
use crate::error;
use crate::output::{Printer, Verbosity};

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbosity = match (cli.global.quiet, cli.global.verbose) {
        (true, _) => Verbosity::Quiet,
        (false, 0) => Verbosity::Normal,
        _ => Verbosity::Verbose,
    };
    let color = !cli.global.no_color && env_vars::get(env_vars::NO_COLOR).is_none();
    let printer = Printer::new(cli.global.output, verbosity, color);
    init_logging(cli.global.verbose, color);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            printer.error(&anyhow::anyhow!("cannot start the async runtime: {e}"));
            return ExitCode::from(error::Kind::Failed.exit_code());
        }
    };
    let ctx = Context::new(cli.global.clone(), printer.clone());
    let outcome = runtime.block_on(async {
        crate::interrupt::install()?;
        commands::dispatch(&ctx, cli.command).await
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            printer.error(&err);
            ExitCode::from(error::kind_of(&err).exit_code())
        }
    }
}

/// Logs go to stderr: nothing by default, `-vv` debug, `RUST_LOG` for anything finer.
fn init_logging(verbose: u8, color: bool) {
    let default = match verbose {
        0 | 1 => "off",
        2 => "csi_ops=debug",
        _ => "csi_ops=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env(env_vars::RUST_LOG)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(false)
        .try_init();
}
