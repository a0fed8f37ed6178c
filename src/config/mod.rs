//! Reading `csi.hcl`: where it is found, how it is parsed, and errors that name the
//! file, the line and the key.

mod locate;
pub mod model;

use std::path::{Path, PathBuf};

use crate::env_vars;
use crate::error::{usage, CsiError};
pub use model::*;

pub const FILE_NAME: &str = "csi.hcl";

/// A parsed configuration file and where it came from.
#[derive(Debug)]
pub struct LoadedConfig {
    pub path: PathBuf,
    pub file: ConfigFile,
}

impl LoadedConfig {
    /// The directory relative paths in the file are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or_else(|| Path::new("."))
    }
}

/// `--config`, then `$CSI_CONFIG`, then `csi.hcl` in the current directory or a parent.
pub fn find(flag: Option<&Path>) -> Result<PathBuf, CsiError> {
    if let Some(path) = flag {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = env_vars::get(env_vars::CSI_CONFIG) {
        return Ok(PathBuf::from(path));
    }
    let cwd = std::env::current_dir()
        .map_err(|e| usage(format!("cannot read the current directory: {e}")))?;
    cwd.ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            usage(format!(
                "no {FILE_NAME} found in {} or its parents",
                cwd.display()
            ))
            .with_hint(format!(
                "pass --config FILE or set {}",
                env_vars::CSI_CONFIG
            ))
        })
}

pub fn load(path: &Path) -> Result<LoadedConfig, CsiError> {
    let source = fs_err::read_to_string(path).map_err(|e| {
        usage(format!("cannot read the configuration: {e}"))
            .with_hint("pass --config FILE or set CSI_CONFIG")
    })?;
    let file = parse(&source).map_err(|e| e.into_error(path))?;
    Ok(LoadedConfig {
        path: path.to_path_buf(),
        file,
    })
}

/// A configuration problem, before the file name is known.
#[derive(Debug)]
pub struct ParseProblem {
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl ParseProblem {
    fn into_error(self, path: &Path) -> CsiError {
        let location = match self.line {
            Some(line) => format!("{}:{line}", path.display()),
            None => path.display().to_string(),
        };
        let key = self.key.map(|k| format!(" key `{k}`:")).unwrap_or_default();
        usage(format!(
            "invalid configuration {location}:{key} {}",
            self.message
        ))
        .with_hint("fix the configuration file; the README lists every key")
    }
}

pub fn parse(source: &str) -> Result<ConfigFile, ParseProblem> {
    let deserializer = hcl::de::Deserializer::from_str(source).map_err(syntax_problem)?;
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path: Vec<String> = err
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                _ => None,
            })
            .collect();
        let message = err.inner().to_string();
        let full_path = with_unknown_field(&path, &message);
        ParseProblem {
            line: locate::line_of(source, &full_path),
            key: (!full_path.is_empty()).then(|| full_path.join(".")),
            message,
        }
    })
}

/// serde reports an unknown field at its parent's path; name the field itself.
fn with_unknown_field(path: &[String], message: &str) -> Vec<String> {
    let mut full = path.to_vec();
    if let Some(field) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        if full.last().map(String::as_str) != Some(field) {
            full.push(field.to_owned());
        }
    }
    full
}

fn syntax_problem(err: hcl::Error) -> ParseProblem {
    let (line, message) = match &err {
        hcl::Error::Parse(parse) => (Some(parse.location().line()), parse.message().to_owned()),
        other => (None, other.to_string()),
    };
    ParseProblem {
        line,
        key: None,
        message: format!("syntax error: {message}"),
    }
}

#[cfg(test)]
mod tests;
