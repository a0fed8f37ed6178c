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

use restore_bed::{changed_bed, slow_archive, Bed, ENV};
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
