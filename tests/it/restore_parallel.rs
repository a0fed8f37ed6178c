//! The full restore loads the schema on several connections into a staging schema and
//! swaps it in with one short transaction: nobody sees a half-loaded schema, a kill
//! during the swap changes nothing, and what a killed run left behind is dropped by
//! the next one.

use crate::restore_bed;
use crate::support;

use std::io::Write;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use restore_bed::{changed_bed, line_of, replace_once, slow_archive, Bed, ENV};
use support::csi::stderr_until;

/// What another session sees of the schema, in one statement: its tables, indexes and
/// constraints, and the rows of the job tables.
const LOOK: &str = "SELECT (SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'cosims') || ' ' || \
    (SELECT count(*) FROM pg_catalog.pg_indexes WHERE schemaname = 'cosims') || ' ' || \
    (SELECT count(*) FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'cosims') || ' ' || \
    (SELECT count(*) FROM cosims.parent_jobs) || ' ' || (SELECT count(*) FROM cosims.gfsc_jobs) || ' ' || \
    (SELECT count(*) FROM cosims.job_status_changes)";

fn staging_schemas(bed: &Bed) -> String {
    bed.psql("SELECT string_agg(nspname, ',') FROM pg_namespace WHERE nspname LIKE 'cosims\\_csi\\_restore\\_%'")
}

fn restore_child(bed: &Bed, extra: &[&str]) -> Child {
    let mut args = vec![
        "env",
        "restore-db",
        ENV,
        "--archive",
        "latest",
        "--yes",
        "--keep-services",
        "--no-safety-backup",
    ];
    args.extend_from_slice(extra);
    bed.env.spawn_csi(&args)
}

#[test]
fn another_session_never_sees_a_half_loaded_schema() {
    let (bed, dump, _) = changed_bed();
    let before = bed.psql(LOOK);
    slow_archive(&bed, &dump);
    let done = Arc::new(AtomicBool::new(false));
    let poller = {
        let done = done.clone();
        let pg_env = bed.pg.env();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !done.load(Ordering::SeqCst) {
                let mut cmd = std::process::Command::new("psql");
                cmd.envs(pg_env.iter().map(|(k, v)| (*k, v.as_str())))
                    .args(["-X", "-At", "-d", "postgres", "-c", LOOK]);
                let out = cmd.output().unwrap();
                seen.push(if out.status.success() {
                    String::from_utf8_lossy(&out.stdout).trim().to_owned()
                } else {
                    format!("error: {}", String::from_utf8_lossy(&out.stderr).trim())
                });
            }
            seen
        })
    };
    let mut child = restore_child(&bed, &["--jobs", "3"]);
    let status = child.wait().unwrap();
    done.store(true, Ordering::SeqCst);
    let seen = poller.join().unwrap();
    assert!(status.success(), "the restore failed");
    let after = bed.psql(LOOK);
    assert_ne!(
        before, after,
        "the archive should differ from the changed database"
    );
    assert!(
        seen.len() > 20,
        "only {} looks during the restore",
        seen.len()
    );
    for look in &seen {
        assert!(
            *look == before || *look == after,
            "another session saw {look:?}: neither the schema before ({before}) nor after ({after})"
        );
    }
    assert!(
        seen.contains(&before),
        "the poller never saw the old schema"
    );
    assert_eq!(staging_schemas(&bed), "");
}

/// Holds a lock on a table of the schema in an open transaction until dropped.
struct LockHolder(Child);

impl LockHolder {
    fn take(bed: &Bed) -> LockHolder {
        let mut cmd = bed.pg.client_command("psql");
        cmd.args(["-X", "-q", "-At", "-d", "postgres", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.as_mut().unwrap();
        stdin
            .write_all(
                b"BEGIN;\nLOCK TABLE cosims.parent_jobs IN ACCESS SHARE MODE;\nSELECT 'locked';\n",
            )
            .unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "locked");
        LockHolder(child)
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.0.stdin.take() {
            let _ = stdin.write_all(b"COMMIT;\n");
        }
        let _ = self.0.wait();
    }
}

/// Waits until a csi session waits for a lock in the swap's DROP SCHEMA.
fn wait_for_swap(bed: &Bed) {
    let started = Instant::now();
    loop {
        let waiting = bed.psql(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'csi' \
             AND wait_event_type = 'Lock' AND query LIKE 'DROP SCHEMA IF EXISTS \"cosims\" CASCADE%'",
        );
        if waiting == "1" {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the restore never reached the swap"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn killed_during_the_swap_changes_nothing_and_the_next_run_drops_the_leftover() {
    let (bed, dump, before) = changed_bed();
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &dump);
    let lock = LockHolder::take(&bed);
    let mut child = restore_child(&bed, &["--lock-timeout", "5m"]);
    let (_seen, _rest) = stderr_until(&mut child, "restoring pgdump_");
    wait_for_swap(&bed);
    child.kill().unwrap(); // SIGKILL in the swap's transaction: no COMMIT will come
    child.wait().unwrap();
    drop(lock);
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before, "the killed swap changed the schema");
    let leftover = staging_schemas(&bed);
    assert!(
        leftover.starts_with("cosims_csi_restore_"),
        "no staging schema left by the killed run: {leftover:?}"
    );

    let unlock = bed.csi(&["env", "unlock", ENV, "--yes"]);
    assert_eq!(unlock.code, 0, "{}", unlock.all_output());
    let run = bed.restore("latest", &["--no-safety-backup"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stderr.contains(&format!(
            "dropped schema {leftover}, left by a restore that did not finish"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(staging_schemas(&bed), "");
    assert_ne!(bed.snapshot(), before, "the second restore did not restore");
}

#[test]
fn one_two_and_four_connections_restore_the_same_schema() {
    let (bed, dump, _) = changed_bed();
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &dump);
    let mut snapshots = Vec::new();
    for jobs in ["1", "2", "4"] {
        let run = bed.restore("latest", &["--no-safety-backup", "--jobs", jobs]);
        assert_eq!(run.code, 0, "--jobs {jobs}: {}", run.all_output());
        snapshots.push(bed.snapshot());
        // Changed again between runs, so that each run has something to restore.
        bed.psql("DELETE FROM cosims.gfsc_jobs WHERE id > 20;");
    }
    assert_eq!(snapshots[0], snapshots[1]);
    assert_eq!(snapshots[0], snapshots[2]);
    assert_eq!(staging_schemas(&bed), "");
}

/// The definitions, as pg_dump writes them, of the schema in `bed`'s database.
fn schema_definition(bed: &Bed) -> String {
    let mut cmd = bed.pg.client_command("pg_dump");
    cmd.args(["--schema-only", "-n", "cosims", "-d", "postgres"]);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each dump draws its own \restrict key.
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict ") && !l.starts_with("\\unrestrict "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Keys are built as unique indexes then attached, foreign keys added NOT VALID then
/// validated: what comes out is defined exactly as the dump defines it.
#[test]
fn the_restored_schema_is_defined_as_in_the_dump() {
    let bed = Bed::new();
    let archived = schema_definition(&bed);
    bed.nightly("2026-11-20T04:00:00");
    bed.psql("DROP SCHEMA cosims CASCADE; CREATE SCHEMA cosims;");
    let run = bed.restore("latest", &["--no-safety-backup", "--jobs", "4"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let restored = schema_definition(&bed);
    assert!(archived.contains("PRIMARY KEY (id)") && archived.contains("FOREIGN KEY"));
    assert!(
        !restored.contains("NOT VALID"),
        "a foreign key was left unvalidated"
    );
    let differing: Vec<(&str, &str)> = archived
        .lines()
        .zip(restored.lines())
        .filter(|(a, r)| a != r)
        .take(5)
        .collect();
    assert!(
        differing.is_empty() && archived.lines().count() == restored.lines().count(),
        "the restored schema differs from the dump's (dump, restored): {differing:#?}"
    );
}

/// A bed whose `job_status_changes` is large enough (several MiB of dump) to go to
/// the connections in several COPY streams; returns it with its nightly dump.
fn large_table_bed() -> (Bed, Vec<u8>, String) {
    let bed = Bed::new();
    bed.psql(
        "ALTER TABLE cosims.job_status_changes DISABLE TRIGGER ALL;
         INSERT INTO cosims.job_status_changes (fk_parent_job_id, time, error_message, job_status)
         SELECT (SELECT min(id) FROM cosims.parent_jobs), now() - g * interval '1 second',
                'transient error while downloading the L1C product ' || g, 1
         FROM generate_series(1, 60000) g;
         ALTER TABLE cosims.job_status_changes ENABLE TRIGGER ALL;",
    );
    let nightly = bed.nightly("2026-11-20T04:00:00");
    let dump = bed.dump_of(&nightly);
    bed.psql("DELETE FROM cosims.gfsc_jobs WHERE id > 20;");
    let before = bed.snapshot();
    (bed, dump, before)
}

/// The dump with the `n`th row of `table`'s COPY edited by `edit`, and that row's line.
fn with_row_edited(
    dump: &[u8],
    table: &str,
    n: usize,
    edit: impl Fn(&str) -> String,
) -> (Vec<u8>, usize) {
    let text = String::from_utf8_lossy(dump).into_owned();
    let copy_line = line_of(dump, &format!("COPY cosims.{table} "));
    let row = text.lines().nth(copy_line + n - 1).unwrap().to_owned();
    let edited = replace_once(dump, &format!("\n{row}\n"), &format!("\n{}\n", edit(&row)));
    (edited, copy_line + n)
}

#[test]
fn a_bad_row_in_one_of_several_streams_of_a_table_changes_nothing() {
    let (bed, dump, before) = large_table_bed();
    // Far into the table: past the first streams' chunks.
    let (bad, line) = with_row_edited(&dump, "job_status_changes", 50_000, |row| {
        row.replacen('\t', " ", 1)
    });
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &bad);
    let run = bed.restore("latest", &["--no-safety-backup", "--jobs", "4"]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    let expected = format!("line {line} of database-all.sql");
    assert!(
        run.stderr.contains(&expected),
        "{expected:?} not in\n{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
    assert_eq!(staging_schemas(&bed), "");
}

/// The foreign keys are checked by VALIDATE CONSTRAINT, several at once: a row that
/// references nothing fails the restore, named by the constraint's dump line.
#[test]
fn a_row_referencing_nothing_fails_the_restore_at_its_foreign_key() {
    let (bed, dump, before) = large_table_bed();
    let (bad, _) = with_row_edited(&dump, "job_status_changes", 30_000, |row| {
        let mut fields: Vec<&str> = row.split('\t').collect();
        fields[1] = "987654321"; // fk_parent_job_id: no such parent job
        fields.join("\t")
    });
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &bad);
    let run = bed.restore("latest", &["--no-safety-backup", "--jobs", "3"]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    let fk_line = line_of(
        &bad,
        "ADD CONSTRAINT job_status_changes_fk_parent_job_id_fkey",
    ) - 1;
    let expected = format!("line {fk_line} of database-all.sql");
    assert!(
        run.stderr.contains(&expected),
        "{expected:?} not in\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("violates foreign key constraint")
            && run.stderr.contains("job_status_changes")
            && !run.stderr.contains("_csi_restore_"),
        "{}",
        run.stderr
    );
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
    assert_eq!(staging_schemas(&bed), "");
}
