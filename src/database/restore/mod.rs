//! Restoring the database from a pg_dumpall archive, all or nothing: the archive is
//! streamed (never stored) through a filter into one transaction that csi commits only
//! when the dump is complete and the checks inside the transaction pass.

mod common;
mod full;
mod load;
mod parallel;
mod postdata;
mod progress;
mod rename;
mod report;
mod selective;
mod source;
mod sql;
mod staging;
mod writer;

pub use common::TableLoad;
pub use full::FullOptions;
pub use load::{check_archive, load, LoadOutcome, LoadRequest, Mode};
pub use parallel::ParallelOptions;
pub use report::Report;
pub use selective::{Emptying, SelectedTable, SelectiveOptions};
pub use source::DumpSource;
pub use staging::staging_name;
