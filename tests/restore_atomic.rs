//! All or nothing: whatever goes wrong during a restore (a dump cut in the middle of
//! table data, an SQL error, a failed verification, csi killed or interrupted), the
//! database is left exactly as it was.

mod restore_bed;
mod support;

use std::time::Duration;

use restore_bed::{last_outcome, replace_once, Bed, ENV};
use support::csi::stderr_until;

/// A bed with a good nightly archive, then a database changed since.
fn changed_bed() -> (Bed, Vec<u8>, String) {
    let bed = Bed::new();
    let nightly = bed.nightly("2026-11-20T04:00:00");
    let dump = bed.dump_of(&nightly);
    bed.psql(
        "INSERT INTO cosims.parent_jobs (name, tile_id) VALUES ('gfsc_job', 'T32TLR');
         DELETE FROM cosims.gfsc_jobs WHERE id > 20;",
    );
    let before = bed.snapshot();
    (bed, dump, before)
}

fn line_of(dump: &[u8], needle: &str) -> usize {
    String::from_utf8_lossy(dump)
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the dump"))
        + 1
}

#[test]
fn a_dump_cut_in_the_middle_of_table_data_changes_nothing() {
    let (bed, dump, before) = changed_bed();
    let copy = String::from_utf8_lossy(&dump)
        .find("COPY cosims.job_status_changes")
        .unwrap();
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
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
    assert_eq!(last_outcome(&bed)["outcome"], "failed");
}

#[test]
fn a_dump_without_its_trailers_changes_nothing() {
    let (bed, dump, before) = changed_bed();
    let text = String::from_utf8_lossy(&dump);
    let cut = text.find("-- Database \"postgres\" dump").unwrap();
    bed.archive_of(
        "pgdump_2026-11-21T04:00:00",
        "2026-11-21T04:00:00",
        &dump[..cut],
    );
    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(
        run.stderr.contains("cluster dump complete"),
        "{}",
        run.stderr
    );
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
}

#[test]
fn an_sql_error_changes_nothing_and_names_the_dump_line() {
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
    // way the dump's statement, which starts one line above.
    let named = (line - 1..=line + 25).any(|l| {
        run.stderr
            .contains(&format!("line {l} of database-all.sql"))
    });
    assert!(named, "line {line} not named:\n{}", run.stderr);
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
}

#[test]
fn a_bad_row_is_traced_to_its_dump_line() {
    let (bed, dump, before) = changed_bed();
    let text = String::from_utf8_lossy(&dump).into_owned();
    let copy_line = line_of(&dump, "COPY cosims.parent_jobs ");
    let bad_row = text.lines().nth(copy_line + 2).unwrap().to_owned(); // the third row
    let broken = bad_row.replacen('\t', " ", 1);
    let bad = replace_once(&dump, &format!("\n{bad_row}\n"), &format!("\n{broken}\n"));
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &bad);
    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    let expected = format!("line {} of database-all.sql", copy_line + 3);
    assert!(
        run.stderr.contains(&expected),
        "{expected:?} not in\n{}",
        run.stderr
    );
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
}

#[test]
fn a_failed_verification_is_exit_5_says_what_differs_and_changes_nothing() {
    let (bed, dump, before) = changed_bed();
    let bad = replace_once(
        &dump,
        "SELECT pg_catalog.setval('cosims.parent_jobs_id_seq', ",
        "SELECT pg_catalog.setval('cosims.parent_jobs_id_seq', 7, true); -- was ",
    );
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &bad);
    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 5, "{}", run.all_output());
    assert!(
        run.stderr.contains(
            "sequence cosims.parent_jobs_id_seq is at 7 but cosims.parent_jobs.id reaches"
        ),
        "{}",
        run.stderr
    );
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
    assert_eq!(last_outcome(&bed)["outcome"], "verification_failed");
}

#[test]
fn rows_lost_on_the_way_fail_the_verification() {
    let (bed, dump, before) = changed_bed();
    // A trigger that swallows rows, planted before the data: the count no longer matches.
    let bad = replace_once(
        &dump,
        "COPY cosims.gfsc_jobs ",
        "CREATE FUNCTION cosims.swallow() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  IF NEW.id > 10 THEN RETURN NULL; END IF;\n  RETURN NEW;\nEND\n$$;\nCREATE TRIGGER swallow BEFORE INSERT ON cosims.gfsc_jobs FOR EACH ROW EXECUTE FUNCTION cosims.swallow();\n\nCOPY cosims.gfsc_jobs ",
    );
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &bad);
    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 5, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("table cosims.gfsc_jobs has 10 rows after loading, the dump has 30"),
        "{}",
        run.stderr
    );
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
}

/// An archive whose restore pauses in the middle (psql sleeps inside the transaction).
fn slow_archive(bed: &Bed, dump: &[u8]) {
    let slow = replace_once(dump, "\n\\.\n", "\n\\.\n\nSELECT pg_sleep(3);\n");
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &slow);
}

#[test]
fn csi_killed_mid_stream_changes_nothing() {
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
    // The lock names the operation that died; once cleared, the next restore runs.
    let run = bed.restore("pgdump_2026-11-20T04:00:00", &["--no-safety-backup"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(run.stderr.contains("did not finish"), "{}", run.stderr);
    let unlock = bed.csi(&["env", "unlock", ENV, "--yes"]);
    assert_eq!(unlock.code, 0, "{}", unlock.all_output());
    let run = bed.restore("pgdump_2026-11-20T04:00:00", &["--no-safety-backup"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
}

#[test]
fn sigterm_mid_stream_rolls_back_and_exits_130() {
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
    let stderr: Vec<String> = rest.map_while(Result::ok).collect();
    assert_eq!(status.code(), Some(130), "{}", stderr.join("\n"));
    assert!(
        stderr.join("\n").contains("nothing was changed"),
        "{}",
        stderr.join("\n")
    );
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
    assert_eq!(last_outcome(&bed)["outcome"], "interrupted");
}
