//! The lab's outputs file: the deployment's outputs contract (`sovereign_check::outputs`, the
//! types verify reads), as `terraform output -json` prints it (each output as
//! `{"sensitive", "type", "value"}`), filled with the lab's loopback endpoints, plus what only
//! the lab has (credentials files, pgBackRest, resolvers).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use sovereign_check::outputs::{
    Cassandra, CassandraDc, DeploymentOutputs, Dns, Monitoring, PgBackRest, Postgres, PostgresRole,
    Redis, Site, SiteCassandra, SiteLoadBalancer, SitePostgres, SiteRedis,
};

use crate::state::LabState;

/// Terraform's JSON type expression for a value, as `terraform output -json` writes it.
pub fn type_of(v: &Value) -> Value {
    match v {
        Value::Null => json!("dynamic"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        Value::Array(a) => json!(["tuple", a.iter().map(type_of).collect::<Vec<_>>()]),
        Value::Object(o) => json!([
            "object",
            o.iter()
                .map(|(k, v)| (k.clone(), type_of(v)))
                .collect::<Map<_, _>>()
        ]),
    }
}

fn wrap(v: Value) -> Value {
    json!({"sensitive": false, "type": type_of(&v), "value": v})
}

pub const PG_CREDENTIALS: &str = "credentials/postgres.json";
pub const REDIS_CREDENTIALS: &str = "credentials/redis.token";
pub const CASSANDRA_CREDENTIALS: &str = "credentials/cassandra.json";

/// The outputs, as `terraform output -json` would print them: the deployment's outputs
/// contract filled with the lab's loopback endpoints and credentials files.
pub fn outputs(s: &LabState) -> Value {
    let o = contract(s);
    let mut root = Map::new();
    let value = serde_json::to_value(&o).unwrap_or(Value::Null);
    if let Value::Object(m) = value {
        for (name, v) in m {
            if !v.is_null() {
                root.insert(name, wrap(v));
            }
        }
    }
    Value::Object(root)
}

/// The lab's deployment, in the outputs contract's types.
pub fn contract(s: &LabState) -> DeploymentOutputs {
    let mut sites = BTreeMap::new();
    for site in &s.sites {
        let postgres = s
            .postgres
            .as_ref()
            .and_then(|p| p.members.get(&site.id).map(|m| (p, m)))
            .and_then(|(p, member)| {
                let endpoint = Some(member.pg.host.clone());
                let (role, writer, reader, host) = match member.role.as_str() {
                    "primary" => (PostgresRole::Primary, endpoint.clone(), endpoint, None),
                    "secondary" => (PostgresRole::Secondary, None, endpoint, None),
                    "logical_replica" => (PostgresRole::LogicalReplica, None, None, endpoint),
                    // A member a drill took down is absent, as a destroyed one would be.
                    _ => return None,
                };
                Some(SitePostgres {
                    role,
                    cluster_id: None,
                    writer_endpoint: writer,
                    reader_endpoint: reader,
                    host,
                    port: Some(member.pg.port),
                    database: Some(p.database.clone()),
                })
            });
        let redis = s.redis.get(&site.id).map(|r| SiteRedis {
            primary_endpoint: Some(r.redis.host.clone()),
            reader_endpoint: Some(r.redis.host.clone()),
            port: Some(r.redis.port),
            tls: false,
            role: Some(r.role.clone()),
        });
        let cassandra = s
            .cassandra
            .as_ref()
            .filter(|c| c.datacenters.contains_key(&site.id))
            .map(|c| {
                let nodes: Vec<&crate::engines::cassandra::Node> =
                    c.nodes.iter().filter(|n| n.spec.dc == site.id).collect();
                SiteCassandra {
                    datacenter: site.id.clone(),
                    contact_points: nodes.iter().map(|n| n.spec.listen.to_string()).collect(),
                    port: nodes.first().map(|n| n.spec.native_port),
                }
            });
        let load_balancer = s.edges.get(&site.id).map(|url| SiteLoadBalancer {
            dns_name: None,
            target_group_arn: None,
            url: Some(url.clone()),
            health_path: s.health_path.clone(),
        });
        sites.insert(
            site.id.clone(),
            Site {
                region: site.region.clone(),
                fly_region: site.fly_region.clone(),
                postgres,
                redis,
                cassandra,
                load_balancer,
                ..Site::default()
            },
        );
    }
    let postgres = s.postgres.as_ref().map(|p| Postgres {
        global_writer_endpoint: p.members.get(&p.primary).map(|m| m.pg.host.clone()),
        primary_site: p.primary.clone(),
        database: Some(p.database.clone()),
        expected_replicas: p
            .members
            .values()
            .filter(|m| m.role == "secondary" || m.role == "logical_replica")
            .map(|m| m.site.clone())
            .collect(),
        max_lag_seconds: Some(p.max_lag_seconds),
        backup_retention_days: Some(i64::from(p.backup_retention_days)),
        credentials_file: Some(PG_CREDENTIALS.into()),
        pgbackrest: p.stanza.as_ref().map(|st| PgBackRest {
            stanza: st.name.clone(),
            config: st.config.to_string_lossy().into_owned(),
            user: st.user.clone(),
        }),
        ..Postgres::default()
    });
    let redis = (!s.redis.is_empty()).then(|| Redis {
        mode: s.redis_mode.clone(),
        primary_site: s
            .redis
            .values()
            .find(|r| r.role == "master" && s.redis_mode.as_deref() == Some("global"))
            .map(|r| r.site.clone()),
        maxmemory_policy: s.redis_policy.clone(),
        credentials_secret: None,
        credentials_file: Some(REDIS_CREDENTIALS.into()),
    });
    let cassandra = s.cassandra.as_ref().map(|c| Cassandra {
        cluster_name: Some(c.cluster.clone()),
        keyspace: c.keyspace.clone(),
        datacenters: c
            .datacenters
            .iter()
            .map(|(dc, (nodes, rf, _))| {
                (
                    dc.clone(),
                    CassandraDc {
                        nodes: *nodes,
                        replication_factor: *rf,
                    },
                )
            })
            .collect(),
        credentials_file: Some(CASSANDRA_CREDENTIALS.into()),
    });
    let monitoring = s
        .monitoring_global
        .as_ref()
        .and_then(|g| s.prometheus.get(g).map(|p| (g, p)))
        .map(|(g, p)| Monitoring {
            global_site: Some(g.clone()),
            prometheus_url: Some(p.url()),
            prometheus_target_group_arn: None,
            sites: s.prometheus.keys().cloned().collect(),
        });
    let dns = s.dns.as_ref().map(|d| Dns {
        zone_id: None,
        name_servers: vec![d.addr.to_string()],
        api_name: d.api_name.clone(),
        sites: s.edges.keys().cloned().collect(),
        resolvers: vec![d.addr.to_string()],
    });
    DeploymentOutputs {
        sites,
        postgres,
        redis,
        cassandra,
        monitoring,
        fly_links: None,
        dns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_reads_back_what_the_lab_writes() {
        let o = DeploymentOutputs {
            sites: BTreeMap::from([(
                "iad".to_string(),
                Site {
                    region: Some("us-east-1".into()),
                    postgres: Some(SitePostgres {
                        role: PostgresRole::Primary,
                        cluster_id: None,
                        writer_endpoint: Some("127.0.0.1".into()),
                        reader_endpoint: None,
                        host: None,
                        port: Some(5432),
                        database: Some("app".into()),
                    }),
                    ..Site::default()
                },
            )]),
            ..DeploymentOutputs::default()
        };
        let mut root = Map::new();
        root.insert(
            "sites".into(),
            wrap(serde_json::to_value(&o.sites).unwrap()),
        );
        let parsed = DeploymentOutputs::parse(&Value::Object(root).to_string()).unwrap();
        assert_eq!(parsed.outputs, o);
        assert!(parsed.unknown.is_empty(), "{:?}", parsed.unknown);
        // A field the contract does not know is reported by its path.
        let text = r#"{"sites": {"iad": {"region": "us-east-1", "vpc_idd": "x"}}}"#;
        let parsed = DeploymentOutputs::parse(text).unwrap();
        assert_eq!(parsed.unknown, vec!["sites.iad.vpc_idd".to_string()]);
    }

    #[test]
    fn terraform_types() {
        assert_eq!(
            type_of(&json!({"a": [1, "x"], "b": null})),
            json!(["object", {"a": ["tuple", ["number", "string"]], "b": "dynamic"}])
        );
    }
}
