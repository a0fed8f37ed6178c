//! Starts the project's Nomad test double (the `nomad-double` workspace binary).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;

use super::postgres::repo_root;

pub struct NomadDouble {
    child: Child,
    pub address: String,
}

impl NomadDouble {
    pub fn start(extra_args: &[&str]) -> NomadDouble {
        let mut child = Command::new(binary())
            .args(["--bind", "127.0.0.1:0"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nomad-double");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("nomad-double output");
        let addr = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|a| a.contains(':'))
            .unwrap_or_else(|| panic!("unexpected nomad-double banner: {line:?}"))
            .to_owned();
        NomadDouble {
            child,
            address: format!("http://{addr}"),
        }
    }
}

impl NomadDouble {
    /// Stops the double now (e.g. in the middle of a watch).
    pub fn stop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Drop for NomadDouble {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// The double's binary, built once per test run when missing or stale.
pub fn binary() -> PathBuf {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "nomad-double"])
            .current_dir(repo_root())
            .status()
            .expect("run cargo build -p nomad-double");
        assert!(status.success(), "building nomad-double failed");
    });
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("debug/nomad-double")
}
