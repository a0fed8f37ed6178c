//! Which archive `--archive` means (exact name, `latest`, a day) over backdated
//! archives, and the archives that cannot be restored: unknown, without a dump, empty,
//! of another database or another system.

use crate::restore_bed;
use crate::support;

use restore_bed::{Bed, ENV};

fn resolved(bed: &Bed, archive: &str) -> Result<String, (i32, String)> {
    let run = bed.csi(&[
        "env",
        "restore-db",
        ENV,
        "--archive",
        archive,
        "--dry-run",
        "--keep-services",
    ]);
    if run.code != 0 {
        return Err((run.code, run.stderr));
    }
    let line = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("archive "))
        .unwrap_or_else(|| panic!("no archive line in\n{}", run.stdout));
    Ok(line.split_whitespace().nth(1).unwrap().to_owned())
}

#[test]
fn latest_and_days_pick_the_nightly_series_only() {
    let bed = Bed::new();
    let dump = bed.pg.dumpall();
    for (name, ts) in [
        ("pgdump_2026-11-01T04:00:00", "2026-11-01T04:00:00"),
        ("pgdump_2026-11-08T04:00:00", "2026-11-08T04:00:00"),
        ("pgdump_2026-11-18T04:00:00", "2026-11-18T04:00:00"),
        ("pgdump_2026-11-19T04:00:00", "2026-11-19T04:00:00"),
        ("pre-restore-2026-11-20T10:00:00", "2026-11-20T10:00:00"),
        ("manual-copy", "2026-11-21T10:00:00"),
    ] {
        bed.archive_of(name, ts, &dump);
    }
    assert_eq!(
        resolved(&bed, "latest").unwrap(),
        "pgdump_2026-11-19T04:00:00"
    );
    assert_eq!(
        resolved(&bed, "2026-11-19").unwrap(),
        "pgdump_2026-11-19T04:00:00"
    );
    assert_eq!(
        resolved(&bed, "2026-11-25").unwrap(),
        "pgdump_2026-11-19T04:00:00"
    );
    // A week without nightly archives (pruned): the newest before it.
    assert_eq!(
        resolved(&bed, "2026-11-15").unwrap(),
        "pgdump_2026-11-08T04:00:00"
    );
    assert_eq!(
        resolved(&bed, "2026-11-01").unwrap(),
        "pgdump_2026-11-01T04:00:00"
    );
    let (code, stderr) = resolved(&bed, "2026-10-31").unwrap_err();
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("the oldest nightly archive is pgdump_2026-11-01T04:00:00"),
        "{stderr}"
    );
    // Exact names reach every archive.
    assert_eq!(
        resolved(&bed, "pre-restore-2026-11-20T10:00:00").unwrap(),
        "pre-restore-2026-11-20T10:00:00"
    );
    assert_eq!(resolved(&bed, "manual-copy").unwrap(), "manual-copy");

    // `csi env backups` agrees, newest first.
    let run = bed.csi(&["env", "backups", ENV, "--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names[0], "manual-copy");
    assert_eq!(names[1], "pre-restore-2026-11-20T10:00:00");
    let latest: Vec<&str> = rows
        .iter()
        .filter(|r| r["latest"] == true)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(latest, ["pgdump_2026-11-19T04:00:00"]);
    assert_eq!(rows[1]["kind"], "safety");
    assert_eq!(rows[2]["kind"], "nightly");
    assert_eq!(rows[2]["size_bytes"], dump.len() as u64);
    let text = bed.csi(&["env", "backups", ENV]);
    assert!(text.stdout.contains("nightly (latest)"), "{}", text.stdout);
}

#[test]
fn an_unknown_name_shows_the_nearest_ones() {
    let bed = Bed::new();
    bed.nightly("2026-11-19T04:00:00");
    bed.nightly("2026-11-18T04:00:00");
    let (code, stderr) = resolved(&bed, "pgdump_2026-11-19T04:00").unwrap_err();
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no archive named `pgdump_2026-11-19T04:00`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("nearest names: pgdump_2026-11-19T04:00:00, pgdump_2026-11-18T04:00:00"),
        "{stderr}"
    );
}

#[test]
fn archives_that_cannot_be_restored_change_nothing() {
    let bed = Bed::new();
    bed.psql("DELETE FROM cosims.gfsc_jobs WHERE id > 25");
    let before = bed.snapshot();

    // No database-all.sql in the archive.
    let output = bed
        .borg
        .command()
        .args(["create", "--stdin-name", "something-else.sql"])
        .arg(bed.borg.archive_ref("pgdump_2026-11-01T04:00:00"))
        .arg("-")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success());
    let run = bed.restore("pgdump_2026-11-01T04:00:00", &["--no-safety-backup"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("has no database-all.sql (it holds: something-else.sql)"),
        "{}",
        run.stderr
    );

    // An empty dump.
    bed.archive_of("pgdump_2026-11-02T04:00:00", "2026-11-02T04:00:00", b"");
    let run = bed.restore("pgdump_2026-11-02T04:00:00", &["--no-safety-backup"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(run.stderr.contains("is empty"), "{}", run.stderr);

    // A dump of another system: a database of that name, but no cosims schema.
    let other = TestOther::dump_without_schema();
    bed.archive_of("pgdump_2026-11-03T04:00:00", "2026-11-03T04:00:00", &other);
    let run = bed.restore("pgdump_2026-11-03T04:00:00", &["--no-safety-backup"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains("has no schema `cosims`"),
        "{}",
        run.stderr
    );
    bed.wait_for_no_restore_session();

    // A dump without the database at all (its `postgres` renamed).
    let text = String::from_utf8(other)
        .unwrap()
        .replace("\\connect postgres\n", "\\connect otherdb\n")
        .replace(
            "-- Database \"postgres\" dump",
            "-- Database \"otherdb\" dump",
        );
    bed.archive_of(
        "pgdump_2026-11-04T04:00:00",
        "2026-11-04T04:00:00",
        text.as_bytes(),
    );
    let run = bed.restore("pgdump_2026-11-04T04:00:00", &["--no-safety-backup"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains("the dump has no database `postgres`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--source-database"), "{}", run.stderr);
    bed.wait_for_no_restore_session();

    assert_eq!(bed.snapshot(), before);
}

#[test]
fn source_database_restores_a_database_named_otherwise() {
    let bed = Bed::new();
    let archived = bed.snapshot();
    let dump = String::from_utf8(bed.pg.dumpall()).unwrap();
    // The same cluster, its application database named `cosims_v1` (not `postgres`).
    let renamed = dump
        .replace("\\connect postgres\n", "\\connect cosims_v1\n")
        .replace(
            "-- Database \"postgres\" dump",
            "-- Database \"cosims_v1\" dump",
        );
    bed.archive_of(
        "pgdump_2026-11-19T04:00:00",
        "2026-11-19T04:00:00",
        renamed.as_bytes(),
    );
    bed.psql("DELETE FROM cosims.gfsc_jobs");
    let run = bed.restore("latest", &["--no-safety-backup"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(run.stderr.contains("cosims_v1"), "{}", run.stderr);
    let run = bed.restore(
        "latest",
        &["--no-safety-backup", "--source-database", "cosims_v1"],
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(bed.snapshot(), archived);
}

struct TestOther;

impl TestOther {
    /// pg_dumpall of a cluster whose `cosims` database holds another schema.
    fn dump_without_schema() -> Vec<u8> {
        let pg = support::postgres::TestPostgres::start();
        pg.psql("postgres", "CREATE SCHEMA shop; CREATE TABLE shop.items (id int); INSERT INTO shop.items VALUES (1);");
        pg.dumpall()
    }
}

/// The archive, the proof that it holds the dump and the dump's size come from one
/// borg call before the load (each borg call is a Python start-up); the checkpoint an
/// interrupted create leaves is never `latest`.
#[test]
fn one_borg_call_before_the_load_resolves_the_archive_and_sizes_its_dump() {
    let mut bed = Bed::new();
    let dump = bed.pg.dumpall();
    bed.archive_of("pgdump_2026-11-19T04:00:00", "2026-11-19T04:00:00", &dump);
    bed.archive_of(
        "pgdump_2026-11-20T04:00:00.checkpoint",
        "2026-11-20T04:00:00",
        b"-- cut short",
    );
    let real = std::process::Command::new("sh")
        .args(["-c", "command -v borg"])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_owned();
    let wrapped = bed.env.path().join("wrapped");
    std::fs::create_dir_all(&wrapped).unwrap();
    let calls = bed.env.path().join("borg-calls");
    let wrapper = wrapped.join("borg");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\nexec '{real}' \"$@\"\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    bed.env.set_env(
        "PATH",
        &format!("{}:{}", wrapped.display(), support::csi::test_path()),
    );
    for archive in ["latest", "pgdump_2026-11-19T04:00:00", "2026-11-21"] {
        std::fs::write(&calls, "").unwrap();
        let run = bed.restore(archive, &["--no-safety-backup"]);
        assert_eq!(run.code, 0, "{archive}: {}", run.all_output());
        assert!(
            run.stdout
                .contains("pgdump_2026-11-19T04:00:00 (dumped 2026-11-19 04:00:00"),
            "{archive}: {}",
            run.stdout
        );
        let called = std::fs::read_to_string(&calls).unwrap();
        assert_eq!(
            called.lines().collect::<Vec<_>>(),
            ["info", "extract"],
            "{archive}: borg was called for {called:?}"
        );
    }
}
