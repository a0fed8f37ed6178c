//! `csi env upgrade` on a sandbox-like bed: a real PostgreSQL with the cosims schema
//! fixture (and a scratch server for rehearsals), a real borg repository, and the
//! project's Nomad double running the six services from copies of their job files.

use crate::support;

use std::path::{Path, PathBuf};

use support::borg::TestBorgRepo;
use support::csi::{copy_job_files, nomad_config, stderr_until, Run, TestEnv};
use support::nomad::NomadDouble;
use support::postgres::{repo_root, TestPostgres};

const DB: &str = "postgres";
const NEW_TAG: &str = "git-0123abcd";

const SERVICES: [(&str, &str); 6] = [
    ("job-creation", "job_creation.nomad"),
    ("job-configuration", "job_configuration.nomad"),
    ("job-execution", "job_execution.nomad"),
    ("job-publication", "job_publication.nomad"),
    ("monitor", "monitor.nomad"),
    ("worker-pool-management", "worker_pool_management.nomad"),
];

/// Fails in the body: the running version would still be fine, the rehearsal is not.
const BAD: &str = "alter table cosims.parent_jobs add column operator_note text;\n\
update cosims.parent_jobs\n   set operator_note = missing_column;\n";

struct Bed {
    env: TestEnv,
    pg: TestPostgres,
    _scratch: TestPostgres,
    borg: TestBorgRepo,
    nomad: NomadDouble,
    jobs: PathBuf,
}

impl Bed {
    fn new(double_args: &[&str]) -> Bed {
        let pg = TestPostgres::start();
        pg.load_cosims_schema();
        let scratch = TestPostgres::start();
        let borg = TestBorgRepo::create();
        let mut args = vec!["--cpu-capacity", "20000"];
        args.extend_from_slice(double_args);
        let nomad = NomadDouble::start(&args);
        let mut env = TestEnv::new("");
        let jobs = copy_job_files(env.path());
        let config = nomad_config(&nomad.address, &jobs, false)
            .replace(
                "    port = 9\n",
                &format!(
                    "    port = {}\n    user = \"postgres\"\n    name = \"{DB}\"\n    scratch_database = \"{}\"\n",
                    pg.port(),
                    scratch.url("postgres")
                ),
            )
            .replace(
                "repository = \"/nonexistent\"",
                &format!("repository = \"{}\"", borg.path().display()),
            );
        std::fs::write(&env.config, config).unwrap();
        for (key, value) in borg.env() {
            env.set_env(key, value.to_str().unwrap());
        }
        let bed = Bed {
            env,
            pg,
            _scratch: scratch,
            borg,
            nomad,
            jobs,
        };
        let run = bed.csi(&["env", "doctor", "sandbox", "--fix", "--yes"]);
        assert_eq!(run.code, 0, "{}", run.all_output());
        bed
    }

    fn csi(&self, args: &[&str]) -> Run {
        self.env.csi(args)
    }

    fn upgrade(&self, tag: &str, migrations: &[&Path], extra: &[&str]) -> Run {
        let args = upgrade_args(tag, migrations, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.csi(&args)
    }

    fn migration(&self, name: &str, sql: &str) -> PathBuf {
        let dir = self.env.path().join("patch");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, sql).unwrap();
        path
    }

    /// The project's sample migration.
    fn sample(&self) -> PathBuf {
        repo_root().join("patch/0002_parent_jobs_operator_note.sql")
    }

    fn sql(&self, sql: &str) -> String {
        self.pg.psql(DB, sql)
    }

    /// `file archive` per ledger row; empty when there is no ledger at all.
    fn ledger(&self) -> String {
        if self.sql("select to_regclass('csi.csi_patch_ledger') is null") == "t" {
            return String::new();
        }
        self.sql(
            "select coalesce(string_agg(file_name || ' ' || coalesce(safety_archive, '-'), ',' order by id), '') \
             from csi.csi_patch_ledger",
        )
    }

    fn has_note_column(&self) -> bool {
        self.sql(
            "select count(*) from information_schema.columns \
             where table_schema = 'cosims' and table_name = 'parent_jobs' and column_name = 'operator_note'",
        ) == "1"
    }

    fn archives(&self) -> Vec<String> {
        self.borg.list_names()
    }

    fn files(&self) -> Vec<Vec<u8>> {
        SERVICES
            .iter()
            .map(|(_, file)| std::fs::read(self.jobs.join(file)).unwrap())
            .collect()
    }

    fn file_tags(&self) -> Vec<String> {
        SERVICES
            .iter()
            .map(|(_, file)| {
                let text = std::fs::read_to_string(self.jobs.join(file)).unwrap();
                let images = csi_ops::nomad::jobfile::find_images(&text).unwrap();
                images[0].reference.as_ref().unwrap().tag.clone().unwrap()
            })
            .collect()
    }

    /// The image each service runs in Nomad.
    fn running_images(&self) -> Vec<String> {
        SERVICES
            .iter()
            .map(|(job, _)| {
                let job = http_get_json(&self.nomad.address, &format!("/v1/job/{job}"));
                job["TaskGroups"][0]["Tasks"][0]["Config"]["image"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    fn journal_steps(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.env.state_dir.join("sandbox/journal.jsonl"))
            .unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["operation"] == "upgrade" && e["event"] == "step")
            .map(|e| e["step"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

fn upgrade_args(tag: &str, migrations: &[&Path], extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["env", "upgrade", "sandbox", "--tag", tag]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for m in migrations {
        args.push("--migrate".into());
        args.push(m.display().to_string());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// `GET address/path` over plain HTTP/1.0, as JSON.
fn http_get_json(address: &str, path: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let host = address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

fn all_on(images: &[String], tag: &str) -> bool {
    images.iter().all(|i| i.ends_with(&format!(":{tag}")))
}

#[test]
fn an_upgrade_applies_its_migration_once_and_rolls_every_service_out() {
    let bed = Bed::new(&["--deploy-seconds", "1"]);
    let sample = bed.sample();
    let run = bed.upgrade(NEW_TAG, &[&sample], &["--yes"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(bed.has_note_column());
    let archives = bed.archives();
    let safety: Vec<&String> = archives
        .iter()
        .filter(|a| a.starts_with("pre-upgrade-"))
        .collect();
    assert_eq!(safety.len(), 1, "{archives:?}");
    assert_eq!(
        bed.ledger(),
        format!("0002_parent_jobs_operator_note.sql {}", safety[0])
    );
    assert!(
        all_on(&bed.running_images(), NEW_TAG),
        "{:?}",
        bed.running_images()
    );
    assert!(bed.file_tags().iter().all(|t| t == NEW_TAG));
    let drift = bed.csi(&["env", "drift", "sandbox"]);
    assert_eq!(drift.code, 0, "{}", drift.all_output());
    let steps = bed.journal_steps();
    let at = |s: &str| {
        steps
            .iter()
            .position(|x| x == s)
            .unwrap_or_else(|| panic!("{s}: {steps:?}"))
    };
    assert!(at("rehearsal") < at("safety_backup"));
    assert!(at("safety_backup") < at("migration:0002_parent_jobs_operator_note.sql"));
    assert!(at("migration:0002_parent_jobs_operator_note.sql") < at("files_written"));
    assert!(at("files_written") < at("rollout"));

    // Applied once: the same migration again is refused before anything happens.
    let again = bed.upgrade("git-89abcdef", &[&sample], &["--yes"]);
    assert_eq!(again.code, 4, "{}", again.all_output());
    assert!(again.stderr.contains("already applied"), "{}", again.stderr);
    assert_eq!(bed.archives(), archives);
    assert!(bed.file_tags().iter().all(|t| t == NEW_TAG));
}

#[test]
fn a_migration_failing_at_rehearsal_changes_nothing_anywhere() {
    let bed = Bed::new(&["--deploy-seconds", "1"]);
    let bad = bed.migration("0003_bad.sql", BAD);
    let (files, images) = (bed.files(), bed.running_images());
    let run = bed.upgrade(NEW_TAG, &[&bad], &["--yes"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr.contains("the rehearsal failed")
            && run
                .stderr
                .contains("column \"missing_column\" does not exist")
            && run
                .stderr
                .contains("no backup made, no migration applied, no service touched"),
        "{}",
        run.stderr
    );
    assert!(!bed.has_note_column());
    assert_eq!(bed.ledger(), "", "no ledger row, no ledger");
    assert!(bed.archives().is_empty(), "{:?}", bed.archives());
    assert_eq!(bed.files(), files);
    assert_eq!(bed.running_images(), images);

    // Nothing changed, so nothing is left to resume: the fixed file begins afresh.
    std::fs::write(&bad, std::fs::read(bed.sample()).unwrap()).unwrap();
    let retry = bed.upgrade(NEW_TAG, &[&bad], &["--dry-run"]);
    assert_eq!(retry.code, 0, "{}", retry.all_output());
    assert!(!retry.stderr.contains("resuming"), "{}", retry.stderr);
}

#[test]
fn a_broken_image_rolls_every_service_back_and_names_the_safety_archive() {
    // Only monitor's new image fails: the five that succeed must come back too.
    let bed = Bed::new(&[
        "--deploy-seconds",
        "1",
        "--fail-image-pattern",
        "monitor:git-baadf00d",
    ]);
    let (files, images) = (bed.files(), bed.running_images());
    let sample = bed.sample();
    let run = bed.upgrade("git-baadf00d", &[&sample], &["--yes"]);
    assert_eq!(run.code, 6, "{}", run.all_output());
    let safety = bed
        .archives()
        .into_iter()
        .find(|a| a.starts_with("pre-upgrade-"))
        .expect("a safety archive");
    assert!(
        run.stderr
            .contains("every service was rolled back to its previous version")
            && run.stderr.contains("0002_parent_jobs_operator_note.sql")
            && run
                .stderr
                .contains(&format!("csi env restore-db sandbox --archive {safety}")),
        "{}",
        run.stderr
    );
    assert_eq!(
        bed.running_images(),
        images,
        "Nomad back on the previous tags"
    );
    assert_eq!(bed.files(), files, "job files restored byte for byte");
    assert!(bed.has_note_column(), "the migration stays applied");
    assert_eq!(
        bed.ledger(),
        format!("0002_parent_jobs_operator_note.sql {safety}")
    );
    let drift = bed.csi(&["env", "drift", "sandbox"]);
    assert_eq!(drift.code, 0, "{}", drift.all_output());
    // The upgrade is over: a fixed image is a new upgrade, without the migration.
    let next = bed.upgrade(NEW_TAG, &[], &["--yes"]);
    assert_eq!(next.code, 0, "{}", next.all_output());
    assert!(all_on(&bed.running_images(), NEW_TAG));
}

#[test]
fn an_interrupted_upgrade_resumes_without_repeating_the_backup_or_the_migration() {
    let bed = Bed::new(&["--deploy-seconds", "4"]);
    let sample = bed.sample();
    let args = upgrade_args(NEW_TAG, &[&sample], &["--yes"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = bed.env.spawn_csi(&args);
    let (seen, _rest) = stderr_until(&mut child, "registering");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen}");
    let archives = bed.archives();
    assert_eq!(archives.len(), 1, "{archives:?}");
    assert!(bed.has_note_column());

    // Another upgrade cannot begin meanwhile.
    let other = bed.upgrade("git-89abcdef", &[], &["--yes"]);
    assert_eq!(other.code, 4, "{}", other.all_output());
    assert!(
        other.stderr.contains("is unfinished") && other.stderr.contains("--abandon"),
        "{}",
        other.stderr
    );

    let resumed = bed.upgrade(NEW_TAG, &[&sample], &["--yes"]);
    assert_eq!(resumed.code, 0, "{}", resumed.all_output());
    assert!(
        resumed.stderr.contains("resuming the upgrade")
            && resumed.stderr.contains("next step: rollout"),
        "{}",
        resumed.stderr
    );
    assert_eq!(bed.archives(), archives, "no second safety backup");
    assert_eq!(bed.ledger().split(',').count(), 1, "applied once");
    assert!(
        all_on(&bed.running_images(), NEW_TAG),
        "{:?}",
        bed.running_images()
    );
    assert!(bed.file_tags().iter().all(|t| t == NEW_TAG));
    let steps = bed.journal_steps();
    assert_eq!(
        steps.iter().filter(|s| *s == "safety_backup").count(),
        1,
        "{steps:?}"
    );
    assert_eq!(
        steps.iter().filter(|s| *s == "rollout").count(),
        1,
        "{steps:?}"
    );
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let bed = Bed::new(&["--deploy-seconds", "1"]);
    let (files, images) = (bed.files(), bed.running_images());
    let sample = bed.sample();
    let run = bed.upgrade(NEW_TAG, &[&sample], &["--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    for line in [
        "upgrade of `sandbox`",
        "1. [todo] rehearsal of 0002_parent_jobs_operator_note.sql",
        "2. [todo] safety backup of the database to borg: pre-upgrade-",
        "3. [todo] migration ",
        "4. [todo] rollout of every service to git-0123abcd",
        "-> git-0123abcd",
    ] {
        assert!(run.stdout.contains(line), "{line:?} in\n{}", run.stdout);
    }
    assert!(!bed.has_note_column());
    assert_eq!(bed.ledger(), "");
    assert!(bed.archives().is_empty());
    assert_eq!(bed.files(), files);
    assert_eq!(bed.running_images(), images);
    assert!(!bed.env.state_dir.join("sandbox/upgrade.json").exists());
}

#[test]
fn drift_is_refused_unless_allowed() {
    let bed = Bed::new(&["--deploy-seconds", "1"]);
    let write = bed.csi(&[
        "env",
        "patch-image",
        "sandbox",
        "monitor",
        "git-11111111",
        "--no-submit",
        "--yes",
    ]);
    assert_eq!(write.code, 0, "{}", write.all_output());
    let (files, images) = (bed.files(), bed.running_images());
    let sample = bed.sample();
    let run = bed.upgrade(NEW_TAG, &[&sample], &["--yes"]);
    assert_eq!(run.code, 7, "{}", run.all_output());
    assert!(
        run.stderr.contains("monitor (file git-11111111") && run.stderr.contains("--allow-drift"),
        "{}",
        run.stderr
    );
    assert!(!bed.has_note_column());
    assert!(bed.archives().is_empty());
    assert_eq!(bed.files(), files);
    assert_eq!(bed.running_images(), images);
    let allowed = bed.upgrade(NEW_TAG, &[&sample], &["--allow-drift", "--dry-run"]);
    assert_eq!(allowed.code, 0, "{}", allowed.all_output());
    assert!(allowed
        .stderr
        .contains("--allow-drift: the job files and Nomad differ"));
}

#[test]
fn a_migration_already_in_the_ledger_is_refused_at_preflight() {
    let bed = Bed::new(&["--deploy-seconds", "1"]);
    let sample = bed.sample();
    let patch = bed.csi(&[
        "env",
        "db-patch",
        "sandbox",
        sample.to_str().unwrap(),
        "--no-safety-backup",
        "--yes",
    ]);
    assert_eq!(patch.code, 0, "{}", patch.all_output());
    let (files, images) = (bed.files(), bed.running_images());
    let run = bed.upgrade(NEW_TAG, &[&sample], &["--yes"]);
    assert_eq!(run.code, 4, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("patch 0002_parent_jobs_operator_note.sql was already applied"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("drop its --migrate"), "{}", run.stderr);
    assert!(bed.archives().is_empty());
    assert_eq!(bed.files(), files);
    assert_eq!(bed.running_images(), images);
}

#[test]
fn nomad_refusing_the_rollout_leaves_the_upgrade_resumable_without_touching_a_service() {
    let bed = Bed::new(&["--deploy-seconds", "1"]);
    let (files, images) = (bed.files(), bed.running_images());
    let versions: Vec<u64> = SERVICES
        .iter()
        .map(|(job, _)| bed.nomad.job_version(job))
        .collect();
    // Nomad answers reads (the preflight's drift check) but no plan or registration.
    let earlier = bed.nomad.requests().len();
    bed.nomad.inject("POST:/v1/job/*:503");
    let sample = bed.sample();
    let run = bed.upgrade(NEW_TAG, &[&sample], &["--yes"]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(run.stderr.contains("503"), "{}", run.stderr);
    // The operator is told what the upgrade left and how to go on.
    for said in [
        "stay applied (safety archive pre-upgrade-",
        "no service touched",
        "a run with the same arguments resumes",
    ] {
        assert!(run.stderr.contains(said), "{said:?} not in {}", run.stderr);
    }
    let after: Vec<u64> = SERVICES
        .iter()
        .map(|(job, _)| bed.nomad.job_version(job))
        .collect();
    assert_eq!(after, versions, "no job registered");
    assert_eq!(bed.running_images(), images);
    assert_eq!(bed.files(), files, "job files untouched");
    let requests = bed.nomad.requests().split_off(earlier);
    assert!(
        !requests
            .iter()
            .any(|r| r.starts_with("POST /v1/job/") && !r.ends_with("/plan -> 503")),
        "only failed plans: {requests:?}"
    );
    let archives = bed.archives();
    assert_eq!(archives.len(), 1, "{archives:?}");
    assert_eq!(bed.ledger().split(',').count(), 1, "migration applied once");
    assert!(bed.has_note_column());

    // Nomad back: the same command resumes at the rollout.
    bed.nomad.http("DELETE", "/_double/faults", "");
    let resumed = bed.upgrade(NEW_TAG, &[&sample], &["--yes"]);
    assert_eq!(resumed.code, 0, "{}", resumed.all_output());
    assert!(
        resumed.stderr.contains("resuming the upgrade")
            && resumed.stderr.contains("next step: rollout"),
        "{}",
        resumed.stderr
    );
    assert_eq!(bed.archives(), archives, "no second safety backup");
    assert_eq!(bed.ledger().split(',').count(), 1, "applied once");
    assert!(
        all_on(&bed.running_images(), NEW_TAG),
        "{:?}",
        bed.running_images()
    );
    assert!(bed.file_tags().iter().all(|t| t == NEW_TAG));
    let steps = bed.journal_steps();
    for once in [
        "safety_backup",
        "migration:0002_parent_jobs_operator_note.sql",
        "rollout",
    ] {
        assert_eq!(
            steps.iter().filter(|s| *s == once).count(),
            1,
            "{once}: {steps:?}"
        );
    }
}
