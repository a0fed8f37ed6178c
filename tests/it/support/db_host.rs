//! Production's database host on one machine: reachable only by ssh (a real sshd on
//! loopback, throwaway keys), its PostgreSQL listening on a unix socket only with
//! peer authentication (as Debian's defaults: the role is the ssh login's name), its
//! borg repository owned by another user (`postgres` here, root on tf-tutu) and read
//! through `BORG_REMOTE_PATH` switching to that user (`sudo borg` on tf-tutu; this
//! machine has runuser, not sudo).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::postgres::TestPostgres;
use super::sshd::TestSshd;

/// The user the repository belongs to, and what csi runs on the host to read it.
pub const REPO_OWNER: &str = "postgres";
pub const REMOTE_BORG: &str = "runuser -u postgres -- borg";

pub struct DbHost {
    pub sshd: TestSshd,
    /// The ssh login, which is also the database role (peer authentication).
    pub login: String,
}

impl DbHost {
    /// Turns `pg` into a unix-socket-only cluster with peer authentication, gives the
    /// repository at `repo` to REPO_OWNER, and starts the host's sshd.
    pub fn new(pg: &mut TestPostgres, repo: &Path) -> DbHost {
        let sshd = TestSshd::start();
        let login = sshd.user.clone();
        pg.psql(
            "postgres",
            &format!(
                "CREATE ROLE \"{login}\" SUPERUSER LOGIN; ALTER SYSTEM SET listen_addresses = '';"
            ),
        );
        let data = pg.data_dir();
        std::fs::write(
            data.join("pg_hba.conf"),
            "# the database host: local connections only, peer authentication\n\
             local all all peer map=host\n",
        )
        .unwrap();
        // The test itself (root) may also act as postgres, for its own inspections.
        std::fs::write(
            data.join("pg_ident.conf"),
            format!("host {login} {login}\nhost {login} postgres\nhost postgres postgres\n"),
        )
        .unwrap();
        restart(pg);
        pg.use_unix_socket();
        let host = DbHost { sshd, login };
        host.give_repository(repo);
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", pg.port())).is_err(),
            "PostgreSQL still listens on 127.0.0.1:{}",
            pg.port()
        );
        host
    }

    /// The repository (and its folder) belong to REPO_OWNER again, after the test
    /// added archives to it as root.
    pub fn give_repository(&self, repo: &Path) {
        let parent = repo.parent().unwrap();
        run(Command::new("chmod").arg("0755").arg(parent));
        run(Command::new("chown")
            .arg("-R")
            .arg(format!("{REPO_OWNER}:"))
            .arg(repo));
        run(Command::new("chmod").arg("0700").arg(repo));
    }

    /// The environment's `ssh` block, as prod's names tf-tutu.
    pub fn ssh_block(&self, known_hosts: &Path, identity: &Path) -> String {
        format!(
            r#"  ssh {{
    host             = "127.0.0.1"
    port             = {port}
    user             = "{login}"
    identity_file    = "{identity}"
    known_hosts_file = "{known_hosts}"
  }}
"#,
            port = self.sshd.port(),
            login = self.login,
            identity = identity.display(),
            known_hosts = known_hosts.display(),
        )
    }

    /// A key the host does not accept.
    pub fn stranger_key(&self) -> PathBuf {
        let path = self.sshd.dir().join("stranger_key");
        if !path.exists() {
            run(Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "stranger", "-f"])
                .arg(&path));
        }
        path
    }

    /// Cuts every ssh connection to the host (the server side of each dies), as a
    /// network failure would.
    pub fn drop_connections(&self) -> usize {
        let listener = self.sshd.pid().to_string();
        let mut killed = 0;
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
                continue;
            };
            let ppid = status
                .lines()
                .find_map(|l| l.strip_prefix("PPid:"))
                .map(str::trim);
            if ppid == Some(listener.as_str()) {
                let pid = entry.file_name().to_string_lossy().into_owned();
                run(Command::new("kill").args(["-KILL", &pid]));
                killed += 1;
            }
        }
        killed
    }
}

/// The environment reaching both the database and the repository through the host.
pub fn environment_config(
    name: &str,
    host: &DbHost,
    pg: &TestPostgres,
    repo: &Path,
    known_hosts: &Path,
    identity: &Path,
) -> String {
    format!(
        r#"
environment "{name}" {{
  terraform {{
    dir                    = "/nonexistent"
    configuration_var_file = "c.tfvars"
    secrets_var_file       = "s.tfvars"
  }}
  nomad {{
    address = "http://127.0.0.1:9"
  }}
{ssh}  database {{
    over_ssh   = true
    socket_dir = "{socket_dir}"
    port       = {port}
    user       = "{login}"
    name       = "postgres"
  }}
  borg {{
    over_ssh    = true
    repository  = "{repo}"
    remote_path = "{REMOTE_BORG}"
  }}
}}
"#,
        ssh = host.ssh_block(known_hosts, identity),
        socket_dir = pg.dir().display(),
        port = pg.port(),
        login = host.login,
        repo = repo.display(),
    )
}

fn restart(pg: &TestPostgres) {
    let script = super::postgres::pg_cluster_script();
    for args in [
        vec!["stop".to_owned(), pg.dir().display().to_string()],
        vec![
            "start".to_owned(),
            pg.dir().display().to_string(),
            pg.port().to_string(),
        ],
    ] {
        run(Command::new("bash")
            .env("PG_BINDIR", super::postgres::server_bindir())
            .arg(&script)
            .args(&args));
    }
}

fn run(cmd: &mut Command) {
    let output = cmd.stdin(Stdio::null()).output().expect("run a command");
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Files in `dir` (recursively) not owned by `user`.
pub fn not_owned_by(dir: &Path, user: &str) -> Vec<String> {
    let output = Command::new("find")
        .arg(dir)
        .arg("!")
        .args(["-user", user])
        .output()
        .expect("find");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}
