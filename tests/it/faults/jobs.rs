//! Faults while walking jobs through statuses, against a real PostgreSQL with the
//! cosims schema and its transition trigger.

use std::io::Read;

use crate::support::jobs_bed::bed;

/// Fault: a walk the authorized transitions forbid (done -> ready) among allowed ones.
/// Guard: every walk is checked against the transitions before anything is written;
/// `--strict` refuses the whole command, otherwise the job is skipped with the reason.
/// Proof: with `--strict`, exit 4 and no status change written for either job; a dry
/// run writes nothing; without `--strict` the allowed job is walked, the refused one
/// listed with the first refused step and what is allowed, and not one row written
/// for it (its status and its history unchanged).
#[test]
fn disallowed_job_transition_writes_nothing_for_that_job() {
    let bed = bed();
    let done = bed.jobs(
        1,
        "32TLR",
        "2026-11-01 10:00:00+00",
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 12],
    )[0];
    let checked = bed.jobs(1, "32TLR", "2026-11-01 10:00:00+00", &[13, 15])[0];
    let ids = format!("{done},{checked}");
    let before_done = bed.changes_of(done);
    let before_checked = bed.changes_of(checked);
    let walk_to_ready = |flags: &[&str]| {
        let mut args = vec![
            "env",
            "jobs",
            "sandbox",
            "set-status",
            "--id",
            &ids,
            "--to",
            "ready",
        ];
        args.extend_from_slice(flags);
        bed.csi(&args)
    };

    // --strict refuses the whole command: nothing written for either job.
    let run = walk_to_ready(&["--strict", "--yes"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("done -> ready is not an authorized transition"),
        "{}",
        run.stderr
    );
    assert_eq!(bed.changes_of(done), before_done);
    assert_eq!(bed.changes_of(checked), before_checked);

    // A dry run says exactly what would be written, and writes nothing.
    let run = walk_to_ready(&["--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stdout.contains(&format!(
            "would write  job {checked}  fsc_rlie  32TLR  error_checked -> ready"
        )),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains(&format!("would write  job {done} ")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("would change 1 job(s) (1 status changes), skipped 1"),
        "{}",
        run.stdout
    );
    assert_eq!(bed.changes_of(checked), before_checked);

    // Without --strict: the allowed job is walked, the other listed with the reason.
    let run = walk_to_ready(&["--yes"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stderr.contains(&format!(
            "skipped job {done} (done): done -> ready is not an authorized transition (allowed from done: internal_error, external_error)"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout
            .contains("changed 1 job(s) (1 status changes), skipped 1, failed 0"),
        "{}",
        run.stdout
    );
    assert_eq!(
        bed.changes_of(done),
        before_done,
        "nothing written for the refused job"
    );
    assert_eq!(bed.status_of(done), "12");
    assert_eq!(bed.status_of(checked), "3");
    assert_eq!(bed.changes_of(checked), before_checked + 1);

    // set-status without any selection is refused.
    let run = bed.csi(&[
        "env",
        "jobs",
        "sandbox",
        "set-status",
        "--to",
        "ready",
        "--yes",
    ]);
    assert_eq!(run.code, 2, "{}", run.all_output());
}

/// Fault: another session (a service, another operator) changes a job's status while
/// csi walks the selection, and holds the job's row while doing so.
/// Guard: one transaction per job: the row is locked (waiting for the other session,
/// up to `lock_timeout`) and its status re-checked against the one it was selected
/// with; a job that moved meanwhile is skipped, never walked from a wrong state.
/// Proof: exit 0 with the job listed as skipped; its status and history are exactly the
/// other session's (one change more, no step of csi's); the other jobs walked.
#[test]
fn concurrent_job_modification_is_skipped_not_overwritten() {
    let bed = bed();
    let ids = bed.jobs(6, "32TLR", "2026-11-01 10:00:00+00", &[13]);
    let last = ids[5];
    let range = format!("{}-{}", ids[0], last);
    let mut child = bed.env.spawn_csi(&[
        "env", "jobs", "sandbox", "retry", "--id", &range, "--pause", "700ms", "--yes",
    ]);
    let started = std::time::Instant::now();
    while bed.status_of(ids[0]) != "3" {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no job walked"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The other session: internal_error -> error_checked, its row held for 3 s, over
    // the moment csi reaches the job (after five pauses).
    std::thread::scope(|scope| {
        scope.spawn(|| {
            bed.sql(&format!(
                "begin; \
                 insert into cosims.job_status_changes (fk_parent_job_id, job_status) values ({last}, 15); \
                 select pg_sleep(3); \
                 commit;"
            ))
        });
        let mut stdout = String::new();
        let mut stderr = String::new();
        let status = child.wait().unwrap();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(stderr.contains(&format!("skipped job {last}")), "{stderr}");
        assert!(stdout.contains("skipped 1, failed 0"), "{stdout}");
    });
    assert_eq!(bed.status_of(last), "15", "the other session's status");
    assert_eq!(
        bed.changes_of(last),
        2,
        "only the other session's change was added"
    );
    for id in &ids[..5] {
        assert_eq!(bed.status_of(*id), "3", "job {id}");
        assert_eq!(bed.changes_of(*id), 3, "job {id}");
    }
}
