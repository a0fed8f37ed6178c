//! Changing one task's CPU (`resources { cpu = N }`), and only its digits.
//!
//! Where the CPU is: the `cpu` attribute of a `resources` block directly inside a
//! `task` block (at any depth: `job > group > task`, or `job > task`). Same parsers as
//! for the images: strict HCL2 first, the tolerant scanner for HCL1-era files.

use std::ops::Range;

use super::error::{JobFileError, TaskInfo};
use super::images::ParseMode;
use super::tree::{Node, Value};
use super::{fallback, strict};

/// The result of [`set_task_cpu`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuPatched {
    /// The new file text: the source with the cpu's digits replaced.
    pub text: String,
    /// The parser that located the `cpu` attribute.
    pub mode: ParseMode,
    pub task: String,
    /// 1-based line of the `cpu` attribute.
    pub line: usize,
    pub old_cpu: u32,
    pub new_cpu: u32,
}

impl CpuPatched {
    /// Whether the text differs from the source (false when the CPU was already set).
    pub fn changed(&self) -> bool {
        self.old_cpu != self.new_cpu
    }
}

/// Replaces the `cpu` of one task's `resources` block: the named task's, or that of
/// the file's only task with a `resources` block.
///
/// Every byte but the cpu's digits is kept. The value must be a literal integer. The
/// result is read back before it is returned.
pub fn set_task_cpu(
    source: &str,
    task: Option<&str>,
    cpu: u32,
) -> Result<CpuPatched, JobFileError> {
    if cpu == 0 {
        return Err(JobFileError::InvalidCpu { cpu });
    }
    let before = read(source)?;
    let (chosen, attr) = before.select(task)?;
    let old_cpu = literal(&attr.raw).ok_or_else(|| JobFileError::CpuNotLiteral {
        task: chosen.task.name.clone(),
        line: attr.line,
        value: attr.raw.clone(),
    })?;
    let digits = cpu.to_string();
    let text = format!(
        "{}{digits}{}",
        &source[..attr.range.start],
        &source[attr.range.end..]
    );
    let patched = CpuPatched {
        text,
        mode: before.mode,
        task: chosen.task.name.clone(),
        line: attr.line,
        old_cpu,
        new_cpu: cpu,
    };
    read_back(&before, attr, &digits, &patched)?;
    Ok(patched)
}

/// The tasks of a job file, as far as resources go.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resources {
    mode: ParseMode,
    /// Every task block, with or without resources, in file order.
    tasks: Vec<TaskResources>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TaskResources {
    task: TaskInfo,
    /// 1-based lines of the task's `resources` blocks.
    blocks: Vec<usize>,
    /// Every `cpu` attribute of those blocks.
    cpus: Vec<CpuAttr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CpuAttr {
    /// 1-based line of the `cpu` key.
    line: usize,
    /// Byte range of the value in the source (quotes included for a string).
    range: Range<usize>,
    /// The value as written.
    raw: String,
}

/// Strict HCL2 first, the tolerant scanner when that fails (its error wins then).
fn read(source: &str) -> Result<Resources, JobFileError> {
    read_with(source, ParseMode::Strict).or_else(|_| read_with(source, ParseMode::Fallback))
}

fn read_with(source: &str, mode: ParseMode) -> Result<Resources, JobFileError> {
    let nodes = match mode {
        ParseMode::Strict => strict::parse(source)?,
        ParseMode::Fallback => fallback::parse(source)?,
    };
    let mut resources = Resources {
        mode,
        tasks: Vec::new(),
    };
    collect(&nodes, source, &mut resources.tasks);
    Ok(resources)
}

fn collect(nodes: &[Node], source: &str, tasks: &mut Vec<TaskResources>) {
    for node in nodes {
        let Node::Block(block) = node else { continue };
        if block.ident != "task" {
            collect(&block.body, source, tasks);
            continue;
        }
        let mut task = TaskResources {
            task: TaskInfo {
                name: block.labels.first().cloned().unwrap_or_default(),
                line: block.line,
            },
            blocks: Vec::new(),
            cpus: Vec::new(),
        };
        let blocks = block.body.iter().filter_map(|n| match n {
            Node::Block(b) if b.ident == "resources" => Some(b),
            _ => None,
        });
        for resources in blocks {
            task.blocks.push(resources.line);
            for node in &resources.body {
                let Node::Attr(attr) = node else { continue };
                if attr.key != "cpu" {
                    continue;
                }
                let range = match &attr.value {
                    Value::Str(r) | Value::Other(r) => r.clone(),
                };
                task.cpus.push(CpuAttr {
                    line: attr.line,
                    raw: source[range.clone()].to_string(),
                    range,
                });
            }
        }
        tasks.push(task);
    }
}

/// The value of a decimal integer literal that fits a `u32`: digits only, no sign, no
/// quotes, no exponent.
fn literal(raw: &str) -> Option<u32> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

impl Resources {
    fn infos(&self) -> Vec<TaskInfo> {
        self.tasks.iter().map(|t| t.task.clone()).collect()
    }

    /// The task to patch and its one `cpu` attribute.
    fn select(&self, task: Option<&str>) -> Result<(&TaskResources, &CpuAttr), JobFileError> {
        let named: Vec<&TaskResources> = match task {
            Some(name) => self.tasks.iter().filter(|t| t.task.name == name).collect(),
            None => self.tasks.iter().collect(),
        };
        let with_resources: Vec<&TaskResources> = named
            .iter()
            .copied()
            .filter(|t| !t.blocks.is_empty())
            .collect();
        let chosen = match (with_resources.as_slice(), named.as_slice(), task) {
            ([one], _, _) => *one,
            ([], [], Some(name)) => {
                return Err(JobFileError::TaskNotFound {
                    task: name.to_string(),
                    tasks: self.infos(),
                })
            }
            ([], [only], _) | ([], [only, ..], Some(_)) => {
                return Err(JobFileError::NoResources {
                    task: only.task.name.clone(),
                    line: only.task.line,
                })
            }
            ([], _, None) => {
                return Err(JobFileError::NoTaskWithResources {
                    line: self.tasks.first().map_or(1, |t| t.task.line),
                    tasks: self.infos(),
                })
            }
            (many, _, _) => {
                return Err(JobFileError::SeveralResources {
                    tasks: many
                        .iter()
                        .map(|t| TaskInfo {
                            name: t.task.name.clone(),
                            line: t.blocks[0],
                        })
                        .collect(),
                })
            }
        };
        match chosen.cpus.as_slice() {
            [one] => Ok((chosen, one)),
            [] => Err(JobFileError::NoCpu {
                task: chosen.task.name.clone(),
                line: chosen.blocks[0],
            }),
            many => Err(JobFileError::DuplicateCpu {
                task: chosen.task.name.clone(),
                lines: many.iter().map(|c| c.line).collect(),
            }),
        }
    }
}

/// Per task: the task, its `resources` lines, its `cpu` attributes (line, value).
type Shape = Vec<(TaskInfo, Vec<usize>, Vec<(usize, String)>)>;

/// Parses the patched text with the same parser: same tasks, same resources blocks,
/// same `cpu` attributes, only the chosen one's value changed.
fn read_back(
    before: &Resources,
    attr: &CpuAttr,
    digits: &str,
    patched: &CpuPatched,
) -> Result<(), JobFileError> {
    let after = read_with(&patched.text, before.mode)
        .map_err(|e| JobFileError::Internal(format!("the patched file does not parse: {e}")))?;
    let shape = |r: &Resources, replace: bool| -> Shape {
        r.tasks
            .iter()
            .map(|t| {
                let cpus = t
                    .cpus
                    .iter()
                    .map(|c| {
                        let raw = if replace && c == attr {
                            digits.to_string()
                        } else {
                            c.raw.clone()
                        };
                        (c.line, raw)
                    })
                    .collect();
                (t.task.clone(), t.blocks.clone(), cpus)
            })
            .collect()
    };
    if shape(&after, false) != shape(before, true) {
        return Err(JobFileError::Internal(format!(
            "the patched file does not read back as expected (task {:?}, line {})",
            patched.task, patched.line
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::set_task_cpu;
    use crate::nomad::jobfile::{JobFileError, ParseMode, TaskInfo};

    const SRC: &str = "job \"j\" {\n  task \"t\" {\n    config {\n      image = \"a/b:1\"\n    }\n    # cpu = 1\n    resources {\n      cpu    = 500 # keep\n      memory = 256\n    }\n  }\n}\n";

    #[test]
    fn only_the_digits_change() {
        let patched = set_task_cpu(SRC, None, 1250).unwrap();
        assert_eq!(
            patched.text,
            SRC.replace("cpu    = 500 #", "cpu    = 1250 #")
        );
        assert_eq!(patched.mode, ParseMode::Strict);
        assert_eq!(patched.task, "t");
        assert_eq!(patched.line, 8);
        assert_eq!((patched.old_cpu, patched.new_cpu), (500, 1250));
        assert!(patched.changed());
        let back = set_task_cpu(&patched.text, Some("t"), 500).unwrap();
        assert_eq!(back.text, SRC);
        let same = set_task_cpu(SRC, Some("t"), 500).unwrap();
        assert_eq!(same.text, SRC);
        assert!(!same.changed());
    }

    #[test]
    fn fallback_patches_hcl1_files() {
        let src = "task \"t\" {\n  config {\n    args = [\"x\"]\n    args = [\"y\"]\n  }\n  resources { cpu = 1 memory = 2 }\n}\n";
        let patched = set_task_cpu(src, None, 300).unwrap();
        assert_eq!(patched.mode, ParseMode::Fallback);
        assert_eq!(patched.line, 6);
        assert_eq!(patched.old_cpu, 1);
        assert_eq!(
            patched.text,
            src.replace("cpu = 1 memory", "cpu = 300 memory")
        );
    }

    #[test]
    fn cpu_elsewhere_is_not_the_task_cpu() {
        // A heredoc, a comment, a `config` block, a group-level block: none count.
        let src = "job \"j\" {\n  group \"g\" {\n    resources { cpu = 9 }\n    task \"t\" {\n      config {\n        resources { cpu = 8 }\n      }\n      template {\n        data = <<EOF\nresources { cpu = 7 }\nEOF\n      }\n      resources {\n        cpu = 100\n      }\n    }\n  }\n}\n";
        for task in [None, Some("t")] {
            let patched = set_task_cpu(src, task, 200).unwrap();
            assert_eq!(patched.line, 14);
            assert_eq!(patched.text, src.replace("cpu = 100", "cpu = 200"));
        }
    }

    #[test]
    fn several_tasks_need_the_task_name() {
        let src = "job \"j\" {\n  task \"a\" {\n    resources {\n      cpu = 100\n    }\n  }\n  task \"b\" {\n    resources { cpu = 200 }\n  }\n  task \"c\" {\n  }\n}\n";
        let err = set_task_cpu(src, None, 300).unwrap_err();
        assert_eq!(
            err,
            JobFileError::SeveralResources {
                tasks: vec![
                    TaskInfo {
                        name: "a".into(),
                        line: 3
                    },
                    TaskInfo {
                        name: "b".into(),
                        line: 8
                    },
                ]
            }
        );
        assert_eq!(
            err.to_string(),
            "line 3: 2 tasks have a `resources` block (\"a\" at line 3, \"b\" at line 8); name the task to patch"
        );
        let b = set_task_cpu(src, Some("b"), 300).unwrap();
        assert_eq!(b.text, src.replace("cpu = 200", "cpu = 300"));
        assert_eq!(b.line, 8);
        let err = set_task_cpu(src, Some("c"), 300).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 10: task \"c\" has no `resources` block"
        );
        let err = set_task_cpu(src, Some("zzz"), 300).unwrap_err();
        assert!(matches!(err, JobFileError::TaskNotFound { .. }), "{err}");
        assert!(err.to_string().contains("\"c\" at line 10"), "{err}");
    }

    #[test]
    fn the_only_task_with_resources_needs_no_name() {
        let src = "job \"j\" {\n  task \"a\" {\n  }\n  task \"b\" {\n    resources { cpu = 200 }\n  }\n}\n";
        let patched = set_task_cpu(src, None, 300).unwrap();
        assert_eq!(patched.task, "b");
    }

    #[test]
    fn missing_resources_or_cpu_name_the_task_and_line() {
        let err = set_task_cpu("job \"j\" {\n  task \"t\" {\n  }\n}\n", None, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: task \"t\" has no `resources` block"
        );
        let err = set_task_cpu(
            "job \"j\" {\n  task \"a\" {}\n  task \"b\" {}\n}\n",
            None,
            1,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: no task has a `resources` block (tasks: \"a\" at line 2, \"b\" at line 3)"
        );
        let err = set_task_cpu("job \"j\" {}\n", None, 1).unwrap_err();
        assert!(
            matches!(err, JobFileError::NoTaskWithResources { line: 1, .. }),
            "{err}"
        );
        let err = set_task_cpu(
            "task \"t\" {\n  resources {\n    memory = 1\n  }\n}\n",
            None,
            1,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: the `resources` block of task \"t\" has no `cpu = ...`"
        );
    }

    #[test]
    fn non_literal_cpus_are_refused() {
        for value in [
            "\"500\"",
            "var.cpu",
            "-1",
            "1.5",
            "1e3",
            "100 + 1",
            "4294967296",
        ] {
            let src = format!("task \"t\" {{\n  resources {{\n    cpu = {value}\n  }}\n}}\n");
            let err = set_task_cpu(&src, None, 1).unwrap_err();
            assert_eq!(
                err,
                JobFileError::CpuNotLiteral {
                    task: "t".into(),
                    line: 3,
                    value: value.into()
                },
                "{value}"
            );
        }
        let err = set_task_cpu(
            "task \"t\" {\n  resources {\n    cpu = x\n  }\n}\n",
            None,
            1,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3: the cpu of task \"t\" is not a literal integer (`cpu = x`); edit it by hand"
        );
    }

    #[test]
    fn repeated_cpu_and_zero_are_refused() {
        let src = "task \"t\" {\n  resources {\n    cpu = 1\n    cpu = 2\n  }\n}\n";
        assert_eq!(
            set_task_cpu(src, None, 5).unwrap_err(),
            JobFileError::DuplicateCpu {
                task: "t".into(),
                lines: vec![3, 4]
            }
        );
        assert_eq!(
            set_task_cpu(SRC, None, 0).unwrap_err(),
            JobFileError::InvalidCpu { cpu: 0 }
        );
    }

    #[test]
    fn crlf_and_large_values() {
        let src = "task \"t\" {\r\n  resources {\r\n    cpu = 7\r\n  }\r\n}\r\n";
        let patched = set_task_cpu(src, None, u32::MAX).unwrap();
        assert_eq!(patched.text, src.replace("= 7", "= 4294967295"));
        let back = set_task_cpu(&patched.text, None, 7).unwrap();
        assert_eq!((back.old_cpu, back.text.as_str()), (u32::MAX, src));
    }
}
