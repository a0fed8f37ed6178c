//! `ssh { ... }`: the host an environment's database and borg repository live on, as
//! operators reach it (`ssh eouser@tf-tutu`, from tf-toto or through it). Every value
//! that ends up on ssh's command line is checked when the file is read.

use serde::{Deserialize, Deserializer};

use super::SshWord;

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct SshFile {
    /// The host to ssh to (a name or an address), as seen from the jump host if any.
    pub host: SshWord,
    /// The account; default: the local account's name, as ssh's own.
    pub user: Option<SshWord>,
    #[serde(default = "default_port")]
    pub port: u16,
    /// `[user@]host[:port]` (comma-separated for several), as ssh's ProxyJump: for
    /// running csi from a laptop through the admin VM.
    pub jump: Option<JumpHosts>,
    /// The private key (relative to csi.hcl, or `~/...`); default: ssh's own choice.
    pub identity_file: Option<String>,
    /// The known_hosts file holding the host's key (and the jump host's); default:
    /// ssh's own files.
    pub known_hosts_file: Option<String>,
    /// Refuse a host whose key is not in known_hosts (default, and the only sane
    /// choice for production); false accepts a new host's key on first use (never a
    /// changed one).
    #[serde(default = "default_strict")]
    pub strict_host_keys: bool,
}

fn default_port() -> u16 {
    22
}
fn default_strict() -> bool {
    true
}

/// ProxyJump's value: comma-separated `[user@]host[:port]`, none empty or starting
/// with `-`, no whitespace or control character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHosts(String);

impl JumpHosts {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for JumpHosts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bad_hop = |hop: &str| {
            hop.is_empty()
                || hop.starts_with('-')
                || hop.chars().any(|c| c.is_whitespace() || c.is_control())
        };
        if text.split(',').any(bad_hop) {
            return Err(serde::de::Error::custom(format!(
                "`{text}` is not a jump host list ([user@]host[:port], comma-separated)"
            )));
        }
        Ok(JumpHosts(text))
    }
}
