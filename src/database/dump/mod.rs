//! Plain-text pg_dumpall streams, read once and never buffered: a chunked line reader
//! with a fast path for COPY data, an SQL statement lexer, the sections of a cluster
//! dump (globals, databases, pg_dump's table of contents), and a completeness check.

mod check;
mod lexer;
mod names;
mod reader;
mod scan;
mod sections;

pub use check::{ending_problems, structure_problems, Completeness, Verdict};
pub use names::{
    parse_copy_header, parse_sequence_owner, parse_setval, quote_ident, quote_literal, CopyHeader,
    QualifiedName, SequenceOwner, SetVal, TocEntry, Tokens,
};
pub use scan::{scan, Ending, Handler, ScanEnd, ScanError};
pub use sections::{created_database, leading_keywords, Marker, Meta, Place, Sections};
