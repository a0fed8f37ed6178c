//! `csi env backup`: a backup made now like the nightly one, kept only when the dump
//! is complete; `csi env backups` lists it.

use crate::restore_bed;
use crate::support;

use restore_bed::{last_outcome, last_steps, Bed, ENV};
use support::csi::test_path;

#[test]
fn a_backup_is_a_nightly_archive_that_restores() {
    let bed = Bed::new();
    let run = bed.csi(&["env", "backup", ENV]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let name = run.stdout.trim().to_owned();
    assert!(name.starts_with("pgdump_"), "{}", run.all_output());
    assert_eq!(bed.archives(), std::slice::from_ref(&name));
    assert!(run.stderr.contains("checked complete"), "{}", run.stderr);
    assert!(last_steps(&bed).iter().any(|s| s == "created"));
    assert_eq!(last_outcome(&bed)["outcome"], "ok");

    let listed = bed.csi(&["env", "backups", ENV, "--output", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(rows[0]["name"], name.as_str());
    assert_eq!(rows[0]["kind"], "nightly");
    assert_eq!(rows[0]["latest"], true);

    let archived = bed.snapshot();
    bed.psql("DELETE FROM cosims.gfsc_jobs");
    let run = bed.restore("latest", &["--no-safety-backup"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(bed.snapshot(), archived);
}

#[test]
fn a_failed_dump_leaves_no_archive() {
    let bed = Bed::new();
    bed.set_config(&restore_bed::config(
        9,
        bed.borg.path(),
        "http://127.0.0.1:9",
        false,
        "",
    ));
    let run = bed.csi(&["env", "backup", ENV]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(run.stderr.contains("no archive was kept"), "{}", run.stderr);
    assert!(bed.archives().is_empty(), "{:?}", bed.archives());
}

#[test]
fn an_incomplete_dump_is_not_kept() {
    let bed = Bed::new();
    // A pg_dumpall that exits 0 after a dump cut short.
    let bin = bed.env.path().join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let full = String::from_utf8(bed.pg.dumpall()).unwrap();
    let cut = &full[..full.find("COPY cosims.job_status_changes").unwrap() + 5000];
    std::fs::write(bed.env.path().join("cut.sql"), cut).unwrap();
    let script = bin.join("pg_dumpall");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat '{}'\n",
            bed.env.path().join("cut.sql").display()
        ),
    )
    .unwrap();
    support::csi::set_mode(&script, 0o755);
    let path = format!("{}:{}", bin.display(), test_path());
    let run = bed
        .env
        .csi_with(&["env", "backup", ENV], &[("PATH", &path)]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(run.stderr.contains("is incomplete"), "{}", run.stderr);
    assert!(
        run.stderr.contains("the archive was deleted"),
        "{}",
        run.stderr
    );
    assert!(bed.archives().is_empty(), "{:?}", bed.archives());
}

#[test]
fn dry_run_makes_nothing() {
    let bed = Bed::new();
    let run = bed.csi(&["env", "backup", ENV, "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(bed.archives().is_empty());
}
