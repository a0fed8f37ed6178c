//! Blocking queries: `?index=N&wait=D` returns on a change past N, or when the wait ends.

// Tests may panic: a panic is a failed test (the product code may not: Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Double;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn blocking_query_returns_when_the_index_moves() {
    let d = Double::start(&[]);
    let job = d.parse_fixture("job_creation.nomad");
    let list = d.get("/v1/jobs");
    assert_eq!(list.body, "[]");
    let index = list.index().expect("X-Nomad-Index");
    assert_eq!(list.header("X-Nomad-KnownLeader"), Some("true"));
    assert!(list.header("X-Nomad-LastContact").is_some());

    let addr = d.addr.clone();
    let waiter = thread::spawn(move || {
        let started = Instant::now();
        let r = common::request(
            &addr,
            "GET",
            &format!("/v1/jobs?index={index}&wait=20s"),
            None,
            &[],
        );
        (started.elapsed(), r)
    });
    thread::sleep(Duration::from_millis(300));
    let reg = d.register_ok(&job);
    let (elapsed, r) = waiter.join().unwrap();
    assert!(
        elapsed >= Duration::from_millis(250),
        "returned before the change: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "did not wake on the change: {elapsed:?}"
    );
    assert_eq!(r.status, 200);
    assert!(r.index().unwrap() > index);
    assert!(r.index().unwrap() >= reg["JobModifyIndex"].as_u64().unwrap());
    assert_eq!(r.json()[0]["ID"], "job-creation");
}

#[test]
fn blocking_query_times_out_with_the_same_index() {
    let d = Double::start(&[]);
    let job = d.parse_fixture("job_creation.nomad");
    let reg = d.register_ok(&job);
    let dep = d.deployment_of_eval(reg["EvalID"].as_str().unwrap());
    let done = d.wait_deployment_terminal(&dep);
    let index = d.get(&format!("/v1/deployment/{dep}")).index().unwrap();
    assert_eq!(index, done["ModifyIndex"].as_u64().unwrap());

    let started = Instant::now();
    let r = d.get(&format!("/v1/deployment/{dep}?index={index}&wait=600ms"));
    let elapsed = started.elapsed();
    assert_eq!(r.status, 200);
    assert_eq!(r.index(), Some(index));
    // Nomad adds up to wait/16 of jitter.
    assert!(
        elapsed >= Duration::from_millis(550),
        "returned early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "waited too long: {elapsed:?}"
    );

    // A stale index answers at once.
    let started = Instant::now();
    let r = d.get(&format!(
        "/v1/deployment/{dep}?index={}&wait=10s",
        index - 1
    ));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(r.status, 200);

    let r = d.get(&format!("/v1/deployment/{dep}?index=abc"));
    assert_eq!((r.status, r.body.as_str()), (400, "Invalid index"));
    let r = d.get(&format!("/v1/deployment/{dep}?index=1&wait=soon"));
    assert_eq!((r.status, r.body.as_str()), (400, "Invalid wait time"));
}

#[test]
fn job_read_blocks_on_the_job_modify_index() {
    let d = Double::start(&[]);
    let job = d.parse_fixture("job_creation.nomad");
    let reg = d.register_ok(&job);
    let first = d.get("/v1/job/job-creation");
    let index = first.index().unwrap();
    assert_eq!(index, first.json()["ModifyIndex"].as_u64().unwrap());
    // The job's status and stability change as the deployment progresses.
    let stable = d.wait_for("/v1/job/job-creation", |j| j["Stable"] == true);
    assert!(stable["ModifyIndex"].as_u64().unwrap() > index);
    assert_eq!(stable["JobModifyIndex"], reg["JobModifyIndex"]);
}
