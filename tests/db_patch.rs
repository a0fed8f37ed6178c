//! `csi env db-patch` against real PostgreSQL clusters (the environment's, a scratch
//! server or a throwaway local cluster) and a real borg repository: rehearsal, safety
//! backup, one transaction, the ledger, and the refusals that change nothing.

mod support;

use std::path::{Path, PathBuf};

use support::borg::TestBorgRepo;
use support::csi::{set_mode, Run, TestEnv};
use support::postgres::{sandbox_sql_dir, TestPostgres, COSIMS_OWNER};

const DB: &str = "cosims";

struct Bed {
    env: TestEnv,
    pg: TestPostgres,
    scratch: Option<TestPostgres>,
    borg: Option<TestBorgRepo>,
    patches: PathBuf,
    tmp: PathBuf,
}

#[derive(Clone, Copy)]
struct Options {
    scratch_server: bool,
    borg: bool,
    protected: bool,
}

const SCRATCH_SERVER: Options = Options {
    scratch_server: true,
    borg: false,
    protected: false,
};

impl Bed {
    fn new(options: Options) -> Bed {
        let pg = TestPostgres::start();
        let dir = sandbox_sql_dir();
        pg.psql_file("postgres", &dir.join("cosims-roles.sql"));
        pg.create_database(DB, Some(COSIMS_OWNER));
        pg.psql_file(DB, &dir.join("cosims-schema.sql"));
        pg.psql(
            DB,
            "insert into cosims.parent_jobs (name, tile_id) values ('fsc_rlie_job', '32TLR'), ('gfsc_job', 'BAD')",
        );
        let scratch = options.scratch_server.then(TestPostgres::start);
        let borg = options.borg.then(TestBorgRepo::create);
        let scratch_line = scratch
            .as_ref()
            .map(|s| format!("    scratch_database = \"{}\"\n", s.url("postgres")))
            .unwrap_or_default();
        let config = format!(
            r#"
environment "sandbox" {{
  protected = {protected}
  terraform {{
    dir                    = "/nonexistent"
    configuration_var_file = "c.tfvars"
    secrets_var_file       = "s.tfvars"
  }}
  nomad {{
    address = "http://127.0.0.1:9"
  }}
  database {{
    host = "127.0.0.1"
    port = {port}
    user = "postgres"
    name = "{DB}"
{scratch_line}  }}
  borg {{
    repository = "{repo}"
  }}
}}
"#,
            protected = options.protected,
            port = pg.port(),
            repo = borg
                .as_ref()
                .map_or_else(|| "/nonexistent".into(), |b| b.path().display().to_string()),
        );
        let mut env = TestEnv::new(&config);
        if let Some(borg) = &borg {
            for (key, value) in borg.env() {
                env.set_env(key, value.to_str().unwrap());
            }
        }
        // A private TMPDIR that the postgres OS user can traverse: a throwaway cluster
        // is made there, so the test sees whether it was removed.
        let tmp = env.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        set_mode(env.path(), 0o711);
        set_mode(&tmp, 0o711);
        env.set_env("TMPDIR", tmp.to_str().unwrap());
        let patches = env.path().join("patch");
        std::fs::create_dir_all(&patches).unwrap();
        Bed {
            env,
            pg,
            scratch,
            borg,
            patches,
            tmp,
        }
    }

    fn patch(&self, name: &str, sql: &str) -> PathBuf {
        let path = self.patches.join(name);
        std::fs::write(&path, sql).unwrap();
        path
    }

    fn db_patch(&self, file: &Path, extra: &[&str]) -> Run {
        let mut args = vec!["env", "db-patch", "sandbox", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.env.csi(&args)
    }

    fn sql(&self, sql: &str) -> String {
        self.pg.psql(DB, sql)
    }

    /// The environment database's schema, without pg_dump's per-run `\restrict` keys.
    fn schema(&self) -> String {
        let output = self
            .pg
            .client_command("pg_dump")
            .args(["--schema-only", "-d", DB])
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn ledger_exists(&self) -> bool {
        self.sql("select to_regclass('csi.csi_patch_ledger') is not null") == "t"
    }

    fn rehearsal_databases_left(&self) -> String {
        self.scratch.as_ref().unwrap().psql(
            "postgres",
            "select string_agg(datname, ',') from pg_database where datname like 'csi_rehearsal_%'",
        )
    }

    fn tmp_left(&self) -> Vec<String> {
        std::fs::read_dir(&self.tmp)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

fn sha256(path: &Path) -> String {
    let output = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap()[..64].to_owned()
}

const BAD: &str = "-- add a note column, then fill it\n\
alter table cosims.parent_jobs add column note text;\n\
\n\
update cosims.parent_jobs\n   set note = missing_column;\n";

const GOOD: &str = "-- operator notes on jobs\n\
alter table cosims.parent_jobs add column note text;\n\
comment on column cosims.parent_jobs.note is 'free text; set by operators';\n\
create function cosims.note_of(p_id bigint) returns text\n\
    language plpgsql stable\n\
as $fn$\n\
begin\n\
    return (select note from cosims.parent_jobs where id = p_id);\n\
end;\n\
$fn$;\n";

#[test]
fn a_patch_with_an_error_fails_at_rehearsal_and_the_environment_is_untouched() {
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

#[test]
fn a_good_patch_applies_once_and_a_changed_file_under_its_name_is_refused() {
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

    // Journaled with its steps.
    let history = bed.env.csi(&["env", "history", "sandbox", "--steps"]);
    for step in ["rehearsed", "safety_backup", "applied", "verified"] {
        assert!(history.stdout.contains(step), "{}", history.stdout);
    }
}

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
fn a_failure_on_the_environment_rolls_the_whole_patch_back() {
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
