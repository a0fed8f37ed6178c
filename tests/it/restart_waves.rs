//! `csi env restart-waves` against a real PostgreSQL with the sandbox schema: the
//! test plays the production system, inserting jobs and status changes so that each
//! wave's gate passes in turn; runs are killed and resumed, detached, aborted.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use serde_json::Value;
use support::csi::{test_path, Run, TestEnv};
use support::postgres::{new_job_sql, TestPostgres};

/// `fsc_rlie` for `fsc_rlie_job`: the table prefix of a job_types_list entry.
fn table_of(job_type: &str) -> &str {
    job_type.trim_end_matches("_job")
}

const WAVE1: &str = r#"["fsc_rlie_job", "rlies1_job"]"#;
const WAVE2: &str = r#"["fsc_rlie_job", "rlies1_job", "rlies1s2_job", "sws_wds_job"]"#;
const FULL: &str = r#"["fsc_rlie_job", "rlies1_job", "rlies1s2_job", "sws_wds_job", "gfsc_job"]"#;

struct Bed {
    env: TestEnv,
    pg: TestPostgres,
}

fn config(port: u16, protected: bool) -> String {
    support::csi::database_config(port, protected, "restart {\n  poll_interval = \"150ms\"\n}")
}

/// A cosims database with no job at all: the test creates the production it needs.
fn bed(protected: bool) -> Bed {
    let pg = TestPostgres::start();
    pg.load_cosims();
    pg.psql("postgres", "TRUNCATE cosims.parent_jobs CASCADE");
    let env = TestEnv::new(&config(pg.port(), protected));
    Bed { env, pg }
}

impl Bed {
    fn csi(&self, args: &[&str]) -> Run {
        self.env.csi(args)
    }

    fn value(&self, column: &str) -> String {
        self.pg.psql(
            "postgres",
            &format!("SELECT coalesce({column}::text, 'NULL') FROM cosims.system_parameters"),
        )
    }

    /// Every value job_types_list took, oldest first (the history trigger's copies).
    fn job_types_history(&self) -> Vec<String> {
        let text = self.pg.psql(
            "postgres",
            "SELECT job_types_list FROM cosims.system_parameters_history ORDER BY history_id",
        );
        let mut values: Vec<String> = text.lines().map(str::to_owned).collect();
        values.dedup();
        values
    }

    /// One NRT job of this type that went all the way to done, now.
    fn produce(&self, job_type: &str) {
        let new_job = new_job_sql(table_of(job_type), "32TLR", "nrt", "2026-11-20 10:00:00")
            .replace("select id from p;", "select id from p into j;");
        self.pg.psql(
            "postgres",
            &format!(
                "DO $$
                 DECLARE j bigint; s smallint;
                 BEGIN
                   {new_job}
                   FOREACH s IN ARRAY ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]::smallint[] LOOP
                     INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status) VALUES (j, s);
                   END LOOP;
                 END $$;"
            ),
        );
    }

    /// An NRT job of this type created hours ago and still processing: backlog.
    fn stuck(&self, job_type: &str, hours: i64) -> i64 {
        let id: i64 = self
            .pg
            .psql(
                "postgres",
                &new_job_sql(table_of(job_type), "31TGM", "nrt", "2026-11-20 10:00:00"),
            )
            .parse()
            .unwrap();
        // Its first status change, hours ago (production's times: timestamp, UTC).
        self.pg.psql(
            "postgres",
            &format!(
                "INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status, time) \
                 VALUES ({id}, 5, now() AT TIME ZONE 'UTC' - interval '{hours} hours')"
            ),
        );
        id
    }

    /// Inserts these statuses for the job, one statement each (the trigger checks them).
    fn walk(&self, job: i64, statuses: &[i16]) {
        let sql: String = statuses
            .iter()
            .map(|s| format!("INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status) VALUES ({job}, {s});\n"))
            .collect();
        self.pg.psql("postgres", &sql);
    }

    /// Writes a journal as earlier commands would have.
    fn write_journal(&self, lines: &[String]) {
        let journal = self.env.state_dir.join("sandbox/journal.jsonl");
        std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
        std::fs::write(&journal, lines.join("\n") + "\n").unwrap();
    }

    fn journal(&self) -> Vec<Value> {
        let path = self.env.state_dir.join("sandbox/journal.jsonl");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn steps(&self, name: &str) -> Vec<Value> {
        self.journal()
            .into_iter()
            .filter(|e| e["operation"] == "restart-waves" && e["step"] == name)
            .collect()
    }

    fn waves_started(&self) -> Vec<u64> {
        self.steps("wave_started")
            .iter()
            .map(|e| e["detail"]["wave"].as_u64().unwrap())
            .collect()
    }

    fn wait_for_wave(&self, wave: u64, child: &mut Child) {
        wait_until(&format!("wave {wave} to start"), child, || {
            self.waves_started().contains(&wave)
        });
    }

    fn status(&self) -> Value {
        let run = self.csi(&[
            "env",
            "restart-waves",
            "sandbox",
            "--status",
            "--output",
            "json",
        ]);
        assert_eq!(run.code, 0, "{}", run.all_output());
        serde_json::from_str(&run.stdout).unwrap()
    }

    /// csi in the background, its output in a file (no pipe to fill up).
    fn spawn(&self, args: &[&str], log: &str) -> (Child, PathBuf) {
        let log = self.env.path().join(log);
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_csi"))
            .args(["--config", self.env.config.to_str().unwrap()])
            .args(["--state-dir", self.env.state_dir.to_str().unwrap()])
            .args(args)
            .env_clear()
            .env("PATH", test_path())
            .env("HOME", &self.env.home)
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        (child, log)
    }
}

fn wait_until(what: &str, child: &mut Child, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("csi ended ({status}) while waiting for {what}");
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(child: &mut Child, log: &Path) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!(
                "csi did not finish:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn three_days_ago_midnight() -> [String; 2] {
    // Either side of midnight, should the test straddle it.
    [Utc::now(), Utc::now() + TimeDelta::minutes(2)]
        .map(|now| format!("{} 00:00:00", (now - TimeDelta::days(3)).format("%Y-%m-%d")))
}

#[test]
fn three_waves_run_to_the_end_as_each_gate_passes() {
    let bed = bed(false);
    // Stopped three days ago: the downtime comes from the journal.
    bed.write_journal(&[
        journal_line(
            "s",
            "stop",
            72,
            r#""event":"started","user":"u","params":{}"#,
        ),
        journal_line(
            "s",
            "stop",
            72,
            r##""event":"finished","outcome":"ok","message":"""##,
        ),
    ]);
    let stuck = bed.stuck("fsc_rlie_job", 5);
    let (mut child, log) = bed.spawn(
        &[
            "env",
            "restart-waves",
            "sandbox",
            "--yes",
            "--poll",
            "100ms",
        ],
        "run.log",
    );
    bed.wait_for_wave(1, &mut child);
    assert_eq!(bed.value("job_types_list"), WAVE1);
    assert!(three_days_ago_midnight().contains(&bed.value("gfsc_daily_jobs_creation_start_date")));
    assert_eq!(bed.value("rlies1s2_min_search_window_days"), "7");

    // Production alone does not open the gate while an NRT job is 5 hours late.
    bed.produce("fsc_rlie_job");
    bed.produce("rlies1_job");
    wait_until("the gate values", &mut child, || {
        bed.status()["live"]["readings"]
            .as_array()
            .is_some_and(|r| {
                r.iter()
                    .any(|r| r["job_type"] == "fsc_rlie_job" && r["backlog"] == 1)
            })
    });
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(bed.waves_started(), [1], "the gate passed with a backlog");
    let status = bed.status();
    assert_eq!(status["state"], "running");
    assert_eq!(status["wave"], 1);
    assert!(status["wave_since"].is_string());
    let text = bed.csi(&["env", "restart-waves", "sandbox", "--status"]);
    assert!(
        text.stdout
            .contains("current wave: 1 of 3 (fsc_rlie_job, rlies1_job)"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("fsc_rlie_job     waiting   backlog 1"),
        "{}",
        text.stdout
    );

    // The late job finishes: wave 1 has caught up.
    bed.walk(stuck, &[6, 7, 8, 9, 12]);
    bed.wait_for_wave(2, &mut child);
    assert_eq!(bed.value("job_types_list"), WAVE2);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        bed.waves_started(),
        [1, 2],
        "wave 2's gate passed without its types producing"
    );
    bed.produce("sws_wds_job");
    bed.produce("rlies1s2_job");
    bed.wait_for_wave(3, &mut child);
    assert_eq!(bed.value("job_types_list"), FULL);
    bed.produce("gfsc_job");
    assert_eq!(
        wait_exit(&mut child, &log),
        0,
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );

    assert_eq!(bed.waves_started(), [1, 2, 3]);
    let passed = bed.steps("gate_passed");
    assert_eq!(passed.len(), 3);
    assert_eq!(passed[0]["detail"]["values"][0]["job_type"], "fsc_rlie_job");
    assert_eq!(passed[0]["detail"]["values"][0]["passed"], true);
    assert_eq!(bed.steps("finished").len(), 1);
    assert_eq!(
        bed.job_types_history(),
        [FULL, WAVE1, WAVE2, FULL],
        "job_types_list must be written once per wave and not again at the end"
    );
    assert_eq!(bed.value("job_types_list"), FULL);
    let status = bed.status();
    assert_eq!(status["state"], "finished");

    // Running it again after the same stop: nothing to do.
    let again = bed.csi(&["env", "restart-waves", "sandbox", "--yes"]);
    assert_eq!(again.code, 0, "{}", again.all_output());
    assert!(
        again.stderr.contains("already finished at") && again.stderr.contains("nothing to do"),
        "{}",
        again.stderr
    );
    assert_eq!(bed.steps("restart_begun").len(), 1);
}

#[test]
fn a_run_killed_mid_wave_resumes_without_repeating_anything() {
    let bed = bed(false);
    let args = [
        "env",
        "restart-waves",
        "sandbox",
        "--yes",
        "--poll",
        "100ms",
    ];
    let mut first_args = args.to_vec();
    first_args.extend(["--downtime", "10d"]);
    let (mut child, _) = bed.spawn(&first_args, "first.log");
    bed.wait_for_wave(1, &mut child);
    assert_eq!(bed.value("rlies1s2_min_search_window_days"), "11");
    bed.produce("fsc_rlie_job");
    bed.produce("rlies1_job");
    bed.wait_for_wave(2, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();

    let status = bed.status();
    assert_eq!(status["state"], "stopped");
    assert_eq!(status["wave"], 2);
    assert!(status["last_runner"]["pid"].as_u64().is_some());
    // A stated downtime would start another restart: refused while this one is unfinished.
    let other = bed.csi(&[
        "env",
        "restart-waves",
        "sandbox",
        "--downtime",
        "2d",
        "--yes",
    ]);
    assert_eq!(other.code, 4, "{}", other.all_output());
    assert!(other.stderr.contains("in progress"), "{}", other.stderr);
    let dry = bed.csi(&["env", "restart-waves", "sandbox", "--dry-run"]);
    assert!(
        dry.stdout.contains("resuming the wave restart"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("waiting for its gate"),
        "{}",
        dry.stdout
    );

    let (mut child, log) = bed.spawn(&args, "second.log");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        bed.waves_started(),
        [1, 2],
        "the resumed run repeated a wave"
    );
    bed.produce("sws_wds_job");
    bed.produce("rlies1s2_job");
    bed.wait_for_wave(3, &mut child);
    bed.produce("gfsc_job");
    assert_eq!(
        wait_exit(&mut child, &log),
        0,
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );

    assert_eq!(bed.waves_started(), [1, 2, 3]);
    assert_eq!(bed.steps("restart_begun").len(), 1);
    assert_eq!(bed.steps("preflight_done").len(), 1);
    assert_eq!(bed.job_types_history(), [FULL, WAVE1, WAVE2, FULL]);
    let rewrites: usize = bed
        .pg
        .psql(
            "postgres",
            "SELECT count(*) FROM cosims.system_parameters_history",
        )
        .parse()
        .unwrap();
    // the schema's row + the seed's update + preflight + three waves: nothing written twice.
    assert_eq!(rewrites, 6);
    let second = std::fs::read_to_string(&log).unwrap();
    assert!(
        !second.contains("set rlies1s2_min_search_window_days"),
        "{second}"
    );
}

#[test]
fn the_preflight_proposes_values_for_3_and_10_days_of_downtime() {
    let bed = bed(false);
    let proposals = |days: &str| -> Vec<Value> {
        let run = bed.csi(&[
            "env",
            "restart-waves",
            "sandbox",
            "--downtime",
            days,
            "--dry-run",
            "--output",
            "json",
        ]);
        assert_eq!(run.code, 0, "{}", run.all_output());
        let doc: Value = serde_json::from_str(&run.stdout).unwrap();
        doc["decision"]["new"]["preflight"]
            .as_array()
            .unwrap()
            .clone()
    };
    let proposed = |list: &[Value], name: &str| -> Value {
        list.iter().find(|p| p["name"] == name).unwrap()["proposed"].clone()
    };
    let three = proposals("3d");
    assert_eq!(
        proposed(&three, "rlies1s2_min_search_window_days"),
        Value::Null
    );
    assert_eq!(
        proposed(&three, "rlies1s2_max_search_window_days"),
        Value::Null
    );
    let gfsc = proposed(&three, "gfsc_daily_jobs_creation_start_date");
    assert!(
        three_days_ago_midnight().iter().any(|d| gfsc == *d),
        "{gfsc}"
    );

    let ten = proposals("10d");
    assert_eq!(proposed(&ten, "rlies1s2_min_search_window_days"), "11");
    assert_eq!(
        proposed(&ten, "rlies1s2_max_search_window_days"),
        Value::Null
    );
    let ten_days_ago = format!(
        "{} 00:00:00",
        (Utc::now() - TimeDelta::days(10)).format("%Y-%m-%d")
    );
    assert_eq!(
        proposed(&ten, "gfsc_daily_jobs_creation_start_date"),
        ten_days_ago.as_str()
    );

    // A start date already set earlier than the downtime is kept.
    bed.pg.psql("postgres", "UPDATE cosims.system_parameters SET gfsc_daily_jobs_creation_start_date = now() - interval '20 days'");
    assert_eq!(
        proposed(&proposals("10d"), "gfsc_daily_jobs_creation_start_date"),
        Value::Null
    );
    // Up to two days, GFSC covers itself; up to one day, no waves at all.
    let text = bed.csi(&[
        "env",
        "restart-waves",
        "sandbox",
        "--downtime",
        "20h",
        "--dry-run",
    ]);
    assert!(text.stdout.contains("no waves"), "{}", text.stdout);
    let history: usize = bed
        .pg
        .psql(
            "postgres",
            "SELECT count(*) FROM cosims.system_parameters_history",
        )
        .parse()
        .unwrap();
    // the schema's row, the seed's update, the test's update above
    assert_eq!(history, 3, "a dry run wrote something");
    assert!(bed.steps("restart_begun").is_empty());
}

#[test]
fn a_protected_environment_without_a_terminal_refuses() {
    let bed = bed(true);
    for extra in [&[][..], &["--detach"][..]] {
        let mut args = vec!["env", "restart-waves", "sandbox", "--downtime", "3d"];
        args.extend_from_slice(extra);
        let run = bed.csi(&args);
        assert_eq!(run.code, 3, "{}", run.all_output());
        assert!(run.stderr.contains("no terminal"), "{}", run.stderr);
    }
    assert_eq!(bed.value("job_types_list"), FULL);
    assert_eq!(bed.value("gfsc_daily_jobs_creation_start_date"), "NULL");
    assert!(bed.steps("restart_begun").is_empty());
    let manual = bed.csi(&[
        "env",
        "restart-waves",
        "sandbox",
        "--downtime",
        "3d",
        "--gate",
        "manual",
        "--yes",
    ]);
    assert_eq!(manual.code, 3, "{}", manual.all_output());
    assert_eq!(bed.value("job_types_list"), FULL);
}

#[test]
fn a_detached_run_keeps_going_until_aborted_and_leaves_the_parameters() {
    let bed = bed(false);
    let run = bed.csi(&[
        "env",
        "restart-waves",
        "sandbox",
        "--downtime",
        "3d",
        "--detach",
        "--yes",
        "--poll",
        "100ms",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let pid: i32 = run
        .stdout
        .lines()
        .last()
        .unwrap_or_default()
        .strip_prefix("detached: pid ")
        .and_then(|rest| rest.split(',').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {:?}", run.stdout));
    let _guard = KillOnDrop(pid);
    let alive = || Path::new(&format!("/proc/{pid}")).exists() && !zombie(pid);
    let started = Instant::now();
    while !bed.waves_started().contains(&1) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "wave 1 never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = bed.status();
    assert_eq!(status["state"], "running");
    assert_eq!(status["runner"]["pid"], pid);
    assert!(status["runner"]["log"]
        .as_str()
        .unwrap()
        .ends_with("restart-waves.log"));

    let abort = bed.csi(&["env", "restart-waves", "sandbox", "--abort", "--yes"]);
    assert_eq!(abort.code, 0, "{}", abort.all_output());
    let started = Instant::now();
    while alive() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("the detached run did not stop after --abort");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(bed.status()["state"], "aborted");
    assert_eq!(
        bed.value("job_types_list"),
        WAVE1,
        "abort must leave the parameters"
    );
    let log = std::fs::read_to_string(bed.env.state_dir.join("sandbox/restart-waves.log")).unwrap();
    assert!(log.contains("wave 1 of 3 started"), "{log}");
    assert!(log.contains("aborted"), "{log}");
    // After an abort, a new run starts a new restart.
    let dry = bed.csi(&[
        "env",
        "restart-waves",
        "sandbox",
        "--downtime",
        "3d",
        "--dry-run",
    ]);
    assert!(dry.stdout.contains("was aborted"), "{}", dry.stdout);
}

#[test]
fn skip_gate_is_journaled_and_moves_a_running_restart_on() {
    let bed = bed(false);
    let (mut child, log) = bed.spawn(
        &[
            "env",
            "restart-waves",
            "sandbox",
            "--downtime",
            "36h",
            "--yes",
            "--poll",
            "100ms",
        ],
        "run.log",
    );
    bed.wait_for_wave(1, &mut child);
    let skip = bed.csi(&["env", "restart-waves", "sandbox", "--skip-gate", "--yes"]);
    assert_eq!(skip.code, 0, "{}", skip.all_output());
    bed.wait_for_wave(2, &mut child);
    let skipped = bed.steps("gate_skipped");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["detail"]["wave"], 1);
    child.kill().unwrap();
    child.wait().unwrap();
    // Resumed with --skip-gate: the gate it waits for is skipped at once.
    let (mut child, log2) = bed.spawn(
        &[
            "env",
            "restart-waves",
            "sandbox",
            "--skip-gate",
            "--yes",
            "--poll",
            "100ms",
        ],
        "run2.log",
    );
    bed.wait_for_wave(3, &mut child);
    assert_eq!(bed.steps("gate_skipped").len(), 2);
    bed.produce("fsc_rlie_job");
    bed.produce("rlies1_job");
    bed.produce("sws_wds_job");
    bed.produce("rlies1s2_job");
    bed.produce("gfsc_job");
    assert_eq!(
        wait_exit(&mut child, &log2),
        0,
        "{}",
        std::fs::read_to_string(&log2).unwrap()
    );
    assert!(std::fs::read_to_string(&log)
        .unwrap()
        .contains("gate skipped"));
    // 36 hours: no GFSC start date needed.
    assert_eq!(bed.value("gfsc_daily_jobs_creation_start_date"), "NULL");
    assert_eq!(bed.value("job_types_list"), FULL);
}

#[test]
fn the_downtime_comes_from_the_last_restore_when_it_is_newer_than_the_last_stop() {
    let bed = bed(false);
    let dumped = (Utc::now() - TimeDelta::hours(80)).to_rfc3339();
    bed.write_journal(&[
        journal_line("s", "stop", 200, r#""event":"started","user":"u","params":{}"#),
        journal_line("s", "stop", 199, r##""event":"finished","outcome":"ok","message":"""##),
        journal_line("r", "restore-db", 2, r#""event":"started","user":"u","params":{"to":null,"tables":[]}"#),
        journal_line(
            "r",
            "restore-db",
            2,
            &format!(r#""event":"step","step":"archive_resolved","detail":{{"archive":"pgdump_x","dumped_at":"{dumped}"}}"#),
        ),
        journal_line("r", "restore-db", 1, r##""event":"finished","outcome":"ok","message":"""##),
    ]);
    let run = bed.csi(&[
        "env",
        "restart-waves",
        "sandbox",
        "--dry-run",
        "--output",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let downtime = &doc["decision"]["new"]["downtime"];
    let hours = downtime["seconds"].as_i64().unwrap() / 3600;
    assert_eq!(hours, 80, "{downtime}");
    assert!(
        downtime["source"].as_str().unwrap().contains("pgdump_x"),
        "{downtime}"
    );
}

fn zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.split(") ")
                .nth(1)
                .is_some_and(|rest| rest.starts_with('Z'))
        })
        .unwrap_or(true)
}

/// One journal line `hours` ago, with the given event fields.
fn journal_line(id: &str, operation: &str, hours: i64, event: &str) -> String {
    let time = (Utc::now() - TimeDelta::hours(hours)).to_rfc3339();
    format!(r#"{{"time":"{time}","operation_id":"{id}","operation":"{operation}",{event}}}"#)
}

/// Ends the detached process this test started, should the test fail before it stops.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if Path::new(&format!("/proc/{}", self.0)).exists() && !zombie(self.0) {
            let _ = Command::new("kill").arg(self.0.to_string()).status();
        }
    }
}

const RESTART_AFTER_3_DAYS: [&str; 6] = [
    "env",
    "restart-waves",
    "sandbox",
    "--downtime",
    "3d",
    "--yes",
];

#[test]
fn a_custom_gate_sql_follows_the_contract() {
    let pg = TestPostgres::start();
    pg.load_cosims();
    let gate = |sql: &str| {
        config(pg.port(), false).replace(
            "restart {\n",
            &format!("restart {{\n  gate_sql = <<EOT\n{sql}\nEOT\n"),
        )
    };
    // Passes for any type with no NRT job older than a day still open.
    let env = TestEnv::new(&gate(
        "SELECT count(*) = 0 AS passed, count(*) AS backlog, 'custom' AS kind
         FROM {schema}.parent_jobs
         WHERE $1 <> '' AND priority = 'nrt' AND last_status_id < 11
           AND last_status_change_date < now() - interval '10 years';",
    ));
    let run = env.csi(&[&RESTART_AFTER_3_DAYS[..], &["--poll", "50ms"]].concat());
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stdout.contains("gate values now:"), "{}", run.stdout);
    assert!(
        run.stdout.contains("caught up backlog 0, kind \"custom\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("restart.gate_sql (csi.hcl;"),
        "{}",
        run.stdout
    );

    // No boolean `passed`: refused before anything is written.
    let env = TestEnv::new(&gate("SELECT 1 AS backlog"));
    let before = pg.psql(
        "postgres",
        "SELECT count(*) FROM cosims.system_parameters_history",
    );
    let run = env.csi(&RESTART_AFTER_3_DAYS);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr.contains("boolean column `passed`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("restart.gate_sql"), "{}", run.stderr);
    assert_eq!(
        pg.psql(
            "postgres",
            "SELECT count(*) FROM cosims.system_parameters_history"
        ),
        before
    );
    let env = TestEnv::new(&gate("SELECT nonsense FROM nowhere"));
    let run = env.csi(&RESTART_AFTER_3_DAYS);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(run.stderr.contains("does not prepare"), "{}", run.stderr);
}
