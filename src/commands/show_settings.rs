//! `csi env show-settings <env>` (hidden): the resolved settings and their origins,
//! secrets redacted. Makes the resolution testable.

use super::Context;

pub fn run(ctx: &Context, env: &str) -> anyhow::Result<()> {
    let settings = ctx.settings(env)?;
    ctx.printer.json(&settings);
    Ok(())
}
