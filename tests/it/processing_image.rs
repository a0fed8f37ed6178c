//! `csi env processing-image`: the images per processing job type, listed from the
//! catalog of a real cosims schema, references validated before anything is written,
//! and a change written through the params path (one transaction, history, journal).

use crate::support;

use support::csi::{database_config, Run, TestEnv};
use support::postgres::TestPostgres;

const SI: &str = "docker_image_for_si_processing";
const NEW_SI: &str = "registry.sandbox.invalid/cosims/cosims/si_processing:git-0badc0de";

struct Bed {
    env: TestEnv,
    pg: TestPostgres,
}

fn bed(protected: bool) -> Bed {
    let pg = TestPostgres::start();
    pg.load_cosims();
    let env = TestEnv::new(&database_config(pg.port(), protected, ""));
    Bed { env, pg }
}

impl Bed {
    fn csi(&self, args: &[&str]) -> Run {
        self.env.csi(args)
    }

    fn value(&self, column: &str) -> String {
        self.pg.psql(
            "postgres",
            &format!("SELECT coalesce({column}, 'NULL') FROM cosims.system_parameters"),
        )
    }

    fn history_rows(&self) -> usize {
        self.pg
            .psql(
                "postgres",
                "SELECT count(*) FROM cosims.system_parameters_history",
            )
            .parse()
            .unwrap()
    }

    fn journal(&self) -> String {
        std::fs::read_to_string(self.env.state_dir.join("sandbox/journal.jsonl"))
            .unwrap_or_default()
    }
}

#[test]
fn every_processing_image_is_listed_with_its_job_type() {
    let bed = bed(false);
    let run = bed.csi(&["env", "processing-image", "sandbox"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("job type"), "{}", run.stdout);
    let types: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    // In the order of production's columns.
    assert_eq!(types, ["si", "test_job", "rliepart2", "gfsc", "sws_wds"]);
    assert!(
        lines[1].contains(SI)
            && lines[1]
                .ends_with("registry.sandbox.invalid/cosims/cosims/si_processing:git-4f2a91c7"),
        "{}",
        lines[1]
    );

    let run = bed.csi(&["env", "processing-image", "sandbox", "--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    let items: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(items.as_array().unwrap().len(), 5);
    assert_eq!(items[4]["job_type"], "sws_wds");
    assert_eq!(items[4]["parameter"], "docker_image_for_sws_wds_processing");
    assert_eq!(
        items[4]["image"],
        "registry.sandbox.invalid/cosims/cosims/sws_wds_processing:git-4f2a91c7"
    );
}

#[test]
fn an_image_is_set_in_one_write_with_history_and_journal() {
    let bed = bed(false);
    let before = bed.value(SI);
    let rows = bed.history_rows();

    let run = bed.csi(&["env", "processing-image", "sandbox", "si", NEW_SI, "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stdout
            .contains(&format!("si ({SI})  {before} -> {NEW_SI}")),
        "{}",
        run.stdout
    );
    assert_eq!(bed.value(SI), NEW_SI);
    assert_eq!(bed.history_rows(), rows + 1);
    let journal = bed.journal();
    assert!(journal.contains("\"processing-image\""), "{journal}");
    assert!(journal.contains(NEW_SI), "{journal}");
    assert!(journal.contains("\"outcome\":\"ok\""), "{journal}");

    // The same image again: nothing to write, no history row.
    let run = bed.csi(&[
        "env",
        "processing-image",
        "sandbox",
        "si_processing",
        NEW_SI,
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stderr.contains("nothing to do"), "{}", run.stderr);
    assert_eq!(bed.history_rows(), rows + 1);

    // A digest-pinned image, named by its parameter.
    let pinned = format!(
        "registry.sandbox.invalid/cosims/cosims/gfsc_processing@sha256:{}",
        "ab".repeat(32)
    );
    let run = bed.csi(&[
        "env",
        "processing-image",
        "sandbox",
        "docker_image_for_gfsc_processing",
        &pinned,
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(bed.value("docker_image_for_gfsc_processing"), pinned);
}

#[test]
fn invalid_references_are_refused_with_what_is_wrong_and_nothing_written() {
    let bed = bed(false);
    let rows = bed.history_rows();
    let cases = [
        (
            "registry.sandbox.invalid/cosims/si_processing",
            "neither a tag (`:tag`) nor a digest",
        ),
        (
            "registry.sandbox.invalid/Cosims/si_processing:git-1",
            "path component `Cosims` must be lowercase",
        ),
        (
            "registry.sandbox.invalid/cosims/si_processing:.git",
            "tag `.git` must start with",
        ),
        (
            "registry.sandbox.invalid/cosims/si_processing@sha256:1234",
            "64 lowercase hex digits",
        ),
        ("registry.sandbox.invalid:port/si:1", "registry port `port`"),
    ];
    for (image, needle) in cases {
        let run = bed.csi(&["env", "processing-image", "sandbox", "si", image, "--yes"]);
        assert_eq!(run.code, 2, "{image}: {}", run.all_output());
        let error_line = run.stderr.lines().next().unwrap();
        assert!(error_line.contains(needle), "{image}: {}", run.stderr);
        assert!(error_line.contains(&format!("`{image}`")), "{}", run.stderr);
        assert!(run.stderr.contains("hint: write it as"), "{}", run.stderr);
    }
    let run = bed.csi(&["env", "processing-image", "sandbox", "sws", NEW_SI, "--yes"]);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr.contains("unknown processing job type `sws`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("`sws_wds`"), "{}", run.stderr);
    assert_eq!(bed.history_rows(), rows);
    assert!(bed.journal().is_empty(), "{}", bed.journal());
}

#[test]
fn dry_runs_and_unconfirmed_changes_write_nothing() {
    let bed = bed(true);
    let before = bed.value(SI);
    let rows = bed.history_rows();

    let run = bed.csi(&[
        "env",
        "processing-image",
        "sandbox",
        "si",
        NEW_SI,
        "--dry-run",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stdout.contains(&format!("-> {NEW_SI}")),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("dry run"), "{}", run.stderr);

    // A protected environment without a terminal and without --yes.
    let run = bed.csi(&["env", "processing-image", "sandbox", "si", NEW_SI]);
    assert_eq!(run.code, 3, "{}", run.all_output());

    assert_eq!(bed.value(SI), before);
    assert_eq!(bed.history_rows(), rows);
}
