//! The terraform source: which resources the state holds under the target, and which
//! VMs, read from the raw state (`state pull`) so that no provider has to start. VMs
//! are found by resource type and `name` attribute, whatever their labels.

use serde::Serialize;

use crate::settings::Settings;
use crate::terraform::{self, plan, state, Tree};

/// The four VMs of the real deployment's core module, always listed.
const VM_NAMES: &[&str] = &["tf-tutu", "tf-tete", "tf-tata", "tf-titi"];

#[derive(Debug, Serialize)]
pub struct TerraformSection {
    pub resources_under_target: usize,
    /// The four VMs (and any other VM under the target) and whether each is in the state.
    pub vms: Vec<(String, bool)>,
}

pub async fn section(settings: &Settings) -> anyhow::Result<TerraformSection> {
    let tf = terraform::locate(settings.terraform.binary.as_deref())?;
    let tree = Tree::new(tf, settings);
    if !tree.is_initialised() {
        tree.init().await?;
    }
    let under_target: Vec<state::Instance> = state::instances(&tree.pull_state().await?)?
        .into_iter()
        .filter(|i| plan::within(None, &i.address, &tree.target))
        .collect();
    Ok(TerraformSection {
        resources_under_target: under_target.len(),
        vms: vms(&under_target),
    })
}

fn vms(under_target: &[state::Instance]) -> Vec<(String, bool)> {
    let present: Vec<&str> = under_target
        .iter()
        .filter(|i| i.is_vm())
        .filter_map(|i| i.name.as_deref())
        .collect();
    let mut vms: Vec<(String, bool)> = VM_NAMES
        .iter()
        .map(|name| (name.to_string(), present.contains(name)))
        .collect();
    for name in present {
        if !VM_NAMES.contains(&name) {
            vms.push((name.to_owned(), true));
        }
    }
    vms
}
