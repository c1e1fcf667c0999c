//! What a lab is made of, saved as `lab.json` in its directory after every process it
//! starts, so `down` can stop everything even after an `up` that failed or was killed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::LabError;
use crate::engines::cassandra;
use crate::engines::pgbackrest::Stanza;
use crate::engines::postgres::Pg;
use crate::engines::prometheus::Prometheus;
use crate::engines::redis::Redis;
use crate::outputs;
use crate::process::Proc;
use crate::proxy::ProxyConfig;
use crate::trust;

pub const STATE_FILE: &str = "lab.json";
/// The replication role's password, beside the other credentials.
pub const REPLICATOR_CREDENTIALS: &str = "credentials/replicator.token";
pub const LOCK_FILE: &str = "lab.lock";

/// An exclusive hold on a lab directory while a command changes it (`up`, `down`, drills):
/// a second one says who holds it instead of racing. Released when dropped, or by the system
/// when the holder dies.
pub struct LabLock {
    _file: std::fs::File,
}

impl LabLock {
    pub fn acquire(dir: &Path, what: &str) -> Result<LabLock, LabError> {
        let path = dir.join(LOCK_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| LabError::io(format!("cannot open {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => {
                let _ = file.set_len(0);
                let _ = std::io::Write::write_all(
                    &mut &file,
                    format!("{} {what}\n", std::process::id()).as_bytes(),
                );
                Ok(LabLock { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                // The holder writes who it is just after taking the lock: give it a moment.
                let mut holder = String::new();
                for _ in 0..20 {
                    holder = std::fs::read_to_string(&path).unwrap_or_default();
                    if !holder.trim().is_empty() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                let who = match holder.trim().split_once(' ') {
                    Some((pid, what)) => format!("`sovereign {what}`, pid {pid}"),
                    None if !holder.trim().is_empty() => holder.trim().to_string(),
                    None => "it did not say which".to_string(),
                };
                Err(LabError::Invalid(format!(
                    "another sovereign command is working on the lab in {} ({who}); wait for it to finish",
                    dir.display(),
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                Err(LabError::io(format!("cannot lock {}", path.display()), e))
            }
        }
    }
}
/// Version 2: secrets moved out of `lab.json` into `credentials/`; processes carry their start
/// time.
pub const FORMAT: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Starting,
    Running,
}

/// One PostgreSQL of the lab and what it is to the topology.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PgMember {
    pub site: String,
    /// `primary`, `secondary`, `logical_replica`, or `down` after a failover drill killed it.
    pub role: String,
    pub pg: Pg,
    pub exporter: Option<Proc>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabPostgres {
    pub primary: String,
    pub database: String,
    /// Kept in `credentials/`, never in `lab.json`: [`LabState::load`] fills it.
    #[serde(skip)]
    pub replicator_password: String,
    pub members: BTreeMap<String, PgMember>,
    pub stanza: Option<Stanza>,
    pub max_lag_seconds: f64,
    pub backup_retention_days: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabRedis {
    pub site: String,
    /// `master` or `slave`.
    pub role: String,
    pub redis: Redis,
    pub exporter: Option<Proc>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabCassandra {
    pub cluster: String,
    pub keyspace: String,
    pub nodes: Vec<cassandra::Node>,
    /// Datacenter (site) → (nodes in the lab, replication factor in the lab, RF the topology asks).
    pub datacenters: BTreeMap<String, (u32, u32, u32)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabDns {
    pub addr: SocketAddr,
    pub zone: String,
    pub api_name: String,
}

/// A user region: where its virtual users send from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabUserRegion {
    pub region: String,
    pub source: std::net::IpAddr,
}

/// The application tier and what users need to reach it: the reference application per serving
/// site ([`crate::app`]), its fronts on the latency proxy, and the routing DNS ([`crate::dns`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabUsers {
    /// The routing DNS (UDP).
    pub dns: SocketAddr,
    pub name: String,
    /// The port of every site's front.
    pub port: u16,
    /// Serving site → the front address the DNS answers for it.
    pub fronts: BTreeMap<String, std::net::Ipv4Addr>,
    /// Serving site → where its application listens.
    pub apps: BTreeMap<String, SocketAddr>,
    pub regions: Vec<LabUserRegion>,
    /// The record's TTL and the health checks, as the lab runs them (× `time_scale`).
    pub ttl_seconds: u32,
    pub interval_seconds: f64,
    pub threshold: u32,
    pub time_scale: f64,
    /// The DNS's health transitions (JSON lines).
    pub events: PathBuf,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabSite {
    pub id: String,
    /// The loopback address this site's servers listen on.
    pub ip: String,
    pub region: Option<String>,
    pub fly_region: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabState {
    pub format: u32,
    pub phase: Phase,
    pub project: String,
    /// Where the topology came from (a path, or `<default>`); a copy is `topology.toml`.
    pub topology_source: String,
    pub started_unix: u64,
    pub latency_scale: f64,
    pub sites: Vec<LabSite>,
    pub postgres: Option<LabPostgres>,
    pub redis: BTreeMap<String, LabRedis>,
    pub redis_mode: Option<String>,
    pub redis_policy: Option<String>,
    pub prometheus: BTreeMap<String, Prometheus>,
    pub monitoring_global: Option<String>,
    pub cassandra: Option<LabCassandra>,
    pub dns: Option<LabDns>,
    /// The latency proxy's routes and edges (its configuration file, too).
    pub proxy_config: ProxyConfig,
    /// Route name (`pg iad→ams`) → where it listens.
    pub routes: BTreeMap<String, SocketAddr>,
    /// Serving site → its edge's health URL.
    pub edges: BTreeMap<String, String>,
    pub health_path: Option<String>,
    /// Every process started other than PostgreSQL (stopped with pg_ctl), in start order.
    pub procs: Vec<Proc>,
    /// Notes for `status` and `up`'s summary (capped RF, missing latency figures).
    pub notes: Vec<String>,
    /// The rules the global Prometheus loads, Alertmanager and the receiver.
    #[serde(default)]
    pub alerting: Option<crate::alerting::LabAlerting>,
    /// Which build of each exporter and of Alertmanager runs (see [`crate::tools`]).
    #[serde(default)]
    pub engines: BTreeMap<String, String>,
    /// The application tier users reach through DNS, when the topology has an application and
    /// a DNS zone.
    #[serde(default)]
    pub users: Option<LabUsers>,
}

impl LabState {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(STATE_FILE)
    }

    /// Reads the lab in `dir`, after checking the directory and the file are the caller's
    /// alone (see [`crate::trust`]), and fills in the secrets from `credentials/`.
    pub fn load(dir: &Path) -> Result<Option<LabState>, LabError> {
        let p = Self::path(dir);
        if !p.exists() {
            return Ok(None);
        }
        trust::check_dir(dir)?;
        trust::check_private_file(&p)?;
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LabError::io(format!("cannot read {}", p.display()), e)),
        };
        let format = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("format").and_then(serde_json::Value::as_u64));
        if format.is_some_and(|f| f != u64::from(FORMAT)) {
            return Err(LabError::Invalid(format!(
                "{} was written by another version of sovereign (format {}); stop its processes and remove the directory",
                p.display(),
                format.unwrap_or_default()
            )));
        }
        let mut s: LabState = serde_json::from_str(&text).map_err(|e| {
            LabError::json(
                format!(
                    "{} is not a lab state file (remove the directory by hand)",
                    p.display()
                ),
                e,
            )
        })?;
        s.fill_secrets(dir)?;
        Ok(Some(s))
    }

    /// The passwords `lab.json` does not hold, from the private files `up` wrote.
    fn fill_secrets(&mut self, dir: &Path) -> Result<(), LabError> {
        let read = |rel: &str| -> Result<Option<String>, LabError> {
            let p = dir.join(rel);
            match std::fs::read_to_string(&p) {
                Ok(t) => {
                    trust::check_private_file(&p)?;
                    Ok(Some(t))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(LabError::io(format!("cannot read {}", p.display()), e)),
            }
        };
        if let Some(pg) = self.postgres.as_mut() {
            if let Some(t) = read(outputs::PG_CREDENTIALS)? {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
                let pw = v["password"].as_str().unwrap_or_default();
                for m in pg.members.values_mut() {
                    m.pg.password = pw.to_string();
                }
            }
            if let Some(t) = read(REPLICATOR_CREDENTIALS)? {
                pg.replicator_password = t.trim().to_string();
            }
        }
        if let Some(t) = read(outputs::REDIS_CREDENTIALS)? {
            for r in self.redis.values_mut() {
                r.redis.password = t.trim().to_string();
            }
        }
        Ok(())
    }

    /// Writes the state, owner-only, through a temporary file and a rename.
    pub fn save(&self, dir: &Path) -> Result<(), LabError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| LabError::json("cannot serialise the lab state", e))?;
        trust::write_private(&Self::path(dir), text.as_bytes())
    }

    /// Every PostgreSQL of the lab, with the site it belongs to.
    pub fn pgs(&self) -> impl Iterator<Item = &PgMember> {
        self.postgres.iter().flat_map(|p| p.members.values())
    }

    /// PIDs of everything still alive.
    pub fn alive(&self) -> Vec<(String, u32)> {
        let mut v: Vec<(String, u32)> = self
            .procs
            .iter()
            .filter(|p| p.is_running())
            .map(|p| (p.name.clone(), p.pid))
            .collect();
        for m in self.pgs() {
            if let Some(pid) = m.pg.pid() {
                v.push((format!("postgres {}", m.site), pid));
            }
        }
        v
    }

    /// The lab's PostgreSQL and its primary, or why there is none.
    pub fn pg_primary(&self) -> Result<(&LabPostgres, &PgMember), LabError> {
        let pg = self
            .postgres
            .as_ref()
            .ok_or_else(|| LabError::NotInLab("the lab runs no PostgreSQL".into()))?;
        let primary = pg
            .members
            .get(&pg.primary)
            .ok_or_else(|| LabError::NotInLab("the lab has no primary".into()))?;
        Ok((pg, primary))
    }

    pub fn site(&self, id: &str) -> Option<&LabSite> {
        self.sites.iter().find(|s| s.id == id)
    }
}
