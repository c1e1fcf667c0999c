//! Builds the resolved deployment ([`sovereign_model`]) from a topology the rules accepted.

use sovereign_catalog::Arch;
pub use sovereign_model::*;

use crate::cidr::plan;
use crate::context::Ctx;

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

fn ids(list: &[&str]) -> Vec<SiteId> {
    list.iter().map(|s| SiteId::checked(*s)).collect()
}

fn to_u32(v: i64, what: &'static str) -> Result<u32, &'static str> {
    u32::try_from(v).map_err(|_| what)
}

/// Which sites have which component, as the rules resolved them: the components' site lists and
/// each site's own flags both come from here.
struct SiteSets<'a> {
    eks: Vec<&'a str>,
    redis: Vec<&'a str>,
    serving: Vec<&'a str>,
    health: Vec<&'a str>,
    /// The global Prometheus's site, when it runs EKS.
    global: Option<&'a str>,
}

impl<'a> SiteSets<'a> {
    fn of(cx: &Ctx<'a>) -> SiteSets<'a> {
        let eks = cx.eks_site_ids();
        let global = cx.global_monitoring_site().filter(|s| eks.contains(s));
        SiteSets {
            redis: cx.redis_site_ids(),
            serving: cx.serving_site_ids(),
            health: cx.health_check_site_ids(),
            global,
            eks,
        }
    }
}

/// Resolves a topology the rules accepted. `Err` names what could not be resolved (a bug).
pub(crate) fn build(cx: &Ctx) -> Result<ValidatedTopology, &'static str> {
    let t = cx.t;
    let sets = SiteSets::of(cx);
    let SiteSets {
        eks,
        redis: redis_sites,
        serving,
        health,
        global: global_site,
    } = &sets;
    let global_site = *global_site;
    let prefix = t.network.subnet_prefix.value;

    let sites = sites(cx, &sets)?;

    let kubernetes = kubernetes(cx, eks)?;

    let application = t.application.as_ref().map(|a| ApplicationV {
        name: a.name.value.clone(),
        image: a.image.value.clone(),
        port: a.port.value,
        health_path: a.health_path.value.clone(),
        replicas: a.replicas.value,
        sites: ids(serving),
        fly_vm_size: a.fly_vm_size.value.clone(),
        fly_machines: a.fly_machines.value,
    });

    let postgres = postgres(cx)?;

    let cassandra = t.cassandra.as_ref().map(|c| CassandraV {
        version: c.version.value.clone(),
        control_plane: SiteId::checked(c.control_plane.value.as_str()),
        keyspace: c.keyspace.value.clone(),
        storage_class: c.storage_class.value.clone(),
        datacenters: c
            .datacenters
            .iter()
            .map(|d| CassandraDcV {
                site: SiteId::checked(d.site.value.as_str()),
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
        sites: ids(redis_sites),
        primary: cx.redis_primary().map(SiteId::checked),
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
        health_checks: ids(health),
    });

    let budgets = t.budgets.as_ref().map(|b| BudgetsV {
        monthly_total_usd: b.monthly_total_usd.value,
        per_site: b
            .per_site
            .iter()
            .map(|(k, (_, v))| (SiteId::checked(k.as_str()), v.value))
            .collect(),
        alert_thresholds_percent: b
            .alert_thresholds_percent
            .value
            .iter()
            .map(|v| v.value)
            .collect(),
        recipients: b.recipients.value.iter().map(|v| v.value.clone()).collect(),
    });

    let state_region = state_region(cx);

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
            global_site: global_site.map(SiteId::checked),
            retention_days: t.monitoring.retention_days.value,
        },
        dns,
        budgets,
        state: StateV {
            bucket: t.state.bucket.value.clone(),
            region: state_region,
            key_prefix: t.state.key_prefix.value.clone(),
        },
        usage: usage(t),
    })
}

/// Every site with the components it really has: an AWS side (VPC, subnets, EKS, Aurora, cache)
/// and a Fly.io side, each present only where the topology puts it.
fn sites(cx: &Ctx, sets: &SiteSets) -> Result<Vec<SiteV>, &'static str> {
    let t = cx.t;
    let SiteSets {
        eks,
        redis: redis_sites,
        serving,
        health,
        global: global_site,
    } = sets;
    let global_site = *global_site;
    let prefix = t.network.subnet_prefix.value;
    let mut sites = Vec::new();
    for s in &t.sites {
        let id = s.id.as_str();
        let serves = serving.contains(&id);
        let cassandra_dc = t
            .cassandra
            .as_ref()
            .is_some_and(|c| c.datacenters.iter().any(|d| d.site.value == id));
        let control_plane = t
            .cassandra
            .as_ref()
            .is_some_and(|c| c.control_plane.value == id);
        let eks_side = eks.contains(&id).then(|| EksSiteV {
            serves,
            cassandra: (cassandra_dc || control_plane).then_some(CassandraSiteV {
                datacenter: cassandra_dc,
                control_plane,
            }),
            monitoring_global: global_site == Some(id),
        });
        let aurora = t.postgres.as_ref().and_then(|pg| {
            if pg.primary.value == id {
                Some(AuroraRole::Primary)
            } else if pg.secondaries.value.iter().any(|x| x.value == id) {
                Some(AuroraRole::Secondary)
            } else {
                None
            }
        });
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
                    eks: eks_side,
                    aurora,
                    cache: redis_sites.contains(&id),
                })
            }
            // The rules keep AWS components off sites without an AWS region.
            None if eks_side.is_some() || aurora.is_some() || redis_sites.contains(&id) => {
                return Err("an AWS side for an AWS component");
            }
            None => None,
        };
        let logical_replica = t
            .postgres
            .as_ref()
            .is_some_and(|pg| pg.logical_replicas.iter().any(|r| r.site.value == id));
        let fly = match &s.fly_region {
            Some(region) => Some(FlySideV {
                region: region.value.clone(),
                serves,
                logical_replica,
            }),
            None if logical_replica => return Err("a Fly.io side for a logical replica"),
            None => None,
        };
        sites.push(SiteV {
            id: SiteId::checked(id),
            name: s.name.value.clone(),
            role: s.role.value.clone(),
            location: cx.location(s).ok_or("a site location")?,
            aws,
            fly,
            health_check: health.contains(&id),
        });
    }
    Ok(sites)
}

/// The Kubernetes settings, when some site runs EKS.
fn kubernetes(cx: &Ctx, eks: &[&str]) -> Result<Option<KubernetesV>, &'static str> {
    let t = cx.t;
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
    Ok(if eks.is_empty() {
        None
    } else {
        Some(KubernetesV {
            version: k.version.value.clone(),
            extended_support: cx
                .catalog
                .eks_version(&k.version)
                .is_some_and(|v| v.phase(cx.today) == sovereign_catalog::SupportPhase::Extended),
            sites: ids(eks),
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
    })
}

/// The Aurora global database and its logical replicas, each with the sites that terminate its
/// links (`via` and, when the successor is another AWS site with two zones, the successor).
fn postgres(cx: &Ctx) -> Result<Option<PostgresV>, &'static str> {
    let t = cx.t;
    Ok(match &t.postgres {
        None => None,
        Some(pg) => {
            let members = cx.aurora_site_ids();
            let (major, _) = crate::rules::postgres_version::parse_version(&pg.engine_version)
                .ok_or("the PostgreSQL version")?;
            let mut logical = Vec::new();
            for r in &pg.logical_replicas {
                let via = r
                    .via
                    .as_ref()
                    .ok_or("a logical replica's link site")?
                    .value
                    .as_str();
                // The successor's VPC terminates a second link: it is an Aurora member (an AWS
                // site), and two zones give its link the same two gateways as `via`'s.
                let standby_via = pg
                    .successor
                    .as_ref()
                    .map(|s| s.value.as_str())
                    .filter(|s| *s != via)
                    .filter(|s| {
                        cx.site(s)
                            .is_some_and(|site| site.has_aws() && cx.azs(site).len() >= 2)
                    })
                    .map(SiteId::checked);
                logical.push(LogicalReplicaV {
                    site: SiteId::checked(r.site.value.as_str()),
                    via: SiteId::checked(via),
                    standby_via,
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
                primary: SiteId::checked(pg.primary.value.as_str()),
                secondaries: ids(&members[1..]),
                successor: pg
                    .successor
                    .as_ref()
                    .map(|s| SiteId::checked(s.value.as_str())),
                instance_class: pg.instance_class.value.clone(),
                instances: members
                    .iter()
                    .map(|m| (SiteId::checked(*m), pg.instances_for(m)))
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
    })
}

/// The state bucket's region: the topology's, else the PostgreSQL primary's, else the first AWS
/// site's.
fn state_region(cx: &Ctx) -> String {
    let t = cx.t;
    match &t.state.region {
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
    }
}

/// The usage assumptions the cost estimate prices.
fn usage(t: &sovereign_spec::Topology) -> UsageV {
    let u = &t.usage;
    UsageV {
        aurora_storage_gb: u.aurora_storage_gb.value,
        aurora_io_millions: u.aurora_io_millions.value,
        aurora_write_io_millions: u.aurora_write_io_millions.value,
        replication_transfer_gb: u.replication_transfer_gb.value,
        nat_processed_gb_per_site: u.nat_processed_gb_per_site.value,
        load_balancer_lcu: u.load_balancer_lcu.value,
        cassandra_replication_gb: u.cassandra_replication_gb.value,
        user_regions: u
            .user_regions
            .as_ref()
            .map(|l| l.value.iter().map(|r| r.value.clone()).collect())
            .unwrap_or_default(),
    }
}
