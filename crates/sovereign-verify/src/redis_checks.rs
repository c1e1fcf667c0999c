//! `redis::*`: reachability, the replication role, the eviction policy.

use std::time::{Duration, Instant};

use redis::IntoConnectionInfo;
use serde_json::json;

use crate::Outcome;

#[derive(Clone, Debug)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// `master` or `slave`, as INFO says it.
    pub role: String,
}

async fn conn(
    t: &Target,
    password: Option<&str>,
    timeout: Duration,
) -> Result<redis::aio::MultiplexedConnection, String> {
    let scheme = if t.tls { "rediss" } else { "redis" };
    let host = if t.host.contains(':') {
        format!("[{}]", t.host)
    } else {
        t.host.clone()
    };
    let info = format!("{scheme}://{host}:{}", t.port)
        .into_connection_info()
        .map_err(|e| format!("bad address {}:{}: {e}", t.host, t.port))?;
    let info = match password {
        Some(p) => {
            let settings = info.redis_settings().clone().set_password(p);
            info.set_redis_settings(settings)
        }
        None => info,
    };
    let client = redis::Client::open(info).map_err(|e| format!("{e}"))?;
    let cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await
        .map_err(|e| format!("cannot connect to {}:{}: {e}", t.host, t.port))
}

/// `INFO <section>` as key/value pairs.
async fn info(
    c: &mut redis::aio::MultiplexedConnection,
    section: &str,
) -> Result<Vec<(String, String)>, String> {
    let text: String = redis::cmd("INFO")
        .arg(section)
        .query_async(c)
        .await
        .map_err(|e| format!("INFO {section} failed: {e}"))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect())
}

fn get<'a>(kv: &'a [(String, String)], key: &str) -> Option<&'a str> {
    kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

pub async fn reachable(t: Target, password: Option<String>, timeout: Duration) -> Outcome {
    let start = Instant::now();
    let mut c = match conn(&t, password.as_deref(), timeout).await {
        Ok(c) => c,
        Err(e) => return Outcome::fail(e),
    };
    let pong: Result<String, _> = redis::cmd("PING").query_async(&mut c).await;
    let ms = start.elapsed().as_millis() as u64;
    match pong {
        Ok(_) => match info(&mut c, "server").await {
            Ok(kv) => {
                let v = get(&kv, "redis_version")
                    .or(get(&kv, "valkey_version"))
                    .unwrap_or("?")
                    .to_string();
                Outcome::pass(format!("Redis {v} answered PING in {ms} ms"))
                    .with(json!({"version": v, "ping_ms": ms}))
            }
            Err(e) => Outcome::fail(e),
        },
        Err(e) => Outcome::fail(format!("PING failed: {e}")),
    }
}

pub async fn role(t: Target, password: Option<String>, timeout: Duration) -> Outcome {
    let mut c = match conn(&t, password.as_deref(), timeout).await {
        Ok(c) => c,
        Err(e) => return Outcome::fail(e),
    };
    let kv = match info(&mut c, "replication").await {
        Ok(kv) => kv,
        Err(e) => return Outcome::fail(e),
    };
    let role = get(&kv, "role").unwrap_or("?").to_string();
    if role != t.role {
        return Outcome::fail(format!(
            "INFO reports role `{role}`, the topology expects `{}`",
            t.role
        ))
        .with(json!({"role": role}));
    }
    if role == "slave" {
        let link = get(&kv, "master_link_status").unwrap_or("?");
        let from = format!(
            "{}:{}",
            get(&kv, "master_host").unwrap_or("?"),
            get(&kv, "master_port").unwrap_or("?")
        );
        if link != "up" {
            return Outcome::fail(format!("replica of {from}, but the link to it is `{link}`"))
                .with(json!({"role": role, "link": link}));
        }
        return Outcome::pass(format!("replica of {from}, link up"))
            .with(json!({"role": role, "link": link}));
    }
    let replicas = get(&kv, "connected_slaves").unwrap_or("0").to_string();
    Outcome::pass(format!("primary with {replicas} connected replica(s)"))
        .with(json!({"role": role, "replicas": replicas}))
}

pub async fn memory_policy(
    t: Target,
    password: Option<String>,
    expected: String,
    timeout: Duration,
) -> Outcome {
    let mut c = match conn(&t, password.as_deref(), timeout).await {
        Ok(c) => c,
        Err(e) => return Outcome::fail(e),
    };
    let kv = match info(&mut c, "memory").await {
        Ok(kv) => kv,
        Err(e) => return Outcome::fail(e),
    };
    let policy = get(&kv, "maxmemory_policy").unwrap_or("?").to_string();
    let max = get(&kv, "maxmemory_human").unwrap_or("?").to_string();
    let used = get(&kv, "used_memory_human").unwrap_or("?").to_string();
    let data = json!({"maxmemory_policy": policy, "maxmemory": max, "used_memory": used});
    if policy != expected {
        Outcome::fail(format!(
            "maxmemory-policy is `{policy}`, the topology asks for `{expected}`"
        ))
        .with(data)
    } else {
        Outcome::pass(format!("maxmemory-policy {policy}; {used} used of {max}")).with(data)
    }
}
