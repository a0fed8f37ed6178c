//! Every Nomad response shape csi decodes agrees with the official Nomad OpenAPI spec
//! (hashicorp/nomad-openapi): the field names and JSON types below are copied from its
//! schemas. A spec-shaped document is decoded into csi's type and encoded back; every
//! field csi keeps must exist in the schema with the schema's type.

use crate::support;

use csi_ops::nomad::api::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// (field, type): `integer`, `string`, `boolean`, `array`, `map`, or `ref:<Schema>`.
type Schema = &'static [(&'static str, &'static str)];

const JOB_REGISTER_RESPONSE: Schema = &[
    ("EvalCreateIndex", "integer"),
    ("EvalID", "string"),
    ("JobModifyIndex", "integer"),
    ("KnownLeader", "boolean"),
    ("LastContact", "integer"),
    ("LastIndex", "integer"),
    ("NextToken", "string"),
    ("RequestTime", "integer"),
    ("Warnings", "string"),
];
const JOB_PLAN_RESPONSE: Schema = &[
    ("Annotations", "map"),
    ("CreatedEvals", "array"),
    ("Diff", "ref:JobDiff"),
    ("FailedTGAllocs", "map:AllocationMetric"),
    ("JobModifyIndex", "integer"),
    ("NextPeriodicLaunch", "string"),
    ("Warnings", "string"),
];
const JOB_DIFF: Schema = &[
    ("Fields", "array:FieldDiff"),
    ("ID", "string"),
    ("Objects", "array:ObjectDiff"),
    ("TaskGroups", "array:TaskGroupDiff"),
    ("Type", "string"),
];
const TASK_GROUP_DIFF: Schema = &[
    ("Fields", "array:FieldDiff"),
    ("Name", "string"),
    ("Objects", "array:ObjectDiff"),
    ("Tasks", "array:TaskDiff"),
    ("Type", "string"),
    ("Updates", "map"),
];
const TASK_DIFF: Schema = &[
    ("Annotations", "array"),
    ("Fields", "array:FieldDiff"),
    ("Name", "string"),
    ("Objects", "array:ObjectDiff"),
    ("Type", "string"),
];
const OBJECT_DIFF: Schema = &[
    ("Fields", "array:FieldDiff"),
    ("Name", "string"),
    ("Objects", "array"),
    ("Type", "string"),
];
const FIELD_DIFF: Schema = &[
    ("Annotations", "array"),
    ("Name", "string"),
    ("New", "string"),
    ("Old", "string"),
    ("Type", "string"),
];
const ALLOCATION_METRIC: Schema = &[
    ("AllocationTime", "integer"),
    ("ClassExhausted", "map"),
    ("ClassFiltered", "map"),
    ("CoalescedFailures", "integer"),
    ("ConstraintFiltered", "map"),
    ("DimensionExhausted", "map"),
    ("NodesAvailable", "map"),
    ("NodesEvaluated", "integer"),
    ("NodesExhausted", "integer"),
    ("NodesFiltered", "integer"),
    ("QuotaExhausted", "array"),
    ("ResourcesExhausted", "map"),
    ("ScoreMetaData", "array"),
    ("Scores", "map"),
];
const EVALUATION: Schema = &[
    ("AnnotatePlan", "boolean"),
    ("BlockedEval", "string"),
    ("ClassEligibility", "map"),
    ("CreateIndex", "integer"),
    ("CreateTime", "integer"),
    ("DeploymentID", "string"),
    ("EscapedComputedClass", "boolean"),
    ("FailedTGAllocs", "map:AllocationMetric"),
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
    ("QueuedAllocations", "map"),
    ("QuotaLimitReached", "string"),
    ("RelatedEvals", "array"),
    ("SnapshotIndex", "integer"),
    ("Status", "string"),
    ("StatusDescription", "string"),
    ("TriggeredBy", "string"),
    ("Type", "string"),
    ("Wait", "integer"),
    ("WaitUntil", "string"),
];
const DEPLOYMENT: Schema = &[
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
    ("TaskGroups", "map:DeploymentState"),
];
const DEPLOYMENT_STATE: Schema = &[
    ("AutoRevert", "boolean"),
    ("DesiredCanaries", "integer"),
    ("DesiredTotal", "integer"),
    ("HealthyAllocs", "integer"),
    ("PlacedAllocs", "integer"),
    ("PlacedCanaries", "array"),
    ("ProgressDeadline", "integer"),
    ("Promoted", "boolean"),
    ("RequireProgressBy", "string"),
    ("UnhealthyAllocs", "integer"),
];
const ALLOCATION_LIST_STUB: Schema = &[
    ("AllocatedResources", "map"),
    ("ClientDescription", "string"),
    ("ClientStatus", "string"),
    ("CreateIndex", "integer"),
    ("CreateTime", "integer"),
    ("DeploymentStatus", "ref:AllocDeploymentStatus"),
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
    ("PreemptedAllocations", "array"),
    ("PreemptedByAllocation", "string"),
    ("RescheduleTracker", "map"),
    ("TaskGroup", "string"),
    ("TaskStates", "map:TaskState"),
];
const TASK_STATE: Schema = &[
    ("Events", "array:TaskEvent"),
    ("Failed", "boolean"),
    ("FinishedAt", "string"),
    ("LastRestart", "string"),
    ("Restarts", "integer"),
    ("StartedAt", "string"),
    ("State", "string"),
    ("TaskHandle", "map"),
];
const TASK_EVENT: Schema = &[
    ("Details", "map"),
    ("DiskLimit", "integer"),
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
];
const ALLOC_DEPLOYMENT_STATUS: Schema = &[
    ("Canary", "boolean"),
    ("Healthy", "boolean"),
    ("ModifyIndex", "integer"),
    ("Timestamp", "string"),
];
const JOB_VERSIONS_RESPONSE: Schema = &[
    ("Diffs", "array"),
    ("KnownLeader", "boolean"),
    ("LastContact", "integer"),
    ("LastIndex", "integer"),
    ("NextToken", "string"),
    ("RequestTime", "integer"),
    ("Versions", "array"),
];
const JOB: Schema = &[
    ("AllAtOnce", "boolean"),
    ("CreateIndex", "integer"),
    ("Datacenters", "array"),
    ("ID", "string"),
    ("JobModifyIndex", "integer"),
    ("Meta", "map"),
    ("ModifyIndex", "integer"),
    ("Name", "string"),
    ("Namespace", "string"),
    ("Priority", "integer"),
    ("Region", "string"),
    ("Stable", "boolean"),
    ("Status", "string"),
    ("StatusDescription", "string"),
    ("Stop", "boolean"),
    ("SubmitTime", "integer"),
    ("TaskGroups", "array:TaskGroup"),
    ("Type", "string"),
    ("Version", "integer"),
];
const TASK_GROUP: Schema = &[
    ("Count", "integer"),
    ("Meta", "map"),
    ("Name", "string"),
    ("Tasks", "array:Task"),
];
const TASK: Schema = &[
    ("Config", "map"),
    ("Driver", "string"),
    ("Env", "map"),
    ("Meta", "map"),
    ("Name", "string"),
    ("Resources", "ref:Resources"),
];
const RESOURCES: Schema = &[
    ("CPU", "integer"),
    ("Cores", "integer"),
    ("DiskMB", "integer"),
    ("IOPS", "integer"),
    ("MemoryMB", "integer"),
    ("MemoryMaxMB", "integer"),
];

fn schema(name: &str) -> Schema {
    match name {
        "JobDiff" => JOB_DIFF,
        "TaskGroupDiff" => TASK_GROUP_DIFF,
        "TaskDiff" => TASK_DIFF,
        "ObjectDiff" => OBJECT_DIFF,
        "FieldDiff" => FIELD_DIFF,
        "AllocationMetric" => ALLOCATION_METRIC,
        "DeploymentState" => DEPLOYMENT_STATE,
        "AllocDeploymentStatus" => ALLOC_DEPLOYMENT_STATUS,
        "TaskGroup" => TASK_GROUP,
        "Task" => TASK,
        "Resources" => RESOURCES,
        "TaskState" => TASK_STATE,
        "TaskEvent" => TASK_EVENT,
        other => panic!("no schema {other}"),
    }
}

/// A document with every field of the schema, each of the schema's type.
fn sample(fields: Schema) -> Value {
    let mut object = Map::new();
    for (name, kind) in fields {
        let value = match *kind {
            "integer" => json!(7),
            "string" => json!("text"),
            "boolean" => json!(true),
            "array" => json!([]),
            "map" => json!({"key": 1}),
            other => match other.split_once(':') {
                Some(("ref", inner)) => sample(schema(inner)),
                Some(("array", inner)) => json!([sample(schema(inner))]),
                Some(("map", inner)) => json!({"group": sample(schema(inner))}),
                _ => panic!("unknown kind {other}"),
            },
        };
        object.insert((*name).to_owned(), value);
    }
    Value::Object(object)
}

/// Every key csi keeps is in the schema, and has the schema's JSON type.
fn check(path: &str, kept: &Value, fields: Schema) {
    let Value::Object(kept) = kept else {
        panic!("{path} is not an object")
    };
    for (key, value) in kept {
        let (_, kind) = fields
            .iter()
            .find(|(name, _)| name == key)
            .unwrap_or_else(|| panic!("{path}.{key} is not a field of the Nomad schema"));
        let ok = match (*kind, value) {
            (_, Value::Null) => true,
            ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
            ("string", Value::String(_)) => true,
            ("boolean", Value::Bool(_)) => true,
            ("array", Value::Array(_)) | ("map", Value::Object(_)) => true,
            (kind, value) => match kind.split_once(':') {
                Some(("ref", inner)) => {
                    check(&format!("{path}.{key}"), value, schema(inner));
                    true
                }
                Some(("array", inner)) => {
                    for item in value.as_array().expect("array") {
                        check(&format!("{path}.{key}[]"), item, schema(inner));
                    }
                    true
                }
                Some(("map", inner)) => {
                    for item in value.as_object().expect("map").values() {
                        check(&format!("{path}.{key}{{}}"), item, schema(inner));
                    }
                    true
                }
                _ => false,
            },
        };
        assert!(
            ok,
            "{path}.{key}: csi keeps {value} where the spec says {kind}"
        );
    }
}

fn agrees<T: DeserializeOwned + Serialize>(name: &str, fields: Schema) {
    let decoded: T =
        serde_json::from_value(sample(fields)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let kept = serde_json::to_value(&decoded).unwrap();
    assert!(
        kept.as_object().is_some_and(|o| !o.is_empty()),
        "{name} keeps nothing"
    );
    check(name, &kept, fields);
}

#[test]
fn register_plan_and_versions_responses() {
    agrees::<JobRegisterResponse>("JobRegisterResponse", JOB_REGISTER_RESPONSE);
    agrees::<JobPlanResponse>("JobPlanResponse", JOB_PLAN_RESPONSE);
    agrees::<JobDiff>("JobDiff", JOB_DIFF);
    agrees::<JobVersionsResponse>("JobVersionsResponse", JOB_VERSIONS_RESPONSE);
}

#[test]
fn evaluations_deployments_and_allocations() {
    agrees::<Evaluation>("Evaluation", EVALUATION);
    agrees::<AllocationMetric>("AllocationMetric", ALLOCATION_METRIC);
    agrees::<Deployment>("Deployment", DEPLOYMENT);
    agrees::<DeploymentState>("DeploymentState", DEPLOYMENT_STATE);
    agrees::<AllocationListStub>("AllocationListStub", ALLOCATION_LIST_STUB);
}

#[test]
fn jobs_as_csi_reads_them() {
    agrees::<JobHeader>("Job", JOB);
    agrees::<TaskGroupHeader>("TaskGroup", TASK_GROUP);
    agrees::<TaskHeader>("Task", TASK);
    agrees::<Resources>("Resources", RESOURCES);
}

#[test]
fn the_double_answers_in_the_shapes_csi_decodes() {
    // The double's own answers decode into csi's types (no missing required field).
    let double = support::nomad::NomadDouble::start(&[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let settings = csi_ops::settings::NomadSettings {
            address: Some(double.address.clone()),
            token: None,
            namespace: None,
            region: None,
            ca_cert: None,
            template_values: Default::default(),
            template_files: Default::default(),
            tag_pattern: String::new(),
            deploy_timeout: std::time::Duration::from_secs(10),
            cpu_step: 500,
            cpu_floor: 500,
            ..Default::default()
        };
        let client =
            csi_ops::nomad::NomadClient::new(&settings, std::time::Duration::from_secs(10))
                .unwrap();
        let hcl =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/nomad/monitor.nomad"))
                .unwrap()
                .replace('$', "");
        let planned = csi_ops::nomad::deployment::plan(&client, "monitor", &hcl)
            .await
            .unwrap();
        let (version, eval) = csi_ops::nomad::deployment::register(&client, &planned)
            .await
            .unwrap();
        let watched = csi_ops::nomad::deployment::watch(
            &client,
            "monitor",
            version,
            &eval,
            csi_ops::nomad::deployment::WatchOptions {
                timeout: std::time::Duration::from_secs(10),
                restart_budget: 1,
            },
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(watched, csi_ops::nomad::deployment::Watched::Healthy);
        assert!(!client.job_versions("monitor").await.unwrap().is_empty());
        assert!(!client.job_evaluations("monitor").await.unwrap().is_empty());
    });
}
