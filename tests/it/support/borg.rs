//! A throwaway, unencrypted borg repository for integration tests.
//!
//! Every borg call made through this helper gets a private BORG_BASE_DIR,
//! BORG_CONFIG_DIR, BORG_CACHE_DIR, BORG_SECURITY_DIR and BORG_KEYS_DIR inside
//! the temporary directory, so tests never read or write ~/.config/borg or
//! ~/.cache/borg. Dropping the value removes everything.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::postgres::{run_with_stdin, TestPostgres};

/// Name of the single item of a nightly dump archive.
pub const DUMP_ITEM: &str = "database-all.sql";

/// Borg variables that must not leak from the developer's environment.
const BORG_ENV_TO_CLEAR: &[&str] = &[
    "BORG_REPO",
    "BORG_PASSPHRASE",
    "BORG_PASSCOMMAND",
    "BORG_PASSPHRASE_FD",
    "BORG_KEY_FILE",
    "BORG_RSH",
    "BORG_REMOTE_PATH",
];

fn describe(output: &Output) -> String {
    format!(
        "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub struct TestBorgRepo {
    /// Kept so that the repository's directory lives as long as the test repository.
    _dir: tempfile::TempDir,
    repo: PathBuf,
    home: PathBuf,
}

impl TestBorgRepo {
    /// `borg init --encryption=none` in a new temporary directory.
    pub fn create() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("csi-borg-")
            .tempdir()
            .expect("create a temporary directory for borg");
        let repo = dir.path().join("repo");
        let home = dir.path().join("borg-home");
        std::fs::create_dir_all(&home).expect("create the private borg home");
        let this = TestBorgRepo {
            _dir: dir,
            repo,
            home,
        };
        let output = this
            .command()
            .args(["init", "--encryption=none"])
            .arg(&this.repo)
            .stdin(Stdio::null())
            .output()
            .expect("run borg init");
        if !output.status.success() {
            panic!("borg init failed:\n{}", describe(&output));
        }
        this
    }

    /// Path of the repository (what goes before `::` in `REPO::ARCHIVE`).
    pub fn path(&self) -> &Path {
        &self.repo
    }

    /// `REPO::NAME`
    pub fn archive_ref(&self, name: &str) -> String {
        format!("{}::{}", self.repo.display(), name)
    }

    /// Environment to give any process that runs borg on this repository
    /// (for example `csi` under test): private borg dirs, unencrypted-repo
    /// answer, UTF-8 locale. Borg variables of the caller (BORG_REPO,
    /// BORG_PASSPHRASE...) should be removed too: `command` removes them.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        let h = &self.home;
        vec![
            ("BORG_BASE_DIR", h.clone().into_os_string()),
            ("BORG_CONFIG_DIR", h.join("config").into_os_string()),
            ("BORG_CACHE_DIR", h.join("cache").into_os_string()),
            ("BORG_SECURITY_DIR", h.join("security").into_os_string()),
            ("BORG_KEYS_DIR", h.join("keys").into_os_string()),
            ("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes".into()),
            ("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes".into()),
            ("LANG", "C.UTF-8".into()),
            ("LC_ALL", "C.UTF-8".into()),
        ]
    }

    /// A `borg` command with the private environment, and TZ=UTC so that the
    /// naive local timestamps of `borg list --json` are UTC.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("borg");
        for var in BORG_ENV_TO_CLEAR {
            cmd.env_remove(var);
        }
        cmd.envs(self.env());
        cmd.env("TZ", "UTC");
        cmd
    }

    fn create_command(&self, name: &str, timestamp: &str) -> Command {
        let mut cmd = self.command();
        cmd.args([
            "create",
            "--compression",
            "zstd",
            "--timestamp",
            timestamp,
            "--stdin-name",
            DUMP_ITEM,
        ])
        .arg(self.archive_ref(name))
        .arg("-");
        cmd
    }

    /// Stores `bytes` as the single item `database-all.sql` of a new archive
    /// `name`, backdated to `timestamp` (UTC, `YYYY-MM-DDTHH:MM:SS`).
    pub fn add_archive_from_bytes(&self, name: &str, timestamp: &str, bytes: &[u8]) {
        let output = run_with_stdin(self.create_command(name, timestamp), bytes);
        if !output.status.success() {
            panic!("borg create {name} failed:\n{}", describe(&output));
        }
    }

    /// Like the nightly backup: `pg_dumpall` of `pg` streamed into
    /// `borg create --compression zstd --timestamp TS --stdin-name database-all.sql REPO::NAME -`.
    /// Panics if either side fails.
    pub fn add_dump_archive(&self, pg: &TestPostgres, name: &str, timestamp: &str) {
        let mut dump = pg
            .dumpall_command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pg_dumpall");
        let dump_stdout = dump.stdout.take().expect("piped pg_dumpall stdout");
        let borg = self
            .create_command(name, timestamp)
            .stdin(Stdio::from(dump_stdout))
            .output()
            .expect("run borg create");
        let dump = dump.wait_with_output().expect("wait for pg_dumpall");
        if !dump.status.success() {
            panic!(
                "pg_dumpall failed while creating archive {name} (the archive may exist anyway):\n{}",
                describe(&dump)
            );
        }
        if !borg.status.success() {
            panic!("borg create {name} failed:\n{}", describe(&borg));
        }
    }

    /// `borg list --json REPO`, parsed.
    pub fn list_json(&self) -> serde_json::Value {
        let output = self
            .command()
            .args(["list", "--json"])
            .arg(&self.repo)
            .stdin(Stdio::null())
            .output()
            .expect("run borg list");
        if !output.status.success() {
            panic!("borg list --json failed:\n{}", describe(&output));
        }
        serde_json::from_slice(&output.stdout).expect("borg list --json prints JSON")
    }

    /// Archive names, oldest first (by archive timestamp).
    pub fn list_names(&self) -> Vec<String> {
        self.list_json()["archives"]
            .as_array()
            .expect("archives array in borg list --json")
            .iter()
            .map(|a| a["name"].as_str().expect("archive name").to_string())
            .collect()
    }

    /// `borg extract --stdout REPO::NAME ITEM`.
    pub fn extract_stdout(&self, name: &str, item: &str) -> Vec<u8> {
        let output = self
            .command()
            .args(["extract", "--stdout"])
            .arg(self.archive_ref(name))
            .arg(item)
            .stdin(Stdio::null())
            .output()
            .expect("run borg extract");
        if !output.status.success() {
            panic!("borg extract {name} {item} failed:\n{}", describe(&output));
        }
        output.stdout
    }
}
