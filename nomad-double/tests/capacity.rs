//! The scheduler stand-in's CPU capacity: placement failures, blocked evaluations,
//! and the known fix (lower `resources.cpu`, resubmit).

// Tests may panic: a panic is a failed test (the product code may not: Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{with_task, Double};
use serde_json::json;

#[test]
fn cpu_beyond_capacity_leaves_the_job_pending_with_a_blocked_eval() {
    let d = Double::start(&["--cpu-capacity", "1200"]);
    let job = d.parse_fixture("worker_pool_management.nomad"); // asks 1500 MHz

    let plan = d
        .post(
            "/v1/job/worker-pool-management/plan",
            &json!({"Job": job, "Diff": true}),
        )
        .json();
    assert_eq!(plan["Diff"]["Type"], "Added");
    assert_eq!(
        plan["FailedTGAllocs"]["worker-pool-management"]["DimensionExhausted"]["cpu"],
        1
    );
    assert_eq!(plan["CreatedEvals"][0]["Status"], "blocked");

    let reg = d.register_ok(&job);
    let eval = d.wait_for(
        &format!("/v1/evaluation/{}", reg["EvalID"].as_str().unwrap()),
        |e| e["Status"] != "pending",
    );
    assert_eq!(eval["Status"], "complete");
    let metric = &eval["FailedTGAllocs"]["worker-pool-management"];
    assert_eq!(metric["DimensionExhausted"]["cpu"], 1);
    assert_eq!(metric["NodesExhausted"], 1);
    assert_eq!(metric["NodesEvaluated"], 1);
    assert_eq!(metric["CoalescedFailures"], 0);
    assert_eq!(eval["QueuedAllocations"]["worker-pool-management"], 1);

    let blocked_id = eval["BlockedEval"].as_str().unwrap();
    assert!(!blocked_id.is_empty());
    let blocked = d.get(&format!("/v1/evaluation/{blocked_id}")).json();
    assert_eq!(blocked["Status"], "blocked");
    assert_eq!(blocked["TriggeredBy"], "queued-allocs");
    assert_eq!(
        blocked["StatusDescription"],
        "created to place remaining allocations"
    );
    assert_eq!(blocked["PreviousEval"], eval["ID"]);

    assert_eq!(
        d.get("/v1/job/worker-pool-management/allocations").body,
        "[]"
    );
    let job_now = d.get("/v1/job/worker-pool-management").json();
    assert_eq!(job_now["Status"], "pending");
    let summary = d.get("/v1/job/worker-pool-management/summary").json();
    assert_eq!(summary["Summary"]["worker-pool-management"]["Queued"], 1);
    // Nothing can be placed, so the deployment keeps running with nothing placed.
    let dep = d.get("/v1/job/worker-pool-management/deployment").json();
    assert_eq!(dep["Status"], "running");
    assert_eq!(
        dep["TaskGroups"]["worker-pool-management"]["PlacedAllocs"],
        0
    );

    // The known fix: lower the CPU and resubmit.
    let lower = with_task(&job_now, None, Some(1000));
    let plan = d
        .post(
            "/v1/job/worker-pool-management/plan",
            &json!({"Job": lower, "Diff": true}),
        )
        .json();
    assert!(plan["FailedTGAllocs"].is_null(), "{plan}");
    let reg = d.post(
        "/v1/job/worker-pool-management",
        &json!({"Job": lower, "EnforceIndex": true, "JobModifyIndex": plan["JobModifyIndex"]}),
    );
    assert_eq!(reg.status, 200, "{}", reg.body);
    let dep_id = d.deployment_of_eval(reg.json()["EvalID"].as_str().unwrap());
    let dep = d.wait_deployment_terminal(&dep_id);
    assert_eq!(dep["Status"], "successful");
    assert_eq!(
        d.get(&format!("/v1/evaluation/{blocked_id}")).json()["Status"],
        "canceled"
    );
    let job_now = d.get("/v1/job/worker-pool-management").json();
    assert_eq!(job_now["Status"], "running");
    let allocs = d.get("/v1/job/worker-pool-management/allocations").json();
    assert_eq!(allocs.as_array().unwrap().len(), 1);
    assert_eq!(allocs[0]["ClientStatus"], "running");
}

#[test]
fn capacity_is_shared_and_a_blocked_eval_places_when_room_frees() {
    let d = Double::start(&["--cpu-capacity", "2000"]);
    let creation = d.parse_fixture("job_creation.nomad"); // 500
    let wpm = d.parse_fixture("worker_pool_management.nomad"); // 1500
    let big = with_task(&creation, None, Some(1000));
    let r = d.register_ok(&big);
    d.wait_deployment_terminal(&d.deployment_of_eval(r["EvalID"].as_str().unwrap()));

    let r = d.register_ok(&wpm);
    let eval = d.wait_for(
        &format!("/v1/evaluation/{}", r["EvalID"].as_str().unwrap()),
        |e| e["Status"] != "pending",
    );
    assert_eq!(
        eval["FailedTGAllocs"]["worker-pool-management"]["DimensionExhausted"]["cpu"],
        1
    );
    let blocked_id = eval["BlockedEval"].as_str().unwrap().to_string();

    // Stopping the other job frees 1000 MHz: the blocked evaluation places the allocation.
    assert_eq!(d.delete("/v1/job/job-creation").status, 200);
    let blocked = d.wait_for(&format!("/v1/evaluation/{blocked_id}"), |e| {
        e["Status"] == "complete"
    });
    assert_eq!(
        blocked["DeploymentID"].as_str().map(str::is_empty),
        Some(false)
    );
    let dep = d.wait_deployment_terminal(blocked["DeploymentID"].as_str().unwrap());
    assert_eq!(dep["Status"], "successful");
    assert_eq!(
        d.get("/v1/job/worker-pool-management").json()["Status"],
        "running"
    );
}

#[test]
fn a_node_class_constraint_the_node_cannot_meet_blocks_placement() {
    let d = Double::start(&[]);
    let mut job = d.parse_fixture("job_creation.nomad");
    job["Constraints"][0]["RTarget"] = json!("worker");
    let plan = d
        .post("/v1/job/job-creation/plan", &json!({"Job": job}))
        .json();
    let metric = &plan["FailedTGAllocs"]["job-creation"];
    assert_eq!(metric["ConstraintFiltered"]["${node.class} = worker"], 1);
    assert_eq!(metric["NodesFiltered"], 1);

    let reg = d.register_ok(&job);
    let eval = d.wait_for(
        &format!("/v1/evaluation/{}", reg["EvalID"].as_str().unwrap()),
        |e| e["Status"] != "pending",
    );
    assert_eq!(
        eval["FailedTGAllocs"]["job-creation"]["ClassFiltered"]["orchestrator"],
        1
    );
    assert!(!eval["BlockedEval"].as_str().unwrap().is_empty());
    assert_eq!(d.get("/v1/job/job-creation").json()["Status"], "pending");
}

#[test]
fn a_purged_job_registered_again_beyond_capacity_stays_pending() {
    let d = Double::start(&["--cpu-capacity", "2000"]);
    let creation = with_task(&d.parse_fixture("job_creation.nomad"), None, Some(1000));
    let wpm = with_task(
        &d.parse_fixture("worker_pool_management.nomad"),
        None,
        Some(1000),
    );
    for job in [&creation, &wpm] {
        let r = d.register_ok(job);
        let dep = d.wait_deployment_terminal(&d.deployment_of_eval(r["EvalID"].as_str().unwrap()));
        assert_eq!(dep["Status"], "successful");
    }
    let old_alloc = d.get("/v1/job/worker-pool-management/allocations").json()[0]["ID"]
        .as_str()
        .unwrap()
        .to_string();

    // By hand: back to 1500 MHz, purge, and register at once (before the purge's
    // evaluation is processed). job-creation still holds 1000 of the 2000 MHz.
    let current = d.get("/v1/job/worker-pool-management").json();
    let higher = with_task(&current, None, Some(1500));
    let purge = d.delete("/v1/job/worker-pool-management?purge=true");
    assert_eq!(purge.status, 200, "{}", purge.body);
    let reg = d.post("/v1/jobs", &json!({"Job": higher}));
    assert_eq!(reg.status, 200, "{}", reg.body);
    let eval_id = reg.json()["EvalID"].as_str().unwrap().to_string();
    let eval = d.wait_for(&format!("/v1/evaluation/{eval_id}"), |e| {
        e["Status"] != "pending"
    });
    assert_eq!(
        eval["FailedTGAllocs"]["worker-pool-management"]["DimensionExhausted"]["cpu"], 1,
        "{eval}"
    );
    let blocked = d
        .get(&format!(
            "/v1/evaluation/{}",
            eval["BlockedEval"].as_str().unwrap()
        ))
        .json();
    assert_eq!(blocked["Status"], "blocked");

    // The purged incarnation's allocation was stopped, not adopted by the new job.
    let old = d.get(&format!("/v1/allocation/{old_alloc}")).json();
    assert_eq!(
        old["DesiredStatus"], "stop",
        "the old allocation still runs"
    );
    assert_eq!(old["ClientStatus"], "complete");
    let job = d.get("/v1/job/worker-pool-management").json();
    assert_eq!(job["Status"], "pending");
    assert_eq!(job["Version"], 0, "a new incarnation");
    assert_eq!(
        d.get("/v1/job/worker-pool-management/allocations").body,
        "[]"
    );
    let stubs = d.get("/v1/jobs?prefix=worker-pool").json();
    assert_eq!(stubs[0]["Status"], "pending");
}
