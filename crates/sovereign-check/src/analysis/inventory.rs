//! What a topology deploys, per site, with totals.

use serde::Serialize;
use sovereign_spec::NatMode;

use crate::cidr::ZoneSubnets;
use crate::validated::{AuroraRole, ValidatedTopology};

#[derive(Clone, Debug, Serialize)]
pub struct NodeGroupCounts {
    pub capacity_type: &'static str,
    pub instance_types: Vec<String>,
    pub min: u32,
    pub desired: u32,
    pub max: u32,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum DatabaseRole {
    /// The Aurora writer's cluster.
    Primary {
        instance_class: String,
        instances: u32,
    },
    /// An Aurora global database secondary cluster.
    Secondary {
        instance_class: String,
        instances: u32,
    },
    /// Self-managed PostgreSQL on Fly Machines, subscribed to the primary.
    LogicalReplica {
        vm_size: String,
        volume_size_gb: u32,
        via: String,
    },
}

#[derive(Clone, Debug, Serialize)]
pub struct CassandraDcInfo {
    pub nodes: u32,
    pub replication_factor: u32,
    pub storage_size_gi: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct CacheInfo {
    pub node_type: String,
    /// Primary plus replicas.
    pub nodes: u32,
    pub global_role: Option<&'static str>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SiteInventory {
    pub id: String,
    pub name: String,
    pub role: String,
    pub aws_region: Option<String>,
    pub fly_region: Option<String>,
    pub vpc_cidr: Option<String>,
    pub subnets: Vec<ZoneSubnets>,
    pub nat_gateways: u32,
    pub eks_version: Option<String>,
    pub node_groups: Vec<NodeGroupCounts>,
    pub database: Option<DatabaseRole>,
    pub cassandra: Option<CassandraDcInfo>,
    pub cassandra_control_plane: bool,
    pub cache: Option<CacheInfo>,
    pub serves_application: bool,
    pub load_balancer: bool,
    pub fly_machines: u32,
    pub global_monitoring: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub sites: usize,
    pub aws_regions: usize,
    pub fly_regions: usize,
    pub subnets: usize,
    pub nat_gateways: u32,
    pub peering_connections: usize,
    pub eks_clusters: usize,
    pub nodes_min: u32,
    pub nodes_desired: u32,
    pub nodes_max: u32,
    pub aurora_clusters: usize,
    pub aurora_instances: u32,
    pub logical_replicas: usize,
    pub cassandra_datacenters: usize,
    pub cassandra_nodes: u32,
    pub cache_nodes: u32,
    pub load_balancers: u32,
    pub fly_machines: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct Inventory {
    pub sites: Vec<SiteInventory>,
    pub totals: Totals,
}

/// NAT gateways a site with `zones` zones gets.
pub fn nat_gateways(mode: NatMode, zones: usize) -> u32 {
    match mode {
        NatMode::PerAz => zones as u32,
        NatMode::Single => u32::from(zones > 0),
    }
}

pub fn inventory(t: &ValidatedTopology) -> Inventory {
    let mut sites = Vec::new();
    let mut totals = Totals {
        sites: t.sites.len(),
        peering_connections: t.peering_pairs().len(),
        ..Totals::default()
    };
    let mut regions: Vec<&str> = Vec::new();
    let mut fly: Vec<&str> = Vec::new();
    for s in &t.sites {
        let aws = s.aws.as_ref();
        if let Some(a) = aws
            && !regions.contains(&a.region.as_str())
        {
            regions.push(&a.region);
        }
        if let Some(f) = s.fly_region()
            && !fly.contains(&f)
        {
            fly.push(f);
        }
        let zones = aws.map_or(0, |a| a.azs.len());
        let nat = if aws.is_some() {
            nat_gateways(t.network.nat_gateways, zones)
        } else {
            0
        };
        let mut node_groups = Vec::new();
        if s.has_eks()
            && let Some(k) = &t.kubernetes
        {
            node_groups.push(NodeGroupCounts {
                capacity_type: "ON_DEMAND",
                instance_types: k.on_demand.instance_types.clone(),
                min: k.on_demand.min_size,
                desired: k.on_demand.desired_size,
                max: k.on_demand.max_size,
            });
            if let Some(spot) = &k.spot {
                node_groups.push(NodeGroupCounts {
                    capacity_type: "SPOT",
                    instance_types: spot.instance_types.clone(),
                    min: spot.min_size,
                    desired: spot.desired_size,
                    max: spot.max_size,
                });
            }
        }
        let database = t.postgres.as_ref().and_then(|pg| {
            let instances = pg.instances.get(&s.id).copied().unwrap_or(0);
            match s.aurora() {
                Some(AuroraRole::Primary) => Some(DatabaseRole::Primary {
                    instance_class: pg.instance_class.clone(),
                    instances,
                }),
                Some(AuroraRole::Secondary) => Some(DatabaseRole::Secondary {
                    instance_class: pg.instance_class.clone(),
                    instances,
                }),
                None => pg
                    .logical_replicas
                    .iter()
                    .find(|r| r.site == s.id)
                    .map(|r| DatabaseRole::LogicalReplica {
                        vm_size: r.vm_size.clone(),
                        volume_size_gb: r.volume_size_gb,
                        via: r.via.to_string(),
                    }),
            }
        });
        let cassandra = t.cassandra.as_ref().and_then(|c| {
            c.datacenters
                .iter()
                .find(|d| d.site == s.id)
                .map(|d| CassandraDcInfo {
                    nodes: d.nodes,
                    replication_factor: d.replication_factor,
                    storage_size_gi: d.storage_size_gi,
                })
        });
        let cache = t
            .redis
            .as_ref()
            .filter(|_| s.has_cache())
            .map(|r| CacheInfo {
                node_type: r.node_type.clone(),
                nodes: 1 + r.replicas_per_site,
                global_role: match r.mode {
                    sovereign_spec::RedisMode::Global => {
                        Some(if r.primary.as_deref() == Some(s.id.as_str()) {
                            "primary"
                        } else {
                            "secondary"
                        })
                    }
                    sovereign_spec::RedisMode::Regional => None,
                },
            });
        let load_balancer = s.serves() && s.has_eks();
        let fly_machines = match &t.application {
            Some(app) if s.serves() && s.fly_region().is_some() => app.fly_machines,
            _ => 0,
        };

        totals.subnets += zones * 3;
        totals.nat_gateways += nat;
        totals.eks_clusters += usize::from(s.has_eks());
        for g in &node_groups {
            totals.nodes_min += g.min;
            totals.nodes_desired += g.desired;
            totals.nodes_max += g.max;
        }
        match &database {
            Some(
                DatabaseRole::Primary { instances, .. } | DatabaseRole::Secondary { instances, .. },
            ) => {
                totals.aurora_clusters += 1;
                totals.aurora_instances += instances;
            }
            Some(DatabaseRole::LogicalReplica { .. }) => totals.logical_replicas += 1,
            None => {}
        }
        if let Some(c) = &cassandra {
            totals.cassandra_datacenters += 1;
            totals.cassandra_nodes += c.nodes;
        }
        totals.cache_nodes += cache.as_ref().map_or(0, |c| c.nodes);
        totals.load_balancers += u32::from(load_balancer);
        totals.fly_machines += fly_machines;

        sites.push(SiteInventory {
            id: s.id.to_string(),
            name: s.name.clone(),
            role: s.role.clone(),
            aws_region: aws.map(|a| a.region.clone()),
            fly_region: s.fly_region().map(str::to_string),
            vpc_cidr: aws.map(|a| a.vpc_cidr.to_string()),
            subnets: aws.map(|a| a.subnets.zones.clone()).unwrap_or_default(),
            nat_gateways: nat,
            eks_version: t
                .kubernetes
                .as_ref()
                .filter(|_| s.has_eks())
                .map(|k| k.version.clone()),
            node_groups,
            database,
            cassandra,
            cassandra_control_plane: s.is_cassandra_control_plane(),
            cache,
            serves_application: s.serves(),
            load_balancer,
            fly_machines,
            global_monitoring: s.is_monitoring_global(),
        });
    }
    totals.aws_regions = regions.len();
    totals.fly_regions = fly.len();
    Inventory { sites, totals }
}
