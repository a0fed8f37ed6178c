//! Snapshots of whole texts (help, plans) with what changes from run to run redacted:
//! temporary paths, ports, clock times and durations. A snapshot that changes is a change
//! of what an operator reads, reviewed as such (`tests/it/snapshots/`).

/// Asserts `text` equals the stored snapshot `name`, after redaction.
#[macro_export]
macro_rules! assert_text_snapshot {
    ($name:expr, $text:expr) => {{
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path("snapshots");
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        for (pattern, replacement) in $crate::support::snapshot::FILTERS {
            settings.add_filter(pattern, *replacement);
        }
        settings.bind(|| insta::assert_snapshot!($name, $text));
    }};
}

/// Regex -> replacement, applied in order.
pub const FILTERS: &[(&str, &str)] = &[
    (r"/tmp/[A-Za-z0-9._/-]+", "[TMP]"),
    (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
    (
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}| UTC)?",
        "[TIME]",
    ),
    (r"\b\d+(\.\d+)?\s?(ms|s)\b", "[DURATION]"),
];
