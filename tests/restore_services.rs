//! The orchestrator services around a restore, with the project's Nomad double: the
//! running ones are stopped before anything changes and brought back afterwards,
//! also when the restore fails.

mod restore_bed;
mod support;

use std::io::{Read, Write};

use restore_bed::{replace_once, Bed, ENV};
use support::csi::{copy_job_files, nomad_config};
use support::nomad::NomadDouble;

const SERVICES: [&str; 6] = [
    "job-creation",
    "job-configuration",
    "job-execution",
    "job-publication",
    "monitor",
    "worker-pool-management",
];

/// `GET address/path` over plain HTTP/1.0.
fn http_get(address: &str, path: &str) -> (u16, String) {
    let host = address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn job_state(address: &str, job: &str) -> String {
    let (status, body) = http_get(address, &format!("/v1/job/{job}"));
    if status == 404 {
        return "missing".into();
    }
    let job: serde_json::Value = serde_json::from_str(&body).unwrap();
    if job["Stop"] == true {
        "stopped".into()
    } else {
        job["Status"].as_str().unwrap_or("?").to_owned()
    }
}

fn wait_all(address: &str, state: &str) {
    let started = std::time::Instant::now();
    loop {
        let states: Vec<String> = SERVICES.iter().map(|j| job_state(address, j)).collect();
        if states.iter().all(|s| s == state) {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "services not {state}: {states:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn services_bed() -> (Bed, NomadDouble) {
    let nomad = NomadDouble::start(&["--cpu-capacity", "20000", "--deploy-seconds", "1"]);
    let bed = Bed::new();
    let jobs = copy_job_files(bed.env.path());
    let config = nomad_config(&nomad.address, &jobs, false)
        .replace(
            "    port = 9\n",
            &format!(
                "    port = {}\n    user = \"postgres\"\n    name = \"cosims\"\n",
                bed.pg.port()
            ),
        )
        .replace(
            "repository = \"/nonexistent\"",
            &format!("repository = \"{}\"", bed.borg.path().display()),
        );
    bed.set_config(&config);
    let run = bed.csi(&["env", "doctor", ENV, "--fix", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    wait_all(&nomad.address, "running");
    (bed, nomad)
}

#[test]
fn running_services_are_stopped_during_the_restore_and_brought_back() {
    let (bed, nomad) = services_bed();
    let archived = bed.snapshot();
    bed.nightly("2026-11-20T04:00:00");
    bed.psql("DELETE FROM cosims.gfsc_jobs");
    let run = bed.csi(&["env", "restore-db", ENV, "--archive", "latest", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stdout.contains("services   stop job-creation"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("stopped: job-creation"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("restarted: job-creation"),
        "{}",
        run.stderr
    );
    assert_eq!(bed.snapshot(), archived);
    wait_all(&nomad.address, "running");
    let steps = restore_bed::last_steps(&bed);
    let stopped = steps.iter().position(|s| s == "services_stopped").unwrap();
    let safety = steps.iter().position(|s| s == "safety_backup").unwrap();
    let restarted = steps
        .iter()
        .position(|s| s == "services_restarted")
        .unwrap();
    assert!(stopped < safety && safety < restarted, "{steps:?}");
}

#[test]
fn a_failed_restore_brings_the_services_back_too() {
    let (bed, nomad) = services_bed();
    let nightly = bed.nightly("2026-11-20T04:00:00");
    let dump = bed.dump_of(&nightly);
    let bad = replace_once(
        &dump,
        "CREATE TABLE cosims.gfsc_jobs (\n",
        "CREATE TABLE cosims.gfsc_jobs (\n    oops no_such_type,\n",
    );
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &bad);
    let before = bed.snapshot();
    let run = bed.csi(&[
        "env",
        "restore-db",
        ENV,
        "--archive",
        "latest",
        "--yes",
        "--no-safety-backup",
    ]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(
        run.stderr.contains("restarted: job-creation"),
        "{}",
        run.stderr
    );
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
    wait_all(&nomad.address, "running");
}

#[test]
fn keep_services_leaves_them_running() {
    let (bed, nomad) = services_bed();
    bed.nightly("2026-11-20T04:00:00");
    let run = bed.restore("latest", &["--no-safety-backup"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(!run.stderr.contains("stopped:"), "{}", run.stderr);
    let steps = restore_bed::last_steps(&bed);
    assert!(!steps.iter().any(|s| s == "services_stopped"), "{steps:?}");
    wait_all(&nomad.address, "running");
}
