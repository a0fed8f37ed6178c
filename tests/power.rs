//! `csi env stop|start|plan` with real tofu on a copy of terraform/sandbox, a real
//! PostgreSQL and a real borg repository. States are checked in the state file, not
//! in csi's output; every refusal must leave the state file byte-identical.

mod support;

use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use support::borg::TestBorgRepo;
use support::csi::{copy_terraform_sandbox, stderr_until, ConfigParts, Run, TestEnv};
use support::postgres::TestPostgres;
use support::pty::answer_prompt;
use support::terraform::{
    addresses_in, init_started, init_stopped, run_tofu, state_bytes, var_args,
};

const PLANTED: &str = "planted-tfvars-secret-c0ffee42";

struct Bed {
    env: TestEnv,
    tf: PathBuf,
    tmp: PathBuf,
    _pg: TestPostgres,
    _borg: TestBorgRepo,
}

impl Bed {
    fn csi(&self, args: &[&str]) -> Run {
        self.env.csi(args)
    }
}

fn bed(started: bool, backup_age: Duration, project: Option<&str>) -> Bed {
    let pg = TestPostgres::start();
    pg.create_cosims_db("cosims");
    let borg = TestBorgRepo::create();
    let when = (Utc::now() - backup_age)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    borg.add_dump_archive(&pg, &format!("pgdump_{when}"), &when);
    let mut env = TestEnv::new("");
    let tf = copy_terraform_sandbox(env.path(), PLANTED);
    if started {
        init_started(&tf);
    } else {
        init_stopped(&tf);
    }
    let config = ConfigParts {
        name: "sandbox",
        protected: false,
        terraform_dir: &tf,
        openstack_project_id: project,
        nomad_address: "http://127.0.0.1:9",
        pg_port: pg.port(),
        borg_repo: borg.path(),
    }
    .render();
    std::fs::write(&env.config, config).unwrap();
    for (key, value) in borg.env() {
        env.set_env(key, value.to_str().unwrap());
    }
    let tmp = env.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    env.set_env("TMPDIR", tmp.to_str().unwrap());
    Bed {
        env,
        tf,
        tmp,
        _pg: pg,
        _borg: borg,
    }
}

fn assert_no_plan_left(tmp: &Path) {
    let left: Vec<_> = std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "plan files left behind: {left:?}");
}

fn last_finished(env: &TestEnv, env_name: &str) -> serde_json::Value {
    let history = env.csi(&["env", "history", env_name, "--output", "json"]);
    let entries: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    entries.as_array().unwrap().last().cloned().unwrap()
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
fn a_stale_plan_is_refused_and_nothing_is_applied() {
    let bed = bed(false, Duration::hours(2), None);
    let on_terminal = bed.env.same_as();
    let tf = bed.tf.clone();
    // While csi waits for the confirmation, another operator changes the state.
    let run = answer_prompt(
        &on_terminal,
        &["env", "start", "sandbox", "--tag", "t", "--no-wait"],
        "apply this plan",
        "y",
        move || {
            let mut args = vec![
                "apply",
                "-input=false",
                "-auto-approve",
                "-target=module.core.terraform_data.secgroup_ssh",
            ];
            let vars = var_args("other");
            args.extend(vars.iter().map(String::as_str));
            run_tofu(&tf, &args);
        },
    );
    assert_eq!(run.code, 4, "{}", run.stdout);
    assert!(
        run.stdout.contains("the saved plan is stale"),
        "{}",
        run.stdout
    );
    assert_eq!(
        addresses_in(&bed.tf, "core"),
        vec!["module.core.terraform_data.secgroup_ssh".to_owned()]
    );
    assert_no_plan_left(&bed.tmp);
}

#[test]
fn a_planted_secret_appears_in_no_output_or_state_file() {
    let bed = bed(false, Duration::hours(2), None);
    let outputs = vec![
        bed.csi(&["env", "plan", "sandbox", "start", "--tag", "t", "-vv"]),
        bed.csi(&[
            "env",
            "start",
            "sandbox",
            "--tag",
            "t",
            "--yes",
            "--no-wait",
            "-vv",
        ]),
        bed.csi(&["env", "stop", "sandbox", "--yes", "-vv", "--output", "json"]),
        bed.csi(&["env", "history", "sandbox", "--steps"]),
    ];
    for run in &outputs {
        assert_eq!(run.code, 0, "{}", run.all_output());
        assert!(
            !run.all_output().contains(PLANTED),
            "leaked: {}",
            run.all_output()
        );
    }
    assert!(!bed.env.state_files_text().contains(PLANTED));
    for file in ["terraform.tfstate", "terraform.tfstate.backup"] {
        let text = std::fs::read_to_string(bed.tf.join(file)).unwrap_or_default();
        assert!(!text.contains(PLANTED), "secret in {file}");
    }
}

#[test]
fn sigterm_during_apply_reaches_terraform_and_is_journaled() {
    let bed = bed(false, Duration::hours(2), None);
    let instances = bed.tf.join("modules/core/instances.tf");
    let slow = std::fs::read_to_string(&instances).unwrap().replace(
        "resource \"terraform_data\" \"tf_tata\" {",
        "resource \"terraform_data\" \"tf_tata\" {\n  provisioner \"local-exec\" {\n    command = \"sleep 20\"\n  }\n",
    );
    std::fs::write(&instances, slow).unwrap();

    let mut child = bed.env.spawn_csi(&[
        "env",
        "start",
        "sandbox",
        "--tag",
        "t",
        "--yes",
        "--no-wait",
    ]);
    let (seen, lines) = stderr_until(&mut child, "tf_tata ...");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    let all = format!("{seen}{}", rest.join("\n"));
    assert_eq!(status.code(), Some(130), "{all}");
    assert!(all.contains("interrupted by SIGTERM"), "{all}");

    // The lock is released, the journal says what happened, the plan is gone.
    assert!(std::fs::read(bed.env.state_dir.join("sandbox/lock"))
        .unwrap()
        .is_empty());
    let history = bed.csi(&["env", "history", "sandbox", "--steps", "--output", "json"]);
    let entries: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let entries = entries.as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["step"] == "interrupted"),
        "{}",
        history.stdout
    );
    assert_eq!(entries.last().unwrap()["outcome"], "interrupted");
    assert_no_plan_left(&bed.tmp);
    let created = addresses_in(&bed.tf, "core").len();
    assert!(created < 13, "terraform stopped early: {created}");

    // The next start says what was left.
    let again = bed.csi(&["env", "plan", "sandbox", "start", "--tag", "t"]);
    assert!(
        again.stderr.contains("the last start of `sandbox`"),
        "{}",
        again.stderr
    );
    assert!(
        again
            .stderr
            .contains(&format!("the state now holds {created} resource(s)")),
        "{}",
        again.stderr
    );
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
