//! `prometheus::*`: the global Prometheus's targets, rules and what the sites remote-write.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::Outcome;

async fn get(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Result<Value, String> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let resp = client
        .get(&url)
        .query(query)
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {}", crate::http::chain(&e)))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("{url} answered {status} without JSON: {e}"))?;
    if body["status"] != "success" {
        return Err(format!(
            "{url}: {}",
            body["error"].as_str().unwrap_or("status is not success")
        ));
    }
    Ok(body["data"].clone())
}

pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

async fn query(client: &reqwest::Client, base: &str, q: &str) -> Result<Vec<Value>, String> {
    let data = get(client, base, "/api/v1/query", &[("query", q)]).await?;
    Ok(data["result"].as_array().cloned().unwrap_or_default())
}

/// Which site a series belongs to: its `site` label, or the global site for local series.
fn site_of(series: &Value, global: &str) -> String {
    series["metric"]["site"]
        .as_str()
        .unwrap_or(global)
        .to_string()
}

/// `prometheus::targets_up`: every `up` series the global Prometheus holds is 1, per site.
pub async fn targets_up(
    url: String,
    global: String,
    sites: Vec<String>,
    timeout: Duration,
) -> Vec<(Option<String>, Outcome)> {
    let client = match client(timeout) {
        Ok(c) => c,
        Err(e) => return vec![(Some(global), Outcome::fail(e))],
    };
    let series = match query(&client, &url, "up").await {
        Ok(s) => s,
        Err(e) => return vec![(Some(global), Outcome::fail(e))],
    };
    let mut per: BTreeMap<String, (u32, Vec<String>)> = BTreeMap::new();
    for s in &series {
        let site = site_of(s, &global);
        let e = per.entry(site).or_default();
        e.0 += 1;
        if s["value"][1].as_str() != Some("1") {
            e.1.push(format!(
                "{} {}",
                s["metric"]["job"].as_str().unwrap_or("?"),
                s["metric"]["instance"].as_str().unwrap_or("?")
            ));
        }
    }
    let mut wanted = sites.clone();
    if !wanted.contains(&global) {
        wanted.push(global.clone());
    }
    wanted
        .into_iter()
        .map(|site| {
            let o = match per.get(&site) {
                None => Outcome::fail("no `up` series for this site at all"),
                Some((n, down)) if down.is_empty() => Outcome::pass(format!("{n} target(s) up"))
                    .with(json!({"targets": n, "down": 0})),
                Some((n, down)) => Outcome::fail(format!(
                    "{} of {n} target(s) down: {}",
                    down.len(),
                    down.join(", ")
                ))
                .with(json!({"targets": n, "down": down})),
            };
            (Some(site), o)
        })
        .collect()
}

/// `prometheus::rules_loaded`: Sovereign's rule groups are loaded and every rule evaluates.
pub async fn rules_loaded(url: String, global: String, timeout: Duration) -> Outcome {
    let client = match client(timeout) {
        Ok(c) => c,
        Err(e) => return Outcome::fail(e),
    };
    let data = match get(&client, &url, "/api/v1/rules", &[]).await {
        Ok(d) => d,
        Err(e) => return Outcome::fail(e),
    };
    let groups = data["groups"].as_array().cloned().unwrap_or_default();
    let ours: Vec<&Value> = groups
        .iter()
        .filter(|g| {
            g["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("sovereign."))
        })
        .collect();
    if ours.is_empty() {
        return Outcome::fail(format!(
            "no `sovereign.*` rule group loaded at {global} ({} other group(s)): is terraform/monitoring/rules/sovereign.rules.yml installed?",
            groups.len()
        ));
    }
    let mut rules = 0;
    let mut bad = Vec::new();
    for g in &ours {
        for r in g["rules"].as_array().into_iter().flatten() {
            rules += 1;
            if r["health"].as_str().is_some_and(|h| h == "err") {
                bad.push(format!(
                    "{}: {}",
                    r["name"].as_str().unwrap_or("?"),
                    r["lastError"].as_str().unwrap_or("error")
                ));
            }
        }
    }
    let data = json!({"groups": ours.len(), "rules": rules, "failing": bad});
    if bad.is_empty() {
        Outcome::pass(format!(
            "{} group(s), {rules} rule(s), all evaluating",
            ours.len()
        ))
        .with(data)
    } else {
        Outcome::fail(format!(
            "{} rule(s) fail to evaluate: {}",
            bad.len(),
            bad.join("; ")
        ))
        .with(data)
    }
}

/// `prometheus::remote_write`: the global Prometheus has recent series from every site.
pub async fn remote_write(
    url: String,
    global: String,
    sites: Vec<String>,
    timeout: Duration,
) -> Vec<(Option<String>, Outcome)> {
    let client = match client(timeout) {
        Ok(c) => c,
        Err(e) => {
            return sites
                .into_iter()
                .map(|s| (Some(s), Outcome::fail(e.clone())))
                .collect();
        }
    };
    // Series written in the last two minutes, counted per site label.
    let series = match query(&client, &url, "count by (site) (count_over_time(up[2m]))").await {
        Ok(s) => s,
        Err(e) => {
            return sites
                .into_iter()
                .map(|s| (Some(s), Outcome::fail(e.clone())))
                .collect();
        }
    };
    let counts: BTreeMap<String, String> = series
        .iter()
        .map(|s| {
            (
                site_of(s, &global),
                s["value"][1].as_str().unwrap_or("0").to_string(),
            )
        })
        .collect();
    sites
        .into_iter()
        .map(|site| {
            let how = if site == global { "scraped locally" } else { "remote-written" };
            let o = match counts.get(&site) {
                Some(n) => Outcome::pass(format!("{n} `up` series {how} in the last 2 min")).with(json!({"series": n})),
                None => Outcome::fail(format!("the global Prometheus ({global}) has no series from this site in the last 2 min")),
            };
            (Some(site), o)
        })
        .collect()
}
