//! A real OpenSSH server on a free loopback port, run as the current user with its own
//! configuration, a throwaway host key and a throwaway client key, all in a temporary
//! folder. `known_hosts` holds the server's key, as an operator would after checking it.

use std::fs::File;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

pub struct TestSshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
    pub client_key: PathBuf,
    pub known_hosts: PathBuf,
    pub user: String,
}

/// What the sessions' PATH offers: the only way to run a login shell's tools.
const SESSION_TOOLS: &[&str] = &[
    "sh", "bash", "mv", "rm", "mkdir", "tar", "gzip", "xz", "cat", "wc", "uname", "mktemp",
    "touch", "ls", "printf", "perl",
];

impl TestSshd {
    pub fn start() -> TestSshd {
        TestSshd::start_with_tools(None)
    }

    /// A server whose sessions have no perl on their PATH: a web host where csi cannot
    /// exchange two folders atomically.
    pub fn start_without_perl() -> TestSshd {
        let tools: Vec<&str> = SESSION_TOOLS
            .iter()
            .copied()
            .filter(|t| *t != "perl")
            .collect();
        TestSshd::start_with_tools(Some(&tools))
    }

    fn start_with_tools(tools: Option<&[&str]>) -> TestSshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} not found: run scripts/bootstrap.sh (openssh-server)"
        );
        privilege_separation_dir();
        let mut dir = tempfile::tempdir().expect("temp dir");
        let host_key = keygen(dir.path(), "host_key");
        let client_key = keygen(dir.path(), "client_key");
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        let session_path = tools.map(|tools| session_bin(dir.path(), tools));
        for _ in 0..5 {
            let port = free_port();
            let config = write_config(dir.path(), port, &host_key, session_path.as_deref());
            let log = File::create(dir.path().join("sshd.log")).unwrap();
            let child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start sshd");
            let mut sshd = TestSshd {
                known_hosts: dir.path().join("known_hosts"),
                client_key: client_key.clone(),
                user: current_user(),
                port,
                child,
                dir,
            };
            if sshd.wait_ready() {
                sshd.write_known_hosts(&host_key);
                return sshd;
            }
            let _ = sshd.child.kill();
            let _ = sshd.child.wait();
            dir = std::mem::replace(&mut sshd.dir, tempfile::tempdir().unwrap());
        }
        panic!("sshd did not start");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The listening sshd (each connection is served by a child of it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// A known_hosts file that pins another key for this server (a host that changed,
    /// or a man in the middle).
    pub fn wrong_known_hosts(&self) -> PathBuf {
        let other = keygen(self.dir.path(), "other_host_key");
        let path = self.dir.path().join("wrong_known_hosts");
        std::fs::write(&path, known_hosts_line(self.port, &other)).unwrap();
        path
    }

    /// Waits for the SSH banner: sshd listens and answers.
    fn wait_ready(&mut self) -> bool {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                stream
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .unwrap();
                let mut banner = [0u8; 8];
                if stream.read_exact(&mut banner).is_ok() && banner.starts_with(b"SSH-") {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// A known_hosts file pinning this server's key for `port` (a forwarder's).
    pub fn known_hosts_for_port(&self, port: u16) -> PathBuf {
        let path = self.dir.path().join(format!("known_hosts_{port}"));
        std::fs::write(
            &path,
            known_hosts_line(port, &self.dir.path().join("host_key")),
        )
        .unwrap();
        path
    }

    fn write_known_hosts(&self, host_key: &Path) {
        std::fs::write(&self.known_hosts, known_hosts_line(self.port, host_key)).unwrap();
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn known_hosts_line(port: u16, host_key: &Path) -> String {
    let public = std::fs::read_to_string(host_key.with_extension("pub")).unwrap();
    let mut words = public.split_whitespace();
    let (kind, key) = (words.next().unwrap(), words.next().unwrap());
    format!("[127.0.0.1]:{port} {kind} {key}\n")
}

/// sshd started by root insists on its privilege separation folder, which the
/// distribution's service normally creates at boot.
fn privilege_separation_dir() {
    let run = Path::new("/run/sshd");
    if nix::unistd::geteuid().is_root() && !run.exists() {
        std::fs::create_dir_all(run).expect("create /run/sshd");
    }
}

fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "csi-test", "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen failed");
    path
}

/// A folder of links to `tools` only, for the sessions' PATH.
fn session_bin(dir: &Path, tools: &[&str]) -> PathBuf {
    let bin = dir.join("session-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in tools {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists());
        if let Some(found) = found {
            std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
        }
    }
    bin
}

fn write_config(dir: &Path, port: u16, host_key: &Path, session_path: Option<&Path>) -> PathBuf {
    let path = dir.join("sshd_config");
    // csi's cache of its own binary on the host (~/.cache/csi) stays in the test's
    // folder (one SetEnv line: sshd keeps the first of a keyword).
    let session_path = session_path
        .map(|bin| format!(" PATH={}", bin.display()))
        .unwrap_or_default();
    let set_env = format!(
        "SetEnv XDG_CACHE_HOME={}/cache{session_path}\n",
        dir.display()
    );
    let text = format!(
        "Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {host_key}\n\
         PidFile {dir}/sshd.pid\n\
         AuthorizedKeysFile {dir}/authorized_keys\n\
         UsePAM no\n\
         StrictModes no\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\n\
         LogLevel VERBOSE\n\
         {set_env}",
        host_key = host_key.display(),
        dir = dir.display(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn current_user() -> String {
    let output = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// A TCP forwarder on a free loopback port to `target`, counting every byte it
/// carries either way: what the network between csi and a host would see.
pub struct CountingProxy {
    pub port: u16,
    bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl CountingProxy {
    pub fn start(target: u16) -> CountingProxy {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::Arc;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bytes = Arc::new(AtomicU64::new(0));
        let counted = bytes.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let counted = counted.clone();
                    std::thread::spawn(move || {
                        let mut buffer = [0u8; 65536];
                        loop {
                            match from.read(&mut buffer) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    counted.fetch_add(n as u64, Ordering::SeqCst);
                                    if std::io::Write::write_all(&mut to, &buffer[..n]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        CountingProxy { port, bytes }
    }

    /// Bytes carried so far, both ways.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(std::sync::atomic::Ordering::SeqCst)
    }
}
