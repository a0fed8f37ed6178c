//! Strict HCL2 parsing through hcl-rs, lowered into the shared tree.

use super::tree::{Block, Body, Val};
use hcl::{BlockLabel, Expression, ObjectKey, Structure, TemplateExpr};

/// A parse failure with a Nomad-like `input.hcl:L,C-C: message` rendering.
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "input.hcl:{},{}-{}: {}",
            self.line,
            self.column,
            self.column + 1,
            self.message
        )
    }
}

pub fn parse(src: &str) -> Result<Body, SyntaxError> {
    match hcl::parse(src) {
        Ok(body) => Ok(lower_body(&body)),
        Err(hcl::Error::Parse(e)) => Err(SyntaxError {
            line: e.location().line(),
            column: e.location().column(),
            message: e.message().to_string(),
        }),
        Err(other) => Err(SyntaxError {
            line: 1,
            column: 1,
            message: other.to_string(),
        }),
    }
}

fn lower_body(body: &hcl::Body) -> Body {
    let mut out = Body::default();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) => out
                .attrs
                .push((attr.key.as_str().to_string(), lower_expr(&attr.expr))),
            Structure::Block(block) => out.blocks.push(Block {
                kind: block.identifier.as_str().to_string(),
                labels: block
                    .labels
                    .iter()
                    .map(|l| match l {
                        BlockLabel::Identifier(i) => i.as_str().to_string(),
                        BlockLabel::String(s) => s.clone(),
                    })
                    .collect(),
                body: lower_body(&block.body),
            }),
        }
    }
    out
}

fn lower_expr(expr: &Expression) -> Val {
    match expr {
        Expression::Null => Val::Null,
        Expression::Bool(b) => Val::Bool(*b),
        Expression::Number(n) => Val::Num(number(n)),
        Expression::String(s) => Val::Str(s.clone()),
        Expression::Array(items) => Val::List(items.iter().map(lower_expr).collect()),
        Expression::Object(obj) => Val::Map(
            obj.iter()
                .map(|(k, v)| (object_key(k), lower_expr(v)))
                .collect(),
        ),
        Expression::TemplateExpr(t) => Val::Str(match t.as_ref() {
            TemplateExpr::QuotedString(s) => s.clone(),
            TemplateExpr::Heredoc(h) => h.template.clone(),
        }),
        Expression::Parenthesis(inner) => lower_expr(inner),
        other => Val::Expr(hcl::format::to_string(other).unwrap_or_default()),
    }
}

fn object_key(key: &ObjectKey) -> String {
    match key {
        ObjectKey::Identifier(i) => i.as_str().to_string(),
        ObjectKey::Expression(Expression::String(s)) => s.clone(),
        ObjectKey::Expression(e) => hcl::format::to_string(e).unwrap_or_default(),
        _ => String::new(),
    }
}

fn number(n: &hcl::Number) -> serde_json::Number {
    if let Some(i) = n.as_i64() {
        i.into()
    } else if let Some(u) = n.as_u64() {
        u.into()
    } else {
        n.as_f64()
            .and_then(serde_json::Number::from_f64)
            .unwrap_or_else(|| 0.into())
    }
}
