//! Lowers a parsed job file into the `api.Job` JSON shape (jobspec2 mapping).

use super::tree::{Block, Body, Val};
use crate::util::parse_go_duration;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Values for `var.NAME` (variable defaults overridden by the request's var-file).
pub type Vars = BTreeMap<String, Value>;

/// Attributes whose string value is a Go duration, stored as integer nanoseconds.
const DURATIONS: &[&str] = &[
    "kill_timeout",
    "shutdown_delay",
    "min_healthy_time",
    "healthy_deadline",
    "progress_deadline",
    "stagger",
    "interval",
    "delay",
    "max_delay",
    "splay",
    "timeout",
    "max_client_disconnect",
    "stop_after_client_disconnect",
    "lost_after",
    "grace",
    "min",
    "max",
];

pub fn job(block: &Block, vars: &Vars) -> Value {
    let id = block.labels.first().cloned().unwrap_or_default();
    let b = &block.body;
    let mut job = Map::new();
    job.insert("ID".into(), json!(id));
    job.insert("Name".into(), json!(id));
    generic_attrs(b, vars, &mut job, &[]);
    let mut groups: Vec<Value> = b
        .blocks_of("task")
        .map(|t| {
            let name = t.labels.first().cloned().unwrap_or_default();
            json!({"Name": name, "Tasks": [task(t, vars)]})
        })
        .collect();
    groups.extend(b.blocks_of("group").map(|g| group(g, vars)));
    if !groups.is_empty() {
        job.insert("TaskGroups".into(), Value::Array(groups));
    }
    for blk in &b.blocks {
        match blk.kind.as_str() {
            "group" | "task" => {}
            "constraint" => push(&mut job, "Constraints", constraint(&blk.body, vars)),
            "affinity" => push(&mut job, "Affinities", affinity(&blk.body, vars)),
            "spread" => push(&mut job, "Spreads", generic(&blk.body, vars)),
            "meta" => merge_strings(&mut job, "Meta", &blk.body, vars),
            "update" => set(&mut job, "Update", generic(&blk.body, vars)),
            "periodic" => set(&mut job, "Periodic", periodic(&blk.body, vars)),
            "parameterized" => set(&mut job, "ParameterizedJob", parameterized(&blk.body, vars)),
            "reschedule" => set(&mut job, "Reschedule", generic(&blk.body, vars)),
            "migrate" => set(&mut job, "Migrate", generic(&blk.body, vars)),
            "vault" => set(&mut job, "Vault", generic(&blk.body, vars)),
            "variable" | "locals" => {}
            other => set(&mut job, &pascal(other), generic(&blk.body, vars)),
        }
    }
    map_attr_blocks(b, vars, &mut job);
    Value::Object(job)
}

fn group(block: &Block, vars: &Vars) -> Value {
    let b = &block.body;
    let mut g = Map::new();
    g.insert(
        "Name".into(),
        json!(block.labels.first().cloned().unwrap_or_default()),
    );
    generic_attrs(b, vars, &mut g, &[]);
    for blk in &b.blocks {
        match blk.kind.as_str() {
            "task" => push(&mut g, "Tasks", task(blk, vars)),
            "constraint" => push(&mut g, "Constraints", constraint(&blk.body, vars)),
            "affinity" => push(&mut g, "Affinities", affinity(&blk.body, vars)),
            "spread" => push(&mut g, "Spreads", generic(&blk.body, vars)),
            "network" => push(&mut g, "Networks", network(&blk.body, vars)),
            "service" => push(&mut g, "Services", service(&blk.body, vars)),
            "restart" => set(&mut g, "RestartPolicy", generic(&blk.body, vars)),
            "reschedule" => set(&mut g, "ReschedulePolicy", generic(&blk.body, vars)),
            "ephemeral_disk" => set(
                &mut g,
                "EphemeralDisk",
                renamed(&blk.body, vars, &[("size", "SizeMB")]),
            ),
            "update" => set(&mut g, "Update", generic(&blk.body, vars)),
            "migrate" => set(&mut g, "Migrate", generic(&blk.body, vars)),
            "meta" => merge_strings(&mut g, "Meta", &blk.body, vars),
            "volume" => {
                let name = blk.labels.first().cloned().unwrap_or_default();
                let mut v = generic(&blk.body, vars);
                v["Name"] = json!(name);
                let vols = g.entry("Volumes").or_insert_with(|| json!({}));
                vols[name.as_str()] = v;
            }
            other => set(&mut g, &pascal(other), generic(&blk.body, vars)),
        }
    }
    map_attr_blocks(b, vars, &mut g);
    Value::Object(g)
}

fn task(block: &Block, vars: &Vars) -> Value {
    let b = &block.body;
    let mut t = Map::new();
    t.insert(
        "Name".into(),
        json!(block.labels.first().cloned().unwrap_or_default()),
    );
    generic_attrs(b, vars, &mut t, &["config", "env", "meta", "resources"]);
    for blk in &b.blocks {
        match blk.kind.as_str() {
            "config" => set(&mut t, "Config", free_form(&blk.body, vars)),
            "env" => merge_strings(&mut t, "Env", &blk.body, vars),
            "meta" => merge_strings(&mut t, "Meta", &blk.body, vars),
            "resources" => set(&mut t, "Resources", resources(&blk.body, vars)),
            "template" => push(&mut t, "Templates", template(&blk.body, vars)),
            "artifact" => push(&mut t, "Artifacts", artifact(&blk.body, vars)),
            "service" => push(&mut t, "Services", service(&blk.body, vars)),
            "constraint" => push(&mut t, "Constraints", constraint(&blk.body, vars)),
            "affinity" => push(&mut t, "Affinities", affinity(&blk.body, vars)),
            "volume_mount" => push(&mut t, "VolumeMounts", generic(&blk.body, vars)),
            "logs" => set(
                &mut t,
                "LogConfig",
                renamed(&blk.body, vars, &[("max_file_size", "MaxFileSizeMB")]),
            ),
            "restart" => set(&mut t, "RestartPolicy", generic(&blk.body, vars)),
            other => set(&mut t, &pascal(other), generic(&blk.body, vars)),
        }
    }
    // HCL1-era `config = { ... }` style maps written as attributes.
    for (key, field) in [
        ("config", "Config"),
        ("env", "Env"),
        ("meta", "Meta"),
        ("resources", "Resources"),
    ] {
        if let Some(body) = b.attr(key).and_then(Val::as_body) {
            let v = match key {
                "config" => free_form(&body, vars),
                "resources" => resources(&body, vars),
                _ => strings(&body, vars),
            };
            set(&mut t, field, v);
        }
    }
    Value::Object(t)
}

fn map_attr_blocks(b: &Body, vars: &Vars, out: &mut Map<String, Value>) {
    if let Some(body) = b.attr("meta").and_then(Val::as_body) {
        out.insert("Meta".into(), strings(&body, vars));
    }
}

fn resources(b: &Body, vars: &Vars) -> Value {
    let mut r = renamed(
        b,
        vars,
        &[
            ("cpu", "CPU"),
            ("memory", "MemoryMB"),
            ("memory_max", "MemoryMaxMB"),
            ("disk", "DiskMB"),
            ("iops", "IOPS"),
        ],
    );
    for key in ["CPU", "MemoryMB", "MemoryMaxMB", "Cores", "DiskMB", "IOPS"] {
        if let Some(Value::String(s)) = r.get(key) {
            if let Ok(n) = s.trim().parse::<i64>() {
                r[key] = json!(n);
            }
        }
    }
    for blk in b.blocks_of("network") {
        push_value(&mut r, "Networks", network(&blk.body, vars));
    }
    for blk in b.blocks_of("device") {
        let mut d = generic(&blk.body, vars);
        d["Name"] = json!(blk.labels.first().cloned().unwrap_or_default());
        push_value(&mut r, "Devices", d);
    }
    r
}

fn constraint(b: &Body, vars: &Vars) -> Value {
    let get = |k: &str| {
        b.attr(k)
            .map(|v| as_string(&value(v, vars)))
            .unwrap_or_default()
    };
    let mut operand = b.attr("operator").map(|v| as_string(&value(v, vars)));
    let mut ltarget = get("attribute");
    let mut rtarget = get("value");
    for special in [
        "distinct_hosts",
        "distinct_property",
        "regexp",
        "version",
        "semver",
        "set_contains",
        "set_contains_any",
        "set_contains_all",
    ] {
        if let Some(v) = b.attr(special) {
            let v = as_string(&value(v, vars));
            operand = Some(special.to_string());
            if special == "distinct_property" {
                ltarget = v;
            } else {
                rtarget = v;
            }
        }
    }
    json!({"LTarget": ltarget, "RTarget": rtarget, "Operand": operand.unwrap_or_else(|| "=".into())})
}

fn affinity(b: &Body, vars: &Vars) -> Value {
    let mut a = constraint(b, vars);
    a["Weight"] = b
        .attr("weight")
        .map(|v| value(v, vars))
        .unwrap_or(json!(50));
    a
}

fn network(b: &Body, vars: &Vars) -> Value {
    let mut n = renamed(b, vars, &[("mbits", "MBits")]);
    for port in b.blocks_of("port") {
        let label = port.labels.first().cloned().unwrap_or_default();
        let get = |k: &str| port.body.attr(k).map(|v| value(v, vars));
        let entry = json!({
            "Label": label,
            "Value": get("static").unwrap_or(json!(0)),
            "To": get("to").unwrap_or(json!(0)),
            "HostNetwork": get("host_network").unwrap_or(json!("")),
        });
        let list = if port.body.attr("static").is_some() {
            "ReservedPorts"
        } else {
            "DynamicPorts"
        };
        push_value(&mut n, list, entry);
    }
    n
}

fn service(b: &Body, vars: &Vars) -> Value {
    let mut s = renamed(b, vars, &[("port", "PortLabel"), ("task", "TaskName")]);
    for check in b.blocks_of("check") {
        push_value(
            &mut s,
            "Checks",
            renamed(&check.body, vars, &[("port", "PortLabel")]),
        );
    }
    s
}

fn template(b: &Body, vars: &Vars) -> Value {
    let mut t = renamed(
        b,
        vars,
        &[
            ("source", "SourcePath"),
            ("destination", "DestPath"),
            ("data", "EmbeddedTmpl"),
            ("left_delimiter", "LeftDelim"),
            ("right_delimiter", "RightDelim"),
            ("env", "Envvars"),
            ("error_on_missing_key", "ErrMissingKey"),
        ],
    );
    // Templates are rendered by the client; keep `${...}` and `{{ }}` text untouched.
    if let Some(Val::Str(data)) = b.attr("data") {
        t["EmbeddedTmpl"] = json!(data);
    }
    t
}

fn artifact(b: &Body, vars: &Vars) -> Value {
    renamed(
        b,
        vars,
        &[
            ("source", "GetterSource"),
            ("destination", "RelativeDest"),
            ("mode", "GetterMode"),
            ("options", "GetterOptions"),
            ("headers", "GetterHeaders"),
        ],
    )
}

fn periodic(b: &Body, vars: &Vars) -> Value {
    renamed(
        b,
        vars,
        &[
            ("cron", "Spec"),
            ("crons", "Specs"),
            ("time_zone", "TimeZone"),
        ],
    )
}

fn parameterized(b: &Body, vars: &Vars) -> Value {
    renamed(
        b,
        vars,
        &[
            ("payload", "Payload"),
            ("meta_required", "MetaRequired"),
            ("meta_optional", "MetaOptional"),
        ],
    )
}

/// Block to object: attributes PascalCased (with `renames` first), sub-blocks as objects.
fn renamed(b: &Body, vars: &Vars, renames: &[(&str, &str)]) -> Value {
    let mut out = Map::new();
    for (k, v) in &b.attrs {
        let name = renames
            .iter()
            .find(|(from, _)| from == k)
            .map(|(_, to)| to.to_string())
            .unwrap_or_else(|| pascal(k));
        out.insert(name, attr_value(k, v, vars));
    }
    for blk in &b.blocks {
        out.insert(pascal(&blk.kind), generic(&blk.body, vars));
    }
    Value::Object(out)
}

fn generic(b: &Body, vars: &Vars) -> Value {
    renamed(b, vars, &[])
}

fn generic_attrs(b: &Body, vars: &Vars, out: &mut Map<String, Value>, skip_maps: &[&str]) {
    for (k, v) in &b.attrs {
        if (skip_maps.contains(&k.as_str()) || k == "meta") && matches!(v, Val::Map(_)) {
            continue;
        }
        out.insert(pascal(k), attr_value(k, v, vars));
    }
}

fn attr_value(key: &str, v: &Val, vars: &Vars) -> Value {
    let val = value(v, vars);
    if DURATIONS.contains(&key) {
        if let Value::String(s) = &val {
            if let Some(ns) = parse_go_duration(s) {
                return json!(ns);
            }
        }
    }
    val
}

/// Driver config: keys as written; nested blocks become arrays of objects.
fn free_form(b: &Body, vars: &Vars) -> Value {
    let mut out = Map::new();
    for (k, v) in &b.attrs {
        out.insert(k.clone(), value(v, vars));
    }
    for blk in &b.blocks {
        let entry = out.entry(blk.kind.clone()).or_insert_with(|| json!([]));
        if let Value::Array(items) = entry {
            items.push(free_form(&blk.body, vars));
        }
    }
    Value::Object(out)
}

fn strings(b: &Body, vars: &Vars) -> Value {
    Value::Object(
        b.attrs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(as_string(&value(v, vars)))))
            .collect(),
    )
}

fn merge_strings(out: &mut Map<String, Value>, key: &str, b: &Body, vars: &Vars) {
    let entry = out.entry(key).or_insert_with(|| json!({}));
    if let (Value::Object(dst), Value::Object(src)) = (entry, strings(b, vars)) {
        dst.extend(src);
    }
}

fn set(out: &mut Map<String, Value>, key: &str, v: Value) {
    out.insert(key.to_string(), v);
}

fn push(out: &mut Map<String, Value>, key: &str, v: Value) {
    if let Value::Array(items) = out.entry(key).or_insert_with(|| json!([])) {
        items.push(v);
    }
}

fn push_value(out: &mut Value, key: &str, v: Value) {
    if let Value::Object(map) = out {
        push(map, key, v);
    }
}

pub fn value(v: &Val, vars: &Vars) -> Value {
    match v {
        Val::Null => Value::Null,
        Val::Bool(b) => json!(b),
        Val::Num(n) => Value::Number(n.clone()),
        Val::Str(s) => interpolate(s, vars),
        Val::List(items) => Value::Array(items.iter().map(|i| value(i, vars)).collect()),
        Val::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), value(v, vars)))
                .collect(),
        ),
        Val::Expr(raw) => lookup(raw, vars).unwrap_or_else(|| json!(raw)),
    }
}

fn lookup(expr: &str, vars: &Vars) -> Option<Value> {
    let name = expr.trim().strip_prefix("var.")?;
    vars.get(name).cloned()
}

/// Replaces `${var.x}` references; every other interpolation is left for the client.
fn interpolate(s: &str, vars: &Vars) -> Value {
    if !s.contains("${") {
        return json!(s);
    }
    let trimmed = s.trim();
    if trimmed.starts_with("${") && trimmed.ends_with('}') && trimmed[2..].find("${").is_none() {
        if let Some(v) = lookup(&trimmed[2..trimmed.len() - 1], vars) {
            return v;
        }
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                match lookup(&after[..end], vars) {
                    Some(v) => out.push_str(&as_string(&v)),
                    None => out.push_str(&rest[start..start + 3 + end]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    json!(out)
}

pub fn as_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `snake_case` to Go's field naming (`node_pool` -> `NodePool`, `id` -> `ID`).
pub fn pascal(key: &str) -> String {
    key.split(['_', '-'])
        .map(|part| match part {
            "id" => "ID".to_string(),
            "ip" => "IP".to_string(),
            "mb" => "MB".to_string(),
            "tls" => "TLS".to_string(),
            _ => {
                let mut c = part.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                    None => String::new(),
                }
            }
        })
        .collect()
}
