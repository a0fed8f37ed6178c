//! One line of terraform's streaming `-json` output (plan, apply), reduced to the
//! events csi shows. Only `@message` text is ever displayed: a `log` line can carry a
//! whole state dump in another key, and that is never read.

use serde::Deserialize;

/// The two warnings every `-target` run produces; expected, so not shown as warnings.
const EXPECTED_WARNINGS: &[&str] = &[
    "Resource targeting is in effect",
    "Applied changes may be incomplete",
];

#[derive(Debug, Clone, PartialEq)]
pub enum UiEvent {
    ApplyStart {
        address: String,
        action: String,
    },
    ApplyProgress {
        address: String,
        action: String,
        elapsed: f64,
    },
    ApplyComplete {
        address: String,
        action: String,
        elapsed: f64,
    },
    ApplyErrored {
        address: String,
        action: String,
        elapsed: f64,
    },
    Diagnostic(Diagnostic),
    Summary {
        add: u64,
        change: u64,
        remove: u64,
        operation: String,
    },
    /// Anything else worth a line (its `@message`), or a line that is not JSON.
    Message(String),
    /// Lines csi does not show (version, planned_change, refresh, ...).
    Quiet,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Diagnostic {
    pub severity: String,
    pub summary: String,
    #[serde(default)]
    pub detail: String,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == "error"
    }

    pub fn is_expected_warning(&self) -> bool {
        self.severity == "warning" && EXPECTED_WARNINGS.contains(&self.summary.as_str())
    }

    pub fn one_line(&self) -> String {
        let detail = self
            .detail
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        if detail.is_empty() {
            self.summary.clone()
        } else {
            format!("{}: {}", self.summary, detail.trim())
        }
    }
}

#[derive(Deserialize)]
struct Line {
    #[serde(rename = "@message", default)]
    message: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    hook: Option<Hook>,
    #[serde(default)]
    diagnostic: Option<Diagnostic>,
    #[serde(default)]
    changes: Option<Changes>,
}

#[derive(Deserialize)]
struct Hook {
    #[serde(default)]
    resource: Option<HookResource>,
    #[serde(default)]
    action: String,
    #[serde(default)]
    elapsed_seconds: f64,
}

#[derive(Deserialize)]
struct HookResource {
    addr: String,
}

#[derive(Deserialize)]
struct Changes {
    #[serde(default)]
    add: u64,
    #[serde(default)]
    change: u64,
    #[serde(default)]
    remove: u64,
    #[serde(default)]
    operation: String,
}

pub fn parse(line: &str) -> UiEvent {
    let Ok(parsed) = serde_json::from_str::<Line>(line) else {
        return if line.trim().is_empty() {
            UiEvent::Quiet
        } else {
            UiEvent::Message(line.to_owned())
        };
    };
    let hook = |h: Option<Hook>| {
        let h = h.unwrap_or(Hook {
            resource: None,
            action: String::new(),
            elapsed_seconds: 0.0,
        });
        (
            h.resource.map(|r| r.addr).unwrap_or_default(),
            h.action,
            h.elapsed_seconds,
        )
    };
    match parsed.kind.as_str() {
        "apply_start" => {
            let (address, action, _) = hook(parsed.hook);
            UiEvent::ApplyStart { address, action }
        }
        "apply_progress" => {
            let (address, action, elapsed) = hook(parsed.hook);
            UiEvent::ApplyProgress {
                address,
                action,
                elapsed,
            }
        }
        "apply_complete" => {
            let (address, action, elapsed) = hook(parsed.hook);
            UiEvent::ApplyComplete {
                address,
                action,
                elapsed,
            }
        }
        "apply_errored" => {
            let (address, action, elapsed) = hook(parsed.hook);
            UiEvent::ApplyErrored {
                address,
                action,
                elapsed,
            }
        }
        "diagnostic" => parsed
            .diagnostic
            .map_or(UiEvent::Message(parsed.message), UiEvent::Diagnostic),
        "change_summary" => parsed.changes.map_or(UiEvent::Quiet, |c| UiEvent::Summary {
            add: c.add,
            change: c.change,
            remove: c.remove,
            operation: c.operation,
        }),
        "log" if !parsed.message.is_empty() => UiEvent::Message(parsed.message),
        _ => UiEvent::Quiet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_and_summaries_are_read() {
        let start = r#"{"@level":"info","@message":"x: Destroying...","type":"apply_start","hook":{"resource":{"addr":"module.core.terraform_data.tf_tutu"},"action":"delete"}}"#;
        assert_eq!(
            parse(start),
            UiEvent::ApplyStart {
                address: "module.core.terraform_data.tf_tutu".into(),
                action: "delete".into()
            }
        );
        let summary = r#"{"@message":"Apply complete!","type":"change_summary","changes":{"add":0,"change":0,"remove":13,"operation":"apply"}}"#;
        assert_eq!(
            parse(summary),
            UiEvent::Summary {
                add: 0,
                change: 0,
                remove: 13,
                operation: "apply".into()
            }
        );
    }

    #[test]
    fn a_state_dump_in_a_log_line_is_never_surfaced() {
        let dump =
            r#"{"@message":"Emergency state dump","type":"log","state":{"secret":"s3cr3t"}}"#;
        assert_eq!(parse(dump), UiEvent::Message("Emergency state dump".into()));
    }

    #[test]
    fn non_json_lines_are_kept_as_text() {
        assert_eq!(parse("panic: boom"), UiEvent::Message("panic: boom".into()));
    }

    #[test]
    fn the_target_warning_is_expected() {
        let line = r#"{"type":"diagnostic","diagnostic":{"severity":"warning","summary":"Resource targeting is in effect","detail":"..."}}"#;
        match parse(line) {
            UiEvent::Diagnostic(d) => assert!(d.is_expected_warning()),
            other => panic!("{other:?}"),
        }
    }
}
