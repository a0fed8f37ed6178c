//! The strict path: hcl-edit's HCL2 parser, read for its structure and byte spans only.
//! The document is never re-serialised (hcl-edit's encoder may normalise things); the
//! spans point back into the original text.

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span;

use super::error::JobFileError;
use super::lines::LineIndex;
use super::tree::{Attr, Block, Node, Value};

pub(crate) fn parse(src: &str) -> Result<Vec<Node>, JobFileError> {
    let body = hcl_edit::parser::parse_body(src).map_err(|e| JobFileError::Syntax {
        line: e.location().line(),
        message: e.message().to_string(),
    })?;
    convert(&body, &LineIndex::new(src))
}

fn missing_span(what: &str) -> JobFileError {
    JobFileError::Internal(format!("the HCL parser gave no position for {what}"))
}

fn convert(body: &Body, lines: &LineIndex) -> Result<Vec<Node>, JobFileError> {
    body.iter()
        .map(|structure| match structure {
            Structure::Attribute(attr) => {
                let key = attr.key.span().ok_or_else(|| missing_span("a key"))?;
                let range = attr.value.span().ok_or_else(|| missing_span("a value"))?;
                let value = match &attr.value {
                    Expression::String(_) | Expression::StringTemplate(_) => Value::Str(range),
                    _ => Value::Other(range),
                };
                Ok(Node::Attr(Attr {
                    key: attr.key.as_str().to_string(),
                    line: lines.line(key.start),
                    value,
                }))
            }
            Structure::Block(block) => {
                let ident = block.ident.span().ok_or_else(|| missing_span("a block"))?;
                Ok(Node::Block(Block {
                    ident: block.ident.as_str().to_string(),
                    labels: block
                        .labels
                        .iter()
                        .map(|l| l.as_str().to_string())
                        .collect(),
                    line: lines.line(ident.start),
                    body: convert(&block.body, lines)?,
                }))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::nomad::jobfile::tree::{Node, Value};
    use crate::nomad::jobfile::JobFileError;

    #[test]
    fn spans_point_into_the_original_text() {
        let src = "# c\njob \"j\" {\n  // c\n  image = \"a:b\" # c\n  n = 1\n}\n";
        let nodes = parse(src).unwrap();
        let Node::Block(job) = &nodes[0] else {
            panic!()
        };
        assert_eq!(job.line, 2);
        let Node::Attr(image) = &job.body[0] else {
            panic!()
        };
        assert_eq!(image.line, 4);
        let Value::Str(range) = &image.value else {
            panic!()
        };
        assert_eq!(&src[range.clone()], "\"a:b\"");
        let Node::Attr(n) = &job.body[1] else {
            panic!()
        };
        assert!(matches!(n.value, Value::Other(_)));
    }

    #[test]
    fn repeated_attributes_are_rejected() {
        assert!(matches!(
            parse("a = 1\na = 2\n"),
            Err(JobFileError::Syntax { line: 2, .. })
        ));
    }
}
