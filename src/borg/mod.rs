//! borg, driven as a process.

mod archives;

pub use archives::{Archive, Borg};
