//! `csi env params <env> list | get NAME | set NAME VALUE... | history [NAME]`: the
//! system parameters, typed by the database catalog.

use serde_json::json;

use super::Context;
use crate::cli::{ParamsAction, ParamsArgs};
use crate::error::{precondition, usage};
use crate::lock;
use crate::operation;
use crate::params::{self, shown, Catalog, Change};
use crate::settings::Settings;

pub async fn run(ctx: &Context, args: ParamsArgs) -> anyhow::Result<()> {
    let settings = ctx.reach(&args.env).await?;
    let mut client = params::connect(&settings).await?;
    let catalog = Catalog::load(&client, &settings.database.schema).await?;
    match args.action {
        ParamsAction::List => list(ctx, &client, &catalog).await,
        ParamsAction::Get { name } => get(ctx, &client, &catalog, &name).await,
        ParamsAction::Set { pairs } => set(ctx, &settings, &mut client, &catalog, &pairs).await,
        ParamsAction::History { name, limit } => {
            history(ctx, &client, &catalog, name.as_deref(), limit).await
        }
    }
}

async fn list(
    ctx: &Context,
    client: &tokio_postgres::Client,
    catalog: &Catalog,
) -> anyhow::Result<()> {
    let row = params::read(client, catalog).await?;
    if ctx.printer.is_json() {
        let items: Vec<_> = catalog
            .columns
            .iter()
            .map(|c| json!({"name": c.name, "type": c.sql_type, "nullable": c.nullable, "value": row.get(&c.name).map(|v| shown(Some(v)))}))
            .collect();
        ctx.printer.json(&items);
        return Ok(());
    }
    let width = catalog
        .columns
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    let type_width = catalog
        .columns
        .iter()
        .map(|c| c.sql_type.len())
        .max()
        .unwrap_or(0);
    for c in &catalog.columns {
        ctx.printer.data(&format!(
            "{:<width$}  {:<type_width$}  {}",
            c.name,
            c.sql_type,
            shown(row.get(&c.name))
        ));
    }
    Ok(())
}

async fn get(
    ctx: &Context,
    client: &tokio_postgres::Client,
    catalog: &Catalog,
    name: &str,
) -> anyhow::Result<()> {
    let column = catalog.column(name)?;
    let row = params::read(client, catalog).await?;
    let value = row.get(&column.name);
    if ctx.printer.is_json() {
        ctx.printer.json(&json!({"name": column.name, "type": column.sql_type, "nullable": column.nullable, "value": value}));
    } else if let Some(value) = value {
        ctx.printer.data(value);
    } else {
        ctx.printer.info(&format!("{name} is null"));
    }
    Ok(())
}

async fn set(
    ctx: &Context,
    settings: &Settings,
    client: &mut tokio_postgres::Client,
    catalog: &Catalog,
    pairs: &[String],
) -> anyhow::Result<()> {
    if pairs.len() % 2 != 0 {
        return Err(usage("`set` takes NAME VALUE pairs: one value is missing")
            .with_hint("e.g. csi env params prod set max_number_of_vcpus 900 activate_backward_reprocessing false")
            .into());
    }
    let current = params::read(client, catalog).await?;
    let known = params::known_job_types(catalog, &current, &settings.waves);
    let mut assignments = Vec::new();
    for pair in pairs.chunks(2) {
        if assignments
            .iter()
            .any(|a: &params::Assignment| a.column.name == pair[0])
        {
            return Err(usage(format!("`{}` is given twice", pair[0])).into());
        }
        assignments.push(params::assignment(
            catalog, &current, &known, &pair[0], &pair[1],
        )?);
    }
    let planned = params::plan(client, catalog, &assignments).await?;
    show_changes(ctx, &planned);
    let changing: Vec<&Change> = planned.iter().filter(|c| c.changes()).collect();
    if changing.is_empty() {
        ctx.printer
            .info("every parameter already holds its value: nothing to do");
        return json_result(ctx, &planned, false);
    }
    if ctx.global.dry_run {
        ctx.printer.info("dry run: nothing was changed");
        return json_result(ctx, &planned, false);
    }
    let names: Vec<&str> = changing.iter().map(|c| c.name.as_str()).collect();
    ctx.prompter.confirm(
        &format!("Set {} of `{}`?", names.join(", "), settings.env_name),
        &settings.env_name,
        settings.protected,
    )?;
    let journaled: Vec<_> = changing
        .iter()
        .map(|c| json!({"name": c.name, "old": shown(c.old.as_deref()), "new": shown(c.new.as_deref())}))
        .collect();
    let (assignments, planned_ref) = (&assignments, &planned);
    let written = operation::run_locked(
        settings,
        "params-set",
        json!({ "changes": journaled }),
        |op| async move {
            op.step("confirmed", json!({"by": lock::current_user()}))?;
            let written = params::write(client, catalog, assignments, planned_ref).await?;
            op.step(
                "written",
                json!({"names": written.iter().map(|c| c.name.clone()).collect::<Vec<_>>()}),
            )?;
            op.step("verified", json!({"read_back": true}))?;
            let message = format!(
                "set {}",
                written
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok((written, message))
        },
    )
    .await?;
    if written.is_empty() {
        return Err(precondition("nothing was written").into());
    }
    ctx.printer.info(&format!(
        "written and read back: {}",
        written
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    json_result(ctx, &planned, true)
}

fn show_changes(ctx: &Context, planned: &[Change]) {
    if ctx.printer.is_json() {
        return;
    }
    let width = planned.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in planned {
        let line = if c.changes() {
            format!(
                "{:<width$}  {} -> {}",
                c.name,
                shown(c.old.as_deref()),
                shown(c.new.as_deref())
            )
        } else {
            format!(
                "{:<width$}  {} (unchanged)",
                c.name,
                shown(c.old.as_deref())
            )
        };
        ctx.printer.data(&line);
    }
}

fn json_result(ctx: &Context, planned: &[Change], written: bool) -> anyhow::Result<()> {
    if ctx.printer.is_json() {
        let changes: Vec<_> = planned
            .iter()
            .map(|c| json!({"name": c.name, "type": c.sql_type, "old": shown(c.old.as_deref()), "new": shown(c.new.as_deref()), "changes": c.changes()}))
            .collect();
        ctx.printer
            .json(&json!({"changes": changes, "written": written}));
    }
    Ok(())
}

async fn history(
    ctx: &Context,
    client: &tokio_postgres::Client,
    catalog: &Catalog,
    name: Option<&str>,
    limit: Option<usize>,
) -> anyhow::Result<()> {
    let only = name.map(|n| catalog.column(n)).transpose()?;
    let mut changes = params::history(client, catalog, only).await?;
    if let Some(limit) = limit {
        let skip = changes.len().saturating_sub(limit);
        changes.drain(..skip);
    }
    if ctx.printer.is_json() {
        let items: Vec<_> = changes
            .iter()
            .map(|c| json!({"time": c.time, "name": c.name, "old": c.old.as_deref().map(|v| shown(Some(v))), "new": c.new.as_deref().map(|v| shown(Some(v))), "initial": c.initial}))
            .collect();
        ctx.printer.json(&items);
        return Ok(());
    }
    if changes.is_empty() {
        ctx.printer.info("no change recorded");
    }
    for c in &changes {
        let what = if c.initial {
            format!("{} (first recorded value)", shown(c.new.as_deref()))
        } else {
            format!("{} -> {}", shown(c.old.as_deref()), shown(c.new.as_deref()))
        };
        ctx.printer.data(&format!(
            "{}  {}  {what}",
            c.time.format("%Y-%m-%d %H:%M:%S UTC"),
            c.name
        ));
    }
    Ok(())
}
