//! Puts an environment's remote parts behind its ssh host: opens the one master
//! connection of the operation and rewrites the resolved settings so that every
//! client csi runs (tokio-postgres, psql, pg_dumpall, borg, the Nomad client) goes
//! through it without knowing: the database becomes a unix socket in the private
//! folder, the repository an `ssh://` URL whose ssh rides on the master, Nomad a
//! loopback port.

use std::sync::Arc;

use super::session::{Forward, HostSide, Session};
use crate::error::{precondition, usage, CsiError};
use crate::output::Printer;
use crate::settings::Settings;

/// Opens the environment's ssh connection when anything of it is `over_ssh`; a no-op
/// otherwise. The connection lives as long as `settings` (`Settings::transport`).
/// `through_client`: large data is to go through this machine (`--through-client`).
pub async fn attach(
    settings: &mut Settings,
    printer: &Printer,
    through_client: bool,
) -> Result<(), CsiError> {
    let Some(ssh) = settings.ssh.clone() else {
        return Ok(());
    };
    let (db, borg, nomad) = (
        settings.database.over_ssh,
        settings.borg.over_ssh,
        settings.nomad.over_ssh,
    );
    if !(db || borg || nomad) || settings.transport.is_some() {
        return Ok(());
    }
    let dir = Session::private_dir()?;
    let mut forwards = Vec::new();
    let port = settings.database.port.unwrap_or(5432);
    let socket_name = format!(".s.PGSQL.{port}");
    if db {
        forwards.push(Forward::Socket {
            local: dir.path().join(&socket_name),
            remote: format!(
                "{}/{socket_name}",
                settings.database.socket_dir.trim_end_matches('/')
            ),
        });
    }
    let nomad_target = if nomad {
        let (scheme, host, remote_port) = nomad_target(settings.nomad.address.as_deref())?;
        let local = free_loopback_port()?;
        forwards.push(Forward::Port {
            local,
            host: host.clone(),
            port: remote_port,
        });
        Some((scheme, host, local))
    } else {
        None
    };
    printer.detail(&format!(
        "ssh: connecting to {}@{}:{}",
        ssh.user, ssh.host, ssh.port
    ));
    let mut session = Session::open(&ssh, dir, &forwards).await?;
    session.set_host_side(HostSide {
        socket_dir: db.then(|| settings.database.socket_dir.clone()),
        repository: if borg {
            settings.borg.repository.clone()
        } else {
            None
        },
        through_client,
    });
    if db {
        settings.database.host = Some(session.dir().display().to_string());
        settings.database.port = Some(port);
        settings.database.via = Some((
            format!(
                "{}/{socket_name}",
                settings.database.socket_dir.trim_end_matches('/')
            ),
            session.destination(),
        ));
        settings.database.over_ssh = false;
    }
    if borg {
        let path = settings.borg.repository.clone().ok_or_else(|| {
            usage("no borg repository for this environment")
                .with_hint("set borg.repository (a path on the ssh host) in csi.hcl")
        })?;
        settings.borg.repository = Some(session.borg_url(&path));
        settings.borg.rsh = Some(session.borg_rsh());
        settings.borg.over_ssh = false;
    }
    if let Some((scheme, host, local)) = nomad_target {
        settings.nomad.address = Some(format!("{scheme}://127.0.0.1:{local}"));
        if scheme == "https" && settings.nomad.tls_server_name.is_none() {
            // The certificate names the real host, not the loopback end of the tunnel.
            settings.nomad.tls_server_name = Some(host);
        }
        settings.nomad.over_ssh = false;
    }
    settings.transport = Some(Arc::new(session));
    Ok(())
}

/// Refuses to use a part that should be reached over ssh while it is not: it would
/// otherwise fall back on a default (localhost, a local path) that may be another
/// server.
pub fn require_attached(over_ssh: bool, what: &str) -> Result<(), CsiError> {
    if over_ssh {
        return Err(precondition(format!(
            "{what} is reached over ssh, and the ssh connection is not open"
        ))
        .with_hint("the ssh check above says why (csi env check <env>)"));
    }
    Ok(())
}

fn nomad_target(address: Option<&str>) -> Result<(String, String, u16), CsiError> {
    let address = address.ok_or_else(|| {
        usage("nomad.over_ssh is set but nomad.address is not")
            .with_hint("set nomad.address to the address the ssh host reaches Nomad at")
    })?;
    let url = reqwest::Url::parse(address)
        .map_err(|e| usage(format!("nomad.address `{address}` is not a URL: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| usage(format!("nomad.address `{address}` has no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(4646);
    Ok((url.scheme().to_owned(), host, port))
}

/// A loopback port nobody listens on now (ssh binds it a moment later).
fn free_loopback_port() -> Result<u16, CsiError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| precondition(format!("cannot find a free loopback port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| precondition(format!("cannot find a free loopback port: {e}")))
}
