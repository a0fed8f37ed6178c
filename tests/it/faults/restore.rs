//! Faults during a restore: the dump, psql, csi itself. All or nothing: the database is
//! left exactly as it was (every table's rows and checksum, every sequence, every
//! object: `snapshot`).

use std::time::Duration;

use crate::restore_bed::{
    changed_bed, last_outcome, line_of, replace_once, slow_archive, Bed, ENV,
};
use crate::support::csi::stderr_until;

/// Neither the lock nor a csi session is left behind by a failed restore.
fn assert_left_clean(bed: &Bed) {
    bed.wait_for_no_restore_session();
    let lock = std::fs::read(bed.env.state_dir.join(ENV).join("lock")).unwrap();
    assert!(lock.is_empty(), "{}", String::from_utf8_lossy(&lock));
}

/// Fault: the archive's dump is cut in the middle of a table's data, or lacks the
/// "dump complete" trailers.
/// Guard: statements are forwarded only once complete; COMMIT only when every COPY
/// block ended with `\.`, both trailers were seen and borg exited 0.
/// Proof: exit 1 naming what is missing; the database snapshot is identical; journal
/// `failed`; lock released.
#[test]
fn truncated_archive_changes_nothing() {
    let (bed, dump, before) = changed_bed();
    let text = String::from_utf8_lossy(&dump).into_owned();
    let copy = text.find("COPY cosims.job_status_changes").unwrap();
    bed.archive_of(
        "pgdump_2026-11-21T04:00:00",
        "2026-11-21T04:00:00",
        &dump[..copy + 20_000],
    );
    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(
        run.stderr.contains("ends inside the data"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert_left_clean(&bed);
    assert_eq!(bed.snapshot(), before);
    assert_eq!(last_outcome(&bed)["outcome"], "failed");

    let cut = text.find("-- Database \"postgres\" dump").unwrap();
    bed.archive_of(
        "pgdump_2026-11-22T04:00:00",
        "2026-11-22T04:00:00",
        &dump[..cut],
    );
    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(
        run.stderr.contains("cluster dump complete"),
        "{}",
        run.stderr
    );
    assert_left_clean(&bed);
    assert_eq!(bed.snapshot(), before);
}

/// Fault: a statement of the dump fails (here a column of an unknown type).
/// Guard: psql runs with ON_ERROR_STOP inside csi's one transaction; psql's line is
/// traced back to the dump's.
/// Proof: exit 1 naming the dump's line and the error; snapshot identical; journal
/// `failed`; lock released.
#[test]
fn sql_error_in_dump_changes_nothing_and_names_the_line() {
    let (bed, dump, before) = changed_bed();
    let bad = replace_once(
        &dump,
        "CREATE TABLE cosims.gfsc_jobs (\n",
        "CREATE TABLE cosims.gfsc_jobs (\n    oops no_such_type,\n",
    );
    let line = line_of(&bad, "oops no_such_type");
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &bad);
    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(run.stderr.contains("no_such_type"), "{}", run.stderr);
    // psql reports a statement's error on its last line's number... or its first: either
    // way the dump's statement, which starts one line above (gfsc_jobs has 30 columns).
    let named = (line - 1..=line + 40).any(|l| {
        run.stderr
            .contains(&format!("line {l} of database-all.sql"))
    });
    assert!(named, "line {line} not named:\n{}", run.stderr);
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert_left_clean(&bed);
    assert_eq!(bed.snapshot(), before);
    assert_eq!(last_outcome(&bed)["outcome"], "failed");
}

/// Fault: csi is killed outright (SIGKILL) while the dump streams into PostgreSQL.
/// Guard: COMMIT is the last thing csi would send; without it PostgreSQL rolls the
/// transaction back when the connection drops. The lock names the dead operation.
/// Proof: snapshot identical; the next restore is refused (exit 4, "did not finish")
/// until `csi env unlock`, then runs.
#[test]
fn killed_restore_changes_nothing_and_its_lock_is_cleared_explicitly() {
    let (bed, dump, before) = changed_bed();
    slow_archive(&bed, &dump);
    let mut child = bed.env.spawn_csi(&[
        "env",
        "restore-db",
        ENV,
        "--archive",
        "latest",
        "--yes",
        "--keep-services",
        "--no-safety-backup",
    ]);
    let (_seen, _rest) = stderr_until(&mut child, "restoring pgdump_");
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL: no cleanup, no COMMIT
    child.wait().unwrap();
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
    let run = bed.restore("pgdump_2026-11-20T04:00:00", &["--no-safety-backup"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(run.stderr.contains("did not finish"), "{}", run.stderr);
    let unlock = bed.csi(&["env", "unlock", ENV, "--yes"]);
    assert_eq!(unlock.code, 0, "{}", unlock.all_output());
    let run = bed.restore("pgdump_2026-11-20T04:00:00", &["--no-safety-backup"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
}

/// Fault: SIGTERM (or Ctrl-C) while the dump streams into PostgreSQL.
/// Guard: the signal reaches csi only; csi stops borg and psql and sends no COMMIT.
/// Proof: exit 130 saying nothing was changed; snapshot identical; journal
/// `interrupted`; lock released.
#[test]
fn interrupted_restore_rolls_back_and_exits_130() {
    let (bed, dump, before) = changed_bed();
    slow_archive(&bed, &dump);
    let mut child = bed.env.spawn_csi(&[
        "env",
        "restore-db",
        ENV,
        "--archive",
        "latest",
        "--yes",
        "--keep-services",
        "--no-safety-backup",
    ]);
    let (_seen, rest) = stderr_until(&mut child, "restoring pgdump_");
    std::thread::sleep(Duration::from_millis(1000));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let stderr = rest.map_while(Result::ok).collect::<Vec<_>>().join("\n");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert_left_clean(&bed);
    assert_eq!(bed.snapshot(), before);
    assert_eq!(last_outcome(&bed)["outcome"], "interrupted");
}
