//! What an ssh failure means for the operator: connection and authentication problems
//! are preconditions (nothing was changed), named with the host and what to do.

use crate::error::Kind;

/// Connection and authentication problems are preconditions (nothing was changed);
/// anything else that went wrong remotely is a failure.
pub fn failure_kind(text: &str) -> Kind {
    let unreachable = [
        "Host key verification failed",
        "REMOTE HOST IDENTIFICATION",
        "Permission denied",
        "Connection refused",
        "Connection timed out",
        "Could not resolve hostname",
        "No route to host",
        "exit status 255",
    ];
    if unreachable.iter().any(|n| text.contains(n)) {
        Kind::Precondition
    } else {
        Kind::Failed
    }
}

/// The reason in the operator's words, from what ssh said.
pub fn reason(text: &str) -> Option<&'static str> {
    if text.contains("Host key verification failed") || text.contains("REMOTE HOST IDENTIFICATION")
    {
        Some("its host key is not the one known_hosts pins (or none is pinned)")
    } else if text.contains("Permission denied") {
        Some("it refused the login")
    } else if text.contains("Connection refused") {
        Some("nothing listens on its ssh port")
    } else if text.contains("Could not resolve hostname") {
        Some("its name does not resolve")
    } else if text.contains("timed out") || text.contains("No route to host") {
        Some("it cannot be reached")
    } else {
        None
    }
}

/// Several lines of stderr as one.
pub fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// What ssh said, without its banners (the `@@@` box and the man-in-the-middle
/// warning around a changed host key): its last three lines, as one.
pub fn essential(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('@'))
        .collect();
    let start = lines.len().saturating_sub(3);
    lines[start..].join("; ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_changed_host_key_is_said_in_a_few_words() {
        let text = "@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
            IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n\
            Offending ED25519 key in /k:1\n\
            Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.\n\
            Host key verification failed. (ssh ended: exit status 255)";
        let said = super::essential(text);
        assert!(said.starts_with("Offending ED25519 key"), "{said}");
        assert!(!said.contains("NASTY"), "{said}");
        assert_eq!(
            super::reason(text),
            Some("its host key is not the one known_hosts pins (or none is pinned)")
        );
    }
}
