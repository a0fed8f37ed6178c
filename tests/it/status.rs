//! `csi env status`: every source at once; one that fails is shown as unavailable
//! with its reason and does not fail the overview.

use crate::support;

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
    pg.load_cosims();
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

/// A program that waits `seconds` before running the real one: a slow source made of
/// the real tool. Each call appends "start end" (seconds since the epoch, by the test
/// machine's clock, not csi's) to `<dir>/<name>.times`.
fn slow_wrapper(dir: &std::path::Path, name: &str, real: &std::path::Path, seconds: f64) {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    let times = dir.join(format!("{name}.times"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nstart=$(date +%s.%N)\nsleep {seconds}\n'{}' \"$@\"\nstatus=$?\n\
             echo \"$start $(date +%s.%N)\" >> '{}'\nexit $status\n",
            real.display(),
            times.display()
        ),
    )
    .unwrap();
    support::csi::set_mode(&path, 0o755);
}

/// From the first start to the last end of a wrapped tool's calls, in seconds.
fn busy_span(dir: &std::path::Path, name: &str) -> (f64, f64) {
    let times = std::fs::read_to_string(dir.join(format!("{name}.times")))
        .unwrap_or_else(|e| panic!("{name} was never called: {e}"));
    let calls: Vec<(f64, f64)> = times
        .lines()
        .map(|line| {
            let (start, end) = line.split_once(' ').unwrap();
            (start.parse().unwrap(), end.parse().unwrap())
        })
        .collect();
    let start = calls.iter().map(|c| c.0).fold(f64::MAX, f64::min);
    let end = calls.iter().map(|c| c.1).fold(f64::MIN, f64::max);
    (start, end)
}

fn six_services() -> String {
    [
        ("job-creation", "job_creation.nomad"),
        ("job-configuration", "job_configuration.nomad"),
        ("job-execution", "job_execution.nomad"),
        ("job-publication", "job_publication.nomad"),
        ("monitor", "monitor.nomad"),
        ("worker-pool-management", "worker_pool_management.nomad"),
    ]
    .iter()
    .map(|(name, file)| format!("service \"{name}\" {{\n  job_file = \"{file}\"\n}}\n"))
    .collect()
}

#[test]
fn status_takes_as_long_as_its_slowest_source_not_the_sum() {
    let pg = TestPostgres::start();
    pg.load_cosims();
    let borg = TestBorgRepo::create();
    borg.add_dump_archive(&pg, "pgdump_2026-11-20T04:00:00", "2026-11-20T04:00:00");
    let nomad = NomadDouble::start(&["--latency-ms", "300"]);
    let mut env = TestEnv::new("");
    let tf = copy_terraform_sandbox(env.path(), "status-test-secret");
    init_started(&tf);
    support::csi::copy_job_files(env.path());
    // terraform and borg each answer after 0.8 s (plus their own time).
    let slow = env.path().join("slow");
    let real_tofu = support::csi::tofu();
    slow_wrapper(&slow, "tofu", &real_tofu, 0.8);
    slow_wrapper(
        &slow,
        "borg",
        &support::csi::on_path("borg").expect("borg not on PATH"),
        0.8,
    );
    let config = ConfigParts {
        name: "sandbox",
        protected: false,
        terraform_dir: &tf,
        openstack_project_id: None,
        nomad_address: &nomad.address,
        pg_port: pg.port(),
        borg_repo: borg.path(),
    }
    .render()
    .replace(
        &real_tofu.display().to_string(),
        &slow.join("tofu").display().to_string(),
    );
    std::fs::write(&env.config, format!("{}{config}", six_services())).unwrap();
    for (key, value) in borg.env() {
        env.set_env(key, value.to_str().unwrap());
    }
    env.set_env(
        "PATH",
        &format!("{}:{}", slow.display(), support::csi::test_path()),
    );

    let clock = std::time::Instant::now();
    let run = env.csi(&["env", "status", "sandbox", "--output", "json"]);
    let wall = clock.elapsed().as_secs_f64();
    assert_eq!(run.code, 0, "{}", run.all_output());
    // By the test's own clock: terraform and borg were busy at the same time, and the
    // whole command took less than the two one after the other.
    let (tofu_start, tofu_end) = busy_span(&slow, "tofu");
    let (borg_start, borg_end) = busy_span(&slow, "borg");
    assert!(
        tofu_start < borg_end && borg_start < tofu_end,
        "terraform ({tofu_start:.2}..{tofu_end:.2}) and borg ({borg_start:.2}..{borg_end:.2}) \
         were queried one after the other"
    );
    let (tofu_busy, borg_busy) = (tofu_end - tofu_start, borg_end - borg_start);
    assert!(
        wall < tofu_busy + borg_busy,
        "status took {wall:.2} s, terraform alone {tofu_busy:.2} s and borg {borg_busy:.2} s"
    );
    let overview: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    for source in ["terraform", "nomad", "database", "backup"] {
        assert_eq!(overview[source]["state"], "available", "{}", run.stdout);
    }
    assert_eq!(
        section(&overview, "nomad")["services"][0]["status"],
        "missing"
    );
    let elapsed = |source: &str| overview["elapsed_ms"][source].as_u64().unwrap();
    assert!(elapsed("terraform") >= 800, "{}", run.stdout);
    assert!(elapsed("backup") >= 800, "{}", run.stdout);
    // The leader, then each service's job, then its allocations, one after the other,
    // would be three round trips of 300 ms: they all go at once.
    assert!(
        (300..900).contains(&elapsed("nomad")),
        "Nomad took {} ms",
        elapsed("nomad")
    );
    // csi's own figures agree with the test's clock: no source took longer than the whole.
    let slowest = ["terraform", "nomad", "database", "backup"]
        .map(elapsed)
        .into_iter()
        .max()
        .unwrap();
    assert!(elapsed("total") >= slowest, "{}", run.stdout);
    assert!(elapsed("total") as f64 / 1000.0 <= wall, "{}", run.stdout);
}

#[test]
fn a_stopped_system_shows_nothing_under_the_target_and_every_vm_absent() {
    let env = TestEnv::new("");
    let tf = copy_terraform_sandbox(env.path(), "status-test-secret");
    support::terraform::init_stopped(&tf);
    let config = ConfigParts {
        name: "sandbox",
        protected: false,
        terraform_dir: &tf,
        openstack_project_id: None,
        nomad_address: "http://127.0.0.1:9",
        pg_port: 9,
        borg_repo: &env.path().join("borg"),
    }
    .render();
    std::fs::write(&env.config, config).unwrap();
    let run = env.csi(&["env", "status", "sandbox"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stdout.contains(
            "terraform  0 resources under the target; tf-tutu absent, tf-tete absent, tf-tata absent, tf-titi absent"
        ),
        "{}",
        run.stdout
    );
    // The secret var file's value is in no output (the raw state is read, not shown).
    assert!(!run.all_output().contains("status-test-secret"));
}
