//! The change, as a unified diff for the operator to review.

use similar::TextDiff;

/// A unified diff (3 lines of context) from `old` to `new`, both sides labelled
/// `path_label`; empty when the texts are equal.
pub fn unified_diff(path_label: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(path_label, path_label)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::unified_diff;

    #[test]
    fn one_line_changed() {
        let old = "a\nb\nimage = \"x:1\"\nc\n";
        let new = "a\nb\nimage = \"x:2\"\nc\n";
        let diff = unified_diff("nomad/monitor.nomad", old, new);
        assert_eq!(
            diff,
            "--- nomad/monitor.nomad\n+++ nomad/monitor.nomad\n@@ -1,4 +1,4 @@\n a\n b\n-image = \"x:1\"\n+image = \"x:2\"\n c\n"
        );
        assert_eq!(unified_diff("f", old, old), "");
    }

    #[test]
    fn missing_final_newline_is_shown() {
        let diff = unified_diff("f", "a:1", "a:2");
        assert!(diff.contains("\\ No newline at end of file"), "{diff}");
    }
}
