//! ACL token check when a token is configured.

// Tests may panic: a panic is a failed test (the product code may not: Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Double;

#[test]
fn requests_without_the_token_are_denied() {
    let d = Double::start(&["--token", "s3cret"]);
    let r = d.get("/v1/jobs");
    assert_eq!((r.status, r.body.as_str()), (403, "Permission denied"));
    let r = d.request("GET", "/v1/jobs", None, &[("X-Nomad-Token", "wrong")]);
    assert_eq!((r.status, r.body.as_str()), (403, "ACL token not found"));
    let r = d.request("GET", "/v1/jobs", None, &[("X-Nomad-Token", "s3cret")]);
    assert_eq!(r.status, 200);
    let r = d.request(
        "GET",
        "/v1/jobs",
        None,
        &[("Authorization", "bearer s3cret")],
    );
    assert_eq!(r.status, 200);
    // The leader probe needs no token, as in Nomad.
    assert_eq!(d.get("/v1/status/leader").status, 200);
    let r = d.get("/v1/agent/self");
    assert_eq!(r.status, 403);
}

#[test]
fn the_token_can_come_from_the_environment() {
    let d = Double::start_raw(
        &["--bind", "127.0.0.1:0"],
        &[("NOMAD_DOUBLE_TOKEN", "from-env")],
    );
    assert_eq!(d.get("/v1/jobs").status, 403);
    let r = d.request("GET", "/v1/jobs", None, &[("X-Nomad-Token", "from-env")]);
    assert_eq!(r.status, 200);
}

#[test]
fn without_a_token_everything_is_open() {
    let d = Double::start(&[]);
    assert_eq!(d.get("/v1/jobs").status, 200);
    let agent = d.get("/v1/agent/self").json();
    assert_eq!(agent["config"]["ACL"]["Enabled"], false);
}
