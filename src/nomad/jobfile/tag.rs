//! Checking a tag before it goes into a job file.
//!
//! Patterns are regular expressions (the `regex-lite` syntax: classes, `\d`, repetitions
//! `{n,m}`, groups and `|`), always anchored: the whole tag must match, `^` and `$` are
//! implied (and accepted), so the default `^git-[0-9a-f]{8}$` and `git-[0-9a-f]{8}` mean
//! the same.

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
    let anchored = compile(pattern).map_err(|reason| TagError::BadPattern {
        pattern: pattern.to_string(),
        reason,
    })?;
    check_docker_tag(tag).map_err(|reason| TagError::Invalid {
        tag: tag.to_string(),
        reason,
    })?;
    if anchored.is_match(tag) {
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

/// `pattern` anchored at both ends, whether or not it says `^`/`$` itself.
fn compile(pattern: &str) -> Result<regex_lite::Regex, String> {
    let inner = pattern.strip_prefix('^').unwrap_or(pattern);
    let inner = match inner.strip_suffix('$') {
        Some(rest) if !rest.ends_with('\\') => rest,
        _ => inner,
    };
    regex_lite::Regex::new(&format!("^(?:{inner})$")).map_err(|e| {
        e.to_string()
            .lines()
            .last()
            .unwrap_or("invalid")
            .trim()
            .to_owned()
    })
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
    fn groups_and_alternatives_work() {
        assert!(validate_tag("git-0123abcd", "(git|rel)-[0-9a-f]{8}").is_ok());
        assert!(validate_tag("rel-0123abcd", "^(git|rel)-[0-9a-f]{8}$").is_ok());
        assert!(validate_tag("xrel-0123abcd", "(git|rel)-[0-9a-f]{8}").is_err());
    }

    #[test]
    fn broken_patterns_are_reported() {
        for bad in ["(a|b", "a{2", "[a-", "*a", "[z-a]", "a{3,1}", "a\\"] {
            assert!(
                matches!(validate_tag("a", bad), Err(TagError::BadPattern { .. })),
                "{bad}"
            );
        }
    }
}
