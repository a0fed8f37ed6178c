//! Job write endpoints: parse, plan, register/update, revert, stable, stop/purge.

use super::http::{decode, json_reply, Params, Reply};
use crate::app::App;
use crate::store::{ApiError, RegisterOpts};
use crate::util::now_ns;
use crate::{hcl, scheduler};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

type Q = Query<HashMap<String, String>>;

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct ParseRequest {
    #[serde(rename = "JobHCL")]
    job_hcl: String,
    variables: String,
    canonicalize: bool,
    #[serde(rename = "HCLv1")]
    hcl_v1: bool,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct RegisterRequest {
    job: Option<Value>,
    enforce_index: bool,
    job_modify_index: u64,
    preserve_counts: bool,
    eval_priority: i64,
    namespace: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct PlanRequest {
    job: Option<Value>,
    diff: bool,
    namespace: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct RevertRequest {
    #[serde(rename = "JobID")]
    job_id: String,
    job_version: u64,
    enforce_prior_version: Option<u64>,
    namespace: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct StableRequest {
    #[serde(rename = "JobID")]
    job_id: String,
    job_version: u64,
    stable: bool,
    namespace: String,
}

/// Namespace of a write: query, then the body's WriteRequest, then the job's, then default.
fn write_namespace(params: &Params, body_ns: &str, job: Option<&Value>) -> String {
    if let Some(ns) = params.get("namespace").filter(|n| !n.is_empty()) {
        return ns.to_string();
    }
    if !body_ns.is_empty() {
        return body_ns.to_string();
    }
    job.and_then(|j| j.get("Namespace"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
        .to_string()
}

pub async fn parse(State(app): State<Arc<App>>, Query(q): Q, body: Bytes) -> Reply {
    let params = Params(q);
    let req: ParseRequest = decode(&body)?;
    if req.job_hcl.trim().is_empty() {
        return Err(ApiError::new(400, "Job spec is empty"));
    }
    let parser = app.config.nomad_version.parser(req.hcl_v1);
    let job = hcl::parse_job_with(parser, &req.job_hcl, &req.variables, req.canonicalize)
        .map_err(|m| ApiError::new(400, m))?;
    Ok(json_reply(0, &job, params.pretty()))
}

pub async fn register_new(State(app): State<Arc<App>>, Query(q): Q, body: Bytes) -> Reply {
    register(&app, None, Params(q), &body)
}

pub async fn register_existing(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Reply {
    register(&app, Some(&id), Params(q), &body)
}

fn register(app: &App, path_id: Option<&str>, params: Params, body: &Bytes) -> Reply {
    let req: RegisterRequest = decode(body)?;
    let job = req
        .job
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::new(400, "Job must be specified"))?;
    let id = job.get("ID").and_then(Value::as_str).unwrap_or("");
    if id.is_empty() {
        return Err(ApiError::new(400, "Job ID hasn't been provided"));
    }
    if path_id.is_some_and(|p| p != id) {
        return Err(ApiError::new(400, "Job ID does not match name"));
    }
    if req.eval_priority != 0 && !(1..=100).contains(&req.eval_priority) {
        return Err(ApiError::new(
            400,
            "Eval priority must be between 1 and 100 inclusively",
        ));
    }
    let ns = write_namespace(&params, &req.namespace, Some(&job));
    let opts = RegisterOpts {
        enforce_index: req.enforce_index,
        job_modify_index: req.job_modify_index,
        preserve_counts: req.preserve_counts,
        eval_priority: req.eval_priority,
        triggered_by: "job-register",
    };
    let mut store = app.lock();
    let resp = store.register(&ns, job, &opts, now_ns())?;
    app.commit(&store);
    Ok(json_reply(resp.index, &resp, params.pretty()))
}

pub async fn plan(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Reply {
    let params = Params(q);
    let req: PlanRequest = decode(&body)?;
    let job = req
        .job
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::new(400, "Job must be specified"))?;
    let job_id = job.get("ID").and_then(Value::as_str).unwrap_or("");
    if job_id.is_empty() {
        return Err(ApiError::new(400, "Job must have a valid ID"));
    }
    if job_id != id {
        return Err(ApiError::new(400, "Job ID does not match"));
    }
    let ns = write_namespace(&params, &req.namespace, Some(&job));
    // Plan runs the same admission controllers as register (validation included).
    let mut checked = job.clone();
    crate::jobspec::canonicalize(&mut checked);
    crate::jobspec::validate(&checked).map_err(|m| ApiError::new(500, m))?;
    let store = app.lock();
    let resp = scheduler::plan::plan(&store, &app.config, &ns, job, req.diff);
    Ok(json_reply(store.index, &resp, params.pretty()))
}

pub async fn revert(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Reply {
    let params = Params(q);
    let req: RevertRequest = decode(&body)?;
    if req.job_id.is_empty() {
        return Err(ApiError::new(400, "JobID must be specified"));
    }
    if req.job_id != id {
        return Err(ApiError::new(400, "Job ID does not match"));
    }
    let ns = write_namespace(&params, &req.namespace, None);
    let mut store = app.lock();
    let resp = store.revert(
        &ns,
        &id,
        req.job_version,
        req.enforce_prior_version,
        now_ns(),
    )?;
    app.commit(&store);
    Ok(json_reply(resp.index, &resp, params.pretty()))
}

pub async fn stable(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Q,
    body: Bytes,
) -> Reply {
    let params = Params(q);
    let req: StableRequest = decode(&body)?;
    if req.job_id.is_empty() {
        return Err(ApiError::new(400, "JobID must be specified"));
    }
    if req.job_id != id {
        return Err(ApiError::new(400, "Job ID does not match"));
    }
    let ns = write_namespace(&params, &req.namespace, None);
    let mut store = app.lock();
    if store.job(&ns, &id).is_none() {
        return Err(ApiError::new(500, format!("job {id:?} not found")));
    }
    let idx = store.bump();
    if !store.set_stable(&ns, &id, req.job_version, req.stable, idx) {
        return Err(ApiError::new(
            500,
            format!(
                "job {id:?} in namespace {ns:?} at version {} not found",
                req.job_version
            ),
        ));
    }
    app.commit(&store);
    Ok(json_reply(
        idx,
        &json!({"JobModifyIndex": idx, "Index": idx}),
        params.pretty(),
    ))
}

pub async fn deregister(State(app): State<Arc<App>>, Path(id): Path<String>, Query(q): Q) -> Reply {
    let params = Params(q);
    let purge = params.flag("purge")?;
    params.flag("global")?;
    let ns = params.namespace();
    let mut store = app.lock();
    let out = store.deregister(&ns, &id, purge, now_ns());
    app.commit(&store);
    let body = json!({
        "EvalID": out.eval_id,
        "EvalCreateIndex": if out.eval_id.is_empty() { 0 } else { out.index },
        "JobModifyIndex": out.index,
        "Index": out.index,
        "LastIndex": out.index,
        "LastContact": 0,
        "KnownLeader": true,
        "NextToken": "",
        "RequestTime": 0,
    });
    Ok(json_reply(out.index, &body, params.pretty()))
}

pub async fn fail_deployment(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Query(q): Q,
) -> Reply {
    let params = Params(q);
    let mut store = app.lock();
    let Some(d) = store.deployments.get(&id).cloned() else {
        return Err(ApiError::new(500, "deployment not found"));
    };
    if !scheduler::place::is_active(&d) {
        return Err(ApiError::new(500, "can't fail terminal deployment"));
    }
    let mut tx = scheduler::Tx::default();
    // nomad/deploymentwatcher FailDeployment: "Deployment marked as failed", with the
    // group's auto_revert the rollback, and its version in RevertedJobVersion.
    let reverted = scheduler::fail_deployment(
        &mut store,
        &id,
        "Deployment marked as failed",
        &mut tx,
        now_ns(),
    );
    let idx = store.index;
    app.commit(&store);
    let body = json!({
        "EvalID": "", "EvalCreateIndex": 0, "DeploymentModifyIndex": idx,
        "RevertedJobVersion": reverted, "Index": idx,
    });
    Ok(json_reply(idx, &body, params.pretty()))
}
