//! Filling in a job file's template variables before submission, envsubst-style.
//!
//! `$NAME` and `${NAME}` are replaced when NAME is in the allow-list; everything else is
//! left as written: Nomad's `${node.class}`, `${attr.*}`, `${NOMAD_*}`, `$${...}` escapes,
//! `$$`, and `$VARS` outside the list. Where a reference sits decides how its value
//! is spliced:
//! - in a heredoc body: verbatim (multi-line env file contents). Nomad reads heredocs
//!   as templates too, so a `${...}` in the value is interpolated by Nomad, as it was
//!   with envsubst. A value line equal to the heredoc's closing marker is refused.
//! - in a quoted string: escaped so the string stays one valid HCL string holding
//!   exactly the value (`\` `"` newlines and control characters, and `${`/`%{`
//!   doubled so Nomad does not interpolate them).
//! - elsewhere (a bare `cpu = $CPU`): verbatim.
//! - in comments: not replaced, and not counted as a reference.
//!
//! Values may be secrets: no error message ever contains one.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::error::JobFileError;
use super::lexer::{lex, Kind};
use super::lines::LineIndex;

/// The variables the HR-S&I job files use.
pub const DEFAULT_TEMPLATE_VARIABLES: &[&str] = &[
    "CSI_ROOT_DIR",
    "CSI_CONFIG_ENV_FILE_CONTENT",
    "CSI_SECRETS_ENV_FILE_CONTENT",
    "GITLAB_TOKEN_PASSWORD",
];

/// An allow-listed variable referenced by the file but given no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingVariable {
    pub name: String,
    /// Every line referencing it.
    pub lines: Vec<usize>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    #[error("no value for {}", missing_list(.0))]
    Missing(Vec<MissingVariable>),

    #[error("line {line}: the value of {} contains a line `{marker}`, which would end the heredoc early", names.join(" or "))]
    ClosesHeredoc {
        line: usize,
        marker: String,
        names: Vec<String>,
    },

    #[error(transparent)]
    Syntax(#[from] JobFileError),
}

fn missing_list(missing: &[MissingVariable]) -> String {
    let mut out = String::new();
    for (i, m) in missing.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let lines: Vec<String> = m.lines.iter().map(usize::to_string).collect();
        let s = if m.lines.len() > 1 { "s" } else { "" };
        let _ = write!(out, "${} (line{s} {})", m.name, lines.join(", "));
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Bare,
    Quoted,
    Heredoc,
    Untouched,
}

/// Renders `source`: see the module documentation. `values` is asked once per
/// referenced allow-listed name; `None` means "no value" (an error naming every such
/// variable), `Some("")` is an empty value.
pub fn render(
    source: &str,
    allowed: &[&str],
    values: &dyn Fn(&str) -> Option<String>,
) -> Result<String, RenderError> {
    let lines = LineIndex::new(source);
    let mut renderer = Renderer {
        source,
        allowed,
        values,
        lines: &lines,
        cache: HashMap::new(),
        missing: Vec::new(),
        out: String::with_capacity(source.len()),
        spliced: Vec::new(),
    };
    let mut done = 0;
    for token in lex(source)? {
        let (context, region) = match token.kind {
            Kind::Str => (Context::Quoted, token.inner.clone()),
            Kind::Heredoc => (Context::Heredoc, token.inner.clone()),
            Kind::Comment => (Context::Untouched, token.range.clone()),
            _ => continue,
        };
        renderer.splice(done..region.start, Context::Bare);
        renderer.spliced.clear();
        let body_start = renderer.out.len();
        renderer.splice(region.clone(), context);
        if context == Context::Heredoc && !renderer.spliced.is_empty() {
            renderer.check_heredoc(body_start, &source[token.range.clone()])?;
        }
        done = region.end;
    }
    renderer.splice(done..source.len(), Context::Bare);
    if renderer.missing.is_empty() {
        Ok(renderer.out)
    } else {
        Err(RenderError::Missing(renderer.missing))
    }
}

struct Renderer<'a> {
    source: &'a str,
    allowed: &'a [&'a str],
    values: &'a dyn Fn(&str) -> Option<String>,
    lines: &'a LineIndex,
    cache: HashMap<&'a str, Option<String>>,
    missing: Vec<MissingVariable>,
    out: String,
    /// Names spliced into the current region, with the offset of the reference.
    spliced: Vec<(&'a str, usize)>,
}

fn ident_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    if !bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return 0;
    }
    bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count()
}

impl<'a> Renderer<'a> {
    /// Copies `source[range]` to the output, replacing references per `context`.
    fn splice(&mut self, range: std::ops::Range<usize>, context: Context) {
        let source: &'a str = self.source;
        let text = &source[range.clone()];
        if context == Context::Untouched {
            self.out.push_str(text);
            return;
        }
        let mut copied = 0;
        let mut i = 0;
        while let Some(found) = text[i..].find('$') {
            let at = i + found;
            let rest = &text[at + 1..];
            if rest.starts_with('$') {
                i = at + 2; // `$$`, `$${`: not ours
                continue;
            }
            let (name, len) = if let Some(braced) = rest.strip_prefix('{') {
                let n = ident_len(braced);
                if n > 0 && braced[n..].starts_with('}') {
                    (&braced[..n], n + 3)
                } else {
                    ("", 1)
                }
            } else {
                let n = ident_len(rest);
                (&rest[..n], n + 1)
            };
            if name.is_empty() || !self.allowed.contains(&name) {
                i = at + len;
                continue;
            }
            self.out.push_str(&text[copied..at]);
            let next = text[at + len..].chars().next();
            self.substitute(name, range.start + at, context, next);
            copied = at + len;
            i = copied;
        }
        self.out.push_str(&text[copied..]);
    }

    /// Appends the value of `name`; `next` is the character following the reference.
    fn substitute(&mut self, name: &'a str, offset: usize, context: Context, next: Option<char>) {
        let values = self.values;
        let value = self.cache.entry(name).or_insert_with(|| values(name));
        let Some(value) = value else {
            let line = self.lines.line(offset);
            match self.missing.iter_mut().find(|m| m.name == name) {
                Some(m) if !m.lines.contains(&line) => m.lines.push(line),
                Some(_) => {}
                None => self.missing.push(MissingVariable {
                    name: name.to_string(),
                    lines: vec![line],
                }),
            }
            return;
        };
        match context {
            Context::Quoted => {
                escape_into(&mut self.out, value);
                // `$` + a following `{` would make a template sequence.
                if next == Some('{') {
                    if let Some(last @ ('$' | '%')) = value.chars().last() {
                        self.out.push(last);
                    }
                }
            }
            _ => self.out.push_str(value),
        }
        self.spliced.push((name, offset));
    }

    /// After splicing into a heredoc body (written from `body_start` in the output),
    /// checks that no line of it now reads as the closing marker.
    fn check_heredoc(&self, body_start: usize, heredoc: &str) -> Result<(), RenderError> {
        let header = heredoc.lines().next().unwrap_or_default();
        let marker = header
            .trim_start_matches('<')
            .trim_start_matches('-')
            .trim_end_matches('\r');
        let closes = self.out[body_start..]
            .lines()
            .any(|line| line.trim_matches([' ', '\t', '\r']) == marker);
        if !closes {
            return Ok(());
        }
        let mut names: Vec<String> = Vec::new();
        for (name, _) in &self.spliced {
            if !names.iter().any(|n| n == name) {
                names.push((*name).to_string());
            }
        }
        let first = self.spliced.first().map_or(0, |(_, offset)| *offset);
        Err(RenderError::ClosesHeredoc {
            line: self.lines.line(first),
            marker: marker.to_string(),
            names,
        })
    }
}

/// Writes `value` as the content of an HCL quoted string.
fn escape_into(out: &mut String, value: &str) {
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{render, MissingVariable, RenderError, DEFAULT_TEMPLATE_VARIABLES};

    fn values(name: &str) -> Option<String> {
        match name {
            "CSI_ROOT_DIR" => Some("/opt/csi".into()),
            "CSI_CONFIG_ENV_FILE_CONTENT" => Some("A=1\nB=\"two\"\n".into()),
            "GITLAB_TOKEN_PASSWORD" => Some("s3cr\"t\\${x}".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn r(src: &str) -> Result<String, RenderError> {
        render(
            src,
            &[
                "CSI_ROOT_DIR",
                "CSI_CONFIG_ENV_FILE_CONTENT",
                "GITLAB_TOKEN_PASSWORD",
                "EMPTY",
                "MISSING",
                "OTHER",
            ],
            &values,
        )
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(r("a = \"$CSI_ROOT_DIR/x\"").unwrap(), "a = \"/opt/csi/x\"");
        assert_eq!(r("a = \"${CSI_ROOT_DIR}x\"").unwrap(), "a = \"/opt/csix\"");
        assert_eq!(
            r("p = \"$GITLAB_TOKEN_PASSWORD\"").unwrap(),
            r#"p = "s3cr\"t\\$${x}""#
        );
        assert_eq!(
            r("e = \"$CSI_CONFIG_ENV_FILE_CONTENT\"").unwrap(),
            r#"e = "A=1\nB=\"two\"\n""#
        );
        assert_eq!(r("a = \"[$EMPTY]\"").unwrap(), "a = \"[]\"");
        let dollar = render("a = \"$X{y}\"", &["X"], &|_| Some("p$".into())).unwrap();
        assert_eq!(dollar, "a = \"p$${y}\"");
    }

    #[test]
    fn heredocs_are_verbatim() {
        let src = "data = <<EOF\n$CSI_CONFIG_ENV_FILE_CONTENT\nEOF\n";
        assert_eq!(r(src).unwrap(), "data = <<EOF\nA=1\nB=\"two\"\n\nEOF\n");
    }

    #[test]
    fn nomad_interpolations_and_others_are_untouched() {
        let src = concat!(
            "a = \"${node.class} ${attr.unique.hostname} ${NOMAD_ALLOC_DIR} $${CSI_ROOT_DIR}\"\n",
            "b = \"$$CSI_ROOT_DIR $HOME ${HOME} $CSI_ROOT_DIRX $ ${ CSI_ROOT_DIR } $1\"\n",
            "# $CSI_ROOT_DIR and $MISSING in a comment\n",
            "c = <<EOF\n${NOMAD_TASK_DIR} {{ env \"X\" }} $$ $\nEOF\n",
        );
        assert_eq!(r(src).unwrap(), src);
    }

    #[test]
    fn bare_references() {
        assert_eq!(r("a = $CSI_ROOT_DIR\n").unwrap(), "a = /opt/csi\n");
    }

    #[test]
    fn every_missing_variable_is_named_with_its_lines() {
        let src = "a = \"$MISSING\"\nb = \"${OTHER}\"\nc = \"$MISSING $CSI_ROOT_DIR\"\nd = <<EOF\n$OTHER\nEOF\n";
        let err = r(src).unwrap_err();
        assert_eq!(
            err,
            RenderError::Missing(vec![
                MissingVariable {
                    name: "MISSING".into(),
                    lines: vec![1, 3]
                },
                MissingVariable {
                    name: "OTHER".into(),
                    lines: vec![2, 5]
                },
            ])
        );
        assert_eq!(
            err.to_string(),
            "no value for $MISSING (lines 1, 3), $OTHER (lines 2, 5)"
        );
    }

    #[test]
    fn a_value_that_would_close_the_heredoc_is_refused_without_showing_it() {
        let src = "data = <<EOF\n$CSI_CONFIG_ENV_FILE_CONTENT\nEOF\n";
        let err = render(src, DEFAULT_TEMPLATE_VARIABLES, &|_| {
            Some("x=1\n  EOF\nsecret=hunter2".into())
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: the value of CSI_CONFIG_ENV_FILE_CONTENT contains a line `EOF`, which would end the heredoc early"
        );
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn values_are_asked_once() {
        let asked = std::cell::Cell::new(0);
        let out = render(
            "a = \"$CSI_ROOT_DIR $CSI_ROOT_DIR\"",
            DEFAULT_TEMPLATE_VARIABLES,
            &|_| {
                asked.set(asked.get() + 1);
                Some("v".into())
            },
        )
        .unwrap();
        assert_eq!(out, "a = \"v v\"");
        assert_eq!(asked.get(), 1);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        assert!(matches!(
            r("a = 1\nb = \"$CSI_ROOT_DIR\n"),
            Err(RenderError::Syntax(
                crate::nomad::jobfile::JobFileError::UnterminatedString { line: 2 }
            ))
        ));
    }
}
