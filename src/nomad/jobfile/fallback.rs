//! The tolerant path: the block structure from the lexer's tokens, for job files that
//! strict HCL2 rejects (repeated attributes, quoted attribute names, several attributes
//! on one line, `,` between attributes).
//!
//! Grammar understood, per body: `key = value` where key is an identifier or a quoted
//! string and value runs to the end of the line (or a `,`, a `}` or the next `key =`
//! on the same line) outside brackets; and `ident label* { body }` where labels are
//! identifiers or quoted strings.

use std::ops::Range;

use super::error::JobFileError;
use super::lexer::{lex, Kind, Token};
use super::lines::LineIndex;
use super::tree::{Attr, Block, Node, Value};

pub(crate) fn parse(src: &str) -> Result<Vec<Node>, JobFileError> {
    let tokens: Vec<Token> = lex(src)?
        .into_iter()
        .filter(|t| t.kind != Kind::Comment)
        .collect();
    let mut parser = Parser {
        src,
        tokens,
        i: 0,
        lines: LineIndex::new(src),
    };
    parser.body(None)
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    i: usize,
    lines: LineIndex,
}

impl Parser<'_> {
    fn kind(&self, i: usize) -> Option<Kind> {
        self.tokens.get(i).map(|t| t.kind)
    }

    fn line(&self, i: usize) -> usize {
        let offset = self.tokens.get(i).map_or(self.src.len(), |t| t.range.start);
        self.lines.line(offset)
    }

    fn malformed(&self, i: usize, message: impl Into<String>) -> JobFileError {
        JobFileError::Malformed {
            line: self.line(i),
            message: message.into(),
        }
    }

    fn text(&self, i: usize) -> &str {
        &self.src[self.tokens[i].range.clone()]
    }

    /// A key or label: an identifier, or a quoted string's content.
    fn name(&self, i: usize) -> String {
        let token = &self.tokens[i];
        match token.kind {
            Kind::Str => self.src[token.inner.clone()].to_string(),
            _ => self.text(i).to_string(),
        }
    }

    /// Parses a body up to its closing `}` (when `open` holds the line of the block
    /// that opened it) or to the end of the text.
    fn body(&mut self, open: Option<usize>) -> Result<Vec<Node>, JobFileError> {
        let mut nodes = Vec::new();
        loop {
            match self.kind(self.i) {
                None => {
                    return match open {
                        Some(line) => Err(JobFileError::Malformed {
                            line,
                            message: "block is never closed (missing `}`)".to_string(),
                        }),
                        None => Ok(nodes),
                    }
                }
                Some(Kind::Newline | Kind::Comma) => self.i += 1,
                Some(Kind::RBrace) if open.is_some() => {
                    self.i += 1;
                    return Ok(nodes);
                }
                Some(Kind::Ident | Kind::Str) => nodes.push(self.item()?),
                Some(_) => {
                    let what = self.text(self.i).to_string();
                    return Err(self.malformed(
                        self.i,
                        format!("unexpected `{what}` where an attribute or a block should start"),
                    ));
                }
            }
        }
    }

    /// An attribute or a block, starting at its key.
    fn item(&mut self) -> Result<Node, JobFileError> {
        let key_at = self.i;
        let key = self.name(key_at);
        self.i += 1;
        if self.kind(self.i) == Some(Kind::Eq) {
            self.i += 1;
            let value = self.value(key_at)?;
            return Ok(Node::Attr(Attr {
                key,
                line: self.line(key_at),
                value,
            }));
        }
        let mut labels = Vec::new();
        while let Some(Kind::Ident | Kind::Str) = self.kind(self.i) {
            labels.push(self.name(self.i));
            self.i += 1;
        }
        if self.kind(self.i) != Some(Kind::LBrace) {
            return Err(self.malformed(
                key_at,
                format!("`{key}` is followed by neither `=` nor a block"),
            ));
        }
        self.i += 1;
        let line = self.line(key_at);
        let body = self.body(Some(line))?;
        Ok(Node::Block(Block {
            ident: key,
            labels,
            line,
            body,
        }))
    }

    /// An attribute's value: tokens up to the end of the statement.
    fn value(&mut self, key_at: usize) -> Result<Value, JobFileError> {
        let start = self.i;
        let mut open: Vec<(Kind, usize)> = Vec::new();
        loop {
            let Some(kind) = self.kind(self.i) else {
                if let Some(&(_, at)) = open.last() {
                    return Err(self.malformed(at, "bracket is never closed"));
                }
                break;
            };
            if open.is_empty() {
                let ends = match kind {
                    Kind::Newline | Kind::Comma | Kind::RBrace => true,
                    // HCL1: `cpu = 1 memory = 2` on one line.
                    Kind::Ident | Kind::Str => {
                        self.i > start && self.kind(self.i + 1) == Some(Kind::Eq)
                    }
                    _ => false,
                };
                if ends {
                    break;
                }
            }
            match kind {
                Kind::LBrace | Kind::LBracket | Kind::LParen => open.push((kind, self.i)),
                Kind::RBrace | Kind::RBracket | Kind::RParen => {
                    let expected = match kind {
                        Kind::RBrace => Kind::LBrace,
                        Kind::RBracket => Kind::LBracket,
                        _ => Kind::LParen,
                    };
                    if open.pop().map(|(k, _)| k) != Some(expected) {
                        let what = self.text(self.i).to_string();
                        return Err(self.malformed(self.i, format!("unexpected `{what}`")));
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(self.malformed(key_at, "`=` is not followed by a value"));
        }
        let range: Range<usize> = self.tokens[start].range.start..self.tokens[self.i - 1].range.end;
        Ok(
            if self.i - start == 1 && self.tokens[start].kind == Kind::Str {
                Value::Str(range)
            } else {
                Value::Other(range)
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use crate::nomad::jobfile::tree::{Node, Value};
    use crate::nomad::jobfile::JobFileError;

    fn attrs(nodes: &[Node]) -> Vec<(String, Value)> {
        nodes
            .iter()
            .filter_map(|n| match n {
                Node::Attr(a) => Some((a.key.clone(), a.value.clone())),
                Node::Block(_) => None,
            })
            .collect()
    }

    #[test]
    fn hcl1_constructs() {
        let src =
            "meta {\n  \"a.b\" = \"x\"\n}\nr { cpu = 1 memory = 2 }\nx = 1, y = [1,\n 2]\nx = 3\n";
        let nodes = parse(src).unwrap();
        assert_eq!(nodes.len(), 5);
        let Node::Block(meta) = &nodes[0] else {
            panic!()
        };
        assert_eq!(attrs(&meta.body)[0].0, "a.b");
        let Node::Block(r) = &nodes[1] else { panic!() };
        let kv: Vec<_> = attrs(&r.body)
            .into_iter()
            .map(|(k, v)| match v {
                Value::Other(range) => (k, &src[range]),
                Value::Str(_) => panic!(),
            })
            .collect();
        assert_eq!(
            kv,
            vec![("cpu".to_string(), "1"), ("memory".to_string(), "2")]
        );
        let top = attrs(&nodes);
        assert_eq!(top.len(), 3);
        assert_eq!(
            top[1].1,
            Value::Other(src.find("[1,").unwrap()..src.find("2]").unwrap() + 2)
        );
    }

    #[test]
    fn values_and_lines() {
        let src = "job \"j\" {\n  # c\n  image = \"a:b\" // c\n  other = \"a\" + \"b\"\n}\n";
        let nodes = parse(src).unwrap();
        let Node::Block(job) = &nodes[0] else {
            panic!()
        };
        assert_eq!(
            (job.ident.as_str(), job.labels.as_slice(), job.line),
            ("job", &["j".to_string()][..], 1)
        );
        let Node::Attr(image) = &job.body[0] else {
            panic!()
        };
        assert_eq!(image.line, 3);
        let Value::Str(range) = &image.value else {
            panic!()
        };
        assert_eq!(&src[range.clone()], "\"a:b\"");
        let Node::Attr(other) = &job.body[1] else {
            panic!()
        };
        assert!(matches!(other.value, Value::Other(_)));
    }

    #[test]
    fn object_values_span_lines() {
        let src = "a = {\n  image = \"x\"\n}\nb = 2\n";
        let nodes = parse(src).unwrap();
        assert_eq!(nodes.len(), 2);
        assert!(nodes.iter().all(|n| matches!(n, Node::Attr(_))));
    }

    #[test]
    fn structural_errors_name_a_line() {
        assert_eq!(
            parse("a {\n  b = 1\n"),
            Err(JobFileError::Malformed {
                line: 1,
                message: "block is never closed (missing `}`)".into()
            })
        );
        assert!(matches!(
            parse("a = 1\n}\n"),
            Err(JobFileError::Malformed { line: 2, .. })
        ));
        assert!(matches!(
            parse("a = [1,\n2\n"),
            Err(JobFileError::Malformed { line: 1, .. })
        ));
        assert!(matches!(
            parse("a\nb = 1"),
            Err(JobFileError::Malformed { line: 1, .. })
        ));
        assert!(matches!(
            parse("x = (1]\n"),
            Err(JobFileError::Malformed { line: 1, .. })
        ));
    }
}
