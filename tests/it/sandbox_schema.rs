//! The sandbox's cosims schema (scripts/sandbox/cosims-*.sql) is the real
//! system's: the same catalog as production's init_database.sql (written down in
//! tests/fixtures/real_catalog.txt), the same status transitions, the single
//! system_parameters row, the PostgREST roles; all in database `postgres` of a
//! PostgreSQL 12 server. The seed is shaped like production.

use crate::support;

use std::collections::BTreeSet;

use support::borg::{TestBorgRepo, DUMP_ITEM};
use support::postgres::{repo_root, TestPostgres, COSIMS_DB as DB};

fn cosims() -> TestPostgres {
    let pg = TestPostgres::start();
    pg.load_cosims();
    pg
}

fn count(pg: &TestPostgres, sql: &str) -> i64 {
    pg.psql(DB, sql)
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{sql}: not a count: {e}"))
}

fn fixture(name: &str) -> String {
    let path = repo_root().join("tests").join("fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_test_server_is_production_major() {
    let pg = TestPostgres::start();
    let version = pg.psql(DB, "show server_version_num");
    assert!(version.starts_with("12"), "server_version_num {version}");
}

#[test]
fn the_catalog_is_the_real_one() {
    let pg = TestPostgres::start();
    pg.load_cosims_schema();
    let live: BTreeSet<String> = pg
        .psql(DB, &fixture("catalog.sql"))
        .lines()
        .map(str::to_owned)
        .collect();
    let real: BTreeSet<String> = fixture("real_catalog.txt")
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(real.len() > 600, "{} facts in the fixture", real.len());
    let missing: Vec<&String> = real.difference(&live).collect();
    let extra: Vec<&String> = live.difference(&real).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the sandbox schema drifted from the real one\n--- missing ---\n{}\n--- not in production ---\n{}",
        missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"),
        extra.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"),
    );
    // Spot checks of what csi relies on, in words.
    assert!(real.contains("table parent_jobs last_status_change_date timestamp without time zone"));
    assert!(
        real.contains("table rlies1s2_jobs measurement_date_rlies1s2 timestamp without time zone")
    );
    assert!(real.contains("table gfsc_jobs product_date timestamp without time zone"));
    assert!(real.contains("table parent_jobs last_status_id smallint"));
    assert!(real.contains("extension uuid-ossp"));
}

/// Production's trigger: from the last status change (0 = none yet) to these.
const TRANSITIONS: &str = "0|1,5,13,16
1|2,13,14,16
2|3,13,16
3|4,13,14,16
4|5,13
5|6,13,14,16
6|7,13,14,16
7|8,13,14,16
8|9,13,14,16
9|10,12,13,14,16
10|11,13,14,16
11|12
12|13,14
13|13,14,15
14|5,13,14,15
15|1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16
16|13";

#[test]
fn the_trigger_authorizes_exactly_productions_transitions() {
    let pg = TestPostgres::start();
    pg.load_cosims_schema();
    // Every (from, to): a job is brought to `from` through error_checked (which
    // allows anything), then `to` is tried; each attempt is rolled back.
    let out = pg.psql(
        DB,
        "create temp table tried (f int, t int, ok boolean);
         do $$
         declare f int; t int; j bigint; ok boolean; seen text[] := '{}';
         begin
           for f in 0..16 loop for t in 1..16 loop
             begin
               insert into cosims.parent_jobs (name, tile_id, next_log_level)
               values ('probe', '32TLR', 20) returning id into j;
               if f > 0 then
                 insert into cosims.job_status_changes (fk_parent_job_id, job_status)
                 values (j, 13), (j, 15), (j, f);
               end if;
               begin
                 insert into cosims.job_status_changes (fk_parent_job_id, job_status) values (j, t);
                 ok := true;
               exception when raise_exception then ok := false;
               end;
               seen := seen || format('%s,%s,%s', f, t, ok);
               raise exception 'undo';
             exception when raise_exception then
               if sqlerrm <> 'undo' then raise; end if;
             end;
           end loop; end loop;
           insert into tried select split_part(x, ',', 1)::int, split_part(x, ',', 2)::int,
                                    split_part(x, ',', 3)::boolean from unnest(seen) x;
         end $$;
         select f || '|' || string_agg(t::text, ',' order by t) from tried where ok group by f order by f;",
    );
    assert_eq!(out, TRANSITIONS);
    assert_eq!(count(&pg, "select count(*) from cosims.parent_jobs"), 0);

    // The refusal is production's message, and the parent job follows accepted changes.
    pg.psql(
        DB,
        "insert into cosims.parent_jobs (id, name, tile_id, next_log_level) values (1000, 'job_1000', '32TLR', 20);
         insert into cosims.job_status_changes (fk_parent_job_id, job_status, error_subtype)
         values (1000, 1, null), (1000, 13, 'processing_error');",
    );
    let err = pg
        .try_psql(
            DB,
            "insert into cosims.job_status_changes (fk_parent_job_id, job_status) values (1000, 3)",
        )
        .unwrap_err();
    assert!(
        err.contains("Error : invalid job status transition 13 to 3!"),
        "{err}"
    );
    assert_eq!(
        pg.psql(
            DB,
            "select last_status_id || ' ' || error_raised || ' ' || last_status_error_subtype || ' ' || \
             (last_status_change_id = (select max(id) from cosims.job_status_changes)) \
             from cosims.parent_jobs where id = 1000"
        ),
        "13 true processing_error true"
    );
}

#[test]
fn system_parameters_is_one_row_with_an_uncalled_sequence_and_a_history() {
    let pg = TestPostgres::start();
    pg.load_cosims_schema();
    assert_eq!(
        pg.psql(
            DB,
            "select id || ' ' || job_types_list from cosims.system_parameters"
        ),
        r#"1 ["fsc_rlie_job", "rlies1_job", "rlies1s2_job", "sws_wds_job", "gfsc_job"]"#
    );
    // Inserted with an explicit id: the sequence was never called, as in production.
    assert_eq!(
        pg.psql(
            DB,
            "select last_value || ' ' || is_called from cosims.system_parameters_id_seq"
        ),
        "1 false"
    );
    assert_eq!(
        pg.psql(
            DB,
            "select history_id || ' ' || id from cosims.system_parameters_history"
        ),
        "1 1"
    );
    pg.psql(
        DB,
        "update cosims.system_parameters set max_number_of_vcpus = 700",
    );
    assert_eq!(
        pg.psql(
            DB,
            "select string_agg(max_number_of_vcpus::text, ',' order by history_id) from cosims.system_parameters_history"
        ),
        "920,700"
    );
    let err = pg
        .try_psql(DB, "insert into cosims.system_parameters (id) values (2)")
        .unwrap_err();
    assert!(err.contains("onerow_uni"), "{err}");
    // The sequence's first value is 1, taken: a second row cannot come from it.
    let err = pg
        .try_psql(DB, "insert into cosims.system_parameters default values")
        .unwrap_err();
    assert!(err.contains("duplicate key"), "{err}");
    assert_eq!(
        count(&pg, "select count(*) from cosims.system_parameters"),
        1
    );
}

#[test]
fn the_postgrest_roles_exist_and_the_roles_file_runs_twice() {
    let pg = TestPostgres::start();
    pg.load_cosims_schema();
    pg.psql_file(
        DB,
        &support::postgres::sandbox_sql_dir().join("cosims-roles.sql"),
    );
    assert_eq!(
        pg.psql(
            DB,
            "select string_agg(rolname || ':' || rolcanlogin || ':' || rolinherit || ':' || (rolpassword is not null), ' ' order by rolname) \
             from pg_authid where rolname in ('web_anonymous', 'authenticator')"
        ),
        "authenticator:true:false:true web_anonymous:false:true:false"
    );
    assert_eq!(
        pg.psql(
            DB,
            "select pg_has_role('authenticator', 'web_anonymous', 'member')"
        ),
        "t"
    );
    assert_eq!(
        pg.psql(
            DB,
            "select has_table_privilege('web_anonymous', 'cosims.parent_jobs', 'insert')"
        ),
        "t"
    );
}

#[test]
fn the_seed_is_shaped_like_production() {
    let pg = cosims();
    // Every job type has jobs, each parent in exactly one type's table.
    let per_type = pg.psql(
        DB,
        "select string_agg(t || ':' || (n > 0), ' ' order by t) from ( \
           select 'fsc_rlie' t, count(*) n from cosims.fsc_rlie_jobs union all \
           select 'rlies1', count(*) from cosims.rlies1_jobs union all \
           select 'rlies1s2', count(*) from cosims.rlies1s2_jobs union all \
           select 'sws_wds', count(*) from cosims.sws_wds_jobs union all \
           select 'gfsc', count(*) from cosims.gfsc_jobs union all \
           select 'psa_arlie', count(*) from cosims.psa_arlie_jobs union all \
           select 'test', count(*) from cosims.test_jobs union all \
           select 'other', count(*) from cosims.other_jobs) x",
    );
    assert_eq!(
        per_type,
        "fsc_rlie:true gfsc:true other:true psa_arlie:true rlies1:true rlies1s2:true sws_wds:true test:true"
    );
    assert_eq!(
        count(
            &pg,
            "select count(*) from cosims.parent_jobs p where ( \
               (select count(*) from cosims.fsc_rlie_jobs t where t.fk_parent_job_id = p.id) + \
               (select count(*) from cosims.rlies1_jobs t where t.fk_parent_job_id = p.id) + \
               (select count(*) from cosims.rlies1s2_jobs t where t.fk_parent_job_id = p.id) + \
               (select count(*) from cosims.sws_wds_jobs t where t.fk_parent_job_id = p.id) + \
               (select count(*) from cosims.gfsc_jobs t where t.fk_parent_job_id = p.id) + \
               (select count(*) from cosims.psa_arlie_jobs t where t.fk_parent_job_id = p.id) + \
               (select count(*) from cosims.test_jobs t where t.fk_parent_job_id = p.id) + \
               (select count(*) from cosims.other_jobs t where t.fk_parent_job_id = p.id)) <> 1"
        ),
        0
    );
    // Names are the jobs' own (job_<id>), not their type.
    assert_eq!(
        count(
            &pg,
            "select count(*) from cosims.parent_jobs p join cosims.fsc_rlie_jobs t on t.fk_parent_job_id = p.id \
             where p.name <> 'job_' || p.id"
        ),
        0
    );
    // NRT and backward jobs; statuses in error, done, in progress; parents in step.
    assert!(
        count(
            &pg,
            "select count(*) from cosims.fsc_rlie_jobs where nrt and maja_mode = 'nominal'"
        ) > 10
    );
    assert!(
        count(
            &pg,
            "select count(*) from cosims.fsc_rlie_jobs where maja_mode = 'backward'"
        ) > 0
    );
    assert!(
        count(
            &pg,
            "select count(*) from cosims.parent_jobs where last_status_id in (13, 14)"
        ) > 5
    );
    assert!(
        count(
            &pg,
            "select count(*) from cosims.parent_jobs where last_status_id = 12"
        ) > 50
    );
    assert_eq!(
        count(&pg, "select count(*) from cosims.jobs_satus_unsync_jobs()"),
        0
    );
    // The parameters were changed like production's: the history has every version.
    assert_eq!(
        count(&pg, "select count(*) from cosims.system_parameters_history"),
        2
    );
}

#[test]
fn a_nightly_archive_is_pg_dumpall_piped_into_borg() {
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
    assert_eq!(json["encryption"]["mode"], "none");

    let dump =
        String::from_utf8(repo.extract_stdout("pgdump_2026-01-15T04:00:00", DUMP_ITEM)).unwrap();
    // The globals carry the PostgREST roles, the password as a hash only.
    assert!(
        dump.contains("CREATE ROLE authenticator;"),
        "{}",
        &dump[..2000.min(dump.len())]
    );
    assert!(dump.contains("CREATE ROLE web_anonymous;"));
    assert!(!dump.contains("sandbox-authenticator"));
    assert!(dump.contains("-- Dumped from database version 12."));
    assert!(dump.contains("\\connect postgres"));
    assert!(dump.contains("CREATE SCHEMA cosims;"));
    assert!(dump.contains("CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\""));
    assert!(dump.contains("COPY cosims.job_status_changes"));
    assert!(dump.contains("SELECT pg_catalog.setval('cosims.system_parameters_id_seq', 1, false);"));
    assert!(dump
        .trim_end()
        .ends_with("PostgreSQL database cluster dump complete\n--"));
}
