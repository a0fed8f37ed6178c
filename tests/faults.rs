//! Faults, collected: every fault csi guards against, one test each, against the real
//! binary and real components (tofu, PostgreSQL, borg, the Nomad double with injected
//! faults). Each test proves that nothing was lost (state, database, job files and
//! Nomad as they were, or consistent and journaled) and, where a secret is at stake,
//! that nothing leaked. `SCENARIOS` is the catalogue; the README's "Faults" table lists
//! every entry (checked below).

mod restore_bed;
mod support;

#[path = "faults/database.rs"]
mod database;
#[path = "faults/jobs.rs"]
mod jobs;
#[path = "faults/nomad.rs"]
mod nomad;
#[path = "faults/restore.rs"]
mod restore;
#[path = "faults/services.rs"]
mod services;
#[path = "faults/terraform.rs"]
mod terraform;

/// One fault: the test that proves it (named after it), what goes wrong, and what csi
/// does about it.
pub struct Scenario {
    pub test: &'static str,
    pub fault: &'static str,
    pub guard: &'static str,
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        test: "interrupted_apply_leaves_state_consistent_and_lock_released",
        fault: "SIGTERM during terraform apply",
        guard: "signal forwarded once to terraform, which stops gracefully; journal `interrupted`; plan file deleted; lock released; exit 130; the next run says what the state holds",
    },
    Scenario {
        test: "stale_plan_is_refused_and_nothing_is_applied",
        fault: "the state changes between plan and apply",
        guard: "terraform's stale-plan refusal reported, nothing applied, exit 4",
    },
    Scenario {
        test: "concurrent_operator_is_refused_while_the_lock_is_held",
        fault: "a second operator starts an operation on the same environment",
        guard: "the flock'ed lock names its holder; refused with exit 4; the holder's lock untouched",
    },
    Scenario {
        test: "planted_secret_is_found_nowhere",
        fault: "secrets in the var file and the environment, a child process that fails quoting its input",
        guard: "secrets wrapped and redacted; children get them through files and the environment only",
    },
    Scenario {
        test: "truncated_archive_changes_nothing",
        fault: "a dump cut in the middle of table data, or without its trailers",
        guard: "no COMMIT unless every COPY block ended, the trailers were seen and every byte borg listed was read; exit 1",
    },
    Scenario {
        test: "sql_error_in_dump_changes_nothing_and_names_the_line",
        fault: "a statement of the dump fails",
        guard: "ON_ERROR_STOP inside the one transaction: rolled back, the dump's line named; exit 1",
    },
    Scenario {
        test: "killed_restore_changes_nothing_and_its_lock_is_cleared_explicitly",
        fault: "csi killed (SIGKILL) in the middle of a restore",
        guard: "no COMMIT was sent, PostgreSQL rolls back; the lock names the dead operation until `csi env unlock`",
    },
    Scenario {
        test: "interrupted_restore_rolls_back_and_exits_130",
        fault: "SIGTERM in the middle of a restore",
        guard: "borg and psql stopped, transaction rolled back, journal `interrupted`, exit 130",
    },
    Scenario {
        test: "failed_restore_brings_the_services_back",
        fault: "a restore fails after the services were stopped",
        guard: "the services that were running are restarted whatever happened",
    },
    Scenario {
        test: "nomad_failing_while_stopping_services_restarts_those_stopped",
        fault: "Nomad answers 500, or never answers, while csi stops the services before a restore",
        guard: "the restore does not begin; every service stopped so far, and the one whose stop failed, is brought back; exit 1",
    },
    Scenario {
        test: "nomad_5xx_is_retried_on_reads_and_never_on_register",
        fault: "Nomad answers 5xx",
        guard: "idempotent calls retried with backoff; a register is never re-sent: reported, the job file put back; exit 1",
    },
    Scenario {
        test: "nomad_lost_mid_rollout_is_a_clear_error_and_journaled",
        fault: "Nomad goes away while a rollout is watched",
        guard: "`cannot reach Nomad`, exit 1; the journal already says what was submitted",
    },
    Scenario {
        test: "concurrent_nomad_change_is_never_overwritten",
        fault: "someone changes the job in Nomad between plan and register",
        guard: "register with EnforceIndex: refused, the other change kept, the file put back; exit 4",
    },
    Scenario {
        test: "a_conflict_behind_an_rpc_error_prefix_exits_4",
        fault: "the conflict comes back through a client agent or a non-leader server (`rpc error: ...`)",
        guard: "Nomad's conflict texts recognised anywhere in the answer; exit 4, the other change kept",
    },
    Scenario {
        test: "stopping_for_a_restore_waits_for_a_slow_stop",
        fault: "tasks run until their kill_timeout after Nomad answered the stop",
        guard: "the stop waits until every stopped allocation is terminal, bounded by nomad.stop_timeout; past it a clear error and the services brought back",
    },
    Scenario {
        test: "failed_deployment_is_reverted_in_nomad_and_in_the_file",
        fault: "the new image does not start",
        guard: "revert to the newest stable version, watched; the file restored byte for byte; exit 6",
    },
    Scenario {
        test: "corrupt_job_file_is_refused_and_nothing_is_submitted",
        fault: "a job file that does not parse",
        guard: "refused with file and line before any file is written or anything is sent to Nomad; exit 2",
    },
    Scenario {
        test: "disallowed_job_transition_writes_nothing_for_that_job",
        fault: "a walk the authorized transitions forbid",
        guard: "checked before anything is written; the job skipped with the reason (`--strict`: all refused, exit 4)",
    },
    Scenario {
        test: "concurrent_job_modification_is_skipped_not_overwritten",
        fault: "another session changes a job's status while csi walks the selection",
        guard: "the job's row locked and its status re-checked in the job's transaction: skipped with the reason",
    },
    Scenario {
        test: "failing_schema_patch_is_caught_at_rehearsal",
        fault: "a schema patch with an error",
        guard: "rehearsed on a scratch copy first: `FILE:LINE: ERROR`, nothing applied, exit 4",
    },
    Scenario {
        test: "failing_schema_patch_on_the_environment_rolls_back",
        fault: "a patch that passes the rehearsal fails on the environment's data",
        guard: "one transaction with its ledger row: everything rolled back, exit 1",
    },
    Scenario {
        test: "patch_applied_twice_is_refused_and_runs_nothing",
        fault: "a patch applied again, or edited after it was applied",
        guard: "the ledger (name and SHA-256) checked before the rehearsal and again under a lock; exit 4",
    },
];

#[test]
fn every_scenario_has_its_test_and_a_row_in_the_readme_faults_table() {
    let sources: String = [
        "database",
        "jobs",
        "nomad",
        "restore",
        "services",
        "terraform",
    ]
    .iter()
    .map(|m| {
        let path = format!("{}/tests/faults/{m}.rs", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    })
    .collect();
    let readme =
        std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let table = readme
        .split("\n## ")
        .find(|section| section.starts_with("Faults"))
        .expect("README.md has no \"## Faults\" section");
    for scenario in SCENARIOS {
        assert!(
            sources.contains(&format!("fn {}()", scenario.test)),
            "no test named {}",
            scenario.test
        );
        assert!(
            table.contains(&format!("`{}`", scenario.test)),
            "the README's Faults table does not list {}",
            scenario.test
        );
    }
    let tests = sources.matches("#[test]").count();
    assert_eq!(
        tests,
        SCENARIOS.len(),
        "a test without its scenario, or the reverse"
    );
}
