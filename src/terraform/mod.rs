//! Terraform / OpenTofu: finding the binary, planning, checking and applying.

mod binary;
pub mod display;
pub mod expected;
pub mod identity;
pub mod packages;
pub mod packages_tag;
pub mod plan;
mod runner;
pub mod state;
pub mod ui;
pub mod varfile;

pub use binary::{find_program, locate, version, Terraform};
pub use runner::{ApplyReport, Direction, SavedPlan, Tree};
