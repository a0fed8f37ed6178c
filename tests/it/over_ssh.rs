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
/// Guard: COMMIT is the last thing csi sends; the forwarded socket closes with the
/// connection and PostgreSQL rolls the transaction back.
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
    let (_seen, rest) = support::csi::stderr_until(&mut child, "restoring pgdump_");
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
