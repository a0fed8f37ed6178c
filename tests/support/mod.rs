#![allow(dead_code)]
pub mod borg;
pub mod csi;
pub mod db_host;
pub mod db_patch_bed;
pub mod http;
pub mod jobs_bed;
pub mod moto;
pub mod nomad;
pub mod patch_bed;
pub mod postgres;
pub mod power_bed;
pub mod pty;
pub mod sshd;
pub mod terraform;
