//! `http::load_balancer`: each site's endpoint answers its health path.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::Outcome;

/// An error with its causes, which reqwest keeps in the source chain.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s = format!("{s}: {t}");
        }
        src = inner.source();
    }
    s
}

/// The URL to probe: the outputs' `url` (scheme and host) plus the health path.
pub fn health_url(url: Option<&str>, dns_name: Option<&str>, path: Option<&str>) -> Option<String> {
    let base = match (url, dns_name) {
        (Some(u), _) => u.trim_end_matches('/').to_string(),
        (None, Some(d)) => format!("https://{d}"),
        (None, None) => return None,
    };
    let path = path.unwrap_or("/");
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    Some(format!("{base}{path}"))
}

pub async fn load_balancer(url: String, timeout: Duration) -> Outcome {
    let client = match reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
    {
        Ok(c) => c,
        Err(e) => return Outcome::fail(format!("HTTP client: {e}")),
    };
    let start = Instant::now();
    match client.get(&url).send().await {
        Ok(resp) => {
            let ms = start.elapsed().as_millis() as u64;
            let status = resp.status();
            let data = json!({"url": url, "status": status.as_u16(), "ms": ms});
            if status.is_success() || status.is_redirection() {
                Outcome::pass(format!("GET {url} → {status} in {ms} ms")).with(data)
            } else {
                // The first line of the body often says why (the lab's edges name what is down).
                let body = resp.text().await.unwrap_or_default();
                let line: String = body
                    .lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(160)
                    .collect();
                let why = if line.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", line.trim())
                };
                Outcome::fail(format!("GET {url} → {status}{why}")).with(data)
            }
        }
        Err(e) => Outcome::fail(format!("GET {url} failed: {}", chain(&e))),
    }
}
