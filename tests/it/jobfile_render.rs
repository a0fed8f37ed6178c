//! Rendering the real job files' template variables before submission.

use std::path::PathBuf;

use csi_ops::nomad::jobfile::{find_images, render, RenderError, DEFAULT_TEMPLATE_VARIABLES};

const CONFIG_ENV: &str = "CSI_DB_HOST=tf-tutu\nCSI_LOOP_SLEEP=5\nCSI_NOTE=\"quoted\" \\ back\n";
const SECRETS_ENV: &str = "CSI_DB_PASSWORD=pa$$word\nOS_PASSWORD=s3cret\n";
const TOKEN: &str = "tok\"en\\with${braces}";

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
    assert_eq!(files.len(), 12, "nomad/: six services, six batch jobs");
    files
}

fn job_file(name: &str) -> String {
    job_files().into_iter().find(|(n, _)| n == name).unwrap().1
}

fn values(name: &str) -> Option<String> {
    match name {
        "CSI_ROOT_DIR" => Some("/opt/hrsi".to_string()),
        "CSI_CONFIG_ENV_FILE_CONTENT" => Some(CONFIG_ENV.to_string()),
        "CSI_SECRETS_ENV_FILE_CONTENT" => Some(SECRETS_ENV.to_string()),
        "GITLAB_TOKEN_PASSWORD" => Some(TOKEN.to_string()),
        _ => None,
    }
}

#[test]
fn allow_listed_variables_are_replaced_and_nomad_interpolations_kept() {
    let source = job_file("job_creation.nomad");
    let rendered = render(&source, DEFAULT_TEMPLATE_VARIABLES, &values).unwrap();

    for var in DEFAULT_TEMPLATE_VARIABLES {
        assert!(!rendered.contains(&format!("${var}")), "{rendered}");
    }
    // Comments are not templates.
    assert!(rendered.contains("# This file is a template: the $CSI_* references"));
    for nomad in [
        "${node.class}",
        "${NOMAD_ALLOC_DIR}",
        "${attr.unique.hostname}",
    ] {
        assert_eq!(
            rendered.matches(nomad).count(),
            source.matches(nomad).count(),
            "{nomad}"
        );
    }
    assert!(rendered.contains("\"/opt/hrsi/logs/job_creation:/var/log/cosims\""));
    // Heredoc: the env file, verbatim.
    assert!(
        rendered.contains(&format!("<<EOF\n{CONFIG_ENV}\nEOF\n")),
        "{rendered}"
    );
    assert!(
        rendered.contains(&format!("<<EOF\n{SECRETS_ENV}\nEOF\n")),
        "{rendered}"
    );
    // Quoted string: escaped, and `${` doubled so Nomad does not interpolate it.
    assert!(
        rendered.contains(r#"password = "tok\"en\\with$${braces}""#),
        "{rendered}"
    );
    // Still HCL2, and the image is untouched.
    hcl_edit::parser::parse_body(&rendered).unwrap();
    assert_eq!(
        find_images(&rendered).unwrap()[0].raw,
        find_images(&source).unwrap()[0].raw
    );
}

#[test]
fn every_job_file_renders_and_keeps_its_structure() {
    for (name, source) in job_files() {
        let rendered = render(&source, DEFAULT_TEMPLATE_VARIABLES, &values)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for var in DEFAULT_TEMPLATE_VARIABLES {
            assert!(
                !rendered.contains(&format!("${var}")),
                "{name}: ${var} left"
            );
        }
        for nomad in ["${node.class}", "${NOMAD_", "${attr."] {
            assert_eq!(
                rendered.matches(nomad).count(),
                source.matches(nomad).count(),
                "{name}: {nomad}"
            );
        }
        if hcl_edit::parser::parse_body(&source).is_ok() {
            hcl_edit::parser::parse_body(&rendered)
                .unwrap_or_else(|e| panic!("{name} no longer parses after rendering: {e}"));
        }
        let images = |text: &str| -> Vec<String> {
            find_images(text)
                .unwrap()
                .into_iter()
                .map(|i| i.raw)
                .collect()
        };
        assert_eq!(images(&rendered), images(&source), "{name}");
    }
}

#[test]
fn every_missing_variable_is_named() {
    let source = job_file("job_creation.nomad");
    let err = render(&source, DEFAULT_TEMPLATE_VARIABLES, &|name| {
        (name == "CSI_ROOT_DIR").then(|| "/opt/hrsi".to_string())
    })
    .unwrap_err();
    let RenderError::Missing(missing) = &err else {
        panic!("{err}")
    };
    let names: Vec<&str> = missing.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "GITLAB_TOKEN_PASSWORD",
            "CSI_CONFIG_ENV_FILE_CONTENT",
            "CSI_SECRETS_ENV_FILE_CONTENT"
        ]
    );
    let message = err.to_string();
    for name in names {
        assert!(message.contains(name), "{message}");
    }
    assert!(message.contains("line"), "{message}");
}

#[test]
fn secret_values_never_appear_in_errors() {
    const SECRET: &str = "hunter2-very-secret";
    let source = job_file("worker_pool_management.nomad");

    // A missing variable next to provided secrets.
    let err = render(&source, DEFAULT_TEMPLATE_VARIABLES, &|name| match name {
        "CSI_ROOT_DIR" => None,
        _ => Some(SECRET.to_string()),
    })
    .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(SECRET), "{err}");

    // A secret that would end the heredoc it is spliced into.
    let err = render(&source, DEFAULT_TEMPLATE_VARIABLES, &|name| match name {
        "CSI_SECRETS_ENV_FILE_CONTENT" => Some(format!("OS_PASSWORD={SECRET}\nEOF\nX={SECRET}")),
        other => values(other),
    })
    .unwrap_err();
    let message = format!("{err} {err:?}");
    assert!(
        matches!(err, RenderError::ClosesHeredoc { .. }),
        "{message}"
    );
    assert!(
        message.contains("CSI_SECRETS_ENV_FILE_CONTENT"),
        "{message}"
    );
    assert!(!message.contains(SECRET), "{message}");
}

#[test]
fn unknown_dollar_variables_and_escapes_are_left_alone() {
    // An HCL1-era docker worker (fixture): `$${...}` is HCL's escape for the shell.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/jobfiles/two_task_worker.nomad");
    let source = fs_err::read_to_string(path).unwrap();
    let rendered = render(&source, &["CSI_ROOT_DIR"], &values).unwrap();
    // Not allow-listed here: left as written.
    assert!(rendered.contains("$CSI_SECRETS_ENV_FILE_CONTENT"));
    assert!(rendered.contains("\"$GITLAB_TOKEN_PASSWORD\""));
    assert!(rendered.contains("\\\"$${CSI_INPUT_URL}\\\""));
    assert!(rendered.contains("/opt/hrsi/auxiliary:/opt/cosims/auxiliary:ro"));
}

/// Production's batch files: the uploader's bash script is a heredoc inside the `args`
/// list; its `$NAMES` are the shell's and `${NOMAD_*}` Nomad's, so only the allow-listed
/// variables change, and nothing else in the file.
#[test]
fn a_batch_files_inline_script_is_left_to_the_shell() {
    let source = job_file("si_processing.nomad");
    let rendered = render(&source, DEFAULT_TEMPLATE_VARIABLES, &values).unwrap();
    assert!(rendered.contains("command = \"/opt/hrsi/worker/components/worker/src/run.sh\""));
    for kept in [
        "target=csi:$CSI_BUCKET_NAME_SIP_RESULTS/work/jobs/${NOMAD_META_JOB_UNIQUE_ID}/nomad/allocs",
        "cp -Rp ${NOMAD_ALLOC_DIR} snapshot",
        "rclone sync snapshot $target/${NOMAD_ALLOC_ID}",
        "args    = [\"${NOMAD_META_JOB_ID}\"]",
    ] {
        assert!(rendered.contains(kept), "{kept}");
    }
    let expected = source
        .replace("$CSI_ROOT_DIR", "/opt/hrsi")
        .replace("$CSI_CONFIG_ENV_FILE_CONTENT", CONFIG_ENV)
        .replace("$CSI_SECRETS_ENV_FILE_CONTENT", SECRETS_ENV);
    // The comments mention the variables too: compare the code only.
    let code = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#') && !l.trim_start().starts_with("//"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(code(&rendered), code(&expected));
}
