//! The saved plan as `show -json` describes it, reduced to what csi checks and shows:
//! resource changes by action, and whether they match what the operator expects.
//! The document's `variables`, `prior_state` values and `before`/`after` are never
//! deserialised: they hold secrets in clear.

use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
pub struct PlanJson {
    pub format_version: String,
    #[serde(default)]
    pub resource_changes: Vec<ResourceChange>,
    #[serde(default)]
    pub errored: bool,
}

#[derive(Debug, Deserialize)]
pub struct ResourceChange {
    pub address: String,
    #[serde(default)]
    pub module_address: Option<String>,
    pub mode: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    #[serde(default)]
    pub deposed: Option<String>,
    pub change: ChangeBody,
}

#[derive(Debug, Deserialize)]
pub struct ChangeBody {
    pub actions: Vec<String>,
    /// Only `input` is kept (terraform_data's, for the environment's identity record).
    #[serde(default)]
    pub after: Option<AfterInput>,
}

#[derive(Debug, Deserialize)]
pub struct AfterInput {
    #[serde(default)]
    pub input: Option<serde_json::Value>,
}

/// What a change does, in the terms an operator reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
    Replace,
    Read,
    Forget,
    Other,
}

impl Action {
    fn from_actions(actions: &[String]) -> Option<Action> {
        let a: Vec<&str> = actions.iter().map(String::as_str).collect();
        Some(match a.as_slice() {
            ["no-op"] => return None,
            ["create"] | ["create", "forget"] | ["forget", "create"] => Action::Create,
            ["update"] => Action::Update,
            ["delete"] => Action::Delete,
            ["delete", "create"] | ["create", "delete"] => Action::Replace,
            ["read"] => Action::Read,
            ["forget"] => Action::Forget,
            _ => Action::Other,
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Replace => "replace",
            Action::Read => "read",
            Action::Forget => "forget",
            Action::Other => "other",
        }
    }
}

/// One resource the plan changes.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlannedChange {
    pub address: String,
    pub resource_type: String,
    pub action: Action,
    pub in_target: bool,
    pub deposed: bool,
}

/// The plan reduced to its managed-resource changes.
#[derive(Debug, Clone, Serialize)]
pub struct PlanSummary {
    pub changes: Vec<PlannedChange>,
    /// What the plan records as the state's environment, when it creates or updates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<super::identity::Identity>,
}

impl PlanSummary {
    pub fn from_json(plan: &PlanJson, target: &str) -> Result<Self, String> {
        let major = plan.format_version.split('.').next().unwrap_or("");
        if major != "1" {
            return Err(format!(
                "unsupported plan format {} (csi reads format 1.x)",
                plan.format_version
            ));
        }
        if plan.errored {
            return Err("terraform reported the plan as errored; it cannot be applied".into());
        }
        let mut changes: Vec<PlannedChange> = plan
            .resource_changes
            .iter()
            .filter(|rc| rc.mode == "managed")
            .filter_map(|rc| {
                Action::from_actions(&rc.change.actions).map(|action| PlannedChange {
                    address: rc.address.clone(),
                    resource_type: rc.resource_type.clone(),
                    action,
                    in_target: within(rc.module_address.as_deref(), &rc.address, target),
                    deposed: rc.deposed.is_some(),
                })
            })
            .collect();
        changes.sort_by(|a, b| (a.action, &a.address).cmp(&(b.action, &b.address)));
        let identity = plan
            .resource_changes
            .iter()
            .filter(|rc| rc.mode == "managed" && super::identity::is_identity_address(&rc.address))
            .filter(|rc| {
                rc.change
                    .actions
                    .iter()
                    .any(|a| a == "create" || a == "update")
            })
            .find_map(|rc| rc.change.after.as_ref()?.input.as_ref())
            .map(super::identity::Identity::from_input);
        Ok(PlanSummary { changes, identity })
    }

    pub fn count(&self, action: Action) -> usize {
        self.changes.iter().filter(|c| c.action == action).count()
    }

    /// Terraform's own add/change/destroy counting: a replace adds and destroys.
    pub fn totals(&self) -> Totals {
        Totals {
            add: self.count(Action::Create) + self.count(Action::Replace),
            change: self.count(Action::Update),
            destroy: self.count(Action::Delete) + self.count(Action::Replace),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

/// Inside the target module: `module.core` itself or below it, never `module.core_db`.
pub fn within(module_address: Option<&str>, address: &str, target: &str) -> bool {
    let inside = |addr: &str| {
        addr == target
            || addr.starts_with(&format!("{target}."))
            || addr.starts_with(&format!("{target}["))
    };
    module_address.is_some_and(inside) || inside(address)
}

/// What the operator expects the plan to do.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Expectation {
    pub action: Action,
    pub count: usize,
}

/// Why a plan does not match the expectation, one line each; empty when it matches.
pub fn mismatches(summary: &PlanSummary, expected: Expectation, target: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let count = summary.count(expected.action);
    if count != expected.count {
        problems.push(format!(
            "{count} to {} where {} expected",
            expected.action.label(),
            expected.count
        ));
    }
    for change in &summary.changes {
        if change.action != expected.action {
            problems.push(format!(
                "unexpected {}: {}",
                change.action.label(),
                change.address
            ));
        } else if !change.in_target {
            problems.push(format!("outside {target}: {}", change.address));
        } else if change.deposed {
            problems.push(format!("deposed object: {}", change.address));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(json: &str) -> PlanSummary {
        let parsed: PlanJson = serde_json::from_str(json).unwrap();
        PlanSummary::from_json(&parsed, "module.core").unwrap()
    }

    fn change(address: &str, module: &str, actions: &str) -> String {
        format!(
            r#"{{"address":"{address}","module_address":"{module}","mode":"managed","type":"terraform_data","name":"x","change":{{"actions":{actions}}}}}"#
        )
    }

    #[test]
    fn counts_by_action_and_ignores_noop_and_data() {
        let json = format!(
            r#"{{"format_version":"1.2","variables":{{"s":{{"value":"secret"}}}},"resource_changes":[{},{},{},{}]}}"#,
            change(
                "module.core.terraform_data.a",
                "module.core",
                r#"["delete"]"#
            ),
            change(
                "module.core.terraform_data.b",
                "module.core",
                r#"["no-op"]"#
            ),
            change(
                "module.core.terraform_data.c",
                "module.core",
                r#"["delete","create"]"#
            ),
            r#"{"address":"data.x.y","mode":"data","type":"x","name":"y","change":{"actions":["read"]}}"#,
        );
        let summary = plan(&json);
        assert_eq!(summary.changes.len(), 2);
        assert_eq!(
            summary.totals(),
            Totals {
                add: 1,
                change: 0,
                destroy: 2
            }
        );
    }

    #[test]
    fn missing_resource_changes_means_an_empty_plan() {
        assert!(plan(r#"{"format_version":"1.2"}"#).changes.is_empty());
    }

    #[test]
    fn a_new_major_format_is_refused() {
        let parsed: PlanJson = serde_json::from_str(r#"{"format_version":"2.0"}"#).unwrap();
        assert!(PlanSummary::from_json(&parsed, "module.core").is_err());
    }

    #[test]
    fn target_prefix_does_not_match_a_sibling_module() {
        assert!(within(
            Some("module.core"),
            "module.core.x.y",
            "module.core"
        ));
        assert!(within(
            Some("module.core.module.net"),
            "module.core.module.net.x.y",
            "module.core"
        ));
        assert!(!within(
            Some("module.core_db"),
            "module.core_db.x.y",
            "module.core"
        ));
        assert!(!within(None, "terraform_data.z", "module.core"));
    }

    #[test]
    fn mismatches_name_count_action_and_scope() {
        let json = format!(
            r#"{{"format_version":"1.2","resource_changes":[{},{},{}]}}"#,
            change(
                "module.core.terraform_data.a",
                "module.core",
                r#"["delete"]"#
            ),
            change(
                "module.core_db.terraform_data.b",
                "module.core_db",
                r#"["delete"]"#
            ),
            change(
                "module.core.terraform_data.c",
                "module.core",
                r#"["update"]"#
            ),
        );
        let found = mismatches(
            &plan(&json),
            Expectation {
                action: Action::Delete,
                count: 13,
            },
            "module.core",
        );
        assert_eq!(
            found,
            vec![
                "2 to delete where 13 expected".to_owned(),
                "unexpected update: module.core.terraform_data.c".to_owned(),
                "outside module.core: module.core_db.terraform_data.b".to_owned(),
            ]
        );
        let matching = format!(
            r#"{{"format_version":"1.2","resource_changes":[{}]}}"#,
            change(
                "module.core.terraform_data.a",
                "module.core",
                r#"["delete"]"#
            )
        );
        assert!(mismatches(
            &plan(&matching),
            Expectation {
                action: Action::Delete,
                count: 1
            },
            "module.core"
        )
        .is_empty());
    }
}
