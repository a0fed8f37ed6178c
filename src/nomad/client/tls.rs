//! The Nomad client's TLS and HTTP authentication, as the nomad CLI applies its
//! variables: extra CA certificates (a file and/or a folder), a client certificate for
//! mutual TLS, the server name the certificate is checked against, skipping
//! verification, and basic authentication.

use std::net::ToSocketAddrs as _;
use std::path::Path;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

use crate::error::{usage, CsiError};
use crate::settings::NomadSettings;

/// The builder with the settings applied, and the base URL requests go to.
pub fn configure(
    mut builder: reqwest::ClientBuilder,
    settings: &NomadSettings,
    address: &str,
) -> Result<(reqwest::ClientBuilder, String), CsiError> {
    if let Some(ca) = &settings.ca_cert {
        builder = add_ca_file(builder, ca)?;
    }
    if let Some(dir) = &settings.ca_path {
        let entries = fs_err::read_dir(dir)
            .map_err(|e| usage(format!("cannot read nomad.ca_path (NOMAD_CAPATH): {e}")))?;
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for file in files {
            builder = add_ca_file(builder, &file)?;
        }
    }
    match (&settings.client_cert, &settings.client_key) {
        (Some(cert), Some(key)) => {
            let mut pem = read(cert, "nomad.client_cert (NOMAD_CLIENT_CERT)")?;
            pem.push(b'\n');
            pem.extend(read(key, "nomad.client_key (NOMAD_CLIENT_KEY)")?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                usage(format!(
                    "{} and {} are not a PEM certificate and key: {e}",
                    cert.display(),
                    key.display()
                ))
            })?;
            builder = builder.identity(identity);
        }
        (None, None) => {}
        _ => {
            return Err(usage(
                "a Nomad client certificate needs both nomad.client_cert and nomad.client_key",
            )
            .with_hint("set both (or NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY), or neither"))
        }
    }
    if settings.skip_verify {
        builder = builder.danger_accept_invalid_certs(true);
    }
    if let Some(auth) = &settings.http_auth {
        builder = builder.default_headers(basic_auth(auth.expose())?);
    }
    let base = match &settings.tls_server_name {
        Some(name) => {
            let (b, base) = with_server_name(builder, address, name)?;
            builder = b;
            base
        }
        None => address.to_owned(),
    };
    Ok((builder, base))
}

fn read(path: &Path, key: &str) -> Result<Vec<u8>, CsiError> {
    fs_err::read(path).map_err(|e| usage(format!("cannot read {key}: {e}")))
}

fn add_ca_file(
    builder: reqwest::ClientBuilder,
    path: &Path,
) -> Result<reqwest::ClientBuilder, CsiError> {
    let pem = read(
        path,
        "the Nomad CA certificate (nomad.ca_cert / NOMAD_CACERT)",
    )?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| usage(format!("{} is not a PEM certificate: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(usage(format!(
            "{} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs
        .into_iter()
        .fold(builder, |b, cert| b.add_root_certificate(cert)))
}

/// `NOMAD_HTTP_AUTH=user:password` (or `user`), sent as HTTP basic authentication.
fn basic_auth(auth: &str) -> Result<HeaderMap, CsiError> {
    use base64::Engine as _;
    let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    crate::secret::register(&encoded);
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
        .map_err(|_| usage("NOMAD_HTTP_AUTH holds characters a header cannot carry"))?;
    value.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, value);
    Ok(headers)
}

/// Requests go to `https://<name>:<port>`, with the name resolved to the address's own
/// host: the TLS handshake then sends and checks `name`, as the nomad CLI does with
/// NOMAD_TLS_SERVER_NAME.
fn with_server_name(
    builder: reqwest::ClientBuilder,
    address: &str,
    name: &str,
) -> Result<(reqwest::ClientBuilder, String), CsiError> {
    let mut url = reqwest::Url::parse(address)
        .map_err(|e| usage(format!("the Nomad address `{address}` is not a URL: {e}")))?;
    let host = url
        .host_str()
        .ok_or_else(|| usage(format!("the Nomad address `{address}` has no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(4646);
    let addrs: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| usage(format!("cannot resolve the Nomad host {host}: {e}")))?
        .collect();
    url.set_host(Some(name)).map_err(|e| {
        usage(format!(
            "nomad.tls_server_name `{name}` is not a host name: {e}"
        ))
    })?;
    Ok((
        builder.resolve_to_addrs(name, &addrs),
        url.as_str().trim_end_matches('/').to_owned(),
    ))
}

/// What to set when the TLS handshake failed for a reason the nomad CLI's variables
/// fix (rustls's words, as reqwest reports them).
pub fn advice(detail: &str) -> Option<&'static str> {
    if detail.contains("UnknownIssuer") || detail.contains("unknown issuer") {
        Some("its certificate is signed by a CA csi does not trust: set nomad.ca_cert / NOMAD_CACERT (Nomad's CA, a PEM file) or nomad.ca_path / NOMAD_CAPATH (a folder of them)")
    } else if detail.contains("not valid for name") {
        Some("its certificate does not name that host: set nomad.tls_server_name / NOMAD_TLS_SERVER_NAME to a name it holds (server.<region>.nomad for Nomad's own certificates)")
    } else if detail.contains("CertificateRequired") || detail.contains("certificate required") {
        Some("the server asks for a client certificate: set nomad.client_cert and nomad.client_key (NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY)")
    } else if detail.contains("fatal alert: UnknownCA")
        || detail.contains("fatal alert: BadCertificate")
    {
        Some("the server refused the client certificate: check nomad.client_cert / NOMAD_CLIENT_CERT (it must be signed by the CA the server trusts)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_auth_is_encoded_as_the_nomad_cli_does() {
        let headers = super::basic_auth("ops:pa55").unwrap();
        assert_eq!(headers["authorization"], "Basic b3BzOnBhNTU=");
    }
}
