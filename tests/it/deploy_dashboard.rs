//! `csi env deploy-dashboard`: deploys and rollbacks against a real sshd on loopback
//! (throwaway keys, strict host key checking), the "web host" folders in a temporary
//! directory, and a small web server serving the live folder for verification.

use crate::support;

use std::path::{Path, PathBuf};

use support::csi::{Run, TestEnv};
use support::http::StaticServer;
use support::pty::answer_prompt;
use support::sshd::TestSshd;

struct Bed {
    sshd: TestSshd,
    env: TestEnv,
    /// The web host's /var/www.
    www: PathBuf,
    _scratch: tempfile::TempDir,
    live_name: String,
}

#[derive(Clone, Copy)]
enum Verify<'a> {
    /// verify_url = the test server's URL for this path (relative to the live folder).
    Url(&'a str),
    /// No verify_url: the index file is compared on the web host.
    OnHost,
}

fn bed(keep: u32, verify: Verify, live_name: &str) -> Bed {
    bed_on(TestSshd::start(), keep, verify, live_name)
}

fn bed_on(sshd: TestSshd, keep: u32, verify: Verify, live_name: &str) -> Bed {
    let scratch = tempfile::tempdir().unwrap();
    let www = scratch.path().join("www");
    std::fs::create_dir_all(www.join("temp")).unwrap();
    let live = www.join(live_name);
    let web = StaticServer::start(&live);
    let verify_line = match verify {
        Verify::Url(path) => format!("verify_url = \"{}\"", web.url(path)),
        Verify::OnHost => String::new(),
    };
    let config = format!(
        r#"
environment "sandbox" {{
  terraform {{
    dir                    = "/nonexistent"
    configuration_var_file = "c.tfvars"
    secrets_var_file       = "s.tfvars"
  }}
  nomad {{
    address = "http://127.0.0.1:9"
  }}
  database {{
    host = "127.0.0.1"
    port = 9
  }}
  borg {{
    repository = "/nonexistent"
  }}
  dashboard {{
    host             = "127.0.0.1"
    user             = "{user}"
    port             = {port}
    identity_file    = "{key}"
    known_hosts_file = "{known_hosts}"
    temp_dir         = "{temp}"
    live_dir         = "{live}"
    keep             = {keep}
    {verify_line}
  }}
}}
"#,
        user = sshd.user,
        port = sshd.port(),
        key = sshd.client_key.display(),
        known_hosts = sshd.known_hosts.display(),
        temp = www.join("temp").display(),
        live = hcl_escape(&live.display().to_string()),
    );
    let env = TestEnv::new(&config);
    Bed {
        sshd,
        env,
        www,
        _scratch: scratch,
        live_name: live_name.to_owned(),
    }
}

fn hcl_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

impl Bed {
    fn csi(&self, args: &[&str]) -> Run {
        self.env.csi(args)
    }

    fn deploy(&self, dist: &Path) -> Run {
        self.csi(&[
            "env",
            "deploy-dashboard",
            "sandbox",
            dist.to_str().unwrap(),
            "--yes",
        ])
    }

    fn rollback(&self) -> Run {
        self.csi(&["env", "deploy-dashboard", "sandbox", "--rollback", "--yes"])
    }

    fn live(&self) -> PathBuf {
        self.www.join(&self.live_name)
    }

    /// The version in a folder beside the live one ("" is the live folder itself).
    fn version(&self, suffix: &str) -> Option<String> {
        let dir = self.www.join(format!("{}{suffix}", self.live_name));
        std::fs::read_to_string(dir.join("index.html")).ok()
    }

    /// Every name in www/ and www/temp/, sorted.
    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.www)
            .unwrap()
            .chain(std::fs::read_dir(self.www.join("temp")).unwrap())
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn journal(&self) -> String {
        std::fs::read_to_string(self.env.state_dir.join("sandbox/journal.jsonl"))
            .unwrap_or_default()
    }
}

fn index_of(version: u32) -> String {
    format!("<!doctype html><title>HR-S&I dashboard</title><p>version {version}</p>\n")
}

/// A build output folder like the dashboard's `dist/`.
fn dist(root: &Path, version: u32) -> PathBuf {
    let dir = root.join(format!("dist-{version}"));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), index_of(version)).unwrap();
    std::fs::write(
        dir.join("assets/app.js"),
        format!("console.log({version});\n").repeat(2000),
    )
    .unwrap();
    dir
}

/// A gzipped tarball of a build, wrapped in a `dist/` folder as `tar czf x.tgz dist` makes.
fn tarball(root: &Path, version: u32) -> PathBuf {
    let staging = root.join(format!("staging-{version}"));
    let built = dist(&staging, version);
    std::fs::rename(&built, staging.join("dist")).unwrap();
    let archive = root.join(format!("dashboard-{version}.tar.gz"));
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(&staging)
        .args(["-czf"])
        .arg(&archive)
        .arg("./dist")
        .status()
        .unwrap();
    assert!(status.success());
    archive
}

/// The live folder as the runbook left it: a real folder with version 1.
fn seed_live(bed: &Bed) {
    let built = dist(&bed.www.join("seed"), 1);
    std::fs::rename(&built, bed.live()).unwrap();
    std::fs::remove_dir_all(bed.www.join("seed")).unwrap();
}

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "{}", run.all_output());
}

#[test]
fn deploys_rotate_the_kept_versions_and_rollback_swaps_back() {
    let bed = bed(1, Verify::Url("index.html"), "html");
    seed_live(&bed);
    let builds = tempfile::tempdir().unwrap();

    // A directory: v1 becomes html.prev.
    let run = bed.deploy(&dist(builds.path(), 2));
    ok(&run);
    assert_eq!(bed.version("").unwrap(), index_of(2));
    assert_eq!(bed.version(".prev").unwrap(), index_of(1));
    assert!(run.stdout.contains("atomic rename"), "{}", run.stdout);

    // A wrapped tarball: v2 -> html.prev, v1 -> html.prev.1.
    let run = bed.deploy(&tarball(builds.path(), 3));
    ok(&run);
    assert!(
        run.stdout.contains("keep        html.prev -> html.prev.1"),
        "{}",
        run.stdout
    );
    assert_eq!(bed.version("").unwrap(), index_of(3));
    assert_eq!(bed.version(".prev").unwrap(), index_of(2));
    assert_eq!(bed.version(".prev.1").unwrap(), index_of(1));
    assert_eq!(
        std::fs::read_to_string(bed.live().join("assets/app.js")).unwrap(),
        "console.log(3);\n".repeat(2000)
    );

    // keep = 1: v1 falls off once v4 is verified; nothing else is left behind.
    let run = bed.deploy(&dist(builds.path(), 4));
    ok(&run);
    assert!(
        run.stdout.contains("delete      html.prev.1"),
        "{}",
        run.stdout
    );
    assert_eq!(bed.version("").unwrap(), index_of(4));
    assert_eq!(bed.version(".prev").unwrap(), index_of(3));
    assert_eq!(bed.version(".prev.1").unwrap(), index_of(2));
    assert_eq!(bed.listing(), ["html", "html.prev", "html.prev.1", "temp"]);

    // Rollback: v3 is served again, v4 becomes html.prev; a second one returns to v4.
    let run = bed.rollback();
    ok(&run);
    assert_eq!(bed.version("").unwrap(), index_of(3));
    assert_eq!(bed.version(".prev").unwrap(), index_of(4));
    assert_eq!(bed.version(".prev.1").unwrap(), index_of(2));
    ok(&bed.rollback());
    assert_eq!(bed.version("").unwrap(), index_of(4));

    let journal = bed.journal();
    for needle in [
        "\"deploy-dashboard\"",
        "\"uploaded\"",
        "\"unpacked\"",
        "\"swapped\"",
        "\"verified\"",
        "\"pruned\"",
        "\"deploy-dashboard-rollback\"",
    ] {
        assert!(
            journal.contains(needle),
            "{needle} not journaled:\n{journal}"
        );
    }
}

#[test]
fn a_version_that_is_not_served_is_put_back_with_exit_6() {
    // The URL serves nothing: the new version can never be verified.
    let bed = bed(3, Verify::Url("not-there.html"), "html");
    seed_live(&bed);
    let builds = tempfile::tempdir().unwrap();
    std::fs::create_dir(bed.www.join("html.prev")).unwrap();
    std::fs::write(bed.www.join("html.prev/index.html"), index_of(0)).unwrap();
    let before = bed.listing();

    let run = bed.deploy(&dist(builds.path(), 2));
    assert_eq!(run.code, 6, "{}", run.all_output());
    assert!(run.stderr.contains("404"), "{}", run.stderr);
    assert!(
        run.stderr.contains("the previous version is live again"),
        "{}",
        run.stderr
    );
    assert_eq!(bed.version("").unwrap(), index_of(1));
    assert_eq!(bed.version(".prev").unwrap(), index_of(0));
    assert_eq!(bed.listing(), before, "folders left behind");
    assert!(
        bed.journal().contains("\"rolled_back\""),
        "{}",
        bed.journal()
    );
    assert!(
        bed.journal().contains("\"outcome\":\"rolled_back\""),
        "{}",
        bed.journal()
    );
}

#[test]
fn without_a_url_the_index_is_compared_on_the_host_and_odd_names_are_safe() {
    let name = "it's a $(odd) html";
    let bed = bed(3, Verify::OnHost, name);
    let builds = tempfile::tempdir().unwrap();

    // First deploy: there is no live folder yet.
    let run = bed.deploy(&dist(builds.path(), 1));
    ok(&run);
    assert!(
        run.stdout.contains("no it's a $(odd) html yet"),
        "{}",
        run.stdout
    );
    let run = bed.deploy(&tarball(builds.path(), 2));
    ok(&run);
    assert!(
        run.stdout.contains("equals the new index file"),
        "{}",
        run.stdout
    );
    assert_eq!(bed.version("").unwrap(), index_of(2));
    assert_eq!(bed.version(".prev").unwrap(), index_of(1));
}

#[test]
fn a_dry_run_shows_the_plan_and_changes_nothing() {
    let bed = bed(0, Verify::Url("index.html"), "html");
    seed_live(&bed);
    std::fs::create_dir(bed.www.join("html.prev")).unwrap();
    let builds = tempfile::tempdir().unwrap();
    let build = dist(builds.path(), 2);
    let before = bed.listing();

    let run = bed.csi(&[
        "env",
        "deploy-dashboard",
        "sandbox",
        build.to_str().unwrap(),
        "--dry-run",
    ]);
    ok(&run);
    for needle in [
        "directory, 2 files",
        "upload to   ",
        "unpack into ",
        "html <-> html.new-",
        "delete      html.prev (beyond keep, once verified)",
        "verify      GET http://127.0.0.1:",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle} missing:\n{}",
            run.stdout
        );
    }
    assert_eq!(bed.listing(), before);

    // Without a terminal and without --yes: refused before anything changes.
    let run = bed.csi(&[
        "env",
        "deploy-dashboard",
        "sandbox",
        build.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 3, "{}", run.all_output());
    assert_eq!(bed.listing(), before);
    assert_eq!(bed.version("").unwrap(), index_of(1));
    assert!(bed.journal().is_empty(), "{}", bed.journal());
}

#[test]
fn a_web_host_with_another_key_is_refused_before_anything_is_sent() {
    let bed = bed(3, Verify::Url("index.html"), "html");
    seed_live(&bed);
    let wrong = bed.sshd.wrong_known_hosts();
    std::fs::copy(&wrong, &bed.sshd.known_hosts).unwrap();
    let builds = tempfile::tempdir().unwrap();
    let before = bed.listing();

    let run = bed.deploy(&dist(builds.path(), 2));
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains("Host key verification failed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: the web host's key is not the one in"),
        "{}",
        run.stderr
    );
    assert_eq!(bed.listing(), before);
    assert!(
        !bed.sshd.log().contains("Accepted publickey"),
        "{}",
        bed.sshd.log()
    );
}

#[test]
fn builds_without_an_index_and_rollbacks_without_a_previous_version_are_refused() {
    let bed = bed(3, Verify::Url("index.html"), "html");
    seed_live(&bed);
    let builds = tempfile::tempdir().unwrap();
    let build = dist(builds.path(), 2);
    std::fs::remove_file(build.join("index.html")).unwrap();
    let before = bed.listing();

    let run = bed.deploy(&build);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr.contains("has no index.html at its top"),
        "{}",
        run.stderr
    );

    let not_a_tarball = builds.path().join("notes.txt");
    std::fs::write(&not_a_tarball, "hello").unwrap();
    let run = bed.deploy(&not_a_tarball);
    assert_eq!(run.code, 2, "{}", run.all_output());
    assert!(
        run.stderr.contains("neither a directory nor a tarball"),
        "{}",
        run.stderr
    );

    let run = bed.rollback();
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("html.prev on the web host to roll back to"),
        "{}",
        run.stderr
    );
    assert_eq!(bed.listing(), before);
}

#[test]
fn odd_remote_paths_are_refused_when_the_configuration_is_read() {
    let cases = [
        ("live_dir = \"relative/html\"", "not an absolute path"),
        (
            "live_dir = \"/var/www/html\\nrm -rf /\"",
            "control character",
        ),
        ("temp_dir = \"/var/www/../tmp\"", "not a normalised path"),
        ("live_dir = \"/\"", "`/` cannot be used"),
        ("index = \"a/index.html\"", "is not a file name"),
        ("host = \"-oProxyCommand=x\"", "not usable as an ssh host"),
        (
            "verify_url = \"ftp://x/index.html\"",
            "not an http or https URL",
        ),
    ];
    for (line, needle) in cases {
        let host_line = if line.starts_with("host") {
            ""
        } else {
            "host = \"web.example\""
        };
        let config = format!(
            r#"environment "sandbox" {{
  terraform {{
    dir                    = "/nonexistent"
    configuration_var_file = "c.tfvars"
    secrets_var_file       = "s.tfvars"
  }}
  nomad {{}}
  database {{}}
  borg {{}}
  dashboard {{
    user          = "www"
    identity_file = "key"
    {line}
    {host_line}
  }}
}}
"#
        );
        let env = TestEnv::new(&config);
        let run = env.csi(&["env", "deploy-dashboard", "sandbox", "--rollback", "--yes"]);
        assert_eq!(run.code, 2, "{line}: {}", run.all_output());
        assert!(run.stderr.contains(needle), "{line}: {}", run.stderr);
        assert!(run.stderr.contains("csi.hcl:13"), "{line}: {}", run.stderr);
        assert!(
            run.stderr.contains("environment.sandbox.dashboard."),
            "{line}: {}",
            run.stderr
        );
    }
}

#[test]
fn without_an_atomic_exchange_two_renames_are_used_and_said() {
    // No perl on the web host: renameat2 cannot be called, the plan says so.
    let bed = bed_on(
        TestSshd::start_without_perl(),
        3,
        Verify::Url("index.html"),
        "html",
    );
    seed_live(&bed);
    let builds = tempfile::tempdir().unwrap();

    let run = bed.deploy(&dist(builds.path(), 2));
    ok(&run);
    assert!(
        run.stdout
            .contains("two renames (html -> html.prev, then the new one -> html)"),
        "{}",
        run.stdout
    );
    assert_eq!(bed.version("").unwrap(), index_of(2));
    assert_eq!(bed.version(".prev").unwrap(), index_of(1));
    assert!(
        bed.journal().contains("\"atomic\":false"),
        "{}",
        bed.journal()
    );

    let run = bed.rollback();
    ok(&run);
    assert!(run.stdout.contains("by three renames"), "{}", run.stdout);
    assert_eq!(bed.version("").unwrap(), index_of(1));
    assert_eq!(bed.version(".prev").unwrap(), index_of(2));
    assert_eq!(bed.listing(), ["html", "html.prev", "temp"]);
}

#[test]
fn ctrl_c_during_the_upload_leaves_the_web_host_as_it_was() {
    let bed = bed(3, Verify::Url("index.html"), "html");
    seed_live(&bed);
    let builds = tempfile::tempdir().unwrap();
    let build = dist(builds.path(), 2);
    // Enough bytes that the upload is still going when the signal comes.
    let status = std::process::Command::new("head")
        .args(["-c", "400000000", "/dev/urandom"])
        .stdout(std::fs::File::create(build.join("assets/big.bin")).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let before = bed.listing();

    let mut csi = bed.env.spawn_csi(&[
        "env",
        "deploy-dashboard",
        "sandbox",
        build.to_str().unwrap(),
        "--yes",
    ]);
    let (seen, rest) = support::csi::stderr_until(&mut csi, "uploading");
    wait_for_partial_upload(&bed.www.join("temp"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(csi.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = csi.wait().unwrap();
    let after: Vec<String> = rest.map_while(Result::ok).collect();
    let stderr = format!("{seen}{}", after.join("\n"));
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("the upload was interrupted"), "{stderr}");
    assert_eq!(bed.listing(), before, "{stderr}");
    assert_eq!(bed.version("").unwrap(), index_of(1));
    assert!(
        bed.journal().contains("\"outcome\":\"interrupted\""),
        "{}",
        bed.journal()
    );
}

/// Returns once an upload has started arriving in `temp` (a megabyte of it).
fn wait_for_partial_upload(temp: &Path) {
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(30) {
        let arrived = std::fs::read_dir(temp)
            .unwrap()
            .flatten()
            .any(|e| e.metadata().map(|m| m.len() > 1 << 20).unwrap_or(false));
        if arrived {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("no upload arrived in {}", temp.display());
}

#[test]
fn a_protected_environment_wants_its_name_typed() {
    let bed = bed(3, Verify::Url("index.html"), "html");
    let config = std::fs::read_to_string(&bed.env.config).unwrap();
    let protected = config.replacen(
        "environment \"sandbox\" {",
        "environment \"sandbox\" {\n  protected = true",
        1,
    );
    std::fs::write(&bed.env.config, protected).unwrap();
    seed_live(&bed);
    let builds = tempfile::tempdir().unwrap();
    let build = dist(builds.path(), 2);
    let args = [
        "env",
        "deploy-dashboard",
        "sandbox",
        build.to_str().unwrap(),
    ];
    let prompt = "type its name to proceed";

    let wrong = answer_prompt(&bed.env, &args, prompt, "prod\r", || {});
    assert_eq!(wrong.code, 3, "{}", wrong.all_output());
    assert_eq!(bed.version("").unwrap(), index_of(1));

    let typed = answer_prompt(&bed.env, &args, prompt, "sandbox\r", || {});
    assert_eq!(typed.code, 0, "{}", typed.all_output());
    assert_eq!(bed.version("").unwrap(), index_of(2));
}
