//! `csi env jobs` against a real PostgreSQL with the cosims schema and its transition
//! trigger: selections, the retry walk of many jobs at flat memory, and refusals that
//! write nothing.

use crate::support;

use std::io::Read;
use std::time::Duration;

use support::csi::Run;
use support::jobs_bed::{bed, Bed};

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", run.all_output()))
}

/// Runs csi and samples its peak resident memory (VmHWM, kB) until it exits.
fn run_measuring_memory(bed: &Bed, args: &[&str]) -> (i32, String, u64) {
    let mut child = bed.env.spawn_csi(args);
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).ok();
        s
    });
    let mut peak = 0;
    let started = std::time::Instant::now();
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "csi took too long"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let output = format!("{}\n{}", out.join().unwrap(), err.join().unwrap());
    (status.code().unwrap_or(-1), output, peak)
}

#[test]
fn retry_of_1000_jobs_is_accepted_by_the_trigger_at_flat_memory() {
    let bed = bed();
    let small = bed.jobs(100, "32TLR", "2026-11-01 10:00:00+00", &[13]);
    let large = bed.jobs(1000, "31TGM", "2026-11-02 10:00:00+00", &[13]);

    let range = |ids: &[i64]| format!("{}-{}", ids[0], ids[ids.len() - 1]);
    let small_range = range(&small);
    let (code, output, small_peak) = run_measuring_memory(
        &bed,
        &[
            "env",
            "jobs",
            "sandbox",
            "retry",
            "--id",
            &small_range,
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("changed 100 job(s) (200 status changes)"),
        "{output}"
    );

    let large_range = range(&large);
    let (code, output, large_peak) = run_measuring_memory(
        &bed,
        &[
            "env",
            "jobs",
            "sandbox",
            "retry",
            "--id",
            &large_range,
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("changed 1000 job(s) (2000 status changes), skipped 0, failed 0"),
        "{output}"
    );

    // Every job went internal_error -> error_checked -> ready through the trigger.
    assert_eq!(
        bed.count("select count(*) from cosims.parent_jobs where last_status_id = 3"),
        1100
    );
    let walks = bed.sql(
        "select string_agg(job_status::text, ',' order by time, id) w from cosims.job_status_changes \
         group by fk_parent_job_id having string_agg(job_status::text, ',' order by time, id) <> '13,15,3'",
    );
    assert_eq!(walks, "", "jobs with another history");
    assert_eq!(
        bed.count(
            "select count(*) from cosims.parent_jobs where error_raised and last_status_id = 3"
        ),
        1100,
        "the trigger keeps parent_jobs in step"
    );

    eprintln!("peak RSS: 100 jobs {small_peak} kB, 1000 jobs {large_peak} kB");
    assert!(small_peak > 0 && large_peak > 0);
    assert!(
        (large_peak as f64) < (small_peak as f64) * 1.5,
        "memory grows with the selection: {small_peak} kB for 100 jobs, {large_peak} kB for 1000"
    );

    // Journaled, with the changed ids as ranges.
    let history = bed.csi(&["env", "history", "sandbox", "--steps", "--output", "json"]);
    assert!(
        history.stdout.contains("\"jobs-retry\""),
        "{}",
        history.stdout
    );
    assert!(history.stdout.contains(&large_range), "{}", history.stdout);
}

#[test]
fn jobs_are_selected_by_time_range_and_by_tile() {
    let bed = bed();
    let nov1 = bed.jobs(3, "32TLR", "2026-11-01 10:00:00+00", &[13]);
    let nov2 = bed.jobs(2, "31TGM", "2026-11-02 10:00:00+00", &[13]);
    let nov3 = bed.jobs(4, "32TLR", "2026-11-03 23:59:59+00", &[13]);
    let list = |extra: &[&str]| {
        let mut args = vec!["env", "jobs", "sandbox", "list", "--output", "json"];
        args.extend_from_slice(extra);
        let run = bed.csi(&args);
        assert_eq!(run.code, 0, "{}", run.all_output());
        let value = json(&run);
        let ids: Vec<i64> = value["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_i64().unwrap())
            .collect();
        (value["total"].as_i64().unwrap(), ids, value)
    };

    let (total, ids, value) = list(&[
        "--type",
        "fsc_rlie",
        "--since",
        "2026-11-02",
        "--before",
        "2026-11-04",
    ]);
    assert_eq!(total, 6);
    assert_eq!(ids, [nov2.clone(), nov3.clone()].concat());
    assert_eq!(value["date_column"], "measurement_date");
    // Production's dates are `timestamp` (no time zone); the type is the table's.
    assert_eq!(value["jobs"][0]["date"], "2026-11-02 10:00:00");
    assert_eq!(value["jobs"][0]["type"], "fsc_rlie");
    assert_eq!(value["jobs"][0]["name"], "job_1");

    let (_, ids, _) = list(&["--type", "fsc_rlie_job", "--before", "2026-11-02"]);
    assert_eq!(ids, nov1);

    let (total, ids, value) = list(&["--tile", "32TLR"]);
    assert_eq!(total, 7);
    assert_eq!(ids, [nov1.clone(), nov3.clone()].concat());
    assert_eq!(value["counts"][0]["status"], "internal_error");
    assert_eq!(value["counts"][0]["jobs"], 7);

    let (total, ids, _) = list(&[
        "--tile",
        "32TLR",
        "--type",
        "fsc_rlie",
        "--since",
        "2026-11-02T00:00:00Z",
        "--limit",
        "2",
    ]);
    assert_eq!(total, 4);
    assert_eq!(ids, nov3[..2]);

    // A time range needs a type; a column the table does not have is named.
    let run = bed.csi(&["env", "jobs", "sandbox", "list", "--since", "2026-11-02"]);
    assert_eq!(run.code, 2, "{}", run.all_output());
    let run = bed.csi(&[
        "env",
        "jobs",
        "sandbox",
        "list",
        "--type",
        "gfsc",
        "--date-column",
        "nope",
        "--since",
        "2026-11-02",
    ]);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr.contains("has no date column `nope`"),
        "{}",
        run.stderr
    );
    let run = bed.csi(&["env", "jobs", "sandbox", "list", "--type", "fsc"]);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("fsc_rlie, gfsc, other, psa_arlie, rlies1, rlies1s2, sws_wds, test"),
        "{}",
        run.stderr
    );

    // The selection drives the writes too: only the tile's jobs in the range are retried.
    let run = bed.csi(&[
        "env",
        "jobs",
        "sandbox",
        "retry",
        "--tile",
        "32TLR",
        "--type",
        "fsc_rlie",
        "--since",
        "2026-11-03",
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    for id in &nov3 {
        assert_eq!(bed.status_of(*id), "3");
    }
    for id in nov1.iter().chain(&nov2) {
        assert_eq!(bed.status_of(*id), "13");
    }

    // Text listing: counts, then the page.
    let run = bed.csi(&["env", "jobs", "sandbox", "list", "--status", "ready"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stdout
            .starts_with("selection: status ready (4 jobs)\n  ready                     4\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_signal_stops_the_walk_between_two_jobs() {
    let bed = bed();
    let ids = bed.jobs(6, "32TLR", "2026-11-01 10:00:00+00", &[13]);
    let range = format!("{}-{}", ids[0], ids[5]);
    let mut child = bed.env.spawn_csi(&[
        "env", "jobs", "sandbox", "retry", "--id", &range, "--pause", "700ms", "--yes",
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stdout.contains("— interrupted"), "{stdout}");
    assert!(stderr.contains("interrupted between two jobs"), "{stderr}");

    // Every job is either fully walked or untouched: never half-way.
    let statuses: Vec<String> = ids.iter().map(|id| bed.status_of(*id)).collect();
    let walked = statuses.iter().filter(|s| *s == "3").count();
    assert!((1..6).contains(&walked), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| s == "3" || s == "13"),
        "{statuses:?}"
    );
    for id in &ids {
        let changes = bed.changes_of(*id);
        assert!(
            changes == 1 || changes == 3,
            "job {id}: {changes} status changes"
        );
    }
    let history = bed.csi(&["env", "history", "sandbox"]);
    assert!(history.stdout.contains("interrupted"), "{}", history.stdout);
}

/// The statuses are the database's `job_status` rows, not a list built into csi: a name
/// the table gains is typed and printed; a name it loses is unknown, and the error
/// lists what the database has.
#[test]
fn job_statuses_are_read_from_the_database() {
    let bed = bed();
    let ids = bed.jobs(2, "32TLR", "2026-11-01 10:00:00+00", &[13]);
    bed.sql("update cosims.job_status set name = 'failed_inside' where id = 13");
    let run = bed.csi(&[
        "env",
        "jobs",
        "sandbox",
        "list",
        "--status",
        "failed_inside",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stdout.contains("failed_inside"), "{}", run.stdout);
    assert!(!run.stdout.contains("internal_error"), "{}", run.stdout);

    let run = bed.csi(&[
        "env",
        "jobs",
        "sandbox",
        "list",
        "--status",
        "internal_error",
    ]);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr.contains("unknown job status `internal_error`")
            && run.stderr.contains("failed_inside (13)"),
        "{}",
        run.stderr
    );
    // retry's default (jobs.retry_from) names a status the database no longer has.
    let run = bed.csi(&["env", "jobs", "sandbox", "retry", "--yes"]);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("jobs.retry_from in csi.hcl: unknown job status `internal_error`"),
        "{}",
        run.stderr
    );
    assert_eq!(bed.changes_of(ids[0]), 1, "nothing was written");
}

/// A schema without what a command needs: a one-line error naming the table, column or
/// trigger and what the command needed it for (exit 4), and nothing written.
#[test]
fn a_schema_lacking_what_jobs_need_is_named_and_nothing_is_written() {
    let bed = bed();
    let ids = bed.jobs(3, "32TLR", "2026-11-01 10:00:00+00", &[13]);
    let walk: &[&str] = &[
        "env",
        "jobs",
        "sandbox",
        "set-status",
        "--status",
        "internal_error",
        "--to",
        "error_checked,ready",
        "--yes",
    ];
    let list: &[&str] = &["env", "jobs", "sandbox", "list"];
    // Exit 4 and one error line, which says `expected`.
    let refused = |args: &[&str], expected: &str| {
        let run = bed.csi(args);
        assert_eq!(run.code, 4, "{}", run.all_output());
        let errors: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("error"))
            .collect();
        assert_eq!(errors.len(), 1, "{}", run.stderr);
        assert!(errors[0].contains(expected), "{}", errors[0]);
    };

    // Without the transition trigger nothing would refuse a walk production forbids.
    bed.sql("drop trigger check_status_change on cosims.job_status_changes");
    refused(
        walk,
        "cosims.job_status_changes has no (enabled) insert trigger check_status_change: \
         csi env jobs relies on it to refuse the transitions the system does not authorize",
    );
    // Listing needs no trigger.
    let run = bed.csi(list);
    assert_eq!(run.code, 0, "{}", run.all_output());

    // A missing column of the table the jobs are selected from.
    bed.sql("alter table cosims.parent_jobs rename column tile_id to tile");
    refused(
        list,
        "cosims.parent_jobs has no column `tile_id`: csi env jobs selects and lists the jobs from it",
    );
    bed.sql("alter table cosims.parent_jobs rename column tile to tile_id");

    // A missing table: the statuses'.
    bed.sql("alter table cosims.job_status rename to job_states");
    refused(
        list,
        "the schema has no table cosims.job_status: \
         csi env jobs reads the job statuses (ids and names) from it",
    );
    for id in ids {
        assert_eq!(bed.changes_of(id), 1, "job {id}: nothing was written");
    }
}
