//! The job file editor against the sandbox's job files in nomad/, written in
//! production's shape (a task directly under the job; HCL1-only batch files with
//! `meta_required` twice and no image), and against HCL1-era fixtures: patching changes
//! the tag bytes and nothing else.

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use csi_ops::nomad::jobfile::{
    find_images, scan, scan_with, set_image_tag, unified_diff, write_atomically, JobFileError,
    ParseMode,
};

const SERVICE_FILES: [&str; 6] = [
    "job_creation.nomad",
    "job_configuration.nomad",
    "job_execution.nomad",
    "job_publication.nomad",
    "monitor.nomad",
    "worker_pool_management.nomad",
];
/// Production's six parameterized batch files (no image: patch-image never edits them).
const BATCH_FILES: [&str; 6] = [
    "gfsc_processing.nomad",
    "rlies1_processing.nomad",
    "rlies1s2_processing.nomad",
    "si_processing.nomad",
    "test_job_processing.nomad",
    "ws_processing.nomad",
];
/// HCL1-era docker files (fixtures): quoted keys, one-line attributes, `args` twice.
const HCL1_FILE: &str = "jobfiles/hcl1_docker_worker.nomad";
const TWO_TASK_FILE: &str = "jobfiles/two_task_worker.nomad";

/// Every `*.nomad` file of the repository's nomad/ folder, sorted: (name, text).
fn job_files() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("nomad");
    let mut files: Vec<(String, String)> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "nomad"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs_err::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// A file of nomad/, or of tests/fixtures/ when the name has a folder.
fn job_file(name: &str) -> String {
    if name.contains('/') {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        return fs_err::read_to_string(path).unwrap();
    }
    job_files()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("nomad/{name} is missing"))
        .1
}

#[test]
fn the_job_folder_holds_the_services_and_the_processing_jobs() {
    let files = job_files();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    let mut expected: Vec<&str> = SERVICE_FILES.iter().chain(&BATCH_FILES).copied().collect();
    expected.sort();
    assert_eq!(names, expected);
}

/// Production's shape: every service has its one task directly under the job (no
/// group) and no update block; the registry password is the template variable.
#[test]
fn services_have_their_task_directly_under_the_job_and_no_update_block() {
    for file in SERVICE_FILES {
        let text = job_file(file);
        let found = scan(&text).unwrap();
        assert_eq!(found.mode, ParseMode::Strict, "{file}");
        assert_eq!(found.tasks.len(), 1, "{file}");
        let job = file.trim_end_matches(".nomad").replace('_', "-");
        assert_eq!(found.tasks[0].name, job, "{file}");
        let task_line = text.lines().nth(found.tasks[0].line - 1).unwrap();
        assert_eq!(
            task_line,
            format!("  task \"{job}\" {{"),
            "{file}: not under the job"
        );
        assert!(!text.contains("group \""), "{file}");
        assert!(!text.contains("update {"), "{file}");
        assert!(
            text.contains("password = \"$GITLAB_TOKEN_PASSWORD\""),
            "{file}"
        );
    }
}

/// The batch files are HCL1 only (strict HCL2 refuses the second `meta_required`), read
/// by the tolerant scanner: two tasks, no image, so asking for one is a clear error.
#[test]
fn batch_files_are_hcl1_only_and_have_no_image() {
    for file in BATCH_FILES {
        let text = job_file(file);
        assert_eq!(text.matches("    meta_required = [").count(), 2, "{file}");
        let strict = scan_with(&text, ParseMode::Strict).unwrap_err();
        let second = text.rfind("meta_required").unwrap();
        let line = text[..second].matches('\n').count() + 1;
        assert!(
            matches!(strict, JobFileError::Syntax { line: l, .. } if l == line),
            "{file}: {strict}"
        );
        let found = scan(&text).unwrap();
        assert_eq!(found.mode, ParseMode::Fallback, "{file}");
        let tasks: Vec<&str> = found.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(tasks, ["run-worker", "upload-nomad-alloc-dir"], "{file}");
        assert!(found.images.is_empty(), "{file}");
        let err = set_image_tag(&text, None, "git-deadbeef").unwrap_err();
        assert!(matches!(err, JobFileError::NoImage { .. }), "{file}: {err}");
    }
}

#[test]
fn service_images_follow_the_naming_convention() {
    let suffixes = [
        "job_creation",
        "job_configuration",
        "job_execution",
        "job_publication",
        "monitor",
        "worker_pool",
    ];
    for (file, suffix) in SERVICE_FILES.iter().zip(suffixes) {
        let images = find_images(&job_file(file)).unwrap();
        assert_eq!(images.len(), 1, "{file}");
        let reference = images[0].reference.as_ref().unwrap();
        assert_eq!(
            reference.name(),
            format!("registry.hrsi.example/cosims/cosims/{suffix}"),
            "{file}"
        );
        let tag = reference.tag.as_deref().unwrap();
        csi_ops::nomad::jobfile::validate_tag(tag, csi_ops::nomad::jobfile::DEFAULT_TAG_PATTERN)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

/// Patching every image of every file to `git-deadbeef` changes exactly the image
/// line, inside the tag; patching back restores the original bytes.
#[test]
fn patch_and_patch_back_restores_every_file_byte_for_byte() {
    let mut patched_images = 0;
    let files = job_files()
        .into_iter()
        .filter(|(name, _)| !BATCH_FILES.contains(&name.as_str()))
        .chain([HCL1_FILE, TWO_TASK_FILE].map(|f| (f.to_string(), job_file(f))));
    for (name, original) in files {
        let found = scan(&original).unwrap();
        assert!(!found.images.is_empty(), "{name}");
        for image in &found.images {
            let old_tag = image.reference.as_ref().unwrap().tag.clone().unwrap();
            let tag_range = image.tag_range().unwrap();
            let patched = set_image_tag(&original, Some(&image.task), "git-deadbeef")
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(patched.mode, found.mode, "{name}");
            assert_eq!(patched.line, image.line, "{name}");
            assert_eq!(patched.old_tag, old_tag, "{name}");

            // Bytes: the same before and after the tag.
            let new_end = tag_range.start + "git-deadbeef".len();
            assert_eq!(
                &patched.text[..tag_range.start],
                &original[..tag_range.start]
            );
            assert_eq!(&patched.text[tag_range.start..new_end], "git-deadbeef");
            assert_eq!(&patched.text[new_end..], &original[tag_range.end..]);

            // Lines: only the image line differs.
            let old_lines: Vec<&str> = original.split('\n').collect();
            let new_lines: Vec<&str> = patched.text.split('\n').collect();
            assert_eq!(old_lines.len(), new_lines.len(), "{name}");
            let changed: Vec<usize> = (0..old_lines.len())
                .filter(|&i| old_lines[i] != new_lines[i])
                .map(|i| i + 1)
                .collect();
            let expected: Vec<usize> = if old_tag == "git-deadbeef" {
                vec![]
            } else {
                vec![image.line]
            };
            assert_eq!(changed, expected, "{name}, task {}", image.task);

            // The diff shows that one line.
            let diff = unified_diff(&format!("nomad/{name}"), &original, &patched.text);
            assert_eq!(
                diff.lines()
                    .filter(|l| l.starts_with('-') && !l.starts_with("---"))
                    .count(),
                1
            );
            assert_eq!(
                diff.lines()
                    .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
                    .count(),
                1
            );

            let back = set_image_tag(&patched.text, Some(&image.task), &old_tag).unwrap();
            assert_eq!(
                back.text, original,
                "{name}: patching back changed the file"
            );
            patched_images += 1;
        }
    }
    assert_eq!(
        patched_images, 9,
        "six services, the HCL1 fixture, the two-task one"
    );
}

#[test]
fn single_image_files_need_no_task_name() {
    for file in SERVICE_FILES {
        let original = job_file(file);
        let patched = set_image_tag(&original, None, "git-0badc0de").unwrap();
        assert!(patched.new_image.ends_with(":git-0badc0de"), "{file}");
        assert_eq!(patched.mode, ParseMode::Strict, "{file}");
    }
}

#[test]
fn hcl1_era_file_is_patched_through_the_fallback_scanner() {
    let original = job_file(HCL1_FILE);
    // Strict HCL2 rejects it...
    assert!(matches!(
        scan_with(&original, ParseMode::Strict),
        Err(JobFileError::Syntax { .. })
    ));
    // ...even without the quoted keys: `args` is set twice in the same block.
    let args = original.matches("\n        args = [").count();
    assert_eq!(args, 2, "the HCL1 file must keep its repeated attribute");

    let patched = set_image_tag(&original, None, "git-deadbeef").unwrap();
    assert_eq!(patched.mode, ParseMode::Fallback);
    assert_eq!(patched.task, "rlies1-processing");
    assert_eq!(
        patched.text,
        original.replace(
            "rlies1_processing:git-c08f1d5a",
            "rlies1_processing:git-deadbeef"
        )
    );
}

#[test]
fn repeated_attribute_alone_sends_the_file_to_the_fallback() {
    // Only the repeated `args`: no quoted keys, no one-line attributes.
    let original = job_file(HCL1_FILE);
    let start = original.find("  group \"rlies1\"").unwrap();
    let end = original.find("\n      template {").unwrap();
    let text = format!(
        "job \"x\" {{\n{}\n    }}\n  }}\n}}\n",
        &original[start..end]
    );
    assert!(matches!(
        scan_with(&text, ParseMode::Strict),
        Err(JobFileError::Syntax { .. })
    ));
    let patched = set_image_tag(&text, None, "git-deadbeef").unwrap();
    assert_eq!(patched.mode, ParseMode::Fallback);
}

#[test]
fn two_task_file_needs_the_task_name_and_patches_only_that_task() {
    let original = job_file(TWO_TASK_FILE);
    let err = set_image_tag(&original, None, "git-deadbeef").unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, JobFileError::SeveralImages { .. }),
        "{message}"
    );
    assert!(message.contains("\"stage-inputs\""), "{message}");
    assert!(message.contains("\"si-processing\""), "{message}");

    let patched = set_image_tag(&original, Some("si-processing"), "git-deadbeef").unwrap();
    assert_eq!(
        patched.text,
        original.replace("si_processing:git-51ac9e03", "si_processing:git-deadbeef")
    );
    assert!(patched.text.contains("tools/rclone:1.66.0"));

    let sidecar = set_image_tag(&original, Some("stage-inputs"), "1.67.1").unwrap();
    assert_eq!(
        sidecar.text,
        original.replace("rclone:1.66.0", "rclone:1.67.1")
    );

    let err = set_image_tag(&original, Some("si"), "git-deadbeef").unwrap_err();
    assert!(matches!(err, JobFileError::TaskNotFound { .. }), "{err}");
    assert!(
        err.to_string().contains("\"stage-inputs\" at line"),
        "{err}"
    );
}

#[test]
fn file_without_image_is_a_clear_error_with_a_line() {
    let original = job_file("monitor.nomad");
    let image_line = original
        .lines()
        .find(|l| l.trim_start().starts_with("image"))
        .unwrap();
    let without = original.replace(&format!("{image_line}\n"), "");
    let err = set_image_tag(&without, None, "git-deadbeef").unwrap_err();
    let task_line = original
        .lines()
        .position(|l| l.trim_start().starts_with("task \"monitor\""))
        .unwrap()
        + 1;
    assert_eq!(
        err.to_string(),
        format!("line {task_line}: task \"monitor\" has no `image = \"...\"` in a `config` block")
    );

    let err = set_image_tag("# nothing here\njob \"x\" {}\n", None, "git-deadbeef").unwrap_err();
    assert!(
        matches!(err, JobFileError::NoImage { line: 1, .. }),
        "{err}"
    );
}

#[test]
fn broken_files_report_the_line_in_fallback_mode() {
    let original = job_file(HCL1_FILE);
    let unterminated = original.replacen("value = \"worker\"", "value = \"worker", 1);
    let line = unterminated
        .lines()
        .position(|l| l.contains("value = \"worker"))
        .unwrap()
        + 1;
    assert_eq!(
        set_image_tag(&unterminated, None, "git-deadbeef").unwrap_err(),
        JobFileError::UnterminatedString { line }
    );
    // The last heredoc loses its closing marker.
    let last = original.rfind("\nEOF\n").unwrap();
    let heredoc = format!("{}\nEOX\n{}", &original[..last], &original[last + 5..]);
    assert!(matches!(
        set_image_tag(&heredoc, None, "git-deadbeef").unwrap_err(),
        JobFileError::UnterminatedHeredoc { marker, .. } if marker == "EOF"
    ));
}

/// The two readers see the same images wherever both can read the file.
#[test]
fn strict_and_fallback_agree_where_both_parse() {
    let mut strict_files = 0;
    for (name, text) in job_files() {
        let fallback = scan_with(&text, ParseMode::Fallback)
            .unwrap_or_else(|e| panic!("{name}: the fallback scanner fails: {e}"));
        let Ok(strict) = scan_with(&text, ParseMode::Strict) else {
            continue;
        };
        strict_files += 1;
        assert_eq!(strict.tasks, fallback.tasks, "{name}");
        assert_eq!(strict.images, fallback.images, "{name}");
        // And on the patched text too.
        for image in &strict.images {
            let patched = set_image_tag(&text, Some(&image.task), "git-deadbeef").unwrap();
            let a = scan_with(&patched.text, ParseMode::Strict).unwrap();
            let b = scan_with(&patched.text, ParseMode::Fallback).unwrap();
            assert_eq!(a.images, b.images, "{name}");
        }
    }
    assert_eq!(strict_files, 6, "the six services parse strictly");

    // Trickier layouts than the real files have.
    let snippets = [
        "task t {\n  config { image = \"a:1\" }\n}\n",
        "job \"j\" {\n  task \"a\" {\n    config {\n      image = \"r.example/a:1\" /* c */\n      args = [\"}\", \"{\"]\n    }\n  }\n  task \"b\" {\n    config {\n      # image = \"no:1\"\n      image = \"r.example/b:${var.tag}\"\n    }\n  }\n}\n",
        "task \"t\" {\n  config {\n    image = var.image\n    labels = { image = \"no:1\" }\n  }\n}\n",
        "task \"t\" {\n  template {\n    data = <<-EOT\n      config { image = \"no:1\" }\n      EOT\n  }\n  config {\n    image = \"a:\\\"1\"\n  }\n}\n",
        "task \"t\" {\n  config {\n    image = \"a:1\"\n  }\n  config {\n    image = \"b:2\"\n  }\n}\n",
        "task \"t\" {\r\n  config {\r\n    image = \"a:1\"\r\n  }\r\n}\r\n",
    ];
    for snippet in snippets {
        let strict = scan_with(snippet, ParseMode::Strict).unwrap();
        let fallback = scan_with(snippet, ParseMode::Fallback).unwrap();
        assert_eq!(strict.images, fallback.images, "{snippet}");
        assert_eq!(strict.tasks, fallback.tasks, "{snippet}");
    }
}

#[test]
fn atomic_write_keeps_the_mode_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("monitor.nomad");
    let original = job_file("monitor.nomad");
    fs_err::write(&path, &original).unwrap();
    fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();

    let patched = set_image_tag(&original, None, "git-deadbeef").unwrap();
    write_atomically(&path, &patched.text).unwrap();

    assert_eq!(fs_err::read_to_string(&path).unwrap(), patched.text);
    let mode = fs_err::metadata(&path).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o640);
    let entries = fs_err::read_dir(dir.path()).unwrap().count();
    assert_eq!(entries, 1, "a temporary file was left behind");
}
