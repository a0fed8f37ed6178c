//! The stop/start test bed: real tofu on a copy of terraform/sandbox whose secrets var
//! file holds a planted secret, a real PostgreSQL and a real borg repository with a
//! nightly archive of a chosen age.

use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};

use super::borg::TestBorgRepo;
use super::csi::{copy_terraform_sandbox, ConfigParts, Run, TestEnv};
use super::postgres::TestPostgres;
use super::terraform::{init_started, init_stopped};

pub const PLANTED: &str = "planted-tfvars-secret-c0ffee42";

pub struct Bed {
    pub env: TestEnv,
    pub tf: PathBuf,
    pub tmp: PathBuf,
    pub _pg: TestPostgres,
    pub _borg: TestBorgRepo,
}

impl Bed {
    pub fn csi(&self, args: &[&str]) -> Run {
        self.env.csi(args)
    }
}

pub fn bed(started: bool, backup_age: Duration, project: Option<&str>) -> Bed {
    let pg = TestPostgres::start();
    pg.load_cosims();
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

pub fn assert_no_plan_left(tmp: &Path) {
    let left: Vec<_> = std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "plan files left behind: {left:?}");
}

pub fn last_finished(env: &TestEnv, env_name: &str) -> serde_json::Value {
    let history = env.csi(&["env", "history", env_name, "--output", "json"]);
    let entries: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    entries.as_array().unwrap().last().cloned().unwrap()
}

/// Two environments, `a` and `b`, on one copy of the sandbox tree, each with its own
/// local state file (outside the tree), both stopped, recorded as theirs.
pub struct TwoEnvs {
    pub bed: Bed,
}

impl TwoEnvs {
    pub fn state(&self, env: &str) -> PathBuf {
        self.bed.env.path().join(format!("states/{env}.tfstate"))
    }
}

/// The environment block of `name` on `tf`, with `extra` lines in its terraform block.
pub fn environment_block(bed_parts: &ConfigParts, extra: &str) -> String {
    bed_parts.render().replace(
        "    secrets_var_file       = \"sandbox_env_secrets.tfvars\"\n",
        &format!("    secrets_var_file       = \"sandbox_env_secrets.tfvars\"\n{extra}"),
    )
}

pub fn two_envs() -> TwoEnvs {
    let bed = bed(false, Duration::hours(2), None);
    // No state of the tree's own: each environment has its file, nothing in the tree.
    for name in [
        "terraform.tfstate",
        "terraform.tfstate.backup",
        ".terraform",
    ] {
        let path = bed.tf.join(name);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else if path.exists() {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let two = TwoEnvs { bed };
    let pg_port = two.bed._pg.port();
    let mut config = String::new();
    for env in ["a", "b"] {
        let state = two.state(env);
        super::terraform::seed_stopped(
            &two.bed.tf,
            &two.bed.env.path().join(format!("seed-{env}")),
            &format!("path={}", state.display()),
            env,
            &[],
        );
        let parts = ConfigParts {
            name: env,
            protected: false,
            terraform_dir: &two.bed.tf,
            openstack_project_id: None,
            nomad_address: "http://127.0.0.1:9",
            pg_port,
            borg_repo: two.bed._borg.path(),
        };
        config.push_str(&environment_block(
            &parts,
            &format!("    state_file = \"states/{env}.tfstate\"\n"),
        ));
    }
    std::fs::write(&two.bed.env.config, config).unwrap();
    two
}

/// No state of the tree's own: each environment has its state elsewhere.
pub fn clear_tree_state(tf: &Path) {
    for name in [
        "terraform.tfstate",
        "terraform.tfstate.backup",
        ".terraform",
    ] {
        let path = tf.join(name);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).unwrap();
        } else if path.exists() {
            std::fs::remove_file(&path).unwrap();
        }
    }
}
