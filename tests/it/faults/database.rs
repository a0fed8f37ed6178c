//! Faults of the database: schema patches that fail, or are applied twice.

use crate::support::db_patch_bed::{sha256, Bed, Options, BAD, GOOD, SCRATCH_SERVER};

/// Fault: a schema patch with an error (a column that does not exist).
/// Guard: the patch is rehearsed first on a scratch copy of the environment's roles and
/// schema, exactly as it will run; an error is `FILE:LINE: ERROR`, nothing applied.
/// Proof: exit 4 naming the file, line and statement; the environment's schema
/// (pg_dump --schema-only) identical; no ledger; no rehearsal database left on the
/// scratch server; a dry run fails the same way.
#[test]
fn failing_schema_patch_is_caught_at_rehearsal() {
    let bed = Bed::new(SCRATCH_SERVER);
    let before = bed.schema();
    let file = bed.patch("001_bad.sql", BAD);

    let run = bed.db_patch(&file, &["--yes", "--no-safety-backup"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains(&format!(
            "the rehearsal failed, nothing was applied: {}:5: ERROR: column \"missing_column\" does not exist",
            file.display()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: fix statement 2 of the patch"),
        "{}",
        run.stderr
    );
    assert_eq!(bed.schema(), before, "the environment's schema changed");
    assert!(!bed.ledger_exists());
    assert_eq!(
        bed.rehearsal_databases_left(),
        "",
        "scratch database left behind"
    );

    // A dry run rehearses too, and fails the same way.
    let run = bed.env.csi(&[
        "env",
        "db-patch",
        "sandbox",
        file.to_str().unwrap(),
        "--dry-run",
    ]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert_eq!(bed.schema(), before);
}

/// Fault: a patch applied a second time, then the same file edited after it was applied.
/// Guard: the ledger (file name and SHA-256 of the bytes), checked before the
/// rehearsal and again under a lock inside the apply transaction.
/// Proof: the first application is in the ledger (checksum, safety archive, version);
/// the second run is refused (exit 4, "already applied"), the edited file refused
/// loudly with its checksum; afterwards the schema is identical to after the first
/// run, the ledger holds one row, and no second safety archive was made.
#[test]
fn patch_applied_twice_is_refused_and_runs_nothing() {
    let bed = Bed::new(Options {
        scratch_server: true,
        borg: true,
        protected: false,
    });
    let file = bed.patch("002_notes.sql", GOOD);

    let run = bed.db_patch(&file, &["--yes"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stderr.contains("rehearsal passed: 3 statements"),
        "{}",
        run.stderr
    );
    assert_eq!(bed.sql("select cosims.note_of(1) is null"), "t");
    assert_eq!(
        bed.sql(
            "select col_description(attrelid, attnum) from pg_attribute \
             where attrelid = 'cosims.parent_jobs'::regclass and attname = 'note'"
        ),
        "free text; set by operators"
    );
    assert_eq!(bed.rehearsal_databases_left(), "");
    let archives = bed.borg.as_ref().unwrap().list_names();
    let safety: Vec<&String> = archives
        .iter()
        .filter(|a| a.starts_with("pre-patch-"))
        .collect();
    assert_eq!(safety.len(), 1, "{archives:?}");

    let ledger = bed.sql(
        "select file_name || '|' || checksum || '|' || transactional || '|' || rehearsed || '|' || \
         coalesce(safety_archive, '') || '|' || csi_version from csi.csi_patch_ledger",
    );
    assert_eq!(
        ledger,
        format!(
            "002_notes.sql|{}|true|true|{}|{}",
            sha256(&file),
            safety[0],
            env!("CARGO_PKG_VERSION")
        )
    );
    let after_first = bed.schema();

    // The same patch again: refused, nothing runs.
    let run = bed.db_patch(&file, &["--yes"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("patch 002_notes.sql was already applied at"),
        "{}",
        run.stderr
    );

    // The ledger, as text and JSON.
    let run = bed.env.csi(&["env", "db-patch", "sandbox", "--list"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stdout.contains("002_notes.sql"), "{}", run.stdout);
    let run = bed
        .env
        .csi(&["env", "db-patch", "sandbox", "--list", "--output", "json"]);
    let entries: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 1);
    assert_eq!(entries[0]["file_name"], "002_notes.sql");
    assert_eq!(entries[0]["transactional"], true);

    // Edited after it was applied: refused loudly, nothing runs.
    std::fs::write(
        &file,
        format!("{GOOD}create index on cosims.parent_jobs (note);\n"),
    )
    .unwrap();
    let run = bed.db_patch(&file, &["--yes"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("REFUSED: a DIFFERENT file named 002_notes.sql was applied at"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&sha256(&file)), "{}", run.stderr);
    assert_eq!(bed.schema(), after_first);
    assert_eq!(bed.sql("select count(*) from csi.csi_patch_ledger"), "1");
    let safety_archives = bed
        .borg
        .as_ref()
        .unwrap()
        .list_names()
        .iter()
        .filter(|a| a.starts_with("pre-patch-"))
        .count();
    assert_eq!(safety_archives, 1, "a refused patch made a safety backup");

    // Journaled with its steps.
    let history = bed.env.csi(&["env", "history", "sandbox", "--steps"]);
    for step in ["rehearsed", "safety_backup", "applied", "verified"] {
        assert!(history.stdout.contains(step), "{}", history.stdout);
    }
}

/// Fault: a patch that passes the rehearsal (empty scratch copy) fails on the
/// environment's rows.
/// Guard: the patch and its ledger row run in one transaction; a failure rolls all of
/// it back. With `--no-transaction` the operator is told which statements stay.
/// Proof: exit 1 naming the file and line; the schema identical (the first statement
/// rolled back too); no ledger; with `--no-transaction`, exactly the first statement
/// stays and the message says so.
#[test]
fn failing_schema_patch_on_the_environment_rolls_back() {
    let bed = Bed::new(SCRATCH_SERVER);
    let before = bed.schema();
    // Passes on the empty scratch copy, fails on the environment's rows.
    let sql = "alter table cosims.parent_jobs add column checked boolean;\n\
               alter table cosims.parent_jobs add constraint no_bad_tile check (tile_id <> 'BAD');\n";
    let file = bed.patch("005_check.sql", sql);
    let run = bed.db_patch(&file, &["--yes", "--no-safety-backup"]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(run.stderr.contains("rehearsal passed"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "the patch failed and was rolled back, nothing was changed: {}:2: ERROR: check constraint \"no_bad_tile\"",
            file.display()
        )),
        "{}",
        run.stderr
    );
    assert_eq!(
        bed.schema(),
        before,
        "the first statement was not rolled back"
    );
    assert!(!bed.ledger_exists());

    // Without a transaction the first statement stays, and the operator is told so.
    let run = bed.db_patch(&file, &["--yes", "--no-safety-backup", "--no-transaction"]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(
        run.stderr.contains("statements 1-1 were applied and stay applied (--no-transaction), and the ledger was not written"),
        "{}",
        run.stderr
    );
    assert_eq!(
        bed.sql("select count(*) from information_schema.columns where table_name = 'parent_jobs' and column_name = 'checked'"),
        "1"
    );
    assert!(!bed.ledger_exists());
}
