//! patch-image, drift and doctor against the project's Nomad double: real HTTP, real
//! blocking queries, real job files rewritten.

mod support;

use std::time::Duration;

use support::patch_bed::{bed, deploy_all, file_tag, running_image};

#[test]
fn six_services_roll_out_concurrently() {
    let bed = bed(&["--cpu-capacity", "20000", "--deploy-seconds", "1"]);
    deploy_all(&bed);
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
            "+        image   = \"registry.hrsi.example/cosims/cosims/monitor:git-0123abcd\""
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
