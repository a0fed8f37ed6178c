//! The rehearsal: the environment's schema (and its roles) dumped, loaded into a
//! scratch database — in a throwaway local cluster, or on a configured scratch
//! server — and the patch run there exactly as it will run on the environment.
//! The scratch database is removed afterwards, whatever happened.

use crate::database::decode;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use super::ledger::Record;
use super::run::{run, StatementFailed};
use super::split::{split, Kind};
use super::Patch;
use crate::database::dump::{quote_ident, quote_literal};
use crate::database::pg_error::PgContext;
use crate::database::scratch::{ScratchCluster, PORT, SUPERUSER};
use crate::database::Target;
use crate::error::{failed, precondition, usage};
use crate::output::Printer;
use crate::process::Cmd;

/// Where to rehearse.
#[derive(Debug, Clone)]
pub enum ScratchPlace {
    /// A throwaway cluster started on this machine for the rehearsal.
    Local,
    /// A scratch server (URL of a database to connect to for CREATE DATABASE).
    Url(String),
}

/// What the rehearsal needs to know of the environment's database.
#[derive(Debug, Clone)]
pub struct EnvFacts {
    pub server_major: Option<u32>,
    /// The role the patch will run as (`current_user`).
    pub role: String,
    pub encoding: String,
    /// The owner of the environment's database (the scratch database gets the same).
    pub owner: String,
    /// PostgreSQL's `system_identifier` of the environment's cluster, when readable.
    pub system_identifier: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rehearsal {
    pub place: String,
    pub database: String,
    /// The environment's roles were recreated there, with ownership and privileges.
    pub roles_and_privileges: bool,
    /// The role the patch ran as there.
    pub as_role: Option<String>,
    pub statements: usize,
    pub seconds: f64,
}

/// What to rehearse, where, and how it will run on the environment.
pub struct RehearsalRequest<'a> {
    /// The environment's database (dumped, never written).
    pub env: &'a Target,
    pub facts: &'a EnvFacts,
    pub place: &'a ScratchPlace,
    /// Patches to run first, in order, with their records (the earlier migrations of
    /// an upgrade, not yet applied to the environment); empty for a single patch.
    pub before: &'a [(&'a Patch, &'a Record)],
    pub patch: &'a Patch,
    pub record: &'a Record,
    pub transactional: bool,
    pub lock_timeout: Duration,
}

struct Scratch {
    admin: Target,
    cluster: Option<ScratchCluster>,
    database: String,
    /// False when `database` is the throwaway cluster's own `postgres`, which
    /// exists already (production's schema lives in the database `postgres`).
    create: bool,
    superuser: bool,
    place: String,
}

pub async fn rehearse(
    request: &RehearsalRequest<'_>,
    printer: &Printer,
) -> anyhow::Result<Rehearsal> {
    let started = Instant::now();
    let scratch = provision(request.env, request.facts, request.place, printer).await?;
    let (where_, database) = (scratch.place.clone(), scratch.database.clone());
    let result = rehearse_in(request, &scratch, printer).await;
    let cleaned = clean_up(scratch).await;
    let (as_role, roles_and_privileges) = result?;
    if let Err(e) = cleaned {
        printer.warn(&format!("removing the scratch database: {e:#}"));
    }
    Ok(Rehearsal {
        place: where_,
        database,
        roles_and_privileges,
        as_role,
        statements: request.patch.statements.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A rehearsal on another major version than the server's proves less: syntax and
/// behaviour differ between majors (a patch valid on 15 can fail on production's 12).
fn warn_if_another_major(server: Option<u32>, scratch: Option<u32>, printer: &Printer) {
    if let (Some(server), Some(scratch)) = (server, scratch) {
        if server != scratch {
            printer.warn(&format!(
                "the rehearsal runs on PostgreSQL {scratch}, the server on {server}: install PostgreSQL {server}'s server binaries (/usr/lib/postgresql/{server}/bin) or set {} to them, for a rehearsal on the server's version",
                crate::env_vars::CSI_PG_BINDIR
            ));
        }
    }
}

async fn provision(
    env: &Target,
    facts: &EnvFacts,
    place: &ScratchPlace,
    printer: &Printer,
) -> anyhow::Result<Scratch> {
    match place {
        ScratchPlace::Local => {
            printer.info("rehearsal: starting a throwaway PostgreSQL cluster");
            let cluster = ScratchCluster::start(facts.server_major).await?;
            let admin = local_target(&cluster, "postgres", &env.schema)?;
            printer.detail(&format!(
                "rehearsal: cluster in {} (server binaries {})",
                cluster.socket_dir().display(),
                cluster.bindir().display()
            ));
            warn_if_another_major(facts.server_major, cluster.major(), printer);
            Ok(Scratch {
                place: format!("a throwaway cluster ({})", cluster.bindir().display()),
                admin,
                cluster: Some(cluster),
                // Same name as the environment's: statements naming the database work.
                // `postgres` exists in a new cluster: the throwaway one is used as is.
                create: env.dbname != "postgres",
                database: env.dbname.clone(),
                superuser: true,
            })
        }
        ScratchPlace::Url(url) => {
            let admin = Target::url(url, &env.schema)
                .map_err(|e| usage(format!("database.scratch_database: {}", e.message)))?;
            let client = admin.connect().await.map_err(|e| {
                precondition(format!("cannot reach the scratch server: {e:#}"))
                    .with_hint("check database.scratch_database (or --scratch), or leave it unset to rehearse in a local cluster")
            })?;
            let row = client
                .query_one(
                    "select rolsuper, (select system_identifier from pg_control_system()) \
                     from pg_roles where rolname = current_user",
                    &[],
                )
                .await;
            let (superuser, identifier) = match row {
                Ok(row) => (
                    decode::get::<bool>(&row, 0, "pg_roles.rolsuper")?,
                    decode::get::<Option<i64>>(&row, 1, "pg_control_system().system_identifier")?,
                ),
                Err(_) => {
                    let row = client
                        .query_one(
                            "select rolsuper from pg_roles where rolname = current_user",
                            &[],
                        )
                        .await
                        .pg_context("reading the scratch server's role")?;
                    (decode::get(&row, 0, "pg_roles.rolsuper")?, None)
                }
            };
            let host = |t: &Target| t.host.clone().unwrap_or_else(|| "localhost".into());
            let same_server = (identifier.is_some() && identifier == facts.system_identifier)
                || (host(&admin) == host(env)
                    && admin.port.unwrap_or(5432) == env.port.unwrap_or(5432));
            if same_server {
                return Err(precondition(
                    "the scratch server is the environment's own server: a rehearsal there could touch the environment",
                )
                .with_hint("point database.scratch_database (or --scratch) at another server, or unset it to rehearse in a local cluster")
                .into());
            }
            Ok(Scratch {
                place: format!("the scratch server {}", admin.describe()),
                admin,
                cluster: None,
                create: true,
                database: format!(
                    "csi_rehearsal_{}_{}",
                    chrono::Utc::now().format("%Y%m%d%H%M%S"),
                    std::process::id()
                ),
                superuser,
            })
        }
    }
}

fn local_target(cluster: &ScratchCluster, dbname: &str, schema: &str) -> anyhow::Result<Target> {
    let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
    let conninfo = format!(
        "host={} port={PORT} user={SUPERUSER} dbname={}",
        quote(&cluster.socket_dir().display().to_string()),
        quote(dbname)
    );
    Ok(Target::url(&conninfo, schema)?)
}

async fn rehearse_in(
    request: &RehearsalRequest<'_>,
    scratch: &Scratch,
    printer: &Printer,
) -> anyhow::Result<(Option<String>, bool)> {
    let RehearsalRequest {
        env,
        facts,
        patch,
        record,
        transactional,
        lock_timeout,
        ..
    } = *request;
    let admin = scratch
        .admin
        .connect()
        .await
        .context("connecting to the scratch cluster")?;
    let with_roles = scratch.superuser;
    if with_roles {
        load_roles(env, &admin, printer).await?;
    }
    let row = admin
        .query_one(
            "select exists(select 1 from pg_roles where rolname = $1)",
            &[&facts.owner],
        )
        .await
        .pg_context("looking for the database owner's role in the scratch cluster")?;
    let owner_exists: bool = decode::get(&row, 0, "pg_roles")?;
    let owner = if with_roles && owner_exists {
        format!(" owner {}", quote_ident(&facts.owner))
    } else {
        String::new()
    };
    if scratch.create {
        // lc_collate/lc_ctype rather than `locale`, which PostgreSQL 12 lacks.
        admin
            .batch_execute(&format!(
                "create database {} template template0 encoding {} lc_collate 'C' lc_ctype 'C'{owner}",
                quote_ident(&scratch.database),
                quote_literal(&facts.encoding)
            ))
            .await
            .pg_context(format!(
                "creating the scratch database {}",
                scratch.database
            ))?;
    }
    drop(admin);

    let work = tempfile::Builder::new()
        .prefix("csi-patch-")
        .tempdir()
        .context("creating a private temporary directory for the schema dump")?;
    fs_err::set_permissions(work.path(), std::fs::Permissions::from_mode(0o700))?;
    let work_dir = work.path().to_path_buf();
    let _remove_on_signal = crate::interrupt::on_interrupt(move || {
        let _ = std::fs::remove_dir_all(&work_dir);
    });
    let dump = work.path().join("schema.sql");
    printer.info(&format!(
        "rehearsal: dumping the schema of {}",
        env.describe()
    ));
    let mut pg_dump = Cmd::new("pg_dump")
        .args(["--schema-only", "--no-password", "-f"])
        .arg(&dump);
    if !with_roles {
        pg_dump = pg_dump.args(["--no-owner", "--no-privileges"]);
    }
    env.client_env(pg_dump)
        .output()
        .await
        .map_err(|e| failed(format!("dumping the environment's schema: {e}")))?;

    let target = scratch_target(scratch)?;
    printer.info(&format!("rehearsal: loading it into {}", scratch.place));
    target
        .client_env(Cmd::new("psql").args(["-X", "-w", "-q", "-v", "ON_ERROR_STOP=1", "-f"]).arg(&dump))
        .output()
        .await
        .map_err(|e| {
            failed(format!(
                "the environment's schema does not load into the scratch database, so the patch cannot be rehearsed: {e}"
            ))
        })?;

    let mut client = target
        .connect()
        .await
        .context("connecting to the scratch database")?;
    client
        .batch_execute(&format!(
            "set lock_timeout = {}",
            quote_literal(&format!("{}ms", lock_timeout.as_millis()))
        ))
        .await
        .pg_context("preparing the scratch session")?;
    let as_role = if with_roles {
        become_role(&client, &facts.role).await?
    } else {
        None
    };
    for (earlier, earlier_record) in request.before {
        run_on_scratch(
            &mut client,
            earlier,
            earlier_record,
            transactional,
            &as_role,
            printer,
        )
        .await?;
    }
    run_on_scratch(&mut client, patch, record, transactional, &as_role, printer).await?;
    Ok((as_role, with_roles))
}

async fn run_on_scratch(
    client: &mut tokio_postgres::Client,
    patch: &Patch,
    record: &Record,
    transactional: bool,
    as_role: &Option<String>,
    printer: &Printer,
) -> anyhow::Result<()> {
    printer.info(&format!(
        "rehearsal: running {} ({} statements{})",
        patch.file_name,
        patch.statements.len(),
        as_role
            .as_ref()
            .map(|r| format!(", as {r}"))
            .unwrap_or_default()
    ));
    run(client, patch, record, transactional)
        .await
        .map_err(|e| match e.downcast_ref::<StatementFailed>() {
            Some(failure) => precondition(format!(
                "the rehearsal failed, nothing was applied: {failure}"
            ))
            .with_hint(format!(
                "fix statement {} of the patch ({}) and run db-patch again",
                failure.number, failure.statement
            )),
            None if crate::error::kind_of(&e) == crate::error::Kind::Interrupted => {
                crate::error::CsiError::new(
                    crate::error::Kind::Interrupted,
                    "the rehearsal was interrupted, nothing was applied",
                )
            }
            None => failed(format!("the rehearsal failed, nothing was applied: {e:#}")),
        })?;
    Ok(())
}

fn scratch_target(scratch: &Scratch) -> anyhow::Result<Target> {
    match &scratch.cluster {
        Some(cluster) => local_target(cluster, &scratch.database, &scratch.admin.schema),
        None => {
            let mut target = scratch.admin.clone();
            target.dbname = scratch.database.clone();
            Ok(target)
        }
    }
}

/// The environment's roles (no passwords) recreated in the scratch cluster; roles that
/// exist already are kept. Failures here only lower the rehearsal's fidelity.
async fn load_roles(
    env: &Target,
    admin: &tokio_postgres::Client,
    printer: &Printer,
) -> anyhow::Result<()> {
    let output = env
        .client_env(
            Cmd::new("pg_dumpall")
                .args(["--roles-only", "--no-role-passwords", "--no-password", "-l"])
                .arg(&env.dbname),
        )
        .output()
        .await
        .map_err(|e| failed(format!("dumping the environment's roles: {e}")))?;
    let text = output.stdout_text();
    let statements = split(&text).map_err(|e| failed(format!("reading the roles dump: {e}")))?;
    let mut problems = 0;
    for s in statements.iter().filter(|s| s.kind == Kind::Sql) {
        if let Err(e) = admin.batch_execute(&s.text).await {
            let duplicate = e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_OBJECT);
            if !duplicate {
                problems += 1;
                printer.detail(&format!("rehearsal: role statement `{}`: {e}", s.head()));
            }
        }
    }
    if problems > 0 {
        printer.warn(&format!(
            "rehearsal: {problems} role statement(s) failed in the scratch cluster (-v shows them)"
        ));
    }
    Ok(())
}

/// Runs the rehearsal as the environment's role when the scratch cluster has it.
async fn become_role(
    client: &tokio_postgres::Client,
    role: &str,
) -> anyhow::Result<Option<String>> {
    let row = client
        .query_one(
            "select exists(select 1 from pg_roles where rolname = $1), current_user::text",
            &[&role],
        )
        .await
        .pg_context("looking for the environment's role in the scratch cluster")?;
    let exists: bool = decode::get(&row, 0, "pg_roles exists")?;
    let current: String = decode::get(&row, 1, "current_user")?;
    if !exists || current == role {
        return Ok(None);
    }
    client
        .batch_execute(&format!("set role {}", quote_ident(role)))
        .await
        .pg_context(format!("becoming {role} in the scratch database"))?;
    Ok(Some(role.to_owned()))
}

async fn clean_up(scratch: Scratch) -> anyhow::Result<()> {
    match scratch.cluster {
        Some(cluster) => cluster.stop().await,
        None => {
            let admin = scratch.admin.connect().await?;
            // No `with (force)`: PostgreSQL 12 lacks it; the sessions are ended first.
            admin
                .execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity \
                     where datname = $1 and pid <> pg_backend_pid()",
                    &[&scratch.database],
                )
                .await
                .pg_context(format!(
                    "ending the sessions of the scratch database {}",
                    scratch.database
                ))?;
            admin
                .batch_execute(&format!(
                    "drop database if exists {}",
                    quote_ident(&scratch.database)
                ))
                .await
                .pg_context(format!(
                    "dropping the scratch database {}",
                    scratch.database
                ))
        }
    }
}
