//! The walk's plan, per current status: how many jobs, and the walk each takes or why
//! the transition rules refuse it.

use serde::Serialize;

use super::{describe, path_text, Status, StatusCount, Transitions};

/// Per current status: how many jobs, and the walk or why it is refused.
#[derive(Debug, Serialize)]
pub struct StatusPlan {
    pub status: String,
    pub jobs: i64,
    pub walk: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

pub fn plan_walk(counts: &[StatusCount], rules: &Transitions, path: &[Status]) -> Vec<StatusPlan> {
    counts
        .iter()
        .map(|c| StatusPlan {
            status: describe(c.status),
            jobs: c.jobs,
            walk: path_text(c.status, path),
            refused: rules
                .check_path(c.status, path)
                .err()
                .map(|d| d.to_string()),
        })
        .collect()
}
