//! Finds the line of a key path (`environment.prod.terraform.dir`) in an HCL file, so
//! that configuration errors can name file, line and key.

use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span;

/// The 1-based line of the deepest element of `path` present in `source`, if any.
pub fn line_of(source: &str, path: &[String]) -> Option<usize> {
    let body = hcl_edit::parser::parse_body(source).ok()?;
    let offset = deepest_offset(&body, path)?;
    Some(line_at(source, offset))
}

pub fn line_at(source: &str, offset: usize) -> usize {
    source[..offset.min(source.len())].matches('\n').count() + 1
}

fn deepest_offset(body: &Body, path: &[String]) -> Option<usize> {
    let (first, rest) = path.split_first()?;
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) if attr.key.as_str() == first => {
                return attr.span().map(|s| s.start);
            }
            Structure::Block(block) if block.ident.as_str() == first => {
                let labels: Vec<&str> = block.labels.iter().map(|l| l.as_str()).collect();
                let Some(inner) = strip_labels(rest, &labels) else {
                    continue;
                };
                let here = block.span().map(|s| s.start);
                return deepest_offset(&block.body, inner).or(here);
            }
            _ => {}
        }
    }
    None
}

/// The path after the block's labels, when the path names this block.
fn strip_labels<'a>(path: &'a [String], labels: &[&str]) -> Option<&'a [String]> {
    if labels.is_empty() {
        return Some(path);
    }
    if path.len() < labels.len() {
        // The path stops at the block itself (e.g. "missing field" in it).
        let named = path.iter().zip(labels).all(|(p, l)| p == l);
        return named.then_some(&path[path.len()..]);
    }
    let named = path.iter().zip(labels).all(|(p, l)| p == l);
    named.then_some(&path[labels.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(String::from).collect()
    }

    const SOURCE: &str = r#"state_dir = "x"

environment "prod" {
  protected = true
  terraform {
    dir = "a"
    parallelism = "two"
  }
}

environment "test" {
  terraform {
    dir = "b"
  }
}
"#;

    #[test]
    fn finds_attribute_inside_labeled_block() {
        assert_eq!(
            line_of(SOURCE, &path("environment.prod.terraform.parallelism")),
            Some(7)
        );
        assert_eq!(
            line_of(SOURCE, &path("environment.test.terraform.dir")),
            Some(13)
        );
    }

    #[test]
    fn falls_back_to_the_enclosing_block() {
        assert_eq!(
            line_of(SOURCE, &path("environment.test.terraform.expected_add")),
            Some(12)
        );
        assert_eq!(line_of(SOURCE, &path("environment.test")), Some(11));
    }
}
