//! The outputs file: what `terraform output -json` prints for the rendered tree (each output
//! as `{"sensitive": .., "type": .., "value": ..}`), or the same values without the wrapper.
//! The lab writes the same shape, with credentials files and resolvers added.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::VerifyError;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Eks {
    pub cluster_name: Option<String>,
    pub endpoint: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SitePostgres {
    /// `primary`, `secondary` or `logical_replica`.
    pub role: String,
    pub writer_endpoint: Option<String>,
    pub reader_endpoint: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
}

impl SitePostgres {
    /// Where to connect for this site's copy: the writer on the primary, a reader elsewhere.
    pub fn endpoint(&self) -> Option<(String, u16)> {
        let host = match self.role.as_str() {
            "primary" => self.writer_endpoint.clone().or(self.host.clone()),
            "secondary" => self.reader_endpoint.clone().or(self.host.clone()),
            _ => self.host.clone().or(self.reader_endpoint.clone()),
        }?;
        Some((host, self.port.unwrap_or(5432)))
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SiteRedis {
    pub primary_endpoint: Option<String>,
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: bool,
    /// The role INFO should report on the primary endpoint (default `master`).
    pub role: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SiteCassandra {
    pub datacenter: String,
    #[serde(default)]
    pub contact_points: Vec<String>,
    pub port: Option<u16>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SiteLoadBalancer {
    pub dns_name: Option<String>,
    pub url: Option<String>,
    pub health_path: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Site {
    pub region: Option<String>,
    pub fly_region: Option<String>,
    pub eks: Option<Eks>,
    pub postgres: Option<SitePostgres>,
    pub redis: Option<SiteRedis>,
    pub cassandra: Option<SiteCassandra>,
    pub load_balancer: Option<SiteLoadBalancer>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PgBackRest {
    pub stanza: String,
    pub config: String,
    /// Run pgBackRest as this user (the lab: `postgres`).
    pub user: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Postgres {
    pub primary_site: String,
    pub database: Option<String>,
    #[serde(default)]
    pub expected_replicas: Vec<String>,
    pub max_lag_seconds: Option<f64>,
    pub backup_retention_days: Option<i64>,
    /// Secrets Manager name of the credentials (AWS).
    pub credentials_secret: Option<String>,
    /// A JSON file `{"username": .., "password": ..}` (the lab).
    pub credentials_file: Option<String>,
    /// `verify-full` makes verify check the server's certificate. Nothing here can turn TLS
    /// off or weaken what the caller chose: `disable`, `prefer`, `allow` and `require` change
    /// nothing (only the caller's `--pg-insecure-no-tls` turns TLS off).
    pub sslmode: Option<String>,
    pub pgbackrest: Option<PgBackRest>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Redis {
    pub mode: Option<String>,
    /// The global datastore's primary (global mode).
    pub primary_site: Option<String>,
    pub maxmemory_policy: Option<String>,
    pub credentials_secret: Option<String>,
    pub credentials_file: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct CassandraDc {
    pub nodes: u32,
    pub replication_factor: u32,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Cassandra {
    pub cluster_name: Option<String>,
    pub keyspace: String,
    #[serde(default)]
    pub datacenters: BTreeMap<String, CassandraDc>,
    pub credentials_file: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Monitoring {
    pub global_site: Option<String>,
    pub prometheus_url: Option<String>,
    #[serde(default)]
    pub sites: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Dns {
    pub api_name: String,
    #[serde(default)]
    pub sites: Vec<String>,
    /// `ip:port` of resolvers to ask (the lab's); none means the system resolver.
    #[serde(default)]
    pub resolvers: Vec<String>,
}

/// What the topology declares of one engine, and which outputs it calls for were absent (set
/// by [`crate::expect::apply`]; each becomes an `<engine>::outputs_present` check).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Declared {
    /// `postgres`, `redis`, `cassandra`, `prometheus`, `http` or `dns`.
    pub engine: &'static str,
    /// What the topology declares, for the report: "PostgreSQL (primary dub, replicas iad)".
    pub what: String,
    /// The outputs it calls for that the file lacked: "the `postgres` output",
    /// "`sites.iad.postgres`".
    pub absent: Vec<String>,
}

/// Everything verify reads.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    pub sites: BTreeMap<String, Site>,
    pub postgres: Option<Postgres>,
    pub redis: Option<Redis>,
    pub cassandra: Option<Cassandra>,
    pub monitoring: Option<Monitoring>,
    pub dns: Option<Dns>,
    /// Directory of the outputs file: relative paths in it are resolved against it.
    pub base: PathBuf,
    /// What a topology declares, when verify was given one; empty otherwise.
    pub declared: Vec<Declared>,
}

fn unwrap(v: &Value) -> &Value {
    match v {
        Value::Object(m)
            if m.contains_key("value")
                && (m.contains_key("type") || m.contains_key("sensitive")) =>
        {
            &m["value"]
        }
        other => other,
    }
}

fn field<T: serde::de::DeserializeOwned>(
    root: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<T>, VerifyError> {
    match root.get(key).map(unwrap) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
            VerifyError::Outputs(format!("output `{key}` has an unexpected shape: {e}"))
        }),
    }
}

impl Outputs {
    pub fn parse(text: &str, base: &Path) -> Result<Outputs, VerifyError> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| VerifyError::Outputs(format!("not JSON: {e}")))?;
        let Value::Object(root) = v else {
            return Err(VerifyError::Outputs(
                "expected a JSON object of outputs".into(),
            ));
        };
        let sites: BTreeMap<String, Site> = field(&root, "sites")?.ok_or_else(|| {
            VerifyError::Outputs(
                "no `sites` output: is this `terraform output -json` of a Sovereign tree?".into(),
            )
        })?;
        Ok(Outputs {
            sites,
            postgres: field(&root, "postgres")?,
            redis: field(&root, "redis")?,
            cassandra: field(&root, "cassandra")?,
            monitoring: field(&root, "monitoring")?,
            dns: field(&root, "dns")?,
            base: base.to_path_buf(),
            declared: Vec::new(),
        })
    }

    pub fn load(path: &Path) -> Result<Outputs, VerifyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| VerifyError::Io(format!("cannot read `{}`: {e}", path.display())))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Outputs::parse(&text, &base)
    }

    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }
}
