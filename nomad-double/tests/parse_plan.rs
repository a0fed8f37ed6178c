//! /v1/jobs/parse on the project's kinds of job files, and plan diffs.

// Tests may panic: a panic is a failed test (the product code may not: Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fixture, with_task, Double};
use serde_json::{json, Value};

#[test]
fn parses_hcl2_and_hcl1_era_files() {
    let d = Double::start(&[]);
    let r = d.post(
        "/v1/jobs/parse",
        &json!({"JobHCL": fixture("job_creation.nomad")}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let job = r.json();
    assert_eq!(job["ID"], "job-creation");
    assert_eq!(
        job["Region"],
        Value::Null,
        "non-canonical output leaves unset fields null"
    );
    let task = &job["TaskGroups"][0]["Tasks"][0];
    assert_eq!(
        task["Config"]["image"],
        "registry.example/cosims/cosims/job_creation:git-0123abcd"
    );
    assert_eq!(task["Resources"]["CPU"], 500);
    assert_eq!(task["Resources"]["MemoryMB"], 256);
    assert_eq!(
        task["Templates"][0]["EmbeddedTmpl"],
        "CSI_ROOT_DIR=/opt/csi\nNODE_CLASS=${node.class}\n"
    );
    assert_eq!(job["Constraints"][0]["LTarget"], "${node.class}");
    assert_eq!(
        job["TaskGroups"][0]["RestartPolicy"]["Interval"],
        1_800_000_000_000i64
    );

    let old = d.post(
        "/v1/jobs/parse",
        &json!({"JobHCL": fixture("hcl1_monitor.nomad"), "HCLv1": true, "Canonicalize": true}),
    );
    assert_eq!(old.status, 200, "{}", old.body);
    let old = old.json();
    let task = &old["TaskGroups"][0]["Tasks"][0];
    assert_eq!(task["Env"]["LOG_LEVEL"], "info");
    assert_eq!(task["Resources"]["CPU"], 300);
    assert_eq!(old["Region"], "global");
}

#[test]
fn parse_variables_and_errors() {
    let d = Double::start(&[]);
    let src = "variable \"tag\" { default = \"a\" }\njob \"x\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"docker\"\n      config { image = \"repo/x:${var.tag}\" }\n    }\n  }\n}\n";
    let job = d
        .post(
            "/v1/jobs/parse",
            &json!({"JobHCL": src, "Variables": "tag = \"b\"\n"}),
        )
        .json();
    assert_eq!(
        job["TaskGroups"][0]["Tasks"][0]["Config"]["image"],
        "repo/x:b"
    );

    let r = d.post("/v1/jobs/parse", &json!({"JobHCL": "{{{ not hcl at all"}));
    assert_eq!(r.status, 400);
    assert!(
        r.body.starts_with("Failed to parse job: input.hcl:"),
        "{}",
        r.body
    );
    let r = d.post("/v1/jobs/parse", &json!({"JobHCL": ""}));
    assert_eq!((r.status, r.body.as_str()), (400, "Job spec is empty"));
}

#[test]
fn plan_diff_shows_the_image_edit() {
    let d = Double::start(&[]);
    let job = d.parse_fixture("job_creation.nomad");
    let reg = d.register_ok(&job);
    d.wait_deployment_terminal(&d.deployment_of_eval(reg["EvalID"].as_str().unwrap()));

    let same = d
        .post(
            "/v1/job/job-creation/plan",
            &json!({"Job": job, "Diff": true}),
        )
        .json();
    assert_eq!(same["Diff"]["Type"], "None");
    assert_eq!(
        same["Annotations"]["DesiredTGUpdates"]["job-creation"]["Ignore"],
        1
    );

    let next = with_task(
        &job,
        Some("registry.example/cosims/cosims/job_creation:git-fedcba98"),
        None,
    );
    let plan = d
        .post(
            "/v1/job/job-creation/plan",
            &json!({"Job": next, "Diff": true}),
        )
        .json();
    assert_eq!(plan["JobModifyIndex"], reg["JobModifyIndex"]);
    assert_eq!(plan["Diff"]["Type"], "Edited");
    let tg = &plan["Diff"]["TaskGroups"][0];
    assert_eq!(tg["Type"], "Edited");
    assert_eq!(tg["Updates"]["create/destroy update"], 1);
    let task = &tg["Tasks"][0];
    assert_eq!(task["Annotations"][0], "forces create/destroy update");
    let config = task["Objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["Name"] == "Config")
        .unwrap();
    assert_eq!(config["Type"], "Edited");
    let image = config["Fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["Name"] == "image")
        .unwrap();
    assert_eq!(image["Type"], "Edited");
    assert_eq!(
        image["Old"],
        "registry.example/cosims/cosims/job_creation:git-0123abcd"
    );
    assert_eq!(
        image["New"],
        "registry.example/cosims/cosims/job_creation:git-fedcba98"
    );
    assert_eq!(
        plan["Annotations"]["DesiredTGUpdates"]["job-creation"]["DestructiveUpdate"],
        1
    );
    assert!(plan["FailedTGAllocs"].is_null());

    let no_diff = d
        .post("/v1/job/job-creation/plan", &json!({"Job": next}))
        .json();
    assert!(no_diff["Diff"].is_null());
    let r = d.post("/v1/job/other/plan", &json!({"Job": next}));
    assert_eq!((r.status, r.body.as_str()), (400, "Job ID does not match"));
    let r = d.request("GET", "/v1/job/job-creation/plan", None, &[]);
    assert_eq!((r.status, r.body.as_str()), (405, "Invalid method"));
}
