//! What can go wrong reading or patching a job file. Messages name the task and the
//! line; callers add the file path.

use std::fmt::Write as _;

/// A task block of a job file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    /// The task's label (`task "<name>" { ... }`).
    pub name: String,
    /// 1-based line of the `task` keyword.
    pub line: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JobFileError {
    /// Strict HCL2 parsing failed (only reported when the strict parser is asked for
    /// explicitly; otherwise the tolerant scanner gets its chance).
    #[error("line {line}: not valid HCL2: {message}")]
    Syntax { line: usize, message: String },

    /// The tolerant scanner could not make sense of the block structure.
    #[error("line {line}: {message}")]
    Malformed { line: usize, message: String },

    #[error("line {line}: string is never closed")]
    UnterminatedString { line: usize },

    #[error("line {line}: heredoc <<{marker} is never closed (no line reading `{marker}`)")]
    UnterminatedHeredoc { line: usize, marker: String },

    #[error("line {line}: /* comment is never closed")]
    UnterminatedComment { line: usize },

    #[error("line {line}: {}", no_image(tasks))]
    NoImage { line: usize, tasks: Vec<TaskInfo> },

    #[error("line {}: {} tasks have an image ({}); name the task to patch", images.first().map_or(0, |t| t.line), images.len(), list(images))]
    SeveralImages { images: Vec<TaskInfo> },

    #[error("no task {task:?} in this file; {}", tasks_are(tasks))]
    TaskNotFound { task: String, tasks: Vec<TaskInfo> },

    #[error("line {line}: task {task:?} has no `image = \"...\"` in a `config` block")]
    TaskWithoutImage { task: String, line: usize },

    #[error("line {}: task {task:?} sets `image` {} times (lines {}); fix the file by hand", lines.first().copied().unwrap_or(0), lines.len(), join(lines))]
    DuplicateImage { task: String, lines: Vec<usize> },

    #[error("line {line}: the image of task {task:?} is not a plain string (it uses an interpolation, a variable or escapes); edit it by hand")]
    NotLiteral { task: String, line: usize },

    #[error("line {line}: image {image:?} of task {task:?} has no tag")]
    NoTag {
        task: String,
        line: usize,
        image: String,
    },

    #[error("line {line}: image {image:?} of task {task:?} is pinned by digest; a tag cannot be patched in")]
    Digest {
        task: String,
        line: usize,
        image: String,
    },

    #[error("{tag:?} is not a valid image tag: {reason}")]
    InvalidTag { tag: String, reason: String },

    #[error("line {line}: task {task:?} has no `resources` block")]
    NoResources { task: String, line: usize },

    #[error("line {line}: {}", no_resources(tasks))]
    NoTaskWithResources { line: usize, tasks: Vec<TaskInfo> },

    #[error("line {}: {} tasks have a `resources` block ({}); name the task to patch", tasks.first().map_or(0, |t| t.line), tasks.len(), list(tasks))]
    SeveralResources { tasks: Vec<TaskInfo> },

    #[error("line {line}: the `resources` block of task {task:?} has no `cpu = ...`")]
    NoCpu { task: String, line: usize },

    #[error("line {}: task {task:?} sets `cpu` {} times in `resources` (lines {}); fix the file by hand", lines.first().copied().unwrap_or(0), lines.len(), join(lines))]
    DuplicateCpu { task: String, lines: Vec<usize> },

    #[error("line {line}: the cpu of task {task:?} is not a literal integer (`cpu = {value}`); edit it by hand")]
    CpuNotLiteral {
        task: String,
        line: usize,
        value: String,
    },

    #[error("cpu = {cpu} is not valid: Nomad needs at least 1 MHz")]
    InvalidCpu { cpu: u32 },

    /// The patched text did not read back as expected: a bug, nothing was written.
    #[error("internal error: {0}")]
    Internal(String),
}

fn no_image(tasks: &[TaskInfo]) -> String {
    match tasks {
        [] => "no `task` block with a `config { image = \"...\" }` in this file".to_string(),
        [one] => format!(
            "task {:?} has no `image = \"...\"` in a `config` block",
            one.name
        ),
        many => format!(
            "no task has an `image = \"...\"` in a `config` block (tasks: {})",
            list(many)
        ),
    }
}

fn no_resources(tasks: &[TaskInfo]) -> String {
    if tasks.is_empty() {
        "no `task` block with a `resources` block in this file".to_string()
    } else {
        format!("no task has a `resources` block (tasks: {})", list(tasks))
    }
}

fn tasks_are(tasks: &[TaskInfo]) -> String {
    if tasks.is_empty() {
        "it has no task block".to_string()
    } else {
        format!("its tasks are {}", list(tasks))
    }
}

fn list(tasks: &[TaskInfo]) -> String {
    let mut out = String::new();
    for (i, task) in tasks.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{:?} at line {}", task.name, task.line);
    }
    out
}

fn join(lines: &[usize]) -> String {
    lines
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
