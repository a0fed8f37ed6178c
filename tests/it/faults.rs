//! Faults, collected: every fault csi guards against, one test each, against the real
//! binary and real components (tofu, PostgreSQL, borg, the Nomad double with injected
//! faults). Each test proves that nothing was lost (state, database, job files and
//! Nomad as they were, or consistent and journaled) and, where a secret is at stake,
//! that nothing leaked. `SCENARIOS` is the catalogue; the README's "Faults" table lists
//! every entry (checked below).

mod database;
mod jobs;
mod nomad;
mod restore;
mod services;
mod terraform;

/// Every fault, by the test that proves it (named after it); the comment above each says
/// what goes wrong and what csi does about it, as the README's Faults table does.
pub const SCENARIOS: &[&str] = &[
    // SIGTERM during terraform apply: signal forwarded once to terraform, which stops gracefully; journal `interrupted`; plan file deleted; lock released; exit 130; the next run says what the state holds
    "interrupted_apply_leaves_state_consistent_and_lock_released",
    // the state changes between plan and apply: terraform's stale-plan refusal reported, nothing applied, exit 4
    "stale_plan_is_refused_and_nothing_is_applied",
    // a second operator starts an operation on the same environment: the flock'ed lock names its holder; refused with exit 4; the holder's lock untouched
    "concurrent_operator_is_refused_while_the_lock_is_held",
    // secrets in the var file and the environment, a child process that fails quoting its input: secrets wrapped and redacted; children get them through files and the environment only
    "planted_secret_is_found_nowhere",
    // a dump cut in the middle of table data, or without its trailers: no COMMIT unless every COPY block ended, the trailers were seen and every byte borg listed was read; exit 1
    "truncated_archive_changes_nothing",
    // a statement of the dump fails: ON_ERROR_STOP inside the one transaction: rolled back, the dump's line named; exit 1
    "sql_error_in_dump_changes_nothing_and_names_the_line",
    // csi killed (SIGKILL) in the middle of a restore: no COMMIT was sent, PostgreSQL rolls back; the lock names the dead operation until `csi env unlock`
    "killed_restore_changes_nothing_and_its_lock_is_cleared_explicitly",
    // SIGTERM in the middle of a restore: borg and psql stopped, transaction rolled back, journal `interrupted`, exit 130
    "interrupted_restore_rolls_back_and_exits_130",
    // a restore fails after the services were stopped: the services that were running are restarted whatever happened
    "failed_restore_brings_the_services_back",
    // Nomad answers 500, or never answers, while csi stops the services before a restore: the restore does not begin; every service stopped so far, and the one whose stop failed, is brought back; exit 1
    "nomad_failing_while_stopping_services_restarts_those_stopped",
    // Nomad answers 5xx: idempotent calls retried with backoff; a register is never re-sent: reported, the job file put back; exit 1
    "nomad_5xx_is_retried_on_reads_and_never_on_register",
    // Nomad goes away while a rollout is watched: `cannot reach Nomad`, exit 1; the journal already says what was submitted
    "nomad_lost_mid_rollout_is_a_clear_error_and_journaled",
    // someone changes the job in Nomad between plan and register: register with EnforceIndex: refused, the other change kept, the file put back; exit 4
    "concurrent_nomad_change_is_never_overwritten",
    // the conflict comes back through a client agent or a non-leader server (`rpc error: ...`): Nomad's conflict texts recognised anywhere in the answer; exit 4, the other change kept
    "a_conflict_behind_an_rpc_error_prefix_exits_4",
    // tasks run until their kill_timeout after Nomad answered the stop: a whole restore-db (0.11.1 and 2.0.5) begins only once every stopped allocation is terminal, bounded by nomad.stop_timeout; past it a clear error, nothing restored, the services brought back
    "stopping_for_a_restore_waits_for_a_slow_stop",
    // the new image does not start: revert to the newest stable version, watched; the file restored byte for byte; exit 6
    "failed_deployment_is_reverted_in_nomad_and_in_the_file",
    // a job file that does not parse: refused with file and line before any file is written or anything is sent to Nomad; exit 2
    "corrupt_job_file_is_refused_and_nothing_is_submitted",
    // a walk the authorized transitions forbid: checked before anything is written; the job skipped with the reason (`--strict`: all refused, exit 4)
    "disallowed_job_transition_writes_nothing_for_that_job",
    // another session changes a job's status while csi walks the selection: the job's row locked and its status re-checked in the job's transaction: skipped with the reason
    "concurrent_job_modification_is_skipped_not_overwritten",
    // a schema patch with an error: rehearsed on a scratch copy first: `FILE:LINE: ERROR`, nothing applied, exit 4
    "failing_schema_patch_is_caught_at_rehearsal",
    // a patch that passes the rehearsal fails on the environment's data: one transaction with its ledger row: everything rolled back, exit 1
    "failing_schema_patch_on_the_environment_rolls_back",
    // a patch applied again, or edited after it was applied: the ledger (name and SHA-256) checked before the rehearsal and again under a lock; exit 4
    "patch_applied_twice_is_refused_and_runs_nothing",
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
        let path = format!("{}/tests/it/faults/{m}.rs", env!("CARGO_MANIFEST_DIR"));
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
            sources.contains(&format!("fn {}()", scenario)),
            "no test named {}",
            scenario
        );
        assert!(
            table.contains(&format!("`{}`", scenario)),
            "the README's Faults table does not list {}",
            scenario
        );
    }
    let tests = sources.matches("#[test]").count();
    assert_eq!(
        tests,
        SCENARIOS.len(),
        "a test without its scenario, or the reverse"
    );
}
