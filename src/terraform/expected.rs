//! The number of resources a stop destroys and a start creates, from the tree's own
//! configuration when csi.hcl does not say it: the `resource` blocks of the target
//! module's directory. A module whose count cannot be read from its files (`count`,
//! `for_each`, a nested module, a non-local source) needs `expected_add` and
//! `expected_destroy` in csi.hcl.

use std::path::{Path, PathBuf};

use hcl::Body;

use crate::error::{usage, CsiError};

/// The managed resources declared in the directory of `target` (`module.core`).
pub fn resources_in_target(tree: &Path, target: &str) -> Result<usize, CsiError> {
    let refuse = |why: String| {
        usage(format!(
            "cannot count the resources of {target} in {}: {why}",
            tree.display()
        ))
        .with_hint("set terraform.expected_add and terraform.expected_destroy in csi.hcl")
    };
    let name = target
        .strip_prefix("module.")
        .filter(|n| !n.contains('.') && !n.contains('['))
        .ok_or_else(|| refuse("the target is not one module of the root".into()))?;
    let dir = module_dir(tree, name).map_err(refuse)?;
    let mut count = 0;
    for (path, body) in bodies(&dir).map_err(refuse)? {
        if body.blocks().any(|b| b.identifier() == "module") {
            return Err(refuse(format!("{} calls a module", path.display())));
        }
        for block in body.blocks().filter(|b| b.identifier() == "resource") {
            let repeated = block
                .body()
                .attributes()
                .any(|a| a.key() == "count" || a.key() == "for_each");
            if repeated {
                return Err(refuse(format!("{} uses count or for_each", path.display())));
            }
            count += 1;
        }
    }
    Ok(count)
}

fn module_dir(tree: &Path, name: &str) -> Result<PathBuf, String> {
    for (_, body) in bodies(tree)? {
        for block in body.blocks().filter(|b| b.identifier() == "module") {
            if block.labels().first().map(|l| l.as_str()) != Some(name) {
                continue;
            }
            let source = block
                .body()
                .attributes()
                .find(|a| a.key() == "source")
                .and_then(|a| match a.expr() {
                    hcl::Expression::String(s) => Some(s.clone()),
                    _ => None,
                })
                .ok_or("the module has no literal source")?;
            if !(source.starts_with("./") || source.starts_with("../")) {
                return Err(format!("its source {source} is not a local directory"));
            }
            return Ok(tree.join(source));
        }
    }
    Err(format!("no module \"{name}\" in the root module"))
}

fn bodies(dir: &Path) -> Result<Vec<(PathBuf, Body)>, String> {
    let entries =
        fs_err::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = fs_err::read_to_string(&path).map_err(|e| e.to_string())?;
            let body =
                hcl::parse(&text).map_err(|e| format!("{} does not parse: {e}", path.display()))?;
            Ok((path, body))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(core: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(
            dir.path().join("main.tf"),
            "module \"core\" {\n  source = \"./modules/core\"\n}\n",
        )
        .unwrap();
        fs_err::create_dir_all(dir.path().join("modules/core")).unwrap();
        fs_err::write(dir.path().join("modules/core/a.tf"), core).unwrap();
        dir
    }

    #[test]
    fn counts_the_resource_blocks_of_the_target_module() {
        let dir = tree("resource \"a\" \"x\" {}\nresource \"b\" \"y\" {}\ndata \"c\" \"z\" {}\n");
        assert_eq!(resources_in_target(dir.path(), "module.core").unwrap(), 2);
        assert!(resources_in_target(dir.path(), "module.cold").is_err());
    }

    #[test]
    fn count_or_for_each_needs_the_numbers_in_csi_hcl() {
        let dir = tree("resource \"a\" \"x\" {\n  count = 3\n}\n");
        let err = resources_in_target(dir.path(), "module.core").unwrap_err();
        assert!(err.message.contains("count or for_each"), "{}", err.message);
    }

    #[test]
    fn the_project_trees_count_as_their_readmes_say() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(
            resources_in_target(&root.join("terraform/sandbox"), "module.core").unwrap(),
            13
        );
        assert_eq!(
            resources_in_target(&root.join("terraform/openstack"), "module.core").unwrap(),
            10
        );
    }
}
