//! csi: operations for the HR-S&I production system.
//!
//! Command handlers (`commands`) are thin; the work is done by domain modules that
//! know nothing about the command line: `terraform`, `nomad`, `borg`, `database`,
//! `journal`, `lock`, `prompts`, `output`, `process`.

// Everything a person reads goes through the printer (`output`), which redacts secrets.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod atomic_file;
pub mod backoff;
pub mod borg;
pub mod cli;
pub mod commands;
pub mod config;
pub mod dashboard;
pub mod database;
pub mod dbpatch;
pub mod env_vars;
pub mod error;
pub mod interrupt;
pub mod jobs;
pub mod journal;
pub mod lock;
pub mod nomad;
pub mod operation;
pub mod output;
pub mod params;
pub mod power;
pub mod preflight;
pub mod process;
pub mod prompts;
pub mod remote;
pub mod rollout;
pub mod run;
pub mod secret;
pub mod settings;
pub mod ssh;
pub mod status;
pub mod terraform;
pub mod upgrade;
pub mod waves;
