//! Changing one image tag, and only its bytes.

use std::ops::Range;

use super::error::JobFileError;
use super::images::{scan, scan_with, ImageRef, ParseMode, Scan};
use super::reference::ImageReference;
use super::tag::check_docker_tag;

/// The result of [`set_image_tag`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patched {
    /// The new file text: the source with the tag's bytes replaced.
    pub text: String,
    /// The parser that located the image.
    pub mode: ParseMode,
    pub task: String,
    /// 1-based line of the `image` attribute.
    pub line: usize,
    pub old_image: String,
    pub new_image: String,
    pub old_tag: String,
    pub new_tag: String,
}

impl Patched {
    /// Whether the text differs from the source (false when the tag was already set).
    pub fn changed(&self) -> bool {
        self.old_tag != self.new_tag
    }
}

/// Replaces the tag of one image: the named task's, or the file's only one.
///
/// Every byte but the tag's is kept: comments, blank lines, heredocs, `$VARS`,
/// `${...}`, order and whitespace. The image must be a plain string literal with a
/// tag and no digest. The result is read back before it is returned.
pub fn set_image_tag(
    source: &str,
    task: Option<&str>,
    new_tag: &str,
) -> Result<Patched, JobFileError> {
    check_docker_tag(new_tag).map_err(|reason| JobFileError::InvalidTag {
        tag: new_tag.to_string(),
        reason,
    })?;
    let before = scan(source)?;
    let image = before.select(task)?;
    let (reference, range) = taggable(image)?;
    let text = format!(
        "{}{new_tag}{}",
        &source[..range.start],
        &source[range.end..]
    );
    let mut new_reference = reference.clone();
    new_reference.tag = Some(new_tag.to_string());
    let patched = Patched {
        mode: before.mode,
        task: image.task.clone(),
        line: image.line,
        old_image: image.raw.clone(),
        new_image: new_reference.to_string(),
        old_tag: reference.tag.clone().unwrap_or_default(),
        new_tag: new_tag.to_string(),
        text,
    };
    read_back(&before, image, &patched)?;
    Ok(patched)
}

/// The reference and the tag's byte range, when the image can be patched.
fn taggable(image: &ImageRef) -> Result<(&ImageReference, Range<usize>), JobFileError> {
    let Some(reference) = &image.reference else {
        return Err(JobFileError::NotLiteral {
            task: image.task.clone(),
            line: image.line,
        });
    };
    if reference.digest.is_some() {
        return Err(JobFileError::Digest {
            task: image.task.clone(),
            line: image.line,
            image: image.raw.clone(),
        });
    }
    match image.tag_range() {
        Some(range) if !range.is_empty() => Ok((reference, range)),
        _ => Err(JobFileError::NoTag {
            task: image.task.clone(),
            line: image.line,
            image: image.raw.clone(),
        }),
    }
}

/// Parses the patched text with the same parser: same tasks, same images, only the
/// chosen one's tag changed.
fn read_back(before: &Scan, image: &ImageRef, patched: &Patched) -> Result<(), JobFileError> {
    let after = scan_with(&patched.text, before.mode)
        .map_err(|e| JobFileError::Internal(format!("the patched file does not parse: {e}")))?;
    let expected: Vec<(&str, usize, String)> = before
        .images
        .iter()
        .map(|i| {
            let raw = if i == image {
                patched.new_image.clone()
            } else {
                i.raw.clone()
            };
            (i.task.as_str(), i.line, raw)
        })
        .collect();
    let actual: Vec<(&str, usize, String)> = after
        .images
        .iter()
        .map(|i| (i.task.as_str(), i.line, i.raw.clone()))
        .collect();
    if after.tasks != before.tasks || actual != expected {
        return Err(JobFileError::Internal(format!(
            "the patched file does not read back as expected (task {:?}, line {})",
            image.task, image.line
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::set_image_tag;
    use crate::nomad::jobfile::{JobFileError, ParseMode};

    const SRC: &str = "job \"j\" {\n  task \"t\" {\n    config {\n      image = \"reg.example:5000/a/b:git-00000000\" # keep\n    }\n  }\n}\n";

    #[test]
    fn only_the_tag_changes() {
        let patched = set_image_tag(SRC, None, "git-deadbeef").unwrap();
        assert_eq!(patched.text, SRC.replace("git-00000000", "git-deadbeef"));
        assert_eq!(patched.mode, ParseMode::Strict);
        assert_eq!(patched.line, 4);
        assert_eq!(patched.old_tag, "git-00000000");
        assert_eq!(patched.new_image, "reg.example:5000/a/b:git-deadbeef");
        assert!(patched.changed());
        let same = set_image_tag(SRC, Some("t"), "git-00000000").unwrap();
        assert_eq!(same.text, SRC);
        assert!(!same.changed());
    }

    #[test]
    fn tags_that_would_break_the_file_are_refused() {
        for bad in ["", "a\"b", "a b", "-x", "a\nb", "${x}", &"x".repeat(129)] {
            assert!(
                matches!(
                    set_image_tag(SRC, None, bad),
                    Err(JobFileError::InvalidTag { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn images_without_tag_or_with_digest() {
        let no_tag = SRC.replace(":git-00000000", "");
        assert_eq!(
            set_image_tag(&no_tag, None, "git-deadbeef")
                .unwrap_err()
                .to_string(),
            "line 4: image \"reg.example:5000/a/b\" of task \"t\" has no tag"
        );
        let empty_tag = SRC.replace("git-00000000", "");
        assert!(matches!(
            set_image_tag(&empty_tag, None, "git-deadbeef"),
            Err(JobFileError::NoTag { line: 4, .. })
        ));
        let digest = SRC.replace("git-00000000", "1@sha256:0123");
        assert!(matches!(
            set_image_tag(&digest, None, "git-deadbeef"),
            Err(JobFileError::Digest { line: 4, .. })
        ));
        let template = SRC.replace("git-00000000", "${var.tag}");
        assert!(matches!(
            set_image_tag(&template, None, "git-deadbeef"),
            Err(JobFileError::NotLiteral { line: 4, .. })
        ));
    }

    #[test]
    fn fallback_patches_hcl1_files() {
        let src = "task \"t\" {\n  config {\n    image = \"a/b:1\"\n    args = [\"x\"]\n    args = [\"y\"]\n  }\n  resources { cpu = 1 memory = 2 }\n}\n";
        let patched = set_image_tag(src, None, "2").unwrap();
        assert_eq!(patched.mode, ParseMode::Fallback);
        assert_eq!(patched.text, src.replace("a/b:1", "a/b:2"));
    }
}
