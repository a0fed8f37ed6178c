//! A real TLS server in front of the Nomad double: stunnel (OpenSSL), with
//! certificates made by the `openssl` command line in a temporary folder: a CA, server
//! certificates for the names and addresses a test chooses, a client certificate for
//! mutual TLS.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The certificates of one test.
pub struct Pki {
    dir: tempfile::TempDir,
}

/// A certificate and its key (PEM files).
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    pub fn new() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
        };
        let ca_ext = [
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ];
        new_key(
            pki.dir(),
            &["-x509", "-days", "2"],
            "ca",
            "/CN=csi test CA",
            &ca_ext,
        );
        pki
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn ca(&self) -> PathBuf {
        self.dir().join("ca.pem")
    }

    /// A certificate signed by the CA, for `san` (`DNS:name,IP:127.0.0.1`) and
    /// `usage` (`serverAuth` or `clientAuth`).
    pub fn issue(&self, name: &str, san: &str, usage: &str) -> Pair {
        let ext = self.dir().join(format!("{name}.ext"));
        std::fs::write(
            &ext,
            format!("subjectAltName={san}\nextendedKeyUsage={usage}\nbasicConstraints=CA:FALSE\n"),
        )
        .unwrap();
        new_key(self.dir(), &[], name, &format!("/CN={name}"), &[]);
        let (csr, cert) = (format!("{name}.csr"), format!("{name}.pem"));
        let ca = [
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
        ];
        let mut args = vec!["x509", "-req", "-in", &csr, "-out", &cert];
        args.extend_from_slice(&ca);
        args.extend_from_slice(&["-extfile", ext.to_str().unwrap()]);
        openssl(self.dir(), &args);
        Pair {
            cert: self.dir().join(cert),
            key: self.dir().join(format!("{name}.key")),
        }
    }
}

/// `openssl req -newkey ec (P-256) -nodes`: `name.key` and, with `-x509`, the
/// self-signed `name.pem`, else the request `name.csr`.
fn new_key(dir: &Path, mode: &[&str], name: &str, subject: &str, extra: &[&str]) {
    let key = format!("{name}.key");
    let out = if mode.contains(&"-x509") {
        format!("{name}.pem")
    } else {
        format!("{name}.csr")
    };
    let mut args = vec!["req"];
    args.extend_from_slice(mode);
    args.extend_from_slice(&["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]);
    args.extend_from_slice(&["-nodes", "-keyout", &key, "-out", &out, "-subj", subject]);
    args.extend_from_slice(extra);
    openssl(dir, &args);
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// stunnel accepting TLS on a free loopback port and forwarding to `target`.
pub struct Stunnel {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Stunnel {
    /// `client_ca`: the server requires a client certificate signed by it.
    pub fn start(target: u16, server: &Pair, client_ca: Option<&Path>) -> Stunnel {
        let binary = ["/usr/bin/stunnel4", "/usr/bin/stunnel"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("stunnel not found: run scripts/bootstrap.sh (stunnel4)");
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let verify = client_ca
                .map(|ca| {
                    format!(
                        "CAfile = {}\nverifyChain = yes\nrequireCert = yes\n",
                        ca.display()
                    )
                })
                .unwrap_or_default();
            let config = dir.path().join("stunnel.conf");
            std::fs::write(
                &config,
                format!(
                    "foreground = yes\npid =\ndebug = 5\noutput = {log}\n\n[nomad]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{target}\ncert = {cert}\nkey = {key}\n{verify}",
                    log = dir.path().join("stunnel.log").display(),
                    cert = server.cert.display(),
                    key = server.key.display(),
                ),
            )
            .unwrap();
            let mut child = Command::new(binary)
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start stunnel");
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Stunnel { child, port, dir };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "stunnel did not start: {}",
            std::fs::read_to_string(dir.path().join("stunnel.log")).unwrap_or_default()
        );
    }

    pub fn address(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stunnel.log")).unwrap_or_default()
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
