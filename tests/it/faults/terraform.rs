//! Faults around stop and start: real tofu on a copy of terraform/sandbox.

use std::path::Path;

use chrono::Duration;

use crate::support::csi::{plain_prod_env, stderr_until, test_path, tofu};
use crate::support::power_bed::{assert_no_plan_left, bed, last_finished, Bed, PLANTED};
use crate::support::pty::answer_prompt;
use crate::support::terraform::{addresses_in, run_tofu, state_bytes, var_args};

/// The lock file is emptied on release (never deleted).
fn assert_lock_released(bed: &Bed) {
    let lock = std::fs::read(bed.env.state_dir.join("sandbox/lock")).unwrap();
    assert!(lock.is_empty(), "{}", String::from_utf8_lossy(&lock));
}

/// Fault: SIGTERM reaches csi while terraform applies a start.
/// Guard: csi forwards the signal once to terraform (own process group), waits for it
/// to stop gracefully, journals `interrupted` with what was done, deletes the plan file,
/// releases the lock, exits 130; the next run warns about the unfinished start.
/// Proof: exit 130; the state is readable and holds fewer than the 13 resources (never a
/// half-written state); lock empty; no plan file left; the journal's last outcome is
/// `interrupted`; the planted secret is in no output, journal or state file.
#[test]
fn interrupted_apply_leaves_state_consistent_and_lock_released() {
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
    assert!(!all.contains(PLANTED), "secret in the output: {all}");

    assert_lock_released(&bed);
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
    // terraform wrote a state it can read back: what it created, nothing half-done.
    let created = addresses_in(&bed.tf, "core").len();
    assert!(created < 13, "terraform stopped early: {created}");
    let state = state_bytes(&bed.tf);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(
        state_bytes(&bed.tf) == state,
        "terraform was still writing the state after csi exited"
    );
    assert!(!bed.env.state_files_text().contains(PLANTED));

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

/// Fault: while csi waits for the confirmation, another operator changes the state.
/// Guard: csi applies exactly the saved plan; terraform refuses it as stale; csi reports
/// it and applies nothing (exit 4).
/// Proof: the state holds only the other operator's resource; no plan file left; the
/// journal says `precondition`; the lock is released.
#[test]
fn stale_plan_is_refused_and_nothing_is_applied() {
    let bed = bed(false, Duration::hours(2), None);
    let on_terminal = bed.env.same_as();
    let tf = bed.tf.clone();
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
    assert_eq!(
        last_finished(&bed.env, "sandbox")["outcome"],
        "precondition"
    );
    assert_lock_released(&bed);
}

/// Fault: a second operator starts an operation while another one holds the
/// environment.
/// Guard: one operation at a time per environment: an flock'ed lock naming its holder.
/// Proof: exit 4 naming the holder's command; the lock file is byte-identical and still
/// held by the first operator.
#[test]
fn concurrent_operator_is_refused_while_the_lock_is_held() {
    let env = plain_prod_env();
    let dir = env.state_dir.join("prod");
    let _held = csi_ops::lock::acquire(&dir, "prod", "csi env stop prod").unwrap();
    let before = std::fs::read(dir.join("lock")).unwrap();
    let run = env.csi(&["env", "unlock", "prod", "--yes"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains("locked by a running operation"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("csi env stop prod"), "{}", run.stderr);
    assert_eq!(std::fs::read(dir.join("lock")).unwrap(), before);
    assert!(matches!(
        csi_ops::lock::inspect(&dir).unwrap(),
        csi_ops::lock::LockState::Held { .. }
    ));
}

/// Shims that log their command line, then run the real program: a secret on a child's
/// command line would show in the log.
fn argv_logging_shims(dir: &Path, log: &Path) -> std::path::PathBuf {
    let shims = dir.join("shims");
    std::fs::create_dir_all(&shims).unwrap();
    let mut real: Vec<(String, std::path::PathBuf)> = vec![("tofu".into(), tofu())];
    for program in ["borg", "psql", "pg_dump", "pg_dumpall"] {
        let found = std::env::split_paths(&test_path())
            .map(|d| d.join(program))
            .find(|p| p.is_file());
        if let Some(path) = found {
            real.push((program.into(), path));
        }
    }
    for (name, path) in real {
        let shim = shims.join(&name);
        std::fs::write(
            &shim,
            format!(
                "#!/bin/sh\nprintf '%s %s\\n' '{name}' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                log.display(),
                path.display()
            ),
        )
        .unwrap();
        crate::support::csi::set_mode(&shim, 0o755);
    }
    shims
}

/// Fault: secrets everywhere csi looks (the terraform secrets var file, NOMAD_TOKEN,
/// PGPASSWORD, BORG_PASSPHRASE) and a child that fails while quoting its input.
/// Guard: secrets are wrapped (Display/Debug print `********`), redacted from whatever
/// csi prints, logs or journals, and reach children only through their environment or
/// var files.
/// Proof: no planted value in the stdout/stderr of plan, start, stop, history, list,
/// show-settings and check at `-vv` (also when tofu fails on a var file quoting it), in
/// the journal and lock, in terraform's state, nor on any child's command line (tofu,
/// borg, psql, pg_dump started through logging shims).
#[test]
fn planted_secret_is_found_nowhere() {
    let mut bed = bed(false, Duration::hours(2), None);
    let log = bed.env.path().join("argv.log");
    let shims = argv_logging_shims(bed.env.path(), &log);
    let config = std::fs::read_to_string(&bed.env.config).unwrap();
    let tofu = tofu().display().to_string();
    let shim = shims.join("tofu").display().to_string();
    std::fs::write(&bed.env.config, config.replace(&tofu, &shim)).unwrap();
    bed.env
        .set_env("PATH", &format!("{}:{}", shims.display(), test_path()));
    let secrets_env = [
        ("PGPASSWORD", "planted-pgpassword-31d4"),
        ("NOMAD_TOKEN", "planted-nomad-token-88aa"),
        ("BORG_PASSPHRASE", "planted-borg-passphrase-5e"),
    ];
    let csi = |args: &[&str]| bed.env.csi_with(args, &secrets_env);
    let succeeding = [
        csi(&["env", "plan", "sandbox", "start", "--tag", "t", "-vv"]),
        csi(&[
            "env",
            "start",
            "sandbox",
            "--tag",
            "t",
            "--yes",
            "--no-wait",
            "-vv",
        ]),
        csi(&["env", "stop", "sandbox", "--yes", "-vv", "--output", "json"]),
        csi(&["env", "history", "sandbox", "--steps"]),
        csi(&["env", "list"]),
        csi(&["env", "list", "--output", "json"]),
        csi(&["env", "show-settings", "sandbox"]),
    ];
    for run in &succeeding {
        assert_eq!(run.code, 0, "{}", run.all_output());
    }
    let settings = &succeeding[6].stdout;
    assert!(settings.contains("\"token\": \"********\""), "{settings}");
    assert!(
        settings.contains("\"password\": \"********\""),
        "{settings}"
    );
    let mut runs: Vec<_> = succeeding.into_iter().collect();
    runs.push(csi(&["env", "check", "sandbox", "-vv"]));
    // A failing child: tofu reads the var file and may quote it; csi must not.
    let bad = bed.tf.join("sandbox_env_configuration.tfvars");
    std::fs::write(&bad, format!("broken = = \"{PLANTED}\"\n")).unwrap();
    runs.push(csi(&["env", "check", "sandbox", "-vv"]));

    let argv = std::fs::read_to_string(&log).unwrap();
    assert!(argv.contains("tofu "), "the shims were not used: {argv}");
    let everywhere = [
        ("the journal and lock", bed.env.state_files_text()),
        ("the command lines of children", argv),
        (
            "terraform's state",
            ["terraform.tfstate", "terraform.tfstate.backup"]
                .iter()
                .map(|f| std::fs::read_to_string(bed.tf.join(f)).unwrap_or_default())
                .collect(),
        ),
    ];
    for secret in std::iter::once(PLANTED).chain(secrets_env.iter().map(|(_, v)| *v)) {
        for run in &runs {
            assert!(
                !run.all_output().contains(secret),
                "secret {secret} leaked:\n{}",
                run.all_output()
            );
        }
        for (place, text) in &everywhere {
            assert!(!text.contains(secret), "secret {secret} in {place}");
        }
    }
    assert!(!state_bytes(&bed.tf).is_empty());
}
