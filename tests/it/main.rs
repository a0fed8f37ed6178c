//! The test suite, one binary: each module is one area of csi, run against real
//! components (OpenTofu, PostgreSQL 12, borg, OpenSSH, moto) and the Nomad double.
//! One binary links once and shares one support layer (`support`, `restore_bed`).

// Tests may panic: a panic is a failed test (the product code may not: Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod restore_bed;
mod support;

mod backup_now;
mod db_patch;
mod deploy_dashboard;
mod e2e;
mod faults;
mod foundation;
mod jobfile_cpu;
mod jobfile_render;
mod jobfile_roundtrip;
mod jobs;
mod layering;
mod nomad_spec_shapes;
mod nomad_tls;
mod over_ssh;
mod params;
mod patch_image;
mod power;
mod processing_image;
mod remote_state;
mod restart_waves;
mod restore_atomic;
mod restore_globals;
mod restore_parallel;
mod restore_resolve;
mod restore_roundtrip;
mod restore_services;
mod restore_tables;
mod sandbox_schema;
mod status;
mod terraform_tree;
mod upgrade;
