//! `csi env db-patch` against real PostgreSQL clusters (the environment's, a scratch
//! server or a throwaway local cluster) and a real borg repository: rehearsal, safety
//! backup, one transaction, the ledger, and the refusals that change nothing.

use crate::support;

use support::db_patch_bed::{Bed, Options, BAD, GOOD, SCRATCH_SERVER};

#[test]
fn create_index_concurrently_is_detected_before_anything_runs() {
    let bed = Bed::new(SCRATCH_SERVER);
    let before = bed.schema();
    let file = bed.patch(
        "003_index.sql",
        "-- the services look jobs up by tile\n\n\
         CREATE INDEX CONCURRENTLY parent_jobs_tile_idx\n    ON cosims.parent_jobs (tile_id);\n",
    );
    let run = bed.db_patch(&file, &["--yes", "--no-safety-backup"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains(&format!(
            "{}:3: CREATE INDEX CONCURRENTLY cannot run inside a transaction block",
            file.display()
        )),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--no-transaction"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("rehearsal:"),
        "nothing may run: {}",
        run.stderr
    );
    assert_eq!(bed.schema(), before);
    assert!(!bed.ledger_exists());

    let run = bed.db_patch(&file, &["--yes", "--no-safety-backup", "--no-transaction"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stderr.contains("rehearsal passed"), "{}", run.stderr);
    assert_eq!(
        bed.sql("select indisvalid from pg_index where indexrelid = 'cosims.parent_jobs_tile_idx'::regclass"),
        "t"
    );
    assert_eq!(
        bed.sql("select transactional from csi.csi_patch_ledger where file_name = '003_index.sql'"),
        "f"
    );

    // A patch that commits by itself would break the one transaction: refused too.
    let file = bed.patch(
        "004_own_transaction.sql",
        "begin;\nalter table cosims.parent_jobs add column x int;\ncommit;\n",
    );
    let run = bed.db_patch(&file, &["--yes", "--no-safety-backup"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("004_own_transaction.sql:1: the patch controls its own transaction"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_throwaway_local_cluster_rehearses_and_is_removed() {
    let bed = Bed::new(Options {
        scratch_server: false,
        borg: false,
        protected: false,
    });
    let before = bed.schema();
    let bad = bed.patch("001_bad.sql", BAD);
    let run = bed.db_patch(&bad, &["--yes", "--no-safety-backup"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("rehearsal: starting a throwaway PostgreSQL cluster"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("001_bad.sql:5: ERROR"),
        "{}",
        run.stderr
    );
    assert_eq!(bed.schema(), before);
    assert_eq!(bed.tmp_left(), Vec::<String>::new(), "left in TMPDIR");

    let good = bed.patch("002_notes.sql", GOOD);
    let run = bed.db_patch(&good, &["--yes", "--no-safety-backup"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(bed.sql("select count(*) from csi.csi_patch_ledger"), "1");
    assert_eq!(bed.tmp_left(), Vec::<String>::new(), "left in TMPDIR");
}

/// Production runs PostgreSQL 12; a rehearsal on another major proves less, and says so.
#[test]
fn a_rehearsal_on_another_major_than_the_server_is_flagged() {
    let bed = Bed::new(Options {
        scratch_server: false,
        borg: false,
        protected: false,
    });
    let good = bed.patch("002_notes.sql", GOOD);
    let file = good.to_str().unwrap();
    let args = ["env", "db-patch", "sandbox", file, "--dry-run"];
    let same = bed.env.csi(&args);
    assert_eq!(same.code, 0, "{}", same.all_output());
    assert!(
        !same.stderr.contains("the rehearsal runs on PostgreSQL"),
        "{}",
        same.stderr
    );
    // Debian's own server (bootstrap installs it): another major than the test server's 12.
    let (major, bindir) = std::fs::read_dir("/usr/lib/postgresql")
        .expect("Debian's PostgreSQL server is installed (scripts/bootstrap.sh)")
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.path().join("bin"),
            )
        })
        .find(|(major, bin)| major != "12" && bin.join("initdb").is_file())
        .expect("a PostgreSQL server other than 12 in /usr/lib/postgresql");
    let other = bed
        .env
        .csi_with(&args, &[("CSI_PG_BINDIR", bindir.to_str().unwrap())]);
    assert_eq!(other.code, 0, "{}", other.all_output());
    assert!(
        other.stderr.contains(&format!(
            "the rehearsal runs on PostgreSQL {major}, the server on 12"
        )),
        "{}",
        other.stderr
    );
    assert_eq!(
        bed.sql("select count(*) from pg_namespace where nspname = 'csi'"),
        "0"
    );
}

#[test]
fn a_protected_environment_refuses_to_skip_the_rehearsal_or_the_backup() {
    let bed = Bed::new(Options {
        scratch_server: false,
        borg: false,
        protected: true,
    });
    let file = bed.patch("002_notes.sql", GOOD);
    for flag in ["--skip-rehearsal", "--no-safety-backup"] {
        let run = bed.db_patch(&file, &["--yes", flag]);
        assert_eq!(run.code, 4, "{}", run.all_output());
        assert!(run.stderr.contains("is protected"), "{}", run.stderr);
    }
    assert!(!bed.ledger_exists());
}

#[test]
fn an_unprotected_environment_may_skip_the_rehearsal() {
    let bed = Bed::new(SCRATCH_SERVER);
    let file = bed.patch("002_notes.sql", GOOD);
    let run = bed.db_patch(&file, &["--yes", "--no-safety-backup", "--skip-rehearsal"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stderr.contains("the patch was not rehearsed"),
        "{}",
        run.stderr
    );
    assert_eq!(bed.sql("select rehearsed from csi.csi_patch_ledger"), "f");
}

#[test]
fn the_environments_own_server_is_no_scratch_server() {
    let bed = Bed::new(SCRATCH_SERVER);
    let config = std::fs::read_to_string(&bed.env.config).unwrap();
    let scratch_url = bed.scratch.as_ref().unwrap().url("postgres");
    std::fs::write(
        &bed.env.config,
        config.replace(&scratch_url, &bed.pg.url("postgres")),
    )
    .unwrap();
    let file = bed.patch("002_notes.sql", GOOD);
    let run = bed.db_patch(&file, &["--yes", "--no-safety-backup"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("the scratch server is the environment's own server"),
        "{}",
        run.stderr
    );
    assert!(!bed.ledger_exists());
}
