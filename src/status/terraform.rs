//! The terraform source: which resources the state holds under the target, read from
//! the raw state (`state pull`) so that no provider has to start.

use serde::{Deserialize, Serialize};

use crate::settings::Settings;
use crate::terraform::{self, plan, Tree};

const VM_NAMES: &[&str] = &["tf-tutu", "tf-tete", "tf-tata", "tf-titi"];

#[derive(Debug, Serialize)]
pub struct TerraformSection {
    pub resources_under_target: usize,
    /// The four VMs and whether each is in the state.
    pub vms: Vec<(String, bool)>,
}

pub async fn section(settings: &Settings) -> anyhow::Result<TerraformSection> {
    let tf = terraform::locate(settings.terraform.binary.as_deref())?;
    let tree = Tree::new(tf, &settings.terraform);
    let under_target: Vec<String> = state_addresses(&tree.pull_state().await?)?
        .into_iter()
        .filter(|a| plan::within(None, a, &tree.target))
        .collect();
    let vms = VM_NAMES
        .iter()
        .map(|name| {
            let label = name.replace('-', "_");
            let present = under_target
                .iter()
                .any(|a| a.ends_with(&format!(".{label}")) || a.contains(&format!("\"{name}\"")));
            (name.to_string(), present)
        })
        .collect();
    Ok(TerraformSection {
        resources_under_target: under_target.len(),
        vms,
    })
}

/// The raw state (format 4) with only what makes an address: the attributes, which may
/// hold secrets, are skipped by the parser.
#[derive(Deserialize)]
struct RawState {
    #[serde(default)]
    resources: Vec<RawResource>,
}

#[derive(Deserialize)]
struct RawResource {
    #[serde(default)]
    module: Option<String>,
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    name: String,
    #[serde(default)]
    instances: Vec<RawInstance>,
}

#[derive(Deserialize)]
struct RawInstance {
    #[serde(default)]
    index_key: Option<serde_json::Value>,
}

/// Every instance's address, as `show -json` and `state list` spell it
/// (`module.core.openstack_compute_instance_v2.tf_tutu`, `data.x.y`, `a.b[0]`,
/// `a.b["key"]`); nothing when there is no state yet.
pub fn state_addresses(raw: &[u8]) -> anyhow::Result<Vec<String>> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let state: RawState = serde_json::from_slice(raw)
        .map_err(|e| anyhow::anyhow!("terraform state pull gave an unreadable state: {e}"))?;
    let mut addresses = Vec::new();
    for resource in state.resources {
        let base = resource_address(&resource);
        addresses.extend(
            resource
                .instances
                .iter()
                .map(|instance| match &instance.index_key {
                    Some(key) => format!("{base}[{key}]"),
                    None => base.clone(),
                }),
        );
    }
    Ok(addresses)
}

fn resource_address(resource: &RawResource) -> String {
    let mut address = String::new();
    if let Some(module) = &resource.module {
        address.push_str(module);
        address.push('.');
    }
    if resource.mode == "data" {
        address.push_str("data.");
    }
    address.push_str(&resource.kind);
    address.push('.');
    address.push_str(&resource.name);
    address
}

#[cfg(test)]
mod tests {
    use super::state_addresses;

    #[test]
    fn addresses_are_spelled_as_terraform_spells_them() {
        let raw = br#"{"version": 4, "resources": [
          {"module": "module.core", "mode": "managed", "type": "openstack_compute_instance_v2",
           "name": "tf_tutu", "instances": [{"attributes": {"admin_pass": "s3cret"}}]},
          {"module": "module.core[0]", "mode": "managed", "type": "t", "name": "ips",
           "instances": [{"index_key": 0}, {"index_key": 1}]},
          {"mode": "data", "type": "openstack_images_image_v2", "name": "debian",
           "instances": [{"index_key": "tf-tete"}]},
          {"module": "module.cold", "mode": "managed", "type": "t", "name": "gone", "instances": []}
        ]}"#;
        assert_eq!(
            state_addresses(raw).unwrap(),
            [
                "module.core.openstack_compute_instance_v2.tf_tutu",
                "module.core[0].t.ips[0]",
                "module.core[0].t.ips[1]",
                "data.openstack_images_image_v2.debian[\"tf-tete\"]",
            ]
        );
    }

    #[test]
    fn no_state_yet_is_no_resource_and_garbage_is_an_error() {
        assert!(state_addresses(b"").unwrap().is_empty());
        assert!(state_addresses(b"\n").unwrap().is_empty());
        assert!(state_addresses(b"not json").is_err());
    }
}
