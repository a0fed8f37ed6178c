//! `csi env backups <env>`: the repository's archives, newest first, with dump time,
//! age, size and kind (nightly, safety, other); `--output json` for scripts.

use chrono::{Local, Utc};
use indicatif::HumanBytes;
use serde::Serialize;

use super::Context;
use crate::borg::{archive_kind, Borg};
use crate::output::human_age;

#[derive(Serialize)]
struct Row {
    name: String,
    kind: &'static str,
    /// The newest nightly archive: what `--archive latest` restores.
    latest: bool,
    dumped_at: chrono::DateTime<Utc>,
    age_seconds: i64,
    size_bytes: Option<u64>,
}

pub async fn run(ctx: &Context, env: &str) -> anyhow::Result<()> {
    let settings = ctx.reach(env).await?;
    let borg = Borg::new(&settings.borg)?;
    let archives = borg.list_with_sizes().await?;
    let prefix = &settings.borg.archive_prefix;
    let latest = archives
        .iter()
        .find(|a| a.name.starts_with(prefix.as_str()))
        .map(|a| a.name.clone());
    let now = Utc::now();
    let rows: Vec<Row> = archives
        .into_iter()
        .map(|a| Row {
            kind: archive_kind(&a.name, prefix),
            latest: latest.as_deref() == Some(a.name.as_str()),
            dumped_at: a.start,
            age_seconds: (now - a.start).num_seconds(),
            size_bytes: a.size,
            name: a.name,
        })
        .collect();
    if ctx.printer.is_json() {
        ctx.printer.json(&rows);
        return Ok(());
    }
    if rows.is_empty() {
        ctx.printer
            .info(&format!("no archive in {}", borg.repository()));
        return Ok(());
    }
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(7);
    ctx.printer.data(&ctx.printer.emphasis(&format!(
        "{:<width$}  {:<19}  {:>9}  {:>10}  KIND",
        "ARCHIVE", "DUMPED", "AGE", "SIZE"
    )));
    for r in &rows {
        let size = r
            .size_bytes
            .map(|s| HumanBytes(s).to_string())
            .unwrap_or_else(|| "?".into());
        let kind = if r.latest {
            format!("{} (latest)", r.kind)
        } else {
            r.kind.to_owned()
        };
        ctx.printer.data(&format!(
            "{:<width$}  {:<19}  {:>9}  {:>10}  {kind}",
            r.name,
            r.dumped_at
                .with_timezone(&Local)
                .format("%Y-%m-%d %H:%M:%S"),
            human_age(now - r.dumped_at),
            size,
        ));
    }
    Ok(())
}
