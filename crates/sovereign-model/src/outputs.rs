//! The outputs contract: what the rendered tree's global root declares as Terraform outputs,
//! what the lab writes for its loopback deployment, and what `sovereign verify` reads.
//!
//! One set of types for all three. `render` builds its `outputs.tf` with these field names
//! (the engines judge applies the tree and parses `terraform output -json` back into these
//! types, flagging any field the contract does not know), the lab serializes them, and
//! verify deserializes them. A file may wrap each output as `terraform output -json` does
//! (`{"sensitive", "type", "value"}`) or give the bare values.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The names of the outputs, in the order the tree declares them.
pub const OUTPUT_NAMES: [&str; 7] = [
    "sites",
    "postgres",
    "redis",
    "cassandra",
    "monitoring",
    "fly_links",
    "dns",
];

/// A site's part in PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostgresRole {
    /// The Aurora primary: the writer.
    Primary,
    /// An Aurora secondary: a read-only copy through storage replication.
    Secondary,
    /// A PostgreSQL logical replica (Fly.io), subscribed to the primary.
    LogicalReplica,
}

impl PostgresRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PostgresRole::Primary => "primary",
            PostgresRole::Secondary => "secondary",
            PostgresRole::LogicalReplica => "logical_replica",
        }
    }
}

impl fmt::Display for PostgresRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Eks {
    pub cluster_name: Option<String>,
    pub endpoint: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SitePostgres {
    pub role: PostgresRole,
    #[serde(default)]
    pub cluster_id: Option<String>,
    #[serde(default)]
    pub writer_endpoint: Option<String>,
    #[serde(default)]
    pub reader_endpoint: Option<String>,
    /// A logical replica's host.
    #[serde(default)]
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database: Option<String>,
}

impl SitePostgres {
    /// Where to connect for this site's copy: the writer on the primary, a reader elsewhere.
    pub fn endpoint(&self) -> Option<(String, u16)> {
        let host = match self.role {
            PostgresRole::Primary => self.writer_endpoint.clone().or(self.host.clone()),
            PostgresRole::Secondary => self.reader_endpoint.clone().or(self.host.clone()),
            PostgresRole::LogicalReplica => self.host.clone().or(self.reader_endpoint.clone()),
        }?;
        Some((host, self.port.unwrap_or(5432)))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SiteRedis {
    pub primary_endpoint: Option<String>,
    #[serde(default)]
    pub reader_endpoint: Option<String>,
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: bool,
    /// The role INFO should report on the primary endpoint (default `master`).
    #[serde(default)]
    pub role: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SiteCassandra {
    pub datacenter: String,
    #[serde(default)]
    pub contact_points: Vec<String>,
    pub port: Option<u16>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SiteLoadBalancer {
    pub dns_name: Option<String>,
    #[serde(default)]
    pub target_group_arn: Option<String>,
    pub url: Option<String>,
    pub health_path: Option<String>,
}

/// One site of the `sites` output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Site {
    pub region: Option<String>,
    pub fly_region: Option<String>,
    #[serde(default)]
    pub vpc_id: Option<String>,
    #[serde(default)]
    pub kms_key_arn: Option<String>,
    #[serde(default)]
    pub alerts_topic_arn: Option<String>,
    #[serde(default)]
    pub eks: Option<Eks>,
    pub postgres: Option<SitePostgres>,
    pub redis: Option<SiteRedis>,
    pub cassandra: Option<SiteCassandra>,
    pub load_balancer: Option<SiteLoadBalancer>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PgBackRest {
    pub stanza: String,
    pub config: String,
    /// Run pgBackRest as this user (the lab: `postgres`).
    pub user: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Postgres {
    #[serde(default)]
    pub global_cluster_id: Option<String>,
    #[serde(default)]
    pub global_writer_endpoint: Option<String>,
    pub primary_site: String,
    #[serde(default)]
    pub engine_version: Option<String>,
    pub database: Option<String>,
    #[serde(default)]
    pub expected_replicas: Vec<String>,
    pub max_lag_seconds: Option<f64>,
    pub backup_retention_days: Option<i64>,
    /// Secrets Manager name of the credentials (AWS).
    pub credentials_secret: Option<String>,
    /// A JSON file `{"username": .., "password": ..}` (the lab).
    #[serde(default)]
    pub credentials_file: Option<String>,
    /// `verify-full` makes verify check the server's certificate. Nothing here can turn TLS
    /// off or weaken what the caller chose: `disable`, `prefer`, `allow` and `require` change
    /// nothing (only the caller's `--pg-insecure-no-tls` turns TLS off).
    #[serde(default)]
    pub sslmode: Option<String>,
    #[serde(default)]
    pub pgbackrest: Option<PgBackRest>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Redis {
    pub mode: Option<String>,
    /// The global datastore's primary (global mode).
    pub primary_site: Option<String>,
    pub maxmemory_policy: Option<String>,
    pub credentials_secret: Option<String>,
    #[serde(default)]
    pub credentials_file: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CassandraDc {
    pub nodes: u32,
    pub replication_factor: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cassandra {
    pub cluster_name: Option<String>,
    pub keyspace: String,
    #[serde(default)]
    pub datacenters: BTreeMap<String, CassandraDc>,
    #[serde(default)]
    pub credentials_file: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Monitoring {
    pub global_site: Option<String>,
    pub prometheus_url: Option<String>,
    #[serde(default)]
    pub prometheus_target_group_arn: Option<String>,
    #[serde(default)]
    pub sites: Vec<String>,
}

/// A Fly.io logical replica's link: its gateways as the link module reports them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FlyLink {
    pub gateways: Value,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dns {
    #[serde(default)]
    pub zone_id: Option<String>,
    #[serde(default)]
    pub name_servers: Vec<String>,
    pub api_name: String,
    #[serde(default)]
    pub sites: Vec<String>,
    /// `ip:port` of resolvers to ask (the lab's); none means the system resolver.
    #[serde(default)]
    pub resolvers: Vec<String>,
}

/// Every output of a deployment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentOutputs {
    pub sites: BTreeMap<String, Site>,
    #[serde(default)]
    pub postgres: Option<Postgres>,
    #[serde(default)]
    pub redis: Option<Redis>,
    #[serde(default)]
    pub cassandra: Option<Cassandra>,
    #[serde(default)]
    pub monitoring: Option<Monitoring>,
    #[serde(default)]
    pub fly_links: Option<BTreeMap<String, FlyLink>>,
    #[serde(default)]
    pub dns: Option<Dns>,
}

/// Why an outputs file does not fit the contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputsError {
    NotJson(String),
    NotAnObject,
    /// No `sites` output.
    NoSites,
    /// An output whose value does not have the contract's shape.
    Shape {
        output: String,
        error: String,
    },
}

impl fmt::Display for OutputsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputsError::NotJson(e) => write!(f, "not JSON: {e}"),
            OutputsError::NotAnObject => f.write_str("expected a JSON object of outputs"),
            OutputsError::NoSites => f.write_str(
                "no `sites` output: is this `terraform output -json` of a Sovereign tree?",
            ),
            OutputsError::Shape { output, error } => {
                write!(f, "output `{output}` has an unexpected shape: {error}")
            }
        }
    }
}

impl std::error::Error for OutputsError {}

/// An outputs file read against the contract.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub outputs: DeploymentOutputs,
    /// Paths of fields the file has and the contract does not know (`sites.iad.vpc_idd`),
    /// which were ignored.
    pub unknown: Vec<String>,
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

/// Paths in `given` that are absent from `known`, objects compared key by key.
fn unknown_paths(given: &Value, known: &Value, path: &str, out: &mut Vec<String>) {
    if let (Value::Object(g), Value::Object(k)) = (given, known) {
        for (key, gv) in g {
            let p = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match k.get(key) {
                None => out.push(p),
                Some(kv) => unknown_paths(gv, kv, &p, out),
            }
        }
    }
}

impl DeploymentOutputs {
    /// Reads `terraform output -json` (or the bare values). Outputs Sovereign does not know are
    /// ignored; fields it does not know inside known outputs are listed in
    /// [`Parsed::unknown`].
    pub fn parse(text: &str) -> Result<Parsed, OutputsError> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| OutputsError::NotJson(e.to_string()))?;
        let Value::Object(root) = v else {
            return Err(OutputsError::NotAnObject);
        };
        let mut bare = serde_json::Map::new();
        for name in OUTPUT_NAMES {
            match root.get(name).map(unwrap) {
                None | Some(Value::Null) => {}
                Some(v) => {
                    bare.insert(name.to_string(), v.clone());
                }
            }
        }
        if !bare.contains_key("sites") {
            return Err(OutputsError::NoSites);
        }
        let mut outputs = DeploymentOutputs::default();
        macro_rules! take {
            ($field:ident) => {
                if let Some(v) = bare.get(stringify!($field)) {
                    outputs.$field =
                        serde_json::from_value(v.clone()).map_err(|e| OutputsError::Shape {
                            output: stringify!($field).into(),
                            error: e.to_string(),
                        })?;
                }
            };
        }
        take!(sites);
        take!(postgres);
        take!(redis);
        take!(cassandra);
        take!(monitoring);
        take!(fly_links);
        take!(dns);
        // What the contract kept (serialized with every field, `null` when absent) against what
        // the file said.
        let kept = serde_json::to_value(&outputs).unwrap_or(Value::Null);
        let mut unknown = Vec::new();
        unknown_paths(&Value::Object(bare), &kept, "", &mut unknown);
        Ok(Parsed { outputs, unknown })
    }
}
