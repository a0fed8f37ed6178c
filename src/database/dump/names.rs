//! The few statements and lines of a dump whose content csi reads: identifiers
//! (bare or double-quoted), COPY headers, `setval` calls, sequence ownership,
//! `\connect` lines and pg_dump's table-of-contents comments.

use std::fmt;

/// A schema-qualified name, unquoted.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct QualifiedName {
    pub schema: String,
    pub name: String,
}

impl QualifiedName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        QualifiedName {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// As SQL: `"cosims"."t"`, `"cosims"."Weird ""name"""`.
    pub fn sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// Quotes an identifier. Always: the names csi handles are exact (case and all), and
/// a quoted name can never be mistaken for a keyword.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// An SQL string literal (standard_conforming_strings on, as dumps set it).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Reads identifiers and punctuation from SQL text.
pub struct Tokens<'a> {
    text: &'a str,
}

impl<'a> Tokens<'a> {
    pub fn new(text: &'a str) -> Self {
        Tokens { text }
    }

    pub fn rest(&self) -> &'a str {
        self.text
    }

    fn skip_space(&mut self) {
        self.text = self.text.trim_start();
    }

    /// Consumes `word` (case-insensitive, as a whole word) if it comes next.
    pub fn keyword(&mut self, word: &str) -> bool {
        self.skip_space();
        let len = word.len();
        let matches = self.text.len() >= len
            && self.text.as_bytes()[..len].eq_ignore_ascii_case(word.as_bytes())
            && self
                .text
                .as_bytes()
                .get(len)
                .map_or(true, |b| !(b.is_ascii_alphanumeric() || *b == b'_'));
        if matches {
            self.text = &self.text[len..];
        }
        matches
    }

    /// Consumes a punctuation character if it comes next.
    pub fn punct(&mut self, c: char) -> bool {
        self.skip_space();
        if let Some(rest) = self.text.strip_prefix(c) {
            self.text = rest;
            true
        } else {
            false
        }
    }

    /// An identifier: bare (folded to lower case) or double-quoted (verbatim).
    pub fn ident(&mut self) -> Option<String> {
        self.skip_space();
        if let Some(rest) = self.text.strip_prefix('"') {
            let mut name = String::new();
            let mut chars = rest.char_indices();
            while let Some((i, c)) = chars.next() {
                if c == '"' {
                    if rest[i + 1..].starts_with('"') {
                        name.push('"');
                        chars.next();
                    } else {
                        self.text = &rest[i + 1..];
                        return Some(name);
                    }
                } else {
                    name.push(c);
                }
            }
            return None;
        }
        let len = self
            .text
            .char_indices()
            .find(|&(i, c)| {
                !(c.is_alphanumeric() || c == '_' || (i > 0 && c == '$') || !c.is_ascii())
            })
            .map_or(self.text.len(), |(i, _)| i);
        if len == 0 || self.text.as_bytes()[0].is_ascii_digit() {
            return None;
        }
        let name = self.text[..len].to_lowercase();
        self.text = &self.text[len..];
        Some(name)
    }

    /// `schema.name`; a bare `name` gets an empty schema.
    pub fn qualified(&mut self) -> Option<QualifiedName> {
        let first = self.ident()?;
        if self.punct('.') {
            Some(QualifiedName::new(first, self.ident()?))
        } else {
            Some(QualifiedName::new("", first))
        }
    }
}

/// `COPY schema.table (a, b) FROM stdin;`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyHeader {
    pub table: QualifiedName,
    pub columns: Vec<String>,
}

pub fn parse_copy_header(text: &str) -> Option<CopyHeader> {
    let mut t = Tokens::new(text);
    if !t.keyword("COPY") {
        return None;
    }
    let table = t.qualified()?;
    let mut columns = Vec::new();
    if t.punct('(') {
        loop {
            columns.push(t.ident()?);
            if t.punct(')') {
                break;
            }
            if !t.punct(',') {
                return None;
            }
        }
    }
    (t.keyword("FROM") && t.keyword("stdin") && t.punct(';'))
        .then_some(CopyHeader { table, columns })
}

/// Whether a complete statement is `COPY ... FROM stdin;` (data lines follow).
pub fn is_copy_from_stdin(text: &[u8]) -> bool {
    let trimmed = text.trim_ascii_end();
    text.len() > 5
        && text[..5].eq_ignore_ascii_case(b"COPY ")
        && trimmed.len() >= 11
        && trimmed[trimmed.len() - 11..].eq_ignore_ascii_case(b"FROM stdin;")
}

/// `SELECT pg_catalog.setval('schema.seq', 42, true);`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetVal {
    pub sequence: QualifiedName,
    pub value: i64,
    pub is_called: bool,
}

pub fn parse_setval(text: &str) -> Option<SetVal> {
    let rest = text
        .trim_start()
        .strip_prefix("SELECT pg_catalog.setval(")?;
    let rest = rest.strip_prefix('\'')?;
    let mut literal = String::new();
    let mut chars = rest.char_indices();
    let after = loop {
        let (i, c) = chars.next()?;
        if c == '\'' {
            if rest[i + 1..].starts_with('\'') {
                literal.push('\'');
                chars.next();
            } else {
                break &rest[i + 1..];
            }
        } else {
            literal.push(c);
        }
    };
    let mut t = Tokens::new(&literal);
    let sequence = t.qualified()?;
    let mut args = after.trim_start().strip_prefix(',')?.split(',');
    let value = args.next()?.trim().parse().ok()?;
    let is_called = args
        .next()?
        .split(')')
        .next()?
        .trim()
        .eq_ignore_ascii_case("true");
    Some(SetVal {
        sequence,
        value,
        is_called,
    })
}

/// A sequence feeding a column, from `ALTER SEQUENCE s OWNED BY t.c;` or an identity
/// column's `ALTER TABLE t ALTER COLUMN c ADD GENERATED ... (SEQUENCE NAME s ...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceOwner {
    pub sequence: QualifiedName,
    pub table: QualifiedName,
    pub column: String,
}

pub fn parse_sequence_owner(text: &str) -> Option<SequenceOwner> {
    let mut t = Tokens::new(text);
    if t.keyword("ALTER") && t.keyword("SEQUENCE") {
        let sequence = t.qualified()?;
        if !(t.keyword("OWNED") && t.keyword("BY")) {
            return None;
        }
        let mut parts = vec![t.ident()?];
        while t.punct('.') {
            parts.push(t.ident()?);
        }
        let column = parts.pop()?;
        let table = parts.pop()?;
        let schema = parts.pop().unwrap_or_default();
        return Some(SequenceOwner {
            sequence,
            table: QualifiedName::new(schema, table),
            column,
        });
    }
    let mut t = Tokens::new(text);
    if !(t.keyword("ALTER") && t.keyword("TABLE")) {
        return None;
    }
    t.keyword("ONLY");
    let table = t.qualified()?;
    if !(t.keyword("ALTER") && t.keyword("COLUMN")) {
        return None;
    }
    let column = t.ident()?;
    let rest = t.rest();
    let at = rest.find("SEQUENCE NAME")?;
    if !rest[..at].contains("ADD GENERATED") {
        return None;
    }
    let mut t = Tokens::new(&rest[at + "SEQUENCE NAME".len()..]);
    let sequence = t.qualified()?;
    Some(SequenceOwner {
        sequence,
        table,
        column,
    })
}

/// The database a `\connect` line switches to: `\connect name` or
/// `\connect -reuse-previous=on "dbname='name'"`.
pub fn parse_connect(line: &str) -> Option<String> {
    let rest = line
        .trim_end()
        .strip_prefix("\\connect")
        .or_else(|| line.trim_end().strip_prefix("\\c"))?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let rest = rest.trim_start();
    let rest = rest
        .strip_prefix("-reuse-previous=on")
        .map(str::trim_start)
        .unwrap_or(rest);
    let arg = if let Some(quoted) = rest.strip_prefix('"') {
        // psql's double quotes: `""` is a quote.
        let mut arg = String::new();
        let mut chars = quoted.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    arg.push('"');
                    chars.next();
                } else {
                    break;
                }
            } else {
                arg.push(c);
            }
        }
        arg
    } else if let Some(quoted) = rest.strip_prefix('\'') {
        quoted.split('\'').next()?.to_owned()
    } else {
        rest.split_whitespace().next()?.to_owned()
    };
    match arg.strip_prefix("dbname=") {
        Some(value) => conninfo_value(value),
        None => Some(arg),
    }
}

/// A libpq connection-string value: bare, or single-quoted with backslash escapes.
fn conninfo_value(value: &str) -> Option<String> {
    let Some(quoted) = value.strip_prefix('\'') else {
        return Some(value.split_whitespace().next()?.to_owned());
    };
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '\'' => return Some(out),
            c => out.push(c),
        }
    }
    None
}

/// pg_dump's comment before every object: `-- Name: t; Type: TABLE; Schema: s; Owner: o`
/// (`-- Data for Name: ...` before table data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TocEntry {
    pub name: String,
    pub kind: String,
    /// `-` for objects outside any schema.
    pub schema: String,
}

pub fn parse_toc(line: &str) -> Option<TocEntry> {
    let line = line.trim_end();
    let rest = line
        .strip_prefix("-- Name: ")
        .or_else(|| line.strip_prefix("-- Data for Name: "))?;
    let rest = match rest.rfind("; Tablespace: ") {
        Some(at) if !rest[at..].contains("; Owner: ") => &rest[..at],
        _ => rest,
    };
    let (rest, _owner) = rest.rsplit_once("; Owner:")?;
    let (rest, schema) = rest.rsplit_once("; Schema: ")?;
    let (name, kind) = rest.rsplit_once("; Type: ")?;
    Some(TocEntry {
        name: name.to_owned(),
        kind: kind.to_owned(),
        schema: schema.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_headers_with_quoted_names() {
        let h = parse_copy_header(
            "COPY cosims.\"Weird \"\"name\"\"\" (id, \"Val\", \"time\") FROM stdin;\n",
        )
        .unwrap();
        assert_eq!(h.table, QualifiedName::new("cosims", "Weird \"name\""));
        assert_eq!(h.columns, ["id", "Val", "time"]);
        assert_eq!(h.table.sql(), "\"cosims\".\"Weird \"\"name\"\"\"");
        assert!(is_copy_from_stdin(b"COPY cosims.t (a) FROM stdin;\n"));
        assert!(!is_copy_from_stdin(b"COMMENT ON TABLE t IS 'x';\n"));
    }

    #[test]
    fn setval_calls() {
        let s = parse_setval(
            "SELECT pg_catalog.setval('cosims.\"Weird \"\"name\"\"_id_seq\"', 4, true);\n",
        )
        .unwrap();
        assert_eq!(
            s.sequence,
            QualifiedName::new("cosims", "Weird \"name\"_id_seq")
        );
        assert_eq!((s.value, s.is_called), (4, true));
        let s = parse_setval("SELECT pg_catalog.setval('cosims.other_jobs_id_seq', 1, false);")
            .unwrap();
        assert!(!s.is_called);
    }

    #[test]
    fn sequence_owners_from_serial_and_identity() {
        let o = parse_sequence_owner(
            "ALTER SEQUENCE cosims.fsc_rlie_jobs_id_seq OWNED BY cosims.fsc_rlie_jobs.id;\n",
        )
        .unwrap();
        assert_eq!(o.table, QualifiedName::new("cosims", "fsc_rlie_jobs"));
        assert_eq!(o.column, "id");
        let o = parse_sequence_owner(
            "ALTER TABLE cosims.\"Weird \"\"name\"\"\" ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (\n    SEQUENCE NAME cosims.\"Weird \"\"name\"\"_id_seq\"\n    START WITH 1\n);\n",
        )
        .unwrap();
        assert_eq!(o.sequence.name, "Weird \"name\"_id_seq");
        assert_eq!(o.table.name, "Weird \"name\"");
        assert!(parse_sequence_owner(
            "ALTER TABLE ONLY cosims.t ALTER COLUMN id SET DEFAULT nextval('x');"
        )
        .is_none());
    }

    #[test]
    fn connect_lines_in_both_forms() {
        assert_eq!(
            parse_connect("\\connect cosims\n").as_deref(),
            Some("cosims")
        );
        assert_eq!(
            parse_connect("\\connect -reuse-previous=on \"dbname='other db'\"\n").as_deref(),
            Some("other db")
        );
        assert_eq!(
            parse_connect("\\connect -reuse-previous=on \"dbname='it\\'s \"\"q\"\"'\"\n")
                .as_deref(),
            Some("it's \"q\"")
        );
        assert_eq!(parse_connect("\\connectx"), None);
    }

    #[test]
    fn toc_comments() {
        let e =
            parse_toc("-- Name: Weird \"name\"; Type: TABLE; Schema: cosims; Owner: postgres\n")
                .unwrap();
        assert_eq!(
            (e.name.as_str(), e.kind.as_str(), e.schema.as_str()),
            ("Weird \"name\"", "TABLE", "cosims")
        );
        let e =
            parse_toc("-- Data for Name: stuff; Type: TABLE DATA; Schema: public; Owner: postgres")
                .unwrap();
        assert_eq!(e.kind, "TABLE DATA");
        let e =
            parse_toc("-- Name: EXTENSION pgcrypto; Type: COMMENT; Schema: -; Owner: ").unwrap();
        assert_eq!(
            (e.name.as_str(), e.schema.as_str()),
            ("EXTENSION pgcrypto", "-")
        );
        let e =
            parse_toc("-- Name: t; Type: TABLE; Schema: s; Owner: o; Tablespace: fast").unwrap();
        assert_eq!(e.schema, "s");
        assert!(parse_toc("-- PostgreSQL database dump complete").is_none());
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("parent_jobs"), "\"parent_jobs\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
