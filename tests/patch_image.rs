//! patch-image, drift and doctor against the project's Nomad double: real HTTP, real
//! blocking queries, real job files rewritten.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use csi_ops::nomad::NomadClient;
use csi_ops::settings::NomadSettings;
use support::csi::{copy_job_files, nomad_config, stderr_until, TestEnv};
use support::nomad::NomadDouble;
use support::pty::answer_prompt;

struct Bed {
    env: TestEnv,
    jobs: PathBuf,
    nomad: NomadDouble,
}

fn bed(double_args: &[&str]) -> Bed {
    let nomad = NomadDouble::start(double_args);
    let env = TestEnv::new("");
    let jobs = copy_job_files(env.path());
    std::fs::write(&env.config, nomad_config(&nomad.address, &jobs, false)).unwrap();
    Bed { env, jobs, nomad }
}

fn client(address: &str, token: Option<&str>) -> NomadClient {
    let settings = NomadSettings {
        address: Some(address.to_owned()),
        token: token.map(csi_ops::secret::Secret::new),
        namespace: None,
        region: None,
        ca_cert: None,
        template_values: Default::default(),
        template_files: Default::default(),
        tag_pattern: csi_ops::nomad::jobfile::DEFAULT_TAG_PATTERN.into(),
        deploy_timeout: Duration::from_secs(20),
        cpu_step: 500,
        cpu_floor: 500,
    };
    NomadClient::new(&settings, Duration::from_secs(30)).unwrap()
}

fn running_image(address: &str, job: &str) -> Option<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (header, _) = client(address, None).job(job).await.unwrap()?;
        header.images().first().map(|(_, _, image)| image.clone())
    })
}

fn file_tag(jobs: &Path, file: &str) -> String {
    let text = std::fs::read_to_string(jobs.join(file)).unwrap();
    let images = csi_ops::nomad::jobfile::find_images(&text).unwrap();
    images[0].reference.as_ref().unwrap().tag.clone().unwrap()
}

/// Every service submitted from its file, healthy.
fn deploy_all(bed: &Bed) {
    let run = bed.env.csi(&["env", "doctor", "sandbox", "--fix", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
}

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
fn a_broken_image_is_reverted_in_nomad_and_in_the_file() {
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

#[test]
fn a_concurrent_change_between_plan_and_register_is_never_overwritten() {
    let bed = bed(&["--deploy-seconds", "1"]);
    deploy_all(&bed);
    let address = bed.nomad.address.clone();
    let run = answer_prompt(
        &bed.env,
        &["env", "patch-image", "sandbox", "monitor", "git-0123abcd"],
        "Roll out",
        "y",
        move || {
            // Another operator edits the job in the UI meanwhile.
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let client = client(&address, None);
                let (header, mut job) = client.job("monitor").await.unwrap().unwrap();
                job["Meta"] = serde_json::json!({"edited": "in-the-ui"});
                client
                    .register_enforced("monitor", &job, header.job_modify_index, None)
                    .await
                    .unwrap();
            });
        },
    );
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

#[test]
fn doctor_finds_and_fixes_a_pending_worker_pool_management() {
    let bed = bed(&["--cpu-capacity", "3000", "--deploy-seconds", "1"]);
    // Five fit; worker-pool-management (1500 MHz) does not.
    let first = bed.env.csi(&["env", "doctor", "sandbox", "--fix", "--yes"]);
    assert_ne!(first.code, 0, "{}", first.all_output());
    let diagnosis = bed.env.csi(&["env", "doctor", "sandbox"]);
    assert_eq!(diagnosis.code, 4, "{}", diagnosis.all_output());
    assert!(
        diagnosis.stdout.contains("worker-pool-management: pending"),
        "{}",
        diagnosis.stdout
    );
    assert!(
        diagnosis.stdout.contains("cpu exhausted"),
        "{}",
        diagnosis.stdout
    );
    let fix = bed
        .env
        .csi(&["env", "doctor", "sandbox", "--fix", "--yes", "--persist"]);
    assert_eq!(fix.code, 0, "{}", fix.all_output());
    assert!(
        fix.all_output()
            .contains("CPU lowered from 1500 to 1000 MHz"),
        "{}",
        fix.all_output()
    );
    let text = std::fs::read_to_string(bed.jobs.join("worker_pool_management.nomad")).unwrap();
    assert!(text.contains("cpu    = 1000"), "file persisted");
    let again = bed.env.csi(&["env", "doctor", "sandbox"]);
    assert_eq!(again.code, 0, "{}", again.all_output());
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
fn losing_nomad_mid_watch_is_a_clear_error_and_the_journal_says_what_was_submitted() {
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
