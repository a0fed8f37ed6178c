//! `csi env history <env>`: the journal, one line per operation (or per step).

use super::Context;
use crate::journal::{Entry, Event, Journal};

pub fn run(ctx: &Context, args: &crate::cli::HistoryArgs) -> anyhow::Result<()> {
    let settings = ctx.settings(&args.env)?;
    let journal = Journal::for_state_dir(&settings.state_dir);
    let shown: Vec<Entry> = journal
        .entries()?
        .filter(|e| args.steps || !matches!(e.event, Event::Step { .. }))
        .collect();
    let shown = keep_last_operations(shown, args.limit);
    if ctx.printer.is_json() {
        ctx.printer.json(&shown);
        return Ok(());
    }
    if shown.is_empty() {
        ctx.printer
            .info(&format!("no operation recorded for `{}` yet", args.env));
    }
    for entry in &shown {
        ctx.printer.data(&line(entry));
    }
    Ok(())
}

fn keep_last_operations(entries: Vec<Entry>, limit: Option<usize>) -> Vec<Entry> {
    let Some(limit) = limit else { return entries };
    let mut ids: Vec<&str> = Vec::new();
    for e in entries.iter().rev() {
        if !ids.contains(&e.operation_id.as_str()) {
            ids.push(&e.operation_id);
        }
    }
    let keep: Vec<String> = ids.into_iter().take(limit).map(str::to_owned).collect();
    entries
        .into_iter()
        .filter(|e| keep.contains(&e.operation_id))
        .collect()
}

fn line(entry: &Entry) -> String {
    let time = entry.time.format("%Y-%m-%d %H:%M:%S");
    let what = match &entry.event {
        Event::Started { user, params } => format!("started by {user} {params}"),
        Event::Step { step, detail } => format!("  {step} {detail}"),
        Event::Finished { outcome, message } => {
            let outcome = serde_json::to_value(outcome).ok();
            let outcome = outcome.as_ref().and_then(|v| v.as_str()).unwrap_or("?");
            format!("{outcome}: {message}")
        }
    };
    format!("{time}  {:<12} {what}", entry.operation)
}
