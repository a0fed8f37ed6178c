//! Faults with the orchestrator services around a restore (the Nomad double, with
//! injected faults): whatever happens, the services that were running run again.

use crate::restore_bed::{last_steps, replace_once, Bed, ENV};
use crate::support::csi::{copy_job_files, services_and_database_config};
use crate::support::nomad::NomadDouble;

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

/// Fault: the restore fails (an SQL error in the dump) after the services were stopped.
/// Guard: the services that were running are restarted whatever the outcome.
/// Proof: exit 1; `restarted:` reported; the database snapshot identical; the six
/// services running again.
#[test]
fn failed_restore_brings_the_services_back() {
    let (bed, nomad) = services_bed();
    let nightly = bed.nightly("2026-11-20T04:00:00");
    let dump = bed.dump_of(&nightly);
    let bad = replace_once(
        &dump,
        "CREATE TABLE cosims.gfsc_jobs (\n",
        "CREATE TABLE cosims.gfsc_jobs (\n    oops no_such_type,\n",
    );
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &bad);
    let before = bed.snapshot();
    let run = bed.csi(&[
        "env",
        "restore-db",
        ENV,
        "--archive",
        "latest",
        "--yes",
        "--no-safety-backup",
    ]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(
        run.stderr.contains("restarted: job-creation"),
        "{}",
        run.stderr
    );
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
    nomad.wait_all("running");
}

/// Fault: Nomad fails while csi stops the services before a restore: a 500 for the
/// second service, then (second run) a stop Nomad carries out but never answers, so
/// csi's timeout decides.
/// Guard: the restore does not begin; the services stopped so far and the one whose
/// stop failed (its answer may be lost, as here) are registered again.
/// Proof: exit 1 saying the restore did not begin; the database snapshot identical; no
/// safety archive made; the journal has `services_stop_failed` then
/// `services_restarted`; all six services running again (job-creation, stopped before
/// the failure, and job-configuration, stopped by the lost request, included).
#[test]
fn nomad_failing_while_stopping_services_restarts_those_stopped() {
    let (bed, nomad) = services_bed();
    bed.nightly("2026-11-20T04:00:00");
    bed.psql("DELETE FROM cosims.gfsc_jobs");
    let before = bed.snapshot();
    for fault in ["500", "lose"] {
        nomad.inject(&format!("DELETE:/v1/job/job-configuration:{fault}:1"));
        let run = bed.csi(&["env", "restore-db", ENV, "--archive", "latest", "--yes"]);
        assert_eq!(run.code, 1, "{fault}: {}", run.all_output());
        assert!(
            run.stderr
                .contains("the restore did not begin and nothing was changed"),
            "{fault}: {}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("restarted: job-creation, job-configuration"),
            "{fault}: {}",
            run.stderr
        );
        assert_eq!(bed.snapshot(), before, "{fault}");
        let steps = last_steps(&bed);
        let failed = steps.iter().position(|s| s == "services_stop_failed");
        let restarted = steps.iter().position(|s| s == "services_restarted");
        assert!(failed.is_some() && failed < restarted, "{fault}: {steps:?}");
        assert!(!steps.iter().any(|s| s == "safety_backup"), "{steps:?}");
        nomad.wait_all("running");
        assert!(nomad.faults_left().iter().all(|f| f.ends_with(":0")));
    }
    assert!(
        !bed.archives().iter().any(|a| a.starts_with("pre-restore-")),
        "{:?}",
        bed.archives()
    );
}
