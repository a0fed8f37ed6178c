//! A small HCL lexer, tolerant enough for HCL1-era job files.
//!
//! It knows what can hide a `{`, a `}` or an `image = "..."` that is not one:
//! quoted strings (with `\` escapes, `$${`/`%%{` escapes and `${ ... }`/`%{ ... }`
//! template sequences, which may nest strings), heredocs (`<<EOF` and `<<-EOF`, the
//! closing marker alone on its line, indentation allowed), and comments (`#`, `//`,
//! `/* */`). Everything else becomes identifiers, brackets, `=`, `,`, newlines and
//! "other" tokens; expressions are not parsed.

use std::ops::Range;

use super::error::JobFileError;
use super::lines::LineIndex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Ident,
    /// A quoted string, quotes included; `inner` is its content.
    Str,
    /// From `<<` to the end of the closing marker; `inner` is the body (whole lines).
    Heredoc,
    Comment,
    Newline,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Eq,
    Comma,
    /// Numbers, operators, dots...: anything that does not matter to the structure.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Kind,
    pub range: Range<usize>,
    /// String content or heredoc body; empty for other tokens.
    pub inner: Range<usize>,
}

pub(crate) fn lex(src: &str) -> Result<Vec<Token>, JobFileError> {
    let mut lexer = Lexer {
        src,
        bytes: src.as_bytes(),
        lines: LineIndex::new(src),
        pos: 0,
        tokens: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    lines: LineIndex,
    pos: usize,
    tokens: Vec<Token>,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> Option<u8> {
        self.bytes.get(i).copied()
    }

    fn push(&mut self, kind: Kind, end: usize) {
        self.push_with_inner(kind, end, 0..0);
    }

    /// A string or heredoc token, with the range of its content.
    fn push_with_inner(&mut self, kind: Kind, end: usize, inner: std::ops::Range<usize>) {
        self.tokens.push(Token {
            kind,
            range: self.pos..end,
            inner,
        });
        self.pos = end;
    }

    fn run(&mut self) -> Result<(), JobFileError> {
        while let Some(b) = self.at(self.pos) {
            let next = self.at(self.pos + 1);
            match b {
                b' ' | b'\t' | b'\r' | 0x0c => self.pos += 1,
                b'\n' => self.push(Kind::Newline, self.pos + 1),
                b'#' => self.push(Kind::Comment, self.line_end(self.pos)),
                b'/' if next == Some(b'/') => self.push(Kind::Comment, self.line_end(self.pos)),
                b'/' if next == Some(b'*') => {
                    let end = match self.src[self.pos + 2..].find("*/") {
                        Some(i) => self.pos + 2 + i + 2,
                        None => {
                            return Err(JobFileError::UnterminatedComment {
                                line: self.lines.line(self.pos),
                            })
                        }
                    };
                    self.push(Kind::Comment, end);
                }
                b'"' => {
                    let end = self.string(self.pos)?;
                    let start = self.pos;
                    self.push_with_inner(Kind::Str, end, start + 1..end - 1);
                }
                b'<' if next == Some(b'<') => match self.heredoc_header(self.pos) {
                    Some((marker, body_start)) => {
                        let (body_end, end) = self.heredoc_body(self.pos, marker, body_start)?;
                        self.push_with_inner(Kind::Heredoc, end, body_start..body_end);
                    }
                    None => self.push(Kind::Other, self.pos + 2),
                },
                b'{' => self.push(Kind::LBrace, self.pos + 1),
                b'}' => self.push(Kind::RBrace, self.pos + 1),
                b'[' => self.push(Kind::LBracket, self.pos + 1),
                b']' => self.push(Kind::RBracket, self.pos + 1),
                b'(' => self.push(Kind::LParen, self.pos + 1),
                b')' => self.push(Kind::RParen, self.pos + 1),
                b',' => self.push(Kind::Comma, self.pos + 1),
                b'=' if matches!(next, Some(b'=' | b'>')) => self.push(Kind::Other, self.pos + 2),
                b'=' => self.push(Kind::Eq, self.pos + 1),
                b'!' | b'<' | b'>' if next == Some(b'=') => self.push(Kind::Other, self.pos + 2),
                b if is_ident_start(b) => {
                    let mut end = self.pos + 1;
                    while self.at(end).is_some_and(is_ident_char) {
                        end += 1;
                    }
                    self.push(Kind::Ident, end);
                }
                _ => {
                    let width = self.src[self.pos..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8);
                    self.push(Kind::Other, self.pos + width);
                }
            }
        }
        Ok(())
    }

    /// Offset of the `\n` ending the line that holds `from` (or the end of the text).
    fn line_end(&self, from: usize) -> usize {
        self.src[from..]
            .find('\n')
            .map_or(self.src.len(), |i| from + i)
    }

    /// Scans a quoted string starting at the `"` at `start`; returns the offset just
    /// after the closing quote.
    fn string(&self, start: usize) -> Result<usize, JobFileError> {
        let unterminated = || JobFileError::UnterminatedString {
            line: self.lines.line(start),
        };
        let mut i = start + 1;
        loop {
            match self.at(i) {
                None | Some(b'\n') => return Err(unterminated()),
                Some(b'"') => return Ok(i + 1),
                Some(b'\\') => i += 2,
                Some(c @ (b'$' | b'%')) => {
                    if self.at(i + 1) == Some(c) && self.at(i + 2) == Some(b'{') {
                        i += 3; // `$${` / `%%{`: a literal `${` / `%{`
                    } else if self.at(i + 1) == Some(b'{') {
                        i = self.template(i + 2).ok_or_else(unterminated)??;
                    } else {
                        i += 1;
                    }
                }
                Some(_) => i += 1,
            }
        }
    }

    /// Skips a `${ ... }` / `%{ ... }` sequence whose body starts at `start`; returns
    /// the offset after its closing `}`, or `None` when the text ends first.
    fn template(&self, start: usize) -> Option<Result<usize, JobFileError>> {
        let mut depth = 1usize;
        let mut i = start;
        loop {
            match self.at(i)? {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(Ok(i + 1));
                    }
                }
                b'"' => match self.string(i) {
                    Ok(end) => {
                        i = end;
                        continue;
                    }
                    Err(e) => return Some(Err(e)),
                },
                _ => {}
            }
            i += 1;
        }
    }

    /// Recognises `<<MARKER` or `<<-MARKER` followed by the end of the line; returns
    /// the marker and where the body starts.
    fn heredoc_header(&self, start: usize) -> Option<(&str, usize)> {
        let mut i = start + 2;
        if self.at(i) == Some(b'-') {
            i += 1;
        }
        let marker_start = i;
        if !self.at(i).is_some_and(is_ident_start) {
            return None;
        }
        while self.at(i).is_some_and(is_ident_char) {
            i += 1;
        }
        let marker = &self.src[marker_start..i];
        if self.at(i) == Some(b'\r') {
            i += 1;
        }
        (self.at(i) == Some(b'\n')).then_some((marker, i + 1))
    }

    /// Finds the closing marker line; returns (end of body, end of the marker).
    fn heredoc_body(
        &self,
        start: usize,
        marker: &str,
        body_start: usize,
    ) -> Result<(usize, usize), JobFileError> {
        let mut line_start = body_start;
        while line_start < self.src.len() {
            let line_end = self.line_end(line_start);
            let line = &self.src[line_start..line_end];
            let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
            if line.trim_matches([' ', '\t', '\r']) == marker {
                return Ok((line_start, line_start + indent + marker.len()));
            }
            line_start = line_end + 1;
        }
        Err(JobFileError::UnterminatedHeredoc {
            line: self.lines.line(start),
            marker: marker.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{lex, Kind};
    use crate::nomad::jobfile::JobFileError;

    fn kinds(src: &str) -> Vec<(Kind, &str)> {
        lex(src)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, &src[t.range]))
            .collect()
    }

    #[test]
    fn structure_tokens() {
        use Kind::*;
        assert_eq!(
            kinds("task \"a\" {\n  cpu = 1\n}"),
            vec![
                (Ident, "task"),
                (Str, "\"a\""),
                (LBrace, "{"),
                (Newline, "\n"),
                (Ident, "cpu"),
                (Eq, "="),
                (Other, "1"),
                (Newline, "\n"),
                (RBrace, "}"),
            ]
        );
    }

    #[test]
    fn comments_hide_braces_and_quotes() {
        use Kind::*;
        let src = "# { \"\n// } \"\n/* { \n } \" */ a";
        assert_eq!(
            kinds(src),
            vec![
                (Comment, "# { \""),
                (Newline, "\n"),
                (Comment, "// } \""),
                (Newline, "\n"),
                (Comment, "/* { \n } \" */"),
                (Ident, "a"),
            ]
        );
    }

    #[test]
    fn strings_with_escapes_and_templates() {
        let src = r#"a = "x \" } ${lookup(m, "k}")} $${y} %{ if c }{%{ endif }" b"#;
        let tokens = lex(src).unwrap();
        let s = &tokens[2];
        assert_eq!(s.kind, Kind::Str);
        assert_eq!(&src[s.range.clone()], &src[4..src.len() - 2]);
        assert_eq!(&src[tokens[3].range.clone()], "b");
    }

    #[test]
    fn string_content_range_excludes_quotes() {
        let src = "image = \"reg/app:1\"";
        let tokens = lex(src).unwrap();
        assert_eq!(&src[tokens[2].inner.clone()], "reg/app:1");
    }

    #[test]
    fn unterminated_strings_are_errors_with_the_opening_line() {
        assert_eq!(
            lex("a = 1\nb = \"abc\nc = 2\n"),
            Err(JobFileError::UnterminatedString { line: 2 })
        );
        assert_eq!(
            lex("a = 1\n\nb = \"${x\n"),
            Err(JobFileError::UnterminatedString { line: 3 })
        );
    }

    #[test]
    fn heredocs_hide_everything_until_the_marker() {
        let src = "data = <<EOF\n} \" ${x} image = \"no\"\n  EOFX\nEOF\nb = 1\n";
        let tokens = lex(src).unwrap();
        let h = &tokens[2];
        assert_eq!(h.kind, Kind::Heredoc);
        assert_eq!(&src[h.inner.clone()], "} \" ${x} image = \"no\"\n  EOFX\n");
        assert!(src[h.range.clone()].ends_with("\nEOF"));
        assert_eq!(tokens[3].kind, Kind::Newline);
        assert_eq!(&src[tokens[4].range.clone()], "b");
    }

    #[test]
    fn indented_heredoc_and_crlf() {
        let src = "data = <<-EOH\r\n    x\r\n    EOH\r\nb = 1";
        let tokens = lex(src).unwrap();
        assert_eq!(tokens[2].kind, Kind::Heredoc);
        assert_eq!(&src[tokens[2].inner.clone()], "    x\r\n");
        assert!(src[tokens[2].range.clone()].ends_with("    EOH"));
    }

    #[test]
    fn unterminated_heredoc_and_comment() {
        assert_eq!(
            lex("a = 1\nd = <<EOF\nabc\nEOFF\n"),
            Err(JobFileError::UnterminatedHeredoc {
                line: 2,
                marker: "EOF".into()
            })
        );
        assert_eq!(
            lex("a = 1\n/* abc\n"),
            Err(JobFileError::UnterminatedComment { line: 2 })
        );
    }

    #[test]
    fn not_a_heredoc_without_a_newline() {
        let tokens = lex("a = b << c").unwrap();
        assert!(tokens.iter().all(|t| t.kind != Kind::Heredoc));
    }

    #[test]
    fn operators_are_not_assignments() {
        let tokens = lex("a = b == c != d <= e >= f => g").unwrap();
        let eqs = tokens.iter().filter(|t| t.kind == Kind::Eq).count();
        assert_eq!(eqs, 1);
    }

    #[test]
    fn non_ascii_text_is_kept_whole() {
        let src = "a = é # café\nb = \"ü\"";
        let tokens = lex(src).unwrap();
        assert_eq!(&src[tokens[2].range.clone()], "é");
        assert_eq!(&src[tokens[3].range.clone()], "# café");
    }
}
