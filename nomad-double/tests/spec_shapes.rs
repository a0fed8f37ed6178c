//! Every response shape csi decodes carries the field names of the official Nomad
//! OpenAPI description, with its JSON types. The expectations below are written from
//! that spec (components/schemas); the double must emit each listed field.
//!
//! Type notation: `string`, `integer`, `number`, `boolean`, `date-time` (RFC 3339
//! string), `object` (free-form), `array<T>`, `map<T>` (JSON object of T), or a schema
//! name. A trailing `?` allows `null` — Nomad sends `null` for nil Go maps, slices and
//! pointers, so a client must accept it there.

// Tests may panic: a panic is a failed test (the product code may not: Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{with_task, Double};
use serde_json::{json, Value};

fn schema(name: &str) -> &'static [(&'static str, &'static str)] {
    match name {
        "JobRegisterResponse" => &[
            ("EvalCreateIndex", "integer"),
            ("EvalID", "string"),
            ("JobModifyIndex", "integer"),
            ("KnownLeader", "boolean"),
            ("LastContact", "integer"),
            ("LastIndex", "integer"),
            ("NextToken", "string"),
            ("RequestTime", "integer"),
            ("Warnings", "string"),
        ],
        "JobDeregisterResponse" => &[
            ("EvalCreateIndex", "integer"),
            ("EvalID", "string"),
            ("JobModifyIndex", "integer"),
            ("KnownLeader", "boolean"),
            ("LastContact", "integer"),
            ("LastIndex", "integer"),
            ("NextToken", "string"),
            ("RequestTime", "integer"),
        ],
        "Job" => &[
            ("Affinities", "array<object>?"),
            ("AllAtOnce", "boolean"),
            ("Constraints", "array<Constraint>?"),
            ("ConsulNamespace", "string"),
            ("ConsulToken", "string"),
            ("CreateIndex", "integer"),
            ("Datacenters", "array<string>"),
            ("DispatchIdempotencyToken", "string"),
            ("Dispatched", "boolean"),
            ("ID", "string"),
            ("JobModifyIndex", "integer"),
            ("Meta", "map<string>?"),
            ("Migrate", "MigrateStrategy?"),
            ("ModifyIndex", "integer"),
            ("Multiregion", "object?"),
            ("Name", "string"),
            ("Namespace", "string"),
            ("NomadTokenID", "string"),
            ("ParameterizedJob", "object?"),
            ("ParentID", "string"),
            ("Payload", "string?"),
            ("Periodic", "object?"),
            ("Priority", "integer"),
            ("Region", "string"),
            ("Reschedule", "ReschedulePolicy?"),
            ("Spreads", "array<object>?"),
            ("Stable", "boolean"),
            ("Status", "string"),
            ("StatusDescription", "string"),
            ("Stop", "boolean"),
            ("SubmitTime", "integer"),
            ("TaskGroups", "array<TaskGroup>"),
            ("Type", "string"),
            ("Update", "UpdateStrategy?"),
            ("VaultNamespace", "string"),
            ("VaultToken", "string"),
            ("Version", "integer"),
        ],
        "TaskGroup" => &[
            ("Affinities", "array<object>?"),
            ("Constraints", "array<Constraint>?"),
            ("Consul", "object?"),
            ("Count", "integer"),
            ("EphemeralDisk", "EphemeralDisk"),
            ("MaxClientDisconnect", "integer?"),
            ("Meta", "map<string>?"),
            ("Migrate", "MigrateStrategy?"),
            ("Name", "string"),
            ("Networks", "array<object>?"),
            ("ReschedulePolicy", "ReschedulePolicy?"),
            ("RestartPolicy", "RestartPolicy"),
            ("Scaling", "object?"),
            ("Services", "array<object>?"),
            ("ShutdownDelay", "integer?"),
            ("Spreads", "array<object>?"),
            ("StopAfterClientDisconnect", "integer?"),
            ("Tasks", "array<Task>"),
            ("Update", "UpdateStrategy?"),
            ("Volumes", "map<object>?"),
        ],
        "Task" => &[
            ("Affinities", "array<object>?"),
            ("Artifacts", "array<object>?"),
            ("CSIPluginConfig", "object?"),
            ("Config", "object"),
            ("Constraints", "array<Constraint>?"),
            ("DispatchPayload", "object?"),
            ("Driver", "string"),
            ("Env", "map<string>?"),
            ("KillSignal", "string"),
            ("KillTimeout", "integer"),
            ("Kind", "string"),
            ("Leader", "boolean"),
            ("Lifecycle", "object?"),
            ("LogConfig", "LogConfig"),
            ("Meta", "map<string>?"),
            ("Name", "string"),
            ("Resources", "Resources"),
            ("RestartPolicy", "RestartPolicy"),
            ("ScalingPolicies", "array<object>?"),
            ("Services", "array<object>?"),
            ("ShutdownDelay", "integer"),
            ("Templates", "array<Template>?"),
            ("User", "string"),
            ("Vault", "object?"),
            ("VolumeMounts", "array<object>?"),
        ],
        "Template" => &[
            ("ChangeMode", "string"),
            ("ChangeSignal", "string"),
            ("DestPath", "string"),
            ("EmbeddedTmpl", "string"),
            ("Envvars", "boolean"),
            ("LeftDelim", "string"),
            ("Perms", "string"),
            ("RightDelim", "string"),
            ("SourcePath", "string"),
            ("Splay", "integer"),
            ("VaultGrace", "integer"),
        ],
        "Resources" => &[
            ("CPU", "integer"),
            ("Cores", "integer"),
            ("MemoryMB", "integer"),
            ("MemoryMaxMB", "integer"),
        ],
        "Constraint" => &[
            ("LTarget", "string"),
            ("Operand", "string"),
            ("RTarget", "string"),
        ],
        "UpdateStrategy" => &[
            ("AutoPromote", "boolean"),
            ("AutoRevert", "boolean"),
            ("Canary", "integer"),
            ("HealthCheck", "string"),
            ("HealthyDeadline", "integer"),
            ("MaxParallel", "integer"),
            ("MinHealthyTime", "integer"),
            ("ProgressDeadline", "integer"),
            ("Stagger", "integer"),
        ],
        "MigrateStrategy" => &[
            ("HealthCheck", "string"),
            ("HealthyDeadline", "integer"),
            ("MaxParallel", "integer"),
            ("MinHealthyTime", "integer"),
        ],
        "RestartPolicy" => &[
            ("Attempts", "integer"),
            ("Delay", "integer"),
            ("Interval", "integer"),
            ("Mode", "string"),
        ],
        "ReschedulePolicy" => &[
            ("Attempts", "integer"),
            ("Delay", "integer"),
            ("DelayFunction", "string"),
            ("Interval", "integer"),
            ("MaxDelay", "integer"),
            ("Unlimited", "boolean"),
        ],
        "EphemeralDisk" => &[
            ("Migrate", "boolean"),
            ("SizeMB", "integer"),
            ("Sticky", "boolean"),
        ],
        "LogConfig" => &[("MaxFileSizeMB", "integer"), ("MaxFiles", "integer")],
        "JobListStub" => &[
            ("CreateIndex", "integer"),
            ("Datacenters", "array<string>"),
            ("ID", "string"),
            ("JobModifyIndex", "integer"),
            ("JobSummary", "JobSummary"),
            ("ModifyIndex", "integer"),
            ("Name", "string"),
            ("Namespace", "string"),
            ("ParameterizedJob", "boolean"),
            ("ParentID", "string"),
            ("Periodic", "boolean"),
            ("Priority", "integer"),
            ("Status", "string"),
            ("StatusDescription", "string"),
            ("Stop", "boolean"),
            ("SubmitTime", "integer"),
            ("Type", "string"),
        ],
        "JobSummary" => &[
            ("Children", "JobChildrenSummary"),
            ("CreateIndex", "integer"),
            ("JobID", "string"),
            ("ModifyIndex", "integer"),
            ("Namespace", "string"),
            ("Summary", "map<TaskGroupSummary>"),
        ],
        "JobChildrenSummary" => &[
            ("Dead", "integer"),
            ("Pending", "integer"),
            ("Running", "integer"),
        ],
        "TaskGroupSummary" => &[
            ("Complete", "integer"),
            ("Failed", "integer"),
            ("Lost", "integer"),
            ("Queued", "integer"),
            ("Running", "integer"),
            ("Starting", "integer"),
            ("Unknown", "integer"),
        ],
        "JobVersionsResponse" => &[
            ("Diffs", "array<JobDiff>?"),
            ("KnownLeader", "boolean"),
            ("LastContact", "integer"),
            ("LastIndex", "integer"),
            ("NextToken", "string"),
            ("RequestTime", "integer"),
            ("Versions", "array<Job>"),
        ],
        "JobPlanResponse" => &[
            ("Annotations", "PlanAnnotations"),
            ("CreatedEvals", "array<Evaluation>?"),
            ("Diff", "JobDiff?"),
            ("FailedTGAllocs", "map<AllocationMetric>?"),
            ("JobModifyIndex", "integer"),
            ("NextPeriodicLaunch", "date-time"),
            ("Warnings", "string"),
        ],
        "PlanAnnotations" => &[
            ("DesiredTGUpdates", "map<DesiredUpdates>"),
            ("PreemptedAllocs", "array<AllocationListStub>?"),
        ],
        "DesiredUpdates" => &[
            ("Canary", "integer"),
            ("DestructiveUpdate", "integer"),
            ("Ignore", "integer"),
            ("InPlaceUpdate", "integer"),
            ("Migrate", "integer"),
            ("Place", "integer"),
            ("Preemptions", "integer"),
            ("Stop", "integer"),
        ],
        "JobDiff" => &[
            ("Fields", "array<FieldDiff>?"),
            ("ID", "string"),
            ("Objects", "array<ObjectDiff>?"),
            ("TaskGroups", "array<TaskGroupDiff>?"),
            ("Type", "string"),
        ],
        "TaskGroupDiff" => &[
            ("Fields", "array<FieldDiff>?"),
            ("Name", "string"),
            ("Objects", "array<ObjectDiff>?"),
            ("Tasks", "array<TaskDiff>?"),
            ("Type", "string"),
            ("Updates", "map<integer>?"),
        ],
        "TaskDiff" => &[
            ("Annotations", "array<string>?"),
            ("Fields", "array<FieldDiff>?"),
            ("Name", "string"),
            ("Objects", "array<ObjectDiff>?"),
            ("Type", "string"),
        ],
        "ObjectDiff" => &[
            ("Fields", "array<FieldDiff>?"),
            ("Name", "string"),
            ("Objects", "array<ObjectDiff>?"),
            ("Type", "string"),
        ],
        "FieldDiff" => &[
            ("Annotations", "array<string>?"),
            ("Name", "string"),
            ("New", "string"),
            ("Old", "string"),
            ("Type", "string"),
        ],
        "Evaluation" => &[
            ("AnnotatePlan", "boolean"),
            ("BlockedEval", "string"),
            ("ClassEligibility", "map<boolean>?"),
            ("CreateIndex", "integer"),
            ("CreateTime", "integer"),
            ("DeploymentID", "string"),
            ("EscapedComputedClass", "boolean"),
            ("FailedTGAllocs", "map<AllocationMetric>?"),
            ("ID", "string"),
            ("JobID", "string"),
            ("JobModifyIndex", "integer"),
            ("ModifyIndex", "integer"),
            ("ModifyTime", "integer"),
            ("Namespace", "string"),
            ("NextEval", "string"),
            ("NodeID", "string"),
            ("NodeModifyIndex", "integer"),
            ("PreviousEval", "string"),
            ("Priority", "integer"),
            ("QueuedAllocations", "map<integer>?"),
            ("QuotaLimitReached", "string"),
            ("RelatedEvals", "array<object>?"),
            ("SnapshotIndex", "integer"),
            ("Status", "string"),
            ("StatusDescription", "string"),
            ("TriggeredBy", "string"),
            ("Type", "string"),
            ("Wait", "integer"),
            ("WaitUntil", "date-time"),
        ],
        "AllocationMetric" => &[
            ("AllocationTime", "integer"),
            ("ClassExhausted", "map<integer>?"),
            ("ClassFiltered", "map<integer>?"),
            ("CoalescedFailures", "integer"),
            ("ConstraintFiltered", "map<integer>?"),
            ("DimensionExhausted", "map<integer>?"),
            ("NodesAvailable", "map<integer>?"),
            ("NodesEvaluated", "integer"),
            ("NodesExhausted", "integer"),
            ("NodesFiltered", "integer"),
            ("QuotaExhausted", "array<string>?"),
            ("ResourcesExhausted", "map<Resources>?"),
            ("ScoreMetaData", "array<object>?"),
            ("Scores", "map<number>?"),
        ],
        "Deployment" => &[
            ("CreateIndex", "integer"),
            ("ID", "string"),
            ("IsMultiregion", "boolean"),
            ("JobCreateIndex", "integer"),
            ("JobID", "string"),
            ("JobModifyIndex", "integer"),
            ("JobSpecModifyIndex", "integer"),
            ("JobVersion", "integer"),
            ("ModifyIndex", "integer"),
            ("Namespace", "string"),
            ("Status", "string"),
            ("StatusDescription", "string"),
            ("TaskGroups", "map<DeploymentState>"),
        ],
        "DeploymentState" => &[
            ("AutoRevert", "boolean"),
            ("DesiredCanaries", "integer"),
            ("DesiredTotal", "integer"),
            ("HealthyAllocs", "integer"),
            ("PlacedAllocs", "integer"),
            ("PlacedCanaries", "array<string>?"),
            ("ProgressDeadline", "integer"),
            ("Promoted", "boolean"),
            ("RequireProgressBy", "date-time"),
            ("UnhealthyAllocs", "integer"),
        ],
        "AllocationListStub" => &[
            ("AllocatedResources", "object?"),
            ("ClientDescription", "string"),
            ("ClientStatus", "string"),
            ("CreateIndex", "integer"),
            ("CreateTime", "integer"),
            ("DeploymentStatus", "AllocDeploymentStatus?"),
            ("DesiredDescription", "string"),
            ("DesiredStatus", "string"),
            ("EvalID", "string"),
            ("FollowupEvalID", "string"),
            ("ID", "string"),
            ("JobID", "string"),
            ("JobType", "string"),
            ("JobVersion", "integer"),
            ("ModifyIndex", "integer"),
            ("ModifyTime", "integer"),
            ("Name", "string"),
            ("Namespace", "string"),
            ("NodeID", "string"),
            ("NodeName", "string"),
            ("PreemptedAllocations", "array<string>?"),
            ("PreemptedByAllocation", "string"),
            ("RescheduleTracker", "object?"),
            ("TaskGroup", "string"),
            ("TaskStates", "map<TaskState>"),
        ],
        "Allocation" => &[
            ("AllocModifyIndex", "integer"),
            ("AllocatedResources", "object?"),
            ("ClientDescription", "string"),
            ("ClientStatus", "string"),
            ("CreateIndex", "integer"),
            ("CreateTime", "integer"),
            ("DeploymentID", "string"),
            ("DeploymentStatus", "AllocDeploymentStatus?"),
            ("DesiredDescription", "string"),
            ("DesiredStatus", "string"),
            ("DesiredTransition", "object"),
            ("EvalID", "string"),
            ("FollowupEvalID", "string"),
            ("ID", "string"),
            ("Job", "Job"),
            ("JobID", "string"),
            ("Metrics", "AllocationMetric"),
            ("ModifyIndex", "integer"),
            ("ModifyTime", "integer"),
            ("Name", "string"),
            ("Namespace", "string"),
            ("NextAllocation", "string"),
            ("NodeID", "string"),
            ("NodeName", "string"),
            ("PreemptedAllocations", "array<string>?"),
            ("PreemptedByAllocation", "string"),
            ("PreviousAllocation", "string"),
            ("RescheduleTracker", "object?"),
            ("Resources", "Resources"),
            ("Services", "map<string>?"),
            ("TaskGroup", "string"),
            ("TaskResources", "map<Resources>"),
            ("TaskStates", "map<TaskState>"),
        ],
        "AllocDeploymentStatus" => &[
            ("Canary", "boolean"),
            ("Healthy", "boolean?"),
            ("ModifyIndex", "integer"),
            ("Timestamp", "date-time"),
        ],
        "TaskState" => &[
            ("Events", "array<TaskEvent>"),
            ("Failed", "boolean"),
            ("FinishedAt", "date-time"),
            ("LastRestart", "date-time"),
            ("Restarts", "integer"),
            ("StartedAt", "date-time"),
            ("State", "string"),
        ],
        "TaskEvent" => &[
            ("Details", "map<string>"),
            ("DiskLimit", "integer"),
            ("DiskSize", "integer"),
            ("DisplayMessage", "string"),
            ("DownloadError", "string"),
            ("DriverError", "string"),
            ("DriverMessage", "string"),
            ("ExitCode", "integer"),
            ("FailedSibling", "string"),
            ("FailsTask", "boolean"),
            ("GenericSource", "string"),
            ("KillError", "string"),
            ("KillReason", "string"),
            ("KillTimeout", "integer"),
            ("Message", "string"),
            ("RestartReason", "string"),
            ("SetupError", "string"),
            ("Signal", "integer"),
            ("StartDelay", "integer"),
            ("TaskSignal", "string"),
            ("TaskSignalReason", "string"),
            ("Time", "integer"),
            ("Type", "string"),
            ("ValidationError", "string"),
            ("VaultError", "string"),
        ],
        other => panic!("no expectation written for schema {other}"),
    }
}

/// Checks `value` against `ty`; `lenient` accepts null anywhere (non-canonical parse output,
/// where every `api.Job` pointer may be nil).
fn check(value: &Value, ty: &str, path: &str, lenient: bool, errors: &mut Vec<String>) {
    let (ty, nullable) = match ty.strip_suffix('?') {
        Some(t) => (t, true),
        None => (ty, false),
    };
    if value.is_null() && (nullable || lenient) {
        return;
    }
    let ok = match ty {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "date-time" => value
            .as_str()
            .is_some_and(|s| s.len() >= 20 && s.as_bytes()[10] == b'T' && s.ends_with('Z')),
        _ => {
            if let Some(inner) = ty.strip_prefix("array<").and_then(|t| t.strip_suffix('>')) {
                match value.as_array() {
                    Some(items) => {
                        for (i, item) in items.iter().enumerate() {
                            check(item, inner, &format!("{path}[{i}]"), lenient, errors);
                        }
                        true
                    }
                    None => false,
                }
            } else if let Some(inner) = ty.strip_prefix("map<").and_then(|t| t.strip_suffix('>')) {
                match value.as_object() {
                    Some(map) => {
                        for (k, v) in map {
                            check(v, inner, &format!("{path}[{k:?}]"), lenient, errors);
                        }
                        true
                    }
                    None => false,
                }
            } else {
                match value.as_object() {
                    Some(obj) => {
                        for (field, fty) in schema(ty) {
                            match obj.get(*field) {
                                Some(v) => {
                                    check(v, fty, &format!("{path}.{field}"), lenient, errors)
                                }
                                None => {
                                    errors.push(format!("{path}: missing field {field} ({ty})"))
                                }
                            }
                        }
                        true
                    }
                    None => false,
                }
            }
        }
    };
    if !ok {
        errors.push(format!("{path}: expected {ty}, got {value}"));
    }
}

fn assert_shape(what: &str, value: &Value, ty: &str) {
    assert_shape_with(what, value, ty, false);
}

fn assert_shape_with(what: &str, value: &Value, ty: &str, lenient: bool) {
    let mut errors = Vec::new();
    check(value, ty, what, lenient, &mut errors);
    assert!(
        errors.is_empty(),
        "{what} does not match the spec:\n  {}",
        errors.join("\n  ")
    );
}

#[test]
fn responses_match_the_official_spec() {
    let d = Double::start(&["--fail-image-pattern", "deadbeef", "--cpu-capacity", "1800"]);

    // Parse: non-canonical (nil pointers as null) and canonical.
    let raw = d
        .post(
            "/v1/jobs/parse",
            &json!({"JobHCL": common::fixture("job_creation.nomad")}),
        )
        .json();
    assert_shape_with("parse", &raw, "Job", true);
    let job = d.parse_fixture("job_creation.nomad");
    assert_shape("parse canonical", &job, "Job");

    let plan = d
        .post(
            "/v1/job/job-creation/plan",
            &json!({"Job": job, "Diff": true}),
        )
        .json();
    assert_shape("plan (new job)", &plan, "JobPlanResponse");

    let reg = d.register_ok(&job);
    assert_shape("register", &reg, "JobRegisterResponse");
    let dep_id = d.deployment_of_eval(reg["EvalID"].as_str().unwrap());
    d.wait_deployment_terminal(&dep_id);

    let bad = with_task(
        &job,
        Some("registry.example/cosims/cosims/job_creation:git-deadbeef"),
        None,
    );
    let plan = d
        .post(
            "/v1/job/job-creation/plan",
            &json!({"Job": bad, "Diff": true}),
        )
        .json();
    assert_shape("plan (edit)", &plan, "JobPlanResponse");
    // No restarts: the allocation fails (unhealthy) at once; the deployment would only
    // fail at the progress deadline (10m): fail it as csi does.
    let mut bad = bad;
    bad["TaskGroups"][0]["RestartPolicy"] = json!({"Attempts": 0, "Interval": 60_000_000_000i64, "Delay": 1_000_000_000i64, "Mode": "fail"});
    let reg = d.register_ok(&bad);
    let bad_dep = d.deployment_of_eval(reg["EvalID"].as_str().unwrap());
    d.wait_for(&format!("/v1/deployment/allocations/{bad_dep}"), |a| {
        a.as_array()
            .is_some_and(|a| a.iter().any(|a| a["DeploymentStatus"]["Healthy"] == false))
    });
    let fail = d.post(&format!("/v1/deployment/fail/{bad_dep}"), &json!({}));
    assert_eq!(fail.status, 200, "{}", fail.body);
    let failed = d.wait_deployment_terminal(&bad_dep);
    assert_eq!(failed["Status"], "failed");
    assert_eq!(failed["StatusDescription"], "Deployment marked as failed");

    let wpm = d.parse_fixture("worker_pool_management.nomad");
    let plan = d
        .post(
            "/v1/job/worker-pool-management/plan",
            &json!({"Job": wpm, "Diff": true}),
        )
        .json();
    assert!(plan["FailedTGAllocs"].is_object());
    assert_shape("plan (exhausted)", &plan, "JobPlanResponse");
    let blocked = d.register_ok(&wpm);
    let eval = d.wait_for(
        &format!("/v1/evaluation/{}", blocked["EvalID"].as_str().unwrap()),
        |e| e["Status"] != "pending",
    );
    assert!(eval["FailedTGAllocs"].is_object());
    assert_shape("evaluation (failed placement)", &eval, "Evaluation");

    assert_shape(
        "status/leader",
        &d.get("/v1/status/leader").json(),
        "string",
    );
    assert_shape("jobs", &d.get("/v1/jobs").json(), "array<JobListStub>");
    assert_shape("job", &d.get("/v1/job/job-creation").json(), "Job");
    assert_shape(
        "job summary",
        &d.get("/v1/job/job-creation/summary").json(),
        "JobSummary",
    );
    let versions = d.get("/v1/job/job-creation/versions?diffs=true").json();
    assert!(versions["Diffs"].is_array());
    assert_shape("versions", &versions, "JobVersionsResponse");
    assert_shape(
        "versions (no diffs)",
        &d.get("/v1/job/job-creation/versions").json(),
        "JobVersionsResponse",
    );

    let allocs = d.get("/v1/job/job-creation/allocations").json();
    assert!(allocs
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["DeploymentStatus"]["Healthy"] == false));
    assert_shape("job allocations", &allocs, "array<AllocationListStub>");
    let alloc_id = allocs[0]["ID"].as_str().unwrap();
    assert_shape(
        "allocation",
        &d.get(&format!("/v1/allocation/{alloc_id}")).json(),
        "Allocation",
    );
    assert_shape(
        "allocations",
        &d.get("/v1/allocations").json(),
        "array<AllocationListStub>",
    );

    assert_shape(
        "job evaluations",
        &d.get("/v1/job/job-creation/evaluations").json(),
        "array<Evaluation>",
    );
    assert_shape(
        "evaluations",
        &d.get("/v1/evaluations").json(),
        "array<Evaluation>",
    );
    let eval_id = reg["EvalID"].as_str().unwrap();
    assert_shape(
        "evaluation",
        &d.get(&format!("/v1/evaluation/{eval_id}")).json(),
        "Evaluation",
    );

    assert_shape(
        "job deployments",
        &d.get("/v1/job/job-creation/deployments").json(),
        "array<Deployment>",
    );
    assert_shape(
        "latest deployment",
        &d.get("/v1/job/job-creation/deployment").json(),
        "Deployment",
    );
    assert_shape(
        "deployment",
        &d.get(&format!("/v1/deployment/{dep_id}")).json(),
        "Deployment",
    );
    assert_shape(
        "deployments",
        &d.get("/v1/deployments").json(),
        "array<Deployment>",
    );

    let revert = d.post(
        "/v1/job/job-creation/revert",
        &json!({"JobID": "job-creation", "JobVersion": 0}),
    );
    assert_shape("revert", &revert.json(), "JobRegisterResponse");
    let stop = d.delete("/v1/job/job-creation");
    assert_shape("deregister", &stop.json(), "JobDeregisterResponse");
}

#[test]
fn the_checker_itself_catches_wrong_shapes() {
    let mut errors = Vec::new();
    check(
        &json!({"LTarget": "a", "Operand": 1}),
        "Constraint",
        "c",
        false,
        &mut errors,
    );
    assert_eq!(errors.len(), 2, "{errors:?}"); // wrong type + missing RTarget
    let mut errors = Vec::new();
    check(&json!(null), "map<integer>?", "m", false, &mut errors);
    check(&json!({"cpu": 1}), "map<integer>", "m", false, &mut errors);
    check(
        &json!("0001-01-01T00:00:00Z"),
        "date-time",
        "t",
        false,
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
}
