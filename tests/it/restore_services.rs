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
    let nomad = NomadDouble::start(&["--cpu-capacity", "20000", "--deploy-seconds", "1"]);
    let bed = Bed::new();
    let jobs = copy_job_files(bed.env.path());
    bed.set_config(&services_and_database_config(
        &nomad.address,
        &jobs,
        bed.pg.port(),
        bed.borg.path(),
    ));
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
