//! The `csi env jobs` test bed: the cosims schema with its transition trigger (no seed:
//! counts stay exact) and an environment pointing at it, without pauses.

use super::csi::{Run, TestEnv};
use super::postgres::TestPostgres;

pub const DB: &str = "postgres";

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

    /// `fsc_rlie` jobs (rows of fsc_rlie_jobs) with a tile and a measurement date,
    /// each walked to `statuses`. Returns the ids, in order.
    pub fn jobs(&self, n: usize, tile: &str, measured: &str, statuses: &[i16]) -> Vec<i64> {
        let ids = self.sql(&format!(
            "with p as (insert into cosims.parent_jobs (name, priority, tile_id, next_log_level) \
               select 'job_' || g, 'nrt', '{tile}', 20 from generate_series(1, {n}) g returning id) \
             insert into cosims.fsc_rlie_jobs (fk_parent_job_id, nrt, l1c_id, l1c_cloud_cover, \
                                               l1c_snow_cover, l1c_path, measurement_date) \
               select id, true, 'L1C_' || id, 10, 5, '/eodata/' || id, timestamp '{measured}' from p \
             returning fk_parent_job_id"
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
    pg.load_cosims_schema();
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
