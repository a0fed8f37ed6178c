//! An HTTP client for the Nomad API honouring NOMAD_ADDR, NOMAD_TOKEN (as the
//! X-Nomad-Token header), NOMAD_NAMESPACE, NOMAD_REGION and the TLS settings the nomad
//! CLI reads (NOMAD_CACERT, NOMAD_CAPATH, NOMAD_CLIENT_CERT/KEY, NOMAD_TLS_SERVER_NAME,
//! NOMAD_SKIP_VERIFY) and NOMAD_HTTP_AUTH, all resolved in `settings`.

use std::time::Duration;

use anyhow::Context as _;

use crate::error::{usage, CsiError};
use crate::settings::NomadSettings;

mod tls;

const TOKEN_HEADER: &str = "X-Nomad-Token";

#[derive(Debug, Clone)]
pub struct NomadClient {
    http: reqwest::Client,
    address: String,
    /// Where requests go: the address, or with `tls_server_name` the address with that
    /// name as its host (resolved to the address's own host, so that the certificate is
    /// checked against the name).
    base: String,
    token: Option<crate::secret::Secret>,
    namespace: Option<String>,
    region: Option<String>,
}

impl NomadClient {
    pub fn new(settings: &NomadSettings, timeout: Duration) -> Result<Self, CsiError> {
        crate::ssh::require_attached(settings.over_ssh, "Nomad")?;
        let address = settings.address.clone().ok_or_else(|| {
            usage("no Nomad address for this environment")
                .with_hint("set nomad.address in csi.hcl or NOMAD_ADDR")
        })?;
        let address = address.trim_end_matches('/').to_owned();
        let builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)));
        let (builder, base) = tls::configure(builder, settings, &address)?;
        let http = builder
            .build()
            .map_err(|e| usage(format!("cannot set up the Nomad client: {e}")))?;
        Ok(NomadClient {
            http,
            address,
            base,
            token: settings.token.clone(),
            namespace: settings.namespace.clone(),
            region: settings.region.clone(),
        })
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, path)
    }

    /// A request to the API with the token header and the namespace/region parameters.
    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header(TOKEN_HEADER, token.expose());
        }
        let mut query = Vec::new();
        if let Some(ns) = &self.namespace {
            query.push(("namespace", ns.as_str()));
        }
        if let Some(region) = &self.region {
            query.push(("region", region.as_str()));
        }
        request.query(&query)
    }

    /// The job's status (`pending`, `running`, `dead`), or None when Nomad has no such job.
    pub async fn job_status(&self, job_id: &str) -> anyhow::Result<Option<String>> {
        #[derive(serde::Deserialize)]
        struct JobStatus {
            #[serde(rename = "Status")]
            status: String,
        }
        let path = format!("/v1/job/{job_id}");
        let response = self
            .get(&path)
            .send()
            .await
            .with_context(|| format!("cannot reach Nomad at {}", self.address))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            anyhow::bail!("Nomad answered {status} for {path}: {}", body.trim());
        }
        let job: JobStatus = serde_json::from_str(&body)
            .with_context(|| format!("unexpected answer from {}{path}", self.address))?;
        Ok(Some(job.status))
    }

    /// The address of the cluster's leader (`/v1/status/leader`).
    pub async fn leader(&self) -> anyhow::Result<String> {
        let response = self
            .get("/v1/status/leader")
            .send()
            .await
            .with_context(|| format!("cannot reach Nomad at {}", self.address))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            anyhow::bail!(
                "Nomad at {} answered {status}: {}",
                self.address,
                body.trim()
            );
        }
        let leader: String = serde_json::from_str(&body)
            .with_context(|| format!("unexpected answer from {}/v1/status/leader", self.address))?;
        if leader.is_empty() {
            anyhow::bail!("Nomad at {} has no leader", self.address);
        }
        Ok(leader)
    }
}
