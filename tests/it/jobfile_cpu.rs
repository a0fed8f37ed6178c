//! Changing a task's CPU in the sandbox's job files in nomad/ (production's shape: a
//! task directly under the job, HCL1-only batch files) and in HCL1-era fixtures: only
//! the digits of the `cpu` attribute change.

use std::path::PathBuf;

use csi_ops::nomad::jobfile::{scan_with, set_task_cpu, JobFileError, ParseMode};

/// A file of nomad/, or of tests/fixtures/ when the name has a folder.
fn job_file(name: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = match name.contains('/') {
        true => root.join("tests/fixtures").join(name),
        false => root.join("nomad").join(name),
    };
    fs_err::read_to_string(path).unwrap()
}

const HCL1_DOCKER: &str = "jobfiles/hcl1_docker_worker.nomad";
const TWO_TASKS: &str = "jobfiles/two_task_worker.nomad";

/// 1-based numbers of the lines that differ; both texts have as many lines.
fn changed_lines(old: &str, new: &str) -> Vec<usize> {
    let old_lines: Vec<&str> = old.split('\n').collect();
    let new_lines: Vec<&str> = new.split('\n').collect();
    assert_eq!(old_lines.len(), new_lines.len());
    (0..old_lines.len())
        .filter(|&i| old_lines[i] != new_lines[i])
        .map(|i| i + 1)
        .collect()
}

/// Sets the CPU to `new_cpu` and back; checks the bytes, the lines and the result.
fn set_and_back(
    name: &str,
    task: Option<&str>,
    mode: ParseMode,
    cpu_line: &str,
    old_cpu: u32,
    new_cpu: u32,
) {
    let original = job_file(name);
    assert_eq!(
        original.matches(cpu_line).count(),
        1,
        "{name}: {cpu_line:?}"
    );
    let line = original[..original.find(cpu_line).unwrap()]
        .matches('\n')
        .count()
        + 1;

    let patched = set_task_cpu(&original, task, new_cpu).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(patched.mode, mode, "{name}");
    assert_eq!(patched.line, line, "{name}");
    assert_eq!((patched.old_cpu, patched.new_cpu), (old_cpu, new_cpu));
    assert!(patched.changed());

    // Bytes: the same before and after the digits.
    let old_digits = old_cpu.to_string();
    let new_digits = new_cpu.to_string();
    let digits_at = original.find(cpu_line).unwrap() + cpu_line.find(&old_digits).unwrap();
    assert_eq!(&patched.text[..digits_at], &original[..digits_at]);
    assert_eq!(
        &patched.text[digits_at..digits_at + new_digits.len()],
        new_digits
    );
    assert_eq!(
        &patched.text[digits_at + new_digits.len()..],
        &original[digits_at + old_digits.len()..]
    );
    assert_eq!(
        patched.text,
        original.replace(cpu_line, &cpu_line.replace(&old_digits, &new_digits))
    );

    // Lines: only the cpu line differs.
    assert_eq!(
        changed_lines(&original, &patched.text),
        vec![line],
        "{name}"
    );

    // The images are untouched.
    assert_eq!(
        scan_with(&patched.text, mode).unwrap().images.len(),
        scan_with(&original, mode).unwrap().images.len()
    );

    // And back.
    let back = set_task_cpu(&patched.text, Some(&patched.task), old_cpu).unwrap();
    assert_eq!((back.old_cpu, back.line), (new_cpu, line));
    assert_eq!(back.text, original, "{name}: setting back changed the file");
}

#[test]
fn strict_file_cpu_is_set_and_back() {
    for task in [None, Some("worker-pool-management")] {
        set_and_back(
            "worker_pool_management.nomad",
            task,
            ParseMode::Strict,
            "      cpu    = 1500\n",
            1500,
            1000,
        );
    }
}

#[test]
fn hcl1_era_file_cpu_is_set_and_back() {
    let original = job_file(HCL1_DOCKER);
    assert!(matches!(
        scan_with(&original, ParseMode::Strict),
        Err(JobFileError::Syntax { .. })
    ));
    for task in [None, Some("rlies1-processing")] {
        set_and_back(
            HCL1_DOCKER,
            task,
            ParseMode::Fallback,
            "        cpu = 2000 memory = 6144\n",
            2000,
            12000,
        );
    }
    let patched = set_task_cpu(&original, None, 500).unwrap();
    assert!(patched.text.contains("\n        cpu = 500 memory = 6144\n"));
}

#[test]
fn two_task_file_needs_the_task_name() {
    let original = job_file(TWO_TASKS);
    let err = set_task_cpu(&original, None, 1000).unwrap_err();
    assert!(
        matches!(err, JobFileError::SeveralResources { .. }),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("\"stage-inputs\""), "{message}");
    assert!(message.contains("\"si-processing\""), "{message}");

    let patched = set_task_cpu(&original, Some("si-processing"), 3000).unwrap();
    assert_eq!(patched.old_cpu, 4000);
    assert_eq!(changed_lines(&original, &patched.text), vec![patched.line]);
    assert!(patched.text.contains("cpu    = 200\n"));
}

/// Production's batch files are HCL1 only (`meta_required` twice): read by the tolerant
/// scanner; the worker task is the only one with resources, the uploader has none.
#[test]
fn batch_file_cpu_is_the_worker_tasks() {
    for name in ["si_processing.nomad", "ws_processing.nomad"] {
        for task in [None, Some("run-worker")] {
            set_and_back(
                name,
                task,
                ParseMode::Fallback,
                "        cpu    = 50\n",
                50,
                200,
            );
        }
        let err = set_task_cpu(&job_file(name), Some("upload-nomad-alloc-dir"), 100).unwrap_err();
        assert!(
            matches!(err, JobFileError::NoResources { .. }),
            "{name}: {err}"
        );
    }
}
