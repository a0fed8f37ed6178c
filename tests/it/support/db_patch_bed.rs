//! The `csi env db-patch` test bed: the environment's cluster with the cosims schema,
//! optionally a scratch server, a borg repository, a protected environment; and two
//! sample patches, one good, one failing.

use std::path::{Path, PathBuf};

use super::borg::TestBorgRepo;
use super::csi::{set_mode, Run, TestEnv};
use super::postgres::TestPostgres;

pub const DB: &str = "postgres";

pub struct Bed {
    pub env: TestEnv,
    pub pg: TestPostgres,
    pub scratch: Option<TestPostgres>,
    pub borg: Option<TestBorgRepo>,
    pub patches: PathBuf,
    pub tmp: PathBuf,
}

#[derive(Clone, Copy)]
pub struct Options {
    pub scratch_server: bool,
    pub borg: bool,
    pub protected: bool,
}

pub const SCRATCH_SERVER: Options = Options {
    scratch_server: true,
    borg: false,
    protected: false,
};

impl Bed {
    pub fn new(options: Options) -> Bed {
        let pg = TestPostgres::start();
        pg.load_cosims_schema();
        pg.psql(
            DB,
            "insert into cosims.parent_jobs (name, tile_id, next_log_level) values ('job_1', '32TLR', 20), ('job_2', 'BAD', 20)",
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

    pub fn patch(&self, name: &str, sql: &str) -> PathBuf {
        let path = self.patches.join(name);
        std::fs::write(&path, sql).unwrap();
        path
    }

    pub fn db_patch(&self, file: &Path, extra: &[&str]) -> Run {
        let mut args = vec!["env", "db-patch", "sandbox", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.env.csi(&args)
    }

    pub fn sql(&self, sql: &str) -> String {
        self.pg.psql(DB, sql)
    }

    /// The environment database's schema, without pg_dump's per-run `\restrict` keys.
    pub fn schema(&self) -> String {
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

    pub fn ledger_exists(&self) -> bool {
        self.sql("select to_regclass('csi.csi_patch_ledger') is not null") == "t"
    }

    pub fn rehearsal_databases_left(&self) -> String {
        self.scratch.as_ref().unwrap().psql(
            "postgres",
            "select string_agg(datname, ',') from pg_database where datname like 'csi_rehearsal_%'",
        )
    }

    pub fn tmp_left(&self) -> Vec<String> {
        std::fs::read_dir(&self.tmp)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

pub fn sha256(path: &Path) -> String {
    let output = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap()[..64].to_owned()
}

pub const BAD: &str = "-- add a note column, then fill it\n\
alter table cosims.parent_jobs add column note text;\n\
\n\
update cosims.parent_jobs\n   set note = missing_column;\n";

pub const GOOD: &str = "-- operator notes on jobs\n\
alter table cosims.parent_jobs add column note text;\n\
comment on column cosims.parent_jobs.note is 'free text; set by operators';\n\
create function cosims.note_of(p_id bigint) returns text\n\
    language plpgsql stable\n\
as $fn$\n\
begin\n\
    return (select note from cosims.parent_jobs where id = p_id);\n\
end;\n\
$fn$;\n";
