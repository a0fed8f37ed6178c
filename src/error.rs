//! Errors by kind, and kinds to exit codes. The codes are an API (see README).

use std::fmt;

/// What went wrong, in the terms of the exit code the operator's scripts see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: an operation was attempted and failed.
    Failed,
    /// 2: the command line or the configuration is wrong.
    Usage,
    /// 3: refused: the operator said no, or could not be asked.
    Refused,
    /// 4: a precondition does not hold (lock held, tool missing, wrong project...).
    Precondition,
    /// 5: the operation ran but its verification failed.
    Verification,
    /// 6: a rollout failed and was rolled back to the previous version.
    RolledBack,
    /// 7: the job files and what runs in Nomad differ.
    Drift,
    /// 130: interrupted by a signal.
    Interrupted,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Failed => 1,
            Kind::Usage => 2,
            Kind::Refused => 3,
            Kind::Precondition => 4,
            Kind::Verification => 5,
            Kind::RolledBack => 6,
            Kind::Drift => 7,
            Kind::Interrupted => 130,
        }
    }
}

/// An error the operator reads: one line of what failed, and a hint of what to do.
#[derive(Debug)]
pub struct CsiError {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

impl CsiError {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        CsiError {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CsiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CsiError {}

pub fn usage(message: impl Into<String>) -> CsiError {
    CsiError::new(Kind::Usage, message)
}

pub fn refused(message: impl Into<String>) -> CsiError {
    CsiError::new(Kind::Refused, message)
}

pub fn precondition(message: impl Into<String>) -> CsiError {
    CsiError::new(Kind::Precondition, message)
}

pub fn failed(message: impl Into<String>) -> CsiError {
    CsiError::new(Kind::Failed, message)
}

pub fn verification(message: impl Into<String>) -> CsiError {
    CsiError::new(Kind::Verification, message)
}

/// The kind of an error chain: the first `CsiError` found in it, else `Failed`.
pub fn kind_of(err: &anyhow::Error) -> Kind {
    find_csi_error(err).map_or(Kind::Failed, |e| e.kind)
}

pub fn hint_of(err: &anyhow::Error) -> Option<&str> {
    find_csi_error(err).and_then(|e| e.hint.as_deref())
}

fn find_csi_error(err: &anyhow::Error) -> Option<&CsiError> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<CsiError>())
}
