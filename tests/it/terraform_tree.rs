//! Static checks of the terraform trees under `terraform/` (no tofu needed).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use hcl::{Body, Expression};

fn terraform_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("terraform")
}

/// Every `*.tf` and `*.tfvars*` file under `dir`, skipping `.terraform/`.
fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != ".terraform" {
                collect_files(&path, out);
            }
        } else if name.ends_with(".tf") || name.contains(".tfvars") {
            out.push(path);
        }
    }
}

fn parse_file(path: &Path) -> Body {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    hcl::parse(&text).unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
}

/// Parsed bodies of the `*.tf` files directly in `dir`.
fn tf_bodies(dir: &Path) -> Vec<(PathBuf, Body)> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no *.tf file in {}", dir.display());
    paths
        .into_iter()
        .map(|p| {
            let body = parse_file(&p);
            (p, body)
        })
        .collect()
}

fn resource_addresses(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for (_, body) in tf_bodies(dir) {
        for block in body.blocks().filter(|b| b.identifier() == "resource") {
            let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
            out.push(labels.join("."));
        }
    }
    out.sort();
    out
}

struct Variable {
    name: String,
    sensitive: bool,
    has_default: bool,
}

fn root_variables(root: &Path) -> Vec<Variable> {
    let mut vars = Vec::new();
    for (_, body) in tf_bodies(root) {
        for block in body.blocks().filter(|b| b.identifier() == "variable") {
            let name = block.labels()[0].as_str().to_owned();
            let attr = |key: &str| {
                block
                    .body()
                    .attributes()
                    .find(|a| a.key() == key)
                    .map(|a| a.expr().clone())
            };
            vars.push(Variable {
                sensitive: matches!(attr("sensitive"), Some(Expression::Bool(true))),
                has_default: attr("default").is_some(),
                name,
            });
        }
    }
    vars
}

/// Names assigned at top level in a var file.
fn assigned_names(path: &Path) -> BTreeSet<String> {
    parse_file(path)
        .attributes()
        .map(|a| a.key().to_owned())
        .collect()
}

fn is_secret_name(name: &str) -> bool {
    name.contains("secret") || name.contains("token")
}

#[test]
fn every_terraform_file_parses() {
    let mut files = Vec::new();
    collect_files(&terraform_dir(), &mut files);
    files.sort();
    let tf = files
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .count();
    let tfvars = files.len() - tf;
    assert!(
        tf >= 15,
        "only {tf} *.tf files found under terraform/: {files:?}"
    );
    assert!(
        tfvars >= 6,
        "only {tfvars} *.tfvars* files found under terraform/: {files:?}"
    );
    for file in &files {
        parse_file(file);
    }
}

#[test]
fn sandbox_core_has_13_stand_ins() {
    let dir = terraform_dir().join("sandbox/modules/core");
    let resources = resource_addresses(&dir);
    assert_eq!(resources.len(), 13, "{}: {resources:?}", dir.display());
    for vm in ["tf_tutu", "tf_tete", "tf_tata", "tf_titi"] {
        let address = format!("terraform_data.{vm}");
        assert!(resources.contains(&address), "no {address}: {resources:?}");
    }
}

/// terraform/openstack keeps the real deployment's addresses (core/*.tf and cold/*.tf
/// of its terraform tree), so an operator takes the existing state over without moves.
#[test]
fn openstack_core_and_cold_keep_the_real_deployments_addresses() {
    let core = resource_addresses(&terraform_dir().join("openstack/modules/core"));
    let expected_core = [
        "openstack_compute_floatingip_associate_v2.database",
        "openstack_compute_floatingip_associate_v2.nomad_server",
        "openstack_compute_instance_v2.database",
        "openstack_compute_instance_v2.nomad_server",
        "openstack_compute_instance_v2.orchestrator",
        "openstack_compute_instance_v2.worker_template",
        "openstack_compute_secgroup_v2.nomad",
        "openstack_compute_secgroup_v2.postgrest",
        "openstack_networking_floatingip_v2.database",
        "openstack_networking_floatingip_v2.nomad_server",
    ];
    assert_eq!(core, expected_core);
    let cold = resource_addresses(&terraform_dir().join("openstack/modules/cold"));
    for address in [
        "openstack_blockstorage_volume_v2.database",
        "openstack_compute_keypair_v2.admin_local_key",
        "openstack_compute_keypair_v2.database_local_key",
        "openstack_networking_floatingip_v2.dashboard",
        "terraform_data.csi_environment",
    ] {
        assert!(
            cold.contains(&address.to_owned()),
            "no {address} in cold: {cold:?}"
        );
    }
    // The VM names status looks for, by attribute.
    let text: String = ["database", "nomad_server", "orchestrator", "worker"]
        .iter()
        .map(|f| {
            fs::read_to_string(terraform_dir().join(format!("openstack/modules/core/{f}.tf")))
                .unwrap()
        })
        .collect();
    for name in ["tf-tutu", "tf-tete", "tf-tata", "tf-titi"] {
        assert!(
            text.contains(&format!("name        = \"{name}\"")),
            "{name}"
        );
    }
}

#[test]
fn secret_variables_are_sensitive() {
    let mut names_by_tree = Vec::new();
    for tree in ["openstack", "sandbox"] {
        let root = terraform_dir().join(tree);
        let vars = root_variables(&root);
        assert!(vars.len() >= 5, "{tree}: only {} variables", vars.len());

        let secrets: BTreeSet<String> = vars
            .iter()
            .filter(|v| is_secret_name(&v.name))
            .map(|v| v.name.clone())
            .collect();
        assert!(
            secrets.len() >= 3,
            "{tree}: expected secret variables, got {secrets:?}"
        );
        for v in vars.iter().filter(|v| is_secret_name(&v.name)) {
            assert!(
                v.sensitive,
                "{tree}: variable {} must be `sensitive = true`",
                v.name
            );
        }

        let tag = vars.iter().find(|v| v.name == "csi_packages_tag");
        assert!(
            tag.is_some_and(|t| !t.has_default),
            "{tree}: csi_packages_tag must be declared without a default"
        );

        // Var files: secrets only in *_secrets.tfvars*, never in the committed configuration.
        let sensitive: BTreeSet<String> = vars
            .iter()
            .filter(|v| v.sensitive)
            .map(|v| v.name.clone())
            .collect();
        for entry in fs::read_dir(&root).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with("_env_configuration.tfvars") {
                let leaked: Vec<String> = assigned_names(&path)
                    .intersection(&sensitive)
                    .cloned()
                    .collect();
                assert!(
                    leaked.is_empty(),
                    "{}: sets secrets {leaked:?}",
                    path.display()
                );
            } else if name.ends_with("_env_secrets.tfvars.example") {
                let assigned = assigned_names(&path);
                assert_eq!(
                    assigned,
                    sensitive,
                    "{}: must set exactly the sensitive variables",
                    path.display()
                );
            }
        }

        names_by_tree.push(vars.into_iter().map(|v| v.name).collect::<BTreeSet<_>>());
    }
    assert_eq!(
        names_by_tree[0], names_by_tree[1],
        "openstack and sandbox declare different variables"
    );
}
