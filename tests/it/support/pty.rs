//! Runs csi on a pseudo-terminal (through util-linux `script`) to answer its prompts
//! as an operator would.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::csi::{test_path, Run, TestEnv};

/// Starts csi on a terminal, waits until its output contains `prompt`, calls `before_answer`
/// (to change the world while csi waits), types `answer`, and collects the run.
pub fn answer_prompt(
    env: &TestEnv,
    args: &[&str],
    prompt: &str,
    answer: &str,
    before_answer: impl FnOnce(),
) -> Run {
    let mut words = vec![
        env!("CARGO_BIN_EXE_csi").to_owned(),
        "--config".into(),
        env.config.display().to_string(),
        "--state-dir".into(),
        env.state_dir.display().to_string(),
    ];
    words.extend(args.iter().map(|a| a.to_string()));
    let command_line = words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["-qfec", &command_line, "/dev/null"])
        .env_clear()
        .env("PATH", test_path())
        .env("HOME", &env.home)
        .env("TERM", "xterm")
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &env.env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start script");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let started = Instant::now();
    while !seen.lock().unwrap().contains(prompt) {
        if started.elapsed() > Duration::from_secs(120) || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    before_answer();
    stdin.write_all(answer.as_bytes()).ok();
    stdin.flush().ok();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(240) {
            child.kill().ok();
            panic!(
                "csi on a terminal did not finish; output:\n{}",
                seen.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    reader.join().ok();
    let output = seen.lock().unwrap().clone();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: output,
        stderr: String::new(),
    }
}

fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}
