//! The plan shown before the upgrade runs (and all of `--dry-run`): every step in
//! order, with what is done already when resuming.

use serde_json::json;

use super::preflight::PreparedUpgrade;
use super::progress::{Step, UpgradeRecord};
use crate::output::Printer;
use crate::settings::Settings;

pub fn show(printer: &Printer, settings: &Settings, prepared: &PreparedUpgrade) {
    let p = &prepared.progress;
    if printer.is_json() {
        printer.json(&json!({
            "upgrade": p,
            "resuming": prepared.resuming,
            "next": p.next().map(|s| p.key(s)),
            "drift": prepared.drift,
            "recovered": prepared.recovered,
        }));
        return;
    }
    if prepared.resuming {
        printer.info(&format!(
            "resuming the upgrade begun at {} (done: {}); next step: {}",
            p.begun_at.format("%Y-%m-%d %H:%M:%S UTC"),
            if p.done.is_empty() {
                "nothing".to_owned()
            } else {
                p.done.join(", ")
            },
            p.next().map(|s| p.key(s)).unwrap_or_default()
        ));
    }
    for name in &prepared.recovered {
        printer.info(&format!(
            "{name} is in the ledger with this upgrade's safety archive: it was applied before the interruption"
        ));
    }
    printer.data(&format!(
        "upgrade of `{}` ({}) to {}",
        settings.env_name,
        prepared.target.describe(),
        p.tag
    ));
    printer.data(&format!(
        "  preflight: tag valid, lock free, {}, {}",
        drift_summary(prepared),
        if p.migrations.is_empty() {
            "no migration".to_owned()
        } else {
            "migrations not in the ledger".to_owned()
        }
    ));
    for (number, step) in p.steps().into_iter().enumerate() {
        let mark = if p.is_done(step) { "done" } else { "todo" };
        printer.data(&format!("  {}. [{mark}] {}", number + 1, describe(p, step)));
        if step == Step::Rollout {
            for service in &settings.services {
                let from = p
                    .previous_tags
                    .get(&service.name)
                    .map(String::as_str)
                    .unwrap_or("?");
                printer.data(&format!("       {:<24} {from} -> {}", service.name, p.tag));
            }
        }
    }
}

fn drift_summary(prepared: &PreparedUpgrade) -> String {
    if prepared.drift.is_empty() {
        return "drift not checked (rollout under way)".into();
    }
    let drifting = prepared.drift.iter().filter(|r| r.drift).count();
    match drifting {
        0 => "no drift".into(),
        n => format!("{n} service(s) drifting (--allow-drift)"),
    }
}

pub fn describe(p: &UpgradeRecord, step: Step) -> String {
    match step {
        Step::Rehearsal => format!(
            "rehearsal of {} on a scratch copy of the schema, in order",
            p.migrations
                .iter()
                .map(|m| m.file_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Step::SafetyBackup => format!("safety backup of the database to borg: {}", p.safety_archive),
        Step::Migration(i) => {
            let m = &p.migrations[i];
            format!(
                "migration {} ({} statements, sha256 {}): one transaction with its ledger row",
                m.path.display(),
                m.statements,
                &m.checksum[..m.checksum.len().min(12)]
            )
        }
        Step::Rollout => format!(
            "rollout of every service to {} (files rewritten, planned, registered with EnforceIndex, \
             watched together); any failure takes every service back to its previous version",
            p.tag
        ),
    }
}
