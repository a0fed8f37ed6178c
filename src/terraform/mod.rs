//! Terraform / OpenTofu: finding the binary and driving it.

mod binary;
pub mod varfile;

pub use binary::{find_program, locate, version, Terraform};
