//! `csi agent`, run on the ssh host by csi itself: reads one request, does the data's
//! part there through the same entry points as a local run, answers with one reply.
//! Its connection is its stdin: when that ends (csi interrupted, the network gone)
//! it stops as on SIGTERM, before any COMMIT, so a restore leaves the database as it
//! was and a backup keeps no archive.

use std::io::BufRead as _;

use super::wire::{HostBorg, HostDatabase, Reply, Request, Task};
use crate::borg::Borg;
use crate::database::restore::{self, DumpSource, LoadRequest};
use crate::database::{make_backup, Target};
use crate::error::usage;
use crate::output::Printer;
use crate::secret::Secret;
use crate::settings::DatabaseSettings;

pub async fn serve(printer: &Printer) -> anyhow::Result<()> {
    let request = tokio::task::spawn_blocking(read_request).await??;
    let reply = match handle(request, printer).await {
        Ok(reply) => reply,
        Err(e) => Reply::failed(&e),
    };
    printer.data(&serde_json::to_string(&reply)?);
    Ok(())
}

/// The request line; then a watcher that turns the end of stdin into SIGTERM.
fn read_request() -> anyhow::Result<Request> {
    let mut stdin = std::io::stdin().lock();
    let mut line = String::new();
    stdin.read_line(&mut line)?;
    let request = serde_json::from_str(&line).map_err(|e| {
        usage(format!(
            "csi agent: not a request ({e}); it is started by csi"
        ))
    })?;
    drop(stdin);
    std::thread::spawn(|| {
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut rest);
        tracing::info!("the connection to csi ended: stopping as on SIGTERM");
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::SIGTERM);
    });
    Ok(request)
}

async fn handle(request: Request, printer: &Printer) -> anyhow::Result<Reply> {
    let Request {
        database,
        borg,
        task,
    } = request;
    match task {
        Task::Probe => Ok(Reply::Probed {
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }),
        Task::Backup { archive } => {
            let (borg, target) = (host_borg(&borg)?, host_target(database)?);
            let backup = make_backup(&borg, &target, &archive, printer).await?;
            Ok(Reply::BackedUp(backup))
        }
        Task::Restore {
            archive,
            dump_size,
            source_db,
            mode,
        } => {
            let (borg, target) = (host_borg(&borg)?, host_target(database)?);
            let request = LoadRequest {
                target: &target,
                source_db: &source_db,
                mode,
                printer,
            };
            let source = DumpSource::borg(&borg, &archive, dump_size)?;
            let outcome = restore::load(request, source).await?;
            Ok(Reply::Restored(outcome))
        }
    }
}

fn host_borg(borg: &HostBorg) -> anyhow::Result<Borg> {
    Ok(Borg::on_host(
        &borg.repository,
        borg.remote_path.as_deref(),
        borg.passcommand.as_deref(),
        borg.passphrase.clone().map(Secret::new),
    )?)
}

fn host_target(database: HostDatabase) -> anyhow::Result<Target> {
    Ok(Target::environment(&DatabaseSettings {
        host: Some(database.socket_dir.clone()),
        port: database.port,
        user: database.user,
        name: Some(database.name),
        service: None,
        schema: database.schema,
        password: database.password.map(Secret::new),
        over_ssh: false,
        socket_dir: database.socket_dir,
        via: None,
    })?)
}
