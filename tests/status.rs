//! `csi env status`: every source at once; one that fails is shown as unavailable
//! with its reason and does not fail the overview.

mod support;

use support::borg::TestBorgRepo;
use support::csi::{copy_terraform_sandbox, ConfigParts, TestEnv};
use support::nomad::NomadDouble;
use support::postgres::TestPostgres;
use support::terraform::init_started;

fn section<'a>(overview: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &overview[name]["value"]
}

#[test]
fn a_failing_source_is_shown_unavailable_and_the_rest_still_answers() {
    let pg = TestPostgres::start();
    pg.create_cosims_db("cosims");
    let borg = TestBorgRepo::create();
    borg.add_dump_archive(&pg, "pgdump_2026-11-20T04:00:00", "2026-11-20T04:00:00");
    let mut env = TestEnv::new("");
    let tf = copy_terraform_sandbox(env.path(), "status-test-secret");
    init_started(&tf);
    let config = ConfigParts {
        name: "sandbox",
        protected: false,
        terraform_dir: &tf,
        openstack_project_id: None,
        nomad_address: "http://127.0.0.1:9",
        pg_port: pg.port(),
        borg_repo: borg.path(),
    }
    .render();
    std::fs::write(&env.config, config).unwrap();
    for (key, value) in borg.env() {
        env.set_env(key, value.to_str().unwrap());
    }
    let run = env.csi(&["env", "status", "sandbox", "--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let overview: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(overview["nomad"]["state"], "unavailable");
    assert!(section(&overview, "nomad")["reason"]
        .as_str()
        .unwrap()
        .contains("cannot reach Nomad"));
    assert_eq!(overview["terraform"]["state"], "available");
    assert_eq!(
        section(&overview, "terraform")["resources_under_target"],
        13
    );
    assert_eq!(overview["database"]["state"], "available");
    assert!(section(&overview, "database")["job_types_list"]
        .as_str()
        .unwrap()
        .contains("gfsc_job"));
    assert_eq!(
        section(&overview, "backup")["newest"],
        "pgdump_2026-11-20T04:00:00"
    );
    assert_eq!(overview["lock"]["value"]["state"], "free");

    // With the double up, the services show (missing: nothing submitted yet).
    let nomad = NomadDouble::start(&[]);
    let config = std::fs::read_to_string(&env.config)
        .unwrap()
        .replace("http://127.0.0.1:9", &nomad.address);
    std::fs::write(&env.config, config).unwrap();
    let run = env.csi(&["env", "status", "sandbox"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stdout.contains("nomad      leader"), "{}", run.stdout);
    assert!(run.stdout.contains("tf-tutu up"), "{}", run.stdout);
}

#[test]
fn a_source_that_hangs_is_cut_off_by_its_timeout() {
    // A listener that accepts and never answers: Nomad "hangs".
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let env = TestEnv::new("");
    let tf = tempfile::tempdir().unwrap();
    let config = ConfigParts {
        name: "prod",
        protected: true,
        terraform_dir: tf.path(),
        openstack_project_id: None,
        nomad_address: &address,
        pg_port: 9,
        borg_repo: &env.path().join("borg"),
    }
    .render();
    std::fs::write(&env.config, config).unwrap();
    let started = std::time::Instant::now();
    let run = env.csi(&[
        "env",
        "status",
        "prod",
        "--timeout",
        "1s",
        "--output",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let overview: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        overview["nomad"]["value"]["reason"]
            .as_str()
            .unwrap()
            .contains("no answer within 1s"),
        "{}",
        run.stdout
    );
    drop(listener);
}
