//! Nomad job files: finding and rewriting the image tag without touching anything else.
//!
//! The job files are the source of truth (a change made in the Nomad UI is lost at the
//! next restart), so `patch-image` edits them in place: only the bytes of one tag
//! change; comments, heredocs, `$VARS`, `${...}` and layout are kept.
//!
//! - [`find_images`], [`scan`]: every `image = "..."` in a `config` block of a `task`.
//!   Strict HCL2 (hcl-edit, spans only, never re-serialised) first; for HCL1-era files
//!   that strict HCL2 rejects, a tolerant token-level scanner ([`ParseMode`]).
//! - [`set_image_tag`]: the new text, with one tag replaced by byte range.
//! - [`validate_tag`]: the tag convention (`git-` + 8 hex by default).
//! - [`unified_diff`], [`write_atomically`]: showing and saving the change.
//! - [`render`]: filling in the allow-listed template variables before submission.
//!
//! Nothing here prints or knows about the command line; errors name the task and the
//! line, and callers add the file path.

mod diff;
mod error;
mod fallback;
mod images;
mod lexer;
mod lines;
mod patch;
mod reference;
mod render;
mod resources;
mod strict;
mod tag;
mod tree;

pub use crate::atomic_file::write_atomically;
pub use diff::unified_diff;
pub use error::{JobFileError, TaskInfo};
pub use images::{find_images, scan, scan_with, ImageRef, ParseMode, Scan};
pub use patch::{set_image_tag, Patched};
pub use reference::ImageReference;
pub use render::{render, MissingVariable, RenderError, DEFAULT_TEMPLATE_VARIABLES};
pub use resources::{set_task_cpu, CpuPatched};
pub use tag::{validate_tag, TagError, DEFAULT_TAG_PATTERN};
