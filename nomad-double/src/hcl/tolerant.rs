//! A forgiving scanner for job files that strict HCL2 rejects but Nomad users still have
//! (HCL1-era habits: several attributes on one line, quoted attribute names, `key = { }`
//! maps for blocks). It understands the block/attribute structure, strings, heredocs,
//! lists and maps, and keeps any other expression as source text.

use super::strict::SyntaxError;
use super::tree::{Block, Body, Val};

pub fn parse(src: &str) -> Result<Body, SyntaxError> {
    let mut p = Scanner {
        chars: src.chars().collect(),
        pos: 0,
    };
    p.body(false)
}

struct Scanner {
    chars: Vec<char>,
    pos: usize,
}

impl Scanner {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<char> {
        self.chars.get(self.pos + off).copied()
    }

    fn err(&self, message: &str) -> SyntaxError {
        let upto = &self.chars[..self.pos.min(self.chars.len())];
        let line = upto.iter().filter(|c| **c == '\n').count() + 1;
        let column = upto.iter().rev().take_while(|c| **c != '\n').count() + 1;
        SyntaxError {
            line,
            column,
            message: message.to_string(),
        }
    }

    /// Skips blanks and comments; newlines too when `newlines` is set.
    fn skip(&mut self, newlines: bool) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' => self.pos += 1,
                '\n' if newlines => self.pos += 1,
                '#' => self.skip_line(),
                '/' if self.peek_at(1) == Some('/') => self.skip_line(),
                '/' if self.peek_at(1) == Some('*') => {
                    self.pos += 2;
                    while self.pos < self.chars.len()
                        && !(self.peek() == Some('*') && self.peek_at(1) == Some('/'))
                    {
                        self.pos += 1;
                    }
                    self.pos = (self.pos + 2).min(self.chars.len());
                }
                _ => break,
            }
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.pos += 1;
        }
    }

    fn body(&mut self, nested: bool) -> Result<Body, SyntaxError> {
        let mut body = Body::default();
        loop {
            self.skip(true);
            match self.peek() {
                None if nested => return Err(self.err("Unclosed configuration block")),
                None => return Ok(body),
                Some('}') if nested => {
                    self.pos += 1;
                    return Ok(body);
                }
                Some(',') | Some(';') => self.pos += 1,
                Some(_) => {
                    let key = self.key()?;
                    self.skip(false);
                    match self.peek() {
                        Some('=') | Some(':') if self.peek_at(1) != Some('=') => {
                            self.pos += 1;
                            self.skip(false);
                            let value = self.value()?;
                            body.attrs.push((key, value));
                        }
                        _ => {
                            let mut labels = Vec::new();
                            loop {
                                self.skip(false);
                                match self.peek() {
                                    Some('{') => break,
                                    Some('"') => labels.push(self.string()?),
                                    Some(c) if is_ident_start(c) => labels.push(self.ident()),
                                    _ => {
                                        return Err(self.err(
                                            "Argument or block definition required; an equals sign or a block opening brace is expected",
                                        ))
                                    }
                                }
                            }
                            self.pos += 1;
                            let inner = self.body(true)?;
                            body.blocks.push(Block {
                                kind: key,
                                labels,
                                body: inner,
                            });
                        }
                    }
                }
            }
        }
    }

    fn key(&mut self) -> Result<String, SyntaxError> {
        match self.peek() {
            Some('"') => self.string(),
            Some(c) if is_ident_start(c) => Ok(self.ident()),
            _ => Err(self.err("Argument or block definition required")),
        }
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if is_ident_char(c)) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn value(&mut self) -> Result<Val, SyntaxError> {
        match self.peek() {
            Some('"') => Ok(Val::Str(self.string()?)),
            Some('<') if self.peek_at(1) == Some('<') => Ok(Val::Str(self.heredoc()?)),
            Some('[') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip(true);
                    match self.peek() {
                        Some(']') => {
                            self.pos += 1;
                            return Ok(Val::List(items));
                        }
                        Some(',') => self.pos += 1,
                        None => return Err(self.err("Unclosed list; missing ]")),
                        Some(_) => items.push(self.value()?),
                    }
                }
            }
            Some('{') => {
                self.pos += 1;
                let body = self.body(true)?;
                Ok(body_to_map(body))
            }
            Some(c)
                if c.is_ascii_digit()
                    || (c == '-' && matches!(self.peek_at(1), Some(d) if d.is_ascii_digit())) =>
            {
                let raw = self.raw_expr();
                Ok(match raw.parse::<i64>() {
                    Ok(i) => Val::Num(i.into()),
                    Err(_) => match raw
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                    {
                        Some(n) => Val::Num(n),
                        None => Val::Expr(raw),
                    },
                })
            }
            Some(c) if is_ident_start(c) || c == '(' || c == '!' => {
                let raw = self.raw_expr();
                Ok(match raw.as_str() {
                    "true" => Val::Bool(true),
                    "false" => Val::Bool(false),
                    "null" => Val::Null,
                    _ => Val::Expr(raw),
                })
            }
            _ => Err(self.err("Invalid expression; expected the start of an expression")),
        }
    }

    /// Source text of an expression, up to the end of line or a closing delimiter.
    fn raw_expr(&mut self) -> String {
        let start = self.pos;
        let mut depth = 0i32;
        while let Some(c) = self.peek() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' if depth == 0 => break,
                ')' | ']' | '}' => depth -= 1,
                ',' | '\n' | '#' if depth == 0 => break,
                ' ' | '\t' if depth == 0 => {
                    // Several attributes on one line: `cpu = 500 memory = 256`.
                    let save = self.pos;
                    self.skip(false);
                    let next_is_key = matches!(self.peek(), Some(n) if is_ident_start(n) || n == '"')
                        && self.looks_like_attr_start();
                    self.pos = save;
                    if next_is_key || self.rest_is_blank() {
                        break;
                    }
                }
                '"' => {
                    let _ = self.string();
                    continue;
                }
                _ => {}
            }
            self.pos += 1;
        }
        self.chars[start..self.pos]
            .iter()
            .collect::<String>()
            .trim()
            .to_string()
    }

    fn rest_is_blank(&self) -> bool {
        let mut i = self.pos;
        while let Some(c) = self.chars.get(i) {
            match c {
                ' ' | '\t' | '\r' => i += 1,
                '\n' | '#' => return true,
                _ => return false,
            }
        }
        true
    }

    /// After skipping blanks: is the next thing `ident =` (a new attribute)?
    fn looks_like_attr_start(&self) -> bool {
        let mut i = self.pos;
        if self.chars.get(i) == Some(&'"') {
            i += 1;
            while let Some(c) = self.chars.get(i) {
                i += 1;
                if *c == '"' {
                    break;
                }
            }
        } else {
            while matches!(self.chars.get(i), Some(c) if is_ident_char(*c)) {
                i += 1;
            }
        }
        while matches!(self.chars.get(i), Some(' ') | Some('\t')) {
            i += 1;
        }
        matches!(self.chars.get(i), Some('=') | Some('{')) && self.chars.get(i + 1) != Some(&'=')
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("Unterminated template string"));
            };
            self.pos += 1;
            match c {
                '"' => return Ok(out),
                '\n' => {
                    self.pos -= 1;
                    return Err(self.err("Unterminated template string"));
                }
                '\\' => {
                    let e = self
                        .peek()
                        .ok_or_else(|| self.err("Unterminated template string"))?;
                    self.pos += 1;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        'u' => {
                            let hex: String = self.chars
                                [self.pos..(self.pos + 4).min(self.chars.len())]
                                .iter()
                                .collect();
                            self.pos += hex.len();
                            out.push(
                                u32::from_str_radix(&hex, 16)
                                    .ok()
                                    .and_then(char::from_u32)
                                    .unwrap_or('\u{FFFD}'),
                            );
                        }
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    }
                }
                '$' | '%' if self.peek() == Some('{') => {
                    out.push(c);
                    self.interpolation(&mut out)?;
                }
                _ => out.push(c),
            }
        }
    }

    /// Copies a `{ ... }` interpolation verbatim, honouring nested braces and strings.
    fn interpolation(&mut self, out: &mut String) -> Result<(), SyntaxError> {
        let mut depth = 0;
        while let Some(c) = self.peek() {
            self.pos += 1;
            out.push(c);
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                '"' => {
                    while let Some(q) = self.peek() {
                        self.pos += 1;
                        out.push(q);
                        if q == '\\' {
                            if let Some(n) = self.peek() {
                                self.pos += 1;
                                out.push(n);
                            }
                        } else if q == '"' {
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        Err(self.err("Unterminated template interpolation"))
    }

    fn heredoc(&mut self) -> Result<String, SyntaxError> {
        self.pos += 2;
        let strip = self.peek() == Some('-');
        if strip {
            self.pos += 1;
        }
        let marker = self.ident();
        if marker.is_empty() {
            return Err(self.err("Invalid heredoc marker"));
        }
        self.skip(false);
        if self.peek() != Some('\n') {
            return Err(self.err("Invalid heredoc introducer; a newline must follow the marker"));
        }
        self.pos += 1;
        let mut lines: Vec<String> = Vec::new();
        loop {
            if self.pos >= self.chars.len() {
                return Err(self.err("Unterminated template string; no closing heredoc marker"));
            }
            let start = self.pos;
            while matches!(self.peek(), Some(c) if c != '\n') {
                self.pos += 1;
            }
            let line: String = self.chars[start..self.pos].iter().collect();
            if self.peek() == Some('\n') {
                self.pos += 1;
            }
            if line.trim() == marker {
                break;
            }
            lines.push(line);
        }
        if strip {
            let indent = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            for l in &mut lines {
                *l = l.chars().skip(indent).collect();
            }
        }
        Ok(lines.iter().map(|l| format!("{l}\n")).collect())
    }
}

fn body_to_map(body: Body) -> Val {
    let mut entries = body.attrs;
    for block in body.blocks {
        entries.push((block.kind, body_to_map(block.body)));
    }
    Val::Map(entries)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || c == '.'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hcl1_habits() {
        let src = r#"
job "x" {
  datacenters = ["dc1"]
  group "g" {
    task "t" {
      config { image = "a:b" }
      resources { cpu = 500 memory = 256 }
      env { "FOO" = "bar" }
    }
  }
}
"#;
        let body = parse(src).map_err(|e| e.to_string()).unwrap();
        let job = &body.blocks[0];
        assert_eq!(job.labels, vec!["x"]);
        let task = &job.body.blocks[0].body.blocks[0];
        let res = task.body.blocks_of("resources").next().unwrap();
        assert_eq!(res.body.attr("cpu"), Some(&Val::Num(500.into())));
        assert_eq!(res.body.attr("memory"), Some(&Val::Num(256.into())));
        let env = task.body.blocks_of("env").next().unwrap();
        assert_eq!(env.body.attr("FOO"), Some(&Val::Str("bar".into())));
    }

    #[test]
    fn keeps_interpolations_and_heredocs() {
        let src = "a = \"${node.class}\"\nb = <<-EOF\n    x=1\n    y=\"2\"\n  EOF\nc = var.image\n";
        let body = parse(src).map_err(|e| e.to_string()).unwrap();
        assert_eq!(body.attr("a"), Some(&Val::Str("${node.class}".into())));
        assert_eq!(body.attr("b"), Some(&Val::Str("x=1\ny=\"2\"\n".into())));
        assert_eq!(body.attr("c"), Some(&Val::Expr("var.image".into())));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("this is not { a job").is_err());
        assert!(parse("job \"x\" {").is_err());
        assert!(parse("}}}").is_err());
        assert!(parse("job \"x\" = = =").is_err());
    }
}
