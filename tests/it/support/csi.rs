//! Runs the real `csi` binary in a clean environment against a configuration
//! written for the test, and collects what it printed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::postgres::repo_root;

/// What one run of csi did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// A csi configuration and state directory in a temporary folder.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub state_dir: PathBuf,
    pub home: PathBuf,
    pub env: Vec<(String, String)>,
}

impl TestEnv {
    pub fn new(config_text: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("csi.hcl");
        std::fs::write(&config, config_text).expect("write config");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        TestEnv {
            state_dir: dir.path().join("state"),
            config,
            home,
            dir,
            // A throwaway rehearsal cluster runs production's major too.
            env: vec![(
                "CSI_PG_BINDIR".to_owned(),
                super::postgres::server_bindir().display().to_string(),
            )],
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Adds a variable to every later run.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_owned(), value.to_owned()));
    }

    pub fn csi(&self, args: &[&str]) -> Run {
        self.csi_with(args, &[])
    }

    /// Runs csi with no terminal (stdin is /dev/null), a clean environment plus the
    /// given variables, and a time limit so a command waiting for input fails the test.
    pub fn csi_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        run_with_limit(cmd, Duration::from_secs(120))
    }

    /// Starts csi in the background (no terminal, clean environment), for tests that
    /// signal it mid-run.
    pub fn spawn_csi(&self, args: &[&str]) -> std::process::Child {
        self.command(args).spawn().expect("start csi")
    }

    /// The csi command line with this test's config, state directory and environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_csi"));
        cmd.args(["--config", self.config.to_str().unwrap()])
            .args(["--state-dir", self.state_dir.to_str().unwrap()])
            .args(args)
            .env_clear()
            .env("PATH", test_path())
            .env("HOME", &self.home)
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Another handle on the same configuration, state and environment (for a second
    /// operator, or a run on a terminal).
    pub fn same_as(&self) -> TestEnv {
        let other = TestEnv::new("");
        std::fs::copy(&self.config, &other.config).unwrap();
        TestEnv {
            state_dir: self.state_dir.clone(),
            env: self.env.clone(),
            ..other
        }
    }

    /// Every byte csi wrote under the state directory, for leak checks.
    pub fn state_files_text(&self) -> String {
        let mut text = String::new();
        collect_text(&self.state_dir, &mut text);
        text
    }
}

fn collect_text(dir: &Path, into: &mut String) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_text(&path, into);
        } else if let Ok(bytes) = std::fs::read(&path) {
            into.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
}

fn run_with_limit(mut cmd: Command, limit: Duration) -> Run {
    let mut child = cmd.spawn().expect("start csi");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).ok();
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().ok();
            panic!("csi did not finish within {limit:?}: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// PATH for csi's children: the project's tools first, then the usual places.
pub fn test_path() -> String {
    let tools = repo_root().join("tools/bin");
    let inherited = std::env::var("PATH").unwrap_or_default();
    format!("{}:{inherited}", tools.display())
}

/// The tofu the tests drive (installed by scripts/bootstrap.sh).
pub fn tofu() -> PathBuf {
    let local = repo_root().join("tools/bin/tofu");
    if local.exists() {
        return local;
    }
    on_path("tofu").expect("tofu not found: run scripts/bootstrap.sh")
}

/// `program` in the first directory of PATH that has it.
pub fn on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
}

/// A private copy of terraform/sandbox with a secrets var file holding `secret`.
pub fn copy_terraform_sandbox(into: &Path, secret: &str) -> PathBuf {
    let target = into.join("terraform-sandbox");
    copy_dir(&repo_root().join("terraform/sandbox"), &target);
    let secrets = target.join("sandbox_env_secrets.tfvars");
    let example =
        std::fs::read_to_string(target.join("sandbox_env_secrets.tfvars.example")).unwrap();
    let planted = example
        .lines()
        .map(|line| match line.split_once('=') {
            Some((key, _)) if !line.trim_start().starts_with('#') => format!("{key}= \"{secret}\""),
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&secrets, planted).unwrap();
    set_mode(&secrets, 0o600);
    target
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == ".terraform"
            || name_str.ends_with(".tfstate")
            || name_str.ends_with("_secrets.tfvars")
        {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

/// The pieces of a test environment's configuration.
pub struct ConfigParts<'a> {
    pub name: &'a str,
    pub protected: bool,
    pub terraform_dir: &'a Path,
    pub openstack_project_id: Option<&'a str>,
    pub nomad_address: &'a str,
    pub pg_port: u16,
    pub borg_repo: &'a Path,
}

impl ConfigParts<'_> {
    pub fn render(&self) -> String {
        let project = self
            .openstack_project_id
            .map(|p| format!("    openstack_project_id = \"{p}\"\n"))
            .unwrap_or_default();
        format!(
            r#"
environment "{name}" {{
  protected = {protected}
  terraform {{
    dir                    = "{tf}"
    binary                 = "{tofu}"
    configuration_var_file = "sandbox_env_configuration.tfvars"
    secrets_var_file       = "sandbox_env_secrets.tfvars"
{project}  }}
  nomad {{
    address = "{nomad}"
  }}
  database {{
    host = "127.0.0.1"
    port = {port}
    user = "postgres"
    name = "postgres"
  }}
  borg {{
    repository = "{borg}"
  }}
}}
"#,
            name = self.name,
            protected = self.protected,
            tf = self.terraform_dir.display(),
            tofu = tofu().display(),
            nomad = self.nomad_address,
            port = self.pg_port,
            borg = self.borg_repo.display(),
        )
    }
}

/// A configuration with the six services (job files copied into `jobs_dir`) and a Nomad
/// address; terraform, database and borg point nowhere (unused by Nomad commands).
pub fn nomad_config(nomad_address: &str, jobs_dir: &Path, protected: bool) -> String {
    let services = [
        ("job-creation", "job_creation.nomad"),
        ("job-configuration", "job_configuration.nomad"),
        ("job-execution", "job_execution.nomad"),
        ("job-publication", "job_publication.nomad"),
        ("monitor", "monitor.nomad"),
        ("worker-pool-management", "worker_pool_management.nomad"),
    ];
    let mut text = String::new();
    for (name, file) in services {
        text.push_str(&format!(
            "service \"{name}\" {{\n  job_file = \"{file}\"\n}}\n"
        ));
    }
    text.push_str(&format!(
        r#"
environment "sandbox" {{
  protected = {protected}
  terraform {{
    dir                    = "/nonexistent"
    configuration_var_file = "c.tfvars"
    secrets_var_file       = "s.tfvars"
  }}
  nomad {{
    address        = "{nomad_address}"
    jobs_dir       = "{jobs}"
    deploy_timeout = "20s"
    template_values = {{
      CSI_ROOT_DIR                 = "/opt/csi"
      CSI_CONFIG_ENV_FILE_CONTENT  = "CSI_ENVIRONMENT=test"
      CSI_SECRETS_ENV_FILE_CONTENT = "CSI_DATABASE_PASSWORD=test"
      GITLAB_TOKEN_PASSWORD        = "test-registry-token"
    }}
  }}
  database {{
    host = "127.0.0.1"
    port = 9
  }}
  borg {{
    repository = "/nonexistent"
  }}
}}
"#,
        jobs = jobs_dir.display()
    ));
    text
}

/// `nomad_config` with a real database (`cosims` at `pg_port`) and borg repository: the
/// configuration of a restore with the services around it.
pub fn services_and_database_config(
    nomad_address: &str,
    jobs_dir: &Path,
    pg_port: u16,
    borg_repo: &Path,
) -> String {
    nomad_config(nomad_address, jobs_dir, false)
        .replace(
            "    port = 9\n",
            &format!("    port = {pg_port}\n    user = \"postgres\"\n    name = \"postgres\"\n"),
        )
        .replace(
            "repository = \"/nonexistent\"",
            &format!("repository = \"{}\"", borg_repo.display()),
        )
}

/// A private copy of the project's job files.
pub fn copy_job_files(into: &Path) -> PathBuf {
    let target = into.join("nomad");
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(repo_root().join("nomad"))
        .unwrap()
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "nomad") {
            std::fs::copy(&path, target.join(entry.file_name())).unwrap();
        }
    }
    target
}

/// Reads the child's stderr until a line contains `needle`; returns what was read and
/// the rest of the stream.
pub fn stderr_until(
    child: &mut std::process::Child,
    needle: &str,
) -> (
    String,
    std::io::Lines<std::io::BufReader<std::process::ChildStderr>>,
) {
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("piped stderr")).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(needle) {
            break;
        }
    }
    assert!(seen.contains(needle), "never saw {needle:?}:\n{seen}");
    (seen, lines)
}

/// An environment whose only real part is the database at `port` (for commands that
/// touch nothing else); `preamble` is top-level configuration put before it.
pub fn database_config(port: u16, protected: bool, preamble: &str) -> String {
    format!(
        r#"{preamble}
environment "sandbox" {{
  protected = {protected}
  terraform {{
    dir                    = "/nonexistent"
    configuration_var_file = "c.tfvars"
    secrets_var_file       = "s.tfvars"
  }}
  nomad {{
    address = "http://127.0.0.1:9"
  }}
  database {{
    host = "127.0.0.1"
    port = {port}
    user = "postgres"
    name = "postgres"
  }}
  borg {{
    repository = "/nonexistent"
  }}
}}
"#
    )
}

/// A protected `prod` whose terraform, Nomad, database and borg all point nowhere: for
/// commands that stop before reaching any of them (locks, prompts, refusals).
pub fn plain_prod_env() -> TestEnv {
    let tf = tempfile::tempdir().unwrap();
    let env = TestEnv::new("");
    let config = ConfigParts {
        name: "prod",
        protected: true,
        terraform_dir: tf.path(),
        openstack_project_id: None,
        nomad_address: "http://127.0.0.1:9",
        pg_port: 9,
        borg_repo: &env.path().join("borg"),
    }
    .render();
    std::fs::write(&env.config, config).unwrap();
    env
}
