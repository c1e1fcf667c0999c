//! The resolved deployment: what `sovereign check` hands every later stage.
//!
//! Every default is resolved, every reference names a site that exists, every range is parsed,
//! and each site carries the components it really has, so that an EKS cluster without an AWS
//! side, or a logical replica without a Fly.io side, cannot be written. Only `sovereign-check`
//! builds one, after its rules pass; every backend reads it "for each component".

use std::collections::BTreeMap;
use std::fmt;

use ipnet::Ipv4Net;
use serde::Serialize;
use sovereign_catalog::{Arch, Location};
use sovereign_spec::{NatMode, RedisMode, Routing};

pub mod outputs;
mod subnets;

pub use subnets::{SubnetPlan, ZoneSubnets};

/// A site's id as the topology file writes it (`iad`, `syd`).
///
/// Inside a [`ValidatedTopology`] every `SiteId` names one of its sites: check builds them only
/// from sites that exist, so [`ValidatedTopology::site`] cannot fail for an id it handed out.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SiteId(String);

impl SiteId {
    /// For `sovereign-check`, which makes ids only for sites that exist.
    #[doc(hidden)]
    pub fn checked(id: impl Into<String>) -> SiteId {
        SiteId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for SiteId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for SiteId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SiteId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for SiteId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for SiteId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for SiteId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl From<&SiteId> for String {
    fn from(id: &SiteId) -> String {
        id.0.clone()
    }
}

/// A site with its AWS side.
pub type AwsSite<'a> = (&'a SiteV, &'a AwsSideV);

/// A topology that passed every rule, with defaults resolved.
#[derive(Clone, Debug, Serialize)]
pub struct ValidatedTopology {
    pub project: ProjectV,
    pub sites: Vec<SiteV>,
    pub network: NetworkV,
    pub kubernetes: Option<KubernetesV>,
    pub application: Option<ApplicationV>,
    pub postgres: Option<PostgresV>,
    pub cassandra: Option<CassandraV>,
    pub redis: Option<RedisV>,
    pub monitoring: MonitoringV,
    pub dns: Option<DnsV>,
    pub budgets: Option<BudgetsV>,
    pub state: StateV,
    pub usage: UsageV,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProjectV {
    pub name: String,
    pub environment: String,
    pub tags: BTreeMap<String, String>,
    pub monthly_hours: u32,
}

/// A site's AWS side: its VPC and what runs in it.
#[derive(Clone, Debug, Serialize)]
pub struct AwsSideV {
    pub region: String,
    pub vpc_cidr: Ipv4Net,
    /// Zone ids, in the order written.
    pub azs: Vec<String>,
    pub subnets: SubnetPlan,
    pub peering: bool,
    /// The site's EKS cluster.
    pub eks: Option<EksSiteV>,
    /// The site's member of the Aurora global database.
    pub aurora: Option<AuroraRole>,
    /// An ElastiCache replication group.
    pub cache: bool,
}

/// What runs on a site's EKS cluster.
#[derive(Clone, Debug, Serialize)]
pub struct EksSiteV {
    /// The application runs here behind a load balancer, and the API name routes to it.
    pub serves: bool,
    /// A Cassandra datacenter, the k8ssandra control plane, or both run on this cluster.
    pub cassandra: Option<CassandraSiteV>,
    /// The global Prometheus and Grafana run here.
    pub monitoring_global: bool,
}

/// What of Cassandra runs on a cluster (at least one of the two).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct CassandraSiteV {
    /// A datacenter of the cluster.
    pub datacenter: bool,
    /// The k8ssandra control plane.
    pub control_plane: bool,
}

/// A site's Fly.io side.
#[derive(Clone, Debug, Serialize)]
pub struct FlySideV {
    pub region: String,
    /// Application machines run here.
    pub serves: bool,
    /// A PostgreSQL logical replica runs here.
    pub logical_replica: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuroraRole {
    Primary,
    Secondary,
}

/// Where a site's API endpoint runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Eks,
    Fly,
}

/// One site and the components it really has: an EKS cluster only inside an AWS side, a
/// logical replica only inside a Fly.io side.
#[derive(Clone, Debug, Serialize)]
pub struct SiteV {
    pub id: SiteId,
    pub name: String,
    pub role: String,
    /// Where latency is measured from (the AWS region if any, else the Fly.io region).
    pub location: Location,
    pub aws: Option<AwsSideV>,
    pub fly: Option<FlySideV>,
    /// Route 53 checks the site's API endpoint.
    pub health_check: bool,
}

impl SiteV {
    pub fn eks(&self) -> Option<&EksSiteV> {
        self.aws.as_ref()?.eks.as_ref()
    }

    pub fn has_eks(&self) -> bool {
        self.eks().is_some()
    }

    pub fn aurora(&self) -> Option<AuroraRole> {
        self.aws.as_ref()?.aurora
    }

    pub fn is_aurora_primary(&self) -> bool {
        self.aurora() == Some(AuroraRole::Primary)
    }

    pub fn has_cache(&self) -> bool {
        self.aws.as_ref().is_some_and(|a| a.cache)
    }

    pub fn fly_region(&self) -> Option<&str> {
        self.fly.as_ref().map(|f| f.region.as_str())
    }

    pub fn aws_region(&self) -> Option<&str> {
        self.aws.as_ref().map(|a| a.region.as_str())
    }

    /// The application runs here, on EKS, on Fly.io or on both.
    pub fn serves(&self) -> bool {
        self.eks().is_some_and(|e| e.serves) || self.fly.as_ref().is_some_and(|f| f.serves)
    }

    /// Where the API name sends users of this site: the EKS load balancer when the cluster
    /// serves, else the Fly.io machines; `None` for a site that does not serve.
    pub fn api_platform(&self) -> Option<Platform> {
        if self.eks().is_some_and(|e| e.serves) {
            Some(Platform::Eks)
        } else if self.fly.as_ref().is_some_and(|f| f.serves) {
            Some(Platform::Fly)
        } else {
            None
        }
    }

    pub fn has_logical_replica(&self) -> bool {
        self.fly.as_ref().is_some_and(|f| f.logical_replica)
    }

    /// Holds a copy of the PostgreSQL data: an Aurora member or a logical replica.
    pub fn holds_postgres(&self) -> bool {
        self.aurora().is_some() || self.has_logical_replica()
    }

    pub fn cassandra(&self) -> Option<CassandraSiteV> {
        self.eks()?.cassandra
    }

    pub fn has_cassandra_dc(&self) -> bool {
        self.cassandra().is_some_and(|c| c.datacenter)
    }

    pub fn is_cassandra_control_plane(&self) -> bool {
        self.cassandra().is_some_and(|c| c.control_plane)
    }

    pub fn is_monitoring_global(&self) -> bool {
        self.eks().is_some_and(|e| e.monitoring_global)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct NetworkV {
    pub nat_gateways: NatMode,
    pub flow_log_retention_days: u32,
    pub subnet_prefix: u8,
}

#[derive(Clone, Debug, Serialize)]
pub struct NodeGroupV {
    pub instance_types: Vec<String>,
    /// The one CPU architecture of every instance type (SOV103 rejects a mix); `None` when the
    /// catalog knows no architecture for some type.
    pub architecture: Option<Arch>,
    /// The EKS AMI type that architecture needs: `AL2023_x86_64_STANDARD` or
    /// `AL2023_ARM_64_STANDARD`; `None` with `architecture`.
    pub ami_type: Option<&'static str>,
    pub min_size: u32,
    pub desired_size: u32,
    pub max_size: u32,
    pub disk_size_gib: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScalingV {
    pub cpu_target_percent: u32,
    pub step: u32,
    pub cooldown_seconds: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct KubernetesV {
    pub version: String,
    /// The version is past standard support today: the cluster needs paid extended support.
    pub extended_support: bool,
    pub sites: Vec<SiteId>,
    pub public_access_cidrs: Vec<String>,
    pub on_demand: NodeGroupV,
    pub spot: Option<NodeGroupV>,
    pub scaling: ScalingV,
}

#[derive(Clone, Debug, Serialize)]
pub struct ApplicationV {
    pub name: String,
    pub image: String,
    pub port: u16,
    pub health_path: String,
    pub replicas: u32,
    pub sites: Vec<SiteId>,
    pub fly_vm_size: String,
    pub fly_machines: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct LogicalReplicaV {
    pub site: SiteId,
    pub via: SiteId,
    /// A second link, through the Aurora successor's VPC, so that the replica still reaches the
    /// writer when `via`'s region is down (which is when the successor takes over). `None` when
    /// there is no successor, it is `via` itself, or it has fewer than two zones.
    pub standby_via: Option<SiteId>,
    pub link: String,
    pub vm_size: String,
    pub volume_size_gb: u32,
}

/// Gateways of each link of a logical replica, one per zone: a gateway or a zone can fail without
/// stopping replication. Render names them; cost counts them.
pub const LINK_GATEWAYS: usize = 2;

impl LogicalReplicaV {
    /// The sites whose VPCs terminate this replica's links: `via`, then the standby link's.
    pub fn link_sites(&self) -> impl Iterator<Item = &SiteId> {
        std::iter::once(&self.via).chain(self.standby_via.iter())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PostgresV {
    pub engine_version: String,
    pub major: u32,
    pub primary: SiteId,
    pub secondaries: Vec<SiteId>,
    /// The designated failover target, when the topology names one.
    pub successor: Option<SiteId>,
    pub instance_class: String,
    /// Instances per Aurora member site.
    pub instances: BTreeMap<SiteId, u32>,
    pub database_name: String,
    pub master_username: String,
    pub backup_retention_days: u32,
    pub deletion_protection: bool,
    pub max_lag_seconds: f64,
    pub logical_replicas: Vec<LogicalReplicaV>,
}

impl PostgresV {
    /// Aurora members: the primary first, then the secondaries in file order.
    pub fn members(&self) -> impl Iterator<Item = &SiteId> {
        std::iter::once(&self.primary).chain(self.secondaries.iter())
    }

    /// Every site that holds a copy besides the primary: the Aurora secondaries, then the
    /// logical replicas (what `verify` expects to see replicating).
    pub fn replicas(&self) -> impl Iterator<Item = &SiteId> {
        self.secondaries
            .iter()
            .chain(self.logical_replicas.iter().map(|r| &r.site))
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct CassandraDcV {
    pub site: SiteId,
    pub nodes: u32,
    pub replication_factor: u32,
    pub storage_size_gi: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct CassandraV {
    pub version: String,
    pub control_plane: SiteId,
    pub keyspace: String,
    pub storage_class: String,
    pub datacenters: Vec<CassandraDcV>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RedisV {
    pub mode: RedisMode,
    pub node_type: String,
    pub engine_version: String,
    pub sites: Vec<SiteId>,
    /// The primary site in global mode.
    pub primary: Option<SiteId>,
    pub replicas_per_site: u32,
    pub maxmemory_policy: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct MonitoringV {
    /// Site of the global Prometheus and Grafana; `None` when no site runs EKS.
    pub global_site: Option<SiteId>,
    pub retention_days: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct DnsV {
    pub zone: String,
    pub api_record: String,
    pub routing: Routing,
    pub ttl_seconds: u32,
    pub health_check_interval_seconds: u32,
    pub health_check_failure_threshold: u32,
    pub health_checks: Vec<SiteId>,
}

impl DnsV {
    /// The fully qualified API name, e.g. `api.example.com`.
    pub fn api_fqdn(&self) -> String {
        format!("{}.{}", self.api_record, self.zone.trim_end_matches('.'))
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BudgetsV {
    pub monthly_total_usd: f64,
    pub per_site: BTreeMap<SiteId, f64>,
    pub alert_thresholds_percent: Vec<f64>,
    pub recipients: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StateV {
    pub bucket: String,
    pub region: String,
    pub key_prefix: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct UsageV {
    pub aurora_storage_gb: f64,
    pub aurora_io_millions: f64,
    pub aurora_write_io_millions: f64,
    pub replication_transfer_gb: f64,
    pub nat_processed_gb_per_site: f64,
    pub load_balancer_lcu: f64,
    pub cassandra_replication_gb: f64,
    /// AWS regions whose users the lab simulates besides the sites' (checked by SOV020).
    pub user_regions: Vec<String>,
}

impl ValidatedTopology {
    /// The site an id of this topology names.
    ///
    /// # Panics
    /// When `id` comes from another topology: ids are only made by check, for sites that exist.
    pub fn site(&self, id: &SiteId) -> &SiteV {
        self.find_site(id)
            .unwrap_or_else(|| panic!("site `{id}` is not part of this topology"))
    }

    /// The site named by a string the user typed (`--lose iad`), if there is one.
    pub fn find_site(&self, id: &str) -> Option<&SiteV> {
        self.sites.iter().find(|s| s.id == id)
    }

    /// The id of the site named by a string the user typed.
    pub fn site_id(&self, id: &str) -> Option<&SiteId> {
        self.find_site(id).map(|s| &s.id)
    }

    pub fn aws_sites(&self) -> impl Iterator<Item = (&SiteV, &AwsSideV)> {
        self.sites
            .iter()
            .filter_map(|s| s.aws.as_ref().map(|a| (s, a)))
    }

    pub fn eks_sites(&self) -> impl Iterator<Item = &SiteV> {
        self.sites.iter().filter(|s| s.has_eks())
    }

    /// Sites with an AWS side and an EKS cluster, with both.
    pub fn clusters(&self) -> impl Iterator<Item = (&SiteV, &AwsSideV, &EksSiteV)> {
        self.sites.iter().filter_map(|s| {
            let a = s.aws.as_ref()?;
            Some((s, a, a.eks.as_ref()?))
        })
    }

    /// The PostgreSQL primary's site, with PostgreSQL.
    pub fn postgres_primary(&self) -> Option<(&PostgresV, &SiteV)> {
        let pg = self.postgres.as_ref()?;
        Some((pg, self.site(&pg.primary)))
    }

    /// The cluster of the global Prometheus and Grafana.
    pub fn monitoring_cluster(&self) -> Option<(&SiteV, &AwsSideV, &EksSiteV)> {
        self.clusters().find(|(_, _, e)| e.monitoring_global)
    }

    /// The sites the API name routes to: serving sites with a load balancer on EKS, then those
    /// served from Fly.io; none without an application and a DNS zone. `render` writes this
    /// list into the `dns` output and `verify --topology` expects it.
    pub fn api_sites(&self) -> Vec<&SiteV> {
        if self.application.is_none() || self.dns.is_none() {
            return Vec::new();
        }
        let on = |p: Platform| {
            self.sites
                .iter()
                .filter(move |s| s.api_platform() == Some(p))
        };
        on(Platform::Eks).chain(on(Platform::Fly)).collect()
    }

    /// Unordered pairs of sites in the VPC peering mesh, in file order.
    pub fn peering_pairs(&self) -> Vec<(AwsSite<'_>, AwsSite<'_>)> {
        let mesh: Vec<(&SiteV, &AwsSideV)> = self.aws_sites().filter(|(_, a)| a.peering).collect();
        let mut out = Vec::new();
        for (i, a) in mesh.iter().enumerate() {
            for b in &mesh[i + 1..] {
                out.push((*a, *b));
            }
        }
        out
    }
}

impl PartialEq<SiteId> for str {
    fn eq(&self, other: &SiteId) -> bool {
        self == other.0
    }
}

impl PartialEq<SiteId> for &str {
    fn eq(&self, other: &SiteId) -> bool {
        *self == other.0
    }
}

impl PartialEq<SiteId> for String {
    fn eq(&self, other: &SiteId) -> bool {
        *self == other.0
    }
}
