//! Register, deploy, version, fail, revert: the job life cycle csi drives.

// Tests may panic: a panic is a failed test (the product code may not: Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{with_task, Double};
use serde_json::{json, Value};

const GOOD: &str = "registry.example/cosims/cosims/job_creation:git-0123abcd";
const BAD: &str = "registry.example/cosims/cosims/job_creation:git-deadbeef";

fn running_allocs(d: &Double, job: &str) -> Vec<Value> {
    d.get(&format!("/v1/job/{job}/allocations"))
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["ClientStatus"] == "running" && a["DesiredStatus"] == "run")
        .cloned()
        .collect()
}

#[test]
fn register_then_successful_deployment_marks_the_version_stable() {
    let d = Double::start(&[]);
    let job = d.parse_fixture("job_creation.nomad");
    let reg = d.register_ok(&job);
    let eval_id = reg["EvalID"].as_str().unwrap();
    assert!(!eval_id.is_empty());
    assert_eq!(reg["EvalCreateIndex"], reg["JobModifyIndex"]);

    let stored = d.get("/v1/job/job-creation").json();
    assert_eq!(stored["Version"], 0);
    assert_eq!(stored["Stable"], false);
    assert_eq!(stored["JobModifyIndex"], reg["JobModifyIndex"]);

    let dep_id = d.deployment_of_eval(eval_id);
    let dep = d.wait_deployment_terminal(&dep_id);
    assert_eq!(dep["Status"], "successful");
    assert_eq!(
        dep["StatusDescription"],
        "Deployment completed successfully"
    );
    assert_eq!(dep["JobVersion"], 0);
    assert_eq!(dep["TaskGroups"]["job-creation"]["HealthyAllocs"], 1);

    let stored = d.get("/v1/job/job-creation").json();
    assert_eq!(stored["Stable"], true);
    assert_eq!(stored["Status"], "running");
    let versions = d.get("/v1/job/job-creation/versions").json();
    assert_eq!(versions["Versions"][0]["Stable"], true);

    let allocs = running_allocs(&d, "job-creation");
    assert_eq!(allocs.len(), 1);
    assert_eq!(allocs[0]["DeploymentStatus"]["Healthy"], true);
    assert_eq!(allocs[0]["Name"], "job-creation.job-creation[0]");

    let latest = d.get("/v1/job/job-creation/deployment").json();
    assert_eq!(latest["ID"], dep_id.as_str());
    assert_eq!(d.get("/v1/job/nope/deployment").body, "null");
    assert_eq!(d.get("/v1/job/nope/allocations").body, "[]");
    let missing = d.get("/v1/job/nope");
    assert_eq!(
        (missing.status, missing.body.as_str()),
        (404, "job not found")
    );
}

#[test]
fn a_new_version_bumps_version_and_job_modify_index_and_replaces_the_allocation() {
    let d = Double::start(&[]);
    let job = d.parse_fixture("job_creation.nomad");
    let first = d.register_ok(&job);
    d.wait_deployment_terminal(&d.deployment_of_eval(first["EvalID"].as_str().unwrap()));

    let second = d.register_ok(&with_task(
        &job,
        Some("registry.example/cosims/cosims/job_creation:git-11111111"),
        None,
    ));
    assert!(second["JobModifyIndex"].as_u64() > first["JobModifyIndex"].as_u64());
    let dep = d.wait_deployment_terminal(&d.deployment_of_eval(second["EvalID"].as_str().unwrap()));
    assert_eq!(dep["Status"], "successful");
    assert_eq!(dep["JobVersion"], 1);

    let stored = d.get("/v1/job/job-creation").json();
    assert_eq!(
        (stored["Version"].as_u64(), stored["Stable"].as_bool()),
        (Some(1), Some(true))
    );
    let allocs = running_allocs(&d, "job-creation");
    assert_eq!(
        allocs.len(),
        1,
        "the old allocation stopped once the new one was healthy"
    );
    assert_eq!(allocs[0]["JobVersion"], 1);
    let versions = d.get("/v1/job/job-creation/versions?diffs=true").json();
    assert_eq!(versions["Versions"].as_array().unwrap().len(), 2);
    assert_eq!(versions["Diffs"][0]["Type"], "Edited");
}

#[test]
fn unchanged_register_creates_an_eval_but_no_version() {
    let d = Double::start(&[]);
    let job = d.parse_fixture("job_creation.nomad");
    let first = d.register_ok(&job);
    d.wait_deployment_terminal(&d.deployment_of_eval(first["EvalID"].as_str().unwrap()));
    let stored = d.get("/v1/job/job-creation").json();

    let again = d.register_ok(&stored);
    assert_ne!(again["EvalID"], first["EvalID"]);
    // Nomad's quirk: on a no-op register the response carries the job's ModifyIndex.
    assert_eq!(again["JobModifyIndex"], stored["ModifyIndex"]);
    let eval = d.wait_for(
        &format!("/v1/evaluation/{}", again["EvalID"].as_str().unwrap()),
        |e| e["Status"] == "complete",
    );
    assert_eq!(eval["DeploymentID"], "");
    let now = d.get("/v1/job/job-creation").json();
    assert_eq!(now["Version"], 0);
    assert_eq!(now["JobModifyIndex"], stored["JobModifyIndex"]);
}

#[test]
fn enforce_index_mismatch_is_nomads_500() {
    let d = Double::start(&[]);
    let job = d.parse_fixture("job_creation.nomad");

    let r = d.post(
        "/v1/jobs",
        &json!({"Job": job, "EnforceIndex": true, "JobModifyIndex": 7}),
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "Enforcing job modify index 7: job does not exist")
    );

    let r = d.post(
        "/v1/jobs",
        &json!({"Job": job, "EnforceIndex": true, "JobModifyIndex": 0}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let current = r.json()["JobModifyIndex"].as_u64().unwrap();

    let r = d.post(
        "/v1/jobs",
        &json!({"Job": job, "EnforceIndex": true, "JobModifyIndex": 0}),
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "Enforcing job modify index 0: job already exists")
    );

    let stale = current - 1;
    let changed = with_task(&job, None, Some(600));
    let r = d.post(
        "/v1/job/job-creation",
        &json!({"Job": changed, "EnforceIndex": true, "JobModifyIndex": stale}),
    );
    assert_eq!(r.status, 500);
    assert_eq!(
        r.body,
        format!("Enforcing job modify index {stale}: job exists with conflicting job modify index: {current}")
    );
    assert!(r.header("Content-Type").unwrap().starts_with("text/plain"));

    let r = d.post(
        "/v1/job/job-creation",
        &json!({"Job": changed, "EnforceIndex": true, "JobModifyIndex": current}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(d.get("/v1/job/job-creation").json()["Version"], 1);

    // The plan reports the index to enforce.
    let plan = d
        .post(
            "/v1/job/job-creation/plan",
            &json!({"Job": changed, "Diff": true}),
        )
        .json();
    assert_eq!(plan["JobModifyIndex"], r.json()["JobModifyIndex"]);
    assert_eq!(plan["Diff"]["Type"], "None");

    let r = d.post("/v1/job/other-id", &json!({"Job": job}));
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Job ID does not match name")
    );
    let r = d.post("/v1/jobs", &json!({}));
    assert_eq!((r.status, r.body.as_str()), (400, "Job must be specified"));
    let r = d.request("POST", "/v1/jobs", None, &[]);
    assert_eq!((r.status, r.body.as_str()), (400, "Request body is empty"));
}

#[test]
fn failing_image_fails_the_deployment_and_revert_restores_the_stable_version() {
    let d = Double::start(&["--fail-image-pattern", "deadbeef"]);
    // Without a progress deadline and restarts, the first unhealthy allocation fails the
    // deployment (deploymentwatcher handleAllocUpdate, "Fail on the first bad allocation").
    let job = fail_fast(d.parse_fixture("job_creation.nomad"));
    let v0 = d.register_ok(&job);
    let dep0 = d.wait_deployment_terminal(&d.deployment_of_eval(v0["EvalID"].as_str().unwrap()));
    assert_eq!(dep0["Status"], "successful");

    let v1 = d.register_ok(&with_task(&job, Some(BAD), None));
    let dep1 = d.wait_deployment_terminal(&d.deployment_of_eval(v1["EvalID"].as_str().unwrap()));
    assert_eq!(dep1["Status"], "failed");
    assert_eq!(
        dep1["StatusDescription"],
        "Failed due to unhealthy allocations"
    );
    assert_eq!(dep1["TaskGroups"]["job-creation"]["UnhealthyAllocs"], 1);

    let allocs = d.get("/v1/job/job-creation/allocations").json();
    let failed: Vec<&Value> = allocs
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["ClientStatus"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["JobVersion"], 1);
    assert_eq!(failed[0]["DeploymentStatus"]["Healthy"], false);
    let events = failed[0]["TaskStates"]["job-creation"]["Events"]
        .as_array()
        .unwrap();
    assert!(events.iter().any(|e| e["Type"] == "Driver Failure"));
    assert_eq!(d.get("/v1/job/job-creation").json()["Stable"], false);

    // Revert to the last stable version, guarding against a concurrent change.
    let r = d.post(
        "/v1/job/job-creation/revert",
        &json!({"JobID": "job-creation", "JobVersion": 0, "EnforcePriorVersion": 0}),
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "Current job has version 1; enforcing version 0")
    );
    let r = d.post(
        "/v1/job/job-creation/revert",
        &json!({"JobID": "job-creation", "JobVersion": 1}),
    );
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "can't revert to current version")
    );
    let r = d.post(
        "/v1/job/job-creation/revert",
        &json!({"JobID": "job-creation", "JobVersion": 9}),
    );
    assert_eq!(r.status, 500);
    assert_eq!(
        r.body,
        "job \"job-creation\" in namespace \"default\" at version 9 not found"
    );

    let r = d.post(
        "/v1/job/job-creation/revert",
        &json!({"JobID": "job-creation", "JobVersion": 0, "EnforcePriorVersion": 1}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let dep2 =
        d.wait_deployment_terminal(&d.deployment_of_eval(r.json()["EvalID"].as_str().unwrap()));
    assert_eq!(dep2["Status"], "successful");
    assert_eq!(dep2["JobVersion"], 2);

    let stored = d.get("/v1/job/job-creation").json();
    assert_eq!(stored["Version"], 2);
    assert_eq!(stored["Stable"], true);
    assert_eq!(stored["Status"], "running");
    assert_eq!(stored["TaskGroups"][0]["Tasks"][0]["Config"]["image"], GOOD);
    let running = running_allocs(&d, "job-creation");
    assert_eq!(running.len(), 1);
    assert_eq!(running[0]["JobVersion"], 2);
}

#[test]
fn auto_revert_rolls_back_to_the_stable_version() {
    let d = Double::start(&["--fail-image-pattern", "deadbeef"]);
    let mut job = fail_fast(d.parse_fixture("job_creation.nomad"));
    job["TaskGroups"][0]["Update"]["AutoRevert"] = json!(true);
    let v0 = d.register_ok(&job);
    d.wait_deployment_terminal(&d.deployment_of_eval(v0["EvalID"].as_str().unwrap()));

    let v1 = d.register_ok(&with_task(&job, Some(BAD), None));
    let dep1 = d.wait_deployment_terminal(&d.deployment_of_eval(v1["EvalID"].as_str().unwrap()));
    assert_eq!(dep1["Status"], "failed");
    assert_eq!(
        dep1["StatusDescription"],
        "Failed due to unhealthy allocations - rolling back to job version 0"
    );
    let rollback = d.wait_for("/v1/job/job-creation/deployment", |dep| {
        dep["JobVersion"] == 2
    });
    let rollback = d.wait_deployment_terminal(rollback["ID"].as_str().unwrap());
    assert_eq!(rollback["Status"], "successful");
    assert_eq!(d.get("/v1/job/job-creation").json()["Stable"], true);
}

#[test]
fn stop_and_purge() {
    let d = Double::start(&[]);
    let job = d.parse_fixture("job_creation.nomad");
    let reg = d.register_ok(&job);
    d.wait_deployment_terminal(&d.deployment_of_eval(reg["EvalID"].as_str().unwrap()));

    let stop = d.delete("/v1/job/job-creation");
    assert_eq!(stop.status, 200, "{}", stop.body);
    let eval_id = stop.json()["EvalID"].as_str().unwrap().to_string();
    let eval = d.wait_for(&format!("/v1/evaluation/{eval_id}"), |e| {
        e["Status"] == "complete"
    });
    assert_eq!(eval["TriggeredBy"], "job-deregister");
    let stopped = d.wait_for("/v1/job/job-creation", |j| j["Status"] == "dead");
    assert_eq!(stopped["Stop"], true);
    assert_eq!(stopped["Version"], 1);
    assert!(running_allocs(&d, "job-creation").is_empty());

    // Registering it again (Stop=false) is a change: a new version, placed again.
    let back = d.register_ok(&job);
    d.wait_deployment_terminal(&d.deployment_of_eval(back["EvalID"].as_str().unwrap()));
    assert_eq!(d.get("/v1/job/job-creation").json()["Version"], 2);

    let purge = d.delete("/v1/job/job-creation?purge=true");
    assert_eq!(purge.status, 200);
    assert_eq!(d.get("/v1/job/job-creation").status, 404);
    assert_eq!(
        d.get("/v1/job/job-creation/versions").body,
        "job versions not found"
    );
    let bad = d.delete("/v1/job/job-creation?purge=maybe");
    assert_eq!(bad.status, 500);
}

#[test]
fn parameterized_batch_jobs_register_without_an_evaluation() {
    let d = Double::start(&[]);
    let job = d.parse_fixture("si_processing.nomad");
    assert_eq!(job["ParameterizedJob"]["MetaRequired"][0], "job_id");
    let reg = d.register_ok(&job);
    assert_eq!(reg["EvalID"], "");
    assert_eq!(reg["EvalCreateIndex"], 0);
    let stored = d.get("/v1/job/si-processing").json();
    assert_eq!(stored["Status"], "running");
    assert_eq!(d.get("/v1/job/si-processing/evaluations").body, "[]");
}

#[test]
fn namespaces_keep_jobs_apart() {
    let d = Double::start(&[]);
    let job = d.parse_fixture("job_creation.nomad");
    let r = d.post("/v1/jobs?namespace=test", &json!({"Job": job}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(d.get("/v1/job/job-creation").status, 404);
    let in_ns = d
        .get("/v1/job/job-creation?namespace=test&region=global")
        .json();
    assert_eq!(in_ns["Namespace"], "test");
    assert_eq!(d.get("/v1/jobs").json().as_array().unwrap().len(), 0);
    assert_eq!(
        d.get("/v1/jobs?namespace=*")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let listed = d.get("/v1/jobs?namespace=test&prefix=job-").json();
    assert_eq!(listed[0]["ID"], "job-creation");
    assert_eq!(d.get("/v1/jobs?namespace=test&prefix=xyz").body, "[]");
}

/// No progress deadline, no restarts: a failed task fails its allocation, and the
/// allocation its deployment, at once.
fn fail_fast(mut job: Value) -> Value {
    let g = &mut job["TaskGroups"][0];
    if !g["Update"].is_object() {
        g["Update"] = json!({});
    }
    g["Update"]["ProgressDeadline"] = json!(0);
    g["RestartPolicy"] = json!({"Attempts": 0, "Interval": 60_000_000_000i64, "Delay": 1_000_000_000i64, "Mode": "fail"});
    job
}

/// A broken image with a progress deadline, as Nomad runs it: the task restarts (restart
/// policy), its allocation fails and is replaced (reschedule policy), the deployment
/// stays running until the progress deadline, then fails.
#[test]
fn broken_image_is_rescheduled_until_the_progress_deadline() {
    let d = Double::start(&["--fail-image-pattern", "deadbeef"]);
    let mut job = d.parse_fixture("job_creation.nomad");
    let good = d.register_ok(&job);
    d.wait_deployment_terminal(&d.deployment_of_eval(good["EvalID"].as_str().unwrap()));
    let sec = 1_000_000_000i64;
    let g = &mut job["TaskGroups"][0];
    g["Update"] =
        json!({"MinHealthyTime": sec / 2, "HealthyDeadline": sec, "ProgressDeadline": 4 * sec});
    g["RestartPolicy"] =
        json!({"Attempts": 1, "Interval": 60 * sec, "Delay": sec / 2, "Mode": "fail"});
    g["ReschedulePolicy"] =
        json!({"Delay": sec / 2, "DelayFunction": "constant", "Unlimited": true});
    let bad = d.register_ok(&with_task(&job, Some(BAD), None));
    let dep = d.deployment_of_eval(bad["EvalID"].as_str().unwrap());
    let started = std::time::Instant::now();
    let failed = d.wait_deployment_terminal(&dep);
    let took = started.elapsed();
    assert_eq!(failed["Status"], "failed");
    assert_eq!(
        failed["StatusDescription"],
        "Failed due to progress deadline"
    );
    assert!(
        took >= std::time::Duration::from_secs(3),
        "failed after {took:?}"
    );
    let allocs = d.get(&format!("/v1/deployment/allocations/{dep}")).json();
    let allocs = allocs.as_array().unwrap();
    assert!(allocs.len() >= 2, "replaced at least once: {allocs:#?}");
    let first = allocs
        .iter()
        .find(|a| a["NextAllocation"] != "")
        .expect("a replaced allocation");
    let next = d
        .get(&format!(
            "/v1/allocation/{}",
            first["NextAllocation"].as_str().unwrap()
        ))
        .json();
    assert_eq!(next["PreviousAllocation"], first["ID"]);
    assert_eq!(first["ClientStatus"], "failed");
    assert_eq!(first["TaskStates"]["job-creation"]["Restarts"], 1);
    let events: Vec<&str> = first["TaskStates"]["job-creation"]["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Type"].as_str().unwrap())
        .collect();
    assert!(
        events.contains(&"Restarting") && events.contains(&"Not Restarting"),
        "{events:?}"
    );
}

/// UpdateStrategy.Validate: healthy_deadline must be below progress_deadline (default
/// 10m), on plan and on register; the sandbox's old worker_pool_management.nomad had
/// healthy_deadline = "10m" and no progress_deadline.
#[test]
fn update_block_deadlines_are_validated_on_plan_and_register() {
    let d = Double::start(&[]);
    let mut job = d.parse_fixture("job_creation.nomad");
    job["TaskGroups"][0]["Update"] = json!({"HealthyDeadline": 600_000_000_000i64});
    let plan = d.post("/v1/job/job-creation/plan", &json!({"Job": job}));
    assert_eq!(plan.status, 500, "{}", plan.body);
    assert!(
        plan.body
            .contains("Healthy deadline must be less than progress deadline: 10m0s > 10m0s"),
        "{}",
        plan.body
    );
    let reg = d.register(&job);
    assert_eq!(reg.status, 500);
    assert!(
        reg.body
            .contains("Task group job-creation validation failed"),
        "{}",
        reg.body
    );
    assert_eq!(
        d.get("/v1/job/job-creation").status,
        404,
        "nothing registered"
    );
}
