//! Which environment a state belongs to. Both trees keep a `terraform_data.csi_environment`
//! in module.cold (which a stop keeps) whose input is csi's environment name (given by
//! csi as `-var=csi_environment=...`) and the OpenStack project: in terraform/openstack
//! the project the credentials act in (Keystone's auth scope), in the sandbox its
//! configured id. csi reads it before planning and refuses another environment's
//! state; after planning it refuses a plan that would record another project.

use serde::Serialize;

use super::state;
use crate::error::{precondition, CsiError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub environment: Option<String>,
    pub openstack_project_id: Option<String>,
}

impl Identity {
    pub fn from_input(input: &serde_json::Value) -> Identity {
        let field = |key: &str| input.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        Identity {
            environment: field("environment"),
            openstack_project_id: field("openstack_project_id"),
        }
    }
}

/// What the state says about its environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum StateIdentity {
    /// No resource at all: a new state, any environment may take it.
    Empty,
    Recorded(Identity),
    /// Resources, but no record of whose they are.
    Unrecorded {
        resources: usize,
    },
}

pub fn of_state(raw: &[u8]) -> anyhow::Result<StateIdentity> {
    let instances = state::instances(raw)?;
    if let Some(identity) = instances.iter().find(|i| i.is_identity()) {
        return Ok(StateIdentity::Recorded(Identity::from_input(
            identity.input.as_ref().unwrap_or(&serde_json::Value::Null),
        )));
    }
    let managed = instances.iter().filter(|i| i.mode == "managed").count();
    Ok(match managed {
        0 => StateIdentity::Empty,
        resources => StateIdentity::Unrecorded { resources },
    })
}

/// What this environment expects to find in its state.
pub struct Expected<'a> {
    pub environment: &'a str,
    pub openstack_project_id: Option<&'a str>,
    /// Where the state is, for the message.
    pub state: &'a str,
}

/// Before planning: the state must be this environment's (or new).
pub fn check_state(found: &StateIdentity, expected: &Expected) -> Result<(), CsiError> {
    let identity = match found {
        StateIdentity::Empty => return Ok(()),
        StateIdentity::Unrecorded { resources } => {
            return Err(precondition(format!(
                "{} holds {resources} resource(s) but does not record which environment it belongs to (no {}.{} in module.cold); nothing was planned",
                expected.state,
                state::IDENTITY_TYPE,
                state::IDENTITY_NAME
            ))
            .with_hint(format!(
                "if this is `{}`'s state, record it once: tofu apply -target=module.cold.{}.{} -var=csi_environment={} with its var files (README, \"Terraform state\")",
                expected.environment,
                state::IDENTITY_TYPE,
                state::IDENTITY_NAME,
                expected.environment
            )))
        }
        StateIdentity::Recorded(identity) => identity,
    };
    if identity.environment.as_deref() != Some(expected.environment) {
        return Err(precondition(format!(
            "{} belongs to environment `{}`, not `{}`: refusing to plan one environment against another's state; nothing was planned",
            expected.state,
            identity.environment.as_deref().unwrap_or("(none)"),
            expected.environment
        ))
        .with_hint("give each environment its own state (terraform.state_file or terraform.backend_config in csi.hcl)"));
    }
    check_project(identity, expected, "the state records")
}

/// After planning: what the plan would record (the identity it creates or updates).
pub fn check_planned(planned: &Identity, expected: &Expected) -> Result<(), CsiError> {
    if planned.environment.as_deref() != Some(expected.environment) {
        return Err(precondition(format!(
            "the plan would record environment `{}` in the state of `{}`; nothing was applied",
            planned.environment.as_deref().unwrap_or("(none)"),
            expected.environment
        )));
    }
    check_project(planned, expected, "the credentials act in")
}

fn check_project(found: &Identity, expected: &Expected, what: &str) -> Result<(), CsiError> {
    let Some(wanted) = expected.openstack_project_id else {
        return Ok(());
    };
    match found.openstack_project_id.as_deref() {
        Some(actual) if actual == wanted => Ok(()),
        actual => Err(precondition(format!(
            "wrong OpenStack project: {what} project {}, expected {wanted} for `{}`; nothing was changed",
            actual.unwrap_or("(none)"),
            expected.environment
        ))
        .with_hint("use this environment's credentials (its secrets var file) or fix terraform.openstack_project_id in csi.hcl")),
    }
}

pub fn is_identity_address(address: &str) -> bool {
    address.ends_with(&format!(
        ".{}.{}",
        state::IDENTITY_TYPE,
        state::IDENTITY_NAME
    )) || address == format!("{}.{}", state::IDENTITY_TYPE, state::IDENTITY_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(input: &str) -> Vec<u8> {
        format!(
            r#"{{"version":4,"resources":[{{"module":"module.cold","mode":"managed","type":"terraform_data","name":"csi_environment","instances":[{{"attributes":{{"input":{{"value":{input},"type":["object",{{}}]}}}}}}]}}]}}"#
        )
        .into_bytes()
    }

    fn expected<'a>(env: &'a str, project: Option<&'a str>) -> Expected<'a> {
        Expected {
            environment: env,
            openstack_project_id: project,
            state: "the state",
        }
    }

    #[test]
    fn another_environments_state_is_refused() {
        let found = of_state(&state(
            r#"{"environment":"prod","openstack_project_id":"p1"}"#,
        ))
        .unwrap();
        check_state(&found, &expected("prod", Some("p1"))).unwrap();
        let err = check_state(&found, &expected("test", None)).unwrap_err();
        assert!(
            err.message
                .contains("belongs to environment `prod`, not `test`"),
            "{}",
            err.message
        );
        let err = check_state(&found, &expected("prod", Some("p2"))).unwrap_err();
        assert!(
            err.message.contains("project p1, expected p2"),
            "{}",
            err.message
        );
    }

    #[test]
    fn an_empty_state_is_anyones_and_an_unrecorded_one_nobodys() {
        assert_eq!(of_state(b"").unwrap(), StateIdentity::Empty);
        check_state(&StateIdentity::Empty, &expected("x", Some("p"))).unwrap();
        let raw = br#"{"version":4,"resources":[{"mode":"managed","type":"t","name":"a","instances":[{}]}]}"#;
        let found = of_state(raw).unwrap();
        assert_eq!(found, StateIdentity::Unrecorded { resources: 1 });
        assert!(check_state(&found, &expected("x", None)).is_err());
    }

    #[test]
    fn the_planned_project_is_the_credentials_one() {
        let planned = Identity::from_input(
            &serde_json::json!({"environment": "prod", "openstack_project_id": "other"}),
        );
        assert!(is_identity_address(
            "module.cold.terraform_data.csi_environment"
        ));
        let err = check_planned(&planned, &expected("prod", Some("p1"))).unwrap_err();
        assert!(
            err.message
                .contains("the credentials act in project other, expected p1"),
            "{}",
            err.message
        );
    }
}
