//! Test harness: starts the real `nomad-double` binary on 127.0.0.1:0 and talks HTTP/1.1
//! to it with a tiny blocking client (no extra dependencies).
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Double {
    pub child: Child,
    pub addr: String,
}

impl Double {
    /// Starts the double with a fast deployment clock and the given extra flags.
    pub fn start(extra: &[&str]) -> Double {
        let mut args = vec!["--bind", "127.0.0.1:0", "--deploy-seconds", "0.4"];
        args.extend_from_slice(extra);
        Double::start_raw(&args, &[])
    }

    pub fn start_raw(args: &[&str], env: &[(&str, &str)]) -> Double {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nomad-double"));
        cmd.args(args)
            .env_remove("NOMAD_DOUBLE_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn nomad-double");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the ready line");
        let addr = line
            .trim()
            .strip_prefix("nomad-double listening on ")
            .unwrap_or_else(|| panic!("unexpected ready line: {line:?}"))
            .to_string();
        Double { child, addr }
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        request(&self.addr, method, path, body, headers)
    }

    pub fn get(&self, path: &str) -> Resp {
        self.request("GET", path, None, &[])
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.request("POST", path, Some(body), &[])
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.request("DELETE", path, None, &[])
    }

    /// Parses a fixture through /v1/jobs/parse (canonical).
    pub fn parse_fixture(&self, name: &str) -> Value {
        let r = self.post(
            "/v1/jobs/parse",
            &json!({"JobHCL": fixture(name), "Canonicalize": true}),
        );
        assert_eq!(r.status, 200, "parse {name}: {}", r.body);
        r.json()
    }

    pub fn register(&self, job: &Value) -> Resp {
        let id = job["ID"].as_str().unwrap();
        self.post(&format!("/v1/job/{id}"), &json!({"Job": job}))
    }

    pub fn register_ok(&self, job: &Value) -> Value {
        let r = self.register(job);
        assert_eq!(r.status, 200, "register: {}", r.body);
        r.json()
    }

    /// Follows an object with blocking queries until `done` holds (or panics after 20 s).
    pub fn wait_for(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut index = 0u64;
        loop {
            let r = self.get(&format!(
                "{path}{}index={index}&wait=2s",
                if path.contains('?') { "&" } else { "?" }
            ));
            let body = if r.status == 200 {
                r.json()
            } else {
                Value::Null
            };
            if r.status == 200 && done(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting on {path}; last: {} {}",
                r.status,
                r.body
            );
            index = r.index().unwrap_or(index);
        }
    }

    pub fn wait_deployment_terminal(&self, id: &str) -> Value {
        self.wait_for(&format!("/v1/deployment/{id}"), |d| {
            matches!(
                d["Status"].as_str(),
                Some("successful" | "failed" | "cancelled")
            )
        })
    }

    /// The deployment created for an evaluation (waits for the scheduler to pick it up).
    pub fn deployment_of_eval(&self, eval_id: &str) -> String {
        let eval = self.wait_for(&format!("/v1/evaluation/{eval_id}"), |e| {
            e["Status"] != "pending"
        });
        eval["DeploymentID"].as_str().unwrap().to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn index(&self) -> Option<u64> {
        self.header("X-Nomad-Index").and_then(|v| v.parse().ok())
    }
}

pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        payload.len()
    );
    if body.is_some() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&payload);
    stream.write_all(req.as_bytes()).expect("write request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

/// The job with one task's image and CPU changed.
pub fn with_task(job: &Value, image: Option<&str>, cpu: Option<u64>) -> Value {
    let mut j = job.clone();
    let task = &mut j["TaskGroups"][0]["Tasks"][0];
    if let Some(image) = image {
        task["Config"]["image"] = json!(image);
    }
    if let Some(cpu) = cpu {
        task["Resources"]["CPU"] = json!(cpu);
    }
    j
}
