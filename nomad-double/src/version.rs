//! The Nomad version the double plays (`--nomad-version`), and the behaviours that
//! differ between versions. Each is cited to Nomad's source in the README.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NomadVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

/// Which jobspec parser `/v1/jobs/parse` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parser {
    /// `jobspec.Parse` (HCL1): HCL1 habits accepted, `${...}` kept as text.
    Hcl1,
    /// `jobspec2.ParseWithConfig` (HCL2): strict.
    Hcl2,
}

impl NomadVersion {
    /// Production's version (its `init_instance.sh` installs 0.11.1).
    pub const PRODUCTION: NomadVersion = NomadVersion::new(0, 11, 1);

    pub const fn new(major: u32, minor: u32, patch: u32) -> NomadVersion {
        NomadVersion {
            major,
            minor,
            patch,
        }
    }

    pub fn parse(text: &str) -> Result<NomadVersion, String> {
        let bad = || {
            format!(
                "--nomad-version must be MAJOR.MINOR.PATCH (e.g. 0.11.1 or 2.0.5), got {text:?}"
            )
        };
        let mut parts = text.trim_start_matches('v').split('.');
        let mut next =
            || -> Result<u32, String> { parts.next().ok_or_else(bad)?.parse().map_err(|_| bad()) };
        let version = NomadVersion::new(next()?, next()?, next()?);
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(version)
    }

    /// 0.x parses HCL1 only; 1.0-1.8 parse HCL2 unless the request sets `HCLv1`;
    /// 1.9 removed HCL1 (the `HCLv1` field is ignored).
    pub fn parser(self, hcl_v1_requested: bool) -> Parser {
        let hcl1_only = self.major == 0;
        let hcl1_on_request = self < NomadVersion::new(1, 9, 0) && hcl_v1_requested;
        if hcl1_only || hcl1_on_request {
            Parser::Hcl1
        } else {
            Parser::Hcl2
        }
    }

    /// 1.1+: the blocked evaluation carries the `FailedTGAllocs` of the one that failed
    /// (scheduler/generic_sched.go `CreateBlockedEval(..., s.failedTGAllocs)`).
    pub fn blocked_eval_has_metrics(self) -> bool {
        self >= NomadVersion::new(1, 1, 0)
    }

    /// 2.0.1+: a job with a non-terminal deployment is `running`, placed or not.
    pub fn running_while_deploying(self) -> bool {
        self >= NomadVersion::new(2, 0, 1)
    }
}

impl Default for NomadVersion {
    fn default() -> NomadVersion {
        NomadVersion::PRODUCTION
    }
}

impl fmt::Display for NomadVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        let old = NomadVersion::parse("0.11.1").unwrap();
        let new = NomadVersion::parse("v2.0.5").unwrap();
        assert!(old < new);
        assert_eq!(new.to_string(), "2.0.5");
        assert!(NomadVersion::parse("2.0").is_err());
        assert!(NomadVersion::parse("2.0.x").is_err());
    }

    #[test]
    fn parser_by_version() {
        let v = |s| NomadVersion::parse(s).unwrap();
        assert_eq!(v("0.11.1").parser(false), Parser::Hcl1);
        assert_eq!(v("1.8.4").parser(false), Parser::Hcl2);
        assert_eq!(v("1.8.4").parser(true), Parser::Hcl1);
        assert_eq!(v("1.9.0").parser(true), Parser::Hcl2);
        assert!(!v("2.0.0").running_while_deploying());
        assert!(v("2.0.1").running_while_deploying());
    }
}
