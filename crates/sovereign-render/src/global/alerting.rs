//! `monitoring.tf`: the global Prometheus's load balancer and private zone, the alert topics and
//! the CloudWatch alarms.

use super::*;

pub(super) fn monitoring(cx: &Ctx, tree: &mut Tree) {
    let mut f = File::new(&cx.header(
        "Monitoring, AWS side: the internal load balancer every site's Prometheus remote-writes to, the\nprivate zone with its name, and CloudWatch alarms on Aurora replication lag and on the global\nPrometheus itself, with email notifications.",
    ));
    let mut any = false;
    any |= prometheus_endpoint(cx, &mut f);
    any |= alert_topics(cx, &mut f);
    any |= prometheus_watcher(cx, &mut f);
    any |= lag_alarms(cx, &mut f);
    if any {
        tree.add("monitoring.tf", f.render());
    }
}

/// The global Prometheus's internal load balancer, target group, listener and private zone, reached
/// by every site's remote write. Returns whether it added anything.
fn prometheus_endpoint(cx: &Ctx, f: &mut File) -> bool {
    let t = cx.t;
    let mut added = false;
    if let Some((gs, a, _)) = t.monitoring_cluster() {
        let sources: Vec<String> = cx
            .mesh_eks_sites()
            .iter()
            .flat_map(|x| cx.private_cidrs(x))
            .collect();
        let region = a.region.clone();
        f.add(
            Block::new("resource", &["aws_security_group", "prometheus"])
                .attr("region", s(&region))
                .attr("name_prefix", s(format!("{}-prometheus-", cx.project())))
                .attr(
                    "description",
                    s("global Prometheus remote-write receiver: the sites' private ranges"),
                )
                .attr("vpc_id", Expr::from(Network(&gs.id).vpc_id()))
                .attr("tags", site_tags(&gs.id))
                .block(
                    Block::new("lifecycle", &[]).attr("create_before_destroy", Expr::Bool(true)),
                ),
        );
        f.add(
            Block::new(
                "resource",
                &["aws_vpc_security_group_ingress_rule", "prometheus"],
            )
            .attr(
                "for_each",
                Expr::Raw(format!("toset({})", list_text(&sources))),
            )
            .attr("region", s(&region))
            .attr("security_group_id", raw("aws_security_group.prometheus.id"))
            .attr("description", raw("\"remote write from ${each.value}\""))
            .attr("cidr_ipv4", raw("each.value"))
            .attr("ip_protocol", s("tcp"))
            .attr("from_port", int(9090))
            .attr("to_port", int(9090)),
        );
        f.add(
            Block::new(
                "resource",
                &["aws_vpc_security_group_egress_rule", "prometheus"],
            )
            .attr("region", s(&region))
            .attr("security_group_id", raw("aws_security_group.prometheus.id"))
            .attr("description", s("to the Prometheus pods"))
            .attr("cidr_ipv4", s(a.vpc_cidr.to_string()))
            .attr("ip_protocol", s("tcp"))
            .attr("from_port", int(9090))
            .attr("to_port", int(9090)),
        );
        f.add(
            Block::new(
                "resource",
                &["aws_vpc_security_group_ingress_rule", "prometheus_pods"],
            )
            .attr("region", s(&region))
            .attr(
                "security_group_id",
                Expr::from(Eks(&gs.id).cluster_security_group_id()),
            )
            .attr(
                "description",
                s("Prometheus from its internal load balancer"),
            )
            .attr(
                "referenced_security_group_id",
                raw("aws_security_group.prometheus.id"),
            )
            .attr("ip_protocol", s("tcp"))
            .attr("from_port", int(9090))
            .attr("to_port", int(9090)),
        );
        f.add(
            Block::new("resource", &["aws_lb", "prometheus"])
                .comment("checkov:skip=CKV_AWS_91:network load balancers log only TLS listeners; this one forwards plain TCP inside the peering mesh")
                .attr("region", s(&region))
                .attr("name", s(format!("{}-prom", truncate(cx.project(), 27))))
                .attr("load_balancer_type", s("network"))
                .attr("internal", Expr::Bool(true))
                .attr("subnets", Expr::from(Network(&gs.id).private_subnet_ids()))
                .attr("security_groups", raw("[aws_security_group.prometheus.id]"))
                .attr("enable_deletion_protection", Expr::Bool(true))
                .attr("enable_cross_zone_load_balancing", Expr::Bool(true))
                .attr("tags", site_tags(&gs.id)),
        );
        f.add(
            Block::new("resource", &["aws_lb_target_group", "prometheus"])
                .attr("region", s(&region))
                .attr("name_prefix", s("prom-"))
                .attr("target_type", s("ip"))
                .attr("protocol", s("TCP"))
                .attr("port", int(9090))
                .attr("vpc_id", Expr::from(Network(&gs.id).vpc_id()))
                .attr("tags", site_tags(&gs.id))
                .block(
                    Block::new("health_check", &[])
                        .attr("protocol", s("HTTP"))
                        .attr("path", s("/-/ready"))
                        .attr("port", s("traffic-port")),
                )
                .block(
                    Block::new("lifecycle", &[]).attr("create_before_destroy", Expr::Bool(true)),
                ),
        );
        f.add(
            Block::new("resource", &["aws_lb_listener", "prometheus"])
                .comment("checkov:skip=CKV_AWS_2:remote write stays on the VPC peering mesh, which AWS encrypts between regions; Prometheus speaks plain HTTP to its receiver")
                .attr("region", s(&region))
                .attr("load_balancer_arn", raw("aws_lb.prometheus.arn"))
                .attr("port", int(9090))
                .attr("protocol", s("TCP"))
                .block(
                    Block::new("default_action", &[])
                        .attr("type", s("forward"))
                        .attr("target_group_arn", raw("aws_lb_target_group.prometheus.arn")),
                ),
        );
        // The private zone every VPC resolves internal names in: the global Prometheus's name.
        let mut zone = Block::new("resource", &["aws_route53_zone", "internal"])
            .attr("name", s(cx.internal_zone()))
            .attr(
                "comment",
                s("internal names of the sites (global Prometheus)"),
            );
        for (site, a) in t.aws_sites() {
            zone = zone.block(
                Block::new("vpc", &[])
                    .attr("vpc_id", Expr::from(Network(&site.id).vpc_id()))
                    .attr("vpc_region", s(&a.region)),
            );
        }
        f.add(zone);
        f.add(
            Block::new("resource", &["aws_route53_record", "prometheus"])
                .attr("zone_id", raw("aws_route53_zone.internal.zone_id"))
                .attr("name", s(format!("prometheus.{}", cx.internal_zone())))
                .attr("type", s("A"))
                .block(
                    Block::new("alias", &[])
                        .attr("name", raw("aws_lb.prometheus.dns_name"))
                        .attr("zone_id", raw("aws_lb.prometheus.zone_id"))
                        .attr("evaluate_target_health", Expr::Bool(false)),
                ),
        );
        added = true;
    }
    added
}

/// An alert topic in every AWS site with a cluster or a database, its subscriptions and policy.
/// Returns whether it added anything.
fn alert_topics(cx: &Ctx, f: &mut File) -> bool {
    let t = cx.t;
    let mut added = false;
    // An alert topic in every AWS site with a cluster or a database: CloudWatch alarms and the
    // site's Alertmanager publish to it; the budget recipients are subscribed.
    let recipients = t
        .budgets
        .as_ref()
        .map(|b| b.recipients.clone())
        .unwrap_or_default();
    for site in alert_sites(cx) {
        let id = &site.id;
        let region = cx.region(site).to_string();
        f.add(
            Block::new("resource", &["aws_sns_topic", &format!("alerts_{id}")])
                .attr("region", s(&region))
                .attr("name", s(format!("{}-alerts", cx.project())))
                .attr("kms_master_key_id", Expr::from(Network(id).kms_key_arn()))
                .attr("tags", site_tags(id)),
        );
        for (i, email) in recipients.iter().enumerate() {
            f.add(
                Block::new(
                    "resource",
                    &[
                        "aws_sns_topic_subscription",
                        &format!("alerts_{id}_{}", i + 1),
                    ],
                )
                .attr("region", s(&region))
                .attr("topic_arn", raw(format!("aws_sns_topic.alerts_{id}.arn")))
                .attr("protocol", s("email"))
                .attr("endpoint", s(email)),
            );
        }
        added = true;
    }
    added
}

/// The CloudWatch alarm that watches the global Prometheus from outside. Returns whether it added
/// anything.
fn prometheus_watcher(cx: &Ctx, f: &mut File) -> bool {
    let t = cx.t;
    let mut added = false;
    // The watcher of the watchers: the global Prometheus evaluates every rule and its
    // Alertmanager sends every notification, so its own death would be silent. CloudWatch
    // watches the load balancer in front of it: no healthy target (Prometheus not ready) for
    // five minutes, or no data at all, notifies the monitoring site's topic.
    if let Some((gs, a, _)) = t.monitoring_cluster() {
        f.add(
            Block::new("resource", &["aws_cloudwatch_metric_alarm", "prometheus_unhealthy"])
                .attr("region", s(&a.region))
                .attr("alarm_name", s(format!("{}-prometheus-unhealthy", cx.project())))
                .attr(
                    "alarm_description",
                    s(format!(
                        "The global Prometheus in {} has had no ready target behind its load balancer for 5 minutes: no rule is evaluated and Alertmanager may be down with it",
                        gs.id
                    )),
                )
                .attr("namespace", s("AWS/NetworkELB"))
                .attr("metric_name", s("HealthyHostCount"))
                .attr(
                    "dimensions",
                    map([
                        ("LoadBalancer", raw("aws_lb.prometheus.arn_suffix")),
                        ("TargetGroup", raw("aws_lb_target_group.prometheus.arn_suffix")),
                    ]),
                )
                .attr("statistic", s("Minimum"))
                .attr("period", int(60))
                .attr("evaluation_periods", int(5))
                .attr("threshold", int(1))
                .attr("comparison_operator", s("LessThanThreshold"))
                .attr("treat_missing_data", s("breaching"))
                .attr("alarm_actions", raw(format!("[aws_sns_topic.alerts_{}.arn]", gs.id)))
                .attr("ok_actions", raw(format!("[aws_sns_topic.alerts_{}.arn]", gs.id)))
                .attr("tags", site_tags(&gs.id)),
        );
        added = true;
    }
    added
}

/// The CloudWatch alarms on every Aurora member's replication lag. Returns whether it added
/// anything.
fn lag_alarms(cx: &Ctx, f: &mut File) -> bool {
    let t = cx.t;
    let mut added = false;
    if let Some(pg) = &t.postgres {
        // Two lag alarms per member, today's writer included. Between regions: AWS publishes
        // AuroraGlobalDBReplicationLag only for secondaries, so after a switchover the new
        // writer's alarm goes quiet (missing data is not breaching) and the old writer's, now a
        // secondary, starts measuring. Inside the region: AuroraReplicaLagMaximum, the cluster's
        // most-behind reader, which serves the site's reads. postgres_exporter cannot measure
        // either on Aurora (its lag query calls pg_last_xact_replay_timestamp(), which Aurora
        // does not support), so these alarms, not a Prometheus rule, watch Aurora's lag.
        // Metrics: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html
        for member in pg.members() {
            let Some(site) = t.find_site(member) else {
                continue;
            };
            let region = cx.region(site);
            let cluster = names::rds_cluster(cx.project(), member);
            let lag = pg.max_lag_seconds;
            f.add(lag_alarm(
                member,
                region,
                ("replication_lag", format!("{cluster}-aurora-replication-lag")),
                "AuroraGlobalDBReplicationLag",
                format!("Aurora global replication lag into {member} above {lag} s (measured only while {member} is a secondary)"),
                lag,
            ));
            f.add(lag_alarm(
                member,
                region,
                ("reader_lag", format!("{cluster}-aurora-reader-lag")),
                "AuroraReplicaLagMaximum",
                format!("The most-behind Aurora reader in {member} is more than {lag} s behind its writer: reads there are stale"),
                lag,
            ));
            added = true;
        }
    }
    added
}

/// A CloudWatch alarm on one of an Aurora member's lag metrics (milliseconds), to the site's
/// alert topic: `(label prefix, alarm name)`, metric, description, threshold in seconds.
pub(super) fn lag_alarm(
    member: &str,
    region: &str,
    (label, name): (&str, String),
    metric: &str,
    description: String,
    max_lag_seconds: f64,
) -> Block {
    let topic = raw(format!("[aws_sns_topic.alerts_{member}.arn]"));
    Block::new(
        "resource",
        &["aws_cloudwatch_metric_alarm", &format!("{label}_{member}")],
    )
    .attr("region", s(region))
    .attr("alarm_name", s(name))
    .attr("alarm_description", s(description))
    .attr("namespace", s("AWS/RDS"))
    .attr("metric_name", s(metric))
    .attr(
        "dimensions",
        map([(
            "DBClusterIdentifier",
            Expr::from(Database(member).cluster_identifier()),
        )]),
    )
    .attr("statistic", s("Maximum"))
    .attr("period", int(60))
    .attr("evaluation_periods", int(3))
    .attr("threshold", Expr::Num(max_lag_seconds * 1000.0))
    .attr("comparison_operator", s("GreaterThanThreshold"))
    .attr("treat_missing_data", s("notBreaching"))
    .attr("alarm_actions", topic.clone())
    .attr("ok_actions", topic)
    .attr("tags", site_tags(member))
}

/// AWS sites with an alert topic: those with a cluster or an Aurora member.
pub(crate) fn alert_sites<'a>(cx: &'a Ctx) -> Vec<&'a SiteV> {
    cx.t.sites
        .iter()
        .filter(|s| s.aws.is_some() && (s.has_eks() || s.aurora().is_some()))
        .collect()
}

pub(super) fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => s[..i].trim_end_matches('-'),
        None => s,
    }
}

pub(super) fn list_text(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|i| crate::hcl::quote(i))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
