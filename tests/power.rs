//! `csi env stop|start|plan` with real tofu on a copy of terraform/sandbox, a real
//! PostgreSQL and a real borg repository. States are checked in the state file, not
//! in csi's output; every refusal must leave the state file byte-identical.

mod support;

use chrono::{Duration, Utc};
use support::power_bed::{assert_no_plan_left, bed, last_finished};
use support::pty::answer_prompt;
use support::terraform::{addresses_in, run_tofu, state_bytes};

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
    assert_eq!(addresses_in(&bed.tf, "cold").len(), 3);
    assert!(
        run.stdout
            .contains("Plan: 13 to add, 0 to change, 0 to destroy."),
        "{}",
        run.stdout
    );
    assert_no_plan_left(&bed.tmp);

    let run = bed.csi(&["env", "stop", "sandbox", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(addresses_in(&bed.tf, "core").is_empty());
    assert_eq!(
        addresses_in(&bed.tf, "cold").len(),
        3,
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
}

#[test]
fn refusals_exit_with_their_code_and_leave_the_state_untouched() {
    let bed = bed(true, Duration::hours(2), Some("project-prod-0001"));
    let before = state_bytes(&bed.tf);
    let right_project = [("OS_PROJECT_ID", "project-prod-0001")];

    // Wrong OpenStack project.
    let run = bed.env.csi_with(
        &["env", "stop", "sandbox", "--yes"],
        &[("OS_PROJECT_ID", "project-test-0002")],
    );
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains("expected project-prod-0001"),
        "{}",
        run.stderr
    );

    // No terminal and no --yes.
    let run = bed
        .env
        .csi_with(&["env", "stop", "sandbox"], &right_project);
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
        let run = bed
            .env
            .csi_with(&["env", "stop", "sandbox", "--yes"], &right_project);
        assert_eq!(run.code, 4, "{}", run.all_output());
        assert!(
            run.stderr.contains("csi env restore-db sandbox"),
            "{}",
            run.stderr
        );
    }

    // The operator answers no at the prompt.
    let mut on_terminal = bed.env.same_as();
    on_terminal.set_env("OS_PROJECT_ID", "project-prod-0001");
    let run = answer_prompt(
        &on_terminal,
        &["env", "stop", "sandbox"],
        "apply this plan",
        "n",
        || {},
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(run.stdout.contains("answered no"), "{}", run.stdout);

    // The secrets var file is missing.
    std::fs::remove_file(bed.tf.join("sandbox_env_secrets.tfvars")).unwrap();
    let run = bed
        .env
        .csi_with(&["env", "stop", "sandbox", "--yes"], &right_project);
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
    std::fs::write(bed.tf.join("README.md"), "changed\n").unwrap();
    let before = state_bytes(&bed.tf);
    let run = bed.csi(&["env", "start", "sandbox", "--yes", "--no-wait"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(run.stderr.contains("uncommitted changes"), "{}", run.stderr);
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
    assert!(run.stderr.contains("older than 1day 2h"), "{}", run.stderr);
    assert!(run.stderr.contains("--accept-old-backup"), "{}", run.stderr);
    assert_eq!(state_bytes(&bed.tf), before);
    let run = bed.csi(&["env", "stop", "sandbox", "--yes", "--accept-old-backup"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
}

#[test]
fn terraform_itself_drives_the_same_tree_when_installed() {
    let Some(terraform) = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("terraform"))
        .find(|p| p.is_file())
    else {
        eprintln!("terraform is not installed here: only tofu was exercised");
        return;
    };
    let bed = bed(false, Duration::hours(2), None);
    let config = std::fs::read_to_string(&bed.env.config).unwrap();
    let tofu = support::csi::tofu().display().to_string();
    std::fs::write(
        &bed.env.config,
        config.replace(&tofu, &terraform.display().to_string()),
    )
    .unwrap();
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
    assert!(run.stdout.contains("from the journal"), "{}", run.stdout);
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
