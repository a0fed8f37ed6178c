//! The scientific software images per job type: the `docker_image_for_<type>_processing`
//! parameters found in the catalog (never a list in csi), and the image references
//! they accept (the docker reference grammar, with a tag or a sha256 digest).

use serde::Serialize;

use super::catalog::{closest, Catalog, Column};
use crate::error::{usage, CsiError};

const PREFIX: &str = "docker_image_for_";
const SUFFIX: &str = "_processing";

/// One job type's image parameter: `si` -> `docker_image_for_si_processing`.
#[derive(Debug, Clone, Serialize)]
pub struct ImageParameter {
    pub job_type: String,
    pub parameter: String,
}

/// The image parameters of the schema, in the catalog's column order.
pub fn image_parameters(catalog: &Catalog) -> Vec<ImageParameter> {
    catalog
        .columns
        .iter()
        .filter_map(|c| job_type_of(c).map(|t| (t, c)))
        .map(|(job_type, c)| ImageParameter {
            job_type,
            parameter: c.name.clone(),
        })
        .collect()
}

fn job_type_of(column: &Column) -> Option<String> {
    let middle = column.name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    (!middle.is_empty()).then(|| middle.to_owned())
}

/// The parameter for what the operator typed: the job type (`si`), the job type with
/// its suffix (`si_processing`) or the parameter's own name.
pub fn find<'a>(known: &'a [ImageParameter], wanted: &str) -> Result<&'a ImageParameter, CsiError> {
    let without_prefix = wanted.strip_prefix(PREFIX).unwrap_or(wanted);
    let bare = without_prefix
        .strip_suffix(SUFFIX)
        .unwrap_or(without_prefix);
    known.iter().find(|p| p.job_type == bare).ok_or_else(|| {
        let names: Vec<&str> = known.iter().map(|p| p.job_type.as_str()).collect();
        let near = closest(bare, names.iter().copied());
        let hint = if near.is_empty() {
            format!("known job types: {}", names.join(", "))
        } else {
            format!("did you mean {}? known job types: {}", near.join(", "), names.join(", "))
        };
        usage(format!(
            "unknown processing job type `{wanted}`: the schema has no {PREFIX}{bare}{SUFFIX} parameter"
        ))
        .with_hint(hint)
    })
}

/// Checks `reference` against the docker reference grammar: `[host[:port]/]path`
/// (lowercase components joined by `.`, `_`, `__` or dashes), then `:tag` and/or
/// `@sha256:<64 hex>`. One of tag or digest is required: a processing image is pinned.
pub fn validate_reference(reference: &str) -> Result<(), CsiError> {
    check_reference(reference).map_err(|problem| {
        usage(format!(
            "image `{reference}` is not a valid reference: {problem}"
        ))
        .with_hint(
            "write it as registry/path/name:tag or registry/path/name@sha256:<64 hex>, e.g. \
             registry.example/cosims/cosims/si_processing:git-4f2a91c7",
        )
    })
}

fn check_reference(reference: &str) -> Result<(), String> {
    if reference.is_empty() {
        return Err("it is empty".into());
    }
    if let Some(c) = reference
        .chars()
        .find(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!("it contains {c:?}"));
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (reference, None),
    };
    if let Some(digest) = digest {
        check_digest(digest)?;
    }
    let (name, tag) = split_tag(rest);
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    if tag.is_none() && digest.is_none() {
        return Err("it has neither a tag (`:tag`) nor a digest (`@sha256:...`)".into());
    }
    check_name(name)
}

/// The tag is after the last `:` that comes after the last `/` (a registry port is not a tag).
fn split_tag(rest: &str) -> (&str, Option<&str>) {
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    }
}

fn check_digest(digest: &str) -> Result<(), String> {
    let Some(hex) = digest.strip_prefix("sha256:") else {
        return Err(format!("digest `{digest}` is not `sha256:<64 hex digits>`"));
    };
    let valid = hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !valid {
        return Err(format!(
            "digest `{digest}` is not `sha256:` followed by 64 lowercase hex digits"
        ));
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    let first_ok = chars.next().is_some_and(word);
    let rest_ok = chars.all(|c| word(c) || c == '.' || c == '-');
    if !first_ok || !rest_ok || tag.len() > 128 {
        return Err(format!(
            "tag `{tag}` must start with a letter, digit or `_`, then up to 127 letters, digits, `_`, `.` or `-`"
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    if name.len() > 255 {
        return Err("the name is longer than 255 characters".into());
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 && is_domain_like(components[0]) {
        check_domain(components.remove(0))?;
    }
    components.into_iter().try_for_each(check_path_component)
}

/// Docker's rule: the first component is a registry when it has a `.` or a `:`, or is
/// `localhost`.
fn is_domain_like(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost"
}

fn check_domain(domain: &str) -> Result<(), String> {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("registry port `{port}` is not a number"));
        }
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if !host.split('.').all(label_ok) {
        return Err(format!(
            "registry `{host}` is not a host name (letters, digits and inner `-`, joined by `.`)"
        ));
    }
    Ok(())
}

fn check_path_component(component: &str) -> Result<(), String> {
    let lower_alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bad = || {
        Err(format!(
            "path component `{component}` must be lowercase letters and digits, joined by `.`, `_`, `__` or dashes"
        ))
    };
    let bytes: Vec<char> = component.chars().collect();
    if bytes.is_empty() || !lower_alnum(bytes[0]) || !lower_alnum(bytes[bytes.len() - 1]) {
        return bad();
    }
    // Separators between alphanumeric runs: `.`, `_`, `__`, or any number of `-`.
    let mut separator = String::new();
    for &c in &bytes {
        if lower_alnum(c) {
            let ok = matches!(separator.as_str(), "" | "." | "_" | "__")
                || separator.chars().all(|s| s == '-');
            if !ok {
                return bad();
            }
            separator.clear();
        } else if matches!(c, '.' | '_' | '-') {
            separator.push(c);
        } else {
            return bad();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str) -> Column {
        Column {
            name: name.into(),
            sql_type: "text".into(),
            kind: super::super::ParamType::Text { max_chars: None },
            nullable: true,
        }
    }

    #[test]
    fn image_parameters_come_from_the_catalog() {
        let catalog = Catalog {
            schema: "cosims".into(),
            columns: vec![
                column("max_number_of_vcpus"),
                column("docker_image_for_si_processing"),
                column("docker_image_for_sws_wds_processing"),
                column("docker_image_for__processing"),
            ],
            job_types: vec![],
        };
        let found = image_parameters(&catalog);
        let types: Vec<&str> = found.iter().map(|p| p.job_type.as_str()).collect();
        assert_eq!(types, ["si", "sws_wds"]);
        for spelling in ["si", "si_processing", "docker_image_for_si_processing"] {
            assert_eq!(
                find(&found, spelling).unwrap().parameter,
                "docker_image_for_si_processing"
            );
        }
        let err = find(&found, "sws").unwrap_err();
        assert!(err.hint.unwrap().contains("`sws_wds`"));
    }

    #[test]
    fn valid_references_pass() {
        for ok in [
            "registry.example/cosims/cosims/si_processing:git-4f2a91c7",
            "registry.example:5000/cosims/si__x.y-z:1.2.3",
            "localhost/si:latest",
            "cosims/si_processing:v1",
            "si:_x",
            &format!("reg.example/si@sha256:{}", "a".repeat(64)),
            &format!("reg.example/si:git-1@sha256:{}", "0".repeat(64)),
        ] {
            assert!(validate_reference(ok).is_ok(), "{ok} refused");
        }
    }

    #[test]
    fn invalid_references_say_what_is_wrong() {
        let cases = [
            ("registry.example/cosims/si_processing", "neither a tag"),
            (
                "registry.example/Cosims/si:git-1",
                "path component `Cosims`",
            ),
            ("registry.example/cosims/si:-bad", "tag `-bad`"),
            ("registry.example/cosims/si:a+b", "tag `a+b`"),
            ("registry.example/cosims/si@sha256:abc", "64 lowercase hex"),
            ("registry.example/cosims/si@md5:abc", "not `sha256:"),
            ("registry.example:x/si:1", "port `x`"),
            ("reg_istry.example/si:1", "registry `reg_istry.example`"),
            ("registry.example//si:1", "path component ``"),
            ("registry.example/si._x:1", "path component `si._x`"),
            ("registry.example/si:1 ", "contains ' '"),
            ("", "empty"),
        ];
        for (bad, needle) in cases {
            let err = validate_reference(bad).unwrap_err();
            assert!(err.message.contains(needle), "{bad}: {}", err.message);
            assert!(!err.message.contains('\n'));
        }
        let long_tag = format!("reg.example/si:{}", "a".repeat(129));
        assert!(validate_reference(&long_tag).is_err());
    }
}
