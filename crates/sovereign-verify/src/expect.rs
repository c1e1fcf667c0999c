//! Expectations from the topology (`--topology`): what the deployment should look like, laid
//! over what the outputs say, with a note wherever the two disagree, and a record of every
//! component the topology declares and the outputs lack (each a failed
//! `<engine>::outputs_present` check).

use std::collections::BTreeMap;

use sovereign_check::ValidatedTopology;
use sovereign_spec::model::RedisMode;

use crate::outputs::{
    Cassandra, CassandraDc, Declared, Dns, Monitoring, Outputs, Postgres, Redis, Site,
};

/// Notes a disagreement; an output that says nothing (absent, empty) is not one.
fn note<T: PartialEq + serde::Serialize>(
    notes: &mut Vec<String>,
    what: &str,
    outputs: &T,
    topology: &T,
) {
    let said = serde_json::to_value(outputs).unwrap_or_default();
    let silent = match &said {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        _ => false,
    };
    if outputs != topology && !silent {
        let topo = serde_json::to_value(topology).unwrap_or_default();
        notes.push(format!(
            "{what}: the outputs say {said}, the topology {topo}; checking against the topology"
        ));
    }
}

/// The sites of `ids` whose outputs lack `part` (`sites.<id>.<part>`).
fn absent_at<'a>(
    o: &Outputs,
    ids: impl IntoIterator<Item = &'a str>,
    part: &str,
    has: impl Fn(&Site) -> bool,
) -> Vec<String> {
    ids.into_iter()
        .filter(|id| !o.sites.get(*id).is_some_and(&has))
        .map(|id| format!("`sites.{id}.{part}`"))
        .collect()
}

/// What the topology declares per engine, and what of it the outputs lack (before
/// [`apply`] fills expectations in).
pub fn declared(o: &Outputs, t: &ValidatedTopology) -> Vec<Declared> {
    let mut out = Vec::new();
    let section = |present: bool, name: &str| {
        (!present)
            .then(|| format!("the `{name}` output"))
            .into_iter()
    };
    if let Some(pg) = &t.postgres {
        let replicas: Vec<&str> = pg.replicas().map(|r| r.as_str()).collect();
        let members = std::iter::once(pg.primary.as_str()).chain(replicas.iter().copied());
        out.push(Declared {
            engine: "postgres",
            what: format!(
                "PostgreSQL (primary {}; replicas {})",
                pg.primary,
                if replicas.is_empty() {
                    "none".to_string()
                } else {
                    replicas.join(", ")
                }
            ),
            absent: section(o.postgres.is_some(), "postgres")
                .chain(absent_at(o, members, "postgres", |s| s.postgres.is_some()))
                .collect(),
        });
    }
    if let Some(r) = &t.redis {
        let sites: Vec<&str> = t
            .sites
            .iter()
            .filter(|s| s.has_cache())
            .map(|s| s.id.as_str())
            .collect();
        out.push(Declared {
            engine: "redis",
            what: format!("Redis ({}) at {}", r.node_type, sites.join(", ")),
            absent: section(o.redis.is_some(), "redis")
                .chain(absent_at(o, sites, "redis", |s| s.redis.is_some()))
                .collect(),
        });
    }
    if let Some(c) = &t.cassandra {
        let sites: Vec<&str> = c.datacenters.iter().map(|d| d.site.as_str()).collect();
        out.push(Declared {
            engine: "cassandra",
            what: format!(
                "Cassandra (keyspace `{}`; datacenters {})",
                c.keyspace,
                sites.join(", ")
            ),
            absent: section(o.cassandra.is_some(), "cassandra")
                .chain(absent_at(o, sites, "cassandra", |s| s.cassandra.is_some()))
                .collect(),
        });
    }
    let monitored: Vec<&str> = t.eks_sites().map(|s| s.id.as_str()).collect();
    if !monitored.is_empty() {
        let url = o.monitoring.as_ref().map(|m| m.prometheus_url.is_some());
        out.push(Declared {
            engine: "prometheus",
            what: format!("Prometheus monitoring of {}", monitored.join(", ")),
            absent: section(url.is_some(), "monitoring")
                .chain((url == Some(false)).then(|| "`monitoring.prometheus_url`".to_string()))
                .collect(),
        });
    }
    let api = t.api_sites();
    if !api.is_empty() {
        let sites: Vec<&str> = api.iter().map(|s| s.id.as_str()).collect();
        out.push(Declared {
            engine: "http",
            what: format!("load balancers at {}", sites.join(", ")),
            absent: absent_at(o, sites, "load_balancer", |s| s.load_balancer.is_some()),
        });
    }
    if let (Some(d), Some(_)) = (&t.dns, &t.application) {
        out.push(Declared {
            engine: "dns",
            what: format!("the API name {}", d.api_fqdn()),
            absent: section(o.dns.is_some(), "dns").collect(),
        });
    }
    out
}

/// Sets every expectation the topology defines and records what it declares that the outputs
/// lack ([`Outputs::declared`]); returns where the outputs disagreed.
pub fn apply(o: &mut Outputs, t: &ValidatedTopology) -> Vec<String> {
    o.declared = declared(o, t);
    let mut notes = Vec::new();
    if let Some(pg) = &t.postgres {
        let p = o.postgres.get_or_insert_with(Postgres::default);
        let replicas: Vec<String> = pg.replicas().map(|r| r.to_string()).collect();
        note(
            &mut notes,
            "postgres primary",
            &p.primary_site,
            &pg.primary.to_string(),
        );
        note(
            &mut notes,
            "postgres replicas",
            &p.expected_replicas,
            &replicas,
        );
        note(
            &mut notes,
            "postgres lag limit",
            &p.max_lag_seconds,
            &Some(pg.max_lag_seconds),
        );
        p.primary_site = pg.primary.to_string();
        p.expected_replicas = replicas;
        p.max_lag_seconds = Some(pg.max_lag_seconds);
        if p.pgbackrest.is_none() {
            let days = Some(i64::from(pg.backup_retention_days));
            note(
                &mut notes,
                "postgres backup retention",
                &p.backup_retention_days,
                &days,
            );
            p.backup_retention_days = days;
        }
    }
    if let Some(r) = &t.redis {
        let x = o.redis.get_or_insert_with(Redis::default);
        let mode = match r.mode {
            RedisMode::Regional => "regional",
            RedisMode::Global => "global",
        };
        note(&mut notes, "redis mode", &x.mode.as_deref(), &Some(mode));
        note(
            &mut notes,
            "redis maxmemory policy",
            &x.maxmemory_policy,
            &Some(r.maxmemory_policy.clone()),
        );
        x.mode = Some(mode.into());
        x.maxmemory_policy = Some(r.maxmemory_policy.clone());
        if r.mode == RedisMode::Global {
            let primary = r.primary.as_ref().map(|p| p.to_string());
            note(&mut notes, "redis primary", &x.primary_site, &primary);
            x.primary_site = primary;
        }
    }
    if let Some(c) = &t.cassandra {
        let x = o.cassandra.get_or_insert_with(Cassandra::default);
        let dcs: BTreeMap<String, CassandraDc> = c
            .datacenters
            .iter()
            .map(|d| {
                (
                    d.site.to_string(),
                    CassandraDc {
                        nodes: d.nodes,
                        replication_factor: d.replication_factor,
                    },
                )
            })
            .collect();
        note(&mut notes, "cassandra keyspace", &x.keyspace, &c.keyspace);
        let flat = |m: &BTreeMap<String, CassandraDc>| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.nodes, v.replication_factor))
                .collect::<Vec<_>>()
        };
        note(
            &mut notes,
            "cassandra datacenters (site, nodes, RF)",
            &flat(&x.datacenters),
            &flat(&dcs),
        );
        x.keyspace = c.keyspace.clone();
        x.datacenters = dcs;
    }
    {
        let sites: Vec<String> = t.eks_sites().map(|s| s.id.to_string()).collect();
        if !sites.is_empty() {
            let m = o.monitoring.get_or_insert_with(Monitoring::default);
            note(&mut notes, "monitored sites", &m.sites, &sites);
            m.sites = sites;
            if let Some(g) = &t.monitoring.global_site {
                note(
                    &mut notes,
                    "global monitoring site",
                    &m.global_site,
                    &Some(g.to_string()),
                );
                m.global_site = Some(g.to_string());
            }
        }
    }
    if let (Some(d), Some(_)) = (&t.dns, &t.application) {
        let sites: Vec<String> = t.api_sites().iter().map(|s| s.id.to_string()).collect();
        let x = o.dns.get_or_insert_with(Dns::default);
        note(&mut notes, "API name", &x.api_name, &d.api_fqdn());
        note(&mut notes, "sites behind the API name", &x.sites, &sites);
        x.api_name = d.api_fqdn();
        x.sites = sites;
    }
    notes
}
