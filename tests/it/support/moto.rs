//! A real S3 (and DynamoDB) server for the tests: moto's server from PyPI, installed
//! by scripts/bootstrap.sh into tools/moto, started here on 127.0.0.1 and a free port.
//! tofu's own S3 backend and rclone talk to it as they would to the object store.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::postgres::repo_root;

pub const ACCESS_KEY: &str = "csi-test-access";
pub const SECRET_KEY: &str = "csi-test-secret-d0d0cafe";
pub const REGION: &str = "us-east-1";

pub struct Moto {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

fn venv_bin(name: &str) -> PathBuf {
    let path = repo_root().join("tools/moto/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/bootstrap.sh (it installs moto[server] into tools/moto)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Moto {
    pub fn start() -> Moto {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("moto.log")).unwrap();
        let port = free_port();
        let child = Command::new(venv_bin("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start moto_server");
        let moto = Moto {
            child,
            port,
            _dir: dir,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not listen on 127.0.0.1:{port} within 30s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs a few lines of Python with `s3` and `ddb` (boto3 clients on this server).
    pub fn python(&self, code: &str) -> String {
        let prelude = format!(
            "import boto3, sys\nkw = dict(endpoint_url='{}', region_name='{REGION}', aws_access_key_id='{ACCESS_KEY}', aws_secret_access_key='{SECRET_KEY}')\ns3 = boto3.client('s3', **kw)\nddb = boto3.client('dynamodb', **kw)\n",
            self.endpoint()
        );
        let output = Command::new(venv_bin("python"))
            .arg("-c")
            .arg(format!("{prelude}{code}"))
            .env_remove("AWS_CA_BUNDLE")
            .output()
            .expect("run python");
        assert!(
            output.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn create_bucket(&self, bucket: &str) {
        self.python(&format!("s3.create_bucket(Bucket='{bucket}')"));
    }

    /// The lock table OpenTofu 1.6's S3 backend writes to (hash key `LockID`).
    pub fn create_lock_table(&self, table: &str) {
        self.python(&format!(
            "ddb.create_table(TableName='{table}', KeySchema=[{{'AttributeName': 'LockID', 'KeyType': 'HASH'}}], AttributeDefinitions=[{{'AttributeName': 'LockID', 'AttributeType': 'S'}}], BillingMode='PAY_PER_REQUEST')"
        ));
    }

    pub fn put(&self, bucket: &str, key: &str, body: &str) {
        self.python(&format!(
            "s3.put_object(Bucket='{bucket}', Key='{key}', Body=b'{body}')"
        ));
    }

    /// An object's bytes as hex (empty when absent), to compare before and after.
    pub fn get_hex(&self, bucket: &str, key: &str) -> String {
        self.python(&format!(
            "try:\n    print(s3.get_object(Bucket='{bucket}', Key='{key}')['Body'].read().hex())\nexcept s3.exceptions.NoSuchKey:\n    print('')"
        ))
        .trim()
        .to_owned()
    }

    /// The variables tofu and rclone read: the credentials, and an rclone remote `csi`
    /// on this server (the name the apply script used).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("RCLONE_CONFIG_CSI_TYPE", "s3".into()),
            ("RCLONE_CONFIG_CSI_PROVIDER", "Other".into()),
            ("RCLONE_CONFIG_CSI_ENDPOINT", self.endpoint()),
            ("RCLONE_CONFIG_CSI_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("RCLONE_CONFIG_CSI_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("RCLONE_CONFIG", "/dev/null".into()),
        ]
    }

    /// A `-backend-config` file for the S3 backend on this server.
    pub fn backend_file(&self, bucket: &str, key: &str, table: &str) -> String {
        format!(
            "bucket = \"{bucket}\"\nkey = \"{key}\"\nregion = \"{REGION}\"\nendpoints = {{\n  s3       = \"{e}\"\n  dynamodb = \"{e}\"\n}}\ndynamodb_table = \"{table}\"\n{}",
            Self::BACKEND_COMMON,
            e = self.endpoint()
        )
    }

    /// The S3 backend locking in the bucket itself (`use_lockfile`, a `.tflock` object
    /// written with `If-None-Match: *`; Terraform and OpenTofu 1.10+), no DynamoDB.
    /// `lockfile = false`: the same state with no locking, for older binaries seeding it.
    pub fn backend_file_in_bucket(&self, bucket: &str, key: &str, lockfile: bool) -> String {
        format!(
            "bucket = \"{bucket}\"\nkey = \"{key}\"\nregion = \"{REGION}\"\nendpoints = {{\n  s3 = \"{e}\"\n}}\n{}{}",
            Self::BACKEND_COMMON,
            if lockfile { "use_lockfile = true\n" } else { "" },
            e = self.endpoint()
        )
    }

    const BACKEND_COMMON: &'static str = "use_path_style = true\nskip_credentials_validation = true\nskip_region_validation = true\nskip_requesting_account_id = true\nskip_metadata_api_check = true\nskip_s3_checksum = true\n";
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
