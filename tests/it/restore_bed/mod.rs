//! The test bed of the restore and backup tests: a real PostgreSQL cluster with the
//! cosims-like database, a real borg repository, and csi configured for both.

use std::path::Path;

use crate::support::borg::{TestBorgRepo, DUMP_ITEM};
use crate::support::csi::{Run, TestEnv};
use crate::support::postgres::TestPostgres;

pub const ENV: &str = "sandbox";

pub struct Bed {
    pub env: TestEnv,
    pub pg: TestPostgres,
    pub borg: TestBorgRepo,
}

/// The environment's configuration: the cluster, the repository, Nomad at `nomad`
/// (a closed port unless a test starts the Nomad double), `extra` at the top level.
pub fn config(pg_port: u16, borg_repo: &Path, nomad: &str, protected: bool, extra: &str) -> String {
    format!(
        r#"{extra}
environment "{ENV}" {{
  protected = {protected}
  terraform {{
    dir                    = "/nonexistent"
    configuration_var_file = "c.tfvars"
    secrets_var_file       = "s.tfvars"
  }}
  nomad {{
    address = "{nomad}"
  }}
  database {{
    host = "127.0.0.1"
    port = {pg_port}
    user = "postgres"
    name = "postgres"
  }}
  borg {{
    repository = "{repo}"
  }}
}}
"#,
        repo = borg_repo.display()
    )
}

impl Bed {
    /// A cluster with the seeded cosims database and an empty repository.
    pub fn new() -> Bed {
        let pg = TestPostgres::start();
        pg.load_cosims();
        let borg = TestBorgRepo::create();
        let mut env = TestEnv::new(&config(
            pg.port(),
            borg.path(),
            "http://127.0.0.1:9",
            false,
            "",
        ));
        for (key, value) in borg.env() {
            env.set_env(key, value.to_str().unwrap());
        }
        env.set_env("TZ", "UTC");
        Bed { env, pg, borg }
    }

    pub fn set_config(&self, text: &str) {
        std::fs::write(&self.env.config, text).unwrap();
    }

    pub fn csi(&self, args: &[&str]) -> Run {
        self.env.csi(args)
    }

    /// `csi env restore-db sandbox --archive A --yes --keep-services` plus `extra`.
    pub fn restore(&self, archive: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "env",
            "restore-db",
            ENV,
            "--archive",
            archive,
            "--yes",
            "--keep-services",
        ];
        args.extend_from_slice(extra);
        self.csi(&args)
    }

    /// A nightly-style archive of the cluster as it is now, backdated to `timestamp`.
    pub fn nightly(&self, timestamp: &str) -> String {
        let name = format!("pgdump_{timestamp}");
        self.borg.add_dump_archive(&self.pg, &name, timestamp);
        name
    }

    /// An archive holding `bytes` as its dump.
    pub fn archive_of(&self, name: &str, timestamp: &str, bytes: &[u8]) {
        self.borg.add_archive_from_bytes(name, timestamp, bytes);
    }

    pub fn archives(&self) -> Vec<String> {
        self.borg.list_names()
    }

    pub fn dump_of(&self, archive: &str) -> Vec<u8> {
        self.borg.extract_stdout(archive, DUMP_ITEM)
    }

    pub fn psql(&self, sql: &str) -> String {
        self.pg.psql("postgres", sql)
    }

    /// Every table's row count and content checksum, every sequence's value, and the
    /// schema's objects (tables, indexes, constraints, triggers).
    pub fn snapshot(&self) -> String {
        snapshot(&self.pg, "postgres")
    }

    /// Waits until no csi session (psql) is left on the cluster, so that a transaction
    /// that was abandoned has been rolled back before the database is inspected.
    pub fn wait_for_no_restore_session(&self) {
        let started = std::time::Instant::now();
        loop {
            let left = self.pg.psql(
                "postgres",
                "select count(*) from pg_stat_activity where application_name = 'csi'",
            );
            if left == "0" {
                return;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "a csi session is still connected"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

pub fn snapshot(pg: &TestPostgres, db: &str) -> String {
    pg.psql(
        db,
        r#"
select 'table ' || format('%I.%I', schemaname, tablename) || ' ' ||
       (xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I.%I', schemaname, tablename), false, true, '')))[1]::text || ' ' ||
       (xpath('/row/m/text()', query_to_xml(format('select md5(coalesce(string_agg(x::text, E''\n'' order by x::text), '''')) as m from %I.%I x', schemaname, tablename), false, true, '')))[1]::text
from pg_tables where schemaname = 'cosims'
union all
select 'sequence ' || format('%I.%I', schemaname, sequencename) || ' ' || coalesce(last_value::text, 'unused')
from pg_sequences where schemaname = 'cosims'
union all
select 'object ' || c.relname || ' ' || c.relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'cosims'
union all
select 'constraint ' || conname || ' ' || contype::text from pg_constraint c join pg_namespace n on n.oid = c.connamespace where n.nspname = 'cosims'
union all
select 'trigger ' || t.tgname from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'cosims' and not t.tgisinternal
order by 1
"#,
    )
}

/// The last operation's `finished` entry in the journal.
pub fn last_outcome(bed: &Bed) -> serde_json::Value {
    let history = bed.csi(&["env", "history", ENV, "--output", "json", "--steps"]);
    let entries: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    entries.as_array().unwrap().last().cloned().unwrap()
}

/// The steps the journal recorded for the last operation.
pub fn last_steps(bed: &Bed) -> Vec<String> {
    let history = bed.csi(&[
        "env", "history", ENV, "--output", "json", "--steps", "--limit", "1",
    ]);
    let entries: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    entries
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["step"].as_str().map(str::to_owned))
        .collect()
}

/// `text` with `needle` replaced once (panics when absent).
pub fn replace_once(text: &[u8], needle: &str, with: &str) -> Vec<u8> {
    let text = String::from_utf8(text.to_vec()).unwrap();
    assert!(text.contains(needle), "{needle:?} not in the dump");
    text.replacen(needle, with, 1).into_bytes()
}

/// A bed with a good nightly archive, then a database changed since.
pub fn changed_bed() -> (Bed, Vec<u8>, String) {
    let bed = Bed::new();
    let nightly = bed.nightly("2026-11-20T04:00:00");
    let dump = bed.dump_of(&nightly);
    bed.psql(
        "INSERT INTO cosims.parent_jobs (name, tile_id, next_log_level) VALUES ('job_a', 'T32TLR', 20);
         DELETE FROM cosims.gfsc_jobs WHERE id > 20;",
    );
    let before = bed.snapshot();
    (bed, dump, before)
}

pub fn line_of(dump: &[u8], needle: &str) -> usize {
    String::from_utf8_lossy(dump)
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the dump"))
        + 1
}

/// An archive whose restore pauses in the middle (psql sleeps inside the transaction).
pub fn slow_archive(bed: &Bed, dump: &[u8]) {
    let slow = replace_once(dump, "\n\\.\n", "\n\\.\n\nSELECT pg_sleep(3);\n");
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &slow);
}
