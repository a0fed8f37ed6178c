//! The binary itself: ready line, SIGTERM, state file across restarts, latency.

// Tests may panic: a panic is a failed test (the product code may not: Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Double;
use std::time::{Duration, Instant};

#[test]
fn sigterm_stops_it_cleanly() {
    let mut d = Double::start(&[]);
    assert_eq!(d.get("/v1/status/leader").body, "\"127.0.0.1:4647\"");
    let status = std::process::Command::new("kill")
        .args(["-TERM", &d.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(code) = d.child.try_wait().unwrap() {
            assert!(code.success(), "exit status {code:?}");
            break;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn state_file_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("nomad-double-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let _ = std::fs::remove_file(&state);
    let state_arg = state.to_str().unwrap();
    let job_modify_index;
    {
        let d = Double::start(&["--state-file", state_arg]);
        let job = d.parse_fixture("job_creation.nomad");
        let reg = d.register_ok(&job);
        job_modify_index = reg["JobModifyIndex"].clone();
        d.wait_deployment_terminal(&d.deployment_of_eval(reg["EvalID"].as_str().unwrap()));
    }
    let d = Double::start(&["--state-file", state_arg]);
    let job = d.get("/v1/job/job-creation").json();
    assert_eq!(job["JobModifyIndex"], job_modify_index);
    assert_eq!(job["Stable"], true);
    let dep = d.get("/v1/job/job-creation/deployment").json();
    assert_eq!(dep["Status"], "successful");
    // Indexes keep increasing after a restart.
    let reg = d.register_ok(&common::with_task(&job, None, Some(600)));
    assert!(reg["JobModifyIndex"].as_u64() > job_modify_index.as_u64());
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn latency_delays_every_request() {
    let d = Double::start(&["--latency-ms", "200"]);
    let started = Instant::now();
    assert_eq!(d.get("/v1/status/leader").status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[test]
fn unknown_routes_are_404() {
    let d = Double::start(&[]);
    assert_eq!(d.get("/v1/nope").status, 404);
}
