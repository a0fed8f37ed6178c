//! The Nomad version csi talks to (`/v1/agent/self`), and what it changes for csi.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NomadVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl NomadVersion {
    /// `1.9.7`, `0.11.1`, `2.0.5-dev`, `v1.8.0+ent`: the numbers; None when not a version.
    pub fn parse(text: &str) -> Option<NomadVersion> {
        let core = text
            .trim()
            .trim_start_matches('v')
            .split(['-', '+'])
            .next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
        let version = NomadVersion {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next().unwrap_or(Some(0))?,
        };
        Some(version)
    }

    /// Nomad 1.9 removed the HCL1 parser (`/v1/jobs/parse` ignores `HCLv1`): a job file
    /// that only HCL1 accepts cannot be submitted.
    pub fn parses_hcl1(self) -> bool {
        self.major == 0 || (self.major == 1 && self.minor < 9)
    }
}

impl fmt::Display for NomadVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::NomadVersion;

    #[test]
    fn versions_and_hcl1() {
        let v = |s| NomadVersion::parse(s).unwrap();
        assert!(v("0.11.1").parses_hcl1());
        assert!(v("1.8.4").parses_hcl1());
        assert!(!v("1.9.0").parses_hcl1());
        assert!(!v("v2.0.5+ent").parses_hcl1());
        assert_eq!(v("1.9.7-dev").to_string(), "1.9.7");
        assert_eq!(NomadVersion::parse("nightly"), None);
    }
}
