//! Where an SQL statement of a dump ends: a `;` outside string literals, quoted
//! identifiers, dollar-quoted bodies and comments. Fed line by line; the state carries
//! over from one line to the next.

#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum State {
    #[default]
    Normal,
    /// `'...'`; `escapes` for `E'...'`, where a backslash escapes the next byte.
    Single { escapes: bool },
    /// `"..."`
    Double,
    /// `$tag$...$tag$`; the tag includes both dollars.
    Dollar(Vec<u8>),
    /// `/* ... */`, which nest.
    Block(u32),
}

#[derive(Debug, Default)]
pub struct Lexer {
    state: State,
    /// The last byte outside literals and comments that is not whitespace.
    last: u8,
    /// After a backslash inside `E'...'`.
    escaped: bool,
}

impl Lexer {
    pub fn reset(&mut self) {
        *self = Lexer::default();
    }

    /// Outside any literal or comment: a line starting here with a backslash would be a
    /// psql meta-command.
    pub fn at_top_level(&self) -> bool {
        self.state == State::Normal
    }

    /// Feeds one line; true when the statement is complete at the end of this line.
    pub fn feed(&mut self, line: &[u8]) -> bool {
        let mut i = 0;
        while i < line.len() {
            let b = line[i];
            match &mut self.state {
                State::Normal => match b {
                    b'\'' => {
                        let escapes = i > 0
                            && matches!(line[i - 1], b'E' | b'e')
                            && (i < 2 || !is_ident_byte(line[i - 2]));
                        self.state = State::Single { escapes };
                    }
                    b'"' => self.state = State::Double,
                    b'-' if line.get(i + 1) == Some(&b'-') => break,
                    b'/' if line.get(i + 1) == Some(&b'*') => {
                        self.state = State::Block(1);
                        i += 1;
                    }
                    b'$' => {
                        if let Some(len) = dollar_tag(line, i) {
                            self.state = State::Dollar(line[i..i + len].to_vec());
                            i += len;
                            continue;
                        }
                        self.last = b;
                    }
                    b if b.is_ascii_whitespace() => {}
                    b => self.last = b,
                },
                State::Single { escapes } => {
                    if self.escaped {
                        self.escaped = false;
                    } else if *escapes && b == b'\\' {
                        self.escaped = true;
                    } else if b == b'\'' {
                        if line.get(i + 1) == Some(&b'\'') {
                            i += 1;
                        } else {
                            self.state = State::Normal;
                            self.last = b'\'';
                        }
                    }
                }
                State::Double => {
                    if b == b'"' {
                        if line.get(i + 1) == Some(&b'"') {
                            i += 1;
                        } else {
                            self.state = State::Normal;
                            self.last = b'"';
                        }
                    }
                }
                State::Dollar(tag) => {
                    if b == b'$' && line[i..].starts_with(tag) {
                        i += tag.len();
                        self.state = State::Normal;
                        self.last = b'$';
                        continue;
                    }
                }
                State::Block(depth) => {
                    if b == b'*' && line.get(i + 1) == Some(&b'/') {
                        *depth -= 1;
                        i += 1;
                        if *depth == 0 {
                            self.state = State::Normal;
                        }
                    } else if b == b'/' && line.get(i + 1) == Some(&b'*') {
                        *depth += 1;
                        i += 1;
                    }
                }
            }
            i += 1;
        }
        self.state == State::Normal && self.last == b';'
    }
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The length of a dollar-quote opening tag at `at` (`$$` or `$tag$`), if there is one.
fn dollar_tag(line: &[u8], at: usize) -> Option<usize> {
    if at > 0 && is_ident_byte(line[at - 1]) {
        return None; // part of an identifier such as `a$b`
    }
    let rest = &line[at + 1..];
    let first = *rest.first()?;
    if first == b'$' {
        return Some(2);
    }
    if !(first.is_ascii_alphabetic() || first == b'_' || first >= 0x80) {
        return None; // `$1` is a parameter
    }
    let len = rest
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80))?;
    (rest[len] == b'$').then_some(len + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete_after(lines: &[&str]) -> Vec<bool> {
        let mut lexer = Lexer::default();
        lines.iter().map(|l| lexer.feed(l.as_bytes())).collect()
    }

    #[test]
    fn statements_end_at_a_semicolon_outside_literals() {
        assert_eq!(complete_after(&["SET a = 1;\n"]), [true]);
        assert_eq!(
            complete_after(&["CREATE TABLE t (\n", "  a int -- x;\n", ");\n"]),
            [false, false, true]
        );
        assert_eq!(
            complete_after(&["COMMENT ON TABLE t IS 'a;\n", "b'';';\n"]),
            [false, true]
        );
        assert_eq!(complete_after(&["SELECT E'a\\'b;';\n"]), [true]);
        assert_eq!(complete_after(&["SELECT E'a\\';\n", "';\n"]), [false, true]);
        assert_eq!(complete_after(&["SELECT 'a\\';\n"]), [true]);
        assert_eq!(complete_after(&["CREATE TABLE \"x;\" (a int);\n"]), [true]);
        assert_eq!(complete_after(&["SELECT 1; -- done\n"]), [true]);
        assert_eq!(
            complete_after(&["SELECT /* ; /* ; */ ; */ 1\n", ";\n"]),
            [false, true]
        );
    }

    #[test]
    fn dollar_quoted_bodies_hide_their_semicolons() {
        let lines = [
            "CREATE FUNCTION f() RETURNS int AS $fn$\n",
            "BEGIN RETURN 1; END;\n",
            "$fn$;\n",
        ];
        assert_eq!(complete_after(&lines), [false, false, true]);
        assert_eq!(complete_after(&["SELECT $$a;$$, $q$ $$ ; $q$;\n"]), [true]);
        assert_eq!(complete_after(&["SELECT a$b;\n"]), [true]);
        assert_eq!(complete_after(&["PREPARE p AS SELECT $1;\n"]), [true]);
    }
}
