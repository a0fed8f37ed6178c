//! This machine's side: decides where the data's part runs, ships csi when it runs on
//! the ssh host, sends the request, prints what the host says with the usual printer,
//! and turns the reply back into the result (or the error, with its exit code) a local
//! run would have given.

use std::io::{BufRead as _, Write as _};

use super::ship::ship;
use super::wire::{reported_error, HostBorg, HostDatabase, Reply, Request, Task};
use crate::borg::Borg;
use crate::database::restore::{self, DumpSource, LoadOutcome, LoadRequest};
use crate::database::{Backup, Target};
use crate::error::{failed, precondition, CsiError, Kind};
use crate::output::{Printer, Verbosity};
use crate::settings::Settings;
use crate::ssh::Session;

/// csi on the ssh host, where the database and the repository both are.
pub struct Agent<'a> {
    session: &'a Session,
    path: String,
    database: HostDatabase,
    borg: HostBorg,
}

/// `make_backup` where the data is: on the ssh host when the database and the
/// repository are both there, here otherwise.
pub async fn make_backup(
    settings: &Settings,
    borg: &Borg,
    target: &Target,
    archive: &str,
    printer: &Printer,
) -> anyhow::Result<Backup> {
    match Agent::for_target(settings, target).await? {
        Some(agent) => agent.backup(archive, printer).await,
        None => crate::database::make_backup(borg, target, archive, printer).await,
    }
}

/// `restore::load` of `archive` where the data is (see `make_backup`).
pub async fn load(
    settings: &Settings,
    request: LoadRequest<'_>,
    borg: &Borg,
    archive: &str,
    dump_size: u64,
) -> anyhow::Result<LoadOutcome> {
    match Agent::for_target(settings, request.target).await? {
        Some(agent) => agent.restore(request, archive, dump_size).await,
        None => restore::load(request, DumpSource::borg(borg, archive, dump_size)?).await,
    }
}

/// Ships and tries csi on the host before anything changes (a host that cannot run
/// it refuses the operation here), and says where the data will go.
pub async fn prepare(
    settings: &Settings,
    target: &Target,
    printer: &Printer,
) -> anyhow::Result<()> {
    match Agent::for_target(settings, target).await? {
        Some(agent) => printer.info(&format!(
            "the data stays on {}: csi runs there ({}), the dump never comes to this machine",
            agent.session.destination(),
            agent.path.trim_matches('"')
        )),
        None => {
            if let Some(session) = &settings.transport {
                let side = session.host_side();
                if side.through_client && side.socket_dir.is_some() && side.repository.is_some() {
                    printer.info(&format!(
                        "--through-client: the dump crosses the network twice, {0} -> this machine -> {0}",
                        session.destination()
                    ));
                }
            }
        }
    }
    Ok(())
}

impl<'a> Agent<'a> {
    /// The agent, when both the database and the repository are on the ssh host, the
    /// target is the environment's own database, and `--through-client` was not given.
    pub async fn for_target(
        settings: &'a Settings,
        target: &Target,
    ) -> anyhow::Result<Option<Agent<'a>>> {
        let Some(session) = settings.transport.as_deref() else {
            return Ok(None);
        };
        let side = session.host_side();
        let (Some(socket_dir), Some(repository)) = (&side.socket_dir, &side.repository) else {
            return Ok(None);
        };
        if side.through_client || target.external {
            return Ok(None);
        }
        let path = session
            .agent
            .get_or_try_init(|| async {
                let path = ship(session).await?;
                probe(session, &path).await?;
                anyhow::Ok(path)
            })
            .await?
            .clone();
        Ok(Some(Agent {
            session,
            path,
            database: HostDatabase {
                socket_dir: socket_dir.clone(),
                port: target.port,
                user: target.user.clone(),
                name: target.dbname.clone(),
                schema: target.schema.clone(),
                password: target.password.as_ref().map(|p| p.expose().to_owned()),
            },
            borg: HostBorg {
                repository: repository.clone(),
                remote_path: settings.borg.remote_path.clone(),
                passcommand: settings.borg.passcommand.clone(),
                passphrase: settings
                    .borg
                    .passphrase
                    .as_ref()
                    .map(|p| p.expose().to_owned()),
            },
        }))
    }

    async fn backup(&self, archive: &str, printer: &Printer) -> anyhow::Result<Backup> {
        let task = Task::Backup {
            archive: archive.to_owned(),
        };
        match self.run(task, printer, "the backup").await? {
            Reply::BackedUp(backup) => Ok(backup),
            other => Err(unexpected(&other)),
        }
    }

    async fn restore(
        &self,
        request: LoadRequest<'_>,
        archive: &str,
        dump_size: u64,
    ) -> anyhow::Result<LoadOutcome> {
        let task = Task::Restore {
            archive: archive.to_owned(),
            dump_size,
            source_db: request.source_db.to_owned(),
            mode: request.mode,
        };
        match self.run(task, request.printer, "the restore").await? {
            Reply::Restored(outcome) => Ok(outcome),
            other => Err(unexpected(&other)),
        }
    }

    async fn run(&self, task: Task, printer: &Printer, what: &str) -> anyhow::Result<Reply> {
        let request = Request {
            database: self.database.clone(),
            borg: self.borg.clone(),
            task,
        };
        let (reply, finished) = exchange(self.session, &self.path, &request, Some(printer)).await?;
        match reply {
            Some(Reply::Failed {
                exit_code,
                message,
                hint,
            }) => Err(reported_error(exit_code, message, hint).into()),
            Some(reply) => Ok(reply),
            None => Err(lost(self.session, &finished, what).into()),
        }
    }
}

/// Runs csi on the host once with an empty request: it must answer.
async fn probe(session: &Session, path: &str) -> anyhow::Result<()> {
    let request = Request {
        database: HostDatabase {
            socket_dir: String::new(),
            port: None,
            user: None,
            name: String::new(),
            schema: String::new(),
            password: None,
        },
        borg: HostBorg {
            repository: String::new(),
            remote_path: None,
            passcommand: None,
            passphrase: None,
        },
        task: Task::Probe,
    };
    let (reply, finished) = exchange(session, path, &request, None).await?;
    if matches!(reply, Some(Reply::Probed { .. })) {
        tracing::info!("csi runs on {}", session.destination());
        return Ok(());
    }
    if finished.status.code() == Some(255) {
        return Err(session
            .failure(&finished.stderr_tail, "starting csi on the host")
            .into());
    }
    let said = crate::ssh::one_line(&finished.stderr_tail);
    let said = if said.is_empty() {
        crate::process::describe_status(finished.status)
    } else {
        said
    };
    Err(precondition(format!(
        "csi cannot run on {} ({said}), where it would extract and load the data; pass --through-client to stream it through this machine instead (slower), or set CSI_AGENT_BINARY to a csi built for that host",
        session.destination()
    ))
    .into())
}

/// One request, one reply: the request on the agent's stdin (kept open: its end tells
/// the agent to stop), its stderr printed as it comes, its reply read from stdout.
async fn exchange(
    session: &Session,
    path: &str,
    request: &Request,
    printer: Option<&Printer>,
) -> anyhow::Result<(Option<Reply>, crate::process::Finished)> {
    let verbosity = match printer.map(|p| p.verbosity) {
        Some(Verbosity::Quiet) => " -q",
        Some(Verbosity::Verbose) => " -v",
        _ => "",
    };
    let forward = printer.cloned();
    let mut child = session
        .remote(&format!("exec {path} --no-color{verbosity} agent"))
        .spawn_piped(true, true, move |line| match &forward {
            Some(printer) => match line.strip_prefix("warning: ") {
                Some(warning) => printer.warn(warning),
                None => printer.info(line),
            },
            None => tracing::info!("csi on the host: {line}"),
        })?;
    let mut stdin = child.take_stdin();
    let stdout = child.stdout_pipe()?;
    let line = serde_json::to_string(request)?;
    if let Some(pipe) = stdin.as_mut() {
        // A host that cannot start csi closes the pipe: said by what follows.
        let _ = writeln!(pipe, "{line}").and_then(|()| pipe.flush());
    }
    let (reply_tx, mut reply_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut first);
        let _ = reply_tx.send(first);
    });
    let mut signals = crate::interrupt::subscribe();
    let mut interrupted = crate::interrupt::received();
    if interrupted.is_some() {
        stdin = None;
    }
    let text = loop {
        tokio::select! {
            text = &mut reply_rx => break text.unwrap_or_default(),
            Ok(()) = signals.changed(), if interrupted.is_none() => {
                interrupted = *signals.borrow();
                if let Some(printer) = printer {
                    printer.warn(&format!("interrupted: stopping csi on {}", session.destination()));
                }
                // The end of its stdin stops the agent, as its connection's end would.
                stdin = None;
            }
        }
    };
    drop(stdin);
    let finished = child.wait().await?;
    let reply = (!text.trim().is_empty())
        .then(|| serde_json::from_str::<Reply>(&text))
        .transpose()
        .map_err(|e| {
            failed(format!(
                "csi on {} answered something else than a reply: {e}",
                session.destination()
            ))
        })?;
    Ok((reply, finished))
}

/// The agent ended without a reply: the connection dropped, or it died.
fn lost(session: &Session, finished: &crate::process::Finished, what: &str) -> CsiError {
    let said = crate::ssh::one_line(&finished.stderr_tail);
    let status = crate::process::describe_status(finished.status);
    CsiError::new(
        Kind::Failed,
        format!(
            "the connection to csi on {} ended before {what} reported its result ({status}{}); csi there stops before COMMIT when its connection ends, so nothing was changed unless it had committed already",
            session.destination(),
            if said.is_empty() { String::new() } else { format!(": {said}") }
        ),
    )
    .with_hint("check the connection (csi env check <env>) and run the command again")
}

fn unexpected(reply: &Reply) -> anyhow::Error {
    let name = match reply {
        Reply::Probed { .. } => "a probe",
        Reply::BackedUp(_) => "a backup",
        Reply::Restored(_) => "a restore",
        Reply::Failed { .. } => "a failure",
    };
    failed(format!(
        "csi on the host answered with {name}, not what was asked"
    ))
    .into()
}
