//! The whole runbook on the sandbox, end to end: `scripts/demo.sh` (the README's first
//! command) runs in a private copy of the tree, on its own ports, and stops after each
//! step (its marker `::step <id>` on stdout, then a line awaited on a FIFO) while the
//! test looks at what the step changed: terraform's state, the Nomad double, the
//! database, borg and csi's journal. Real tofu, borg, PostgreSQL and the Nomad double;
//! it takes a minute or two.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use support::postgres::repo_root;
use support::terraform::addresses_in_state;

/// csi.hcl's terraform.state_file of the sandbox.
const SANDBOX_STATE: &str = ".sandbox/state/sandbox/terraform.tfstate";

const SERVICES: [(&str, &str); 6] = [
    ("job-creation", "job_creation.nomad"),
    ("job-configuration", "job_configuration.nomad"),
    ("job-execution", "job_execution.nomad"),
    ("job-publication", "job_publication.nomad"),
    ("monitor", "monitor.nomad"),
    ("worker-pool-management", "worker_pool_management.nomad"),
];
const WAVE_1: &[&str] = &["fsc_rlie_job", "rlies1_job"];
const WAVE_2: &[&str] = &["fsc_rlie_job", "rlies1_job", "rlies1s2_job", "sws_wds_job"];
const FULL_LIST: &[&str] = &[
    "fsc_rlie_job",
    "rlies1_job",
    "rlies1s2_job",
    "sws_wds_job",
    "gfsc_job",
];
const SI_IMAGE: &str = "registry.sandbox.invalid/cosims/cosims/si_processing";
const PATCH_FILE: &str = "0001_job_status_changes_time_index.sql";
const UPGRADE_FILE: &str = "0002_parent_jobs_operator_note.sql";
const UPGRADE_TAG: &str = "git-89abcdef";
/// The longest a step may take (the slowest, the wave restart, takes well under a
/// minute here).
const STEP_LIMIT: Duration = Duration::from_secs(300);

/// The demo running in its own tree, paused at a step or on its way to the next.
struct Demo {
    dir: tempfile::TempDir,
    pg_port: u16,
    nomad_port: u16,
    ssh_port: u16,
    fifo: PathBuf,
    child: Child,
    lines: Receiver<String>,
    transcript: Arc<Mutex<String>>,
    paused: bool,
}

impl Demo {
    fn start() -> Demo {
        let dir = tempfile::Builder::new()
            .prefix("csi-e2e-")
            .tempdir_in("/tmp")
            .unwrap();
        // PostgreSQL runs as the `postgres` OS user when the test runs as root: it must
        // reach its directory under this one.
        support::csi::set_mode(dir.path(), 0o755);
        let ssh_port = free_port();
        copy_tree(dir.path(), ssh_port);
        let fifo = dir.path().join("step-gate");
        run_ok(Command::new("mkfifo").arg(&fifo));
        let (pg_port, nomad_port) = (free_port(), free_port());
        let mut command = Command::new("bash");
        command
            .arg("scripts/demo.sh")
            .current_dir(dir.path())
            .env_clear()
            .envs(base_env(dir.path()))
            .env("CSI_DEMO_NO_BUILD", "1")
            .env("CSI_DEMO_STEP_GATE", &fifo)
            .env("CSI_SANDBOX_PG_PORT", pg_port.to_string())
            .env("CSI_SANDBOX_NOMAD_PORT", nomad_port.to_string())
            .env("CSI_SANDBOX_SSH_PORT", ssh_port.to_string())
            .env("CSI_SANDBOX_WWW", dir.path().join("www"))
            .env("CSI_SANDBOX_DBHOST", dir.path().join("dbhost"))
            .env("CSI_SANDBOX_DEPLOY_SECONDS", "0.5")
            .env("CSI_NOMAD_DOUBLE", support::nomad::binary())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Its own process group, so that Drop stops it with whatever it runs.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().expect("start scripts/demo.sh");
        let transcript = Arc::new(Mutex::new(String::new()));
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let seen = transcript.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                seen.lock().unwrap().push_str(&format!("{line}\n"));
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let seen = transcript.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Demo {
            dir,
            pg_port,
            nomad_port,
            ssh_port,
            fifo,
            child,
            lines,
            transcript,
            paused: false,
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The end of what the demo printed, for failure messages.
    fn tail(&self) -> String {
        let text = self.transcript.lock().unwrap().clone();
        let start = text.len().saturating_sub(6000);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text[start..].to_owned()
    }

    /// Lets the demo go on from the step it is paused at, then waits for the next one,
    /// which must be `expected`.
    fn reach(&mut self, expected: &str) {
        self.resume();
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(id) = line.strip_prefix("::step ") {
                        assert_eq!(
                            id,
                            expected,
                            "the demo reached another step:\n{}",
                            self.tail()
                        );
                        self.paused = true;
                        return;
                    }
                }
                Err(_) => panic!(
                    "the demo did not reach step `{expected}` (exit: {:?}):\n{}",
                    self.child.try_wait().ok().flatten(),
                    self.tail()
                ),
            }
        }
    }

    fn resume(&mut self) {
        if !std::mem::take(&mut self.paused) {
            return;
        }
        // The demo opens the FIFO right after its marker; a writer opened before a
        // reader exists fails (ENXIO) without blocking, so it is retried.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let opened = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
                .open(&self.fifo);
            match opened {
                Ok(mut fifo) => {
                    fifo.write_all(b"go\n").unwrap();
                    return;
                }
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("the demo does not read its step gate: {e}\n{}", self.tail()),
            }
        }
    }

    fn finish(&mut self) {
        self.resume();
        let deadline = Instant::now() + STEP_LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the demo did not end:\n{}",
                self.tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(
            status.success(),
            "the demo failed ({status}):\n{}",
            self.tail()
        );
    }

    fn sandbox_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("bash");
        command
            .arg(self.root().join("scripts/sandbox.sh"))
            .args(args)
            .current_dir(self.root())
            .env_clear()
            .envs(base_env(self.root()))
            .env("CSI_SANDBOX_PG_PORT", self.pg_port.to_string())
            .env("CSI_SANDBOX_NOMAD_PORT", self.nomad_port.to_string())
            .env("CSI_SANDBOX_SSH_PORT", self.ssh_port.to_string())
            .env("CSI_SANDBOX_WWW", self.root().join("www"))
            .env("CSI_SANDBOX_DBHOST", self.root().join("dbhost"))
            .env("CSI_NOMAD_DOUBLE", support::nomad::binary())
            .stdin(Stdio::null());
        command
    }

    // ------------------------------------------------------------ what to look at

    fn psql(&self, sql: &str) -> String {
        let output = Command::new("psql")
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-U", "postgres"])
            // The sandbox's PostgreSQL has no TCP listener: its socket, as on its host.
            .arg("-h")
            .arg(self.root().join(".sandbox/pg"))
            .args(["-p", &self.pg_port.to_string(), "-d", "postgres", "-c", sql])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .expect("run psql");
        assert!(
            output.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Counts, statuses, newest status change and the parameters: equal when the
    /// database holds the same data.
    fn fingerprint(&self) -> String {
        self.psql(
            "SELECT concat_ws(' | ',
                (SELECT count(*) FROM cosims.parent_jobs),
                (SELECT count(*) FROM cosims.job_status_changes),
                (SELECT max(time) FROM cosims.job_status_changes),
                (SELECT string_agg(coalesce(last_status_id::text, '-') || ':' || n, ',' ORDER BY last_status_id)
                   FROM (SELECT last_status_id, count(*) AS n FROM cosims.parent_jobs GROUP BY 1) s),
                (SELECT row_to_json(p)::text FROM cosims.system_parameters p))",
        )
    }

    fn parameter(&self, name: &str) -> String {
        self.psql(&format!(
            "SELECT coalesce({name}::text, 'null') FROM cosims.system_parameters"
        ))
    }

    fn job_types_list(&self) -> Vec<String> {
        let text = self.parameter("job_types_list");
        serde_json::from_str::<Vec<String>>(&text.replace('\'', "\""))
            .unwrap_or_else(|e| panic!("job_types_list {text:?}: {e}"))
    }

    fn jobs_in_error(&self) -> Vec<String> {
        self.psql(
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM cosims.parent_jobs
             WHERE last_status_id IN (13, 14)",
        )
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
    }

    fn core_resources(&self) -> usize {
        addresses_in_state(&self.root().join(SANDBOX_STATE), "core").len()
    }

    fn nomad(&self, path: &str) -> Option<Value> {
        let host = format!("127.0.0.1:{}", self.nomad_port);
        let mut stream = std::net::TcpStream::connect(&host).expect("connect to the Nomad double");
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let found = head.split(' ').nth(1) == Some("200");
        found.then(|| serde_json::from_str(body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")))
    }

    fn job(&self, id: &str) -> Value {
        self.nomad(&format!("/v1/job/{id}"))
            .unwrap_or_else(|| panic!("job {id} is not in Nomad:\n{}", self.tail()))
    }

    fn running_image(&self, id: &str) -> String {
        self.job(id)["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn live_cpu(&self, id: &str) -> u64 {
        self.job(id)["TaskGroups"][0]["Tasks"][0]["Resources"]["CPU"]
            .as_u64()
            .unwrap()
    }

    fn running_allocations(&self, id: &str) -> usize {
        self.nomad(&format!("/v1/job/{id}/allocations"))
            .and_then(|a| a.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter(|a| a["ClientStatus"] == "running")
            .count()
    }

    fn job_file(&self, file: &str) -> String {
        std::fs::read_to_string(self.root().join(".sandbox/nomad").join(file)).unwrap()
    }

    fn file_tag(&self, file: &str) -> String {
        let text = self.job_file(file);
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("image"))
            .unwrap_or_else(|| panic!("no image in {file}"));
        let image = line.split('"').nth(1).unwrap();
        image.rsplit(':').next().unwrap().to_owned()
    }

    fn tags(&self) -> Vec<(String, String)> {
        SERVICES
            .iter()
            .map(|(job, file)| {
                let running = self.running_image(job);
                (
                    running.rsplit(':').next().unwrap().to_owned(),
                    self.file_tag(file),
                )
            })
            .collect()
    }

    fn archives(&self) -> Vec<String> {
        let sandbox = self.root().join(".sandbox");
        let output = Command::new("borg")
            .args(["list", "--short"])
            .arg(sandbox.join("borg"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.root().join("home"))
            .env("BORG_BASE_DIR", sandbox.join("borg-home"))
            .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
            .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
            .output()
            .expect("run borg list");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The journal through `csi env history --steps --output json`.
    fn journal(&self) -> Vec<Value> {
        let output = Command::new(env!("CARGO_BIN_EXE_csi"))
            .args(["env", "history", "sandbox", "--steps", "--output", "json"])
            .current_dir(self.root())
            .env_clear()
            .envs(base_env(self.root()))
            .stdin(Stdio::null())
            .output()
            .expect("run csi env history");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<Value>(&output.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        // The sandbox's PostgreSQL and Nomad double first (cleanly), then the demo and
        // whatever it still runs (a wave restart in the background).
        let _ = self.sandbox_command(&["down"]).output();
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.child.wait();
    }
}

fn base_env(root: &Path) -> Vec<(String, String)> {
    let csi = PathBuf::from(env!("CARGO_BIN_EXE_csi"));
    let path = format!(
        "{}:{}:{}",
        csi.parent().unwrap().display(),
        repo_root().join("tools/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    vec![
        ("PATH".into(), path),
        ("HOME".into(), home.display().to_string()),
        ("LANG".into(), "C.UTF-8".into()),
        ("TZ".into(), "UTC".into()),
        ("NO_COLOR".into(), "1".into()),
    ]
    .into_iter()
    .chain(std::env::var("USER").ok().map(|u| ("USER".to_owned(), u)))
    .collect()
}

// The demo's tree: what it needs of the repository, with quicker waits in csi.hcl and
// a git history (the packages tag of a start comes from git).
fn copy_tree(into: &Path, ssh_port: u16) {
    let repo = repo_root();
    for dir in ["scripts", "nomad", "patch", "terraform/sandbox"] {
        copy_dir(&repo.join(dir), &into.join(dir));
    }
    std::fs::copy(repo.join(".gitignore"), into.join(".gitignore")).unwrap();
    std::os::unix::fs::symlink(repo.join("tools"), into.join("tools")).unwrap();
    let config = std::fs::read_to_string(repo.join("csi.hcl")).unwrap();
    let config = quicker(
        &config,
        r#"poll_interval = "5s""#,
        r#"poll_interval = "1s""#,
    );
    let config = quicker(
        &config,
        r#"deploy_timeout = "20s""#,
        r#"deploy_timeout = "6s""#,
    );
    // The web host: the test's own sshd port and web root.
    let config = quicker(
        &config,
        "port             = 54622",
        &format!("port             = {ssh_port}"),
    );
    // The database host: the same sshd, and its own folder of links.
    let config = quicker(
        &config,
        "    port = 54622\n",
        &format!("    port = {ssh_port}\n"),
    );
    let config = config.replace(
        "/tmp/csi-sandbox-dbhost",
        &into.join("dbhost").to_string_lossy(),
    );
    let www = into.join("www");
    let config = config.replace("/tmp/csi-sandbox-www", &www.to_string_lossy());
    std::fs::write(into.join("csi.hcl"), config).unwrap();
    let git = |args: &[&str]| {
        run_ok(
            Command::new("git")
                .args(["-c", "user.name=e2e", "-c", "user.email=e2e@localhost"])
                .args(args)
                .current_dir(into),
        )
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "the demo's tree"]);
}

fn quicker(config: &str, from: &str, to: &str) -> String {
    assert_eq!(
        config.matches(from).count(),
        1,
        "csi.hcl should have {from} once"
    );
    config.replace(from, to)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == ".terraform"
            || name.contains(".tfstate")
            || name.ends_with("_secrets.tfvars")
            || name == ".terraform.lock.hcl"
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

fn run_ok(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The entries of the last operation named `name` that finished, and its outcome.
fn last_operation(journal: &[Value], name: &str) -> (Vec<Value>, String) {
    let finished = journal
        .iter()
        .rev()
        .find(|e| e["operation"] == name && e["event"] == "finished")
        .unwrap_or_else(|| panic!("no finished {name} in the journal"));
    let id = finished["operation_id"].clone();
    let entries = journal
        .iter()
        .filter(|e| e["operation_id"] == id)
        .cloned()
        .collect();
    (entries, finished["outcome"].as_str().unwrap().to_owned())
}

fn step_detail(entries: &[Value], step: &str) -> Value {
    entries
        .iter()
        .find(|e| e["event"] == "step" && e["step"] == step)
        .unwrap_or_else(|| panic!("no step {step} in {entries:?}"))["detail"]
        .clone()
}

fn time_of(entry: &Value) -> DateTime<Utc> {
    entry["time"].as_str().unwrap().parse().unwrap()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_demo_rehearses_the_whole_runbook_on_the_sandbox() {
    let mut demo = Demo::start();

    demo.reach("up");
    assert_eq!(demo.core_resources(), 0, "the sandbox comes up stopped");
    // As on production's database host, PostgreSQL listens on its unix socket only:
    // csi reaches it through ssh alone.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", demo.pg_port)).is_err(),
        "the sandbox's PostgreSQL listens on 127.0.0.1:{}",
        demo.pg_port
    );
    assert_eq!(
        addresses_in_state(&demo.root().join(SANDBOX_STATE), "cold").len(),
        4,
        "module.cold: volume, keypair, dashboard IP and the state's environment record"
    );
    let nightly = demo.archives();
    assert_eq!(nightly.len(), 4, "{nightly:?}");
    assert!(
        nightly.iter().all(|a| a.starts_with("pgdump_")),
        "{nightly:?}"
    );
    // The nightly archives were all dumped from the seed, as it is now.
    let seeded = demo.fingerprint();
    let seeded_errors = demo.jobs_in_error();
    assert!(!seeded_errors.is_empty());
    assert_eq!(demo.parameter("max_number_of_worker_instances"), "210");

    demo.reach("start");
    assert_eq!(demo.core_resources(), 13);
    let (_, outcome) = last_operation(&demo.journal(), "start");
    assert_eq!(outcome, "ok");

    demo.reach("doctor");
    let jobs = demo.nomad("/v1/jobs").unwrap();
    for (job, _) in SERVICES {
        let listed = jobs.as_array().unwrap().iter().find(|j| j["ID"] == job);
        assert_eq!(
            listed.map(|j| j["Status"].clone()),
            Some("running".into()),
            "{job}"
        );
    }
    let before = demo.tags();
    assert!(
        before.iter().all(|(running, file)| running == file),
        "{before:?}"
    );

    demo.reach("status");

    demo.reach("patch-one");
    let after_one = demo.tags();
    assert_eq!(after_one[0], ("git-0123abcd".into(), "git-0123abcd".into()));
    assert_eq!(after_one[1..], before[1..], "only job-creation changes");

    demo.reach("patch-all");
    for (running, file) in demo.tags() {
        assert_eq!(
            (running.as_str(), file.as_str()),
            ("git-4567cdef", "git-4567cdef")
        );
    }

    demo.reach("rollout-reverted");
    assert!(demo.running_image("monitor").ends_with(":git-4567cdef"));
    assert_eq!(
        demo.file_tag("monitor.nomad"),
        "git-4567cdef",
        "the file is put back"
    );
    let versions = demo.nomad("/v1/job/monitor/versions").unwrap()["Versions"].clone();
    let images: Vec<String> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        images.iter().any(|i| i.ends_with(":git-baadf00d")),
        "{images:?}"
    );
    let (_, outcome) = last_operation(&demo.journal(), "patch-image");
    assert_eq!(outcome, "rolled_back");

    demo.reach("doctor-pending");
    for (job, _) in SERVICES {
        assert_eq!(
            demo.running_allocations(job),
            0,
            "{job}: a new Nomad runs nothing"
        );
    }

    demo.reach("doctor-fixed");
    assert_eq!(demo.running_allocations("worker-pool-management"), 1);
    assert_eq!(demo.live_cpu("worker-pool-management"), 1000);
    for (job, _) in &SERVICES[..5] {
        assert_eq!(
            demo.running_allocations(job),
            1,
            "{job} fits on the 3000 MHz node"
        );
    }
    let lowered: Vec<serde_json::Value> = demo
        .journal()
        .into_iter()
        .filter(|e| e["step"] == "cpu_lowered")
        .collect();
    assert_eq!(lowered.len(), 1, "{lowered:?}");
    assert_eq!(lowered[0]["detail"]["from"], 1500, "{lowered:?}");
    assert!(
        demo.job_file("worker_pool_management.nomad")
            .contains("cpu    = 1500"),
        "without --persist the file keeps its CPU"
    );

    demo.reach("params");
    assert_eq!(demo.parameter("max_number_of_worker_instances"), "180");
    assert_eq!(
        demo.psql(
            "SELECT max_number_of_worker_instances FROM cosims.system_parameters_history
             ORDER BY history_id DESC LIMIT 1"
        ),
        "180"
    );

    demo.reach("processing-image");
    assert_eq!(
        demo.parameter("docker_image_for_si_processing"),
        format!("{SI_IMAGE}:git-0badc0de"),
        "the valid reference is written, the invalid one (upper case) was not"
    );
    assert_eq!(
        demo.psql(
            "SELECT docker_image_for_si_processing FROM cosims.system_parameters_history
             ORDER BY history_id DESC LIMIT 1"
        ),
        format!("{SI_IMAGE}:git-0badc0de")
    );
    assert_eq!(
        demo.psql(
            "SELECT count(DISTINCT docker_image_for_si_processing)
             FROM cosims.system_parameters_history"
        ),
        "3",
        "production's default (hidden_value), the seed's image, then the new one"
    );

    demo.reach("backup");
    let archives = demo.archives();
    let new: Vec<&String> = archives.iter().filter(|a| !nightly.contains(a)).collect();
    assert_eq!(new.len(), 1, "{archives:?}");
    assert!(
        new[0].starts_with("pgdump_"),
        "named like the nightly ones: {new:?}"
    );

    demo.reach("stop");
    assert_eq!(demo.core_resources(), 0);

    demo.reach("age-stop");
    let (stop, outcome) = last_operation(&demo.journal(), "stop");
    assert_eq!(outcome, "ok");
    let ended = time_of(stop.last().unwrap());
    let age = Utc::now() - ended;
    assert!(
        age > TimeDelta::days(3) - TimeDelta::minutes(5)
            && age < TimeDelta::days(3) + TimeDelta::minutes(5),
        "the last stop ended {age} ago"
    );
    assert!(
        stop.iter()
            .all(|e| Utc::now() - time_of(e) > TimeDelta::days(2)),
        "{stop:?}"
    );

    demo.reach("start-long-downtime");
    assert_eq!(demo.core_resources(), 13);
    let (start, outcome) = last_operation(&demo.journal(), "start");
    assert_eq!(outcome, "ok");
    let downtime = step_detail(&start, "downtime");
    assert!(
        downtime["seconds"].as_i64().unwrap() > 3 * 86_400 - 600,
        "{downtime}"
    );
    assert_eq!(downtime["source"], "the last stop in the journal");
    for (job, _) in SERVICES {
        assert_eq!(
            demo.running_allocations(job),
            1,
            "{job} back on the new Nomad"
        );
    }

    demo.reach("restore-db");
    let (restore, outcome) = last_operation(&demo.journal(), "restore-db");
    assert_eq!(outcome, "ok");
    // The dump went from the repository into PostgreSQL on the database host: csi ran
    // there (shipped over the connection), the dump never came to this side.
    assert!(
        demo.transcript
            .lock()
            .unwrap()
            .contains("the data stays on "),
        "{}",
        demo.tail()
    );
    let three_days_ago = (Utc::now() - TimeDelta::days(3)).format("%Y-%m-%d");
    assert_eq!(
        step_detail(&restore, "archive_resolved")["archive"],
        format!("pgdump_{three_days_ago}T04:00:00")
    );
    assert!(
        demo.archives()
            .iter()
            .any(|a| a.starts_with("pre-restore-")),
        "a safety archive was made first"
    );
    assert_eq!(
        demo.fingerprint(),
        seeded,
        "the database holds the archive's data"
    );
    assert_eq!(demo.parameter("max_number_of_worker_instances"), "210");
    assert_eq!(demo.jobs_in_error(), seeded_errors);
    for (job, _) in SERVICES {
        assert_eq!(
            demo.running_allocations(job),
            1,
            "{job} restarted after the restore"
        );
    }

    demo.reach("wave-1");
    assert_eq!(demo.job_types_list(), strings(WAVE_1));
    assert_eq!(
        demo.parameter("gfsc_daily_jobs_creation_start_date"),
        format!("{three_days_ago} 00:00:00"),
        "GFSC daily jobs resume from the first day of the downtime"
    );
    demo.reach("wave-2");
    assert_eq!(demo.job_types_list(), strings(WAVE_2));
    demo.reach("wave-3");
    assert_eq!(demo.job_types_list(), strings(FULL_LIST));

    demo.reach("waves-done");
    assert_eq!(demo.job_types_list(), strings(FULL_LIST));
    let (restart, outcome) = last_operation(&demo.journal(), "restart-waves");
    assert_eq!(outcome, "ok");
    let gates: Vec<i64> = restart
        .iter()
        .filter(|e| e["step"] == "gate_passed")
        .map(|e| e["detail"]["wave"].as_i64().unwrap())
        .collect();
    assert_eq!(gates, [1, 2, 3]);
    for job_type in FULL_LIST {
        let published = demo.psql(&format!(
            "SELECT count(*) FROM cosims.parent_jobs p JOIN cosims.{job_type}s t ON t.fk_parent_job_id = p.id
             WHERE p.last_status_id = 11
               AND p.last_status_change_date > (now() AT TIME ZONE 'UTC') - interval '10 minutes'"
        ));
        assert_ne!(published, "0", "{job_type} produced during its wave");
    }

    demo.reach("jobs-retry");
    assert!(demo.jobs_in_error().is_empty());
    let ids = seeded_errors.join(",");
    assert_eq!(
        demo.psql(&format!(
            "SELECT DISTINCT last_status_id FROM cosims.parent_jobs WHERE id IN ({ids})"
        )),
        "3",
        "walked to ready"
    );

    demo.reach("db-patch-rehearsed");
    assert_eq!(
        demo.psql(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'job_status_changes_time_idx'"
        ),
        "0",
        "a rehearsal applies nothing"
    );
    assert_eq!(
        demo.psql("SELECT to_regclass('csi.csi_patch_ledger') IS NULL"),
        "t"
    );
    assert!(!demo.archives().iter().any(|a| a.starts_with("pre-patch-")));

    demo.reach("db-patch-applied");
    assert_eq!(
        demo.psql(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'job_status_changes_time_idx'"
        ),
        "1"
    );
    assert_eq!(
        demo.psql("SELECT file_name || ' ' || rehearsed FROM csi.csi_patch_ledger"),
        format!("{PATCH_FILE} true")
    );
    let safety = demo.psql("SELECT safety_archive FROM csi.csi_patch_ledger");
    assert!(safety.starts_with("pre-patch-"), "{safety}");
    assert!(demo.archives().contains(&safety));

    demo.reach("upgrade-planned");
    assert!(
        demo.tags()
            .iter()
            .all(|(running, file)| running == file && running != UPGRADE_TAG),
        "a dry run changes nothing: {:?}",
        demo.tags()
    );
    assert_eq!(
        demo.psql(&format!(
            "SELECT count(*) FROM csi.csi_patch_ledger WHERE file_name = '{UPGRADE_FILE}'"
        )),
        "0"
    );

    demo.reach("upgrade-done");
    for (running, file) in demo.tags() {
        assert_eq!(
            (running.as_str(), file.as_str()),
            (UPGRADE_TAG, UPGRADE_TAG)
        );
    }
    let safety = demo.psql(&format!(
        "SELECT safety_archive FROM csi.csi_patch_ledger WHERE file_name = '{UPGRADE_FILE}'"
    ));
    assert!(safety.starts_with("pre-upgrade-"), "{safety}");
    assert!(demo.archives().contains(&safety));
    assert_eq!(
        demo.psql(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = 'parent_jobs' AND column_name = 'operator_note'"
        ),
        "1"
    );

    demo.reach("upgrade-rolled-back");
    for (running, file) in demo.tags() {
        assert_eq!(
            (running.as_str(), file.as_str()),
            (UPGRADE_TAG, UPGRADE_TAG),
            "every service back on the previous tag"
        );
    }
    assert_eq!(
        demo.psql("SELECT count(*) FROM csi.csi_patch_ledger"),
        "2",
        "the broken upgrade had no migration: the ledger is as it was"
    );

    demo.reach("dashboard-deployed");
    let www = demo.root().join("www");
    let live = std::fs::read_to_string(www.join("html/index.html")).unwrap();
    assert!(live.contains("<p>build of "), "{live}");
    let previous = std::fs::read_to_string(www.join("html.prev/index.html")).unwrap();
    assert!(previous.contains("the version before csi"), "{previous}");
    assert_eq!(
        std::fs::read_dir(www.join("temp")).unwrap().count(),
        0,
        "the upload is removed once unpacked"
    );

    demo.reach("dashboard-rolled-back");
    assert_eq!(
        std::fs::read_to_string(www.join("html/index.html")).unwrap(),
        previous
    );
    assert_eq!(
        std::fs::read_to_string(www.join("html.prev/index.html")).unwrap(),
        live
    );

    demo.reach("stop-again");
    assert_eq!(demo.core_resources(), 0);

    demo.reach("history");
    let operations: Vec<(String, String)> = demo
        .journal()
        .iter()
        .filter(|e| e["event"] == "finished")
        .map(|e| {
            (
                e["operation"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("start", "ok"),
        ("doctor", "ok"),
        ("patch-image", "ok"),
        ("patch-image", "ok"),
        ("patch-image", "rolled_back"),
        ("doctor", "ok"),
        ("params-set", "ok"),
        ("processing-image", "ok"),
        ("backup", "ok"),
        ("stop", "ok"),
        ("start", "ok"),
        ("doctor", "ok"),
        ("restore-db", "ok"),
        ("restart-waves", "ok"),
        ("jobs-retry", "ok"),
        ("db-patch", "ok"),
        ("upgrade", "ok"),
        ("upgrade", "rolled_back"),
        ("deploy-dashboard", "ok"),
        ("deploy-dashboard-rollback", "ok"),
        ("stop", "ok"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(o, r)| (o.to_string(), r.to_string()))
        .collect();
    assert_eq!(operations, expected);

    demo.finish();
}
