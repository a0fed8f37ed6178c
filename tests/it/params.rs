//! `csi env params`: values typed by the catalog of a real cosims schema, both
//! spellings of job_types_list, the history read back, and confirmations.

use crate::support;

use support::csi::{Run, TestEnv};
use support::postgres::TestPostgres;
use support::pty::answer_prompt;

struct Bed {
    env: TestEnv,
    pg: TestPostgres,
}

fn config(port: u16, protected: bool) -> String {
    support::csi::database_config(port, protected, "")
}

fn bed(protected: bool) -> Bed {
    let pg = TestPostgres::start();
    pg.load_cosims();
    let env = TestEnv::new(&config(pg.port(), protected));
    Bed { env, pg }
}

impl Bed {
    fn csi(&self, args: &[&str]) -> Run {
        self.env.csi(args)
    }

    fn value(&self, column: &str) -> String {
        self.pg.psql(
            "postgres",
            &format!("SELECT coalesce({column}::text, 'NULL') FROM cosims.system_parameters"),
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
}

fn refused_with(run: &Run, code: i32, needle: &str) {
    assert_eq!(run.code, code, "{}", run.all_output());
    assert!(
        run.stderr.contains(needle),
        "expected `{needle}` in:\n{}",
        run.stderr
    );
}

#[test]
fn values_that_do_not_parse_as_the_column_type_are_refused_before_any_write() {
    let bed = bed(false);
    let before = bed.history_rows();
    let cases = [
        ("max_number_of_vcpus", "40000", "expected smallint"),
        ("max_number_of_vcpus", "12.5", "expected smallint"),
        (
            "max_ratio_of_vcpus_to_be_used",
            "ninety",
            "expected double precision",
        ),
        (
            "activate_backward_reprocessing",
            "maybe",
            "expected boolean",
        ),
        (
            "rlies1s2_earliest_date",
            "2024-13-01",
            "expected timestamp without time zone",
        ),
        (
            "rlies1s2_earliest_date",
            "2024-03-01T10:00:00+02:00",
            "has no time zone",
        ),
        ("ssp_aux_version", "", "ok"),
    ];
    for (name, value, needle) in cases {
        if needle == "ok" {
            continue;
        }
        // A valid pair first: nothing at all may be written.
        let run = bed.csi(&[
            "env",
            "params",
            "sandbox",
            "set",
            "max_number_of_worker_instances",
            "100",
            name,
            value,
            "--yes",
        ]);
        refused_with(&run, 2, needle);
        assert!(run.stderr.contains(&format!("`{name}`")), "{}", run.stderr);
    }
    let unknown = bed.csi(&[
        "env",
        "params",
        "sandbox",
        "set",
        "max_number_of_vcpu",
        "900",
        "--yes",
    ]);
    refused_with(&unknown, 2, "unknown parameter `max_number_of_vcpu`");
    assert!(
        unknown.stderr.contains("`max_number_of_vcpus`"),
        "{}",
        unknown.stderr
    );
    assert_eq!(bed.history_rows(), before, "a refused set wrote something");
    assert_eq!(bed.value("max_number_of_worker_instances"), "210");

    let run = bed.csi(&[
        "env",
        "params",
        "sandbox",
        "set",
        "max_number_of_vcpus",
        "-5",
        "max_ratio_of_vcpus_to_be_used",
        "0.9",
        "activate_backward_reprocessing",
        "off",
        "rlies1s2_earliest_date",
        "2022-01-01",
        "gfsc_daily_jobs_creation_start_date",
        "2024-03-07 06:30",
        "ssp_aux_version",
        "V20240101",
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stdout.contains("max_number_of_vcpus"), "{}", run.stdout);
    assert!(run.stdout.contains("920 -> -5"), "{}", run.stdout);
    assert!(
        run.stdout.contains("null -> 2024-03-07 06:30:00"),
        "{}",
        run.stdout
    );
    assert_eq!(
        bed.history_rows(),
        before + 1,
        "one transaction, one history row"
    );
    for (name, expected) in [
        ("max_number_of_vcpus", "-5"),
        ("max_ratio_of_vcpus_to_be_used", "0.9"),
        ("activate_backward_reprocessing", "false"),
        ("rlies1s2_earliest_date", "2022-01-01 00:00:00"),
        ("ssp_aux_version", "V20240101"),
    ] {
        let got = bed.csi(&["env", "params", "sandbox", "get", name]);
        assert_eq!(got.code, 0, "{}", got.all_output());
        assert_eq!(got.stdout.trim(), expected, "{name}");
    }
    // null clears a nullable column.
    let run = bed.csi(&[
        "env",
        "params",
        "sandbox",
        "set",
        "gfsc_daily_jobs_creation_start_date",
        "NULL",
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(bed.value("gfsc_daily_jobs_creation_start_date"), "NULL");

    let history = bed.csi(&["env", "history", "sandbox", "--steps", "--output", "json"]);
    let entries: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let sets: Vec<_> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "params-set" && e["event"] == "finished")
        .collect();
    assert_eq!(sets.len(), 2);
    assert!(sets.iter().all(|e| e["outcome"] == "ok"));
}

#[test]
fn job_types_list_round_trips_in_both_spellings() {
    let bed = bed(false);
    // The row holds JSON: a Python-style value (with the runbook's quotes) is stored as JSON.
    let run = bed.csi(&[
        "env",
        "params",
        "sandbox",
        "set",
        "job_types_list",
        "\"['fsc_rlie_job', 'rlies1_job']\"",
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(
        bed.value("job_types_list"),
        r#"["fsc_rlie_job", "rlies1_job"]"#
    );

    // The row holds Python style: a JSON value is stored Python-style.
    bed.pg.psql(
        "postgres",
        "UPDATE cosims.system_parameters SET job_types_list = '[''fsc_rlie_job'',''gfsc_job'']'",
    );
    let run = bed.csi(&[
        "env",
        "params",
        "sandbox",
        "set",
        "job_types_list",
        r#"["fsc_rlie_job", "rlies1_job", "gfsc_job"]"#,
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(
        bed.value("job_types_list"),
        "['fsc_rlie_job','rlies1_job','gfsc_job']"
    );

    // The same types in the other spelling: nothing to write.
    let before = bed.history_rows();
    let run = bed.csi(&[
        "env",
        "params",
        "sandbox",
        "set",
        "job_types_list",
        r#"["fsc_rlie_job", "rlies1_job", "gfsc_job"]"#,
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stdout.contains("(unchanged)"), "{}", run.stdout);
    assert_eq!(bed.history_rows(), before);

    // Job types come from the schema's job tables.
    let run = bed.csi(&[
        "env",
        "params",
        "sandbox",
        "set",
        "job_types_list",
        "['fsc_rlie_jobs']",
        "--yes",
    ]);
    refused_with(&run, 2, "unknown job type `fsc_rlie_jobs`");
    assert!(run.stderr.contains("`fsc_rlie_job`"), "{}", run.stderr);
    let run = bed.csi(&[
        "env",
        "params",
        "sandbox",
        "set",
        "job_types_list",
        "[fsc_rlie_job]",
        "--yes",
    ]);
    refused_with(&run, 2, "invalid value for job_types_list");
    assert_eq!(
        bed.value("job_types_list"),
        "['fsc_rlie_job','rlies1_job','gfsc_job']"
    );
}

#[test]
fn history_says_which_parameter_changed_from_what_to_what_and_when() {
    let bed = bed(false);
    for value in ["900", "800"] {
        let run = bed.csi(&[
            "env",
            "params",
            "sandbox",
            "set",
            "max_number_of_vcpus",
            value,
            "--yes",
        ]);
        assert_eq!(run.code, 0, "{}", run.all_output());
    }
    let run = bed.csi(&[
        "env",
        "params",
        "sandbox",
        "set",
        "ssp_aux_version",
        "V2",
        "--yes",
    ]);
    assert_eq!(run.code, 0, "{}", run.all_output());

    let one = bed.csi(&["env", "params", "sandbox", "history", "max_number_of_vcpus"]);
    assert_eq!(one.code, 0, "{}", one.all_output());
    let lines: Vec<&str> = one.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", one.stdout);
    assert!(
        lines[0].ends_with("max_number_of_vcpus  920 (first recorded value)"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with("max_number_of_vcpus  920 -> 900"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].ends_with("max_number_of_vcpus  900 -> 800"),
        "{}",
        lines[2]
    );

    let all = bed.csi(&["env", "params", "sandbox", "history", "--output", "json"]);
    let changes: serde_json::Value = serde_json::from_str(&all.stdout).unwrap();
    let changes = changes.as_array().unwrap();
    // The seed's own update (images, endpoint, package tag) comes first.
    assert!(changes.len() > 3, "{changes:#?}");
    assert!(changes[..changes.len() - 3]
        .iter()
        .all(|c| c["name"] != "max_number_of_vcpus" && c["name"] != "ssp_aux_version"));
    let changes = &changes[changes.len() - 3..];
    assert_eq!(changes[2]["name"], "ssp_aux_version");
    assert_eq!(changes[2]["old"], "V20211119");
    assert_eq!(changes[2]["new"], "V2");
    assert!(changes[2]["time"].as_str().unwrap().starts_with("20"));

    let last = bed.csi(&["env", "params", "sandbox", "history", "--limit", "1"]);
    assert_eq!(last.stdout.lines().count(), 1, "{}", last.stdout);
    let unknown = bed.csi(&["env", "params", "sandbox", "history", "ssp_aux"]);
    refused_with(&unknown, 2, "unknown parameter `ssp_aux`");
}

#[test]
fn list_and_dry_run_show_without_writing() {
    let bed = bed(false);
    let list = bed.csi(&["env", "params", "sandbox", "list"]);
    assert_eq!(list.code, 0, "{}", list.all_output());
    assert!(
        list.stdout
            .lines()
            .any(|l| l.starts_with("max_number_of_vcpus")
                && l.contains("smallint")
                && l.ends_with("920")),
        "{}",
        list.stdout
    );
    assert!(
        !list.stdout.lines().any(|l| l.starts_with("id ")),
        "{}",
        list.stdout
    );
    let before = bed.history_rows();
    let dry = bed.csi(&[
        "env",
        "params",
        "sandbox",
        "set",
        "max_number_of_vcpus",
        "1",
        "--dry-run",
    ]);
    assert_eq!(dry.code, 0, "{}", dry.all_output());
    assert!(dry.stdout.contains("920 -> 1"), "{}", dry.stdout);
    assert_eq!(bed.history_rows(), before);
    let odd = bed.csi(&[
        "env",
        "params",
        "sandbox",
        "set",
        "max_number_of_vcpus",
        "1",
        "ssp_aux_version",
    ]);
    refused_with(&odd, 2, "NAME VALUE pairs");
}

const SET_VCPUS_TO_900: [&str; 6] = [
    "env",
    "params",
    "sandbox",
    "set",
    "max_number_of_vcpus",
    "900",
];

#[test]
fn a_protected_environment_wants_its_name_typed_and_refuses_without_a_terminal() {
    let bed = bed(true);
    let before = bed.history_rows();
    let run = bed.csi(&SET_VCPUS_TO_900);
    refused_with(&run, 3, "no terminal");
    assert_eq!(bed.value("max_number_of_vcpus"), "920");
    assert_eq!(bed.history_rows(), before);

    let wrong = answer_prompt(
        &bed.env,
        &SET_VCPUS_TO_900,
        "type its name",
        "prod\n",
        || {},
    );
    assert_eq!(wrong.code, 3, "{}", wrong.stdout);
    assert_eq!(bed.value("max_number_of_vcpus"), "920");

    let typed = answer_prompt(
        &bed.env,
        &SET_VCPUS_TO_900,
        "type its name",
        "sandbox\n",
        || {},
    );
    assert_eq!(typed.code, 0, "{}", typed.stdout);
    assert_eq!(bed.value("max_number_of_vcpus"), "900");
}
