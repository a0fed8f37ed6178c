//! The cosims fixture (scripts/sandbox/cosims-*.sql) behaves like the
//! production database where csi relies on it, and the test helpers work.

mod support;

use std::collections::BTreeSet;

use support::borg::{TestBorgRepo, DUMP_ITEM};
use support::postgres::TestPostgres;

const DB: &str = "cosims";

fn cosims() -> TestPostgres {
    let pg = TestPostgres::start();
    pg.create_cosims_db(DB);
    pg
}

fn count(pg: &TestPostgres, sql: &str) -> i64 {
    pg.psql(DB, sql)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{sql}: not a count: {e}"))
}

/// The documented transitions; `None` = the first status of a job.
fn documented_transitions() -> BTreeSet<(Option<i16>, i16)> {
    let mut set = BTreeSet::new();
    let mut add = |from: Option<i16>, to: &[i16]| {
        for t in to {
            set.insert((from, *t));
        }
    };
    add(None, &[1, 5, 13, 16]);
    add(Some(1), &[2, 13, 14, 16]);
    add(Some(2), &[3, 13, 16]);
    add(Some(3), &[4, 13, 14, 16]);
    add(Some(4), &[5, 13]);
    for s in 5..=8 {
        add(Some(s), &[s + 1, 13, 14, 16]);
    }
    add(Some(9), &[10, 12, 13, 14, 16]);
    add(Some(10), &[11, 13, 14, 16]);
    add(Some(11), &[12]);
    add(Some(12), &[13, 14]);
    add(Some(13), &[13, 14, 15]);
    add(Some(14), &[5, 13, 14, 15]);
    add(Some(15), &(1..=16).collect::<Vec<_>>());
    add(Some(16), &[13]);
    set
}

#[test]
fn fixture_loads_with_statuses_transitions_and_live_history() {
    let pg = cosims();

    let statuses = pg.psql(
        DB,
        "SELECT id || ':' || name FROM cosims.job_status ORDER BY id",
    );
    assert_eq!(
        statuses.lines().collect::<Vec<_>>(),
        [
            "1:initialized",
            "2:configured",
            "3:ready",
            "4:queued",
            "5:started",
            "6:pre_processing",
            "7:processing",
            "8:post_processing",
            "9:processed",
            "10:start_publication",
            "11:published",
            "12:done",
            "13:internal_error",
            "14:external_error",
            "15:error_checked",
            "16:cancelled",
        ]
    );

    let rows = pg.psql(
        DB,
        "SELECT coalesce(from_status::text, ''), to_status FROM cosims.job_status_transitions",
    );
    let stored: BTreeSet<(Option<i16>, i16)> = rows
        .lines()
        .map(|l| {
            let (f, t) = l.split_once('|').expect("two columns");
            (
                if f.is_empty() {
                    None
                } else {
                    Some(f.parse().unwrap())
                },
                t.parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(stored, documented_transitions());

    // A few dozen jobs of each main type, in their type tables.
    for (job_type, table) in [
        ("fsc_rlie_job", "fsc_rlie_jobs"),
        ("rlies1_job", "rlies1_jobs"),
        ("rlies1s2_job", "rlies1s2_jobs"),
        ("sws_wds_job", "sws_wds_jobs"),
        ("gfsc_job", "gfsc_jobs"),
    ] {
        let n = count(
            &pg,
            &format!(
                "SELECT count(*) FROM cosims.{table} j JOIN cosims.parent_jobs p \
                 ON p.id = j.fk_parent_job_id WHERE p.name = '{job_type}' \
                 AND j.measurement_date IS NOT NULL"
            ),
        );
        assert!((20..=60).contains(&n), "{table}: {n} jobs");
    }

    // The trigger kept parent_jobs in line with the latest status change.
    assert_eq!(
        count(
            &pg,
            "SELECT count(*) FROM cosims.parent_jobs p \
             JOIN LATERAL (SELECT job_status, time FROM cosims.job_status_changes c \
                           WHERE c.fk_parent_job_id = p.id ORDER BY c.id DESC LIMIT 1) last ON true \
             WHERE p.last_status_id IS DISTINCT FROM last.job_status \
                OR p.last_status_change_date IS DISTINCT FROM last.time",
        ),
        0
    );
    assert_eq!(
        count(
            &pg,
            "SELECT count(*) FROM cosims.parent_jobs WHERE last_status_id IS NULL"
        ),
        0
    );

    // A live-looking mix: done, published, errors, repaired, stuck, recent.
    let has = |sql: &str| count(&pg, sql) > 0;
    assert!(has(
        "SELECT count(*) FROM cosims.parent_jobs WHERE last_status_id = 12"
    ));
    assert!(has(
        "SELECT count(*) FROM cosims.parent_jobs WHERE last_status_id = 11"
    ));
    assert!(has(
        "SELECT count(*) FROM cosims.parent_jobs WHERE last_status_id = 13 AND error_raised"
    ));
    assert!(has(
        "SELECT count(*) FROM cosims.parent_jobs WHERE last_status_id = 14 AND error_raised"
    ));
    assert!(has(
        "SELECT count(*) FROM cosims.parent_jobs \
         WHERE last_status_id = 7 AND last_status_change_date < now() - interval '1 day'"
    ));
    assert!(has(
        "SELECT count(*) FROM cosims.job_status_changes a JOIN cosims.job_status_changes b \
         ON b.fk_parent_job_id = a.fk_parent_job_id AND b.id > a.id \
         WHERE a.job_status = 15 AND b.job_status = 3"
    ));
    assert!(has(
        "SELECT count(*) FROM cosims.parent_jobs WHERE creation_date > now() - interval '1 hour'"
    ));
    assert_eq!(
        count(
            &pg,
            "SELECT count(*) FROM cosims.job_status_changes WHERE time > now()"
        ),
        0
    );
    assert!(has(
        "SELECT count(*) FROM cosims.fsc_rlie_jobs WHERE fsc_json_publication_date IS NOT NULL"
    ));

    // System parameters: one row, defaults from the reference, one history row.
    assert_eq!(
        pg.psql(
            DB,
            "SELECT max_number_of_worker_instances, max_number_of_vcpus, job_types_list, \
             job_creation_loop_sleep, rlies1s2_min_search_window_days, \
             rlies1s2_max_search_window_days, gfsc_daily_jobs_creation_start_date IS NULL, \
             activate_backward_reprocessing, max_ratio_of_vcpus_to_be_used \
             FROM cosims.system_parameters",
        ),
        r#"210|920|["fsc_rlie_job", "rlies1_job", "rlies1s2_job", "sws_wds_job", "gfsc_job"]|5|7|31|t|t|0.95"#
    );
    assert_eq!(
        count(&pg, "SELECT count(*) FROM cosims.system_parameters_history"),
        1
    );

    // Owned by the application role.
    assert_eq!(
        pg.psql(
            DB,
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'cosims'",
        ),
        "cosims_admin"
    );
}

#[test]
fn roles_file_is_idempotent() {
    let pg = cosims();
    let roles = support::postgres::sandbox_sql_dir().join("cosims-roles.sql");
    pg.psql_file("postgres", &roles);
    pg.psql_file("postgres", &roles);
    assert_eq!(
        pg.psql(
            "postgres",
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'cosims_admin'"
        ),
        "t"
    );
}

#[test]
fn unauthorized_transitions_are_rejected() {
    let pg = cosims();
    let job = pg.psql(
        DB,
        "SELECT id FROM cosims.parent_jobs WHERE last_status_id = 12 ORDER BY id LIMIT 1",
    );
    let changes_before = count(&pg, "SELECT count(*) FROM cosims.job_status_changes");

    let err = pg
        .try_psql(
            DB,
            &format!("INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status) VALUES ({job}, 3)"),
        )
        .expect_err("done -> ready must be rejected");
    assert!(
        err.contains(&format!(
            "unauthorized job status transition for job {job}: done (12) -> ready (3)"
        )),
        "{err}"
    );
    assert_eq!(
        pg.psql(
            DB,
            &format!("SELECT last_status_id FROM cosims.parent_jobs WHERE id = {job}")
        ),
        "12"
    );
    assert_eq!(
        count(&pg, "SELECT count(*) FROM cosims.job_status_changes"),
        changes_before
    );

    // A new job cannot start at "ready"; it can start at "initialized".
    let new_job = pg.psql(
        DB,
        "INSERT INTO cosims.parent_jobs (name, priority, tile_id) \
         VALUES ('fsc_rlie_job', 'nrt', '32TLR') RETURNING id",
    );
    let err = pg
        .try_psql(
            DB,
            &format!("INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status) VALUES ({new_job}, 3)"),
        )
        .expect_err("none -> ready must be rejected");
    assert!(err.contains("none -> ready (3)"), "{err}");
    pg.psql(
        DB,
        &format!("INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status) VALUES ({new_job}, 1)"),
    );

    // Unknown parent job.
    let err = pg
        .try_psql(
            DB,
            "INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status) VALUES (999999, 1)",
        )
        .expect_err("unknown job must be rejected");
    assert!(err.contains("unknown parent job 999999"), "{err}");

    // Exhaustively: the trigger accepts exactly the stored transitions.
    let allowed = documented_transitions();
    let mut sql = String::from(
        "CREATE TEMP TABLE verdicts (from_status smallint, to_status smallint, ok boolean);\n\
         DO $$ DECLARE f smallint; t smallint; j bigint; ok boolean; BEGIN\n\
           FOR f IN 1..16 LOOP FOR t IN 1..16 LOOP\n\
             INSERT INTO cosims.parent_jobs (name) VALUES ('test_job') RETURNING id INTO j;\n\
             INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status) VALUES (j, 16);\n\
             INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status) VALUES (j, 13);\n\
             INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status) VALUES (j, 15);\n\
             INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status) VALUES (j, f);\n\
             BEGIN\n\
               INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status) VALUES (j, t);\n\
               ok := true;\n\
             EXCEPTION WHEN check_violation THEN ok := false;\n\
             END;\n\
             INSERT INTO verdicts VALUES (f, t, ok);\n\
           END LOOP; END LOOP;\n\
         END $$;\n",
    );
    sql.push_str("SELECT from_status, to_status FROM verdicts WHERE ok ORDER BY 1, 2;");
    let accepted: BTreeSet<(Option<i16>, i16)> = pg
        .psql(DB, &sql)
        .lines()
        .map(|l| {
            let (f, t) = l.split_once('|').unwrap();
            (Some(f.parse().unwrap()), t.parse().unwrap())
        })
        .collect();
    let expected: BTreeSet<_> = allowed.into_iter().filter(|(f, _)| f.is_some()).collect();
    assert_eq!(accepted, expected);
}

#[test]
fn repair_path_is_accepted_and_parent_job_follows() {
    let pg = cosims();
    let job = pg.psql(
        DB,
        "SELECT id FROM cosims.parent_jobs WHERE last_status_id = 13 ORDER BY id LIMIT 1",
    );
    assert!(!job.is_empty(), "the seed has jobs in internal_error");

    pg.psql(
        DB,
        &format!("INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status) VALUES ({job}, 15)"),
    );
    assert_eq!(
        pg.psql(
            DB,
            &format!("SELECT last_status_id FROM cosims.parent_jobs WHERE id = {job}")
        ),
        "15"
    );
    pg.psql(
        DB,
        &format!(
            "INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status, time) \
             VALUES ({job}, 3, '2030-01-02 03:04:05+00')"
        ),
    );
    assert_eq!(
        pg.psql(
            DB,
            &format!(
                "SELECT last_status_id, last_status_change_date = '2030-01-02 03:04:05+00', error_raised \
                 FROM cosims.parent_jobs WHERE id = {job}"
            ),
        ),
        "3|t|t"
    );
    // And it can go on from "ready".
    pg.psql(
        DB,
        &format!("INSERT INTO cosims.job_status_changes (fk_parent_job_id, job_status) VALUES ({job}, 4)"),
    );
}

#[test]
fn system_parameters_changes_are_recorded_in_history() {
    let pg = cosims();
    let before = count(&pg, "SELECT count(*) FROM cosims.system_parameters_history");
    pg.psql(
        DB,
        "UPDATE cosims.system_parameters SET job_types_list = '[\"fsc_rlie_job\", \"rlies1_job\"]', \
         max_number_of_worker_instances = 100 WHERE id = 1",
    );
    assert_eq!(
        count(&pg, "SELECT count(*) FROM cosims.system_parameters_history"),
        before + 1
    );
    assert_eq!(
        pg.psql(
            DB,
            "SELECT job_types_list, max_number_of_worker_instances, max_number_of_vcpus, \
             history_date > now() - interval '1 minute' \
             FROM cosims.system_parameters_history ORDER BY id DESC LIMIT 1",
        ),
        r#"["fsc_rlie_job", "rlies1_job"]|100|920|t"#
    );
}

#[test]
fn system_parameters_has_a_single_row() {
    let pg = cosims();
    let err = pg
        .try_psql(DB, "INSERT INTO cosims.system_parameters (id) VALUES (2)")
        .expect_err("id 2 must be rejected");
    assert!(err.contains("system_parameters_single_row"), "{err}");
    let err = pg
        .try_psql(DB, "INSERT INTO cosims.system_parameters DEFAULT VALUES")
        .expect_err("a second id 1 must be rejected");
    assert!(err.contains("duplicate key"), "{err}");
    assert_eq!(
        count(&pg, "SELECT count(*) FROM cosims.system_parameters"),
        1
    );
    assert_eq!(
        count(&pg, "SELECT count(*) FROM cosims.system_parameters_history"),
        1
    );
}

#[test]
fn backdated_dump_archive_is_listed_with_its_timestamp() {
    let pg = cosims();
    let repo = TestBorgRepo::create();
    repo.add_dump_archive(&pg, "pgdump_2026-01-14T04:00:00", "2026-01-14T04:00:00");
    repo.add_dump_archive(&pg, "pgdump_2026-01-15T04:00:00", "2026-01-15T04:00:00");
    repo.add_archive_from_bytes("not-a-dump", "2026-01-10T12:00:00", b"hello\n");

    // Sorted by timestamp, not by creation order.
    assert_eq!(
        repo.list_names(),
        [
            "not-a-dump",
            "pgdump_2026-01-14T04:00:00",
            "pgdump_2026-01-15T04:00:00"
        ]
    );
    let json = repo.list_json();
    let archives = json["archives"].as_array().unwrap();
    let start_of = |name: &str| {
        archives
            .iter()
            .find(|a| a["name"] == name)
            .and_then(|a| a["start"].as_str())
            .unwrap_or_else(|| panic!("{name} not in {json}"))
            .to_string()
    };
    assert!(start_of("pgdump_2026-01-15T04:00:00").starts_with("2026-01-15T04:00:00"));
    assert!(start_of("not-a-dump").starts_with("2026-01-10T12:00:00"));
    assert_eq!(json["encryption"]["mode"], "none");

    let dump =
        String::from_utf8(repo.extract_stdout("pgdump_2026-01-15T04:00:00", DUMP_ITEM)).unwrap();
    assert!(dump.contains("CREATE ROLE cosims_admin;"));
    assert!(dump.contains("CREATE SCHEMA cosims;"));
    assert!(dump.contains("COPY cosims.job_status_changes"));
    assert!(dump
        .trim_end()
        .ends_with("PostgreSQL database cluster dump complete\n--"));
    assert_eq!(repo.extract_stdout("not-a-dump", DUMP_ITEM), b"hello\n");

    // Nothing outside the temporary directory.
    assert!(repo.home().join("security").exists() || repo.home().join("config").exists());
}
