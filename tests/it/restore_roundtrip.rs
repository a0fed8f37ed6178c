//! `csi env restore-db` end to end with real borg and PostgreSQL: a restore brings back
//! exactly the archived state, makes a safety archive first, and that safety archive
//! brings back the state before the restore.

use crate::restore_bed;
use crate::support;

use restore_bed::{last_outcome, last_steps, Bed, ENV};

/// Changes every kind of thing a restore must undo.
fn change_everything(bed: &Bed) {
    bed.psql(
        "INSERT INTO cosims.parent_jobs (name, tile_id, next_log_level) VALUES ('job_a', 'T32TLR', 20), ('job_b', 'T32TLS', 20);
         DELETE FROM cosims.gfsc_jobs WHERE id > 20;
         UPDATE cosims.system_parameters SET max_number_of_vcpus = 1;
         SELECT setval('cosims.test_jobs_id_seq', 500);
         CREATE TABLE cosims.added_after_the_backup (x int);
         DROP TRIGGER check_status_change ON cosims.job_status_changes;",
    );
}

#[test]
fn a_restore_brings_back_the_archive_exactly_and_its_safety_archive_undoes_it() {
    let bed = Bed::new();
    let archived = bed.snapshot();
    let nightly = bed.nightly("2026-11-20T04:00:00");
    change_everything(&bed);
    let changed = bed.snapshot();
    assert_ne!(archived, changed);

    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(
        bed.snapshot(),
        archived,
        "the restore differs from the archive"
    );
    assert!(run.stdout.contains(&nightly), "{}", run.stdout);
    assert!(
        run.stderr.contains("restored and verified"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("skipped: roles"), "{}", run.stderr);
    assert!(run.stderr.contains("skipped: databases"), "{}", run.stderr);

    // The safety archive holds the state before the restore, and is no nightly.
    let safety: Vec<String> = bed
        .archives()
        .into_iter()
        .filter(|a| a.starts_with("pre-restore-"))
        .collect();
    assert_eq!(safety.len(), 1, "{:?}", bed.archives());
    let steps = last_steps(&bed);
    for step in ["archive_resolved", "safety_backup", "restored", "verified"] {
        assert!(
            steps.iter().any(|s| s == step),
            "no {step} step in {steps:?}"
        );
    }
    assert_eq!(last_outcome(&bed)["outcome"], "ok");

    // `latest` is still the nightly archive, never the newer safety archive.
    let dry = bed.restore("latest", &["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all_output());
    assert!(dry.stdout.contains(&nightly), "{}", dry.stdout);
    assert!(
        !dry.stdout.contains("archive    pre-restore-"),
        "{}",
        dry.stdout
    );

    let back = bed.restore(&safety[0], &["--no-safety-backup"]);
    assert_eq!(back.code, 0, "{}", back.all_output());
    assert_eq!(
        bed.snapshot(),
        changed,
        "the safety archive does not bring back the state before the restore"
    );
}

#[test]
fn dry_run_shows_the_plan_and_changes_nothing() {
    let bed = Bed::new();
    bed.nightly("2026-11-20T04:00:00");
    bed.psql("DELETE FROM cosims.gfsc_jobs");
    let before = bed.snapshot();
    let run = bed.csi(&["env", "restore-db", ENV, "--archive", "latest", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    for expected in [
        "archive    pgdump_2026-11-20T04:00:00",
        "target     postgres@127.0.0.1",
        "replaced entirely",
        "safety     backup of the current database first: pre-restore-",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} not in\n{}",
            run.stdout
        );
    }
    assert_eq!(bed.snapshot(), before);
    assert_eq!(bed.archives().len(), 1);
}

#[test]
fn without_a_terminal_and_without_yes_nothing_happens() {
    let bed = Bed::new();
    bed.nightly("2026-11-20T04:00:00");
    bed.psql("DELETE FROM cosims.gfsc_jobs");
    let before = bed.snapshot();
    let run = bed.csi(&[
        "env",
        "restore-db",
        ENV,
        "--archive",
        "latest",
        "--keep-services",
    ]);
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert_eq!(bed.snapshot(), before);
}

#[test]
fn a_restore_into_another_database_leaves_the_environment_alone() {
    let bed = Bed::new();
    let archived = bed.snapshot();
    bed.nightly("2026-11-20T04:00:00");
    bed.psql("DELETE FROM cosims.gfsc_jobs");
    let env_before = bed.snapshot();
    bed.pg.create_database("scratch", None);
    let url = bed.pg.url("scratch");
    let run = bed.csi(&[
        "env",
        "restore-db",
        ENV,
        "--archive",
        "latest",
        "--yes",
        "--to",
        &url,
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(restore_bed::snapshot(&bed.pg, "scratch"), archived);
    assert_eq!(
        bed.snapshot(),
        env_before,
        "--to touched the environment's database"
    );
    assert_eq!(
        bed.archives().len(),
        1,
        "--to made a safety archive: {:?}",
        bed.archives()
    );
}

/// Production's nightly archive is made by PostgreSQL 12's pg_dumpall: no
/// `\restrict` lines, version 12 in its headers (the format derived by
/// support::postgres::as_pg12_dumpall). It restores and verifies as the newer one.
#[test]
fn a_pg12_pg_dumpall_archive_restores_and_verifies() {
    let bed = Bed::new();
    let archived = bed.snapshot();
    let dump = String::from_utf8(bed.pg.dumpall()).unwrap();
    assert!(
        dump.contains("\n\\restrict "),
        "this pg_dumpall writes \\restrict lines"
    );
    let old = support::postgres::as_pg12_dumpall(&dump);
    assert!(!old.contains("\\restrict") && old.contains("-- Dumped by pg_dump version 12.22"));
    bed.archive_of(
        "pgdump_2026-11-20T04:00:00",
        "2026-11-20T04:00:00",
        old.as_bytes(),
    );
    change_everything(&bed);
    let run = bed.restore("latest", &["--no-safety-backup"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stderr.contains("restored and verified"),
        "{}",
        run.stderr
    );
    // Production's uncalled system_parameters_id_seq: said, not refused.
    assert!(
        run.stderr
            .contains("system_parameters_id_seq is at 1 (not yet used)"),
        "{}",
        run.stderr
    );
    assert_eq!(bed.snapshot(), archived);
}
