//! Is the expected index file what the live folder serves? Through `verify_url` when
//! configured (HTTP 200 and the same bytes), else by reading the live folder's index
//! file on the web host.

use std::time::Duration;

use super::script;
use super::ssh::WebHost;

/// How the version put in place is checked, for the plan shown; `expected` names
/// the index file it must serve.
pub fn describe(verify_url: Option<&str>, live_index: &str, expected: &str) -> String {
    match verify_url {
        Some(url) => format!("GET {url} returns 200 and {expected}"),
        None => format!("{live_index} on the web host equals {expected} (no verify_url)"),
    }
}

const ATTEMPTS: u32 = 3;
const PAUSE: Duration = Duration::from_secs(1);

/// Ok, or why the live folder does not serve `expected`.
pub async fn check(
    host: &WebHost,
    verify_url: Option<&str>,
    live_index: &str,
    expected: &[u8],
) -> Result<(), String> {
    match verify_url {
        Some(url) => served(url, expected).await,
        None => on_host(host, live_index, expected).await,
    }
}

/// A few attempts, a second apart: a web server or a cache in front of it may take a
/// moment to see the renamed folder.
async fn served(url: &str, expected: &[u8]) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        match fetch(&client, url).await {
            Ok(body) if body == expected => return Ok(()),
            Ok(body) => {
                last = format!(
                    "GET {url} returned another index file ({} bytes, the new one has {})",
                    body.len(),
                    expected.len()
                )
            }
            Err(reason) => last = reason,
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(PAUSE).await;
        }
    }
    Err(last)
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let response = client
        .get(url)
        .header("Cache-Control", "no-cache")
        .send()
        .await
        .map_err(|e| format!("GET {url} failed: {e}"))?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!("GET {url} returned {status}"));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("GET {url}: reading the body failed: {e}"))?;
    Ok(body.to_vec())
}

async fn on_host(host: &WebHost, live_index: &str, expected: &[u8]) -> Result<(), String> {
    let found = host
        .run(&script::cat(live_index), "reading the live index file")
        .await
        .map_err(|e| format!("{e:#}"))?;
    if found == expected {
        Ok(())
    } else {
        Err(format!(
            "{live_index} on the web host differs from the new index file ({} bytes, expected {})",
            found.len(),
            expected.len()
        ))
    }
}
