//! patch-image, drift and doctor against the project's Nomad double: real HTTP, real
//! blocking queries, real job files rewritten.

use crate::support;

use std::time::{Duration, Instant};

use support::patch_bed::{bed, deploy_all, file_tag, running_image, NOMAD_VERSIONS};

#[test]
fn six_services_roll_out_concurrently() {
    let bed = bed(&["--cpu-capacity", "20000", "--deploy-seconds", "1"]);
    deploy_all(&bed);
    let batch = |jobs: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(jobs)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with("_processing.nomad"))
            .map(|name| (name.clone(), std::fs::read(jobs.join(&name)).unwrap()))
            .collect();
        files.sort();
        files
    };
    let batch_before = batch(&bed.jobs);
    assert_eq!(batch_before.len(), 6, "the six batch job files");
    let started = std::time::Instant::now();
    let run = bed.env.csi(&[
        "env",
        "patch-image",
        "sandbox",
        "--all",
        "git-0123abcd",
        "--yes",
    ]);
    let elapsed = started.elapsed();
    assert_eq!(run.code, 0, "{}", run.all_output());
    for (job, file) in [
        ("job-creation", "job_creation.nomad"),
        ("job-configuration", "job_configuration.nomad"),
        ("job-execution", "job_execution.nomad"),
        ("job-publication", "job_publication.nomad"),
        ("monitor", "monitor.nomad"),
        ("worker-pool-management", "worker_pool_management.nomad"),
    ] {
        assert!(
            running_image(&bed.nomad.address, job)
                .unwrap()
                .ends_with(":git-0123abcd"),
            "{job}"
        );
        assert_eq!(file_tag(&bed.jobs, file), "git-0123abcd");
    }
    // --all is the six services: the batch job files are not touched, nor submitted.
    assert_eq!(batch(&bed.jobs), batch_before);
    assert!(
        !bed.nomad
            .requests()
            .iter()
            .any(|r| r.contains("processing")),
        "a batch job was sent to Nomad"
    );
    // One deployment takes about a second; six in sequence would take six.
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    let drift = bed.env.csi(&["env", "drift", "sandbox"]);
    assert_eq!(drift.code, 0, "{}", drift.all_output());
}

#[test]
fn doctor_finds_and_fixes_a_pending_worker_pool_management() {
    let bed = bed(&["--cpu-capacity", "3000", "--deploy-seconds", "1"]);
    // After a start all six are missing; five fit, worker-pool-management (1500 MHz)
    // does not: one `--fix` submits them and lowers its CPU as soon as placement fails.
    let fix = bed
        .env
        .csi(&["env", "doctor", "sandbox", "--fix", "--yes", "--persist"]);
    assert_eq!(fix.code, 0, "{}", fix.all_output());
    assert!(
        fix.all_output()
            .contains("CPU lowered from 1500 to 1000 MHz (and in the job file), placed"),
        "{}",
        fix.all_output()
    );
    assert!(
        fix.all_output()
            .contains("worker-pool-management: pending: cpu exhausted"),
        "the failed placement is shown before the fix: {}",
        fix.all_output()
    );
    let text = std::fs::read_to_string(bed.jobs.join("worker_pool_management.nomad")).unwrap();
    assert!(text.contains("cpu    = 1000"), "file persisted");
    let again = bed.env.csi(&["env", "doctor", "sandbox"]);
    assert_eq!(again.code, 0, "{}", again.all_output());

    // Someone puts it back to 1500 MHz by hand (purge, register again): the five others
    // still hold their CPU, so it cannot be placed and doctor says so.
    let (status, body) = bed.nomad.http("GET", "/v1/job/worker-pool-management", "");
    assert_eq!(status, 200, "{body}");
    let mut job: serde_json::Value = serde_json::from_str(&body).unwrap();
    job["TaskGroups"][0]["Tasks"][0]["Resources"]["CPU"] = 1500.into();
    let (status, body) = bed
        .nomad
        .http("DELETE", "/v1/job/worker-pool-management?purge=true", "");
    assert_eq!(status, 200, "{body}");
    let (status, body) = bed.nomad.http(
        "POST",
        "/v1/jobs",
        &serde_json::json!({ "Job": job }).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    wait_evaluations_done(&bed.nomad, "worker-pool-management");
    let pending = bed.env.csi(&["env", "doctor", "sandbox"]);
    assert_eq!(pending.code, 4, "{}", pending.all_output());
    assert!(
        pending.stdout.contains("worker-pool-management: pending"),
        "{}",
        pending.all_output()
    );
    assert!(
        pending.stdout.contains("cpu exhausted"),
        "{}",
        pending.all_output()
    );
    let refix = bed.env.csi(&["env", "doctor", "sandbox", "--fix", "--yes"]);
    assert_eq!(refix.code, 0, "{}", refix.all_output());
    assert!(
        refix
            .all_output()
            .contains("CPU lowered from 1500 to 1000 MHz (live job only"),
        "{}",
        refix.all_output()
    );
}

/// Waits (up to 20 s) until none of the job's evaluations is still pending.
fn wait_evaluations_done(nomad: &support::nomad::NomadDouble, job: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = nomad.http("GET", &format!("/v1/job/{job}/evaluations"), "");
        assert_eq!(status, 200, "{body}");
        let evals: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
        if !evals.is_empty() && evals.iter().all(|e| e["Status"] != "pending") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "evaluations of {job} still pending: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_missing_token_is_explained() {
    let bed = bed(&["--token", "double-secret-token-1234"]);
    let run = bed.env.csi(&["env", "drift", "sandbox"]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(run.stderr.contains("403"), "{}", run.stderr);
    assert!(run.stderr.contains("NOMAD_TOKEN"), "{}", run.stderr);
    let with_token = bed.env.csi_with(
        &["env", "drift", "sandbox"],
        &[("NOMAD_TOKEN", "double-secret-token-1234")],
    );
    assert_eq!(with_token.code, 7, "{}", with_token.all_output());
    assert!(!with_token.all_output().contains("double-secret-token-1234"));
}

#[test]
fn bad_input_changes_nothing() {
    let bed = bed(&[]);
    let before = std::fs::read(bed.jobs.join("monitor.nomad")).unwrap();
    let bad_tag = bed.env.csi(&[
        "env",
        "patch-image",
        "sandbox",
        "monitor",
        "latest",
        "--yes",
    ]);
    assert_eq!(bad_tag.code, 2, "{}", bad_tag.all_output());
    assert!(
        bad_tag
            .stderr
            .contains("does not match the expected pattern"),
        "{}",
        bad_tag.stderr
    );
    let unknown = bed.env.csi(&[
        "env",
        "patch-image",
        "sandbox",
        "moniter",
        "git-0123abcd",
        "--yes",
    ]);
    assert_eq!(unknown.code, 2, "{}", unknown.all_output());
    assert!(
        unknown.stderr.contains("known services: job-creation"),
        "{}",
        unknown.stderr
    );
    std::fs::write(bed.jobs.join("job_execution.nomad"), "job \"job-execution\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"docker\"\n    }\n  }\n}\n").unwrap();
    let no_image = bed.env.csi(&[
        "env",
        "patch-image",
        "sandbox",
        "job-execution",
        "git-0123abcd",
        "--yes",
    ]);
    assert_eq!(no_image.code, 2, "{}", no_image.all_output());
    assert!(
        no_image.stderr.contains("job_execution.nomad"),
        "{}",
        no_image.stderr
    );
    assert_eq!(
        std::fs::read(bed.jobs.join("monitor.nomad")).unwrap(),
        before
    );
}

#[test]
fn live_patches_only_the_running_job_and_says_so() {
    let bed = bed(&["--deploy-seconds", "1"]);
    deploy_all(&bed);
    let before = std::fs::read(bed.jobs.join("monitor.nomad")).unwrap();
    let run = bed.env.csi(&[
        "env",
        "patch-image",
        "sandbox",
        "monitor",
        "git-0123abcd",
        "--live",
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stderr.contains("next full restart"), "{}", run.stderr);
    assert!(running_image(&bed.nomad.address, "monitor")
        .unwrap()
        .ends_with(":git-0123abcd"));
    assert_eq!(
        std::fs::read(bed.jobs.join("monitor.nomad")).unwrap(),
        before,
        "the file is untouched"
    );
    let drift = bed.env.csi(&["env", "drift", "sandbox"]);
    assert_eq!(
        drift.code,
        7,
        "a live patch is drift: {}",
        drift.all_output()
    );
    let history = bed
        .env
        .csi(&["env", "history", "sandbox", "--steps", "--output", "json"]);
    assert!(
        history.stdout.contains("submitted_live"),
        "{}",
        history.stdout
    );
}

#[test]
fn no_submit_rewrites_the_file_and_leaves_nomad_alone() {
    let bed = bed(&["--deploy-seconds", "1"]);
    deploy_all(&bed);
    let running = running_image(&bed.nomad.address, "monitor").unwrap();
    let run = bed.env.csi(&[
        "env",
        "patch-image",
        "sandbox",
        "monitor",
        "git-0123abcd",
        "--no-submit",
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stdout.contains(
            "+      image   = \"registry.hrsi.example/cosims/cosims/monitor:git-0123abcd\""
        ),
        "the diff is shown: {}",
        run.stdout
    );
    assert_eq!(file_tag(&bed.jobs, "monitor.nomad"), "git-0123abcd");
    assert_eq!(
        running_image(&bed.nomad.address, "monitor").unwrap(),
        running
    );
}

/// Against production's Nomad and the current one, with Nomad's defaults (no update
/// block: healthy_deadline 5m, progress_deadline 10m, no auto-revert): a broken image of
/// every service is caught from its allocations, the deployments failed by csi and the
/// services reverted, well under a minute (Nomad alone would wait 10 minutes).
#[test]
fn a_broken_image_of_each_service_is_reverted_in_seconds_on_every_version() {
    std::thread::scope(|scope| {
        for version in NOMAD_VERSIONS {
            scope.spawn(move || {
                let bed = bed(&[
                    "--nomad-version",
                    version,
                    "--fail-image-pattern",
                    "baadf00d",
                    "--cpu-capacity",
                    "20000",
                    "--deploy-seconds",
                    "1",
                ]);
                deploy_all(&bed);
                let before: Vec<Option<String>> = support::nomad::SERVICES
                    .iter()
                    .map(|job| running_image(&bed.nomad.address, job))
                    .collect();
                let started = Instant::now();
                let run = bed.env.csi(&[
                    "env",
                    "patch-image",
                    "sandbox",
                    "--all",
                    "git-baadf00d",
                    "--yes",
                ]);
                let took = started.elapsed();
                eprintln!(
                    "bench: Nomad {version}: broken image of 6 services caught and reverted in {:.1}s",
                    took.as_secs_f64()
                );
                assert_eq!(run.code, 6, "{version}: {}", run.all_output());
                for job in support::nomad::SERVICES {
                    assert!(
                        run.stdout.contains(&format!("{job}: version 1 failed"))
                            && run.stdout.contains("reverted to version 0 (job file restored)"),
                        "{version} {job}: {}",
                        run.stdout
                    );
                }
                // Decided by the first pull failure, not by the restart budget: one
                // service restarts only after a minute (worker-pool-management's policy).
                assert!(
                    run.stdout.contains("the image cannot be pulled")
                        && !run.stdout.contains("more than the budget"),
                    "{}",
                    run.stdout
                );
                let after: Vec<Option<String>> = support::nomad::SERVICES
                    .iter()
                    .map(|job| running_image(&bed.nomad.address, job))
                    .collect();
                assert_eq!(after, before, "{version}: the old images run again");
                assert!(took < Duration::from_secs(60), "{version}: took {took:?}");
                let drift = bed.env.csi(&["env", "drift", "sandbox"]);
                assert_eq!(drift.code, 0, "{version}: {}", drift.all_output());
            });
        }
    });
}

/// A job-level update block (valid beside a task directly under the job: it applies to
/// the task's group).
const AUTO_REVERT: &str = "  update {\n    min_healthy_time = \"1s\"\n    healthy_deadline = \"2m\"\n    auto_revert      = true\n  }\n\n  task \"monitor\" {";

/// With `auto_revert`, Nomad writes the rollback itself when csi fails the deployment:
/// csi says so ("reverted by Nomad", exit 6) and never reports it as a conflict; without
/// it csi reverts. On both versions.
#[test]
fn auto_revert_on_is_nomads_revert_and_off_is_csis() {
    for version in NOMAD_VERSIONS {
        for auto_revert in [true, false] {
            let bed = bed(&[
                "--nomad-version",
                version,
                "--fail-image-pattern",
                "baadf00d",
                "--deploy-seconds",
                "1",
            ]);
            bed.nomad_setting("restart_budget = 0");
            if auto_revert {
                bed.edit_job_file("monitor.nomad", |t| {
                    t.replacen("  task \"monitor\" {", AUTO_REVERT, 1)
                });
            }
            deploy_all(&bed);
            let old_image = running_image(&bed.nomad.address, "monitor").unwrap();
            let run = bed.env.csi(&[
                "env",
                "patch-image",
                "sandbox",
                "monitor",
                "git-baadf00d",
                "--yes",
            ]);
            let out = run.all_output();
            assert_eq!(run.code, 6, "{version} auto_revert={auto_revert}: {out}");
            assert!(!out.contains("changed by someone else"), "{out}");
            let said = if auto_revert {
                "reverted by Nomad to version 0"
            } else {
                "; reverted to version 0"
            };
            assert!(run.stdout.contains(said), "{version} {auto_revert}: {out}");
            assert_eq!(
                running_image(&bed.nomad.address, "monitor").unwrap(),
                old_image
            );
            // One revert only: Nomad's (version 2) or csi's (version 2), never both.
            assert_eq!(
                bed.nomad.job_version("monitor"),
                2,
                "{version} {auto_revert}"
            );
        }
    }
}

/// Nomad 1.9+ has no HCL1 parser: a file written with an HCL1 habit is refused before
/// anything changes, naming the file, the line and what HCL2 says; Nomad 0.11.1 takes it.
#[test]
fn an_hcl1_file_is_refused_by_nomad_1_9_and_up_before_any_change() {
    for version in NOMAD_VERSIONS {
        let bed = bed(&["--nomad-version", version, "--deploy-seconds", "1"]);
        deploy_all(&bed);
        bed.edit_job_file("monitor.nomad", |t| {
            t.replacen(
                "    resources {\n      cpu    = 200\n      memory = 256\n    }",
                "    resources { cpu = 200 memory = 256 }",
                1,
            )
        });
        let before = std::fs::read(bed.jobs.join("monitor.nomad")).unwrap();
        let version_before = bed.nomad.job_version("monitor");
        let seen = bed.nomad.requests().len();
        let run = bed.env.csi(&[
            "env",
            "patch-image",
            "sandbox",
            "monitor",
            "git-0123abcd",
            "--yes",
        ]);
        if version == "0.11.1" {
            assert_eq!(run.code, 0, "{}", run.all_output());
            continue;
        }
        assert_eq!(run.code, 4, "{}", run.all_output());
        assert!(
            run.stderr.contains("monitor.nomad:")
                && run.stderr.contains("Nomad 2.0.5 cannot parse this file")
                && run.stderr.contains("nothing was changed"),
            "{}",
            run.stderr
        );
        assert_eq!(
            std::fs::read(bed.jobs.join("monitor.nomad")).unwrap(),
            before
        );
        assert_eq!(bed.nomad.job_version("monitor"), version_before);
        let sent = bed.nomad.requests().split_off(seen);
        assert!(
            !sent.iter().any(|r| r.starts_with("POST ")),
            "nothing parsed, planned or registered: {sent:?}"
        );
    }
}

/// The sandbox's old worker_pool_management.nomad (healthy_deadline = "10m", no
/// progress_deadline) fails Nomad's update-block validation at plan time: refused
/// before any change, with Nomad's reason.
#[test]
fn the_old_worker_pool_management_update_block_is_refused_by_validation() {
    let bed = bed(&["--deploy-seconds", "1"]);
    bed.edit_job_file("worker_pool_management.nomad", |t| {
        t.replacen(
            "  task \"worker-pool-management\" {",
            "  update {\n    max_parallel     = 1\n    health_check     = \"task_states\"\n    min_healthy_time = \"1m\"\n    healthy_deadline = \"10m\"\n    auto_revert      = true\n  }\n\n  task \"worker-pool-management\" {",
            1,
        )
    });
    let before = std::fs::read(bed.jobs.join("worker_pool_management.nomad")).unwrap();
    let run = bed.env.csi(&[
        "env",
        "patch-image",
        "sandbox",
        "worker-pool-management",
        "git-0123abcd",
        "--yes",
    ]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("Healthy deadline must be less than progress deadline: 10m0s > 10m0s"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read(bed.jobs.join("worker_pool_management.nomad")).unwrap(),
        before
    );
    assert_eq!(bed.nomad.job_state("worker-pool-management"), "missing");
}

#[test]
fn patch_image_and_doctor_speak_json() {
    let bed = bed(&["--deploy-seconds", "1"]);
    let doctor = bed
        .env
        .csi(&["env", "doctor", "sandbox", "--output", "json"]);
    assert_eq!(doctor.code, 4, "{}", doctor.all_output());
    let found: serde_json::Value = serde_json::from_str(&doctor.stdout).unwrap();
    assert_eq!(found["problems"].as_array().unwrap().len(), 6, "{found}");
    assert_eq!(found["problems"][0]["problem"], "missing");
    let fix = bed.env.csi(&[
        "env", "doctor", "sandbox", "--fix", "--yes", "--output", "json",
    ]);
    assert_eq!(fix.code, 0, "{}", fix.all_output());
    let fixed: serde_json::Value = serde_json::from_str(&fix.stdout).unwrap();
    assert_eq!(fixed["fixes"].as_array().unwrap().len(), 6, "{fixed}");
    assert!(fixed["fixes"][0]["fixed"]
        .as_str()
        .unwrap()
        .starts_with("resubmitted from"));

    let run = bed.env.csi(&[
        "env",
        "patch-image",
        "sandbox",
        "monitor",
        "git-0123abcd",
        "--yes",
        "--output",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let done: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(done["tag"], "git-0123abcd");
    assert_eq!(done["services"][0]["service"], "monitor");
    assert_eq!(done["services"][0]["outcome"], "succeeded");
}

#[test]
fn live_with_no_revert_is_refused_by_the_command_line() {
    let bed = bed(&[]);
    let run = bed.env.csi(&[
        "env",
        "patch-image",
        "sandbox",
        "monitor",
        "git-0123abcd",
        "--live",
        "--no-revert",
    ]);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
}

/// The plan's lines are coloured for a person at a terminal (the file's added line green,
/// Nomad's changed field yellow), and plain with NO_COLOR, with --no-color, and when the
/// output goes to a pipe or a file.
#[test]
fn the_plan_is_coloured_on_a_terminal_only() {
    let mut bed = bed(&["--deploy-seconds", "1"]);
    deploy_all(&bed);
    let args = [
        "env",
        "patch-image",
        "sandbox",
        "monitor",
        "git-0123abcd",
        "--dry-run",
    ];
    let on_terminal = support::pty::answer_prompt(&bed.env, &args, "", "", || {});
    assert_eq!(on_terminal.code, 0, "{}", on_terminal.stdout);
    let added = |line: &str| line.contains("image") && line.contains(":git-0123abcd\"");
    assert!(
        on_terminal
            .stdout
            .lines()
            .any(|l| l.starts_with("\u{1b}[32m+") && added(l)),
        "the added line is green: {:?}",
        on_terminal.stdout
    );
    assert!(
        on_terminal
            .stdout
            .contains("\u{1b}[33m  monitor/monitor: Config.image: "),
        "Nomad's changed field is yellow: {:?}",
        on_terminal.stdout
    );

    let mut no_flag = args.to_vec();
    no_flag.insert(0, "--no-color");
    let flagged = support::pty::answer_prompt(&bed.env, &no_flag, "", "", || {});
    bed.env.set_env("NO_COLOR", "1");
    let no_color = support::pty::answer_prompt(&bed.env, &args, "", "", || {});
    let piped = bed.env.csi(&args);
    for (how, run) in [
        ("--no-color", &flagged),
        ("NO_COLOR", &no_color),
        ("a pipe", &piped),
    ] {
        assert_eq!(run.code, 0, "{how}: {}", run.all_output());
        assert!(
            run.stdout.lines().any(|l| l.starts_with('+') && added(l)),
            "{how}: the plan is shown: {}",
            run.all_output()
        );
        assert!(
            !run.all_output().contains('\u{1b}'),
            "{how}: no escape sequence: {:?}",
            run.all_output()
        );
    }
}
