//! `--tables`: carrying chosen tables (rows and sequences) into a new installation
//! whose schema is of a newer version.

use crate::restore_bed;
use crate::support;

use restore_bed::Bed;
use support::postgres::sandbox_sql_dir;

/// The seeded database archived, then replaced by a fresh installation of the schema
/// (the reference rows only) with one more column in `parent_jobs`.
fn new_installation() -> (Bed, String, String) {
    let bed = Bed::new();
    let counts = bed.psql(
        "select (select count(*) from cosims.parent_jobs) || ' ' || (select count(*) from cosims.job_status_changes) || ' ' || \
                (select max(id) from cosims.parent_jobs) || ' ' || (select max(id) from cosims.job_status_changes)",
    );
    let content =
        bed.psql("select md5(string_agg(p::text, ',' order by id)) from cosims.parent_jobs p");
    bed.nightly("2026-11-20T04:00:00");
    bed.psql("DROP SCHEMA cosims CASCADE");
    bed.pg
        .psql_file("postgres", &sandbox_sql_dir().join("cosims-schema.sql"));
    bed.psql("ALTER TABLE cosims.parent_jobs ADD COLUMN site text NOT NULL DEFAULT 'eu'");
    (bed, counts, content)
}

#[test]
fn two_tables_and_their_sequences_go_into_a_schema_with_an_extra_column() {
    let (bed, counts, _) = new_installation();
    let untouched = bed.psql("select count(*) from cosims.log_levels");
    let run = bed.restore(
        "latest",
        &[
            "--tables",
            "parent_jobs,job_status_changes",
            "--no-safety-backup",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    let after = bed.psql(
        "select (select count(*) from cosims.parent_jobs) || ' ' || (select count(*) from cosims.job_status_changes) || ' ' || \
                (select max(id) from cosims.parent_jobs) || ' ' || (select max(id) from cosims.job_status_changes)",
    );
    assert_eq!(after, counts);
    // The new column got its default; new ids continue after the restored ones.
    assert_eq!(
        bed.psql("select count(*) from cosims.parent_jobs where site <> 'eu'"),
        "0"
    );
    let max_parent: i64 = counts.split(' ').nth(2).unwrap().parse().unwrap();
    let max_change: i64 = counts.split(' ').nth(3).unwrap().parse().unwrap();
    assert_eq!(
        bed.psql("select nextval('cosims.parent_jobs_id_seq')"),
        (max_parent + 1).to_string()
    );
    assert_eq!(
        bed.psql("select nextval('cosims.job_status_changes_id_seq')"),
        (max_change + 1).to_string()
    );
    // Other tables are as the new installation has them.
    assert_eq!(
        bed.psql("select count(*) from cosims.log_levels"),
        untouched
    );
    assert_eq!(bed.psql("select count(*) from cosims.gfsc_jobs"), "0");
}

#[test]
fn a_dump_column_the_table_lacks_is_refused_by_name_unless_ignored() {
    let (bed, _, _) = new_installation();
    bed.psql("ALTER TABLE cosims.parent_jobs DROP COLUMN si_processing_image");
    bed.psql("INSERT INTO cosims.parent_jobs (name, tile_id, next_log_level) VALUES ('seed', 'T32TLR', 20)");
    let run = bed.restore("latest", &["--tables", "parent_jobs", "--no-safety-backup"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains("`si_processing_image`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--ignore-missing-columns"),
        "{}",
        run.stderr
    );
    bed.wait_for_no_restore_session();
    assert_eq!(
        bed.psql("select string_agg(name, ',') from cosims.parent_jobs"),
        "seed"
    );

    let run = bed.restore(
        "latest",
        &[
            "--tables",
            "parent_jobs",
            "--ignore-missing-columns",
            "--no-safety-backup",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stderr.contains("si_processing_image"), "{}", run.stderr);
    assert_eq!(
        bed.psql("select count(*) > 100 from cosims.parent_jobs"),
        "t"
    );
}

#[test]
fn rows_that_would_reference_nothing_are_refused() {
    let (bed, _, _) = new_installation();
    // job_status_changes alone: its parents are not restored, the check refuses.
    let run = bed.restore(
        "latest",
        &["--tables", "job_status_changes", "--no-safety-backup"],
    );
    assert_eq!(run.code, 5, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("reference rows of cosims.parent_jobs that do not exist"),
        "{}",
        run.stderr
    );
    bed.wait_for_no_restore_session();
    assert_eq!(
        bed.psql("select count(*) from cosims.job_status_changes"),
        "0"
    );
}

#[test]
fn an_unknown_table_is_named() {
    let (bed, _, _) = new_installation();
    let run = bed.restore(
        "latest",
        &[
            "--tables",
            "parent_jobs,no_such_table",
            "--no-safety-backup",
        ],
    );
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains("cosims.no_such_table"),
        "{}",
        run.stderr
    );
}
