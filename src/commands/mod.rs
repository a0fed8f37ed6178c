//! One file per command. Handlers are thin: resolve settings, call the domain
//! modules, print through the printer.

mod completions;
mod env_backup;
mod env_backups;
mod env_check;
mod env_db_patch;
mod env_deploy_dashboard;
mod env_doctor;
mod env_drift;
mod env_history;
mod env_jobs;
mod env_list;
mod env_params;
mod env_patch_image;
mod env_power;
mod env_processing_image;
mod env_restart_waves;
mod env_restore_db;
mod env_status;
mod env_unlock;
mod env_upgrade;
mod man;
mod show_settings;

use crate::cli::{Command, EnvCommand, GlobalArgs};
use crate::config::{self, LoadedConfig};
use crate::output::Printer;
use crate::prompts::Prompter;
use crate::settings::{self, Overrides, Settings};

/// What every handler gets: the global flags, the printer and the prompter.
pub struct Context {
    pub global: GlobalArgs,
    pub printer: Printer,
    pub prompter: Prompter,
}

impl Context {
    pub fn new(global: GlobalArgs, printer: Printer) -> Self {
        let prompter = Prompter::new(global.yes);
        Context {
            global,
            printer,
            prompter,
        }
    }

    pub fn config(&self) -> anyhow::Result<LoadedConfig> {
        let path = config::find(self.global.config.as_deref())?;
        Ok(config::load(&path)?)
    }

    /// The settings with the environment's ssh connection open, for commands that
    /// reach its database, borg repository or Nomad (a no-op without `over_ssh`).
    pub async fn reach(&self, env: &str) -> anyhow::Result<Settings> {
        let mut settings = self.settings(env)?;
        crate::ssh::attach(&mut settings, &self.printer, self.global.through_client).await?;
        Ok(settings)
    }

    pub fn settings(&self, env: &str) -> anyhow::Result<Settings> {
        let config = self.config()?;
        let overrides = Overrides {
            state_dir: self.global.state_dir.clone(),
        };
        let settings = settings::resolve(&config, env, &overrides)?;
        crate::terraform::varfile::register_secret_values(&settings.terraform.secrets_var_file);
        for line in &settings.ignored_env {
            self.printer.warn(line);
        }
        Ok(settings)
    }
}

pub async fn dispatch(ctx: &Context, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Env(env) => match env {
            EnvCommand::List => env_list::run(ctx),
            EnvCommand::Check(args) => env_check::run(ctx, &args.env).await,
            EnvCommand::History(args) => env_history::run(ctx, &args),
            EnvCommand::Stop(args) => env_power::stop(ctx, args).await,
            EnvCommand::Start(args) => {
                let env = args.env.clone();
                if env_power::start(ctx, args).await?.long_downtime {
                    env_restart_waves::offer_after_start(ctx, &env).await?;
                }
                Ok(())
            }
            EnvCommand::Plan(args) => env_power::plan(ctx, args).await,
            EnvCommand::PatchImage(args) => env_patch_image::run(ctx, args).await,
            EnvCommand::Drift(args) => env_drift::run(ctx, &args.env).await,
            EnvCommand::Doctor(args) => env_doctor::run(ctx, args).await,
            EnvCommand::Backups(args) => env_backups::run(ctx, &args.env).await,
            EnvCommand::Backup(args) => env_backup::run(ctx, &args.env).await,
            EnvCommand::RestoreDb(args) => env_restore_db::run(ctx, args).await,
            EnvCommand::Jobs(args) => env_jobs::run(ctx, args).await,
            EnvCommand::DbPatch(args) => env_db_patch::run(ctx, args).await,
            EnvCommand::Params(args) => env_params::run(ctx, args).await,
            EnvCommand::RestartWaves(args) => env_restart_waves::run(ctx, args).await,
            EnvCommand::Status(args) => env_status::run(ctx, args).await,
            EnvCommand::Unlock(args) => env_unlock::run(ctx, &args.env),
            EnvCommand::DeployDashboard(args) => env_deploy_dashboard::run(ctx, args).await,
            EnvCommand::ProcessingImage(args) => env_processing_image::run(ctx, args).await,
            EnvCommand::Upgrade(args) => env_upgrade::run(ctx, args).await,
            EnvCommand::ShowSettings(args) => show_settings::run(ctx, &args.env),
        },
        Command::Completions { shell } => completions::run(shell),
        Command::Man => man::run(),
        Command::Agent => crate::remote::serve(&ctx.printer).await,
    }
}
