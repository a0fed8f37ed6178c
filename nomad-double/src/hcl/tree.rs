//! A small syntax tree shared by the strict (hcl-rs) and the tolerant parsers.

/// An attribute value. Expressions the double cannot evaluate stay as source text.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    /// A string or template; `${...}` sequences are kept verbatim.
    Str(String),
    List(Vec<Val>),
    Map(Vec<(String, Val)>),
    /// A bare expression (`var.image`, `upper("x")`) as source text.
    Expr(String),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Body {
    pub attrs: Vec<(String, Val)>,
    pub blocks: Vec<Block>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub kind: String,
    pub labels: Vec<String>,
    pub body: Body,
}

impl Body {
    pub fn attr(&self, key: &str) -> Option<&Val> {
        self.attrs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn blocks_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks.iter().filter(move |b| b.kind == kind)
    }
}

impl Val {
    /// Turns a map value into a body, for HCL1-era `config = { ... }` written as an attribute.
    pub fn as_body(&self) -> Option<Body> {
        match self {
            Val::Map(entries) => Some(Body {
                attrs: entries.clone(),
                blocks: Vec::new(),
            }),
            _ => None,
        }
    }
}
