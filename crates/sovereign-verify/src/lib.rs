//! Live checks of a deployment, from its outputs.
//!
//! [`verify`] reads what `terraform output -json` prints for the rendered tree (the lab writes
//! the same shape) and runs the design's deployment checklist as checks named
//! `<engine>::<check>`: PostgreSQL reachability, replication, lag, write propagation and
//! backups; Redis reachability, role and eviction policy; Cassandra nodes per datacenter and
//! keyspace replication; Prometheus targets, rules and remote write; the load balancers'
//! health paths; DNS answers. Checks run concurrently, each under its own timeout: a dead host
//! fails its check with a reason, it never hangs the run.
//!
//! Credentials come from environment variables or from files the outputs name, never from the
//! command line, and are never printed: every message verify returns or prints goes through
//! [`redact::redact`], and details quote no more of a file the outputs point at than needed.
//!
//! PostgreSQL sessions use TLS unless the caller turns it off ([`PgTls`], the command line's
//! `--pg-insecure-no-tls`); the outputs file can only make TLS stricter, never turn it off.
//!
//! With a topology ([`expect::apply`]), every component it declares that the outputs lack is a
//! failed `<engine>::outputs_present` check; without one, per-site outputs of an engine whose
//! own output is missing are (PostgreSQL, Redis and Cassandra cannot be checked without it).

mod cassandra;
mod checks;
mod credentials;
mod dns;
pub use dns::{name_servers, normalise_host, parse_resolver};
pub mod expect;
mod http;
pub mod load;
pub mod outputs;
mod postgres;
mod prometheus;
pub mod redact;
mod redis_checks;
pub mod report;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use outputs::Outputs;

/// What stops verify before any check runs.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Io(String),
    #[error("outputs: {0}")]
    Outputs(String),
    #[error("{0}")]
    Usage(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
}

/// The result of one check at one site.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub site: Option<String>,
    pub status: Status,
    pub duration_ms: u64,
    /// On success what was seen, on failure why it failed.
    pub detail: String,
    /// Figures for JSON consumers (milliseconds of propagation, lag seconds, counts).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

/// How a check ended, before timing is attached.
pub(crate) struct Outcome {
    pub ok: bool,
    pub detail: String,
    pub data: serde_json::Value,
}

impl Outcome {
    pub fn pass(detail: impl Into<String>) -> Outcome {
        Outcome {
            ok: true,
            detail: detail.into(),
            data: serde_json::Value::Null,
        }
    }
    pub fn fail(detail: impl Into<String>) -> Outcome {
        Outcome {
            ok: false,
            detail: detail.into(),
            data: serde_json::Value::Null,
        }
    }
    pub fn with(mut self, data: serde_json::Value) -> Outcome {
        self.data = data;
        self
    }
}

pub(crate) type BoxFut = Pin<Box<dyn Future<Output = Vec<(Option<String>, Outcome)>> + Send>>;

/// A check before it runs: a name, the site it is about (for timeouts), and the work, which
/// may report for several sites (write propagation reports each replica).
pub(crate) struct Planned {
    pub name: &'static str,
    pub site: Option<String>,
    pub fut: BoxFut,
}

/// How PostgreSQL sessions use TLS, weakest first. The caller chooses; the outputs' `sslmode`
/// can raise it to [`PgSslMode::VerifyFull`], never lower it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum PgSslMode {
    /// Plain text: the password crosses the network readable. Only for a lab on loopback.
    Disable,
    /// Encrypted, the server's certificate not checked (libpq's `require`; Aurora's minimum).
    #[default]
    Require,
    /// Encrypted, the certificate checked against [`PgTls::ca_file`] (else the web's root
    /// CAs) and the host name.
    VerifyFull,
}

impl PgSslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PgSslMode::Disable => "disable",
            PgSslMode::Require => "require",
            PgSslMode::VerifyFull => "verify-full",
        }
    }
}

/// TLS of PostgreSQL sessions, as the caller configured it (the CLI's `--pg-sslmode`,
/// `--pg-ca-file`, `--pg-insecure-no-tls`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PgTls {
    pub mode: PgSslMode,
    /// PEM bundle of the CAs that sign the servers' certificates (the RDS bundle), for
    /// `verify-full`.
    pub ca_file: Option<PathBuf>,
}

/// Options of a run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Glob patterns over check names (`postgres::*`, `*::reachable`); empty runs everything.
    pub only: Vec<String>,
    pub timeout: Duration,
    /// Resolvers (`ip:port`) for `dns::routing`, besides those the outputs name.
    pub resolvers: Vec<String>,
    pub pg_tls: PgTls,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            only: Vec::new(),
            timeout: Duration::from_secs(10),
            resolvers: Vec::new(),
            pg_tls: PgTls::default(),
        }
    }
}

/// `*` matches any run of characters.
pub fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// Every check name verify knows, for `--only` validation and docs.
pub const CHECKS: &[&str] = &[
    "postgres::outputs_present",
    "postgres::reachable",
    "postgres::replication",
    "postgres::lag",
    "postgres::write_propagation",
    "postgres::backups",
    "redis::outputs_present",
    "redis::reachable",
    "redis::role",
    "redis::memory_policy",
    "cassandra::outputs_present",
    "cassandra::nodes_per_dc",
    "cassandra::keyspace_replication",
    "prometheus::outputs_present",
    "prometheus::targets_up",
    "prometheus::rules_loaded",
    "prometheus::remote_write",
    "http::outputs_present",
    "http::load_balancer",
    "dns::outputs_present",
    "dns::routing",
];

/// Runs every applicable check (filtered by `--only`) concurrently.
pub async fn verify(outputs: &Outputs, opts: &Options) -> Result<Vec<CheckResult>, VerifyError> {
    for p in &opts.only {
        if !CHECKS.iter().any(|c| glob(p, c)) {
            return Err(VerifyError::Usage(format!(
                "--only `{p}` matches no check; checks: {}",
                CHECKS.join(", ")
            )));
        }
    }
    let planned: Vec<Planned> = checks::plan(outputs, opts)
        .into_iter()
        .filter(|c| opts.only.is_empty() || opts.only.iter().any(|p| glob(p, c.name)))
        .collect();
    let timeout = opts.timeout;
    let handles: Vec<_> = planned
        .into_iter()
        .map(|c| {
            tokio::spawn(async move {
                let start = Instant::now();
                let res = tokio::time::timeout(timeout, c.fut).await;
                let ms = start.elapsed().as_millis() as u64;
                match res {
                    Ok(list) => list
                        .into_iter()
                        .map(|(site, o)| CheckResult {
                            name: c.name.to_string(),
                            site: site.or(c.site.clone()),
                            status: if o.ok { Status::Pass } else { Status::Fail },
                            duration_ms: ms,
                            detail: redact::redact(&o.detail),
                            data: redact::redact_json(&o.data),
                        })
                        .collect::<Vec<_>>(),
                    Err(_) => vec![CheckResult {
                        name: c.name.to_string(),
                        site: c.site.clone(),
                        status: Status::Fail,
                        duration_ms: ms,
                        detail: format!("no answer within {} s", timeout.as_secs_f64()),
                        data: serde_json::Value::Null,
                    }],
                }
            })
        })
        .collect();
    let mut results = Vec::new();
    for h in handles {
        match h.await {
            Ok(mut r) => results.append(&mut r),
            Err(e) => results.push(CheckResult {
                name: "verify".into(),
                site: None,
                status: Status::Fail,
                duration_ms: 0,
                detail: redact::redact(&format!("a check crashed: {e}")),
                data: serde_json::Value::Null,
            }),
        }
    }
    results.sort_by(|a, b| {
        let order = |n: &str| CHECKS.iter().position(|c| *c == n).unwrap_or(usize::MAX);
        (order(&a.name), &a.site).cmp(&(order(&b.name), &b.site))
    });
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("postgres::*", "postgres::lag"));
        assert!(glob("*::reachable", "redis::reachable"));
        assert!(glob("dns::routing", "dns::routing"));
        assert!(!glob("postgres::*", "redis::role"));
        assert!(glob("*", "anything"));
    }
}
