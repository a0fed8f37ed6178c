//! Job JSON helpers: Nomad's canonicalization defaults, the "did the spec change" test,
//! validation, and typed accessors over the stored `serde_json::Value`.

use serde_json::{json, Map, Value};

const SEC: i64 = 1_000_000_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;

/// Fields the server owns: recomputed on register, ignored when comparing specs.
pub const SERVER_FIELDS: &[&str] = &[
    "Status",
    "StatusDescription",
    "Version",
    "Stable",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "VersionTag",
    "NomadTokenID",
    "ConsulToken",
    "VaultToken",
];

const JOB_KEYS: &[&str] = &[
    "Region",
    "Namespace",
    "ID",
    "Name",
    "Type",
    "Priority",
    "AllAtOnce",
    "Datacenters",
    "NodePool",
    "Constraints",
    "Affinities",
    "TaskGroups",
    "Update",
    "Multiregion",
    "Spreads",
    "Periodic",
    "ParameterizedJob",
    "Reschedule",
    "Migrate",
    "Meta",
    "ConsulToken",
    "VaultToken",
    "Stop",
    "ParentID",
    "DispatchIdempotencyToken",
    "Payload",
    "ConsulNamespace",
    "VaultNamespace",
    "NomadTokenID",
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
];
const GROUP_KEYS: &[&str] = &[
    "Name",
    "Count",
    "Constraints",
    "Affinities",
    "Tasks",
    "Spreads",
    "Volumes",
    "RestartPolicy",
    "ReschedulePolicy",
    "EphemeralDisk",
    "Update",
    "Migrate",
    "Networks",
    "Meta",
    "Services",
    "ShutdownDelay",
    "StopAfterClientDisconnect",
    "MaxClientDisconnect",
    "Scaling",
    "Consul",
];
const TASK_KEYS: &[&str] = &[
    "Name",
    "Driver",
    "User",
    "Lifecycle",
    "Config",
    "Constraints",
    "Affinities",
    "Env",
    "Services",
    "Resources",
    "RestartPolicy",
    "Meta",
    "KillTimeout",
    "LogConfig",
    "Artifacts",
    "Vault",
    "Templates",
    "DispatchPayload",
    "VolumeMounts",
    "CSIPluginConfig",
    "ShutdownDelay",
    "KillSignal",
    "Kind",
    "ScalingPolicies",
];

const RESOURCE_KEYS: &[&str] = &[
    "CPU",
    "Cores",
    "MemoryMB",
    "MemoryMaxMB",
    "DiskMB",
    "Networks",
    "Devices",
];
const TEMPLATE_KEYS: &[&str] = &[
    "SourcePath",
    "DestPath",
    "EmbeddedTmpl",
    "ChangeMode",
    "ChangeScript",
    "ChangeSignal",
    "Splay",
    "Perms",
    "Uid",
    "Gid",
    "LeftDelim",
    "RightDelim",
    "Envvars",
    "VaultGrace",
    "Wait",
    "ErrMissingKey",
];

/// The non-canonical parse output: every `api.Job` pointer field present, `null` when unset.
pub fn fill_api_nulls(job: &mut Value) {
    fill_nulls(job, JOB_KEYS);
    set_if_missing(job, "Dispatched", json!(false));
    for g in each_mut(job, "TaskGroups") {
        fill_nulls(g, GROUP_KEYS);
        for t in each_mut(g, "Tasks") {
            fill_nulls(t, TASK_KEYS);
            set_if_missing(t, "Leader", json!(false));
            if let Some(r) = t.get_mut("Resources").filter(|r| r.is_object()) {
                fill_nulls(r, RESOURCE_KEYS);
            }
            for tmpl in each_mut(t, "Templates") {
                fill_nulls(tmpl, TEMPLATE_KEYS);
            }
        }
    }
}

fn fill_nulls(v: &mut Value, keys: &[&str]) {
    for k in keys {
        set_if_missing(v, k, Value::Null);
    }
}

fn set_if_missing(v: &mut Value, key: &str, default: Value) {
    if let Value::Object(m) = v {
        let slot = m.entry(key).or_insert(Value::Null);
        if slot.is_null() {
            *slot = default;
        }
    }
}

fn each_mut<'a>(v: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
    v.get_mut(key)
        .and_then(Value::as_array_mut)
        .map(|a| a.iter_mut())
        .into_iter()
        .flatten()
}

pub fn default_update() -> Value {
    json!({
        "Stagger": 30 * SEC, "MaxParallel": 1, "HealthCheck": "checks",
        "MinHealthyTime": 10 * SEC, "HealthyDeadline": 5 * MIN, "ProgressDeadline": 10 * MIN,
        "AutoRevert": false, "AutoPromote": false, "Canary": 0,
    })
}

fn merge_defaults(v: &mut Value, defaults: &Value) {
    if !v.is_object() {
        *v = json!({});
    }
    if let Some(d) = defaults.as_object() {
        for (k, dv) in d {
            set_if_missing(v, k, dv.clone());
        }
    }
}

/// `api.Job.Canonicalize()` defaults (what `Canonicalize: true` and the server fill in).
pub fn canonicalize(job: &mut Value) {
    if !job.is_object() {
        return;
    }
    let id = job.get("ID").cloned().unwrap_or(json!(""));
    set_if_missing(job, "Name", id);
    for (k, v) in [
        ("Region", json!("global")),
        ("Namespace", json!("default")),
        ("Type", json!("service")),
        ("Priority", json!(50)),
        ("AllAtOnce", json!(false)),
        ("Datacenters", json!(["*"])),
        ("NodePool", json!("")),
        ("ConsulToken", json!("")),
        ("VaultToken", json!("")),
        ("ConsulNamespace", json!("")),
        ("VaultNamespace", json!("")),
        ("NomadTokenID", json!("")),
        ("Stop", json!(false)),
        ("ParentID", json!("")),
        ("Dispatched", json!(false)),
        ("DispatchIdempotencyToken", json!("")),
        ("Status", json!("")),
        ("StatusDescription", json!("")),
        ("Stable", json!(false)),
        ("Version", json!(0)),
        ("SubmitTime", json!(0)),
        ("CreateIndex", json!(0)),
        ("ModifyIndex", json!(0)),
        ("JobModifyIndex", json!(0)),
    ] {
        set_if_missing(job, k, v);
    }
    fill_api_nulls(job);
    let kind = job_type(job).to_string();
    let has_updates = matches!(kind.as_str(), "service" | "system");
    let job_update = job.get("Update").cloned().filter(|u| u.is_object());
    if has_updates {
        let mut u = job_update.clone().unwrap_or_else(default_update);
        merge_defaults(&mut u, &default_update());
        job["Update"] = u;
    }
    let (restart, reschedule) = if kind == "batch" {
        (
            json!({"Attempts": 3, "Interval": 24 * HOUR, "Delay": 15 * SEC, "Mode": "fail", "RenderTemplates": false}),
            json!({"Attempts": 1, "Interval": 24 * HOUR, "Delay": 5 * SEC, "DelayFunction": "constant", "MaxDelay": 0, "Unlimited": false}),
        )
    } else {
        (
            json!({"Attempts": 2, "Interval": 30 * MIN, "Delay": 15 * SEC, "Mode": "fail", "RenderTemplates": false}),
            json!({"Attempts": 0, "Interval": 0, "Delay": 30 * SEC, "DelayFunction": "exponential", "MaxDelay": HOUR, "Unlimited": true}),
        )
    };
    for g in each_mut(job, "TaskGroups") {
        set_if_missing(g, "Count", json!(1));
        let mut disk = g["EphemeralDisk"].take();
        merge_defaults(
            &mut disk,
            &json!({"Sticky": false, "Migrate": false, "SizeMB": 300}),
        );
        g["EphemeralDisk"] = disk;
        let mut rp = g["RestartPolicy"].take();
        merge_defaults(&mut rp, &restart);
        g["RestartPolicy"] = rp.clone();
        if kind != "system" && kind != "sysbatch" {
            let mut rs = g["ReschedulePolicy"].take();
            merge_defaults(&mut rs, &reschedule);
            g["ReschedulePolicy"] = rs;
        }
        if kind == "service" {
            let mut m = g["Migrate"].take();
            merge_defaults(
                &mut m,
                &json!({"MaxParallel": 1, "HealthCheck": "checks", "MinHealthyTime": 10 * SEC, "HealthyDeadline": 5 * MIN}),
            );
            g["Migrate"] = m;
        }
        if has_updates {
            let mut u = g["Update"].take();
            let base = job_update.clone().unwrap_or_else(default_update);
            merge_defaults(&mut u, &base);
            merge_defaults(&mut u, &default_update());
            g["Update"] = u;
        }
        for t in each_mut(g, "Tasks") {
            set_if_missing(t, "KillTimeout", json!(5 * SEC));
            set_if_missing(t, "ShutdownDelay", json!(0));
            set_if_missing(t, "User", json!(""));
            set_if_missing(t, "KillSignal", json!(""));
            set_if_missing(t, "Kind", json!(""));
            set_if_missing(t, "Config", json!({}));
            let mut lc = t["LogConfig"].take();
            merge_defaults(
                &mut lc,
                &json!({"MaxFiles": 10, "MaxFileSizeMB": 10, "Disabled": false}),
            );
            t["LogConfig"] = lc;
            let mut res = t["Resources"].take();
            merge_defaults(
                &mut res,
                &json!({"CPU": 100, "Cores": 0, "MemoryMB": 300, "MemoryMaxMB": 0}),
            );
            t["Resources"] = res;
            for tmpl in each_mut(t, "Templates") {
                merge_defaults(
                    tmpl,
                    &json!({
                        "SourcePath": "", "DestPath": "", "EmbeddedTmpl": "", "ChangeMode": "restart",
                        "ChangeSignal": "", "Splay": 5 * SEC, "Perms": "0644", "LeftDelim": "{{",
                        "RightDelim": "}}", "Envvars": false, "VaultGrace": 0, "ErrMissingKey": false,
                    }),
                );
            }
            let mut trp = t["RestartPolicy"].take();
            merge_defaults(&mut trp, &rp);
            t["RestartPolicy"] = trp;
        }
    }
}

/// The user-controlled part of a canonical job, for "did the spec change" comparisons.
pub fn spec(job: &Value) -> Value {
    let mut s = job.clone();
    if let Value::Object(m) = &mut s {
        for k in SERVER_FIELDS {
            m.remove(*k);
        }
        m.remove("Submission");
    }
    s
}

pub fn spec_changed(old: &Value, new: &Value) -> bool {
    spec(old) != spec(new)
}

/// Server-side validation; the messages go into Nomad's multi-error 500 body.
pub fn validate(job: &Value) -> Result<(), String> {
    let mut errs = Vec::new();
    if str_field(job, "Name").is_empty() {
        errs.push("Missing job name".to_string());
    }
    match job_type(job) {
        "service" | "batch" | "system" | "sysbatch" => {}
        other => errs.push(format!("Invalid job type: {other:?}")),
    }
    let groups = job.get("TaskGroups").and_then(Value::as_array);
    match groups {
        None => errs.push("Missing job task groups".to_string()),
        Some(gs) if gs.is_empty() => errs.push("Missing job task groups".to_string()),
        Some(gs) => {
            for (i, g) in gs.iter().enumerate() {
                let name = str_field(g, "Name");
                if name.is_empty() {
                    errs.push(format!("Job task group {} missing name", i + 1));
                }
                let tasks = g.get("Tasks").and_then(Value::as_array);
                if tasks.is_none_or(|t| t.is_empty()) {
                    errs.push(format!(
                        "Task group {name} validation failed: Missing tasks for task group"
                    ));
                }
                if let Some(u) = g.get("Update").filter(|u| u.is_object()) {
                    let kind = job_type(job);
                    let mut update_errs = Vec::new();
                    if !matches!(kind, "service" | "system") {
                        update_errs.push(format!("Job type {kind:?} does not allow update block"));
                    }
                    update_errs.extend(update_errors(u));
                    if !update_errs.is_empty() {
                        errs.push(format!(
                            "Task group {name} validation failed: {}",
                            multi_error(&update_errs).trim_end()
                        ));
                    }
                }
                for t in tasks.into_iter().flatten() {
                    if str_field(t, "Driver").is_empty() {
                        errs.push(format!(
                            "Task group {name} validation failed: Task {} validation failed: Missing task driver",
                            str_field(t, "Name")
                        ));
                    }
                    if t["Resources"]["CPU"].as_i64().is_some_and(|c| c < 1) {
                        errs.push(format!(
                            "Task group {name} validation failed: Task {} validation failed: minimum CPU value is 1; got {}",
                            str_field(t, "Name"),
                            t["Resources"]["CPU"]
                        ));
                    }
                }
            }
        }
    }
    if errs.is_empty() {
        return Ok(());
    }
    Err(multi_error(&errs))
}

/// `UpdateStrategy.Validate` (nomad/structs/structs.go, the same in 0.11.1 and 2.0.5):
/// the deadlines must be ordered min_healthy_time < healthy_deadline < progress_deadline
/// (a progress deadline of 0 disables the last check).
fn update_errors(u: &Value) -> Vec<String> {
    let get = |k: &str| u.get(k).and_then(Value::as_i64).unwrap_or(0);
    let (min_healthy, healthy, progress) = (
        get("MinHealthyTime"),
        get("HealthyDeadline"),
        get("ProgressDeadline"),
    );
    let d = crate::util::go_duration;
    let mut errs = Vec::new();
    match u
        .get("HealthCheck")
        .and_then(Value::as_str)
        .unwrap_or("checks")
    {
        "checks" | "task_states" | "manual" => {}
        other => errs.push(format!("Invalid health check given: {other:?}")),
    }
    if get("MaxParallel") < 0 {
        errs.push(format!(
            "Max parallel can not be less than zero: {} < 0",
            get("MaxParallel")
        ));
    }
    if healthy <= 0 {
        errs.push(format!(
            "Healthy deadline must be greater than zero: {}",
            d(healthy)
        ));
    }
    if progress < 0 {
        errs.push(format!(
            "Progress deadline must be zero or greater: {}",
            d(progress)
        ));
    }
    if min_healthy >= healthy {
        errs.push(format!(
            "Minimum healthy time must be less than healthy deadline: {} > {}",
            d(min_healthy),
            d(healthy)
        ));
    }
    if progress != 0 && healthy >= progress {
        errs.push(format!(
            "Healthy deadline must be less than progress deadline: {} > {}",
            d(healthy),
            d(progress)
        ));
    }
    errs
}

/// hashicorp/go-multierror's text: "N error(s) occurred:\n\t* ...\n\n".
fn multi_error(errs: &[String]) -> String {
    let mut out = format!(
        "{} error{} occurred:\n",
        errs.len(),
        if errs.len() == 1 { "" } else { "s" }
    );
    for e in errs {
        out.push_str(&format!("\t* {e}\n"));
    }
    out.push('\n');
    out
}

pub fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

pub fn u64_field(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

pub fn job_type(job: &Value) -> &str {
    match str_field(job, "Type") {
        "" => "service",
        t => t,
    }
}

pub fn is_stopped(job: &Value) -> bool {
    job.get("Stop").and_then(Value::as_bool).unwrap_or(false)
}

/// Periodic and parameterized jobs are templates: registering them creates no evaluation.
pub fn is_template_job(job: &Value) -> bool {
    let periodic = job
        .get("Periodic")
        .filter(|p| p.is_object())
        .is_some_and(|p| p.get("Enabled").and_then(Value::as_bool).unwrap_or(true));
    let param = job.get("ParameterizedJob").is_some_and(Value::is_object);
    periodic || param
}

pub fn groups(job: &Value) -> &[Value] {
    job.get("TaskGroups")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub fn tasks(group: &Value) -> &[Value] {
    group
        .get("Tasks")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

pub fn group_count(group: &Value) -> u64 {
    group.get("Count").and_then(Value::as_u64).unwrap_or(1)
}

/// CPU (MHz) one allocation of the group asks for.
pub fn group_cpu(group: &Value) -> u64 {
    tasks(group)
        .iter()
        .map(|t| t["Resources"]["CPU"].as_u64().unwrap_or(100))
        .sum()
}

pub fn group_memory(group: &Value) -> u64 {
    tasks(group)
        .iter()
        .map(|t| t["Resources"]["MemoryMB"].as_u64().unwrap_or(300))
        .sum()
}

pub fn task_image(task: &Value) -> &str {
    task.get("Config")
        .and_then(|c| c.get("image"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub fn group_update(group: &Value) -> Option<&Map<String, Value>> {
    group.get("Update").and_then(Value::as_object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_spec_ignores_server_fields() {
        let mut a = json!({"ID": "x", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "docker"}]}]});
        canonicalize(&mut a);
        let mut b = a.clone();
        b["Version"] = json!(3);
        b["Status"] = json!("running");
        b["JobModifyIndex"] = json!(42);
        assert!(!spec_changed(&a, &b));
        b["TaskGroups"][0]["Tasks"][0]["Resources"]["CPU"] = json!(1000);
        assert!(spec_changed(&a, &b));
    }

    #[test]
    fn validation_is_a_go_multierror() {
        let err = validate(&json!({"ID": "x", "Name": "x", "Type": "service"})).unwrap_err();
        assert_eq!(err, "1 error occurred:\n\t* Missing job task groups\n\n");
    }
}
