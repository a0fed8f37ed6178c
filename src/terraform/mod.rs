//! Terraform / OpenTofu: finding the binary and driving it.

mod binary;

pub use binary::{locate, version, Terraform};
