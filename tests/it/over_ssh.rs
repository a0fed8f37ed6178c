//! The production topology on one machine: the database host is reachable only by
//! ssh, its PostgreSQL listens on a unix socket only (peer authentication), its borg
//! repository belongs to another user. csi reaches both through one ssh connection,
//! exactly as prod's csi.hcl configures tf-tutu.

use crate::restore_bed;
use crate::support;

use restore_bed::{last_outcome, Bed, ENV};
use support::db_host::{environment_config, not_owned_by, DbHost, REPO_OWNER};

fn ssh_bed() -> (Bed, DbHost) {
    let mut bed = Bed::new();
    let host = DbHost::new(&mut bed.pg, bed.borg.path());
    let (known_hosts, key) = (host.sshd.known_hosts.clone(), host.sshd.client_key.clone());
    bed.set_config(&environment_config(
        ENV,
        &host,
        &bed.pg,
        bed.borg.path(),
        &known_hosts,
        &key,
    ));
    (bed, host)
}

#[test]
fn a_restore_over_ssh_brings_back_the_archive_and_keeps_the_repository_its_owners() {
    let (bed, host) = ssh_bed();
    let archived = bed.snapshot();
    let nightly = bed.nightly("2026-11-20T04:00:00");
    host.give_repository(bed.borg.path());
    bed.psql("DELETE FROM cosims.gfsc_jobs WHERE id > 20; UPDATE cosims.system_parameters SET max_number_of_vcpus = 1;");
    let changed = bed.snapshot();
    assert_ne!(changed, archived);

    let check = bed.csi(&["env", "check", ENV]);
    let line = |name: &str| {
        check
            .stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} line: {}", check.all_output()))
            .to_owned()
    };
    assert!(line("ssh ").starts_with("OK"), "{}", check.all_output());
    assert!(
        line("database reachable").starts_with("OK"),
        "{}",
        check.all_output()
    );
    assert!(
        line("borg repository readable").starts_with("OK"),
        "{}",
        check.all_output()
    );
    // The server is production's major (tools/pg12), the client tools this machine's.
    let version = bed.psql("show server_version");
    let db = line("database reachable");
    assert!(
        db.contains(&format!("PostgreSQL {version}")) && db.contains("(over ssh "),
        "{db}"
    );
    assert!(
        line("borg repository readable").contains(&nightly),
        "{}",
        check.stdout
    );

    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(
        bed.snapshot(),
        archived,
        "the restore over ssh differs from the archive"
    );
    assert_eq!(last_outcome(&bed)["outcome"], "ok");
    // The safety archive was written by the repository's owner, through remote_path.
    assert!(
        bed.archives().iter().any(|a| a.starts_with("pre-restore-")),
        "{:?}",
        bed.archives()
    );
    let foreign = not_owned_by(bed.borg.path(), REPO_OWNER);
    assert!(
        foreign.is_empty(),
        "files not owned by {REPO_OWNER}: {foreign:?}"
    );

    // The safety dump (this machine's pg_dumpall, through the forwarded socket) loads
    // back into the server and brings back the state before the restore.
    let safety = bed
        .archives()
        .into_iter()
        .find(|a| a.starts_with("pre-restore-"))
        .unwrap();
    let back = bed.restore(&safety, &["--no-safety-backup"]);
    assert_eq!(back.code, 0, "{}", back.all_output());
    assert_eq!(
        bed.snapshot(),
        changed,
        "the safety dump does not load back"
    );
}

#[test]
fn a_db_patch_over_ssh_rehearses_backs_up_and_applies() {
    let (bed, host) = ssh_bed();
    host.give_repository(bed.borg.path());
    let patch = bed.env.path().join("003_notes.sql");
    std::fs::write(&patch, support::db_patch_bed::GOOD).unwrap();
    // The throwaway rehearsal cluster runs as the postgres OS user: a TMPDIR it reaches.
    let tmp = bed.env.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    support::csi::set_mode(bed.env.path(), 0o711);
    support::csi::set_mode(&tmp, 0o711);
    let run = bed.env.csi_with(
        &["env", "db-patch", ENV, patch.to_str().unwrap(), "--yes"],
        &[("TMPDIR", tmp.to_str().unwrap())],
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(bed.psql("select count(*) from csi.csi_patch_ledger"), "1");
    assert_eq!(
        bed.psql("select count(*) from information_schema.columns where table_schema = 'cosims' and table_name = 'parent_jobs' and column_name = 'note'"),
        "1"
    );
    // The safety dump (pg_dumpall through the forwarded socket) is in the host's repository.
    assert!(
        bed.archives().iter().any(|a| a.starts_with("pre-patch-")),
        "{:?}",
        bed.archives()
    );
    let foreign = not_owned_by(bed.borg.path(), REPO_OWNER);
    assert!(
        foreign.is_empty(),
        "files not owned by {REPO_OWNER}: {foreign:?}"
    );
}

/// Fault: the ssh connection to the database host drops while the dump streams in.
/// Guard: the restore runs on the host, and csi there stops before COMMIT when its
/// stdin (the connection) ends; its psql sessions end and PostgreSQL rolls back.
#[test]
fn a_connection_that_drops_mid_restore_leaves_the_database_unchanged() {
    let (bed, host) = ssh_bed();
    let nightly = bed.nightly("2026-11-20T04:00:00");
    let dump = bed.dump_of(&nightly);
    restore_bed::slow_archive(&bed, &dump);
    host.give_repository(bed.borg.path());
    bed.psql("DELETE FROM cosims.gfsc_jobs WHERE id > 20;");
    let before = bed.snapshot();
    let mut child = bed.env.spawn_csi(&[
        "env",
        "restore-db",
        ENV,
        "--archive",
        "latest",
        "--yes",
        "--keep-services",
        "--no-safety-backup",
    ]);
    let (seen, rest) = support::csi::stderr_until(&mut child, "restoring pgdump_");
    // The restore runs on the host (csi shipped there): what drops is its connection.
    assert!(seen.contains("the data stays on"), "{seen}");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(host.drop_connections() > 0, "no ssh connection to cut");
    let status = child.wait().unwrap();
    let stderr: Vec<String> = rest.map_while(Result::ok).collect();
    let stderr = stderr.join("\n");
    assert!(
        !status.success(),
        "the restore succeeded without its connection: {stderr}"
    );
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before, "the database changed: {stderr}");
    assert!(
        stderr.contains("unchanged")
            || stderr.contains("rolled back")
            || stderr.contains("nothing was changed"),
        "{stderr}"
    );
}

#[test]
fn a_wrong_host_key_or_a_refused_login_is_a_clear_error_naming_the_host() {
    let (bed, host) = ssh_bed();
    let destination = format!("{}@127.0.0.1:{}", host.login, host.sshd.port());
    let wrong = host.sshd.wrong_known_hosts();
    bed.set_config(&environment_config(
        ENV,
        &host,
        &bed.pg,
        bed.borg.path(),
        &wrong,
        &host.sshd.client_key,
    ));
    let run = bed.csi(&["env", "backups", ENV]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(run.stderr.contains(&destination), "{}", run.stderr);
    assert!(run.stderr.contains("host key"), "{}", run.stderr);
    assert!(run.stderr.contains("ssh-keyscan"), "{}", run.stderr);

    let stranger = host.stranger_key();
    bed.set_config(&environment_config(
        ENV,
        &host,
        &bed.pg,
        bed.borg.path(),
        &host.sshd.known_hosts,
        &stranger,
    ));
    let run = bed.csi(&["env", "restore-db", ENV, "--archive", "latest", "--yes"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(run.stderr.contains(&destination), "{}", run.stderr);
    assert!(run.stderr.contains("refused the login"), "{}", run.stderr);
    let check = bed.csi(&["env", "check", ENV]);
    assert_eq!(check.code, 4, "{}", check.all_output());
    let ssh_line = check
        .stdout
        .lines()
        .find(|l| l.contains("ssh "))
        .unwrap()
        .to_owned();
    assert!(
        ssh_line.starts_with("FAIL") && ssh_line.contains("refused the login"),
        "{ssh_line}"
    );
    // Nothing falls back on a default address: the database check says why it fails.
    let db_line = check
        .stdout
        .lines()
        .find(|l| l.contains("database reachable"))
        .unwrap();
    assert!(db_line.contains("reached over ssh"), "{db_line}");
}

/// The export repository of the real backups: `ssh://user@host:17924/~/repo` with
/// `BORG_RSH="ssh -i key"`, here on the sshd's own non-standard port.
#[test]
fn a_remote_repository_on_a_non_standard_port_is_read_with_borg_rsh() {
    let bed = Bed::new();
    let nightly = bed.nightly("2026-11-20T04:00:00");
    let sshd = support::sshd::TestSshd::start();
    let rsh = format!(
        "ssh -i {} -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes",
        sshd.client_key.display(),
        sshd.known_hosts.display()
    );
    let url = format!(
        "ssh://{}@127.0.0.1:{}{}",
        sshd.user,
        sshd.port(),
        bed.borg.path().display()
    );
    let config = restore_bed::config(
        bed.pg.port(),
        bed.borg.path(),
        "http://127.0.0.1:9",
        false,
        "",
    )
    .replace(
        &format!("repository = \"{}\"", bed.borg.path().display()),
        &format!("repository = \"{url}\"\n    rsh = \"{rsh}\""),
    );
    bed.set_config(&config);
    let run = bed.csi(&["env", "backups", ENV]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stdout.contains(&nightly), "{}", run.stdout);
    assert!(sshd.log().contains("Accepted publickey"), "{}", sshd.log());
}

/// Nomad behind the ssh host (a laptop reaching tf-tete through the VMs): a loopback
/// port forwarded by the same connection.
#[test]
fn nomad_is_reached_through_a_port_the_connection_forwards() {
    let (bed, host) = ssh_bed();
    host.give_repository(bed.borg.path());
    let nomad = support::nomad::NomadDouble::start(&[]);
    let config = std::fs::read_to_string(&bed.env.config).unwrap().replace(
        "    address = \"http://127.0.0.1:9\"\n",
        &format!(
            "    address  = \"{}\"\n    over_ssh = true\n",
            nomad.address
        ),
    );
    bed.set_config(&config);
    let check = bed.csi(&["env", "check", ENV]);
    let line = check
        .stdout
        .lines()
        .find(|l| l.contains("nomad reachable"))
        .unwrap_or_else(|| panic!("{}", check.all_output()))
        .to_owned();
    assert!(line.starts_with("OK"), "{}", check.all_output());
    assert!(!nomad.requests().is_empty(), "the double saw no request");
}

/// The bytes the command `run` made cross the forwarder.
fn bytes_of(proxy: &support::sshd::CountingProxy, run: impl FnOnce()) -> u64 {
    let before = proxy.bytes();
    run();
    proxy.bytes() - before
}

/// A PATH on which this machine cannot move a dump: its borg refuses to extract or
/// create (listing still works), its psql and pg_dumpall refuse to run.
fn path_without_data_tools(bed: &Bed) -> String {
    let bin = bed.env.path().join("no-data-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let refuse = |name: &str, script: &str| {
        let path = bin.join(name);
        std::fs::write(&path, script).unwrap();
        support::csi::set_mode(&path, 0o755);
    };
    refuse(
        "borg",
        "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in extract|create) echo \"borg $a on the client\" >&2; exit 99;; esac; done\nexec /usr/bin/borg \"$@\"\n",
    );
    for tool in ["psql", "pg_dumpall", "pg_dump"] {
        refuse(
            tool,
            &format!("#!/bin/sh\necho \"{tool} on the client\" >&2\nexit 99\n"),
        );
    }
    format!("{}:{}", bin.display(), support::csi::test_path())
}

/// Incompressible-ish rows, so that a dump crossing the network shows in the counts.
fn add_noise(bed: &Bed) {
    bed.psql(
        "CREATE TABLE cosims.noise (id integer PRIMARY KEY, t text); \
         INSERT INTO cosims.noise SELECT g, md5(random()::text) || md5(random()::text) || md5(random()::text) FROM generate_series(1, 40000) g;",
    );
}

/// "A restore extracts where the repository is and loads where the database is": the
/// dump never reaches this machine (its borg, psql and pg_dumpall refuse to move data),
/// and the connection carries a fraction of what it carries with --through-client.
#[test]
fn a_backup_and_a_restore_over_ssh_move_the_dump_on_the_host_only() {
    let (bed, host) = ssh_bed();
    // Everything between csi and the host goes through a forwarder that counts it.
    let proxy = support::sshd::CountingProxy::start(host.sshd.port());
    let config = std::fs::read_to_string(&bed.env.config).unwrap();
    let known_hosts = host.sshd.known_hosts.display().to_string();
    let config = config
        .replace(
            &format!("port             = {}", host.sshd.port()),
            &format!("port             = {}", proxy.port),
        )
        .replace(
            &known_hosts,
            &host
                .sshd
                .known_hosts_for_port(proxy.port)
                .display()
                .to_string(),
        );
    bed.set_config(&config);
    add_noise(&bed);
    let archived = bed.snapshot();
    let nightly = bed.nightly("2026-11-20T04:00:00");
    let dump_size = bed.dump_of(&nightly).len() as u64;
    host.give_repository(bed.borg.path());
    let no_data = path_without_data_tools(&bed);
    let csi = |args: &[&str]| bed.env.csi_with(args, &[("PATH", no_data.as_str())]);

    // The first command ships csi (tens of MB, once); a dry run changes nothing else.
    let dry = csi(&["env", "restore-db", ENV, "--archive", "latest", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.all_output());
    assert!(dry.stderr.contains("the data stays on"), "{}", dry.stderr);

    let mut backup = None;
    let backup_bytes = bytes_of(&proxy, || backup = Some(csi(&["env", "backup", ENV])));
    let backup = backup.unwrap();
    assert_eq!(backup.code, 0, "{}", backup.all_output());
    let made = backup.stdout.trim().to_owned();
    assert!(
        bed.archives().contains(&made),
        "{made}: {:?}",
        bed.archives()
    );
    assert!(
        not_owned_by(bed.borg.path(), REPO_OWNER).is_empty(),
        "the backup left files of another owner"
    );

    bed.psql(
        "DELETE FROM cosims.noise WHERE id > 100; DELETE FROM cosims.gfsc_jobs WHERE id > 20;",
    );
    let mut restore = None;
    let restore_bytes = bytes_of(&proxy, || {
        restore = Some(csi(&[
            "env",
            "restore-db",
            ENV,
            "--archive",
            &nightly,
            "--yes",
            "--keep-services",
        ]))
    });
    let restore = restore.unwrap();
    assert_eq!(restore.code, 0, "{}", restore.all_output());
    assert_eq!(
        bed.snapshot(),
        archived,
        "the restore differs from the archive"
    );
    assert!(
        restore.stderr.contains("restored and verified"),
        "{}",
        restore.stderr
    );
    assert_eq!(last_outcome(&bed)["outcome"], "ok");

    // The same restore through this machine, for comparison.
    bed.psql("DELETE FROM cosims.noise WHERE id > 100;");
    let mut through = None;
    let through_bytes = bytes_of(&proxy, || {
        through = Some(bed.restore(&nightly, &["--no-safety-backup", "--through-client"]))
    });
    let through = through.unwrap();
    assert_eq!(through.code, 0, "{}", through.all_output());
    assert_eq!(bed.snapshot(), archived);
    eprintln!(
        "dump {dump_size} bytes; over the connection: backup {backup_bytes}, restore with its safety backup {restore_bytes}, restore --through-client without one {through_bytes}"
    );
    assert!(
        backup_bytes < dump_size / 10 && restore_bytes < dump_size / 10,
        "the dump ({dump_size} bytes) crossed the connection: backup {backup_bytes}, restore {restore_bytes} bytes"
    );
    assert!(
        through_bytes > dump_size / 2,
        "--through-client carried only {through_bytes} bytes of a {dump_size}-byte dump: the counts prove nothing"
    );
}

/// A host that cannot run this machine's csi (here: a binary for another architecture)
/// is refused in one line before anything changes, unless --through-client.
#[test]
fn a_host_that_cannot_run_csi_is_refused_in_one_line_unless_through_client() {
    let (mut bed, host) = ssh_bed();
    let nightly = bed.nightly("2026-11-20T04:00:00");
    host.give_repository(bed.borg.path());
    bed.psql("DELETE FROM cosims.gfsc_jobs WHERE id > 20;");
    let before = bed.snapshot();
    // An ELF header for aarch64: the kernel refuses it as it would on another machine.
    let foreign = bed.env.path().join("csi-aarch64");
    let mut elf = vec![0u8; 64];
    elf[..7].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1]);
    elf[16] = 2; // ET_EXEC
    elf[18] = 0xb7; // EM_AARCH64
    elf[20] = 1;
    std::fs::write(&foreign, &elf).unwrap();
    bed.env
        .set_env("CSI_AGENT_BINARY", foreign.to_str().unwrap());
    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    let destination = format!("{}@127.0.0.1:{}", host.login, host.sshd.port());
    assert!(
        errors[0].contains(&format!("csi cannot run on {destination}"))
            && errors[0].contains("Exec format error")
            && errors[0].contains("--through-client"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("hint:"), "{}", run.stderr);
    assert_eq!(bed.snapshot(), before, "the database changed");
    assert_eq!(bed.archives(), vec![nightly], "an archive was made");

    let run = bed.restore("latest", &["--through-client"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stderr.contains("--through-client: the dump crosses"),
        "{}",
        run.stderr
    );
    assert_ne!(bed.snapshot(), before, "the restore changed nothing");
}

/// A laptop reaching tf-tutu through tf-toto: `ssh.jump`, the master's ProxyJump, with
/// csi's own options (key, known_hosts) applied to the jump host's ssh too.
#[test]
fn a_jump_host_carries_the_connection_as_tf_toto_does_for_a_laptop() {
    let (bed, host) = ssh_bed();
    let nightly = bed.nightly("2026-11-20T04:00:00");
    host.give_repository(bed.borg.path());
    let jump = support::sshd::TestSshd::start();
    // The jump host accepts the same key, and known_hosts pins both hosts.
    let key = std::fs::read_to_string(host.sshd.client_key.with_extension("pub")).unwrap();
    let authorized = jump.dir().join("authorized_keys");
    let mut keys = std::fs::read_to_string(&authorized).unwrap();
    keys.push_str(&key);
    std::fs::write(&authorized, keys).unwrap();
    let known = bed.env.path().join("known_hosts_both");
    let both = std::fs::read_to_string(&host.sshd.known_hosts).unwrap()
        + &std::fs::read_to_string(&jump.known_hosts).unwrap();
    std::fs::write(&known, both).unwrap();
    let config = environment_config(
        ENV,
        &host,
        &bed.pg,
        bed.borg.path(),
        &known,
        &host.sshd.client_key,
    )
    .replace(
        &format!("    user             = \"{}\"\n", host.login),
        &format!(
            "    user             = \"{}\"\n    jump             = \"{}@127.0.0.1:{}\"\n",
            host.login,
            jump.user,
            jump.port()
        ),
    );
    assert!(config.contains("jump "), "{config}");
    bed.set_config(&config);
    let check = bed.csi(&["env", "check", ENV]);
    for name in ["ssh ", "database reachable", "borg repository readable"] {
        let line = check
            .stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} line: {}", check.all_output()));
        assert!(line.starts_with("OK"), "{}", check.all_output());
    }
    let run = bed.csi(&["env", "backups", ENV]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stdout.contains(&nightly), "{}", run.stdout);
    assert!(
        jump.log().contains("Accepted publickey"),
        "the jump host saw no login: {}",
        jump.log()
    );
    let via = format!("(via {}@127.0.0.1:{})", jump.user, jump.port());
    assert!(check.stdout.contains(&via), "{}", check.stdout);
}

/// The other kinds of restore run on the host too: `--tables` (rows of chosen tables,
/// by column name) and `--include-globals` (the one transaction with the roles).
#[test]
fn selective_and_globals_restores_run_on_the_host() {
    let (bed, host) = ssh_bed();
    let archived = bed.snapshot();
    let nightly = bed.nightly("2026-11-20T04:00:00");
    host.give_repository(bed.borg.path());
    bed.psql("UPDATE cosims.system_parameters SET max_number_of_vcpus = 1;");
    let run = bed.restore(
        &nightly,
        &["--tables", "system_parameters", "--no-safety-backup"],
    );
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stderr.contains("the data stays on"), "{}", run.stderr);
    // The table's rows as archived (the UPDATE's history row stays: not selected).
    let table = |snapshot: &str| {
        snapshot
            .lines()
            .find(|l| l.starts_with("table cosims.system_parameters "))
            .unwrap()
            .to_owned()
    };
    assert_eq!(table(&bed.snapshot()), table(&archived));
    assert_ne!(bed.snapshot(), archived, "more than the table was restored");

    bed.psql("DELETE FROM cosims.gfsc_jobs WHERE id > 20;");
    let run = bed.restore(&nightly, &["--include-globals", "--no-safety-backup"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stderr.contains("the data stays on"), "{}", run.stderr);
    assert_eq!(bed.snapshot(), archived, "the schema was not restored");
}
