//! Faults of Nomad and of the job files, with the project's Nomad double (real HTTP,
//! injected faults): nothing half-registered, job files as they were, the journal
//! saying what was sent.

use crate::support::csi::{stderr_until, Run};
use crate::support::patch_bed::{bed, client, deploy_all, file_tag, running_image, Bed};
use crate::support::pty::answer_prompt;

/// Fault: the new image does not start (its allocations fail, the deployment fails).
/// Guard: the deployment is watched; on failure csi reverts to the newest stable
/// version (watched too) and restores the job file byte for byte.
/// Proof: exit 6; the old image runs again; the file byte-identical; the journal has
/// the `reverted` result and the `rolled_back` outcome.
#[test]
fn failed_deployment_is_reverted_in_nomad_and_in_the_file() {
    let bed = bed(&["--fail-image-pattern", "baadf00d", "--deploy-seconds", "1"]);
    deploy_all(&bed);
    let before = std::fs::read(bed.jobs.join("monitor.nomad")).unwrap();
    let old_image = running_image(&bed.nomad.address, "monitor").unwrap();
    let run = bed.env.csi(&[
        "env",
        "patch-image",
        "sandbox",
        "monitor",
        "git-baadf00d",
        "--yes",
    ]);
    assert_eq!(run.code, 6, "{}", run.all_output());
    assert!(
        run.all_output().contains("reverted to version 0"),
        "{}",
        run.all_output()
    );
    assert_eq!(
        running_image(&bed.nomad.address, "monitor").unwrap(),
        old_image
    );
    assert_eq!(
        std::fs::read(bed.jobs.join("monitor.nomad")).unwrap(),
        before,
        "file restored byte for byte"
    );
    let history = bed
        .env
        .csi(&["env", "history", "sandbox", "--steps", "--output", "json"]);
    assert!(
        history.stdout.contains("\"outcome\": \"reverted\""),
        "{}",
        history.stdout
    );
    assert!(
        history.stdout.contains("\"outcome\": \"rolled_back\""),
        "{}",
        history.stdout
    );
}

/// `patch-image monitor`, with another operator registering an edit of the job (its
/// `Meta.edited`) between csi's plan and csi's register, at the confirmation prompt.
fn patch_monitor_while_another_operator_edits_it(bed: &Bed, edited: &'static str) -> Run {
    let address = bed.nomad.address.clone();
    answer_prompt(
        &bed.env,
        &["env", "patch-image", "sandbox", "monitor", "git-0123abcd"],
        "Roll out",
        "y",
        move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let client = client(&address, None);
                let (header, mut job) = client.job("monitor").await.unwrap().unwrap();
                job["Meta"] = serde_json::json!({ "edited": edited });
                client
                    .register_enforced("monitor", &job, header.job_modify_index, None)
                    .await
                    .unwrap();
            });
        },
    )
}

/// Fault: another operator changes the job in Nomad between csi's plan and its register.
/// Guard: register with EnforceIndex and the JobModifyIndex seen at plan time.
/// Proof: exit 4 "changed by someone else"; the other change is what runs (never
/// overwritten); the new image is not running; the job file is put back.
#[test]
fn concurrent_nomad_change_is_never_overwritten() {
    let bed = bed(&["--deploy-seconds", "1"]);
    deploy_all(&bed);
    let run = patch_monitor_while_another_operator_edits_it(&bed, "in-the-ui");
    assert_eq!(run.code, 4, "{}", run.stdout);
    assert!(
        run.stdout.contains("changed by someone else"),
        "{}",
        run.stdout
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_, job) = rt
        .block_on(client(&bed.nomad.address, None).job("monitor"))
        .unwrap()
        .unwrap();
    assert_eq!(
        job["Meta"]["edited"], "in-the-ui",
        "the other change is kept"
    );
    assert!(!running_image(&bed.nomad.address, "monitor")
        .unwrap()
        .ends_with("git-0123abcd"));
    assert_ne!(
        file_tag(&bed.jobs, "monitor.nomad"),
        "git-0123abcd",
        "file restored"
    );
}

/// Fault: Nomad goes away while csi watches a rollout.
/// Guard: every submission is journaled as it happens; a lost Nomad is reported.
/// Proof: exit 1 "cannot reach Nomad"; the journal already holds the `submitted` step
/// for the service, and the operation's outcome `failed`.
#[test]
fn nomad_lost_mid_rollout_is_a_clear_error_and_journaled() {
    let mut bed = bed(&["--deploy-seconds", "30"]);
    let mut child = bed.env.spawn_csi(&[
        "env",
        "patch-image",
        "sandbox",
        "monitor",
        "git-0123abcd",
        "--yes",
    ]);
    let (seen, lines) = stderr_until(&mut child, "placed");
    bed.nomad.stop();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    let all = format!("{seen}{}", rest.join("\n"));
    assert_eq!(status.code(), Some(1), "{all}");
    assert!(all.contains("cannot reach Nomad"), "{all}");
    let journal = std::fs::read_to_string(bed.env.state_dir.join("sandbox/journal.jsonl")).unwrap();
    assert!(journal.contains("\"step\":\"submitted\""), "{journal}");
    assert!(journal.contains("\"service\":\"monitor\""), "{journal}");
    assert!(journal.contains("\"outcome\":\"failed\""), "{journal}");
}

/// Fault: Nomad answers 503 to reads, then 500 to the register of a rollout.
/// Guard: idempotent calls (reads, parse, plan) are retried with backoff on 5xx; a
/// register is never retried blindly: the failure is reported and the job file put
/// back.
/// Proof: drift succeeds through three 503s (the double's log shows them retried);
/// patch-image exits 1 naming the 500; exactly one register was sent; the job's
/// version in Nomad is unchanged and the old image runs; the job file is byte-identical;
/// the journal's outcome is `failed`.
#[test]
fn nomad_5xx_is_retried_on_reads_and_never_on_register() {
    let bed = bed(&["--deploy-seconds", "1"]);
    deploy_all(&bed);
    bed.nomad.inject("GET:/v1/job/*:503:3");
    let drift = bed.env.csi(&["env", "drift", "sandbox"]);
    assert_eq!(drift.code, 0, "{}", drift.all_output());
    let retried = bed
        .nomad
        .requests()
        .iter()
        .filter(|r| r.ends_with(" -> 503"))
        .count();
    assert_eq!(retried, 3, "{:?}", bed.nomad.requests());

    let before = std::fs::read(bed.jobs.join("monitor.nomad")).unwrap();
    let version = bed.nomad.job_version("monitor");
    let image = running_image(&bed.nomad.address, "monitor").unwrap();
    bed.nomad.inject("POST:/v1/job/monitor:500");
    let seen = bed.nomad.requests().len();
    let run = bed.env.csi(&[
        "env",
        "patch-image",
        "sandbox",
        "monitor",
        "git-0123abcd",
        "--yes",
    ]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(run.all_output().contains("500"), "{}", run.all_output());
    assert!(
        run.all_output().contains("job file restored"),
        "{}",
        run.all_output()
    );
    let registers: Vec<String> = bed
        .nomad
        .requests()
        .into_iter()
        .skip(seen)
        .filter(|r| r.starts_with("POST /v1/job/monitor") && !r.contains("/plan"))
        .collect();
    assert_eq!(registers, ["POST /v1/job/monitor -> 500"]);
    assert_eq!(bed.nomad.job_version("monitor"), version);
    assert_eq!(running_image(&bed.nomad.address, "monitor").unwrap(), image);
    assert_eq!(
        std::fs::read(bed.jobs.join("monitor.nomad")).unwrap(),
        before
    );
    let history = bed
        .env
        .csi(&["env", "history", "sandbox", "--output", "json"]);
    let entries: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(
        entries.as_array().unwrap().last().unwrap()["outcome"],
        "failed"
    );
}

/// Fault: a job file that does not parse (an unclosed block), among the files of a
/// `--all` rollout.
/// Guard: every file is read and patched in memory before anything is written or
/// sent; a file that does not parse is an error naming the file and line.
/// Proof: exit 2 naming `monitor.nomad:<line>`; every job file byte-identical (none
/// rewritten to the new tag); the Nomad double received no request at all; the
/// running images unchanged.
#[test]
fn corrupt_job_file_is_refused_and_nothing_is_submitted() {
    let bed = bed(&["--deploy-seconds", "1"]);
    deploy_all(&bed);
    let monitor = bed.jobs.join("monitor.nomad");
    let mut text = std::fs::read_to_string(&monitor).unwrap();
    text.push_str("\ngroup \"orphan\" {\n  task \"t\" {\n");
    std::fs::write(&monitor, text).unwrap();
    let files = || -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let mut all: Vec<_> = std::fs::read_dir(&bed.jobs)
            .unwrap()
            .flatten()
            .map(|e| (e.path(), std::fs::read(e.path()).unwrap()))
            .collect();
        all.sort();
        all
    };
    let before = files();
    let image = running_image(&bed.nomad.address, "job-creation").unwrap();
    let requests = bed.nomad.requests().len();
    let run = bed.env.csi(&[
        "env",
        "patch-image",
        "sandbox",
        "--all",
        "git-0123abcd",
        "--yes",
    ]);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr.contains("monitor.nomad:"),
        "file and line not named: {}",
        run.stderr
    );
    assert!(files() == before, "a job file was changed");
    assert_eq!(bed.nomad.requests()[requests..], [] as [String; 0]);
    assert_eq!(
        running_image(&bed.nomad.address, "job-creation").unwrap(),
        image
    );
    assert_ne!(file_tag(&bed.jobs, "job_creation.nomad"), "git-0123abcd");
}

/// Fault: the conflict comes back through a client agent or a non-leader server, its
/// text after `rpc error: `.
/// Guard: conflicts are recognised anywhere in the body, as the nomad CLI does.
/// Proof: exit 4 "changed by someone else" on both versions; the other change runs.
#[test]
fn a_conflict_behind_an_rpc_error_prefix_exits_4() {
    for version in crate::support::patch_bed::NOMAD_VERSIONS {
        let bed = bed(&[
            "--nomad-version",
            version,
            "--rpc-error-prefix",
            "--deploy-seconds",
            "1",
        ]);
        deploy_all(&bed);
        let run = patch_monitor_while_another_operator_edits_it(&bed, "elsewhere");
        assert_eq!(run.code, 4, "{version}: {}", run.stdout);
        assert!(
            run.stdout.contains("changed by someone else"),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout.contains("rpc error: Enforcing job modify index"),
            "{}",
            run.stdout
        );
        let (_, job) = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(client(&bed.nomad.address, None).job("monitor"))
            .unwrap()
            .unwrap();
        assert_eq!(job["Meta"]["edited"], "elsewhere");
    }
}

/// Fault: the services' tasks ignore the interrupt and run until their kill_timeout
/// after Nomad answered the stop (and already reads the jobs `dead`).
/// Guard: restore-db waits until every stopped allocation is terminal before it begins,
/// within `nomad.stop_timeout`; past it, a clear error, nothing restored, the services
/// brought back.
/// Proof: a whole `csi env restore-db` against the double with `--slow-stop`, as Nomad
/// 0.11.1 and 2.0.5: its journal records the stop done, and the safety backup begun,
/// after the last task died (the double's clock), at least the 5 s kill_timeout after
/// the stop began; with a 1 s bound it exits 1 naming the wait, the database is as it
/// was and the six services run again.
#[test]
fn stopping_for_a_restore_waits_for_a_slow_stop() {
    use crate::restore_bed::{self, ENV};
    use crate::restore_services::{services_bed_with, step_time, task_deaths};
    for version in crate::support::patch_bed::NOMAD_VERSIONS {
        let (bed, nomad) = services_bed_with(&["--slow-stop", "--nomad-version", version], "");
        let archived = bed.snapshot();
        bed.nightly("2026-11-20T04:00:00");
        bed.psql("DELETE FROM cosims.gfsc_jobs");
        let run = bed.csi(&["env", "restore-db", ENV, "--archive", "latest", "--yes"]);
        assert_eq!(run.code, 0, "{version}: {}", run.all_output());
        assert_eq!(bed.snapshot(), archived, "{version}");
        let deaths = task_deaths(&nomad);
        assert_eq!(deaths.len(), 6, "{version}: one task per stopped service");
        let last_death = deaths.iter().max().unwrap();
        // The tasks without a kill_timeout get Nomad's 5 s: the stop really took that.
        let asked = step_time(&bed, "archive_resolved");
        assert!(
            (*last_death - asked).num_milliseconds() >= 4_500,
            "{version}: the tasks died {last_death}, the stop began after {asked}"
        );
        let stopped = step_time(&bed, "services_stopped");
        let safety = step_time(&bed, "safety_backup");
        assert!(
            stopped >= *last_death && safety >= *last_death,
            "{version}: the restore went on at {stopped} while a task ran until {last_death}"
        );
        nomad.wait_all("running");

        // A bound shorter than the kill_timeout.
        let (bed, nomad) = services_bed_with(
            &["--slow-stop", "--nomad-version", version],
            "stop_timeout = \"1s\"",
        );
        bed.nightly("2026-11-20T04:00:00");
        bed.psql("DELETE FROM cosims.gfsc_jobs");
        let changed = bed.snapshot();
        let run = bed.csi(&["env", "restore-db", ENV, "--archive", "latest", "--yes"]);
        assert_eq!(run.code, 1, "{version}: {}", run.all_output());
        assert!(
            run.stderr.contains(
                "stopping the services failed, the restore did not begin and nothing was changed"
            ) && run.stderr.contains("running 1s after the stop"),
            "{version}: {}",
            run.stderr
        );
        assert_eq!(bed.snapshot(), changed, "{version}: nothing restored");
        let steps = restore_bed::last_steps(&bed);
        assert!(
            steps.iter().any(|s| s == "services_stop_failed"),
            "{steps:?}"
        );
        assert!(!steps.iter().any(|s| s == "safety_backup"), "{steps:?}");
        assert!(steps.iter().any(|s| s == "services_restarted"), "{steps:?}");
        nomad.wait_all("running");
    }
}
