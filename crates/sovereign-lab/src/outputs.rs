//! The lab's outputs file: the shape `terraform output -json` prints for the rendered tree
//! (each output as `{"sensitive", "type", "value"}`), filled with the lab's loopback
//! endpoints, plus what only the lab has (credentials files, pgBackRest, resolvers).

use serde_json::{Map, Value, json};

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

/// The outputs, as a JSON document.
pub fn outputs(s: &LabState) -> Value {
    let mut sites = Map::new();
    for site in &s.sites {
        let mut m = Map::new();
        m.insert("region".into(), json!(site.region));
        m.insert("fly_region".into(), json!(site.fly_region));
        let pg = s
            .postgres
            .as_ref()
            .and_then(|p| p.members.get(&site.id).map(|m| (p, m)));
        m.insert(
            "postgres".into(),
            match pg {
                Some((p, member)) if member.role != "down" => {
                    let endpoint = json!(member.pg.host);
                    match member.role.as_str() {
                        "primary" => json!({"role": "primary", "writer_endpoint": endpoint, "reader_endpoint": endpoint, "port": member.pg.port, "database": p.database}),
                        "secondary" => json!({"role": "secondary", "writer_endpoint": null, "reader_endpoint": endpoint, "port": member.pg.port, "database": p.database}),
                        _ => json!({"role": member.role, "host": endpoint, "port": member.pg.port, "database": p.database}),
                    }
                }
                _ => Value::Null,
            },
        );
        m.insert(
            "redis".into(),
            match s.redis.get(&site.id) {
                Some(r) => json!({
                    "primary_endpoint": r.redis.host,
                    "reader_endpoint": r.redis.host,
                    "port": r.redis.port,
                    "tls": false,
                    "role": r.role,
                }),
                None => Value::Null,
            },
        );
        m.insert(
            "cassandra".into(),
            match &s.cassandra {
                Some(c) if c.datacenters.contains_key(&site.id) => {
                    let nodes: Vec<&crate::engines::cassandra::Node> = c.nodes.iter().filter(|n| n.spec.dc == site.id).collect();
                    json!({
                        "datacenter": site.id,
                        "contact_points": nodes.iter().map(|n| n.spec.listen.to_string()).collect::<Vec<_>>(),
                        "port": nodes.first().map(|n| n.spec.native_port),
                    })
                }
                _ => Value::Null,
            },
        );
        m.insert(
            "load_balancer".into(),
            match s.edges.get(&site.id) {
                Some(url) => json!({"dns_name": null, "target_group_arn": null, "url": url, "health_path": s.health_path}),
                None => Value::Null,
            },
        );
        sites.insert(site.id.to_string(), Value::Object(m));
    }
    let mut root = Map::new();
    root.insert("sites".into(), wrap(Value::Object(sites)));
    if let Some(p) = &s.postgres {
        let replicas: Vec<&String> = p
            .members
            .values()
            .filter(|m| m.role == "secondary" || m.role == "logical_replica")
            .map(|m| &m.site)
            .collect();
        root.insert(
            "postgres".into(),
            wrap(json!({
                "global_cluster_id": null,
                "global_writer_endpoint": p.members.get(&p.primary).map(|m| m.pg.host.clone()),
                "primary_site": p.primary,
                "engine_version": null,
                "database": p.database,
                "expected_replicas": replicas,
                "max_lag_seconds": p.max_lag_seconds,
                "backup_retention_days": p.backup_retention_days,
                "credentials_secret": null,
                "credentials_file": PG_CREDENTIALS,
                "pgbackrest": p.stanza.as_ref().map(|st| json!({"stanza": st.name, "config": st.config, "user": st.user})),
            })),
        );
    }
    if !s.redis.is_empty() {
        let primary = s
            .redis
            .values()
            .find(|r| r.role == "master" && s.redis_mode.as_deref() == Some("global"))
            .map(|r| r.site.clone());
        root.insert(
            "redis".into(),
            wrap(json!({
                "mode": s.redis_mode,
                "primary_site": primary,
                "maxmemory_policy": s.redis_policy,
                "credentials_secret": null,
                "credentials_file": REDIS_CREDENTIALS,
            })),
        );
    }
    if let Some(c) = &s.cassandra {
        let dcs: Map<String, Value> = c
            .datacenters
            .iter()
            .map(|(dc, (nodes, rf, _))| {
                (
                    dc.clone(),
                    json!({"nodes": nodes, "replication_factor": rf}),
                )
            })
            .collect();
        root.insert(
            "cassandra".into(),
            wrap(json!({"cluster_name": c.cluster, "keyspace": c.keyspace, "datacenters": dcs, "credentials_file": CASSANDRA_CREDENTIALS})),
        );
    }
    if let Some(g) = &s.monitoring_global
        && let Some(p) = s.prometheus.get(g)
    {
        root.insert(
            "monitoring".into(),
            wrap(json!({
                "global_site": g,
                "prometheus_url": p.url(),
                "prometheus_target_group_arn": null,
                "sites": s.prometheus.keys().collect::<Vec<_>>(),
            })),
        );
    }
    if let Some(d) = &s.dns {
        root.insert(
            "dns".into(),
            wrap(json!({
                "zone_id": null,
                "name_servers": [d.addr.to_string()],
                "api_name": d.api_name,
                "sites": s.edges.keys().collect::<Vec<_>>(),
                "resolvers": [d.addr.to_string()],
            })),
        );
    }
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraform_types() {
        assert_eq!(
            type_of(&json!({"a": [1, "x"], "b": null})),
            json!(["object", {"a": ["tuple", ["number", "string"]], "b": "dynamic"}])
        );
    }
}
