//! An HTTP client for the Nomad API honouring NOMAD_ADDR, NOMAD_TOKEN (as the
//! X-Nomad-Token header), NOMAD_NAMESPACE, NOMAD_REGION and the TLS settings the nomad
//! CLI reads (NOMAD_CACERT, NOMAD_CAPATH, NOMAD_CLIENT_CERT/KEY, NOMAD_TLS_SERVER_NAME,
//! NOMAD_SKIP_VERIFY) and NOMAD_HTTP_AUTH, all resolved in `settings`.

use std::time::Duration;

use crate::error::{usage, CsiError};
use crate::settings::NomadSettings;

pub(crate) mod tls;

use super::api::JobHeader;
use super::NomadError;

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

    /// The service's status as an operator means it: `running` only when every task
    /// group has a running, healthy allocation of the job's current version (Nomad
    /// itself says `running` as soon as anything is placed, and from 2.0.1 even with
    /// nothing placed while a deployment is active); `running, not healthy yet`
    /// otherwise; Nomad's status (`pending`, `dead`) when not running; None when Nomad
    /// has no such job.
    pub async fn job_status(&self, job_id: &str) -> Result<Option<String>, NomadError> {
        match self.job(job_id).await? {
            Some((header, _)) => Ok(Some(self.service_status(&header).await?)),
            None => Ok(None),
        }
    }

    /// [`job_status`](Self::job_status) for a job already read.
    pub async fn service_status(&self, header: &JobHeader) -> Result<String, NomadError> {
        if header.status != "running" || header.stop {
            return Ok(header.status.clone());
        }
        let allocs = self
            .job_allocations(&header.id, 0, Duration::ZERO)
            .await?
            .value;
        let healthy = header.task_groups.iter().flatten().all(|group| {
            allocs.iter().any(|a| {
                a.task_group == group.name && a.job_version == header.version && a.is_healthy()
            })
        });
        Ok(if healthy {
            "running".to_owned()
        } else {
            "running, not healthy yet".to_owned()
        })
    }
}
