//! `--nomad-version` and the behaviours of real Nomad the double plays on request:
//! parsing per version, the agent's version, `rpc error: ` prefixes, slow stops,
//! garbage collection, FailedTGAllocs on blocked evaluations, running-while-deploying.

// Tests may panic: a panic is a failed test (the product code may not: Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fixture, with_task, Double};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn parse(d: &Double, name: &str, hcl_v1: bool) -> common::Resp {
    d.post(
        "/v1/jobs/parse",
        &json!({"JobHCL": fixture(name), "Canonicalize": true, "HCLv1": hcl_v1}),
    )
}

#[test]
fn the_agent_reports_the_version_played() {
    for version in ["0.11.1", "1.8.4", "2.0.5"] {
        let d = Double::start(&["--nomad-version", version]);
        let me = d.get("/v1/agent/self").json();
        assert_eq!(me["config"]["Version"]["Version"], version);
        assert_eq!(me["member"]["Tags"]["build"], version);
    }
}

#[test]
fn an_hcl1_file_parses_on_0_11_and_with_hclv1_on_1_8_never_on_1_9() {
    let old = Double::start(&["--nomad-version", "0.11.1"]);
    assert_eq!(parse(&old, "hcl1_monitor.nomad", false).status, 200);
    let mid = Double::start(&["--nomad-version", "1.8.4"]);
    let refused = parse(&mid, "hcl1_monitor.nomad", false);
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.starts_with("Failed to parse job: input.hcl:"),
        "{}",
        refused.body
    );
    assert_eq!(parse(&mid, "hcl1_monitor.nomad", true).status, 200);
    let new = Double::start(&["--nomad-version", "2.0.5"]);
    let refused = parse(&new, "hcl1_monitor.nomad", true);
    assert_eq!(
        refused.status, 400,
        "HCLv1 is gone in 1.9: {}",
        refused.body
    );
    // An HCL2 file parses everywhere.
    for d in [&old, &mid, &new] {
        assert_eq!(parse(d, "job_creation.nomad", false).status, 200);
    }
}

/// Production's service shape, a task directly under the job: every version makes it a
/// group of the task's name (`jobspec/parse_job.go` "If we have tasks outside, create
/// TaskGroups for them", v0.11.1; `jobspec2/parse_job.go` `normalizeJob`, v1.8.4 and
/// v2.0.5), in HCL1 and in HCL2 alike.
#[test]
fn a_task_directly_under_the_job_is_a_group_of_its_name_on_every_version() {
    for version in ["0.11.1", "1.8.4", "2.0.5"] {
        let d = Double::start(&["--nomad-version", version]);
        for hcl_v1 in [false, true] {
            let r = parse(&d, "hcl1_service.nomad", hcl_v1);
            assert_eq!(r.status, 200, "{version} HCLv1={hcl_v1}: {}", r.body);
            let job = r.json();
            let groups = job["TaskGroups"].as_array().unwrap();
            assert_eq!(groups.len(), 1, "{version}");
            assert_eq!(groups[0]["Name"], "job-execution", "{version}");
            assert_eq!(groups[0]["Count"], 1, "{version}");
            assert_eq!(groups[0]["Tasks"][0]["Name"], "job-execution");
            assert_eq!(groups[0]["Tasks"][0]["Resources"]["CPU"], 1000);
            // No update block: the default strategy, per group (api/jobs.go Canonicalize).
            assert_eq!(groups[0]["Update"]["ProgressDeadline"], 600_000_000_000i64);
        }
    }
}

/// Production's batch shape, `meta_required` twice: HCL1 (0.11.1, or `HCLv1` on
/// 1.0-1.8) requires both keys; HCL2 (1.x by default, always on 1.9+) refuses the
/// file at the second one.
#[test]
fn repeated_meta_required_is_appended_by_hcl1_and_refused_by_hcl2() {
    let both = json!(["job_id", "job_unique_id"]);
    let old = Double::start(&["--nomad-version", "0.11.1"]);
    let job = parse(&old, "hcl1_batch.nomad", false).json();
    assert_eq!(job["ParameterizedJob"]["MetaRequired"], both);
    let tasks = job["TaskGroups"][0]["Tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(tasks[1]["Config"]["args"][1]
        .as_str()
        .unwrap()
        .contains("trap 'exit' SIGINT"));

    let mid = Double::start(&["--nomad-version", "1.8.4"]);
    let job = parse(&mid, "hcl1_batch.nomad", true).json();
    assert_eq!(job["ParameterizedJob"]["MetaRequired"], both);
    let new = Double::start(&["--nomad-version", "2.0.5"]);
    for (d, hcl_v1) in [(&mid, false), (&new, false), (&new, true)] {
        let refused = parse(d, "hcl1_batch.nomad", hcl_v1);
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(
            refused
                .body
                .starts_with("Failed to parse job: input.hcl:9,"),
            "{}",
            refused.body
        );
    }
}

#[test]
fn a_forwarding_agent_prefixes_errors_with_rpc_error() {
    let d = Double::start(&["--rpc-error-prefix"]);
    let job = d.parse_fixture("job_creation.nomad");
    d.register_ok(&job);
    let r = d.post(
        "/v1/job/job-creation",
        &json!({"Job": job, "EnforceIndex": true, "JobModifyIndex": 1}),
    );
    assert_eq!(r.status, 500);
    assert!(
        r.body
            .starts_with("rpc error: Enforcing job modify index 1"),
        "{}",
        r.body
    );
    // 4xx answers are the HTTP layer's own: no prefix.
    assert_eq!(d.get("/v1/job/nope").body, "job not found");
}

fn alloc_states(d: &Double, job: &str) -> Vec<(String, String)> {
    d.get(&format!("/v1/job/{job}/allocations"))
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["DesiredStatus"].as_str().unwrap().to_owned(),
                a["ClientStatus"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_slow_stop_takes_the_kill_timeout_while_the_job_already_reads_dead() {
    let d = Double::start(&["--slow-stop"]);
    let mut job = d.parse_fixture("job_creation.nomad");
    job["TaskGroups"][0]["Tasks"][0]["KillTimeout"] = json!(1_500_000_000i64);
    let reg = d.register_ok(&job);
    d.wait_deployment_terminal(&d.deployment_of_eval(reg["EvalID"].as_str().unwrap()));
    let stopped = Instant::now();
    assert_eq!(d.delete("/v1/job/job-creation").status, 200);
    d.wait_for("/v1/job/job-creation", |j| j["Status"] == "dead");
    assert_eq!(
        alloc_states(&d, "job-creation"),
        vec![("stop".to_owned(), "running".to_owned())],
        "the task still runs after the job reads dead"
    );
    d.wait_for("/v1/job/job-creation/allocations", |a| {
        a[0]["ClientStatus"] == "complete"
    });
    let took = stopped.elapsed();
    assert!(
        took >= Duration::from_millis(1400),
        "stopped after {took:?}"
    );
}

#[test]
fn garbage_collection_removes_a_dead_job_on_the_shortened_clock() {
    let d = Double::start(&["--gc-seconds", "1"]);
    let job = d.parse_fixture("job_creation.nomad");
    let reg = d.register_ok(&job);
    d.wait_deployment_terminal(&d.deployment_of_eval(reg["EvalID"].as_str().unwrap()));
    assert_eq!(d.delete("/v1/job/job-creation").status, 200);
    let started = Instant::now();
    while d.get("/v1/job/job-creation").status != 404 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never collected"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(d.get("/v1/job/job-creation/allocations").json(), json!([]));
}

fn blocked_eval(d: &Double) -> Value {
    let job = with_task(&d.parse_fixture("job_creation.nomad"), None, Some(9000));
    d.register_ok(&job);
    d.wait_for("/v1/evaluations", |evals| {
        evals
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["Status"] == "blocked"))
    })
    .as_array()
    .unwrap()
    .iter()
    .find(|e| e["Status"] == "blocked")
    .cloned()
    .unwrap()
}

#[test]
fn blocked_evaluations_carry_failed_tg_allocs_from_1_1() {
    let old = Double::start(&["--nomad-version", "0.11.1"]);
    assert_eq!(blocked_eval(&old)["FailedTGAllocs"], Value::Null);
    let new = Double::start(&["--nomad-version", "2.0.5"]);
    let blocked = blocked_eval(&new);
    assert_eq!(
        blocked["FailedTGAllocs"]["job-creation"]["DimensionExhausted"]["cpu"], 1,
        "{blocked:#}"
    );
}

#[test]
fn from_2_0_1_a_job_is_running_while_its_deployment_is_active_placed_or_not() {
    for (version, expected) in [("2.0.0", "pending"), ("2.0.5", "running")] {
        let d = Double::start(&["--nomad-version", version]);
        // Too big for the node: nothing is placed, a blocked evaluation waits.
        blocked_eval(&d);
        let status = d.get("/v1/job/job-creation").json()["Status"].clone();
        assert_eq!(status, expected, "{version}");
    }
}
