//! A throwaway PostgreSQL cluster for integration tests.
//!
//! Started through `scripts/lib/pg-cluster.sh` (the same script the sandbox
//! uses) in a private temporary directory, on a free port of 127.0.0.1, with
//! trust authentication for the superuser `postgres`. Dropping the value stops
//! the cluster and removes its directory, also when the test panicked.
//!
//! The server is production's major: PostgreSQL 12 from `tools/pg12/bin`
//! (installed by scripts/bootstrap.sh), unless `CSI_TEST_PG_BINDIR` names other
//! server binaries. The client tools (psql, pg_dump, pg_dumpall) are the
//! machine's (Debian's PostgreSQL 15), so what csi sends is proven on a 12 server.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Superuser of the test clusters.
pub const SUPERUSER: &str = "postgres";
/// The database that holds the cosims schema, as in production.
pub const COSIMS_DB: &str = "postgres";

/// The server binaries the test clusters run: `$CSI_TEST_PG_BINDIR`, else the
/// PostgreSQL 12 of `tools/pg12/bin`.
pub fn server_bindir() -> PathBuf {
    match std::env::var_os("CSI_TEST_PG_BINDIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let dir = repo_root().join("tools").join("pg12").join("bin");
            assert!(
                dir.join("postgres").exists(),
                "no PostgreSQL 12 server in {}: run scripts/bootstrap.sh (or set CSI_TEST_PG_BINDIR)",
                dir.display()
            );
            dir
        }
    }
}

/// The repository root (where Cargo.toml of csi-ops is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Directory of the cosims fixture files (roles, schema, seed).
pub fn sandbox_sql_dir() -> PathBuf {
    repo_root().join("scripts").join("sandbox")
}

/// Path of `scripts/lib/pg-cluster.sh`.
pub fn pg_cluster_script() -> PathBuf {
    repo_root()
        .join("scripts")
        .join("lib")
        .join("pg-cluster.sh")
}

/// Environment variables that could redirect libpq clients somewhere else.
const LIBPQ_ENV_TO_CLEAR: &[&str] = &[
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGOPTIONS",
    "PGSSLMODE",
    "PGTARGETSESSIONATTRS",
    "PSQLRC",
];

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to find a free port");
    listener
        .local_addr()
        .expect("local_addr of the probe socket")
        .port()
}

fn describe(output: &Output) -> String {
    format!(
        "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `cmd` with `input` written to its stdin (from a thread, so that large
/// outputs cannot deadlock) and collects its output.
pub(crate) fn run_with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        // A broken pipe here means the child exited early; its exit status tells why.
        let _ = stdin.write_all(&input);
    });
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {cmd:?}: {e}"));
    let _ = writer.join();
    output
}

/// A running throwaway cluster; stopped and deleted on drop.
pub struct TestPostgres {
    dir: tempfile::TempDir,
    port: u16,
    /// Where clients connect: 127.0.0.1, or the socket folder once the cluster is a
    /// unix-socket-only "database host" (support::db_host).
    host: String,
}

impl TestPostgres {
    /// Starts a new cluster (initdb + start, ~1-2 s). Panics when it cannot.
    pub fn start() -> TestPostgres {
        // The unix socket lives in the directory: keep its path short.
        let base = std::env::temp_dir();
        let base = if base.as_os_str().len() > 60 {
            PathBuf::from("/tmp")
        } else {
            base
        };
        let dir = tempfile::Builder::new()
            .prefix("csi-pg-")
            .tempdir_in(&base)
            .expect("create a temporary directory for PostgreSQL");
        // From here on, Drop cleans up whatever got started.
        let mut pg = TestPostgres {
            dir,
            port: 0,
            host: "127.0.0.1".to_owned(),
        };
        let mut failures = Vec::new();
        for _attempt in 0..4 {
            pg.port = free_port();
            let output = Command::new("bash")
                .env("PG_BINDIR", server_bindir())
                .arg(pg_cluster_script())
                .arg("start")
                .arg(pg.dir.path())
                .arg(pg.port.to_string())
                .stdin(Stdio::null())
                .output()
                .expect("run scripts/lib/pg-cluster.sh");
            if output.status.success() {
                return pg;
            }
            // Most likely another process took the port in the meantime.
            failures.push(describe(&output));
        }
        panic!(
            "could not start a test PostgreSQL cluster in {}:\n{}",
            pg.dir.path().display(),
            failures.join("\n")
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Clients connect through the unix socket from now on (see support::db_host).
    pub fn use_unix_socket(&mut self) {
        self.host = self.dir.path().display().to_string();
    }

    /// `postgresql://postgres@127.0.0.1:PORT/DB`
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql://{}@{}:{}/{}",
            SUPERUSER,
            self.host(),
            self.port,
            db
        )
    }

    /// Directory holding the cluster (`data/`, `log`, the unix socket).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// libpq environment (PGHOST, PGPORT, PGUSER) pointing at this cluster,
    /// for running other programs (pg_dump, csi, ...) against it.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PGHOST", self.host().to_string()),
            ("PGPORT", self.port.to_string()),
            ("PGUSER", SUPERUSER.to_string()),
        ]
    }

    /// A command for a libpq client program (psql, pg_dump, pg_dumpall...),
    /// with a clean libpq environment pointing at this cluster.
    pub fn client_command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        for var in LIBPQ_ENV_TO_CLEAR {
            cmd.env_remove(var);
        }
        cmd.envs(self.env());
        cmd.env("PGCONNECT_TIMEOUT", "10");
        // Messages the tests read are PostgreSQL's English ones.
        cmd.env("LC_MESSAGES", "C");
        cmd
    }

    fn psql_command(&self, db: &str) -> Command {
        let mut cmd = self.client_command("psql");
        cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", db]);
        cmd
    }

    /// Runs SQL (one or several statements) and returns the unaligned,
    /// tuples-only output without its trailing newline.
    pub fn try_psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let mut cmd = self.psql_command(db);
        cmd.args(["-f", "-"]);
        let output = run_with_stdin(cmd, sql.as_bytes());
        if output.status.success() {
            Ok(trim_newline(&output.stdout))
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// Like [`try_psql`](Self::try_psql) but panics with psql's stderr on failure.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.try_psql(db, sql).unwrap_or_else(|stderr| {
            panic!("psql on database {db} failed:\n{stderr}\n--- sql ---\n{sql}")
        })
    }

    /// Runs a SQL file with psql; panics with stderr on failure.
    pub fn psql_file(&self, db: &str, path: &Path) -> String {
        let output = self
            .psql_command(db)
            .arg("-f")
            .arg(path)
            .stdin(Stdio::null())
            .output()
            .expect("run psql");
        if !output.status.success() {
            panic!(
                "psql -f {} on database {db} failed:\n{}",
                path.display(),
                describe(&output)
            );
        }
        trim_newline(&output.stdout)
    }

    /// Creates an empty database owned by `owner` (or by the superuser).
    pub fn create_database(&self, name: &str, owner: Option<&str>) {
        let owner = owner
            .map(|o| format!(" OWNER {}", quote_ident(o)))
            .unwrap_or_default();
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {}{owner};", quote_ident(name)),
        );
    }

    /// The PostgREST roles (idempotent) and the cosims schema in database
    /// `postgres`, as production has them, without jobs.
    pub fn load_cosims_schema(&self) {
        let dir = sandbox_sql_dir();
        self.psql_file(COSIMS_DB, &dir.join("cosims-roles.sql"));
        self.psql_file(COSIMS_DB, &dir.join("cosims-schema.sql"));
    }

    /// [`load_cosims_schema`](Self::load_cosims_schema), then the seed data
    /// shaped like production.
    pub fn load_cosims(&self) {
        self.load_cosims_schema();
        self.psql_file(COSIMS_DB, &sandbox_sql_dir().join("cosims-seed.sql"));
    }

    /// The whole cluster as `pg_dumpall` prints it (plain SQL).
    pub fn dumpall(&self) -> Vec<u8> {
        let output = self
            .client_command("pg_dumpall")
            .stdin(Stdio::null())
            .output()
            .expect("run pg_dumpall");
        if !output.status.success() {
            panic!("pg_dumpall failed:\n{}", describe(&output));
        }
        output.stdout
    }

    /// A `pg_dumpall` command (not started) with stdout to be piped by the caller.
    pub fn dumpall_command(&self) -> Command {
        self.client_command("pg_dumpall")
    }

    fn stop(&self) -> Result<(), String> {
        let output = Command::new("bash")
            .env("PG_BINDIR", server_bindir())
            .arg(pg_cluster_script())
            .arg("stop")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(())
        } else {
            Err(describe(&output))
        }
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            eprintln!("warning: stopping the test PostgreSQL cluster failed:\n{err}");
            // Last resort: immediate shutdown of the postmaster.
            let pid_file = self.data_dir().join("postmaster.pid");
            if let Some(pid) = std::fs::read_to_string(pid_file)
                .ok()
                .and_then(|s| s.lines().next().map(|l| l.trim().to_string()))
                .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
            {
                let _ = Command::new("kill").args(["-QUIT", &pid]).status();
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        }
        // The TempDir field removes the directory after this.
    }
}

fn trim_newline(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    s.strip_suffix('\n').unwrap_or(&s).to_string()
}

/// Quotes an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One statement creating a job of `job_type` (`fsc_rlie`, `gfsc`, ...) as the
/// services do: its `parent_jobs` row, named `job_<id>`, and its row in the type's
/// table (production's NOT NULL columns filled), measured at `measured` (a
/// `timestamp` literal, UTC) in the type's own date column. Prints the job's id.
/// No status: insert into job_status_changes for that.
pub fn new_job_sql(job_type: &str, tile: &str, priority: &str, measured: &str) -> String {
    let nrt = priority == "nrt";
    let (columns, values) = match job_type {
        "fsc_rlie" => (
            "nrt, l1c_id, l1c_cloud_cover, l1c_snow_cover, l1c_path, measurement_date",
            format!("{nrt}, 'L1C_' || id, 10, 5, '/eodata/L1C_' || id, timestamp '{measured}'"),
        ),
        "rlies1" => (
            "s1grd_id, measurement_date_start, measurement_date_end",
            format!("'S1_' || id, timestamp '{measured}', timestamp '{measured}' + interval '25 seconds'"),
        ),
        "rlies1s2" => (
            "process_date, tile_id_dup, measurement_date_rlies1s2",
            format!("timestamp '{measured}' + make_interval(secs => id), '{tile}', timestamp '{measured}'"),
        ),
        "sws_wds" => ("nrt, measurement_date", format!("{nrt}, timestamp '{measured}'")),
        "gfsc" => (
            "nrt, gfsc_id, product_date",
            format!("{nrt}, 'GFSC_' || id, timestamp '{measured}'"),
        ),
        "psa_arlie" => ("product_type, hydro_year", format!("'ARLIE', timestamp '{measured}'")),
        "test" => ("measurement_date", format!("timestamp '{measured}'")),
        "other" => ("fk_parent_job_id", String::new()),
        other => panic!("no job type {other} in the cosims schema"),
    };
    let (columns, values) = if job_type == "other" {
        (String::new(), String::new())
    } else {
        (format!(", {columns}"), format!(", {values}"))
    };
    format!(
        "with i as (select nextval('cosims.parent_jobs_id_seq') as id), \
         p as (insert into cosims.parent_jobs (id, name, priority, tile_id, next_log_level) \
               select id, 'job_' || id, '{priority}', '{tile}', 20 from i returning id), \
         t as (insert into cosims.{job_type}_jobs (fk_parent_job_id{columns}) select id{values} from p) \
         select id from p;"
    )
}

/// `dump` (made by this machine's pg_dumpall, PostgreSQL 15) as production's
/// PostgreSQL 12 pg_dumpall writes it. There is no pg_dumpall 12 here, so the format
/// is derived from the differences between the two versions' outputs: 12 has no
/// `\restrict KEY` / `\unrestrict KEY` lines (added in 15.14, 16.10, 17.6) and its
/// headers say `Dumped by pg_dump version 12.x` / `Dumped by pg_dumpall version 12.x`;
/// the statements csi relies on are the same.
pub fn as_pg12_dumpall(dump: &str) -> String {
    let mut out = String::with_capacity(dump.len());
    for line in dump.split_inclusive('\n') {
        if line.starts_with("\\restrict ") || line.starts_with("\\unrestrict ") {
            continue;
        }
        if let Some(tool) = [
            "-- Dumped by pg_dump version ",
            "-- Dumped by pg_dumpall version ",
        ]
        .iter()
        .find(|p| line.starts_with(**p))
        {
            out.push_str(tool);
            out.push_str("12.22 (Ubuntu 12.22-1.pgdg20.04+1)\n");
            continue;
        }
        out.push_str(line);
    }
    out
}
