//! The raw state (`state pull`, format 4), reduced to what csi reads: each resource's
//! address, the environment the state belongs to, and the VMs by type and `name`.
//! Attributes hold secrets: only `name` and `input` (of `terraform_data`) are kept.

use serde::Deserialize;

/// The resource that records which environment (and OpenStack project) a state
/// belongs to: `terraform_data.csi_environment` in module.cold, which a stop keeps.
pub const IDENTITY_TYPE: &str = "terraform_data";
pub const IDENTITY_NAME: &str = "csi_environment";
/// The resource type of a VM; the sandbox's stand-ins say it in their `input.type`.
pub const VM_TYPE: &str = "openstack_compute_instance_v2";

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
    #[serde(default)]
    attributes: Attributes,
}

#[derive(Deserialize, Default)]
struct Attributes {
    #[serde(default)]
    name: Option<serde_json::Value>,
    /// `terraform_data`'s input: `{"value": ..., "type": ...}`.
    #[serde(default)]
    input: Option<TypedValue>,
}

#[derive(Deserialize)]
struct TypedValue {
    #[serde(default)]
    value: serde_json::Value,
}

/// One resource instance of the state.
#[derive(Debug, Clone)]
pub struct Instance {
    pub address: String,
    pub resource_type: String,
    pub label: String,
    pub mode: String,
    /// The `name` attribute, or the `input.name` of a stand-in.
    pub name: Option<String>,
    /// The type a `terraform_data` stand-in says it is (`input.type`).
    pub stands_for: Option<String>,
    pub input: Option<serde_json::Value>,
}

impl Instance {
    pub fn is_vm(&self) -> bool {
        self.mode == "managed"
            && (self.resource_type == VM_TYPE || self.stands_for.as_deref() == Some(VM_TYPE))
    }

    pub fn is_identity(&self) -> bool {
        self.mode == "managed" && self.resource_type == IDENTITY_TYPE && self.label == IDENTITY_NAME
    }
}

/// Every instance, addresses spelled as `show -json` and `state list` spell them
/// (`module.core.openstack_compute_instance_v2.tf_tutu`, `data.x.y`, `a.b[0]`,
/// `a.b["key"]`); nothing when there is no state yet.
pub fn instances(raw: &[u8]) -> anyhow::Result<Vec<Instance>> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let state: RawState = serde_json::from_slice(raw)
        .map_err(|e| anyhow::anyhow!("terraform state pull gave an unreadable state: {e}"))?;
    let mut found = Vec::new();
    for resource in state.resources {
        let base = resource_address(&resource);
        for instance in resource.instances {
            let input = instance.attributes.input.map(|t| t.value);
            let from_input = |key: &str| {
                input
                    .as_ref()
                    .and_then(|v| v.get(key))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            let name = instance
                .attributes
                .name
                .as_ref()
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .or_else(|| from_input("name"));
            let stands_for = from_input("type");
            found.push(Instance {
                address: match &instance.index_key {
                    Some(key) => format!("{base}[{key}]"),
                    None => base.clone(),
                },
                resource_type: resource.kind.clone(),
                label: resource.name.clone(),
                mode: resource.mode.clone(),
                name,
                stands_for,
                input,
            });
        }
    }
    Ok(found)
}

pub fn addresses(raw: &[u8]) -> anyhow::Result<Vec<String>> {
    Ok(instances(raw)?.into_iter().map(|i| i.address).collect())
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
    use super::*;

    #[test]
    fn addresses_are_spelled_as_terraform_spells_them() {
        let raw = br#"{"version": 4, "resources": [
          {"module": "module.core", "mode": "managed", "type": "openstack_compute_instance_v2",
           "name": "tf_tutu", "instances": [{"attributes": {"admin_pass": "s3cret", "name": "tf-tutu"}}]},
          {"module": "module.core[0]", "mode": "managed", "type": "t", "name": "ips",
           "instances": [{"index_key": 0}, {"index_key": 1}]},
          {"mode": "data", "type": "openstack_images_image_v2", "name": "debian",
           "instances": [{"index_key": "tf-tete"}]},
          {"module": "module.cold", "mode": "managed", "type": "t", "name": "gone", "instances": []}
        ]}"#;
        assert_eq!(
            addresses(raw).unwrap(),
            [
                "module.core.openstack_compute_instance_v2.tf_tutu",
                "module.core[0].t.ips[0]",
                "module.core[0].t.ips[1]",
                "data.openstack_images_image_v2.debian[\"tf-tete\"]",
            ]
        );
    }

    #[test]
    fn vms_are_found_by_type_and_name_whatever_their_label() {
        let raw = br#"{"version": 4, "resources": [
          {"module": "module.core", "mode": "managed", "type": "openstack_compute_instance_v2",
           "name": "database", "instances": [{"attributes": {"name": "tf-tutu"}}]},
          {"module": "module.core", "mode": "managed", "type": "terraform_data",
           "name": "nomad", "instances": [{"attributes": {"input": {"value":
             {"type": "openstack_compute_instance_v2", "name": "tf-tete"}, "type": ["object", {}]}}}]},
          {"module": "module.core", "mode": "managed", "type": "openstack_compute_secgroup_v2",
           "name": "tf_tata", "instances": [{"attributes": {"name": "tf_tata"}}]}
        ]}"#;
        let vms: Vec<String> = instances(raw)
            .unwrap()
            .into_iter()
            .filter(Instance::is_vm)
            .filter_map(|i| i.name)
            .collect();
        assert_eq!(vms, ["tf-tutu", "tf-tete"]);
    }

    #[test]
    fn no_state_yet_is_no_resource_and_garbage_is_an_error() {
        assert!(addresses(b"").unwrap().is_empty());
        assert!(addresses(b"\n").unwrap().is_empty());
        assert!(addresses(b"not json").is_err());
    }
}
