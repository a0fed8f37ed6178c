//! The foundation's promises, proven against the real binary and real components:
//! configuration errors, preflight, secret redaction, the lock, and refusing to wait
//! for a terminal that is not there.

use crate::support;

use support::borg::TestBorgRepo;
use support::csi::{copy_terraform_sandbox, plain_prod_env, set_mode, ConfigParts, TestEnv};
use support::nomad::NomadDouble;
use support::postgres::TestPostgres;

const PLANTED: &str = "planted-secret-7f3a9c1e";

struct Bed {
    env: TestEnv,
    _pg: TestPostgres,
    _borg: TestBorgRepo,
    _nomad: NomadDouble,
}

/// A sandbox-like environment: a real PostgreSQL with the cosims fixture, a borg
/// repository with a backdated nightly archive, tofu, and the Nomad double.
fn test_bed(openstack_project_id: Option<&str>, protected: bool) -> Bed {
    let pg = TestPostgres::start();
    pg.load_cosims();
    let borg = TestBorgRepo::create();
    borg.add_dump_archive(&pg, "pgdump_2026-11-20T04:00:00", "2026-11-20T04:00:00");
    let nomad = NomadDouble::start(&[]);
    let scratch = tempfile::tempdir().unwrap();
    let mut env = TestEnv::new("");
    let tf_dir = copy_terraform_sandbox(env.path(), PLANTED);
    // Stopped: module.cold, with the state's record of its environment and project.
    support::terraform::init_stopped(&tf_dir);
    drop(scratch);
    let config = ConfigParts {
        name: "sandbox",
        protected,
        terraform_dir: &tf_dir,
        openstack_project_id,
        nomad_address: &nomad.address,
        pg_port: pg.port(),
        borg_repo: borg.path(),
    }
    .render();
    std::fs::write(&env.config, config).unwrap();
    for (key, value) in borg.env() {
        env.set_env(key, value.to_str().unwrap());
    }
    Bed {
        env,
        _pg: pg,
        _borg: borg,
        _nomad: nomad,
    }
}

#[test]
fn check_passes_against_the_real_test_bed() {
    let bed = test_bed(None, false);
    let run = bed.env.csi(&["env", "check", "sandbox"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    for check in [
        "tool terraform",
        "tool borg",
        "tool psql",
        "tool pg_dump",
        "tool pg_dumpall",
        "configuration var file",
        "secrets var file",
        "terraform state",
        "nomad reachable",
        "database reachable",
        "borg repository readable",
    ] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains(check))
            .unwrap_or_else(|| panic!("no line for {check}: {}", run.stdout));
        assert!(line.starts_with("OK"), "{line}");
    }
    assert!(run.stdout.contains("tofu 1."), "{}", run.stdout);
    assert!(
        run.stdout.contains("pgdump_2026-11-20T04:00:00"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .lines()
        .any(|l| l.starts_with("SKIP") && l.contains("OpenStack project")));
}

#[test]
fn check_fails_on_exposed_secrets_file_and_wrong_project() {
    let bed = test_bed(Some("expected-project-0001"), false);
    let secrets = bed
        .env
        .path()
        .join("terraform-sandbox/sandbox_env_secrets.tfvars");
    set_mode(&secrets, 0o644);
    // OS_PROJECT_ID agreeing proves nothing: the project is the state's record.
    let run = bed.env.csi_with(
        &["env", "check", "sandbox", "--output", "json"],
        &[("OS_PROJECT_ID", "expected-project-0001")],
    );
    assert_eq!(run.code, 4, "{}", run.all_output());
    let checks: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    let status = |name: &str| {
        checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| {
                (
                    c["status"].as_str().unwrap().to_owned(),
                    c["detail"].as_str().unwrap().to_owned(),
                )
            })
            .unwrap()
    };
    let (s, detail) = status("secrets var file");
    assert_eq!(s, "fail");
    assert!(detail.contains("chmod 600"), "{detail}");
    let (s, detail) = status("OpenStack project");
    assert_eq!(s, "fail");
    assert!(
        detail.contains("the state records project 00000000000000000000000000000000, expected expected-project-0001"),
        "{detail}"
    );
    assert_eq!(status("database reachable").0, "ok");
    assert!(run.stderr.contains("2 check(s) failed"), "{}", run.stderr);
}

fn plant_stale_lock(env: &TestEnv, env_name: &str) {
    let dir = env.state_dir.join(env_name);
    std::fs::create_dir_all(&dir).unwrap();
    let holder = serde_json::json!({
        "user": "alice", "host": "tf-toto", "pid": 999_999,
        "command": "csi env stop prod", "since": "2026-11-20T10:00:00Z"
    });
    std::fs::write(dir.join("lock"), holder.to_string()).unwrap();
}

#[test]
fn no_terminal_without_yes_refuses_at_once_and_changes_nothing() {
    let env = plain_prod_env();
    plant_stale_lock(&env, "prod");
    let before = std::fs::read(env.state_dir.join("prod/lock")).unwrap();
    let started = std::time::Instant::now();
    let run = env.csi(&["env", "unlock", "prod"]);
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(run.stderr.contains("no terminal"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    assert_eq!(
        std::fs::read(env.state_dir.join("prod/lock")).unwrap(),
        before
    );
}

#[test]
fn stale_lock_is_reported_and_cleared_explicitly() {
    let env = plain_prod_env();
    plant_stale_lock(&env, "prod");
    let dry = env.csi(&["env", "unlock", "prod", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all_output());
    assert!(
        dry.stderr
            .contains("alice@tf-toto (pid 999999, `csi env stop prod`)"),
        "{}",
        dry.stderr
    );
    assert!(!std::fs::read(env.state_dir.join("prod/lock"))
        .unwrap()
        .is_empty());

    let run = env.csi(&["env", "unlock", "prod", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(std::fs::read(env.state_dir.join("prod/lock"))
        .unwrap()
        .is_empty());
    let history = env.csi(&["env", "history", "prod", "--output", "json"]);
    let entries: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let last = entries.as_array().unwrap().last().unwrap();
    assert_eq!(last["operation"], "unlock");
    assert_eq!(last["outcome"], "ok");
}

#[test]
fn unlock_reports_a_documented_json_result() {
    let env = plain_prod_env();
    plant_stale_lock(&env, "prod");
    let json = |run: &support::csi::Run| -> serde_json::Value {
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.all_output()))
    };
    let dry = env.csi(&["env", "unlock", "prod", "--dry-run", "--output", "json"]);
    assert_eq!(dry.code, 0, "{}", dry.all_output());
    let dry = json(&dry);
    assert_eq!(dry["environment"], "prod");
    assert_eq!(dry["result"], "dry_run");
    assert_eq!(dry["holder"]["user"], "alice");
    let cleared = env.csi(&["env", "unlock", "prod", "--yes", "--output", "json"]);
    assert_eq!(cleared.code, 0, "{}", cleared.all_output());
    let cleared = json(&cleared);
    assert_eq!(cleared["result"], "cleared");
    assert_eq!(cleared["holder"]["command"], "csi env stop prod");
    let again = env.csi(&["env", "unlock", "prod", "--yes", "--output", "json"]);
    let again = json(&again);
    assert_eq!(again["result"], "not_locked");
    assert!(again["holder"].is_null());
}

#[test]
fn configuration_errors_name_file_line_and_key() {
    let env = TestEnv::new(
        "environment \"prod\" {\n  terraform {\n    dir = \"t\"\n    configuration_var_file = \"c\"\n    secrets_var_file = \"s\"\n    parallelism = \"two\"\n  }\n}\n",
    );
    let run = env.csi(&["env", "list"]);
    assert_eq!(run.code, 2, "{}", run.all_output());
    let expected = format!(
        "{}:6: key `environment.prod.terraform.parallelism`",
        env.config.display()
    );
    assert!(run.stderr.contains(&expected), "{}", run.stderr);

    std::fs::write(&env.config, "environmnet \"prod\" {}\n").unwrap();
    let run = env.csi(&["env", "list"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(":1: key `environmnet`: unknown field"),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_environment_names_the_known_ones() {
    let env = plain_prod_env();
    let run = env.csi(&["env", "check", "prdo"]);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr.contains("unknown environment `prdo`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("known environments: prod"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_file_wins_and_environment_variables_only_fill_what_it_leaves_unset() {
    let env = plain_prod_env();
    let run = env.csi_with(
        &["env", "show-settings", "prod"],
        &[
            ("NOMAD_ADDR", "http://nomad.example:4646"),
            ("PGPORT", "6543"),
            ("BORG_REPO", "/srv/borg"),
            ("NOMAD_NAMESPACE", "ops"),
            ("NOMAD_SKIP_VERIFY", "true"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    let s: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(s["nomad"]["address"], "http://127.0.0.1:9");
    assert_eq!(s["origins"]["nomad.address"], "csi.hcl");
    assert_eq!(s["database"]["port"], 9);
    assert_eq!(s["origins"]["database.port"], "csi.hcl");
    assert_ne!(s["borg"]["repository"], "/srv/borg");
    // What the file leaves unset, the variables fill, and say so.
    assert_eq!(s["nomad"]["namespace"], "ops");
    assert_eq!(s["origins"]["nomad.namespace"], "env var NOMAD_NAMESPACE");
    assert_eq!(s["nomad"]["skip_verify"], true);
    assert_eq!(s["origins"]["nomad.region"], "default");
    // One line for each variable that disagrees with the file, none for the others.
    for var in ["NOMAD_ADDR", "PGPORT", "BORG_REPO"] {
        let lines: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.contains(&format!("ignoring {var}=")))
            .collect();
        assert_eq!(lines.len(), 1, "{var}: {}", run.stderr);
        assert!(lines[0].contains("csi.hcl sets"), "{}", lines[0]);
    }
    assert!(!run.stderr.contains("NOMAD_NAMESPACE"), "{}", run.stderr);
    let same = env.csi_with(
        &["env", "show-settings", "prod"],
        &[("NOMAD_ADDR", "http://127.0.0.1:9")],
    );
    assert!(!same.stderr.contains("ignoring"), "{}", same.stderr);
    let bad = env.csi_with(
        &["env", "show-settings", "prod"],
        &[("NOMAD_SKIP_VERIFY", "maybe")],
    );
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("NOMAD_SKIP_VERIFY `maybe` is not a boolean"),
        "{}",
        bad.stderr
    );
}

/// NOMAD_ADDR and PGHOST/PGPORT exported for another server (production, say) while
/// csi works on the sandbox: nothing reaches that server, and csi says it ignored them.
#[test]
fn addresses_exported_for_another_server_receive_nothing() {
    let bed = test_bed(None, false);
    let decoy_nomad = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let decoy_pg = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    decoy_nomad.set_nonblocking(true).unwrap();
    decoy_pg.set_nonblocking(true).unwrap();
    let nomad_addr = format!("http://{}", decoy_nomad.local_addr().unwrap());
    let pg_port = decoy_pg.local_addr().unwrap().port().to_string();
    let run = bed.env.csi_with(
        &["env", "check", "sandbox"],
        &[
            ("NOMAD_ADDR", nomad_addr.as_str()),
            ("PGHOST", "127.0.0.1"),
            ("PGPORT", pg_port.as_str()),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    for listener in [&decoy_nomad, &decoy_pg] {
        let accepted = listener.accept();
        assert!(
            matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "something connected to the decoy {:?}: {}",
            listener.local_addr(),
            run.all_output()
        );
    }
    assert!(
        run.stderr.contains("ignoring NOMAD_ADDR="),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ignoring PGPORT="), "{}", run.stderr);
    // Every setting's line says where it came from.
    let line = run
        .stdout
        .lines()
        .find(|l| l.contains("setting nomad.address"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(
        line.starts_with("FROM") && line.ends_with("(csi.hcl)"),
        "{line}"
    );
}

#[test]
fn help_reads_as_documented() {
    let env = plain_prod_env();
    for (name, args) in [
        ("help", &["--help"][..]),
        ("env-help", &["env", "--help"][..]),
    ] {
        let run = env.csi(args);
        assert_eq!(run.code, 0, "{}", run.all_output());
        crate::assert_text_snapshot!(name, run.stdout);
    }
}

#[test]
fn completions_and_man_page_are_generated() {
    let env = plain_prod_env();
    let bash = env.csi(&["completions", "bash"]);
    assert_eq!(bash.code, 0);
    assert!(
        bash.stdout.contains("csi__subcmd__env__subcmd__check"),
        "{}",
        &bash.stdout[..200.min(bash.stdout.len())]
    );
    let man = env.csi(&["man"]);
    assert_eq!(man.code, 0);
    assert!(
        man.stdout.contains(".TH csi"),
        "{}",
        &man.stdout[..200.min(man.stdout.len())]
    );
}

#[test]
fn a_protected_environment_wants_its_name_typed() {
    let env = plain_prod_env();
    plant_stale_lock(&env, "prod");
    let wrong = support::pty::answer_prompt(
        &env,
        &["env", "unlock", "prod"],
        "type its name",
        "prd\r",
        || {},
    );
    assert_eq!(wrong.code, 3, "{}", wrong.stdout);
    assert!(
        wrong.stdout.contains("is not the environment's name"),
        "{}",
        wrong.stdout
    );
    assert!(!std::fs::read(env.state_dir.join("prod/lock"))
        .unwrap()
        .is_empty());
    let right = support::pty::answer_prompt(
        &env,
        &["env", "unlock", "prod"],
        "type its name",
        "prod\r",
        || {},
    );
    assert_eq!(right.code, 0, "{}", right.stdout);
    assert!(std::fs::read(env.state_dir.join("prod/lock"))
        .unwrap()
        .is_empty());
}
