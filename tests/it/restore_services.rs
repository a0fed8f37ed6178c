//! The orchestrator services around a restore, with the project's Nomad double: the
//! running ones are stopped before anything changes and brought back afterwards (when
//! the restore or Nomad fails: tests/faults.rs).

use crate::restore_bed;
use crate::support;

use restore_bed::{Bed, ENV};
use support::csi::{copy_job_files, services_and_database_config};
use support::nomad::NomadDouble;

/// The restore bed with the six services running in the Nomad double.
fn services_bed() -> (Bed, NomadDouble) {
    services_bed_with(&[], "")
}

/// The same with more arguments for the double, and csi.hcl's text edited by `edit`
/// (a line for its `nomad` block, empty for none) before the services are submitted.
pub(crate) fn services_bed_with(double_args: &[&str], nomad_setting: &str) -> (Bed, NomadDouble) {
    let mut args = vec!["--cpu-capacity", "20000", "--deploy-seconds", "1"];
    args.extend_from_slice(double_args);
    let nomad = NomadDouble::start(&args);
    let bed = Bed::new();
    let jobs = copy_job_files(bed.env.path());
    // job-configuration's tasks get 45 s in production; 2 s here (the others: 5 s).
    let file = jobs.join("job_configuration.nomad");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("kill_timeout = \"45s\""));
    std::fs::write(
        &file,
        text.replacen("kill_timeout = \"45s\"", "kill_timeout = \"2s\"", 1),
    )
    .unwrap();
    let config =
        services_and_database_config(&nomad.address, &jobs, bed.pg.port(), bed.borg.path());
    let anchor = "deploy_timeout = \"20s\"";
    assert!(config.contains(anchor));
    bed.set_config(&config.replacen(anchor, &format!("{anchor}\n    {nomad_setting}"), 1));
    let run = bed.csi(&["env", "doctor", ENV, "--fix", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    nomad.wait_all("running");
    (bed, nomad)
}

#[test]
fn running_services_are_stopped_during_the_restore_and_brought_back() {
    let (bed, nomad) = services_bed();
    let archived = bed.snapshot();
    bed.nightly("2026-11-20T04:00:00");
    bed.psql("DELETE FROM cosims.gfsc_jobs");
    let run = bed.csi(&["env", "restore-db", ENV, "--archive", "latest", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stdout.contains("services   stop job-creation"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("stopped: job-creation"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("restarted: job-creation"),
        "{}",
        run.stderr
    );
    assert_eq!(bed.snapshot(), archived);
    nomad.wait_all("running");
    let steps = restore_bed::last_steps(&bed);
    let stopped = steps.iter().position(|s| s == "services_stopped").unwrap();
    let safety = steps.iter().position(|s| s == "safety_backup").unwrap();
    let restarted = steps
        .iter()
        .position(|s| s == "services_restarted")
        .unwrap();
    assert!(stopped < safety && safety < restarted, "{steps:?}");
}

#[test]
fn keep_services_leaves_them_running() {
    let (bed, nomad) = services_bed();
    bed.nightly("2026-11-20T04:00:00");
    let run = bed.restore("latest", &["--no-safety-backup"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(!run.stderr.contains("stopped:"), "{}", run.stderr);
    let steps = restore_bed::last_steps(&bed);
    assert!(!steps.iter().any(|s| s == "services_stopped"), "{steps:?}");
    nomad.wait_all("running");
}

/// The tasks of the stopped services' allocations, when each died (the double's clock).
pub(crate) fn task_deaths(nomad: &NomadDouble) -> Vec<chrono::DateTime<chrono::Utc>> {
    let (_, body) = nomad.http("GET", "/v1/allocations", "");
    let allocs: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    allocs
        .iter()
        .filter(|a| a["DesiredStatus"] == "stop")
        .flat_map(|a| {
            a["TaskStates"]
                .as_object()
                .unwrap()
                .values()
                .cloned()
                .collect::<Vec<_>>()
        })
        .map(|s| s["FinishedAt"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// The time of the last restore-db's step `step` in the journal.
pub(crate) fn step_time(bed: &Bed, step: &str) -> chrono::DateTime<chrono::Utc> {
    let history = bed.csi(&[
        "env", "history", ENV, "--output", "json", "--steps", "--limit", "1",
    ]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&history.stdout).unwrap();
    let entry = entries
        .iter()
        .find(|e| e["step"] == step)
        .unwrap_or_else(|| panic!("no step {step}: {}", history.stdout));
    entry["time"].as_str().unwrap().parse().unwrap()
}
