//! Starts the project's Nomad test double (the `nomad-double` workspace binary).

use std::io::{BufRead, BufReader, Read, Write};
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

/// The six services of the project's job files, in configuration order.
pub const SERVICES: [&str; 6] = [
    "job-creation",
    "job-configuration",
    "job-execution",
    "job-publication",
    "monitor",
    "worker-pool-management",
];

impl NomadDouble {
    /// `METHOD path` with a text body over plain HTTP/1.0: the status and the body.
    pub fn http(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let host = self.address.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// Injects faults from now on (`METHOD:PATH:ANSWER[:COUNT]`, one per line; see
    /// nomad-double's README).
    pub fn inject(&self, rules: &str) {
        let (status, body) = self.http("POST", "/_double/faults", rules);
        assert_eq!(status, 200, "injecting {rules:?}: {body}");
    }

    /// The faults left, as the double lists them.
    pub fn faults_left(&self) -> Vec<String> {
        serde_json::from_str(&self.http("GET", "/_double/faults", "").1).unwrap()
    }

    /// Every API request the double received, as `METHOD /path` (with ` -> FAULT` when
    /// it got one).
    pub fn requests(&self) -> Vec<String> {
        let log: Vec<serde_json::Value> =
            serde_json::from_str(&self.http("GET", "/_double/requests", "").1).unwrap();
        log.iter()
            .map(|r| {
                let fault = r["Fault"]
                    .as_str()
                    .map(|f| format!(" -> {f}"))
                    .unwrap_or_default();
                format!(
                    "{} {}{fault}",
                    r["Method"].as_str().unwrap(),
                    r["Path"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// `running`, `pending`, `dead`, `stopped` (Stop set) or `missing`.
    pub fn job_state(&self, job: &str) -> String {
        let (status, body) = self.http("GET", &format!("/v1/job/{job}"), "");
        if status == 404 {
            return "missing".into();
        }
        let job: serde_json::Value = serde_json::from_str(&body).unwrap();
        if job["Stop"] == true {
            "stopped".into()
        } else {
            job["Status"].as_str().unwrap_or("?").to_owned()
        }
    }

    /// The job's version, for "nothing was registered" checks.
    pub fn job_version(&self, job: &str) -> u64 {
        let (_, body) = self.http("GET", &format!("/v1/job/{job}"), "");
        let job: serde_json::Value = serde_json::from_str(&body).unwrap();
        job["Version"].as_u64().unwrap()
    }

    /// Waits (up to a minute) until every one of the six services is in `state`.
    pub fn wait_all(&self, state: &str) {
        let started = std::time::Instant::now();
        loop {
            let states: Vec<String> = SERVICES.iter().map(|j| self.job_state(j)).collect();
            if states.iter().all(|s| s == state) {
                return;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "services not {state}: {states:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

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
