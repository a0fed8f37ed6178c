//! The `csi env jobs` test bed: the cosims schema with its transition trigger (no seed:
//! counts stay exact) and an environment pointing at it, without pauses.

use super::csi::{Run, TestEnv};
use super::postgres::{sandbox_sql_dir, TestPostgres, COSIMS_OWNER};

pub const DB: &str = "cosims";

pub struct Bed {
    pub env: TestEnv,
    pub pg: TestPostgres,
}

impl Bed {
    pub fn csi(&self, args: &[&str]) -> Run {
        self.env.csi(args)
    }

    pub fn sql(&self, sql: &str) -> String {
        self.pg.psql(DB, sql)
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.sql(sql).trim().parse().unwrap()
    }

    /// `fsc_rlie_job`s with a tile and a measurement date, each walked to `statuses`.
    /// Returns the ids, in order.
    pub fn jobs(&self, n: usize, tile: &str, measured: &str, statuses: &[i16]) -> Vec<i64> {
        let ids = self.sql(&format!(
            "with p as (insert into cosims.parent_jobs (name, tile_id) \
               select 'fsc_rlie_job', '{tile}' from generate_series(1, {n}) returning id) \
             insert into cosims.fsc_rlie_jobs (fk_parent_job_id, tile_id, measurement_date) \
               select id, '{tile}', timestamptz '{measured}' from p returning fk_parent_job_id"
        ));
        let ids: Vec<i64> = ids.lines().map(|l| l.trim().parse().unwrap()).collect();
        let (first, last) = (ids[0], ids[ids.len() - 1]);
        for status in statuses {
            self.sql(&format!(
                "insert into cosims.job_status_changes (fk_parent_job_id, job_status) \
                 select id, {status} from cosims.parent_jobs where id between {first} and {last} order by id"
            ));
        }
        ids
    }

    pub fn status_of(&self, id: i64) -> String {
        self.sql(&format!(
            "select coalesce(last_status_id::text, 'none') from cosims.parent_jobs where id = {id}"
        ))
    }

    pub fn changes_of(&self, id: i64) -> i64 {
        self.count(&format!(
            "select count(*) from cosims.job_status_changes where fk_parent_job_id = {id}"
        ))
    }
}

/// The cosims schema (no seed: counts stay exact) and an environment pointing at it.
pub fn bed() -> Bed {
    let pg = TestPostgres::start();
    let dir = sandbox_sql_dir();
    pg.psql_file("postgres", &dir.join("cosims-roles.sql"));
    pg.create_database(DB, Some(COSIMS_OWNER));
    pg.psql_file(DB, &dir.join("cosims-schema.sql"));
    let config = format!(
        r#"
environment "sandbox" {{
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
  }}
  borg {{
    repository = "/nonexistent"
  }}
  jobs {{
    pause = "0s"
  }}
}}
"#,
        port = pg.port()
    );
    Bed {
        env: TestEnv::new(&config),
        pg,
    }
}
