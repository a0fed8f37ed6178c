//! The layering the README's architecture section promises, checked on the source:
//! every child process is started by `src/process`, everything a person reads goes
//! through the printer (`src/output.rs`, bars and live rows by `src/output/live.rs`), no
//! command module reaches into another, and the domain modules know nothing of the
//! command line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The code lines of a file, without line comments (doc comments talk about macros).
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .map(|(i, l)| (i + 1, l.to_owned()))
        .collect()
}

fn relative(path: &Path) -> String {
    path.strip_prefix(src()).unwrap().display().to_string()
}

/// Every line of `src/` outside `allowed` that contains one of `needles`.
fn offenders(needles: &[&str], allowed: impl Fn(&str) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    for file in rust_files(&src()) {
        let rel = relative(&file);
        if allowed(&rel) {
            continue;
        }
        for (n, line) in code_lines(&file) {
            if needles.iter().any(|needle| line.contains(needle)) {
                found.push(format!("src/{rel}:{n}: {}", line.trim()));
            }
        }
    }
    found
}

#[test]
fn only_the_process_module_starts_child_processes() {
    let found = offenders(
        &["process::Command", "Command::new(", "std::process::{"],
        |rel| rel == "process.rs" || rel.starts_with("process/"),
    );
    assert!(
        found.is_empty(),
        "start child processes through csi_ops::process::Cmd:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_printer_writes_to_the_terminal() {
    let found = offenders(
        &["println!", "eprintln!", "print!(", "eprint!(", "dbg!("],
        |rel| rel == "output.rs",
    );
    assert!(
        found.is_empty(),
        "write through the Printer (src/output.rs), which redacts secrets:\n{}",
        found.join("\n")
    );
}

/// The command modules: `src/commands/<name>.rs` and `src/commands/<name>/`.
fn command_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(src().join("commands"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?.to_owned();
            (stem != "mod").then_some(stem)
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn no_command_module_imports_another() {
    let names = command_names();
    assert!(names.len() > 10, "found only {names:?} under src/commands");
    let mut found = Vec::new();
    for file in rust_files(&src().join("commands")) {
        let rel = relative(&file);
        let own = rel
            .trim_start_matches("commands/")
            .split(['/', '.'])
            .next()
            .unwrap_or_default()
            .to_owned();
        let top_level = !rel.trim_start_matches("commands/").contains('/');
        for (n, line) in code_lines(&file) {
            for other in names.iter().filter(|name| **name != own) {
                let by_crate = line.contains(&format!("crate::commands::{other}"));
                let by_super = top_level && line.contains(&format!("super::{other}"));
                if by_crate || by_super {
                    found.push(format!("src/{rel}:{n}: {}", line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "a command's logic belongs in a domain module both commands can use:\n{}",
        found.join("\n")
    );
}

#[test]
fn domain_modules_know_nothing_of_the_command_line() {
    let found = offenders(
        &[
            "crate::commands",
            "crate::cli",
            "use crate::{cli",
            "clap::Parser",
        ],
        |rel| {
            rel.starts_with("commands/") || ["cli.rs", "run.rs", "main.rs", "lib.rs"].contains(&rel)
        },
    );
    assert!(
        found.is_empty(),
        "domain modules take resolved settings, never clap's structs:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_the_printer_draws_bars() {
    let found = offenders(
        &[
            "ProgressBar",
            "MultiProgress",
            "ProgressStyle",
            "ProgressDrawTarget",
        ],
        |rel| rel.starts_with("output/"),
    );
    assert!(
        found.is_empty(),
        "show progress through Printer::live_bar/live_rows (src/output/live.rs), which draw \
         only on a terminal and keep lasting lines above the bars:\n{}",
        found.join("\n")
    );
}
