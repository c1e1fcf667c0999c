//! `monitoring/`: Prometheus alert rules and Grafana dashboards, and each site's
//! kube-prometheus-stack values. The rules are plain rule files (`promtool check rules` accepts
//! them); the dashboards are Grafana dashboard JSON models.

use serde_json::{Value, json};
use sovereign_check::SiteV;

use crate::site_root::{SITE_STORAGE_CLASS, to_yaml};
use crate::{Ctx, RenderError, Tree};

/// The metric each part of the data tier exposes, as the exporters name it: postgres_exporter
/// v0.19 calls replication lag `pg_replication_lag_seconds` (`collector/pg_replication.go`).
pub const PG_LAG_EXPR: &str = "pg_replication_lag_seconds";

/// Replication slots as postgres_exporter v0.19 reports them (`collector/pg_replication_slot.go`,
/// subsystem `replication_slot`, labels `slot_name` and `slot_type`; v0.20 renames the subsystem
/// `replication_slots`): the server's current WAL position, the position the slot's subscriber
/// confirmed (only while it is connected) and whether it is connected, the positions in bytes.
pub const PG_SLOT_CURRENT_LSN: &str = "pg_replication_slot_slot_current_wal_lsn";
pub const PG_SLOT_CONFIRMED_LSN: &str = "pg_replication_slot_slot_confirmed_flush_lsn";
pub const PG_SLOT_ACTIVE: &str = "pg_replication_slot_slot_is_active";

/// The label modules/site puts on the series of the exporter that reads the Aurora writer
/// (`pg_endpoint="writer"`; `reader` on the others): replication slots live on the writer.
pub const PG_WRITER_SELECTOR: &str = "pg_endpoint=\"writer\"";

/// WAL a logical replica's slot may hold on the Aurora writer before the alert fires: 10 GiB.
const SLOT_RETENTION_ALERT_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// Every metric Sovereign's rules and dashboards read on the global Prometheus. The other sites
/// remote-write only these (`writeRelabelConfigs`); the judges check that the rules and the
/// dashboards use no other metric, and that each is exported by the pinned exporters.
pub const FORWARDED_METRICS: &[&str] = &[
    "up",
    "pg_up",
    PG_LAG_EXPR,
    PG_SLOT_CURRENT_LSN,
    PG_SLOT_CONFIRMED_LSN,
    PG_SLOT_ACTIVE,
    "redis_up",
    "redis_memory_used_bytes",
    "redis_memory_max_bytes",
    "redis_commands_processed_total",
    "redis_connected_clients",
    "kube_statefulset_replicas",
    "kube_statefulset_status_replicas_ready",
    "kube_pod_container_status_restarts_total",
    "kube_node_labels",
    "node_cpu_seconds_total",
];

/// The node label the node groups set to `on_demand` or `spot` (`modules/node-group`).
pub const CAPACITY_LABEL: &str = "sovereign.dev/capacity";

pub(crate) fn render(cx: &Ctx, tree: &mut Tree) -> Result<(), RenderError> {
    tree.add("monitoring/rules/sovereign.rules.yml", rules(cx)?);
    for (name, dashboard) in dashboards(cx) {
        let text = serde_json::to_string_pretty(&dashboard)
            .map_err(|e| RenderError(format!("cannot write dashboard {name}: {e}")))?;
        tree.add(
            format!("monitoring/dashboards/{name}.json"),
            format!("{text}\n"),
        );
    }
    Ok(())
}

fn alert(
    name: &str,
    expr: &str,
    for_: &str,
    severity: &str,
    summary: &str,
    description: &str,
) -> Value {
    json!({
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": { "severity": severity },
        "annotations": { "summary": summary, "description": description },
    })
}

/// The alert rules, evaluated by the global Prometheus: replica lag and replica down, Cassandra
/// nodes down per datacenter, Redis, and sites that stop reporting. Cost is not here: AWS Budgets
/// alerts on it (the global root), and no billing exporter is deployed.
pub(crate) fn rules_value(cx: &Ctx) -> Value {
    let t = cx.t;
    let mut groups = Vec::new();
    if let Some(pg) = &t.postgres {
        let mut rules = vec![
            alert(
                "SovereignPostgresReplicaLag",
                &format!("max by (site) ({PG_LAG_EXPR}) > {}", pg.max_lag_seconds),
                "2m",
                "warning",
                "PostgreSQL replica in {{ $labels.site }} is {{ $value | humanizeDuration }} behind",
                &format!(
                    "Replication lag of a PostgreSQL physical standby, as postgres_exporter measures it on the replica it reaches, above the topology's max_lag_seconds ({} s) for 2 minutes; reads there are stale. On Aurora the exporter cannot measure lag (Aurora does not support pg_last_xact_replay_timestamp()), so this rule stays silent there: the global root's CloudWatch alarms watch Aurora's lag, AuroraReplicaLagMaximum for the readers of each region (`-aurora-reader-lag`) and AuroraGlobalDBReplicationLag between regions (`-aurora-replication-lag`).",
                    pg.max_lag_seconds
                ),
            ),
            alert(
                "SovereignPostgresReplicaDown",
                "pg_up == 0",
                "1m",
                "critical",
                "PostgreSQL in {{ $labels.site }} does not answer its exporter",
                "The exporter cannot connect: the replica (or the primary) of this site is down or unreachable.",
            ),
        ];
        if !pg.logical_replicas.is_empty() {
            rules.extend(slot_alerts());
            rules.extend(
                pg.logical_replicas
                    .iter()
                    .map(|r| slot_missing_alert(&r.site)),
            );
        }
        groups.push(json!({ "name": "sovereign.postgres", "rules": rules }));
    }
    if let Some(c) = &t.cassandra {
        let dcs: Vec<String> = c.datacenters.iter().map(|d| d.site.to_string()).collect();
        groups.push(json!({
            "name": "sovereign.cassandra",
            "rules": [
                alert(
                    "SovereignCassandraNodeDown",
                    "sum by (site, statefulset) (kube_statefulset_replicas{namespace=\"k8ssandra\"} - kube_statefulset_status_replicas_ready{namespace=\"k8ssandra\"}) > 0",
                    "5m",
                    "critical",
                    "{{ $value }} Cassandra node(s) not ready in {{ $labels.site }} ({{ $labels.statefulset }})",
                    &format!("Datacenters {}: with replication factor 3 a datacenter keeps LOCAL_QUORUM through one node loss, not two.", dcs.join(", ")),
                ),
            ],
        }));
    }
    if t.redis.is_some() {
        groups.push(json!({
            "name": "sovereign.redis",
            "rules": [
                alert(
                    "SovereignRedisDown",
                    "redis_up == 0",
                    "1m",
                    "critical",
                    "Redis in {{ $labels.site }} does not answer its exporter",
                    "The cache of this site is down or unreachable; the application falls back to the database.",
                ),
                alert(
                    "SovereignRedisMemoryHigh",
                    "redis_memory_used_bytes / redis_memory_max_bytes > 0.9 and redis_memory_max_bytes > 0",
                    "15m",
                    "warning",
                    "Redis in {{ $labels.site }} uses {{ $value | humanizePercentage }} of its memory",
                    "Evictions follow the maxmemory policy; consider a larger node type.",
                ),
            ],
        }));
    }
    let sites: Vec<&SiteV> = t.eks_sites().collect();
    if !sites.is_empty() {
        let rules: Vec<Value> = sites
            .iter()
            .map(|s| {
                alert(
                    &format!("SovereignSiteSilent{}", camel(&s.id)),
                    &format!("absent(up{{site=\"{}\"}})", s.id),
                    "10m",
                    "critical",
                    &format!("No metrics from site {} for 10 minutes", s.id),
                    &format!("The global Prometheus holds no `up` series of {} ({}): its Prometheus, its remote write or the site itself is down. Every Prometheus stamps `site` on the series it scrapes, so the label is stored, not only added on the way out.", s.id, template_literal(&s.name)),
                )
            })
            .collect();
        groups.push(json!({ "name": "sovereign.sites", "rules": rules }));
    }
    json!({ "groups": groups })
}

/// The logical replicas' slots on the Aurora writer, which the exporter of the site that creates
/// the roles reads (modules/site, `postgres-exporter-writer`): a slot keeps every WAL segment its
/// subscriber has not confirmed, so a replica that is down or cut off (both link gateways) makes
/// the writer's storage grow without bound. PostgreSQL caps that with `max_slot_wal_keep_size`,
/// but Aurora PostgreSQL's support for that parameter is not confirmed, so these alerts are the
/// guard.
///
/// The retention is the current WAL position minus the last position the subscriber confirmed:
/// the exporter reports the confirmed position only while the subscriber is connected, and it
/// does not move while it is not, so its last value of the past day stands for it. That is a
/// lower bound of what the slot holds (it holds from its `restart_lsn`, at or before the
/// confirmed position). A slot with no subscriber for a day or more has no such value: the
/// inactivity alert has fired long before.
fn slot_alerts() -> Vec<Value> {
    let sel = PG_WRITER_SELECTOR;
    vec![
        alert(
            "SovereignPostgresSlotRetention",
            &format!(
                "max by (site, slot_name) ({PG_SLOT_CURRENT_LSN}{{{sel}, slot_type=\"logical\"}} - last_over_time({PG_SLOT_CONFIRMED_LSN}{{{sel}, slot_type=\"logical\"}}[1d])) > {SLOT_RETENTION_ALERT_BYTES}"
            ),
            "15m",
            "warning",
            "Replication slot {{ $labels.slot_name }} holds at least {{ $value | humanize1024 }}B of WAL on the PostgreSQL writer",
            "The logical replica this slot belongs to (its subscription has the slot's name) is behind or disconnected, and the writer keeps every WAL segment since the slot's position: more than 10 GiB for 15 minutes. Aurora PostgreSQL's support for max_slot_wal_keep_size is not confirmed, so nothing else caps it: storage grows until the replica catches up or the slot is dropped. Check the replica and both link gateways; dropping the slot frees the WAL, and the next `fly/deploy.sh postgres` subscribes again with a full copy.",
        ),
        alert(
            "SovereignPostgresSlotInactive",
            &format!(
                "max by (site, slot_name) ({PG_SLOT_ACTIVE}{{{sel}, slot_type=\"logical\"}}) == 0"
            ),
            "15m",
            "warning",
            "Replication slot {{ $labels.slot_name }} has had no subscriber for 15 minutes",
            "No logical replica streams from this slot: the replica, its machine or both link gateways are down. The slot keeps WAL on the writer meanwhile (SovereignPostgresSlotRetention fires past 10 GiB).",
        ),
    ]
}

/// A logical replica's slot missing on the writer. The other slot alerts only see slots that
/// exist: after a switchover or a failover the new writer holds no slot for the replica (slots
/// are not replicated), which then stays stale, silently, until it subscribes again. `absent`
/// also fires while the writer's exporter is down; SovereignPostgresReplicaDown says so.
fn slot_missing_alert(replica: &str) -> Value {
    let slot = crate::fly::subscription_name(replica);
    alert(
        "SovereignPostgresSlotMissing",
        &format!("absent({PG_SLOT_ACTIVE}{{{PG_WRITER_SELECTOR}, slot_name=\"{slot}\"}})"),
        "15m",
        "critical",
        &format!(
            "The PostgreSQL writer holds no replication slot for the logical replica in {replica}"
        ),
        &format!(
            "No slot `{slot}` on the writer for 15 minutes: after a switchover or a failover the new writer has none, and the replica in {replica} receives nothing. Run `fly/deploy.sh postgres`: it finds the slot gone and subscribes the replica again with a full copy."
        ),
    )
}

fn rules(cx: &Ctx) -> Result<String, RenderError> {
    to_yaml(
        &cx.header("Prometheus alert rules; `promtool check rules` accepts this file as it is."),
        &rules_value(cx),
    )
}

fn camel(id: &str) -> String {
    let mut c = id.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn panel(
    id: u32,
    title: &str,
    kind: &str,
    exprs: &[(&str, &str)],
    unit: &str,
    x: u32,
    y: u32,
) -> Value {
    let targets: Vec<Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, (expr, legend))| {
            json!({
                "refId": ((b'A' + i as u8) as char).to_string(),
                "expr": expr,
                "legendFormat": legend,
                "datasource": { "type": "prometheus", "uid": "prometheus" },
            })
        })
        .collect();
    json!({
        "id": id,
        "type": kind,
        "title": title,
        "datasource": { "type": "prometheus", "uid": "prometheus" },
        "gridPos": { "h": 8, "w": 12, "x": x, "y": y },
        "fieldConfig": { "defaults": { "unit": unit }, "overrides": [] },
        "options": {},
        "targets": targets,
    })
}

fn dashboard(uid: &str, title: &str, panels: Vec<Value>) -> Value {
    json!({
        "uid": uid,
        "title": title,
        "tags": ["sovereign"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": false,
        "time": { "from": "now-6h", "to": "now" },
        "refresh": "30s",
        "templating": { "list": [] },
        "annotations": { "list": [] },
        "panels": panels,
    })
}

/// The dashboards: replication lag per site, Cassandra per datacenter, Redis, nodes.
pub(crate) fn dashboards(cx: &Ctx) -> Vec<(String, Value)> {
    let t = cx.t;
    let mut out = Vec::new();
    if let Some(pg) = &t.postgres {
        out.push((
            "replication".to_string(),
            dashboard(
                "sovereign-replication",
                "Sovereign / PostgreSQL replication",
                vec![
                    panel(
                        1,
                        "Replication lag per site",
                        "timeseries",
                        &[
                            (&format!("max by (site) ({PG_LAG_EXPR})"), "{{site}}"),
                            (&format!("vector({})", pg.max_lag_seconds), "threshold"),
                        ],
                        "s",
                        0,
                        0,
                    ),
                    panel(
                        2,
                        "PostgreSQL up per site",
                        "stat",
                        &[("min by (site) (pg_up)", "{{site}}")],
                        "none",
                        12,
                        0,
                    ),
                ],
            ),
        ));
    }
    if t.cassandra.is_some() {
        out.push((
            "cassandra".to_string(),
            dashboard(
                "sovereign-cassandra",
                "Sovereign / Cassandra per datacenter",
                vec![
                    panel(1, "Ready nodes per datacenter", "timeseries", &[("sum by (site) (kube_statefulset_status_replicas_ready{namespace=\"k8ssandra\"})", "{{site}} ready"), ("sum by (site) (kube_statefulset_replicas{namespace=\"k8ssandra\"})", "{{site}} desired")], "none", 0, 0),
                    panel(2, "Cassandra pod restarts", "timeseries", &[("sum by (site) (increase(kube_pod_container_status_restarts_total{namespace=\"k8ssandra\"}[1h]))", "{{site}}")], "none", 12, 0),
                ],
            ),
        ));
    }
    if t.redis.is_some() {
        out.push((
            "redis".to_string(),
            dashboard(
                "sovereign-redis",
                "Sovereign / Redis",
                vec![
                    panel(
                        1,
                        "Memory used",
                        "timeseries",
                        &[("max by (site) (redis_memory_used_bytes)", "{{site}}")],
                        "bytes",
                        0,
                        0,
                    ),
                    panel(
                        2,
                        "Commands per second",
                        "timeseries",
                        &[(
                            "sum by (site) (rate(redis_commands_processed_total[5m]))",
                            "{{site}}",
                        )],
                        "ops",
                        12,
                        0,
                    ),
                    panel(
                        3,
                        "Connected clients",
                        "timeseries",
                        &[("sum by (site) (redis_connected_clients)", "{{site}}")],
                        "none",
                        0,
                        8,
                    ),
                ],
            ),
        ));
    }
    out.push((
        "nodes".to_string(),
        dashboard(
            "sovereign-nodes",
            "Sovereign / Nodes",
            vec![
                panel(
                    1,
                    "Nodes per site and capacity type",
                    "timeseries",
                    &[(
                        "count by (site, label_sovereign_dev_capacity) (kube_node_labels)",
                        "{{site}} {{label_sovereign_dev_capacity}}",
                    )],
                    "none",
                    0,
                    0,
                ),
                panel(
                    2,
                    "CPU used per site",
                    "timeseries",
                    &[(
                        "avg by (site) (1 - rate(node_cpu_seconds_total{mode=\"idle\"}[5m]))",
                        "{{site}}",
                    )],
                    "percentunit",
                    12,
                    0,
                ),
            ],
        ),
    ));
    out
}

/// The service account Alertmanager runs as on the global site; its Pod Identity role may publish
/// to the alert topic (`modules/site/alerting.tf`).
pub const ALERTMANAGER_SERVICE_ACCOUNT: &str = "alertmanager";

/// The Kubernetes secret holding Grafana's admin credentials (`modules/site/alerting.tf` fills it
/// from Secrets Manager); the chart reads it through `admin.existingSecret`.
pub const GRAFANA_ADMIN_SECRET: &str = "grafana-admin";

/// A volume claim template on the site's default storage class.
fn claim(size: &str) -> Value {
    json!({
        "spec": {
            "storageClassName": SITE_STORAGE_CLASS,
            "accessModes": ["ReadWriteOnce"],
            "resources": { "requests": { "storage": size } },
        },
    })
}

/// kube-prometheus-stack values for one site.
///
/// Every Prometheus stamps `site` on what it scrapes (a default scrape class), so the label is
/// stored with each series: rules and dashboards on the global Prometheus see it on the global
/// site's own series too, not only on what other sites remote-write with their external labels.
pub(crate) fn kps_values(cx: &Ctx, site: &SiteV) -> Result<String, RenderError> {
    let t = cx.t;
    let region = cx.region(site).to_string();
    let mut prom = json!({
        "externalLabels": {
            "site": site.id,
            "region": region,
            "project": t.project.name,
        },
        "retention": format!("{}d", t.monitoring.retention_days),
        "ruleSelectorNilUsesHelmValues": false,
        "serviceMonitorSelectorNilUsesHelmValues": false,
        "podMonitorSelectorNilUsesHelmValues": false,
        "scrapeClasses": [{
            "name": "sovereign-site",
            "default": true,
            "relabelings": [{ "action": "replace", "targetLabel": "site", "replacement": site.id }],
        }],
        "storageSpec": { "volumeClaimTemplate": claim("100Gi") },
        // Its volume is zonal: on-demand nodes (one group per zone) can always come back in
        // its zone; Spot nodes can be taken away, and the autoscaler prefers them.
        "nodeSelector": { CAPACITY_LABEL: "on_demand" },
    });
    let mut values = json!({
        "fullnameOverride": "kube-prometheus-stack",
        "commonLabels": { "sovereign.dev/site": site.id },
        // kube_node_labels carries only allowlisted labels; the nodes dashboard groups by capacity.
        "kube-state-metrics": {
            "metricLabelsAllowlist": [format!("nodes=[{CAPACITY_LABEL}]")],
        },
        // EKS runs the control plane out of reach: the chart's scrapes of the controller
        // manager, the scheduler and etcd find no target, and the kube-proxy add-on serves its
        // metrics on 127.0.0.1 only. Left on, their critical "down" alerts fire forever.
        "kubeControllerManager": { "enabled": false },
        "kubeScheduler": { "enabled": false },
        "kubeEtcd": { "enabled": false },
        "kubeProxy": { "enabled": false },
    });
    if site.is_monitoring_global() {
        prom["enableRemoteWriteReceiver"] = json!(true);
        values["grafana"] = json!({
            "enabled": true,
            "defaultDashboardsEnabled": true,
            "admin": {
                "existingSecret": GRAFANA_ADMIN_SECRET,
                "userKey": "admin-user",
                "passwordKey": "admin-password",
            },
            // Dashboards come from config maps and the admin from the secret: nothing to keep.
            "persistence": { "enabled": false },
            "sidecar": { "dashboards": { "enabled": true, "label": "grafana_dashboard", "searchNamespace": "ALL" } },
        });
        // Receivers and routes name the SNS topic the site module creates: they are in its values.
        values["alertmanager"] = json!({
            "enabled": true,
            "serviceAccount": { "create": true, "name": ALERTMANAGER_SERVICE_ACCOUNT },
            "alertmanagerSpec": {
                "storage": { "volumeClaimTemplate": claim("10Gi") },
                "nodeSelector": { CAPACITY_LABEL: "on_demand" },
            },
        });
    } else {
        if let Some(url) = cx.prometheus_url() {
            prom["remoteWrite"] = json!([{
                "url": format!("{url}/api/v1/write"),
                "writeRelabelConfigs": [{
                    "sourceLabels": ["__name__"],
                    "regex": FORWARDED_METRICS.join("|"),
                    "action": "keep",
                }],
            }]);
        }
        values["grafana"] = json!({ "enabled": false });
        values["alertmanager"] = json!({ "enabled": false });
    }
    values["prometheus"] = json!({
        "prometheusSpec": prom,
        "service": { "port": 9090 },
    });
    to_yaml(
        &cx.header(&format!(
            "kube-prometheus-stack values for {}: the site label on every series, volumes on the site's\n`{SITE_STORAGE_CLASS}` storage class{}.",
            site.id,
            if site.is_monitoring_global() {
                "; the global Prometheus receives every site's remote write and runs Sovereign's\nrules; Alertmanager; Grafana"
            } else {
                "; remote write to the global Prometheus of the series its rules and\ndashboards read"
            }
        )),
        &values,
    )
}

/// Text that Prometheus's alert templating (Go `text/template`) prints as it is: `{{` and `}}`
/// become actions that print them.
pub(crate) fn template_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("{{") {
            out.push_str("{{ \"{{\" }}");
            rest = r;
        } else if let Some(r) = rest.strip_prefix("}}") {
            out.push_str("{{ \"}}\" }}");
            rest = r;
        } else {
            let c = rest.chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod template_tests {
    use super::template_literal;

    #[test]
    fn template_delimiters_print_as_text() {
        assert_eq!(template_literal("Amsterdam"), "Amsterdam");
        assert_eq!(
            template_literal("a {{ .X }} b"),
            "a {{ \"{{\" }} .X {{ \"}}\" }} b"
        );
    }
}
