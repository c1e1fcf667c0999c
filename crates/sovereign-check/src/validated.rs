//! The validated topology: every default resolved, every reference known to exist, every range
//! parsed. Only this crate can build one.

use std::collections::BTreeMap;

use ipnet::Ipv4Net;
use serde::Serialize;
use sovereign_catalog::{Arch, Location};
use sovereign_spec::{NatMode, RedisMode, Routing};

use crate::cidr::{SubnetPlan, plan};
use crate::context::Ctx;

/// Proof that a value came out of [`crate::check_text`] or [`crate::check_topology`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed(());

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
    #[serde(skip)]
    sealed: Sealed,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProjectV {
    pub name: String,
    pub environment: String,
    pub tags: BTreeMap<String, String>,
    pub monthly_hours: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct AwsSideV {
    pub region: String,
    pub vpc_cidr: Ipv4Net,
    /// Zone ids, in the order written.
    pub azs: Vec<String>,
    pub subnets: SubnetPlan,
    pub peering: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuroraRole {
    Primary,
    Secondary,
}

#[derive(Clone, Debug, Serialize)]
pub struct SiteV {
    pub id: String,
    pub name: String,
    pub role: String,
    pub aws: Option<AwsSideV>,
    pub fly_region: Option<String>,
    /// Where latency is measured from (the AWS region if any, else the Fly.io region).
    pub location: Location,
    pub eks: bool,
    pub redis: bool,
    /// Serves the application.
    pub serves: bool,
    pub aurora: Option<AuroraRole>,
    pub logical_replica: bool,
    pub cassandra_dc: bool,
    pub cassandra_control_plane: bool,
    pub monitoring_global: bool,
    pub health_check: bool,
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
    pub sites: Vec<String>,
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
    pub sites: Vec<String>,
    pub fly_vm_size: String,
    pub fly_machines: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct LogicalReplicaV {
    pub site: String,
    pub via: String,
    pub link: String,
    pub vm_size: String,
    pub volume_size_gb: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct PostgresV {
    pub engine_version: String,
    pub major: u32,
    pub primary: String,
    pub secondaries: Vec<String>,
    /// The designated failover target, when the topology names one.
    pub successor: Option<String>,
    pub instance_class: String,
    /// Instances per Aurora member site.
    pub instances: BTreeMap<String, u32>,
    pub database_name: String,
    pub master_username: String,
    pub backup_retention_days: u32,
    pub deletion_protection: bool,
    pub max_lag_seconds: f64,
    pub logical_replicas: Vec<LogicalReplicaV>,
}

impl PostgresV {
    /// Aurora members: the primary first, then the secondaries in file order.
    pub fn members(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.primary.as_str()).chain(self.secondaries.iter().map(|s| s.as_str()))
    }

    /// Every site that holds a copy besides the primary: the Aurora secondaries, then the
    /// logical replicas (what `verify` expects to see replicating).
    pub fn replicas(&self) -> impl Iterator<Item = &str> {
        self.secondaries
            .iter()
            .map(|s| s.as_str())
            .chain(self.logical_replicas.iter().map(|r| r.site.as_str()))
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct CassandraDcV {
    pub site: String,
    pub nodes: u32,
    pub replication_factor: u32,
    pub storage_size_gi: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct CassandraV {
    pub version: String,
    pub control_plane: String,
    pub keyspace: String,
    pub storage_class: String,
    pub datacenters: Vec<CassandraDcV>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RedisV {
    pub mode: RedisMode,
    pub node_type: String,
    pub engine_version: String,
    pub sites: Vec<String>,
    /// The primary site in global mode.
    pub primary: Option<String>,
    pub replicas_per_site: u32,
    pub maxmemory_policy: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct MonitoringV {
    /// Site of the global Prometheus and Grafana; `None` when no site runs EKS.
    pub global_site: Option<String>,
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
    pub health_checks: Vec<String>,
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
    pub per_site: BTreeMap<String, f64>,
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
}

impl ValidatedTopology {
    pub fn site(&self, id: &str) -> Option<&SiteV> {
        self.sites.iter().find(|s| s.id == id)
    }

    pub fn aws_sites(&self) -> impl Iterator<Item = &SiteV> {
        self.sites.iter().filter(|s| s.aws.is_some())
    }

    pub fn eks_sites(&self) -> impl Iterator<Item = &SiteV> {
        self.sites.iter().filter(|s| s.eks)
    }

    /// The sites the API name routes to: serving sites with a load balancer on EKS, then those
    /// served from Fly.io; none without an application and a DNS zone. `render` writes this
    /// list into the `dns` output and `verify --topology` expects it.
    pub fn api_sites(&self) -> Vec<&SiteV> {
        if self.application.is_none() || self.dns.is_none() {
            return Vec::new();
        }
        let on_eks = self.sites.iter().filter(|s| s.serves && s.eks);
        let on_fly = self
            .sites
            .iter()
            .filter(|s| s.serves && !s.eks && s.fly_region.is_some());
        on_eks.chain(on_fly).collect()
    }

    /// Unordered pairs of sites in the VPC peering mesh, in file order.
    pub fn peering_pairs(&self) -> Vec<(&SiteV, &SiteV)> {
        let mesh: Vec<&SiteV> = self
            .aws_sites()
            .filter(|s| s.aws.as_ref().is_some_and(|a| a.peering))
            .collect();
        let mut out = Vec::new();
        for (i, a) in mesh.iter().enumerate() {
            for b in &mesh[i + 1..] {
                out.push((*a, *b));
            }
        }
        out
    }

    /// The seal; lets downstream crates require a validated value in their own types.
    pub fn sealed(&self) -> &Sealed {
        &self.sealed
    }
}

/// The architecture every instance type of a group shares, as the catalog knows it.
fn group_arch(cx: &Ctx, g: &sovereign_spec::NodeGroup) -> Option<Arch> {
    let mut arch = None;
    for t in &g.instance_types.value {
        let a = match cx.catalog.ec2_lookup(t) {
            sovereign_catalog::Lookup::Shaped(ty) => ty.arch,
            sovereign_catalog::Lookup::Unshaped(u) => u.arch,
            sovereign_catalog::Lookup::Unknown => return None,
        };
        if arch.is_some_and(|b| b != a) {
            return None;
        }
        arch = Some(a);
    }
    arch
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn to_u32(v: i64, what: &'static str) -> Result<u32, &'static str> {
    u32::try_from(v).map_err(|_| what)
}

/// Resolves a topology the rules accepted. `Err` names what could not be resolved (a bug).
pub(crate) fn build(cx: &Ctx) -> Result<ValidatedTopology, &'static str> {
    let t = cx.t;
    let eks = cx.eks_site_ids();
    let redis_sites = cx.redis_site_ids();
    let serving = cx.serving_site_ids();
    let health = cx.health_check_site_ids();
    let global_site = cx.global_monitoring_site().filter(|s| eks.contains(s));
    let prefix = t.network.subnet_prefix.value;

    let mut sites = Vec::new();
    for s in &t.sites {
        let id = s.id.as_str();
        let aws = match &s.aws_region {
            Some(region) => {
                let vpc = cx.vpc(s).ok_or("a VPC range")?;
                let azs = cx.azs(s);
                let subnets = plan(vpc, &azs, prefix).map_err(|_| "a subnet plan")?;
                Some(AwsSideV {
                    region: region.value.clone(),
                    vpc_cidr: vpc,
                    azs,
                    subnets,
                    peering: s.peering.value,
                })
            }
            None => None,
        };
        let aurora = t.postgres.as_ref().and_then(|pg| {
            if pg.primary.value == id {
                Some(AuroraRole::Primary)
            } else if pg.secondaries.value.iter().any(|x| x.value == id) {
                Some(AuroraRole::Secondary)
            } else {
                None
            }
        });
        sites.push(SiteV {
            id: id.to_string(),
            name: s.name.value.clone(),
            role: s.role.value.clone(),
            location: cx.location(s).ok_or("a site location")?,
            aws,
            fly_region: s.fly_region.as_ref().map(|f| f.value.clone()),
            eks: eks.contains(&id),
            redis: redis_sites.contains(&id),
            serves: serving.contains(&id),
            aurora,
            logical_replica: t
                .postgres
                .as_ref()
                .is_some_and(|pg| pg.logical_replicas.iter().any(|r| r.site.value == id)),
            cassandra_dc: t
                .cassandra
                .as_ref()
                .is_some_and(|c| c.datacenters.iter().any(|d| d.site.value == id)),
            cassandra_control_plane: t
                .cassandra
                .as_ref()
                .is_some_and(|c| c.control_plane.value == id),
            monitoring_global: global_site == Some(id),
            health_check: health.contains(&id),
        });
    }

    let k = &t.kubernetes;
    let group = |g: &sovereign_spec::NodeGroup| NodeGroupV {
        instance_types: g
            .instance_types
            .value
            .iter()
            .map(|s| s.value.clone())
            .collect(),
        architecture: group_arch(cx, g),
        ami_type: group_arch(cx, g).and_then(Arch::eks_ami_type),
        min_size: g.min_size.value,
        desired_size: g.desired_size.value,
        max_size: g.max_size.value,
        disk_size_gib: g.disk_size_gib.value,
    };
    let kubernetes = if eks.is_empty() {
        None
    } else {
        Some(KubernetesV {
            version: k.version.value.clone(),
            extended_support: cx
                .catalog
                .eks_version(&k.version)
                .is_some_and(|v| v.phase(cx.today) == sovereign_catalog::SupportPhase::Extended),
            sites: owned(&eks),
            public_access_cidrs: k
                .public_access_cidrs
                .value
                .iter()
                .map(|c| c.value.clone())
                .collect(),
            on_demand: group(&k.on_demand),
            spot: k.spot.as_ref().map(group),
            scaling: ScalingV {
                cpu_target_percent: to_u32(k.scaling.cpu_target_percent.value, "the CPU target")?,
                step: to_u32(k.scaling.step.value, "the scaling step")?,
                cooldown_seconds: to_u32(k.scaling.cooldown_seconds.value, "the cooldown")?,
            },
        })
    };

    let application = t.application.as_ref().map(|a| ApplicationV {
        name: a.name.value.clone(),
        image: a.image.value.clone(),
        port: a.port.value,
        health_path: a.health_path.value.clone(),
        replicas: a.replicas.value,
        sites: owned(&serving),
        fly_vm_size: a.fly_vm_size.value.clone(),
        fly_machines: a.fly_machines.value,
    });

    let postgres = match &t.postgres {
        None => None,
        Some(pg) => {
            let members = cx.aurora_site_ids();
            let (major, _) = crate::rules::postgres_version::parse_version(&pg.engine_version)
                .ok_or("the PostgreSQL version")?;
            let mut logical = Vec::new();
            for r in &pg.logical_replicas {
                logical.push(LogicalReplicaV {
                    site: r.site.value.clone(),
                    via: r
                        .via
                        .as_ref()
                        .ok_or("a logical replica's link site")?
                        .value
                        .clone(),
                    link: r
                        .link
                        .as_ref()
                        .ok_or("a logical replica's link")?
                        .value
                        .clone(),
                    vm_size: r.vm_size.value.clone(),
                    volume_size_gb: r.volume_size_gb.value,
                });
            }
            Some(PostgresV {
                engine_version: pg.engine_version.value.clone(),
                major,
                primary: pg.primary.value.clone(),
                secondaries: owned(&members[1..]),
                successor: pg.successor.as_ref().map(|s| s.value.clone()),
                instance_class: pg.instance_class.value.clone(),
                instances: members
                    .iter()
                    .map(|m| (m.to_string(), pg.instances_for(m)))
                    .collect(),
                database_name: pg.database_name.value.clone(),
                master_username: pg.master_username.value.clone(),
                backup_retention_days: to_u32(
                    pg.backup_retention_days.value,
                    "the backup retention",
                )?,
                deletion_protection: pg.deletion_protection.value,
                max_lag_seconds: pg.max_lag_seconds.value,
                logical_replicas: logical,
            })
        }
    };

    let cassandra = t.cassandra.as_ref().map(|c| CassandraV {
        version: c.version.value.clone(),
        control_plane: c.control_plane.value.clone(),
        keyspace: c.keyspace.value.clone(),
        storage_class: c.storage_class.value.clone(),
        datacenters: c
            .datacenters
            .iter()
            .map(|d| CassandraDcV {
                site: d.site.value.clone(),
                nodes: d.nodes.value,
                replication_factor: d.replication_factor.value,
                storage_size_gi: d.storage_size_gi.value,
            })
            .collect(),
    });

    let redis = t.redis.as_ref().map(|r| RedisV {
        mode: r.mode.value,
        node_type: r.node_type.value.clone(),
        engine_version: r.engine_version.value.clone(),
        sites: owned(&redis_sites),
        primary: cx.redis_primary().map(str::to_string),
        replicas_per_site: r.replicas_per_site.value,
        maxmemory_policy: r.maxmemory_policy.value.clone(),
    });

    let dns = t.dns.as_ref().map(|d| DnsV {
        zone: d.zone.value.trim_end_matches('.').to_string(),
        api_record: d.api_record.value.clone(),
        routing: d.routing.value,
        ttl_seconds: d.ttl_seconds.value,
        health_check_interval_seconds: d.health_check_interval_seconds.value,
        health_check_failure_threshold: d.health_check_failure_threshold.value,
        health_checks: owned(&health),
    });

    let budgets = t.budgets.as_ref().map(|b| BudgetsV {
        monthly_total_usd: b.monthly_total_usd.value,
        per_site: b
            .per_site
            .iter()
            .map(|(k, (_, v))| (k.clone(), v.value))
            .collect(),
        alert_thresholds_percent: b
            .alert_thresholds_percent
            .value
            .iter()
            .map(|v| v.value)
            .collect(),
        recipients: b.recipients.value.iter().map(|v| v.value.clone()).collect(),
    });

    let state_region = match &t.state.region {
        Some(r) => r.value.clone(),
        None => {
            let primary_region = t
                .postgres
                .as_ref()
                .and_then(|pg| cx.site(&pg.primary))
                .and_then(|s| s.aws_region.as_ref());
            primary_region
                .or_else(|| cx.aws_sites().next().and_then(|s| s.aws_region.as_ref()))
                .map(|r| r.value.clone())
                .unwrap_or_else(|| "us-east-1".to_string())
        }
    };

    let u = &t.usage;
    Ok(ValidatedTopology {
        project: ProjectV {
            name: t.project.name.value.clone(),
            environment: t.project.environment.value.clone(),
            tags: t
                .project
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
            monthly_hours: t.project.monthly_hours.value,
        },
        sites,
        network: NetworkV {
            nat_gateways: t.network.nat_gateways.value,
            flow_log_retention_days: t.network.flow_log_retention_days.value,
            subnet_prefix: prefix,
        },
        kubernetes,
        application,
        postgres,
        cassandra,
        redis,
        monitoring: MonitoringV {
            global_site: global_site.map(str::to_string),
            retention_days: t.monitoring.retention_days.value,
        },
        dns,
        budgets,
        state: StateV {
            bucket: t.state.bucket.value.clone(),
            region: state_region,
            key_prefix: t.state.key_prefix.value.clone(),
        },
        usage: UsageV {
            aurora_storage_gb: u.aurora_storage_gb.value,
            aurora_io_millions: u.aurora_io_millions.value,
            aurora_write_io_millions: u.aurora_write_io_millions.value,
            replication_transfer_gb: u.replication_transfer_gb.value,
            nat_processed_gb_per_site: u.nat_processed_gb_per_site.value,
            load_balancer_lcu: u.load_balancer_lcu.value,
            cassandra_replication_gb: u.cassandra_replication_gb.value,
        },
        sealed: Sealed(()),
    })
}
