//! Injected faults: error statuses, hanging requests, lost answers, the control
//! endpoints and the request log.

// Tests may panic: a panic is a failed test (the product code may not: Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Double;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A raw request with a short read timeout: None when no answer came.
fn send(addr: &str, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

#[test]
fn error_statuses_are_answered_count_times_then_the_real_answer() {
    let d = Double::start(&["--fail-requests", "GET:/v1/job/*:503:2"]);
    let job = d.parse_fixture("job_creation.nomad");
    d.register_ok(&job);
    for _ in 0..2 {
        let r = d.get("/v1/job/job-creation");
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(r.body.contains("injected fault"), "{}", r.body);
    }
    assert_eq!(d.get("/v1/job/job-creation").status, 200);
    let log: Value =
        serde_json::from_str(&send(&d.addr, "GET", "/_double/requests", "").unwrap().1).unwrap();
    let faults: Vec<&Value> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["Fault"])
        .collect();
    assert_eq!(
        faults[faults.len() - 3..],
        [&json!("503"), &json!("503"), &Value::Null]
    );
}

#[test]
fn a_lost_answer_still_changes_the_job_and_hang_changes_nothing() {
    let d = Double::start(&[]);
    let job = d.parse_fixture("job_creation.nomad");
    d.register_ok(&job);
    let (status, body) = send(
        &d.addr,
        "POST",
        "/_double/faults",
        "DELETE:/v1/job/job-creation:lose:1\nPOST:/v1/job/job-creation:hang:1\n",
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(send(&d.addr, "DELETE", "/v1/job/job-creation", ""), None);
    assert_eq!(
        d.get("/v1/job/job-creation").json()["Stop"],
        true,
        "carried out"
    );
    let register = json!({"Job": job}).to_string();
    assert_eq!(
        send(&d.addr, "POST", "/v1/job/job-creation", &register),
        None
    );
    assert_eq!(
        d.get("/v1/job/job-creation").json()["Stop"],
        true,
        "not carried out"
    );
    let (_, left) = send(&d.addr, "GET", "/_double/faults", "").unwrap();
    let left: Value = serde_json::from_str(&left).unwrap();
    assert_eq!(
        left,
        json!([
            "DELETE:/v1/job/job-creation:lose:0",
            "POST:/v1/job/job-creation:hang:0"
        ])
    );
}

#[test]
fn bad_rules_are_refused_and_faults_can_be_cleared() {
    let d = Double::start(&[]);
    let (status, body) = send(&d.addr, "POST", "/_double/faults", "GET:/v1/jobs:200").unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("METHOD:PATH:ANSWER[:COUNT]"), "{body}");
    send(&d.addr, "POST", "/_double/faults", "*:/v1/*:500").unwrap();
    assert_eq!(d.get("/v1/jobs").status, 500);
    send(&d.addr, "DELETE", "/_double/faults", "").unwrap();
    assert_eq!(d.get("/v1/jobs").status, 200);
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_nomad-double"))
        .args(["--bind", "127.0.0.1:0", "--fail-requests", "GET:/x:999"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("fault rule \"GET:/x:999\""), "{stderr}");
}
