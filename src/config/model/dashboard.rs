//! `dashboard { ... }`: the web host the dashboard is deployed to. Every value that
//! ends up in an ssh command line or a remote shell script is checked here, when the
//! file is read, so that no odd path (a newline, a relative path, `..`) ever reaches
//! the web host.

use std::fmt;

use serde::{Deserialize, Deserializer};

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct DashboardFile {
    /// The web host (a name or an address), as ssh reaches it.
    pub host: SshWord,
    /// The account csi logs in as; default: the local account's name, as ssh's own.
    pub user: Option<SshWord>,
    #[serde(default = "default_port")]
    pub port: u16,
    /// The private key ssh authenticates with (relative to csi.hcl, or `~/...`).
    pub identity_file: String,
    /// The known_hosts file holding the web host's key; default: ssh's own
    /// (`~/.ssh/known_hosts`). Host keys are always checked strictly.
    pub known_hosts_file: Option<String>,
    /// Where the tarball is uploaded before it is unpacked.
    #[serde(default = "default_temp_dir")]
    pub temp_dir: RemoteDir,
    /// The folder the web server serves; new versions are unpacked beside it.
    #[serde(default = "default_live_dir")]
    pub live_dir: RemoteDir,
    /// Older versions kept besides `<live>.prev` (`<live>.prev.1` ... `<live>.prev.N`).
    #[serde(default = "default_keep")]
    pub keep: u32,
    /// The file that must be at the top of every version, and that verification compares.
    #[serde(default = "default_index")]
    pub index: FileName,
    /// A URL serving the live folder's index file; without it, the index file is
    /// compared on the web host itself.
    pub verify_url: Option<VerifyUrl>,
}

fn default_port() -> u16 {
    22
}
fn default_temp_dir() -> RemoteDir {
    RemoteDir("/var/www/temp".into())
}
fn default_live_dir() -> RemoteDir {
    RemoteDir("/var/www/html".into())
}
fn default_keep() -> u32 {
    3
}
fn default_index() -> FileName {
    FileName("index.html".into())
}

/// An absolute directory on the web host, normalised: no `.`/`..` components, no
/// empty component, no trailing `/`, not `/` itself, no control character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDir(String);

impl RemoteDir {
    pub fn parse(text: &str) -> Result<Self, String> {
        no_control_characters(text)?;
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!("`{text}` is not an absolute path"));
        };
        if rest.is_empty() {
            return Err("`/` cannot be used: csi renames and deletes beside this folder".into());
        }
        for component in rest.split('/') {
            if component.is_empty() || component == "." || component == ".." {
                return Err(format!(
                    "`{text}` is not a normalised path (no `//`, `.`, `..` or trailing `/`)"
                ));
            }
        }
        Ok(RemoteDir(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The folder holding this one (`/var/www` for `/var/www/html`).
    pub fn parent(&self) -> &str {
        match self.0.rfind('/') {
            Some(0) => "/",
            Some(i) => &self.0[..i],
            None => ".",
        }
    }

    /// This folder's own name (`html`).
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for RemoteDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RemoteDir {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        RemoteDir::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A plain file name: no `/`, not `.` or `..`, no control character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for FileName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        no_control_characters(&text).map_err(serde::de::Error::custom)?;
        if text.is_empty() || text == "." || text == ".." || text.contains('/') {
            return Err(serde::de::Error::custom(format!(
                "`{text}` is not a file name (no `/`, not `.` or `..`)"
            )));
        }
        Ok(FileName(text))
    }
}

/// A host or user name for ssh: no whitespace, no control character, no leading `-`
/// (it would read as an option), no `@`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshWord(String);

impl SshWord {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for SshWord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bad = text.is_empty()
            || text.starts_with('-')
            || text
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@');
        if bad {
            return Err(serde::de::Error::custom(format!(
                "`{text}` is not usable as an ssh host or user (empty, leading `-`, `@`, space or control character)"
            )));
        }
        Ok(SshWord(text))
    }
}

/// An http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyUrl(pub reqwest::Url);

impl<'de> Deserialize<'de> for VerifyUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let url = reqwest::Url::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("`{text}` is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(serde::de::Error::custom(format!(
                "`{text}` is not an http or https URL"
            )));
        }
        Ok(VerifyUrl(url))
    }
}

fn no_control_characters(text: &str) -> Result<(), String> {
    if text.chars().any(char::is_control) {
        return Err(format!(
            "{text:?} contains a control character (a newline, a tab...)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_dirs_must_be_absolute_and_normalised() {
        assert_eq!(RemoteDir::parse("/var/www/html").unwrap().name(), "html");
        assert_eq!(
            RemoteDir::parse("/var/www/html").unwrap().parent(),
            "/var/www"
        );
        assert_eq!(RemoteDir::parse("/html").unwrap().parent(), "/");
        for bad in [
            "var/www",
            "/",
            "/var/www/",
            "/var//www",
            "/var/../etc",
            "/var/./www",
            "/var/www\nrm",
            "/var/\twww",
        ] {
            assert!(RemoteDir::parse(bad).is_err(), "{bad:?} accepted");
        }
        // Spaces and quotes are fine: every remote use is quoted.
        assert!(RemoteDir::parse("/srv/my site/it's").is_ok());
    }
}
