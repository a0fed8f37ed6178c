//! `csi env processing-image <env> [<job type> <image>]`: the scientific software image
//! of each processing job type (a system parameter), listed or set through the params
//! path (typed write in one transaction, history row, journal).

use serde_json::json;

use super::Context;
use crate::cli::ProcessingImageArgs;
use crate::error::precondition;
use crate::lock;
use crate::operation;
use crate::params::images::{self, ImageParameter};
use crate::params::{self, shown, Catalog, Change};
use crate::settings::Settings;

pub async fn run(ctx: &Context, args: ProcessingImageArgs) -> anyhow::Result<()> {
    if let Some(image) = &args.image {
        // Before any connection: a bad reference is the operator's to fix.
        images::validate_reference(image)?;
    }
    let settings = ctx.reach(&args.env).await?;
    let mut client = crate::params::connect(&settings).await?;
    let catalog = Catalog::load(&client, &settings.database.schema).await?;
    let known = images::image_parameters(&catalog);
    if known.is_empty() {
        return Err(precondition(format!(
            "{}.system_parameters has no docker_image_for_<type>_processing column",
            catalog.schema
        ))
        .into());
    }
    match (args.job_type, args.image) {
        (Some(job_type), Some(image)) => {
            let parameter = images::find(&known, &job_type)?;
            set(ctx, &settings, &mut client, &catalog, parameter, &image).await
        }
        _ => list(ctx, &client, &catalog, &known).await,
    }
}

async fn list(
    ctx: &Context,
    client: &tokio_postgres::Client,
    catalog: &Catalog,
    known: &[ImageParameter],
) -> anyhow::Result<()> {
    let row = params::read(client, catalog).await?;
    if ctx.printer.is_json() {
        let items: Vec<_> = known
            .iter()
            .map(|p| json!({"job_type": p.job_type, "parameter": p.parameter, "image": row.get(&p.parameter)}))
            .collect();
        ctx.printer.json(&items);
        return Ok(());
    }
    let type_width = known
        .iter()
        .map(|p| p.job_type.len())
        .max()
        .unwrap_or(0)
        .max(8);
    let param_width = known.iter().map(|p| p.parameter.len()).max().unwrap_or(0);
    ctx.printer.data(&format!(
        "{:<type_width$}  {:<param_width$}  image",
        "job type", "parameter"
    ));
    for p in known {
        ctx.printer.data(&format!(
            "{:<type_width$}  {:<param_width$}  {}",
            p.job_type,
            p.parameter,
            shown(row.get(&p.parameter))
        ));
    }
    Ok(())
}

async fn set(
    ctx: &Context,
    settings: &Settings,
    client: &mut tokio_postgres::Client,
    catalog: &Catalog,
    parameter: &ImageParameter,
    image: &str,
) -> anyhow::Result<()> {
    let current = params::read(client, catalog).await?;
    let known_types = params::known_job_types(catalog, &current, &settings.waves);
    let assignment =
        params::assignment(catalog, &current, &known_types, &parameter.parameter, image)?;
    let assignments = [assignment];
    let planned = params::plan(client, catalog, &assignments).await?;
    let change = &planned[0];
    show(ctx, parameter, change);
    if !change.changes() {
        ctx.printer.info(&format!(
            "{} already runs {image}: nothing to do",
            parameter.job_type
        ));
        return json_result(ctx, parameter, change, false);
    }
    if ctx.global.dry_run {
        ctx.printer.info("dry run: nothing was changed");
        return json_result(ctx, parameter, change, false);
    }
    ctx.prompter.confirm(
        &format!(
            "Set the {} processing image of `{}`?",
            parameter.job_type, settings.env_name
        ),
        &settings.env_name,
        settings.protected,
    )?;
    let journaled = json!({
        "job_type": parameter.job_type,
        "name": change.name,
        "old": shown(change.old.as_deref()),
        "new": shown(change.new.as_deref()),
    });
    let (assignments, planned_ref) = (&assignments, &planned);
    let written = operation::run_locked(settings, "processing-image", journaled, |op| async move {
        op.step("confirmed", json!({"by": lock::current_user()}))?;
        let written = params::write(client, catalog, assignments, planned_ref).await?;
        op.step(
            "written",
            json!({"names": written.iter().map(|c| c.name.clone()).collect::<Vec<_>>()}),
        )?;
        op.step("verified", json!({"read_back": true}))?;
        let message = format!("{} image set to {image}", parameter.job_type);
        Ok((written, message))
    })
    .await?;
    if written.is_empty() {
        return Err(precondition("nothing was written").into());
    }
    ctx.printer.info(&format!(
        "written and read back: {} = {image}",
        parameter.parameter
    ));
    json_result(ctx, parameter, change, true)
}

fn show(ctx: &Context, parameter: &ImageParameter, change: &Change) {
    if ctx.printer.is_json() {
        return;
    }
    ctx.printer.data(&format!(
        "{} ({})  {} -> {}",
        parameter.job_type,
        parameter.parameter,
        shown(change.old.as_deref()),
        shown(change.new.as_deref())
    ));
}

fn json_result(
    ctx: &Context,
    parameter: &ImageParameter,
    change: &Change,
    written: bool,
) -> anyhow::Result<()> {
    if ctx.printer.is_json() {
        ctx.printer.json(&json!({
            "job_type": parameter.job_type,
            "parameter": parameter.parameter,
            "old": change.old,
            "new": change.new,
            "changes": change.changes(),
            "written": written,
        }));
    }
    Ok(())
}
