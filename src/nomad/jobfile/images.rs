//! Where the images are: every `image = "..."` of a `config` block directly inside a
//! `task` block (at any depth: `job > group > task`, or `job > task`).

use std::fmt;
use std::ops::Range;

use super::error::{JobFileError, TaskInfo};
use super::reference::ImageReference;
use super::tree::{Node, Value};
use super::{fallback, strict};

/// Which parser read the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseMode {
    /// hcl-edit's HCL2 parser.
    Strict,
    /// The token-level scanner, for HCL1-era files that strict HCL2 rejects.
    Fallback,
}

impl fmt::Display for ParseMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseMode::Strict => "strict HCL2",
            ParseMode::Fallback => "tolerant (HCL1-era) scan",
        })
    }
}

/// One `image = ...` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The label of the enclosing task block.
    pub task: String,
    /// 1-based line of the `image` key.
    pub line: usize,
    /// Byte range, in the source, of the string's content (between the quotes); of
    /// the whole expression when the value is not a quoted string.
    pub content: Range<usize>,
    /// The text at `content`, as written.
    pub raw: String,
    /// The parsed reference; `None` unless the value is a plain string literal
    /// (no `${...}`/`%{...}` template, no `\` escape).
    pub reference: Option<ImageReference>,
}

impl ImageRef {
    /// Byte range of the tag in the source.
    pub fn tag_range(&self) -> Option<Range<usize>> {
        let reference = self.reference.as_ref()?;
        let tag = reference.tag_range.as_ref()?;
        Some(self.content.start + tag.start..self.content.start + tag.end)
    }
}

/// What a job file holds, as far as images go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub mode: ParseMode,
    /// Every task block, with or without an image, in file order.
    pub tasks: Vec<TaskInfo>,
    /// Every image, in file order.
    pub images: Vec<ImageRef>,
}

/// Every image of the file: strict HCL2 first, the tolerant scanner when that fails.
pub fn find_images(source: &str) -> Result<Vec<ImageRef>, JobFileError> {
    Ok(scan(source)?.images)
}

/// Reads the file strictly, falling back to the tolerant scanner when strict HCL2
/// rejects it. When both fail, the scanner's error is returned (it names what is
/// unterminated or unbalanced).
pub fn scan(source: &str) -> Result<Scan, JobFileError> {
    scan_with(source, ParseMode::Strict).or_else(|_| scan_with(source, ParseMode::Fallback))
}

/// Reads the file with one parser only.
pub fn scan_with(source: &str, mode: ParseMode) -> Result<Scan, JobFileError> {
    let nodes = match mode {
        ParseMode::Strict => strict::parse(source)?,
        ParseMode::Fallback => fallback::parse(source)?,
    };
    let mut scan = Scan {
        mode,
        tasks: Vec::new(),
        images: Vec::new(),
    };
    collect(&nodes, source, &mut scan);
    Ok(scan)
}

fn collect(nodes: &[Node], source: &str, scan: &mut Scan) {
    for node in nodes {
        let Node::Block(block) = node else { continue };
        if block.ident != "task" {
            collect(&block.body, source, scan);
            continue;
        }
        let task = block.labels.first().cloned().unwrap_or_default();
        scan.tasks.push(TaskInfo {
            name: task.clone(),
            line: block.line,
        });
        let configs = block.body.iter().filter_map(|n| match n {
            Node::Block(b) if b.ident == "config" => Some(b),
            _ => None,
        });
        for config in configs {
            for node in &config.body {
                let Node::Attr(attr) = node else { continue };
                if attr.key != "image" {
                    continue;
                }
                scan.images
                    .push(image(&task, attr.line, &attr.value, source));
            }
        }
    }
}

fn image(task: &str, line: usize, value: &Value, source: &str) -> ImageRef {
    let (content, quoted) = match value {
        Value::Str(r) => (r.start + 1..r.end - 1, true),
        Value::Other(r) => (r.clone(), false),
    };
    let raw = source[content.clone()].to_string();
    let plain = quoted && !raw.contains(['\\']) && !raw.contains("${") && !raw.contains("%{");
    ImageRef {
        task: task.to_string(),
        line,
        content,
        reference: plain.then(|| ImageReference::parse(&raw)),
        raw,
    }
}

impl Scan {
    /// The one image to patch: the named task's, or the file's only one.
    pub fn select(&self, task: Option<&str>) -> Result<&ImageRef, JobFileError> {
        let candidates: Vec<&ImageRef> = match task {
            Some(name) => self.images.iter().filter(|i| i.task == name).collect(),
            None => self.images.iter().collect(),
        };
        match (candidates.as_slice(), task) {
            ([one], _) => Ok(one),
            ([], Some(name)) => Err(match self.tasks.iter().find(|t| t.name == name) {
                Some(t) => JobFileError::TaskWithoutImage {
                    task: name.to_string(),
                    line: t.line,
                },
                None => JobFileError::TaskNotFound {
                    task: name.to_string(),
                    tasks: self.tasks.clone(),
                },
            }),
            ([], None) => Err(JobFileError::NoImage {
                line: self.tasks.first().map_or(1, |t| t.line),
                tasks: self.tasks.clone(),
            }),
            (many, _) if many.iter().all(|i| i.task == many[0].task) => {
                Err(JobFileError::DuplicateImage {
                    task: many[0].task.clone(),
                    lines: many.iter().map(|i| i.line).collect(),
                })
            }
            (many, _) => {
                let mut images: Vec<TaskInfo> = Vec::new();
                for image in many {
                    if !images.iter().any(|t| t.name == image.task) {
                        images.push(TaskInfo {
                            name: image.task.clone(),
                            line: image.line,
                        });
                    }
                }
                Err(JobFileError::SeveralImages { images })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{scan, scan_with, ParseMode};
    use crate::nomad::jobfile::JobFileError;

    const TWO_TASKS: &str = r#"job "j" {
  group "g" {
    task "a" {
      config {
        image = "reg.example/a:1"
      }
    }
    task "b" {
      driver = "docker"
      config { image = "reg.example/b:2" }
    }
    task "c" {
      driver = "exec"
    }
  }
}
"#;

    #[test]
    fn finds_images_only_in_task_config_blocks() {
        let src = r#"
image = "top:1"
job "j" {
  config { image = "job-level:1" }
  task "t" {
    image = "task-level:1"
    config {
      image = "reg.example/app:git-0123abcd"
      nested { image = "nested:1" }
    }
    template {
      data = <<EOF
config { image = "heredoc:1" }
EOF
    }
    # config { image = "comment:1" }
  }
}
"#;
        for mode in [ParseMode::Strict, ParseMode::Fallback] {
            let found = scan_with(src, mode).unwrap();
            assert_eq!(found.images.len(), 1, "{mode}");
            let image = &found.images[0];
            assert_eq!((image.task.as_str(), image.line), ("t", 8));
            assert_eq!(image.raw, "reg.example/app:git-0123abcd");
            assert_eq!(&src[image.content.clone()], image.raw);
            assert_eq!(&src[image.tag_range().unwrap()], "git-0123abcd");
        }
    }

    #[test]
    fn non_literal_images_have_no_reference() {
        let src = "task \"t\" {\n  config {\n    image = \"reg/app:${var.tag}\"\n  }\n}\ntask \"u\" {\n  config {\n    image = var.image\n  }\n}\n";
        for mode in [ParseMode::Strict, ParseMode::Fallback] {
            let found = scan_with(src, mode).unwrap();
            assert_eq!(found.images.len(), 2);
            assert!(found.images.iter().all(|i| i.reference.is_none()));
            assert_eq!(found.images[1].raw, "var.image");
        }
    }

    #[test]
    fn selecting_by_task() {
        let found = scan(TWO_TASKS).unwrap();
        assert_eq!(found.mode, ParseMode::Strict);
        assert_eq!(found.tasks.len(), 3);
        assert_eq!(found.select(Some("b")).unwrap().raw, "reg.example/b:2");
        let err = found.select(None).unwrap_err();
        assert!(matches!(&err, JobFileError::SeveralImages { images } if images.len() == 2));
        let message = err.to_string();
        assert!(message.contains("\"a\" at line 5"), "{message}");
        assert!(message.contains("\"b\" at line 10"), "{message}");
        assert_eq!(
            found.select(Some("c")).unwrap_err(),
            JobFileError::TaskWithoutImage {
                task: "c".into(),
                line: 12
            }
        );
        let err = found.select(Some("zzz")).unwrap_err();
        assert!(matches!(err, JobFileError::TaskNotFound { .. }));
        assert!(err.to_string().contains("\"c\" at line 12"), "{err}");
    }

    #[test]
    fn no_image_names_a_line() {
        let found = scan("job \"j\" {\n  task \"x\" {\n    driver = \"exec\"\n  }\n}\n").unwrap();
        let err = found.select(None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: task \"x\" has no `image = \"...\"` in a `config` block"
        );
        let found = scan("job \"j\" {\n}\n").unwrap();
        let err = found.select(None).unwrap_err();
        assert!(
            err.to_string().starts_with("line 1: no `task` block"),
            "{err}"
        );
    }

    #[test]
    fn repeated_image_in_one_task() {
        let src = "task \"t\" {\n  config {\n    image = \"a:1\"\n    image = \"a:2\"\n  }\n}\n";
        let found = scan(src).unwrap();
        assert_eq!(found.mode, ParseMode::Fallback);
        assert_eq!(
            found.select(None).unwrap_err(),
            JobFileError::DuplicateImage {
                task: "t".into(),
                lines: vec![3, 4]
            }
        );
    }

    #[test]
    fn both_parsers_failing_reports_the_scanner_error() {
        assert_eq!(
            scan("task \"t\" {\n  config {\n    image = \"a:1\n  }\n}\n"),
            Err(JobFileError::UnterminatedString { line: 3 })
        );
    }
}
