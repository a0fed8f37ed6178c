//! The little a job file's structure tells us, whichever parser read it: blocks with
//! labels, and attributes whose value is either a quoted string or something else.
//! Both parsers produce this tree, and one function reads the images out of it, so the
//! strict and the tolerant path cannot disagree on what they look for.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Block(Block),
    Attr(Attr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    pub ident: String,
    pub labels: Vec<String>,
    /// 1-based line of the block's identifier.
    pub line: usize,
    pub body: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attr {
    pub key: String,
    /// 1-based line of the attribute's key.
    pub line: usize,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// A quoted string (possibly with templates); the range includes the quotes.
    Str(Range<usize>),
    /// Any other expression.
    Other(Range<usize>),
}
