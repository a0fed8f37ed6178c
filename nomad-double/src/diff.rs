//! Structured job diffs (`JobDiff`), contextual like the plan endpoint's: edited objects
//! list their unchanged fields with type `None`; unchanged objects are omitted.

use crate::api::{FieldDiff, JobDiff, ObjectDiff, TaskDiff, TaskGroupDiff};
use crate::jobspec::SERVER_FIELDS;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub const ADDED: &str = "Added";
pub const DELETED: &str = "Deleted";
pub const EDITED: &str = "Edited";
pub const NONE: &str = "None";

/// Task fields whose change Nomad applies in place (no new allocation).
const IN_PLACE_TASK_KEYS: &[&str] = &[
    "Service",
    "KillTimeout",
    "ShutdownDelay",
    "KillSignal",
    "RestartPolicy",
];
/// Group fields whose change replaces the allocations.
const DESTRUCTIVE_GROUP_KEYS: &[&str] = &["Networks", "EphemeralDisk", "Volumes", "Meta"];

/// How a group's allocations are affected by the change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupChange {
    Added,
    Deleted,
    Destructive,
    InPlace,
    Unchanged,
}

pub struct Diffed {
    pub diff: JobDiff,
    pub groups: BTreeMap<String, GroupChange>,
}

pub fn job_diff(old: Option<&Value>, new: &Value) -> Diffed {
    let empty = Value::Object(Default::default());
    let o = old.unwrap_or(&empty);
    let mut skip: Vec<&str> = SERVER_FIELDS.to_vec();
    skip.extend(["ID", "TaskGroups", "Update", "Submission"]);
    let (fields, objects) = level_diff(o, new, &skip);
    let meta_changed = o.get("Meta") != new.get("Meta") && old.is_some();

    let mut groups = BTreeMap::new();
    let mut tg_diffs = Vec::new();
    let old_groups = named(o.get("TaskGroups"));
    let new_groups = named(new.get("TaskGroups"));
    for name in union(&old_groups, &new_groups) {
        let (d, change) = group_diff(
            &name,
            old_groups.get(&name).copied(),
            new_groups.get(&name).copied(),
            meta_changed,
        );
        groups.insert(name, change);
        tg_diffs.push(d);
    }
    let kind = if old.is_none() {
        ADDED
    } else if changed(&fields, &objects) || tg_diffs.iter().any(|g| g.r#type != NONE) {
        EDITED
    } else {
        NONE
    };
    Diffed {
        diff: JobDiff {
            r#type: kind.to_string(),
            id: new
                .get("ID")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            fields: non_empty(fields),
            objects: non_empty(objects),
            task_groups: non_empty(tg_diffs),
        },
        groups,
    }
}

fn group_diff(
    name: &str,
    old: Option<&Value>,
    new: Option<&Value>,
    job_meta_changed: bool,
) -> (TaskGroupDiff, GroupChange) {
    let empty = Value::Object(Default::default());
    let (fields, objects) = level_diff(
        old.unwrap_or(&empty),
        new.unwrap_or(&empty),
        &["Name", "Tasks"],
    );
    let old_tasks = named(old.and_then(|g| g.get("Tasks")));
    let new_tasks = named(new.and_then(|g| g.get("Tasks")));
    let mut tasks = Vec::new();
    let mut destructive = job_meta_changed
        || objects
            .iter()
            .any(|o| DESTRUCTIVE_GROUP_KEYS.contains(&o.name.as_str()))
        || fields
            .iter()
            .any(|f| f.r#type != NONE && f.name.starts_with("Meta["));
    for tname in union(&old_tasks, &new_tasks) {
        let (ot, nt) = (
            old_tasks.get(&tname).copied(),
            new_tasks.get(&tname).copied(),
        );
        let (tf, to) = level_diff(ot.unwrap_or(&empty), nt.unwrap_or(&empty), &["Name"]);
        let kind = presence(ot, nt, changed(&tf, &to));
        let changed_names: Vec<&str> = tf
            .iter()
            .filter(|f| f.r#type != NONE)
            .map(|f| f.name.as_str())
            .chain(to.iter().map(|o| o.name.as_str()))
            .collect();
        let task_destructive = kind != NONE
            && (kind != EDITED
                || changed_names
                    .iter()
                    .any(|n| !IN_PLACE_TASK_KEYS.contains(n)));
        destructive |= task_destructive;
        let annotation = match kind {
            ADDED => Some("forces create"),
            DELETED => Some("forces destroy"),
            EDITED if task_destructive => Some("forces create/destroy update"),
            EDITED => Some("forces in-place update"),
            _ => None,
        };
        tasks.push(TaskDiff {
            r#type: kind.to_string(),
            name: tname,
            fields: non_empty(tf),
            objects: non_empty(to),
            annotations: annotation.map(|a| vec![a.to_string()]),
        });
    }
    let kind = presence(
        old,
        new,
        changed(&fields, &objects) || tasks.iter().any(|t| t.r#type != NONE),
    );
    let change = match kind {
        ADDED => GroupChange::Added,
        DELETED => GroupChange::Deleted,
        EDITED if destructive => GroupChange::Destructive,
        EDITED => GroupChange::InPlace,
        _ => GroupChange::Unchanged,
    };
    let diff = TaskGroupDiff {
        r#type: kind.to_string(),
        name: name.to_string(),
        fields: non_empty(fields),
        objects: non_empty(objects),
        tasks: non_empty(tasks),
        updates: None,
    };
    (diff, change)
}

fn presence(old: Option<&Value>, new: Option<&Value>, edited: bool) -> &'static str {
    match (old, new) {
        (None, Some(_)) => ADDED,
        (Some(_), None) => DELETED,
        _ if edited => EDITED,
        _ => NONE,
    }
}

fn changed(fields: &[FieldDiff], objects: &[ObjectDiff]) -> bool {
    !objects.is_empty() || fields.iter().any(|f| f.r#type != NONE)
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    if v.is_empty() {
        None
    } else {
        Some(v)
    }
}

fn named(list: Option<&Value>) -> BTreeMap<String, &Value> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| {
            (
                v.get("Name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                v,
            )
        })
        .collect()
}

fn union<T>(a: &BTreeMap<String, T>, b: &BTreeMap<String, T>) -> BTreeSet<String> {
    a.keys().chain(b.keys()).cloned().collect()
}

/// Primitive fields (and string maps as `Key[k]`) become fields; everything else objects.
fn level_diff(old: &Value, new: &Value, skip: &[&str]) -> (Vec<FieldDiff>, Vec<ObjectDiff>) {
    let mut old_flat = BTreeMap::new();
    let mut new_flat = BTreeMap::new();
    let mut objects = Vec::new();
    let keys: BTreeSet<&String> = [old, new]
        .iter()
        .filter_map(|v| v.as_object())
        .flat_map(|m| m.keys())
        .collect();
    for key in keys {
        if skip.contains(&key.as_str()) {
            continue;
        }
        let (ov, nv) = (
            old.get(key).unwrap_or(&Value::Null),
            new.get(key).unwrap_or(&Value::Null),
        );
        match (kind_of(ov), kind_of(nv)) {
            (Kind::Primitive | Kind::Null, Kind::Primitive | Kind::Null) => {
                insert_primitive(&mut old_flat, key, ov);
                insert_primitive(&mut new_flat, key, nv);
            }
            (Kind::StringMap | Kind::Null, Kind::StringMap | Kind::Null)
                if key == "Meta" || key == "Env" =>
            {
                flatten_into(&mut old_flat, key, ov, true);
                flatten_into(&mut new_flat, key, nv, true);
            }
            _ => objects.extend(object_diffs(key, ov, nv)),
        }
    }
    (field_diffs(&old_flat, &new_flat), objects)
}

fn insert_primitive(flat: &mut BTreeMap<String, String>, key: &str, v: &Value) {
    if !v.is_null() {
        flat.insert(key.to_string(), scalar(v));
    }
}

#[derive(PartialEq)]
enum Kind {
    Null,
    Primitive,
    StringMap,
    Other,
}

fn kind_of(v: &Value) -> Kind {
    match v {
        Value::Null => Kind::Null,
        Value::Bool(_) | Value::Number(_) | Value::String(_) => Kind::Primitive,
        Value::Object(m) if m.values().all(|x| x.is_string()) => Kind::StringMap,
        _ => Kind::Other,
    }
}

/// Diffs of a nested object or a list of objects (singular names, like Nomad's).
fn object_diffs(key: &str, old: &Value, new: &Value) -> Vec<ObjectDiff> {
    let is_list = old.is_array() || new.is_array();
    if !is_list {
        return primitive_object_diff(key, old, new).into_iter().collect();
    }
    let singular = key.strip_suffix('s').unwrap_or(key);
    let items = |v: &Value| -> Vec<Value> { v.as_array().cloned().unwrap_or_default() };
    let (olds, news) = (items(old), items(new));
    if olds
        .iter()
        .chain(&news)
        .all(|v| !v.is_object() && !v.is_array())
    {
        // A set of strings (Datacenters, Tags): one object with one field per element.
        let o: BTreeSet<String> = olds.iter().map(scalar).collect();
        let n: BTreeSet<String> = news.iter().map(scalar).collect();
        if o == n {
            return Vec::new();
        }
        let fields: Vec<FieldDiff> = o
            .union(&n)
            .map(|v| {
                let (t, old_v, new_v) = match (o.contains(v), n.contains(v)) {
                    (true, false) => (DELETED, v.clone(), String::new()),
                    (false, true) => (ADDED, String::new(), v.clone()),
                    _ => (NONE, v.clone(), v.clone()),
                };
                field(t, key, old_v, new_v)
            })
            .collect();
        let kind = object_kind(&fields);
        return vec![ObjectDiff {
            r#type: kind.to_string(),
            name: key.to_string(),
            fields: Some(fields),
            objects: None,
        }];
    }
    let ident = |v: &Value| -> String {
        for k in ["Name", "DestPath", "Label", "GetterSource", "Volume"] {
            if let Some(s) = v.get(k).and_then(Value::as_str) {
                return s.to_string();
            }
        }
        v.to_string()
    };
    let o: BTreeMap<String, &Value> = olds.iter().map(|v| (ident(v), v)).collect();
    let n: BTreeMap<String, &Value> = news.iter().map(|v| (ident(v), v)).collect();
    union(&o, &n)
        .into_iter()
        .filter_map(|id| {
            primitive_object_diff(
                singular,
                o.get(&id).copied().unwrap_or(&Value::Null),
                n.get(&id).copied().unwrap_or(&Value::Null),
            )
        })
        .collect()
}

fn primitive_object_diff(name: &str, old: &Value, new: &Value) -> Option<ObjectDiff> {
    let mut of = BTreeMap::new();
    let mut nf = BTreeMap::new();
    flatten_into(&mut of, "", old, false);
    flatten_into(&mut nf, "", new, false);
    let fields = field_diffs(&of, &nf);
    let kind = object_kind(&fields);
    (kind != NONE).then(|| ObjectDiff {
        r#type: kind.to_string(),
        name: name.to_string(),
        fields: non_empty(fields),
        objects: None,
    })
}

fn object_kind(fields: &[FieldDiff]) -> &'static str {
    let has = |t: &str| fields.iter().any(|f| f.r#type == t);
    if has(EDITED) || (has(ADDED) && has(DELETED)) || ((has(ADDED) || has(DELETED)) && has(NONE)) {
        EDITED
    } else if has(ADDED) {
        ADDED
    } else if has(DELETED) {
        DELETED
    } else {
        NONE
    }
}

/// Flattens like Nomad's flatmap: `a.b`, `list[0]`, and `Map[key]` for string maps.
fn flatten_into(out: &mut BTreeMap<String, String>, prefix: &str, v: &Value, bracket_maps: bool) {
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k, x) in m {
                let name = if prefix.is_empty() {
                    k.clone()
                } else if bracket_maps {
                    format!("{prefix}[{k}]")
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_into(out, &name, x, false);
            }
        }
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                flatten_into(out, &format!("{prefix}[{i}]"), x, false);
            }
        }
        other => {
            out.insert(prefix.to_string(), scalar(other));
        }
    }
}

fn field_diffs(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<FieldDiff> {
    union(old, new)
        .into_iter()
        .map(|k| match (old.get(&k), new.get(&k)) {
            (Some(o), None) => field(DELETED, &k, o.clone(), String::new()),
            (None, Some(n)) => field(ADDED, &k, String::new(), n.clone()),
            (Some(o), Some(n)) if o != n => field(EDITED, &k, o.clone(), n.clone()),
            (Some(o), _) => field(NONE, &k, o.clone(), o.clone()),
            (None, None) => unreachable!("key comes from one of the maps"),
        })
        .collect()
}

fn field(kind: &str, name: &str, old: String, new: String) -> FieldDiff {
    FieldDiff {
        r#type: kind.to_string(),
        name: name.to_string(),
        old,
        new,
        annotations: None,
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(image: &str, cpu: u64) -> Value {
        json!({"ID": "j", "Name": "j", "Type": "service", "Datacenters": ["dc1"], "TaskGroups": [
            {"Name": "g", "Count": 1, "Tasks": [{"Name": "t", "Driver": "docker",
              "Config": {"image": image}, "Resources": {"CPU": cpu, "MemoryMB": 256}}]}]})
    }

    #[test]
    fn image_change_is_a_destructive_config_edit() {
        let d = job_diff(Some(&job("a:1", 500)), &job("a:2", 500));
        assert_eq!(d.diff.r#type, EDITED);
        let tg = &d.diff.task_groups.as_ref().unwrap()[0];
        let task = &tg.tasks.as_ref().unwrap()[0];
        assert_eq!(
            task.annotations.as_ref().unwrap()[0],
            "forces create/destroy update"
        );
        let config = &task.objects.as_ref().unwrap()[0];
        assert_eq!(
            (config.r#type.as_str(), config.name.as_str()),
            (EDITED, "Config")
        );
        let f = &config.fields.as_ref().unwrap()[0];
        assert_eq!(
            (f.name.as_str(), f.old.as_str(), f.new.as_str()),
            ("image", "a:1", "a:2")
        );
        assert_eq!(d.groups["g"], GroupChange::Destructive);
    }

    #[test]
    fn identical_jobs_diff_to_none_and_new_jobs_to_added() {
        assert_eq!(
            job_diff(Some(&job("a:1", 500)), &job("a:1", 500))
                .diff
                .r#type,
            NONE
        );
        let added = job_diff(None, &job("a:1", 500));
        assert_eq!(added.diff.r#type, ADDED);
        assert_eq!(added.groups["g"], GroupChange::Added);
    }

    #[test]
    fn resources_appear_as_an_object() {
        let d = job_diff(Some(&job("a:1", 1500)), &job("a:1", 1000));
        let task = &d.diff.task_groups.as_ref().unwrap()[0]
            .tasks
            .as_ref()
            .unwrap()[0];
        let res = task
            .objects
            .as_ref()
            .unwrap()
            .iter()
            .find(|o| o.name == "Resources")
            .unwrap();
        let cpu = res
            .fields
            .as_ref()
            .unwrap()
            .iter()
            .find(|f| f.name == "CPU")
            .unwrap();
        assert_eq!(
            (cpu.r#type.as_str(), cpu.old.as_str(), cpu.new.as_str()),
            (EDITED, "1500", "1000")
        );
    }
}
