//! Which checks a set of outputs calls for, each as a future ready to run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::outputs::Outputs;
use crate::{
    BoxFut, Options, Outcome, Planned, cassandra, credentials, dns, http, postgres, prometheus,
    redis_checks,
};

fn one(
    name: &'static str,
    site: Option<String>,
    fut: impl std::future::Future<Output = Outcome> + Send + 'static,
) -> Planned {
    let s = site.clone();
    Planned {
        name,
        site,
        fut: Box::pin(async move { vec![(s, fut.await)] }) as BoxFut,
    }
}

fn many(
    name: &'static str,
    site: Option<String>,
    fut: impl std::future::Future<Output = Vec<(Option<String>, Outcome)>> + Send + 'static,
) -> Planned {
    Planned {
        name,
        site,
        fut: Box::pin(fut) as BoxFut,
    }
}

fn failed(name: &'static str, site: Option<String>, reason: String) -> Planned {
    one(name, site, async move { Outcome::fail(reason) })
}

pub fn plan(o: &Outputs, opts: &Options) -> Vec<Planned> {
    let o = Arc::new(o.clone());
    // Inner operations give up a little before the check's own deadline, so the reason is
    // theirs ("connection refused", "timed out connecting") rather than a bare timeout.
    let t = opts.timeout.mul_f64(0.8).max(Duration::from_millis(200));
    let mut out = Vec::new();
    plan_presence(&o, &mut out);
    plan_postgres(&o, &opts.pg_tls, t, &mut out);
    plan_redis(&o, t, &mut out);
    plan_cassandra(&o, t, &mut out);
    plan_prometheus(&o, t, &mut out);
    plan_http(&o, t, &mut out);
    plan_dns(&o, opts, t, &mut out);
    out
}

/// `<engine>::outputs_present`: with a topology, one per engine it declares, failing when the
/// outputs lack what it calls for; without one, a failure where sites have an engine's
/// endpoints but its own output (what to expect of them) is missing. Either way a missing
/// section is a failed check, never a silently skipped engine.
fn plan_presence(o: &Arc<Outputs>, out: &mut Vec<Planned>) {
    let mut seen = Vec::new();
    for d in &o.declared {
        seen.push(d.engine);
        let outcome = if d.absent.is_empty() {
            Outcome::pass(format!("the outputs have what the topology declares: {}", d.what))
        } else {
            Outcome::fail(format!(
                "the topology declares {}, but the outputs lack {}: are they from this topology, and fully applied?",
                d.what,
                d.absent.join(", ")
            ))
        }
        .with(serde_json::json!({"absent": d.absent}));
        out.push(one(outputs_present(d.engine), None, async move { outcome }));
    }
    let sites_with = |f: &dyn Fn(&crate::outputs::Site) -> bool| -> Vec<String> {
        o.sites
            .iter()
            .filter(|(_, s)| f(s))
            .map(|(id, _)| id.clone())
            .collect()
    };
    let mut orphan = |engine: &'static str, what: &str, sites: Vec<String>, missing: &str| {
        if sites.is_empty() || seen.contains(&engine) {
            return;
        }
        out.push(failed(
            outputs_present(engine),
            None,
            format!(
                "the outputs give {what} at {} but no {missing}: what to check them against is unknown",
                sites.join(", ")
            ),
        ));
    };
    if o.postgres.is_none() {
        orphan(
            "postgres",
            "PostgreSQL endpoints",
            sites_with(&|s| s.postgres.is_some()),
            "`postgres` output (primary, replicas, credentials)",
        );
    }
    if o.redis.is_none() {
        orphan(
            "redis",
            "caches",
            sites_with(&|s| s.redis.is_some()),
            "`redis` output (mode, eviction policy, credentials)",
        );
    }
    match &o.cassandra {
        None => orphan(
            "cassandra",
            "Cassandra contact points",
            sites_with(&|s| s.cassandra.is_some()),
            "`cassandra` output (keyspace, datacenters)",
        ),
        Some(c) if c.datacenters.is_empty() => orphan(
            "cassandra",
            "Cassandra contact points",
            sites_with(&|s| s.cassandra.is_some()),
            "`cassandra.datacenters` (nodes and replication factor per datacenter)",
        ),
        Some(_) => {}
    }
}

/// The `outputs_present` check of an engine, by its name in [`crate::CHECKS`].
fn outputs_present(engine: &str) -> &'static str {
    crate::CHECKS
        .iter()
        .find(|c| c.strip_suffix("::outputs_present") == Some(engine))
        .copied()
        .unwrap_or("verify::outputs_present")
}

fn plan_postgres(o: &Arc<Outputs>, caller: &crate::PgTls, t: Duration, out: &mut Vec<Planned>) {
    let Some(pg) = o.postgres.clone() else { return };
    let targets = postgres::targets(o);
    let primary_site = pg.primary_site.clone();
    let names = [
        "postgres::reachable",
        "postgres::replication",
        "postgres::lag",
        "postgres::write_propagation",
        "postgres::backups",
    ];
    let creds = match credentials::postgres(o) {
        Ok(c) => c,
        Err(e) => {
            for n in names {
                out.push(failed(n, Some(primary_site.clone()), e.clone()));
            }
            return;
        }
    };
    let tls = match postgres::Tls::resolve(caller, pg.sslmode.as_deref()) {
        Ok(tls) => tls,
        Err(e) => {
            for n in names {
                out.push(failed(n, Some(primary_site.clone()), e.clone()));
            }
            return;
        }
    };
    let mut expected_sites: Vec<&String> = std::iter::once(&pg.primary_site)
        .chain(pg.expected_replicas.iter())
        .collect();
    expected_sites.dedup();
    for site in expected_sites {
        if !targets.iter().any(|t| match t {
            Ok(t) => &t.site == site,
            Err((s, _)) => s == site,
        }) {
            out.push(failed(
                "postgres::reachable",
                Some(site.clone()),
                format!("PostgreSQL is expected at {site}, but the outputs give no endpoint there: are they from this topology?"),
            ));
        }
    }
    let mut ok_targets = Vec::new();
    for target in targets {
        match target {
            Ok(tg) => {
                ok_targets.push(tg.clone());
                out.push(one(
                    "postgres::reachable",
                    Some(tg.site.clone()),
                    postgres::reachable(tg, creds.clone(), tls.clone(), t),
                ));
            }
            Err((site, why)) => out.push(failed("postgres::reachable", Some(site), why)),
        }
    }
    let Some(primary) = ok_targets.iter().find(|x| x.site == primary_site).cloned() else {
        for n in &names[1..] {
            out.push(failed(
                n,
                Some(primary_site.clone()),
                format!("the outputs give no endpoint for the primary at {primary_site}"),
            ));
        }
        return;
    };
    let p = Some(primary_site.clone());
    out.push(many(
        "postgres::replication",
        p.clone(),
        postgres::replication(
            o.clone(),
            primary.clone(),
            ok_targets.clone(),
            creds.clone(),
            tls.clone(),
            t,
        ),
    ));
    out.push(many(
        "postgres::lag",
        p.clone(),
        postgres::lag(
            o.clone(),
            primary.clone(),
            ok_targets.clone(),
            creds.clone(),
            tls.clone(),
            t,
        ),
    ));
    out.push(many(
        "postgres::write_propagation",
        p.clone(),
        postgres::write_propagation(o.clone(), primary, ok_targets, creds, tls, t),
    ));
    out.push(many(
        "postgres::backups",
        p,
        postgres::backups(o.clone(), primary_site, t),
    ));
}

fn plan_redis(o: &Arc<Outputs>, t: Duration, out: &mut Vec<Planned>) {
    let sites: Vec<(String, crate::outputs::SiteRedis)> = o
        .sites
        .iter()
        .filter_map(|(id, s)| s.redis.clone().map(|r| (id.clone(), r)))
        .collect();
    if sites.is_empty() {
        return;
    }
    let cfg = o.redis.clone().unwrap_or_default();
    let password = credentials::redis(o);
    let policy = cfg
        .maxmemory_policy
        .clone()
        .unwrap_or_else(|| "allkeys-lru".into());
    let global = cfg.mode.as_deref() == Some("global");
    for (site, r) in sites {
        let s = Some(site.clone());
        let password = match &password {
            Ok(p) => p.clone(),
            Err(e) => {
                for n in ["redis::reachable", "redis::role", "redis::memory_policy"] {
                    out.push(failed(n, s.clone(), e.clone()));
                }
                continue;
            }
        };
        let Some(host) = r.primary_endpoint.clone() else {
            for n in ["redis::reachable", "redis::role", "redis::memory_policy"] {
                out.push(failed(
                    n,
                    s.clone(),
                    "the outputs give no primary endpoint".into(),
                ));
            }
            continue;
        };
        // A global datastore's secondary clusters replicate from the primary region; a
        // regional cache is its site's own primary.
        let role = match (&r.role, global, &cfg.primary_site) {
            (Some(role), _, _) => Some(role.clone()),
            (None, false, _) => Some("master".to_string()),
            (None, true, Some(p)) => Some(if *p == site { "master" } else { "slave" }.to_string()),
            (None, true, None) => None,
        };
        let target = redis_checks::Target {
            host,
            port: r.port.unwrap_or(6379),
            tls: r.tls,
            role: role.clone().unwrap_or_default(),
        };
        out.push(one(
            "redis::reachable",
            s.clone(),
            redis_checks::reachable(target.clone(), password.clone(), t),
        ));
        match role {
            Some(_) => out.push(one(
                "redis::role",
                s.clone(),
                redis_checks::role(target.clone(), password.clone(), t),
            )),
            None => out.push(failed(
                "redis::role",
                s.clone(),
                "the cache is a global datastore, but the outputs name no `redis.primary_site`: which role this site should have is unknown".into(),
            )),
        }
        out.push(one(
            "redis::memory_policy",
            s,
            redis_checks::memory_policy(target, password, policy.clone(), t),
        ));
    }
}

fn plan_cassandra(o: &Arc<Outputs>, t: Duration, out: &mut Vec<Planned>) {
    let Some(c) = o.cassandra.clone() else { return };
    if c.datacenters.is_empty() {
        return;
    }
    let mut contact_points = Vec::new();
    let mut dcs = BTreeMap::new();
    for (site, dc) in &c.datacenters {
        let sc = o.sites.get(site).and_then(|s| s.cassandra.clone());
        let dc_name = sc
            .as_ref()
            .map(|x| x.datacenter.clone())
            .unwrap_or_else(|| site.clone());
        if let Some(sc) = &sc {
            let port = sc.port.unwrap_or(9042);
            for cp in &sc.contact_points {
                let host = if cp.contains(':')
                    && !cp.starts_with('[')
                    && cp.parse::<std::net::Ipv6Addr>().is_ok()
                {
                    format!("[{cp}]")
                } else {
                    cp.clone()
                };
                contact_points.push(format!("{host}:{port}"));
            }
        }
        dcs.insert(dc_name, (site.clone(), dc.nodes, dc.replication_factor));
    }
    let creds = match credentials::cassandra(o) {
        Ok(c) => c,
        Err(e) => {
            out.push(failed("cassandra::nodes_per_dc", None, e.clone()));
            out.push(failed("cassandra::keyspace_replication", None, e));
            return;
        }
    };
    let setup = || cassandra::Setup {
        contact_points: contact_points.clone(),
        creds: creds.clone(),
        keyspace: c.keyspace.clone(),
        datacenters: dcs.clone(),
    };
    out.push(many(
        "cassandra::nodes_per_dc",
        None,
        cassandra::nodes_per_dc(setup(), t),
    ));
    out.push(many(
        "cassandra::keyspace_replication",
        None,
        cassandra::keyspace_replication(setup(), t),
    ));
}

fn plan_prometheus(o: &Arc<Outputs>, t: Duration, out: &mut Vec<Planned>) {
    let Some(m) = o.monitoring.clone() else {
        return;
    };
    let global = m.global_site.clone().unwrap_or_else(|| "global".into());
    let Some(url) = m.prometheus_url.clone() else {
        for n in [
            "prometheus::targets_up",
            "prometheus::rules_loaded",
            "prometheus::remote_write",
        ] {
            out.push(failed(
                n,
                Some(global.clone()),
                "the outputs give no prometheus_url".into(),
            ));
        }
        return;
    };
    let g = Some(global.clone());
    out.push(many(
        "prometheus::targets_up",
        g.clone(),
        prometheus::targets_up(url.clone(), global.clone(), m.sites.clone(), t),
    ));
    out.push(one(
        "prometheus::rules_loaded",
        g.clone(),
        prometheus::rules_loaded(url.clone(), global.clone(), t),
    ));
    out.push(many(
        "prometheus::remote_write",
        g,
        prometheus::remote_write(url, global, m.sites, t),
    ));
}

fn plan_http(o: &Arc<Outputs>, t: Duration, out: &mut Vec<Planned>) {
    for (site, s) in &o.sites {
        let Some(lb) = &s.load_balancer else { continue };
        match http::health_url(
            lb.url.as_deref(),
            lb.dns_name.as_deref(),
            lb.health_path.as_deref(),
        ) {
            Some(url) => out.push(one(
                "http::load_balancer",
                Some(site.clone()),
                http::load_balancer(url, t),
            )),
            None => out.push(failed(
                "http::load_balancer",
                Some(site.clone()),
                "the outputs give neither a url nor a dns_name".into(),
            )),
        }
    }
}

fn plan_dns(o: &Arc<Outputs>, opts: &Options, t: Duration, out: &mut Vec<Planned>) {
    let Some(d) = o.dns.clone() else { return };
    let endpoints: Vec<dns::Endpoint> = d
        .sites
        .iter()
        .filter_map(|site| {
            let lb = o.sites.get(site)?.load_balancer.as_ref()?;
            let host = match (&lb.url, &lb.dns_name) {
                (Some(u), _) => host_of(u)?,
                (None, Some(n)) => n.clone(),
                _ => return None,
            };
            Some(dns::Endpoint {
                site: site.clone(),
                host,
            })
        })
        .collect();
    let mut resolvers: Vec<String> = opts.resolvers.clone();
    for r in &d.resolvers {
        if !resolvers.contains(r) {
            resolvers.push(r.clone());
        }
    }
    if resolvers.is_empty() {
        out.push(one(
            "dns::routing",
            None,
            dns::routing(d.api_name.clone(), None, endpoints, t),
        ));
        return;
    }
    for r in resolvers {
        match dns::parse_resolver(&r) {
            Ok(addr) => out.push(one(
                "dns::routing",
                Some(r.clone()),
                dns::routing(d.api_name.clone(), Some(addr), endpoints.clone(), t),
            )),
            Err(e) => out.push(failed("dns::routing", Some(r), e)),
        }
    }
}

/// The host of `scheme://host[:port]/...`.
pub fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?.to_string()
    } else {
        authority.split(':').next()?.to_string()
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn hosts() {
        assert_eq!(
            host_of("https://a.example.com/health").as_deref(),
            Some("a.example.com")
        );
        assert_eq!(
            host_of("http://127.0.0.2:8080").as_deref(),
            Some("127.0.0.2")
        );
        assert_eq!(host_of("http://[::1]:80/x").as_deref(), Some("::1"));
        assert_eq!(host_of("http://user:pw@h:1/").as_deref(), Some("h"));
        assert_eq!(host_of("http:///x"), None);
    }
}
