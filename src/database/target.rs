//! The database a restore writes into: the environment's, or another one given as a
//! URL (`--to`). Children (psql, pg_dumpall) get the connection through libpq's
//! environment variables, the password only through PGPASSWORD; never on a command line.

use crate::database::decode;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context as _;

use crate::database::dump::{quote_literal, QualifiedName};
use crate::env_vars;
use crate::error::{precondition, usage, CsiError};
use crate::process::Cmd;
use crate::secret::Secret;
use crate::settings::DatabaseSettings;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Target {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub dbname: String,
    pub password: Option<Secret>,
    pub service: Option<String>,
    pub schema: String,
    /// Given with `--to`: not the environment's database.
    pub external: bool,
    /// The environment's database reached over ssh (see DatabaseSettings::via).
    pub via: Option<(String, String)>,
}

impl Target {
    pub fn environment(settings: &DatabaseSettings) -> Result<Self, CsiError> {
        crate::ssh::require_attached(settings.over_ssh, "the database")?;
        let dbname = settings.name.clone().ok_or_else(|| {
            usage("no database name for this environment")
                .with_hint("set database.name in csi.hcl or PGDATABASE")
        })?;
        Ok(Target {
            host: settings.host.clone(),
            port: settings.port,
            user: settings.user.clone(),
            dbname,
            password: settings.password.clone(),
            service: settings.service.clone(),
            schema: settings.schema.clone(),
            external: false,
            via: settings.via.clone(),
        })
    }

    /// `postgresql://user:password@host:port/dbname` (or libpq's `key=value` form).
    pub fn url(url: &str, schema: &str) -> Result<Self, CsiError> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| usage(format!("--to is not a PostgreSQL URL: {e}")))?;
        let password = config
            .get_password()
            .map(|p| Secret::new(String::from_utf8_lossy(p).into_owned()));
        let host = config.get_hosts().first().map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        });
        let dbname = config
            .get_dbname()
            .ok_or_else(|| {
                usage("--to names no database")
                    .with_hint("e.g. postgresql://user@host:5432/scratch")
            })?
            .to_owned();
        Ok(Target {
            host,
            port: config.get_ports().first().copied(),
            user: config.get_user().map(str::to_owned),
            dbname,
            password,
            service: None,
            schema: schema.to_owned(),
            external: true,
            via: None,
        })
    }

    /// `user@host:port/dbname`, never the password.
    pub fn describe(&self) -> String {
        crate::database::describe(&self.database_settings())
    }

    pub fn database_settings(&self) -> DatabaseSettings {
        DatabaseSettings {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            name: Some(self.dbname.clone()),
            service: self.service.clone(),
            schema: self.schema.clone(),
            password: self.password.clone(),
            over_ssh: false,
            socket_dir: crate::settings::DEFAULT_SOCKET_DIR.to_owned(),
            via: self.via.clone(),
        }
    }

    /// libpq's environment for a child connecting here (nothing inherited that could
    /// point it elsewhere).
    pub fn client_env(&self, mut cmd: Cmd) -> Cmd {
        for var in [
            env_vars::PGHOST,
            env_vars::PGPORT,
            env_vars::PGUSER,
            env_vars::PGDATABASE,
            env_vars::PGPASSWORD,
            env_vars::PGSERVICE,
            "PGOPTIONS",
            "PSQLRC",
        ] {
            cmd = cmd.env_remove(var);
        }
        if let Some(host) = &self.host {
            cmd = cmd.env(env_vars::PGHOST, host);
        }
        if let Some(port) = self.port {
            cmd = cmd.env(env_vars::PGPORT, port.to_string());
        }
        if let Some(user) = &self.user {
            cmd = cmd.env(env_vars::PGUSER, user);
        }
        if let Some(service) = &self.service {
            cmd = cmd.env(env_vars::PGSERVICE, service);
        }
        if let Some(password) = &self.password {
            cmd = cmd.secret_env(env_vars::PGPASSWORD, password);
        }
        cmd.env(env_vars::PGDATABASE, &self.dbname)
            .env("PGAPPNAME", "csi")
            .env("PGCONNECT_TIMEOUT", "10")
    }

    /// psql reading a script on stdin: no psqlrc, never prompting, stopping at the
    /// first error, printing command tags unaligned.
    pub fn psql(&self) -> Cmd {
        let cmd =
            Cmd::new("psql").args(["-X", "-w", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-f", "-"]);
        self.client_env(cmd)
    }

    /// The dump command of a backup of this cluster, as the nightly job runs it.
    pub fn dumpall_argv(&self) -> Vec<String> {
        vec!["pg_dumpall".into(), "-l".into(), self.dbname.clone()]
    }

    pub async fn connect(&self) -> anyhow::Result<tokio_postgres::Client> {
        crate::database::connect(&self.database_settings(), CONNECT_TIMEOUT).await
    }

    /// Fresh planner statistics for restored tables (a restore leaves none), on two
    /// connections at once.
    pub async fn analyze(&self, tables: &[QualifiedName]) -> anyhow::Result<()> {
        let (first, second) = tables.split_at(tables.len().div_ceil(2));
        let (a, b) = tokio::join!(
            self.analyze_one_by_one(first),
            self.analyze_one_by_one(second)
        );
        a.and(b)
    }

    async fn analyze_one_by_one(&self, tables: &[QualifiedName]) -> anyhow::Result<()> {
        if tables.is_empty() {
            return Ok(());
        }
        let client = self.connect().await?;
        for table in tables {
            client
                .batch_execute(&format!("ANALYZE {}", table.sql()))
                .await
                .with_context(|| format!("ANALYZE {table}"))?;
        }
        Ok(())
    }
}

/// What the target looks like before a restore.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetState {
    pub server_version: String,
    pub schema_exists: bool,
    /// Tables in the schema and their total rows (estimates from the statistics).
    pub tables: i64,
    /// Other sessions connected to the database.
    pub other_sessions: Vec<String>,
    /// Objects outside the schema that depend on it: DROP SCHEMA ... CASCADE would
    /// silently drop them.
    pub dependents: Vec<String>,
    pub superuser: bool,
}

pub async fn inspect(client: &tokio_postgres::Client, schema: &str) -> anyhow::Result<TargetState> {
    let row = client
        .query_one(
            "select current_setting('server_version'), \
             exists(select 1 from pg_namespace where nspname = $1), \
             (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace \
              where n.nspname = $1 and c.relkind in ('r', 'p')), \
             (select rolsuper from pg_roles where rolname = current_user)",
            &[&schema],
        )
        .await
        .context("inspecting the target database")?;
    let sessions = client
        .query(
            "select coalesce(nullif(application_name, ''), 'unnamed') || ' (' || coalesce(usename::text, '?') || \
             coalesce('@' || host(client_addr), '') || ', ' || state || ')' \
             from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() \
             and backend_type = 'client backend'",
            &[],
        )
        .await
        .context("listing the sessions on the target database")?;
    // Rules, triggers, defaults and constraints count as the relation they belong to.
    let dependents = client
        .query(
            "select distinct dep.type || ' ' || dep.identity \
             from pg_depend d \
             cross join lateral pg_identify_object(d.refclassid, d.refobjid, 0) ref \
             left join pg_rewrite rw on d.classid = 'pg_rewrite'::regclass and rw.oid = d.objid \
             left join pg_trigger tg on d.classid = 'pg_trigger'::regclass and tg.oid = d.objid \
             left join pg_attrdef ad on d.classid = 'pg_attrdef'::regclass and ad.oid = d.objid \
             left join pg_constraint co on d.classid = 'pg_constraint'::regclass and co.oid = d.objid \
             cross join lateral (select coalesce(rw.ev_class, tg.tgrelid, ad.adrelid, nullif(co.conrelid, 0)) as rel) r \
             cross join lateral pg_identify_object( \
                 case when r.rel is null then d.classid else 'pg_class'::regclass end, \
                 coalesce(r.rel, d.objid), 0) dep \
             where d.deptype = 'n' and ref.schema = $1 \
               and dep.schema is not null and dep.schema <> $1 \
             order by 1",
            &[&schema],
        )
        .await
        .context("looking for objects that depend on the schema")?;
    Ok(TargetState {
        server_version: decode::get(&row, 0, "server_version")?,
        schema_exists: decode::get(&row, 1, "the schema's presence")?,
        tables: decode::get(&row, 2, "the schema's tables")?,
        superuser: decode::get::<Option<bool>>(&row, 3, "rolsuper")?.unwrap_or(false),
        other_sessions: sessions
            .iter()
            .map(|r| decode::get(r, 0, "pg_stat_activity"))
            .collect::<anyhow::Result<_>>()?,
        dependents: dependents
            .iter()
            .map(|r| decode::get(r, 0, "the dependent objects"))
            .collect::<anyhow::Result<_>>()?,
    })
}

/// A table named on the command line, as the target database has it.
#[derive(Debug, Clone)]
pub struct TargetTable {
    pub name: QualifiedName,
    pub columns: Vec<String>,
    /// Tables outside the selection with foreign keys to it.
    pub referenced_by: Vec<String>,
}

/// Resolves `--tables` names (`t` or `schema.t`) in the target; unknown ones are a
/// precondition failure naming them.
pub async fn selected_tables(
    client: &tokio_postgres::Client,
    schema: &str,
    names: &[String],
) -> anyhow::Result<Vec<TargetTable>> {
    let wanted: Vec<QualifiedName> = names
        .iter()
        .map(|n| match n.split_once('.') {
            Some((s, t)) => QualifiedName::new(s, t),
            None => QualifiedName::new(schema, n.as_str()),
        })
        .collect();
    let mut tables = Vec::new();
    let mut unknown = Vec::new();
    for name in &wanted {
        let rows = client
            .query(
                "select a.attname::text from pg_attribute a \
                 join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace \
                 where n.nspname = $1 and c.relname = $2 and c.relkind in ('r', 'p') \
                   and a.attnum > 0 and not a.attisdropped and a.attgenerated = '' \
                 order by a.attnum",
                &[&name.schema, &name.name],
            )
            .await
            .context("reading the columns of the selected tables")?;
        if rows.is_empty() {
            unknown.push(name.to_string());
            continue;
        }
        tables.push(TargetTable {
            name: name.clone(),
            columns: rows
                .iter()
                .map(|r| decode::get(r, 0, "pg_attribute.attname"))
                .collect::<anyhow::Result<_>>()?,
            referenced_by: Vec::new(),
        });
    }
    if !unknown.is_empty() {
        return Err(precondition(format!(
            "no such table in the target database: {}",
            unknown.join(", ")
        ))
        .with_hint("name tables as `table` (in the configured schema) or `schema.table`")
        .into());
    }
    let selected: Vec<String> = tables.iter().map(|t| t.name.sql()).collect();
    for table in &mut tables {
        let rows = client
            .query(
                &format!(
                    "select distinct conrelid::regclass::text from pg_constraint \
                     where contype = 'f' and confrelid = {}::regclass \
                       and conrelid <> all(array[{}]::regclass[])",
                    quote_literal(&table.name.sql()),
                    selected
                        .iter()
                        .map(|s| quote_literal(s))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                &[],
            )
            .await
            .context("reading the foreign keys to the selected tables")?;
        table.referenced_by = rows
            .iter()
            .map(|r| decode::get(r, 0, "the referencing tables"))
            .collect::<anyhow::Result<_>>()?;
    }
    Ok(tables)
}
