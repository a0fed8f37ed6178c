use clap::CommandFactory;

use crate::cli::Cli;

pub fn run() -> anyhow::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
    Ok(())
}
