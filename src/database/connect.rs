//! Connecting with the resolved settings (PG* variables already folded in).

use std::time::Duration;

use anyhow::Context as _;

use crate::settings::DatabaseSettings;

pub async fn connect(
    settings: &DatabaseSettings,
    timeout: Duration,
) -> anyhow::Result<tokio_postgres::Client> {
    crate::ssh::require_attached(settings.over_ssh, "the database")?;
    let mut config = tokio_postgres::Config::new();
    config
        .host(settings.host.as_deref().unwrap_or("localhost"))
        .port(settings.port.unwrap_or(5432))
        .user(settings.user.as_deref().unwrap_or("postgres"))
        .dbname(settings.name.as_deref().unwrap_or("postgres"))
        .application_name("csi")
        .connect_timeout(timeout);
    if let Some(password) = &settings.password {
        config.password(password.expose());
    }
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .with_context(|| format!("cannot connect to the database {}", describe(settings)))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("database connection closed: {e}");
        }
    });
    Ok(client)
}

/// Connects for an operation that cannot go on without the database: an unreachable
/// database is a precondition, with the hint that tests the connection.
pub async fn connect_required(
    settings: &DatabaseSettings,
    timeout: Duration,
) -> anyhow::Result<tokio_postgres::Client> {
    connect(settings, timeout).await.map_err(unreachable)
}

/// A failed connection as a precondition error with the hint to check the database.
pub fn unreachable(e: anyhow::Error) -> anyhow::Error {
    crate::error::CsiError::new(crate::error::Kind::Precondition, format!("{e:#}"))
        .with_hint("`csi env check` tests the database connection")
        .into()
}

#[derive(Debug)]
pub struct ServerInfo {
    pub version: String,
    pub schema_present: bool,
}

/// Connects, reads the server version and whether the configured schema exists.
pub async fn ping(settings: &DatabaseSettings, timeout: Duration) -> anyhow::Result<ServerInfo> {
    let client = connect(settings, timeout).await?;
    let row = client
        .query_one(
            "select current_setting('server_version'), \
             exists(select 1 from pg_namespace where nspname = $1)",
            &[&settings.schema],
        )
        .await
        .context("querying the database")?;
    Ok(ServerInfo {
        version: super::decode::get(&row, 0, "version()")?,
        schema_present: super::decode::get(&row, 1, "the schema's presence")?,
    })
}

/// `user@host:port/name` (or `user@<socket> via ssh <destination>/name` over ssh),
/// never the password.
pub fn describe(settings: &DatabaseSettings) -> String {
    let user = settings.user.as_deref().unwrap_or("postgres");
    let name = settings.name.as_deref().unwrap_or("postgres");
    if let Some((socket, destination)) = &settings.via {
        return format!("{user}@{socket}/{name} (over ssh {destination})");
    }
    format!(
        "{user}@{}:{}/{name}",
        settings.host.as_deref().unwrap_or("localhost"),
        settings.port.unwrap_or(5432),
    )
}
