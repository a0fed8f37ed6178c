//! `csi env stop|start|plan` with real tofu on a copy of terraform/sandbox, a real
//! PostgreSQL and a real borg repository. States are checked in the state file, not
//! in csi's output; every refusal must leave the state file byte-identical.

use crate::support;

use chrono::{Duration, Utc};
use support::power_bed::{assert_no_plan_left, bed, last_finished, two_envs};
use support::pty::answer_prompt;
use support::terraform::{addresses_in, addresses_in_state, run_tofu, state_bytes};

/// The sandbox var file's project (os_project_id), which its stand-in credentials act in.
const SANDBOX_PROJECT: &str = "00000000000000000000000000000000";

fn json_of(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not one JSON document ({e}): {stdout}"))
}

#[test]
fn start_creates_13_and_stop_destroys_13() {
    let bed = bed(false, Duration::hours(2), None);
    assert!(addresses_in(&bed.tf, "core").is_empty());

    let run = bed.csi(&[
        "env",
        "start",
        "sandbox",
        "--tag",
        "git-hash-0123abcd",
        "--yes",
        "--no-wait",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(addresses_in(&bed.tf, "core").len(), 13);
    assert_eq!(addresses_in(&bed.tf, "cold").len(), 4);
    assert!(
        run.stdout
            .contains("Plan: 13 to add, 0 to change, 0 to destroy."),
        "{}",
        run.stdout
    );
    assert_no_plan_left(&bed.tmp);

    let run = bed.csi(&["env", "stop", "sandbox", "--yes", "--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let result = json_of(&run.stdout);
    assert_eq!(
        (&result["operation"], &result["outcome"], &result["changed"]),
        (&"stop".into(), &"done".into(), &true.into()),
        "{result}"
    );
    assert_eq!(result["totals"]["destroy"], 13);
    assert_eq!(
        result["applied"]["completed"].as_array().map(Vec::len),
        Some(13)
    );
    assert_eq!(result["resources_under_target"], 0);
    assert!(addresses_in(&bed.tf, "core").is_empty());
    assert_eq!(
        addresses_in(&bed.tf, "cold").len(),
        4,
        "a stop must not touch module.cold"
    );
    assert!(
        run.stderr.contains("newest database backup: pgdump_"),
        "{}",
        run.stderr
    );
    assert_no_plan_left(&bed.tmp);
    let last = last_finished(&bed.env, "sandbox");
    assert_eq!(
        (last["operation"].as_str(), last["outcome"].as_str()),
        (Some("stop"), Some("ok"))
    );

    // Already stopped: a friendly no-op, not an error.
    let again = bed.csi(&["env", "stop", "sandbox", "--yes"]);
    assert_eq!(again.code, 0, "{}", again.all_output());
    assert!(again.stderr.contains("already stopped"), "{}", again.stderr);
}

#[test]
fn plan_and_dry_run_change_nothing() {
    let bed = bed(true, Duration::hours(2), None);
    let before = state_bytes(&bed.tf);
    let plan = bed.csi(&["env", "plan", "sandbox", "stop"]);
    assert_eq!(plan.code, 0, "{}", plan.all_output());
    assert!(plan.stdout.contains("delete (13):"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("module.core.terraform_data.tf_tutu"),
        "{}",
        plan.stdout
    );
    crate::assert_text_snapshot!("plan-stop", plan.stdout);
    let dry = bed.csi(&["env", "stop", "sandbox", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all_output());
    assert_eq!(state_bytes(&bed.tf), before);
    assert_eq!(addresses_in(&bed.tf, "core").len(), 13);
    assert_no_plan_left(&bed.tmp);
}

#[test]
fn drift_is_shown_and_refused_without_expect() {
    let bed = bed(true, Duration::hours(2), None);
    run_tofu(
        &bed.tf,
        &["state", "rm", "module.core.terraform_data.tf_titi"],
    );
    let before = state_bytes(&bed.tf);
    let run = bed.csi(&["env", "stop", "sandbox", "--yes"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains("12 to delete where 13 expected"),
        "{}",
        run.stderr
    );
    assert_eq!(
        state_bytes(&bed.tf),
        before,
        "a refused stop must not touch the state"
    );

    let run = bed.csi(&["env", "stop", "sandbox", "--yes", "--expect", "12"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(addresses_in(&bed.tf, "core").is_empty());
}

#[test]
fn an_extra_resource_in_the_module_is_refused_without_expect() {
    let bed = bed(false, Duration::hours(2), None);
    // csi.hcl states the count; without it the count is the module's own (below).
    let config = std::fs::read_to_string(&bed.env.config).unwrap();
    let stated = config.replace(
        "    secrets_var_file       = \"sandbox_env_secrets.tfvars\"\n",
        "    secrets_var_file       = \"sandbox_env_secrets.tfvars\"\n    expected_add = 13\n",
    );
    std::fs::write(&bed.env.config, &stated).unwrap();
    let extra = "\nresource \"terraform_data\" \"unexpected\" {\n  input = \"extra\"\n}\n";
    let path = bed.tf.join("modules/core/instances.tf");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(extra);
    std::fs::write(&path, text).unwrap();
    let before = state_bytes(&bed.tf);
    let run = bed.csi(&[
        "env",
        "start",
        "sandbox",
        "--tag",
        "t",
        "--yes",
        "--no-wait",
    ]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains("14 to create where 13 expected"),
        "{}",
        run.stderr
    );
    assert_eq!(state_bytes(&bed.tf), before);
    let run = bed.csi(&[
        "env",
        "start",
        "sandbox",
        "--tag",
        "t",
        "--yes",
        "--no-wait",
        "--expect",
        "14",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(addresses_in(&bed.tf, "core").len(), 14);

    // Without a stated count, the expectation is the module's 14 resource blocks.
    std::fs::write(&bed.env.config, &config).unwrap();
    let plan = bed.csi(&["env", "plan", "sandbox", "stop"]);
    assert_eq!(plan.code, 0, "{}", plan.all_output());
    assert!(plan.stdout.contains("delete (14):"), "{}", plan.stdout);
}

#[test]
fn refusals_exit_with_their_code_and_leave_the_state_untouched() {
    let bed = bed(true, Duration::hours(2), Some(SANDBOX_PROJECT));
    let before = state_bytes(&bed.tf);

    // No terminal and no --yes.
    let run = bed.csi(&["env", "stop", "sandbox"]);
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(run.stderr.contains("no terminal"), "{}", run.stderr);

    // Another operation holds the lock.
    {
        let _held = csi_ops::lock::acquire(
            &bed.env.state_dir.join("sandbox"),
            "sandbox",
            "csi env restore-db sandbox",
        )
        .unwrap();
        let run = bed.csi(&["env", "stop", "sandbox", "--yes"]);
        assert_eq!(run.code, 4, "{}", run.all_output());
        assert!(
            run.stderr.contains("csi env restore-db sandbox"),
            "{}",
            run.stderr
        );
    }

    // The operator answers no at the prompt.
    let run = answer_prompt(
        &bed.env.same_as(),
        &["env", "stop", "sandbox"],
        "apply this plan",
        "n",
        || {},
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(run.stdout.contains("answered no"), "{}", run.stdout);

    // The secrets var file is missing.
    std::fs::remove_file(bed.tf.join("sandbox_env_secrets.tfvars")).unwrap();
    let run = bed.csi(&["env", "stop", "sandbox", "--yes"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains("sandbox_env_secrets.tfvars is missing"),
        "{}",
        run.stderr
    );

    assert_eq!(
        state_bytes(&bed.tf),
        before,
        "every refusal must leave the state byte-identical"
    );
    assert_no_plan_left(&bed.tmp);
}

#[test]
fn the_project_guard_compares_with_the_project_the_credentials_act_in() {
    // csi.hcl says another project than the one the state records.
    let bed = bed(false, Duration::hours(2), Some("project-prod-0001"));
    let before = state_bytes(&bed.tf);
    let run = bed.env.csi_with(
        &[
            "env",
            "start",
            "sandbox",
            "--tag",
            "t",
            "--yes",
            "--no-wait",
        ],
        &[("OS_PROJECT_ID", "project-prod-0001")],
    );
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains(&format!(
            "the state records project {SANDBOX_PROJECT}, expected project-prod-0001"
        )),
        "OS_PROJECT_ID agreeing with csi.hcl proves nothing: {}",
        run.stderr
    );
    assert_eq!(state_bytes(&bed.tf), before);

    // The state is right, but the credentials (the var files) act in another project:
    // the start plan would record it, and is refused before anything is applied.
    replace_in(&bed.env.config, "project-prod-0001", SANDBOX_PROJECT);
    replace_in(
        &bed.tf.join("sandbox_env_configuration.tfvars"),
        SANDBOX_PROJECT,
        "11111111111111111111111111111111",
    );
    let run = bed.csi(&[
        "env",
        "start",
        "sandbox",
        "--tag",
        "t",
        "--yes",
        "--no-wait",
    ]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains(&format!(
            "the credentials act in project 11111111111111111111111111111111, expected {SANDBOX_PROJECT}"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(state_bytes(&bed.tf), before);
    assert!(addresses_in(&bed.tf, "core").is_empty());
    assert_no_plan_left(&bed.tmp);
}

#[test]
fn two_environments_on_one_tree_never_touch_each_others_state() {
    let two = two_envs();
    let env = &two.bed.env;
    let start = env.csi(&[
        "env",
        "start",
        "a",
        "--tag",
        "t",
        "--yes",
        "--no-wait",
        "--output",
        "json",
    ]);
    assert_eq!(start.code, 0, "{}", start.all_output());
    let result = json_of(&start.stdout);
    assert_eq!(result["outcome"], "done", "{result}");
    assert_eq!(result["changed"], true);
    assert_eq!(result["totals"]["add"], 13);
    assert_eq!(result["resources_under_target"], 13);
    assert_eq!(result["state"]["environment"], "a");
    assert_eq!(addresses_in_state(&two.state("a"), "core").len(), 13);
    assert!(addresses_in_state(&two.state("b"), "core").is_empty());
    assert!(
        !two.bed.tf.join("terraform.tfstate.backup").exists()
            || addresses_in(&two.bed.tf, "core").is_empty(),
        "the tree's own state must not be touched"
    );

    let a_before = std::fs::read(two.state("a")).unwrap();
    let plan = env.csi(&["env", "plan", "b", "stop", "--output", "json"]);
    assert_eq!(plan.code, 0, "{}", plan.all_output());
    let result = json_of(&plan.stdout);
    assert_eq!(result["outcome"], "nothing_to_do", "{result}");
    assert_eq!(result["changed"], false);
    assert_eq!(
        result["totals"]["destroy"], 0,
        "a stop of b must plan none of a's resources"
    );
    let stop = env.csi(&["env", "stop", "b", "--yes", "--output", "json"]);
    assert_eq!(stop.code, 0, "{}", stop.all_output());
    assert_eq!(json_of(&stop.stdout)["outcome"], "nothing_to_do");
    assert_eq!(std::fs::read(two.state("a")).unwrap(), a_before);

    // b offered a's state (a new machine, a mistaken state_file): refused before planning.
    replace_in(&env.config, "states/b.tfstate", "states/a.tfstate");
    std::fs::remove_dir_all(env.state_dir.join("b/terraform")).unwrap();
    let run = env.csi(&["env", "stop", "b", "--yes"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains("belongs to environment `a`, not `b`"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(two.state("a")).unwrap(), a_before);
    assert_eq!(addresses_in_state(&two.state("a"), "core").len(), 13);
    assert_no_plan_left(&two.bed.tmp);
}

#[test]
fn apply_runs_with_the_environments_parallelism() {
    let bed = bed(false, Duration::hours(2), None);
    let recorder = bed.env.path().join("recorder/tofu");
    std::fs::create_dir_all(recorder.parent().unwrap()).unwrap();
    let log = bed.env.path().join("argv.log");
    std::fs::write(
        &recorder,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            support::csi::tofu().display()
        ),
    )
    .unwrap();
    support::csi::set_mode(&recorder, 0o755);
    let config = std::fs::read_to_string(&bed.env.config).unwrap();
    let config = config
        .replace(
            &support::csi::tofu().display().to_string(),
            &recorder.display().to_string(),
        )
        .replace(
            "    secrets_var_file       = \"sandbox_env_secrets.tfvars\"\n",
            "    secrets_var_file       = \"sandbox_env_secrets.tfvars\"\n    parallelism = 3\n",
        );
    std::fs::write(&bed.env.config, config).unwrap();
    let run = bed.csi(&[
        "env",
        "start",
        "sandbox",
        "--tag",
        "t",
        "--yes",
        "--no-wait",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let argv = std::fs::read_to_string(&log).unwrap();
    let apply: Vec<&str> = argv.lines().filter(|l| l.contains(" apply ")).collect();
    assert_eq!(apply.len(), 1, "{argv}");
    assert!(apply[0].contains("-parallelism=3"), "{argv}");
    let plan: Vec<&str> = argv.lines().filter(|l| l.contains(" plan ")).collect();
    assert!(plan.iter().all(|l| l.contains("-parallelism=3")), "{argv}");
    assert_eq!(addresses_in(&bed.tf, "core").len(), 13);
}

#[test]
fn a_dirty_work_tree_is_refused_unless_allowed() {
    let bed = bed(false, Duration::hours(2), None);
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args)
            .current_dir(&bed.tf)
            .output()
            .unwrap();
        assert!(status.status.success(), "git {args:?}");
        String::from_utf8_lossy(&status.stdout).trim().to_owned()
    };
    std::fs::write(
        bed.tf.join(".gitignore"),
        ".terraform/\n*.tfstate*\n*_secrets.tfvars\n.terraform.lock.hcl\n",
    )
    .unwrap();
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "tree"]);
    let head = git(&["rev-parse", "HEAD"]);
    // Untracked files alone (a note, what an init writes) leave the tree clean.
    std::fs::write(bed.tf.join("notes.txt"), "untracked\n").unwrap();
    let plan = bed.csi(&["env", "plan", "sandbox", "start", "--output", "json"]);
    assert_eq!(plan.code, 0, "{}", plan.all_output());
    let result = json_of(&plan.stdout);
    assert_eq!(
        result["tag"],
        format!("git-hash-{}", &head[..8]),
        "{result}"
    );
    assert_eq!(result["outcome"], "planned");
    assert_eq!(result["changed"], false);
    assert_eq!(result["totals"]["add"], 13);

    std::fs::write(bed.tf.join("README.md"), "changed\n").unwrap();
    let before = state_bytes(&bed.tf);
    let run = bed.csi(&["env", "start", "sandbox", "--yes", "--no-wait"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains("tracked files of the git work tree"),
        "{}",
        run.stderr
    );
    assert_eq!(state_bytes(&bed.tf), before);

    let run = bed.csi(&[
        "env",
        "start",
        "sandbox",
        "--yes",
        "--no-wait",
        "--allow-dirty",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let history = bed.csi(&["env", "history", "sandbox", "--steps", "--output", "json"]);
    let expected_tag = format!("git-hash-{}-changed", &head[..8]);
    assert!(history.stdout.contains(&expected_tag), "{}", history.stdout);
}

#[test]
fn an_old_backup_needs_its_own_confirmation() {
    let bed = bed(true, Duration::hours(50), None);
    let before = state_bytes(&bed.tf);
    let run = bed.csi(&["env", "stop", "sandbox", "--yes"]);
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(run.stderr.contains("older than 1d 2h"), "{}", run.stderr);
    assert!(run.stderr.contains("--accept-old-backup"), "{}", run.stderr);
    assert_eq!(state_bytes(&bed.tf), before);
    let run = bed.csi(&["env", "stop", "sandbox", "--yes", "--accept-old-backup"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
}

/// HashiCorp terraform is in none of the registries this project installs from, so
/// CI has only tofu: this test is ignored (reported as such), and run with
/// `cargo test --test power -- --ignored` where terraform is on PATH, it fails when
/// terraform is missing instead of passing.
#[test]
#[ignore = "needs HashiCorp terraform on PATH (not installable from the project's registries)"]
fn terraform_itself_drives_the_same_tree() {
    let terraform =
        support::csi::on_path("terraform").expect("terraform is not on PATH: this test needs it");
    let bed = bed(false, Duration::hours(2), None);
    let tofu = support::csi::tofu().display().to_string();
    replace_in(&bed.env.config, &tofu, &terraform.display().to_string());
    let start = bed.csi(&[
        "env",
        "start",
        "sandbox",
        "--tag",
        "t",
        "--yes",
        "--no-wait",
    ]);
    assert_eq!(start.code, 0, "{}", start.all_output());
    assert!(start.stderr.contains("terraform"), "{}", start.stderr);
    assert_eq!(addresses_in(&bed.tf, "core").len(), 13);
    let stop = bed.csi(&["env", "stop", "sandbox", "--yes"]);
    assert_eq!(stop.code, 0, "{}", stop.all_output());
    assert!(addresses_in(&bed.tf, "core").is_empty());
}

#[test]
fn after_a_long_downtime_start_advises_and_offers_the_wave_restart() {
    let bed = bed(false, Duration::hours(2), None);
    let journal = bed.env.state_dir.join("sandbox/journal.jsonl");
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    let stopped = (Utc::now() - Duration::days(3)).to_rfc3339();
    std::fs::write(
        &journal,
        format!("{{\"time\":\"{stopped}\",\"operation_id\":\"old\",\"operation\":\"stop\",\"event\":\"finished\",\"outcome\":\"ok\",\"message\":\"stopped\"}}\n"),
    )
    .unwrap();
    let run = answer_prompt(
        &bed.env.same_as(),
        &[
            "env",
            "start",
            "sandbox",
            "--tag",
            "t",
            "--yes",
            "--no-wait",
        ],
        "Start the wave restart",
        "n",
        || {},
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("downtime: 3d"), "{}", run.stdout);
    assert!(
        run.stdout.contains("from the last stop in the journal"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("csi env restart-waves sandbox"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("gfsc_daily_jobs_creation_start_date"),
        "{}",
        run.stdout
    );
    assert_eq!(addresses_in(&bed.tf, "core").len(), 13);
}

#[test]
fn a_relative_config_is_resolved_once_and_an_init_failure_is_shown_whole() {
    let bed = bed(true, Duration::hours(2), None);
    let config = std::fs::read_to_string(&bed.env.config).unwrap();
    let relative = config.replace(
        &format!("\"{}\"", bed.tf.display()),
        "\"terraform-sandbox\"",
    );
    assert_ne!(relative, config);
    std::fs::write(&bed.env.config, &relative).unwrap();
    // csi run from the configuration's directory with `--config csi.hcl`.
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_csi"));
        cmd.current_dir(bed.env.path())
            .args(["--config", "csi.hcl", "--state-dir", "state"])
            .args(args)
            .env_clear()
            .env("PATH", support::csi::test_path())
            .env("HOME", &bed.env.home)
            .stdin(std::process::Stdio::null());
        for (k, v) in &bed.env.env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run(&["env", "plan", "sandbox", "stop"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("delete (13):"), "{stdout}");

    // A backend configuration terraform rejects: its whole message, every line.
    let config = relative.replace(
        "    secrets_var_file       = \"sandbox_env_secrets.tfvars\"\n",
        "    secrets_var_file       = \"sandbox_env_secrets.tfvars\"\n    backend_config = \"broken.tfbackend\"\n",
    );
    std::fs::write(&bed.env.config, config).unwrap();
    std::fs::write(bed.tf.join("broken.tfbackend"), "bogus_setting = 1\n").unwrap();
    std::fs::remove_dir_all(bed.env.path().join("state/sandbox/terraform")).unwrap();
    let before = state_bytes(&bed.tf);
    let (code, stdout, stderr) = run(&["env", "plan", "sandbox", "stop"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("terraform init in") && stderr.contains("Error: Unsupported argument"),
        "{stderr}"
    );
    assert!(
        stderr.contains("An argument named \"bogus_setting\" is not expected here."),
        "the whole message, not its first line: {stderr}"
    );
    assert_eq!(state_bytes(&bed.tf), before);
}

/// Rewrites `from` as `to` in a file of the test bed; a `from` that is not there is a
/// broken test, not a silent no-op.
fn replace_in(path: &std::path::Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}
