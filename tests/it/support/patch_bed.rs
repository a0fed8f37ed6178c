//! The rollout test bed: the project's job files copied aside, the Nomad double, and
//! csi configured for the six services; with a client to look at Nomad directly.

use std::path::{Path, PathBuf};
use std::time::Duration;

use csi_ops::nomad::NomadClient;
use csi_ops::settings::NomadSettings;

use super::csi::{copy_job_files, nomad_config, TestEnv};
use super::nomad::NomadDouble;

pub struct Bed {
    pub env: TestEnv,
    pub jobs: PathBuf,
    pub nomad: NomadDouble,
}

pub fn bed(double_args: &[&str]) -> Bed {
    let nomad = NomadDouble::start(double_args);
    let env = TestEnv::new("");
    let jobs = copy_job_files(env.path());
    std::fs::write(&env.config, nomad_config(&nomad.address, &jobs, false)).unwrap();
    Bed { env, jobs, nomad }
}

pub fn client(address: &str, token: Option<&str>) -> NomadClient {
    let settings = NomadSettings {
        address: Some(address.to_owned()),
        token: token.map(csi_ops::secret::Secret::new),
        namespace: None,
        region: None,
        ca_cert: None,
        template_values: Default::default(),
        template_files: Default::default(),
        tag_pattern: csi_ops::nomad::jobfile::DEFAULT_TAG_PATTERN.into(),
        deploy_timeout: Duration::from_secs(20),
        cpu_step: 500,
        cpu_floor: 500,
        ..Default::default()
    };
    NomadClient::new(&settings, Duration::from_secs(30)).unwrap()
}

pub fn running_image(address: &str, job: &str) -> Option<String> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (header, _) = client(address, None).job(job).await.unwrap()?;
        header.images().first().map(|(_, _, image)| image.clone())
    })
}

pub fn file_tag(jobs: &Path, file: &str) -> String {
    let text = std::fs::read_to_string(jobs.join(file)).unwrap();
    let images = csi_ops::nomad::jobfile::find_images(&text).unwrap();
    images[0].reference.as_ref().unwrap().tag.clone().unwrap()
}

/// Every service submitted from its file, healthy.
pub fn deploy_all(bed: &Bed) {
    let run = bed.env.csi(&["env", "doctor", "sandbox", "--fix", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
}

impl Bed {
    /// Adds a line to the environment's `nomad { }` block of csi.hcl.
    pub fn nomad_setting(&self, line: &str) {
        let text = std::fs::read_to_string(&self.env.config).unwrap();
        let anchor = "deploy_timeout = \"20s\"";
        assert!(text.contains(anchor), "no nomad block in {text}");
        let text = text.replacen(anchor, &format!("{anchor}\n    {line}"), 1);
        std::fs::write(&self.env.config, text).unwrap();
    }

    /// Rewrites a job file of the bed.
    pub fn edit_job_file(&self, file: &str, edit: impl FnOnce(String) -> String) {
        let path = self.jobs.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let edited = edit(text.clone());
        assert_ne!(edited, text, "the edit of {file} changed nothing");
        std::fs::write(&path, edited).unwrap();
    }
}

/// The versions csi's Nomad-facing tests run against: production's and the current.
pub const NOMAD_VERSIONS: [&str; 2] = ["0.11.1", "2.0.5"];
