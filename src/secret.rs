//! Secrets: a type that never prints its value, and a redactor that scrubs known
//! secret values from any text before it reaches the terminal, a log or the journal.

use std::fmt;
use std::sync::{Mutex, OnceLock};

const REDACTED: &str = "********";
/// Values shorter than this are not scrubbed from text: they would mangle ordinary output.
const MIN_SCRUBBED_LEN: usize = 4;

/// A secret value. Display and Debug print `********`; only `expose` gives the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps the value and registers it with the process-wide redactor.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value);
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

fn known_secrets() -> &'static Mutex<Vec<String>> {
    static KNOWN: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    KNOWN.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers a value so that `redact` scrubs it from every text csi emits.
pub fn register(value: &str) {
    if value.len() < MIN_SCRUBBED_LEN {
        return;
    }
    let mut known = known_secrets().lock().unwrap_or_else(|e| e.into_inner());
    if !known.iter().any(|v| v == value) {
        known.push(value.to_owned());
        // Longest first, so a secret that contains another is scrubbed whole.
        known.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }
}

/// Replaces every registered secret value in `text` with `********`.
pub fn redact(text: &str) -> String {
    let known = known_secrets().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_owned();
    for value in known.iter() {
        if out.contains(value.as_str()) {
            out = out.replace(value.as_str(), REDACTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s} {s:?}"), "******** ********");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"********\"");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn redact_scrubs_registered_values_longest_first() {
        register("abcd-1234");
        register("abcd-1234-extended");
        assert_eq!(
            redact("x=abcd-1234-extended y=abcd-1234"),
            "x=******** y=********"
        );
    }

    #[test]
    fn short_values_are_not_scrubbed() {
        register("ab");
        assert_eq!(redact("abcabc"), "abcabc");
    }
}
