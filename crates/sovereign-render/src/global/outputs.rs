//! `outputs.tf`: the outputs contract that `sovereign verify --outputs` reads.

use super::*;

pub(super) fn outputs(cx: &Ctx, tree: &mut Tree) {
    let t = cx.t;
    let mut f = File::new(&cx.header(
        "Outputs: the shape `sovereign verify --outputs` reads (`terraform output -json`); the tree's\nREADME documents it.",
    ));
    let mut sites: Vec<(String, Expr)> = Vec::new();
    for site in &t.sites {
        sites.push((site.id.to_string(), site_output(cx, site)));
    }
    f.add(
        Block::new("output", &["sites"])
            .attr("description", s("Per site: region, VPC, EKS cluster, PostgreSQL role and endpoints, cache, Cassandra contact points, load balancer."))
            .attr("value", Expr::Map(sites)),
    );
    postgres_output(cx, &mut f);
    redis_output(cx, &mut f);
    cassandra_output(cx, &mut f);
    monitoring_output(cx, &mut f);
    fly_links_output(cx, &mut f);
    dns_output(cx, &mut f);
    tree.add("outputs.tf", f.render());
}

/// One site's entry of the `sites` output: where it is, and each component it has (null when
/// it has none).
fn site_output(cx: &Ctx, site: &SiteV) -> Expr {
    let id = &site.id;
    let aws = |value: Ref| {
        if site.aws.is_some() {
            Expr::from(value)
        } else {
            Expr::Null
        }
    };
    Expr::Map(vec![
        (
            "region".into(),
            site.aws.as_ref().map_or(Expr::Null, |a| s(&a.region)),
        ),
        ("fly_region".into(), site.fly_region().map_or(Expr::Null, s)),
        ("vpc_id".into(), aws(Network(id).vpc_id())),
        ("kms_key_arn".into(), aws(Network(id).kms_key_arn())),
        (
            "alerts_topic_arn".into(),
            if alert_sites(cx).iter().any(|x| x.id == *id) {
                raw(format!("aws_sns_topic.alerts_{id}.arn"))
            } else {
                Expr::Null
            },
        ),
        (
            "eks".into(),
            if site.has_eks() {
                map([
                    ("cluster_name", Expr::from(Eks(id).cluster_name())),
                    ("endpoint", Expr::from(Eks(id).cluster_endpoint())),
                ])
            } else {
                Expr::Null
            },
        ),
        ("postgres".into(), site_postgres(cx, site)),
        ("redis".into(), site_redis(site)),
        ("cassandra".into(), site_cassandra(cx, site)),
        ("load_balancer".into(), site_load_balancer(cx, site)),
    ])
}

/// An Aurora member's role and endpoints, or a logical replica's address on Fly.io.
fn site_postgres(cx: &Ctx, site: &SiteV) -> Expr {
    let (t, id) = (cx.t, &site.id);
    match (&t.postgres, site.aurora()) {
        (Some(pg), Some(role)) => map([
            (
                "role",
                s(if role == AuroraRole::Primary {
                    "primary"
                } else {
                    "secondary"
                }),
            ),
            ("cluster_id", Expr::from(Database(id).cluster_identifier())),
            (
                "writer_endpoint",
                Expr::from(Database(id).writer_endpoint()),
            ),
            (
                "reader_endpoint",
                Expr::from(Database(id).reader_endpoint()),
            ),
            ("port", Expr::from(Database(id).port())),
            ("database", s(&pg.database_name)),
        ]),
        (Some(pg), None) if site.has_logical_replica() => map([
            ("role", s("logical_replica")),
            ("host", s(format!("{}.internal", fly_pg_app(cx, id)))),
            ("port", int(5432)),
            ("database", s(&pg.database_name)),
        ]),
        _ => Expr::Null,
    }
}

/// The site's cache endpoints (TLS on).
fn site_redis(site: &SiteV) -> Expr {
    let id = &site.id;
    if site.has_cache() {
        map([
            ("primary_endpoint", Expr::from(Cache(id).primary_endpoint())),
            ("reader_endpoint", Expr::from(Cache(id).reader_endpoint())),
            ("port", Expr::from(Cache(id).port())),
            ("tls", Expr::Bool(true)),
        ])
    } else {
        Expr::Null
    }
}

/// The site's Cassandra datacenter and its contact points.
fn site_cassandra(cx: &Ctx, site: &SiteV) -> Expr {
    let id = &site.id;
    let cassandra_name = cx.cassandra_cluster_name();
    if site.has_cassandra_dc() {
        map([
            ("datacenter", s(id)),
            (
                "contact_points",
                strs([format!(
                    "{cassandra_name}-{id}-service.k8ssandra.svc.cluster.local"
                )]),
            ),
            ("port", int(9042)),
        ])
    } else {
        Expr::Null
    }
}

/// What serves the site's users: its load balancer, or the Fly.io app.
fn site_load_balancer(cx: &Ctx, site: &SiteV) -> Expr {
    let (t, id) = (cx.t, &site.id);
    let app = |f: fn(&sovereign_check::ApplicationV) -> &str| {
        t.application
            .as_ref()
            .map(f)
            .unwrap_or_default()
            .to_string()
    };
    let (dns_name, target_group_arn) = if edge_sites(cx).iter().any(|(e, _)| e.id == *id) {
        (
            Expr::from(Edge(id).dns_name()),
            Expr::from(Edge(id).target_group_arn()),
        )
    } else if fly_serving_sites(cx).iter().any(|e| e.id == *id) {
        let name = fly_app_name(cx, &app(|a| &a.name));
        (s(format!("{name}.fly.dev")), Expr::Null)
    } else {
        return Expr::Null;
    };
    map([
        ("dns_name", dns_name),
        ("target_group_arn", target_group_arn),
        (
            "url",
            s(format!("https://{}", cx.site_fqdn(id).unwrap_or_default())),
        ),
        ("health_path", s(app(|a| &a.health_path))),
    ])
}

/// `output "postgres"`: the Aurora global database: identifiers and endpoints, the replicas verify
/// expects.
fn postgres_output(cx: &Ctx, f: &mut File) {
    let t = cx.t;
    if let Some(pg) = &t.postgres {
        let replicas: Vec<&str> = pg.replicas().map(|r| r.as_str()).collect();
        f.add(
            Block::new("output", &["postgres"])
                .attr("description", s("The Aurora global database: identifiers, the primary site, the replicas verify expects, the lag threshold, where the credentials are."))
                .attr(
                    "value",
                    map([
                        ("global_cluster_id", raw("aws_rds_global_cluster.this.id")),
                        ("global_writer_endpoint", raw("aws_rds_global_cluster.this.endpoint")),
                        ("primary_site", s(&pg.primary)),
                        ("engine_version", s(&pg.engine_version)),
                        ("database", s(&pg.database_name)),
                        ("expected_replicas", strs(replicas)),
                        ("max_lag_seconds", Expr::Num(pg.max_lag_seconds)),
                        ("backup_retention_days", int(pg.backup_retention_days)),
                        ("credentials_secret", s(postgres_secret_name(cx))),
                    ]),
                ),
        );
    }
}

/// `output "redis"`: the cache: mode, primary, eviction policy, where the AUTH token is.
fn redis_output(cx: &Ctx, f: &mut File) {
    let t = cx.t;
    if let Some(r) = &t.redis {
        f.add(
            Block::new("output", &["redis"])
                .attr("description", s("Cache mode, the role verify expects per site, the eviction policy, where the AUTH token is."))
                .attr(
                    "value",
                    map([
                        ("mode", s(match r.mode {
                            RedisMode::Regional => "regional",
                            RedisMode::Global => "global",
                        })),
                        ("primary_site", r.primary.as_ref().map_or(Expr::Null, s)),
                        ("maxmemory_policy", s(&r.maxmemory_policy)),
                        ("credentials_secret", s(redis_secret_name(cx))),
                    ]),
                ),
        );
    }
}

/// `output "cassandra"`: the Cassandra cluster and its datacenters.
fn cassandra_output(cx: &Ctx, f: &mut File) {
    let t = cx.t;
    if let Some(c) = &t.cassandra {
        f.add(
            Block::new("output", &["cassandra"])
                .attr("description", s("The Cassandra cluster: name, keyspace, nodes and replication factor per datacenter."))
                .attr(
                    "value",
                    map([
                        ("cluster_name", s(cx.cassandra_cluster_name())),
                        ("keyspace", s(&c.keyspace)),
                        (
                            "datacenters",
                            Expr::Map(
                                c.datacenters
                                    .iter()
                                    .map(|d| {
                                        (
                                            d.site.to_string(),
                                            map([("nodes", int(d.nodes)), ("replication_factor", int(d.replication_factor))]),
                                        )
                                    })
                                    .collect(),
                            ),
                        ),
                    ]),
                ),
        );
    }
}

/// `output "monitoring"`: the global Prometheus and the sites it should hear from.
fn monitoring_output(cx: &Ctx, f: &mut File) {
    let t = cx.t;
    f.add(
        Block::new("output", &["monitoring"])
            .attr("description", s("The global Prometheus every site remote-writes to, and the sites it should hear from."))
            .attr(
                "value",
                map([
                    ("global_site", t.monitoring.global_site.as_ref().map_or(Expr::Null, s)),
                    ("prometheus_url", cx.prometheus_url().map_or(Expr::Null, s)),
                    (
                        "prometheus_target_group_arn",
                        if t.monitoring.global_site.is_some() && t.aws_sites().next().is_some() {
                            raw("aws_lb_target_group.prometheus.arn")
                        } else {
                            Expr::Null
                        },
                    ),
                    ("sites", strs(t.eks_sites().map(|x| x.id.to_string()))),
                ]),
            ),
    );
}

/// `output "fly_links"`: the gateways of every Fly.io logical replica's links.
fn fly_links_output(cx: &Ctx, f: &mut File) {
    let t = cx.t;
    if let Some(pg) = &t.postgres
        && !pg.logical_replicas.is_empty()
    {
        f.add(
            Block::new("output", &["fly_links"])
                .attr("description", s("Per Fly.io logical replica, the gateways of its links (`a`, `b` through `via`; `c`, `d` through the successor): the secret fly/deploy.sh stores each WireGuard peer in, its region, each gateway's VPC address and zone."))
                .attr(
                    "value",
                    Expr::Map(
                        pg.logical_replicas
                            .iter()
                            .map(|r| {
                                (
                                    r.site.to_string(),
                                    map([(
                                        "gateways",
                                        raw(merged_gateways(cx, r)),
                                    )]),
                                )
                            })
                            .collect(),
                    ),
                ),
        );
    }
}

/// `output "dns"`: the public zone, its name servers and the API name.
fn dns_output(cx: &Ctx, f: &mut File) {
    let t = cx.t;
    if let Some(d) = &t.dns {
        f.add(
            Block::new("output", &["dns"])
                .attr("description", s("The public zone, its name servers (delegate to them), the API name and the sites it should resolve to."))
                .attr(
                    "value",
                    map([
                        ("zone_id", raw("local.public_zone_id")),
                        ("name_servers", raw("data.terraform_remote_state.dns.outputs.name_servers")),
                        ("api_name", s(d.api_fqdn())),
                        ("sites", strs(t.api_sites().iter().map(|x| x.id.to_string()))),
                    ]),
                ),
        );
    }
}
