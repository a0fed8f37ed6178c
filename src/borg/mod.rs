//! borg, driven as a process.

mod archives;
mod create;
mod extract;
mod resolve;

pub use archives::{Archive, Borg};
pub use create::Created;
pub use extract::{Item, DUMP_ITEM, LOCK_WAIT_SECONDS};
pub use resolve::{
    archive_kind, nearest, nightly_archive_name, safety_archive_name, ArchiveInfo, ArchiveSpec,
    PATCH_SAFETY_PREFIX, SAFETY_PREFIX, UPGRADE_SAFETY_PREFIX,
};
