//! The topology as written: every field the rules look at keeps its source span.
//!
//! Nothing here is validated beyond types. `sovereign-check` turns a [`Topology`] into a
//! `ValidatedTopology`, the only form the renderer, the cost model, verify and the lab accept.

use std::collections::BTreeMap;

use crate::diag::Span;
use crate::span::Sp;

/// The whole `sovereign.toml`.
#[derive(Clone, Debug)]
pub struct Topology {
    pub project: Project,
    pub application: Option<Application>,
    pub sites: Vec<Site>,
    pub network: Network,
    pub kubernetes: Kubernetes,
    pub postgres: Option<Postgres>,
    pub cassandra: Option<Cassandra>,
    pub redis: Option<Redis>,
    pub monitoring: Monitoring,
    pub dns: Option<Dns>,
    pub budgets: Option<Budgets>,
    pub state: State,
    pub usage: Usage,
}

#[derive(Clone, Debug)]
pub struct Project {
    pub span: Option<Span>,
    pub name: Sp<String>,
    pub environment: Sp<String>,
    pub tags: BTreeMap<String, Sp<String>>,
    /// Hours in a billing month for cost figures.
    pub monthly_hours: Sp<u32>,
}

/// The user's container: we place it, route to it and check it, never build it.
#[derive(Clone, Debug)]
pub struct Application {
    pub span: Option<Span>,
    pub name: Sp<String>,
    pub image: Sp<String>,
    pub port: Sp<u16>,
    pub health_path: Sp<String>,
    /// Pods per EKS site at rest (the autoscaler may add more).
    pub replicas: Sp<u32>,
    /// Sites that serve traffic; `None` means every site with EKS or a Fly region.
    pub sites: Option<Sp<Vec<Sp<String>>>>,
    pub fly_vm_size: Sp<String>,
    pub fly_machines: Sp<u32>,
}

#[derive(Clone, Debug)]
pub struct Site {
    /// Span of the whole `[[sites]]` table.
    pub span: Option<Span>,
    pub id: Sp<String>,
    pub name: Sp<String>,
    pub role: Sp<String>,
    pub aws_region: Option<Sp<String>>,
    pub vpc_cidr: Option<Sp<String>>,
    pub availability_zones: Option<Sp<Vec<Sp<String>>>>,
    pub fly_region: Option<Sp<String>>,
    /// Whether the site's VPC joins the peering mesh.
    pub peering: Sp<bool>,
}

impl Site {
    pub fn has_aws(&self) -> bool {
        self.aws_region.is_some()
    }
    pub fn has_fly(&self) -> bool {
        self.fly_region.is_some()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NatMode {
    PerAz,
    Single,
}

#[derive(Clone, Debug)]
pub struct Network {
    pub span: Option<Span>,
    pub nat_gateways: Sp<NatMode>,
    pub flow_log_retention_days: Sp<u32>,
    /// Prefix length of each subnet carved from the site's VPC CIDR.
    pub subnet_prefix: Sp<u8>,
}

#[derive(Clone, Debug)]
pub struct NodeGroup {
    pub span: Option<Span>,
    pub instance_types: Sp<Vec<Sp<String>>>,
    pub min_size: Sp<u32>,
    pub desired_size: Sp<u32>,
    pub max_size: Sp<u32>,
    pub disk_size_gib: Sp<u32>,
}

#[derive(Clone, Debug)]
pub struct Scaling {
    pub span: Option<Span>,
    pub cpu_target_percent: Sp<i64>,
    pub step: Sp<i64>,
    pub cooldown_seconds: Sp<i64>,
}

#[derive(Clone, Debug)]
pub struct Kubernetes {
    pub span: Option<Span>,
    pub version: Sp<String>,
    /// `None` means every site with an AWS side.
    pub sites: Option<Sp<Vec<Sp<String>>>>,
    pub public_access_cidrs: Sp<Vec<Sp<String>>>,
    pub on_demand: NodeGroup,
    pub spot: Option<NodeGroup>,
    pub scaling: Scaling,
}

#[derive(Clone, Debug)]
pub struct LogicalReplica {
    pub span: Option<Span>,
    pub site: Sp<String>,
    /// The AWS site whose VPC terminates the private link.
    pub via: Option<Sp<String>>,
    pub link: Option<Sp<String>>,
    pub vm_size: Sp<String>,
    pub volume_size_gb: Sp<u32>,
}

#[derive(Clone, Debug)]
pub struct Postgres {
    pub span: Option<Span>,
    pub engine_version: Sp<String>,
    pub primary: Sp<String>,
    pub secondaries: Sp<Vec<Sp<String>>>,
    /// Designated failover target; `None` picks the lowest-RTT secondary.
    pub successor: Option<Sp<String>>,
    pub instance_class: Sp<String>,
    /// Instances in each member cluster unless `instances_per_site` says otherwise.
    pub instances: Sp<u32>,
    pub instances_per_site: BTreeMap<String, (Span, Sp<u32>)>,
    pub database_name: Sp<String>,
    pub master_username: Sp<String>,
    pub backup_retention_days: Sp<i64>,
    pub deletion_protection: Sp<bool>,
    /// Replication lag above which verify fails a replica, in seconds.
    pub max_lag_seconds: Sp<f64>,
    pub logical_replicas: Vec<LogicalReplica>,
}

impl Postgres {
    pub fn instances_for(&self, site: &str) -> u32 {
        self.instances_per_site
            .get(site)
            .map(|(_, n)| n.value)
            .unwrap_or(self.instances.value)
    }
}

#[derive(Clone, Debug)]
pub struct CassandraDc {
    pub span: Option<Span>,
    pub site: Sp<String>,
    pub nodes: Sp<u32>,
    pub replication_factor: Sp<u32>,
    pub storage_size_gi: Sp<u32>,
}

#[derive(Clone, Debug)]
pub struct Cassandra {
    pub span: Option<Span>,
    pub version: Sp<String>,
    pub control_plane: Sp<String>,
    pub keyspace: Sp<String>,
    pub storage_class: Sp<String>,
    pub datacenters: Vec<CassandraDc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisMode {
    Regional,
    Global,
}

#[derive(Clone, Debug)]
pub struct Redis {
    pub span: Option<Span>,
    pub mode: Sp<RedisMode>,
    pub node_type: Sp<String>,
    pub engine_version: Sp<String>,
    /// `None` means every site with an AWS side.
    pub sites: Option<Sp<Vec<Sp<String>>>>,
    /// In `global` mode, the site holding the primary cluster.
    pub primary: Option<Sp<String>>,
    pub replicas_per_site: Sp<u32>,
    pub maxmemory_policy: Sp<String>,
}

#[derive(Clone, Debug)]
pub struct Monitoring {
    pub span: Option<Span>,
    /// Site of the global Prometheus and Grafana; `None` means the PostgreSQL primary's site.
    pub global_site: Option<Sp<String>>,
    pub retention_days: Sp<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    Latency,
    Geolocation,
}

#[derive(Clone, Debug)]
pub struct Dns {
    pub span: Option<Span>,
    pub zone: Sp<String>,
    pub api_record: Sp<String>,
    pub routing: Sp<Routing>,
    pub ttl_seconds: Sp<u32>,
    pub health_check_interval_seconds: Sp<u32>,
    pub health_check_failure_threshold: Sp<u32>,
    /// Sites with a health check; `None` means every serving site.
    pub health_checks: Option<Sp<Vec<Sp<String>>>>,
}

#[derive(Clone, Debug)]
pub struct Budgets {
    pub span: Option<Span>,
    pub monthly_total_usd: Sp<f64>,
    pub per_site: BTreeMap<String, (Span, Sp<f64>)>,
    pub alert_thresholds_percent: Sp<Vec<Sp<f64>>>,
    pub recipients: Sp<Vec<Sp<String>>>,
}

#[derive(Clone, Debug)]
pub struct State {
    pub span: Option<Span>,
    pub bucket: Sp<String>,
    /// `None` means the region of the PostgreSQL primary, else of the first AWS site.
    pub region: Option<Sp<String>>,
    pub key_prefix: Sp<String>,
}

/// Usage assumptions for the cost model. Every figure is per month unless it says otherwise.
#[derive(Clone, Debug)]
pub struct Usage {
    pub span: Option<Span>,
    pub aurora_storage_gb: Sp<f64>,
    pub aurora_io_millions: Sp<f64>,
    pub aurora_write_io_millions: Sp<f64>,
    pub replication_transfer_gb: Sp<f64>,
    pub nat_processed_gb_per_site: Sp<f64>,
    pub load_balancer_lcu: Sp<f64>,
    pub cassandra_replication_gb: Sp<f64>,
    /// AWS regions whose users the lab also simulates, besides the sites' own regions.
    pub user_regions: Option<Sp<Vec<Sp<String>>>>,
}
