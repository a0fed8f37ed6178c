//! Checking a tag before it goes into a job file.
//!
//! Patterns are a small, always-anchored subset of regular expressions, enough for
//! tag conventions such as the default `^git-[0-9a-f]{8}$`:
//! - literal characters (`\` escapes a special one: `\.`, `\[`, `\{`...; `\d` is a digit),
//! - `.` for any character,
//! - classes `[...]` with ranges and `^` negation (`[0-9a-f]`, `[^/]`),
//! - quantifiers after an atom: `{n}`, `{n,}`, `{n,m}`, `?`, `*`, `+`.
//!
//! The whole tag must match: `^` and `$` are implied (and accepted). Groups `( )` and
//! alternatives `|` are not supported and are reported as an invalid pattern.

/// The tags the HR-S&I builds produce: `git-` and the first 8 hex digits of the commit.
pub const DEFAULT_TAG_PATTERN: &str = "^git-[0-9a-f]{8}$";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TagError {
    #[error("{tag:?} is not a valid image tag: {reason}")]
    Invalid { tag: String, reason: String },
    #[error("tag {tag:?} does not match the expected pattern {pattern}")]
    Mismatch { tag: String, pattern: String },
    #[error("invalid tag pattern {pattern:?}: {reason}")]
    BadPattern { pattern: String, reason: String },
}

/// Checks that `tag` is a valid Docker tag and matches `pattern` (see the module docs
/// for the supported syntax).
pub fn validate_tag(tag: &str, pattern: &str) -> Result<(), TagError> {
    let pieces = compile(pattern).map_err(|reason| TagError::BadPattern {
        pattern: pattern.to_string(),
        reason,
    })?;
    check_docker_tag(tag).map_err(|reason| TagError::Invalid {
        tag: tag.to_string(),
        reason,
    })?;
    let chars: Vec<char> = tag.chars().collect();
    if matches(&pieces, &chars) {
        Ok(())
    } else {
        Err(TagError::Mismatch {
            tag: tag.to_string(),
            pattern: pattern.to_string(),
        })
    }
}

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub(crate) fn check_docker_tag(tag: &str) -> Result<(), String> {
    let mut chars = tag.chars();
    match chars.next() {
        None => return Err("it is empty".to_string()),
        Some(c) if !(c.is_ascii_alphanumeric() || c == '_') => {
            return Err(format!(
                "it starts with {c:?} (letters, digits or `_` only)"
            ))
        }
        Some(_) => {}
    }
    if let Some(c) = chars.find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))) {
        return Err(format!(
            "it contains {c:?} (letters, digits, `_`, `.` and `-` only)"
        ));
    }
    if tag.len() > 128 {
        return Err(format!("it is {} characters long (128 at most)", tag.len()));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    Char(char),
    Any,
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
}

impl Atom {
    fn matches(&self, c: char) -> bool {
        match self {
            Atom::Char(x) => *x == c,
            Atom::Any => true,
            Atom::Class { ranges, negated } => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    atom: Atom,
    min: usize,
    max: usize,
}

fn compile(pattern: &str) -> Result<Vec<Piece>, String> {
    let body = pattern.strip_prefix('^').unwrap_or(pattern);
    let body = match body.strip_suffix('$') {
        Some(rest) if !rest.ends_with('\\') || rest.ends_with("\\\\") => rest,
        _ => body,
    };
    let mut chars = body.chars().peekable();
    let mut pieces: Vec<Piece> = Vec::new();
    while let Some(c) = chars.next() {
        let atom = match c {
            '\\' => match chars.next() {
                Some('d') => Atom::Class {
                    ranges: vec![('0', '9')],
                    negated: false,
                },
                Some(x) => Atom::Char(x),
                None => return Err("it ends with `\\`".to_string()),
            },
            '.' => Atom::Any,
            '[' => class(&mut chars)?,
            '(' | ')' | '|' | '^' | '$' => {
                return Err(format!(
                    "`{c}` is not supported (see the tag pattern syntax)"
                ))
            }
            '{' | '?' | '*' | '+' => return Err(format!("`{c}` does not follow anything")),
            c => Atom::Char(c),
        };
        let (min, max) = match chars.peek() {
            Some('?') => (0, 1),
            Some('*') => (0, usize::MAX),
            Some('+') => (1, usize::MAX),
            Some('{') => {
                chars.next();
                let mut spec = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(x) => spec.push(x),
                        None => return Err("`{` is never closed".to_string()),
                    }
                }
                pieces.push(Piece {
                    atom,
                    min: 0,
                    max: 0,
                });
                let last = pieces.last_mut().expect("just pushed");
                (last.min, last.max) = counts(&spec)?;
                continue;
            }
            _ => (1, 1),
        };
        if (min, max) != (1, 1) {
            chars.next();
        }
        pieces.push(Piece { atom, min, max });
    }
    Ok(pieces)
}

fn class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Atom, String> {
    let negated = chars.next_if_eq(&'^').is_some();
    let mut ranges = Vec::new();
    loop {
        let lo = match chars.next() {
            None => return Err("`[` is never closed".to_string()),
            Some(']') if !ranges.is_empty() => break,
            Some('\\') => chars.next().ok_or("`[` is never closed")?,
            Some(c) => c,
        };
        let hi = if chars.peek() == Some(&'-') {
            chars.next();
            match chars.next() {
                Some(']') => {
                    ranges.push((lo, lo));
                    ranges.push(('-', '-'));
                    break;
                }
                Some('\\') => chars.next().ok_or("`[` is never closed")?,
                Some(c) => c,
                None => return Err("`[` is never closed".to_string()),
            }
        } else {
            lo
        };
        if hi < lo {
            return Err(format!("range `{lo}-{hi}` is reversed"));
        }
        ranges.push((lo, hi));
    }
    Ok(Atom::Class { ranges, negated })
}

fn counts(spec: &str) -> Result<(usize, usize), String> {
    let number = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| format!("`{{{spec}}}` is not a count (`{{n}}`, `{{n,}}` or `{{n,m}}`)"))
    };
    let (min, max) = match spec.split_once(',') {
        None => {
            let n = number(spec)?;
            (n, n)
        }
        Some((lo, "")) => (number(lo)?, usize::MAX),
        Some((lo, hi)) => (number(lo)?, number(hi)?),
    };
    if max < min {
        return Err(format!("`{{{spec}}}` has its bounds reversed"));
    }
    Ok((min, max))
}

/// Backtracking match of the whole text (tags are at most 128 characters).
fn matches(pieces: &[Piece], text: &[char]) -> bool {
    let Some((piece, rest)) = pieces.split_first() else {
        return text.is_empty();
    };
    let run = text
        .iter()
        .take(piece.max)
        .take_while(|c| piece.atom.matches(**c))
        .count();
    (piece.min..=run).rev().any(|n| matches(rest, &text[n..]))
}

#[cfg(test)]
mod tests {
    use super::{validate_tag, TagError, DEFAULT_TAG_PATTERN};

    #[test]
    fn default_pattern() {
        assert_eq!(validate_tag("git-deadbeef", DEFAULT_TAG_PATTERN), Ok(()));
        assert_eq!(validate_tag("git-0123abcd", DEFAULT_TAG_PATTERN), Ok(()));
        for bad in [
            "git-DEADBEEF",
            "git-deadbee",
            "git-deadbeef0",
            "deadbeef",
            "git-deadbeeg",
            "git-hash-deadbeef",
            "xgit-deadbeef",
        ] {
            assert_eq!(
                validate_tag(bad, DEFAULT_TAG_PATTERN),
                Err(TagError::Mismatch {
                    tag: bad.into(),
                    pattern: DEFAULT_TAG_PATTERN.into()
                }),
                "{bad}"
            );
        }
    }

    #[test]
    fn invalid_docker_tags_are_refused_whatever_the_pattern() {
        for bad in ["", "a b", "a\"", ".x", "-x", "é"] {
            assert!(
                matches!(validate_tag(bad, ".*"), Err(TagError::Invalid { .. })),
                "{bad:?}"
            );
        }
        assert!(validate_tag(&"a".repeat(128), ".*").is_ok());
        assert!(validate_tag(&"a".repeat(129), ".*").is_err());
    }

    #[test]
    fn other_patterns() {
        let ok = |tag: &str, pattern: &str| validate_tag(tag, pattern).is_ok();
        assert!(ok("1.66.0", r"\d+\.\d+\.\d+"));
        assert!(!ok("1.66", r"\d+\.\d+\.\d+"));
        assert!(ok("v1-rc2", "v[0-9]+-rc[0-9]+"));
        assert!(ok("release_2024", "release_[0-9]{4,}"));
        assert!(!ok("release_202", "release_[0-9]{4,}"));
        assert!(ok("abc", "a?b*c+"));
        assert!(ok("c", "a?b*c+"));
        assert!(ok("x-y", "[^-]+-[a-z-]{1,3}"));
        assert!(ok("git-abc", "git-.*"));
        assert!(ok("aaa", "a*a"));
        assert!(!ok("aab", "a*"));
    }

    #[test]
    fn unsupported_patterns_are_reported() {
        for bad in [
            "(a|b)", "a{2", "[a-", "*a", "a{x}", "[z-a]", "a{3,1}", "a\\",
        ] {
            assert!(
                matches!(validate_tag("a", bad), Err(TagError::BadPattern { .. })),
                "{bad}"
            );
        }
    }
}
