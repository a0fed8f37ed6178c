//! Restarting after a long downtime (`csi env restart-waves`): the downtime, the
//! preflight parameters, then job types back in waves (each wave's list written into
//! `job_types_list`, the next one only once a gate says the running types caught up
//! with near-real-time production), resumable step by step from the journal.

mod control;
pub mod detach;
mod display;
mod downtime;
mod execute;
mod gate;
mod live;
mod plan;
pub mod preflight;
mod record;
mod show;

pub use control::{abort, skip_running_gate, status, Status};
pub use downtime::{Downtime, RESTORE_ARCHIVE_STEP};
pub use execute::{execute, RunOptions};
pub use gate::{probe, Gate, Reading, DEFAULT_GATE_SQL};
pub use live::{running, WavesRunner, LOG_FILE};
pub use plan::{prepare, Db, Decision, PreparedWaves, WavesRequest};
pub use record::{GateMode, Restart, OPERATION};
pub use show::{plan as show_plan, status as show_status};
