//! `csi env list`: the configured environments and their key settings.

use serde::Serialize;

use super::Context;
use crate::settings::{self, Overrides, Settings};

#[derive(Serialize)]
struct Row<'a> {
    name: &'a str,
    protected: bool,
    terraform_dir: String,
    terraform_target: &'a str,
    nomad_address: Option<&'a str>,
    database: String,
    borg_repository: Option<&'a str>,
}

pub fn run(ctx: &Context) -> anyhow::Result<()> {
    let config = ctx.config()?;
    let overrides = Overrides {
        state_dir: ctx.global.state_dir.clone(),
    };
    let all: Vec<Settings> = settings::environment_names(&config)
        .into_iter()
        .map(|name| settings::resolve(&config, name, &overrides))
        .collect::<Result<_, _>>()?;
    let rows: Vec<Row> = all.iter().map(row).collect();
    if ctx.printer.is_json() {
        ctx.printer.json(&rows);
        return Ok(());
    }
    for r in &rows {
        let protected = if r.protected { " (protected)" } else { "" };
        ctx.printer
            .data(&format!("{}{protected}", ctx.printer.emphasis(r.name)));
        ctx.printer.data(&format!(
            "  terraform  {} -target={}",
            r.terraform_dir, r.terraform_target
        ));
        ctx.printer.data(&format!(
            "  nomad      {}",
            r.nomad_address.unwrap_or("(not set)")
        ));
        ctx.printer.data(&format!("  database   {}", r.database));
        ctx.printer.data(&format!(
            "  borg       {}",
            r.borg_repository.unwrap_or("(not set)")
        ));
    }
    Ok(())
}

fn row(s: &Settings) -> Row<'_> {
    Row {
        name: &s.env_name,
        protected: s.protected,
        terraform_dir: s.terraform.dir.display().to_string(),
        terraform_target: &s.terraform.target,
        nomad_address: s.nomad.address.as_deref(),
        database: crate::database::describe(&s.database),
        borg_repository: s.borg.repository.as_deref(),
    }
}
