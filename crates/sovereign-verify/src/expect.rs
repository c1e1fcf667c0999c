//! Expectations from the topology (`--topology`): what the deployment should look like, laid
//! over what the outputs say, with a note wherever the two disagree.

use std::collections::BTreeMap;

use sovereign_check::ValidatedTopology;
use sovereign_spec::model::RedisMode;

use crate::outputs::{Cassandra, CassandraDc, Dns, Monitoring, Outputs, Postgres, Redis};

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

/// Sets every expectation the topology defines; returns where the outputs disagreed.
pub fn apply(o: &mut Outputs, t: &ValidatedTopology) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(pg) = &t.postgres {
        let p = o.postgres.get_or_insert_with(Postgres::default);
        let replicas: Vec<String> = pg.replicas().map(str::to_string).collect();
        note(&mut notes, "postgres primary", &p.primary_site, &pg.primary);
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
        p.primary_site = pg.primary.clone();
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
            note(&mut notes, "redis primary", &x.primary_site, &r.primary);
            x.primary_site = r.primary.clone();
        }
    }
    if let Some(c) = &t.cassandra {
        let x = o.cassandra.get_or_insert_with(Cassandra::default);
        let dcs: BTreeMap<String, CassandraDc> = c
            .datacenters
            .iter()
            .map(|d| {
                (
                    d.site.clone(),
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
        let sites: Vec<String> = t.eks_sites().map(|s| s.id.clone()).collect();
        if !sites.is_empty() {
            let m = o.monitoring.get_or_insert_with(Monitoring::default);
            note(&mut notes, "monitored sites", &m.sites, &sites);
            m.sites = sites;
            if let Some(g) = &t.monitoring.global_site {
                note(
                    &mut notes,
                    "global monitoring site",
                    &m.global_site,
                    &Some(g.clone()),
                );
                m.global_site = Some(g.clone());
            }
        }
    }
    if let (Some(d), Some(_)) = (&t.dns, &t.application) {
        let sites: Vec<String> = t.api_sites().iter().map(|s| s.id.clone()).collect();
        let x = o.dns.get_or_insert_with(Dns::default);
        note(&mut notes, "API name", &x.api_name, &d.api_fqdn());
        note(&mut notes, "sites behind the API name", &x.sites, &sites);
        x.api_name = d.api_fqdn();
        x.sites = sites;
    }
    notes
}
