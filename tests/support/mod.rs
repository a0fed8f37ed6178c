#![allow(dead_code)]
pub mod borg;
pub mod csi;
pub mod nomad;
pub mod postgres;
pub mod pty;
pub mod terraform;
