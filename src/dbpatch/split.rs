//! Splitting a patch file into statements the way psql does: a `;` ends a statement
//! unless it is inside a string (`'...'`, `E'...'`), a quoted identifier, a
//! dollar-quoted body, a comment (`--`, nested `/* */`), parentheses, or the
//! `BEGIN ... END` body of a `CREATE [OR REPLACE] FUNCTION|PROCEDURE`. A backslash at
//! the start of a statement is a psql meta-command, to the end of its line.
//! Every statement keeps the line it starts on, so errors map back to the file.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sql,
    /// A psql meta-command (`\set ...`).
    Meta,
}

#[derive(Debug, Clone)]
pub struct Statement {
    pub kind: Kind,
    /// The text as in the file, from its first token through its `;`.
    pub text: String,
    /// 1-based line of the first token.
    pub line: usize,
    /// Leading words outside parentheses, upper-cased (`CREATE UNIQUE INDEX CONCURRENTLY`).
    pub words: Vec<String>,
}

impl Statement {
    /// The first line of the statement, for messages.
    pub fn head(&self) -> &str {
        self.text.lines().next().unwrap_or("").trim_end()
    }

    /// Line of the file for a 1-based character position in the statement's text.
    pub fn line_at(&self, position: usize) -> usize {
        let newlines = self
            .text
            .chars()
            .take(position.saturating_sub(1))
            .filter(|c| *c == '\n')
            .count();
        self.line + newlines
    }

    pub fn starts_with(&self, words: &[&str]) -> bool {
        self.words.len() >= words.len() && self.words.iter().zip(words).all(|(a, b)| a == b)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Words kept per statement for classification.
const MAX_WORDS: usize = 12;

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_char(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

/// `$tag$` or `$$` starting at `i`, when it is one.
fn dollar_tag(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if j < b.len() && b[j] == b'$' {
        return Some(2);
    }
    if j >= b.len() || !is_ident_start(b[j]) {
        return None;
    }
    while j < b.len() && is_ident_char(b[j]) && b[j] != b'$' {
        j += 1;
    }
    (j < b.len() && b[j] == b'$').then_some(j + 1 - i)
}

#[derive(Default)]
struct Current {
    start: Option<(usize, usize)>,
    paren: i32,
    begin_depth: u32,
    /// psql's heuristic: first letters of leading CREATE/OR/REPLACE/FUNCTION/PROCEDURE.
    routine: [u8; 4],
    identifiers: usize,
    words: Vec<String>,
}

impl Current {
    fn mark(&mut self, at: usize, line: usize) {
        if self.start.is_none() {
            self.start = Some((at, line));
        }
    }

    fn in_routine(&self) -> bool {
        let r = &self.routine;
        r[0] == b'c'
            && (r[1] == b'f'
                || r[1] == b'p'
                || (r[1] == b'o' && r[2] == b'r' && (r[3] == b'f' || r[3] == b'p')))
    }

    fn word(&mut self, word: &str) {
        let lower = word.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "create" | "function" | "procedure" | "or" | "replace"
        ) && self.identifiers < self.routine.len()
        {
            self.routine[self.identifiers] = lower.as_bytes()[0];
        }
        self.identifiers += 1;
        if self.in_routine() && self.paren == 0 {
            match lower.as_str() {
                "begin" => self.begin_depth += 1,
                "case" if self.begin_depth >= 1 => self.begin_depth += 1,
                "end" if self.begin_depth > 0 => self.begin_depth -= 1,
                _ => {}
            }
        }
        if self.paren == 0 && self.words.len() < MAX_WORDS {
            self.words.push(word.to_ascii_uppercase());
        }
    }
}

pub fn split(text: &str) -> Result<Vec<Statement>, SplitError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut cur = Current::default();
    let mut i = 0;
    let mut line = 1;
    let push = |out: &mut Vec<Statement>, cur: &mut Current, end: usize| {
        if let Some((start, start_line)) = cur.start {
            out.push(Statement {
                kind: Kind::Sql,
                text: text[start..end].trim_end().to_owned(),
                line: start_line,
                words: std::mem::take(&mut cur.words),
            });
        }
        *cur = Current::default();
    };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'-' if next == Some(b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if next == Some(b'*') => {
                let opened = line;
                let mut depth = 0;
                loop {
                    if i >= b.len() {
                        return Err(SplitError {
                            line: opened,
                            message: "unterminated /* comment".into(),
                        });
                    }
                    match (b[i], b.get(i + 1).copied()) {
                        (b'/', Some(b'*')) => {
                            depth += 1;
                            i += 2;
                        }
                        (b'*', Some(b'/')) => {
                            depth -= 1;
                            i += 2;
                            if depth == 0 {
                                break;
                            }
                        }
                        (b'\n', _) => {
                            line += 1;
                            i += 1;
                        }
                        _ => i += 1,
                    }
                }
            }
            b'\\' if cur.start.is_none() => {
                let start = i;
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                let meta = text[start..i].trim_end();
                out.push(Statement {
                    kind: Kind::Meta,
                    text: meta.to_owned(),
                    line,
                    words: vec![meta.split_whitespace().next().unwrap_or("\\").to_owned()],
                });
            }
            b'\'' => {
                cur.mark(i, line);
                let escapes =
                    i > 0 && matches!(b[i - 1], b'E' | b'e') && (i < 2 || !is_ident_char(b[i - 2]));
                let opened = line;
                i += 1;
                loop {
                    match b.get(i) {
                        None => {
                            return Err(SplitError {
                                line: opened,
                                message: "unterminated quoted string".into(),
                            })
                        }
                        Some(b'\\') if escapes => i += 2,
                        Some(b'\'') if b.get(i + 1) == Some(&b'\'') => i += 2,
                        Some(b'\'') => {
                            i += 1;
                            break;
                        }
                        Some(b'\n') => {
                            line += 1;
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'"' => {
                cur.mark(i, line);
                let opened = line;
                let start = i;
                i += 1;
                loop {
                    match b.get(i) {
                        None => {
                            return Err(SplitError {
                                line: opened,
                                message: "unterminated quoted identifier".into(),
                            })
                        }
                        Some(b'"') if b.get(i + 1) == Some(&b'"') => i += 2,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\n') => {
                            line += 1;
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
                if cur.paren == 0 && cur.words.len() < MAX_WORDS {
                    cur.words.push(text[start..i].to_owned());
                }
            }
            b'$' if (i == 0 || !is_ident_char(b[i - 1])) && dollar_tag(b, i).is_some() => {
                cur.mark(i, line);
                // The guard has just found the tag; 1 (a lone `$`) is never taken.
                let len = dollar_tag(b, i).unwrap_or(1);
                let tag = &b[i..i + len];
                let opened = line;
                i += len;
                loop {
                    if i >= b.len() {
                        return Err(SplitError {
                            line: opened,
                            message: format!(
                                "unterminated dollar-quoted string {}",
                                String::from_utf8_lossy(tag)
                            ),
                        });
                    }
                    if b[i..].starts_with(tag) {
                        i += len;
                        break;
                    }
                    if b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            b'(' => {
                cur.mark(i, line);
                cur.paren += 1;
                i += 1;
            }
            b')' => {
                cur.mark(i, line);
                cur.paren = (cur.paren - 1).max(0);
                i += 1;
            }
            b';' => {
                cur.mark(i, line);
                i += 1;
                if cur.paren == 0 && cur.begin_depth == 0 {
                    push(&mut out, &mut cur, i);
                }
            }
            c if is_ident_start(c) => {
                cur.mark(i, line);
                let start = i;
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
                cur.word(&text[start..i]);
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                cur.mark(i, line);
                i += 1;
            }
        }
    }
    push(&mut out, &mut cur, b.len());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(text: &str) -> Vec<(usize, String)> {
        split(text)
            .unwrap()
            .into_iter()
            .map(|s| (s.line, s.text))
            .collect()
    }

    #[test]
    fn semicolons_in_strings_comments_and_bodies_do_not_split() {
        let text = "-- a; comment\nselect 'a;b', \"x;y\" from t; /* c; /* nested; */ still; */\n\
                    create function f() returns int language plpgsql as $body$\nbegin\n  return 1;\nend\n$body$;\n\
                    select E'it\\'s; fine';\nselect $$;$$";
        let got = sql(text);
        assert_eq!(got.len(), 4, "{got:#?}");
        assert_eq!(got[0], (2, "select 'a;b', \"x;y\" from t;".to_owned()));
        assert_eq!(got[1].0, 3);
        assert!(got[1].1.ends_with("$body$;"));
        assert_eq!(got[2], (8, "select E'it\\'s; fine';".to_owned()));
        assert_eq!(got[3], (9, "select $$;$$".to_owned()));
    }

    #[test]
    fn begin_atomic_bodies_keep_their_semicolons() {
        let text = "create or replace procedure p() language sql\nbegin atomic\n  insert into t values (1);\n  select case when true then 1 end;\nend;\nselect 2;";
        let got = sql(text);
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(got[0].1.ends_with("end;"));
        assert_eq!(got[1], (6, "select 2;".to_owned()));
    }

    #[test]
    fn parentheses_hold_semicolons_like_psql() {
        let got = sql("create rule r as on insert to t do also (insert into a values (1); insert into b values (2));\nselect 1;");
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn meta_commands_and_words() {
        let all = split("\\set ON_ERROR_STOP 1\nCREATE UNIQUE INDEX CONCURRENTLY i ON t (a);\nreindex (verbose) table concurrently t;").unwrap();
        assert_eq!(all[0].kind, Kind::Meta);
        assert_eq!(all[0].words, vec!["\\set"]);
        assert_eq!(
            all[1].words[..4],
            ["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY"]
        );
        assert_eq!(all[2].words[..3], ["REINDEX", "TABLE", "CONCURRENTLY"]);
    }

    #[test]
    fn positions_map_to_lines() {
        let all = split("\n\nselect 1,\n  nope\nfrom t;").unwrap();
        let s = &all[0];
        assert_eq!(s.line, 3);
        let position = s.text.find("nope").unwrap() + 1;
        assert_eq!(s.line_at(position), 4);
    }

    #[test]
    fn unterminated_literals_are_errors_with_their_line() {
        assert_eq!(split("select 1;\nselect 'oops;\n").unwrap_err().line, 2);
        assert_eq!(split("select $f$ x").unwrap_err().line, 1);
        assert_eq!(split("/* x").unwrap_err().line, 1);
    }

    #[test]
    fn a_trailing_statement_without_semicolon_is_kept() {
        assert_eq!(
            sql("select 1;\nselect 2\n"),
            vec![(1, "select 1;".into()), (2, "select 2".into())]
        );
    }
}
