//! What every rule sees: the topology, the catalog, today's date, and the defaults resolved once
//! (which sites run EKS, a cache, serve traffic; which zones a site uses).

use std::collections::HashMap;

use ipnet::Ipv4Net;
use sovereign_catalog::{Catalog, Date, Location};
use sovereign_spec::{RedisMode, Site, Sp, Topology};

pub struct Ctx<'a> {
    pub t: &'a Topology,
    pub catalog: &'a Catalog,
    pub today: Date,
    index: HashMap<&'a str, usize>,
}

impl<'a> Ctx<'a> {
    pub fn new(t: &'a Topology, catalog: &'a Catalog, today: Date) -> Self {
        let mut index = HashMap::new();
        for (i, s) in t.sites.iter().enumerate() {
            index.entry(s.id.as_str()).or_insert(i);
        }
        Ctx {
            t,
            catalog,
            today,
            index,
        }
    }

    /// The first site with this id.
    pub fn site(&self, id: &str) -> Option<&'a Site> {
        self.index.get(id).map(|&i| &self.t.sites[i])
    }

    pub fn sites(&self) -> impl Iterator<Item = &'a Site> {
        self.t.sites.iter()
    }

    /// Sites with an AWS side, in file order.
    pub fn aws_sites(&self) -> impl Iterator<Item = &'a Site> {
        self.t.sites.iter().filter(|s| s.has_aws())
    }

    /// Sites that run an EKS cluster: `kubernetes.sites`, or every site with an AWS side.
    pub fn eks_site_ids(&self) -> Vec<&'a str> {
        match &self.t.kubernetes.sites {
            Some(list) => unique(list.value.iter().map(|s| s.as_str())),
            None => self.aws_sites().map(|s| s.id.as_str()).collect(),
        }
    }

    pub fn is_eks(&self, id: &str) -> bool {
        self.eks_site_ids().contains(&id)
    }

    /// Sites with an ElastiCache replication group.
    pub fn redis_site_ids(&self) -> Vec<&'a str> {
        let Some(r) = &self.t.redis else {
            return Vec::new();
        };
        match &r.sites {
            Some(list) => unique(list.value.iter().map(|s| s.as_str())),
            None => self.aws_sites().map(|s| s.id.as_str()).collect(),
        }
    }

    /// In global mode, the cache's primary site: `redis.primary`, else the PostgreSQL primary
    /// when it has a cache, else the first cache site.
    pub fn redis_primary(&self) -> Option<&'a str> {
        let r = self.t.redis.as_ref()?;
        if r.mode.value != RedisMode::Global {
            return None;
        }
        if let Some(p) = &r.primary {
            return Some(p.as_str());
        }
        let sites = self.redis_site_ids();
        if let Some(pg) = &self.t.postgres
            && sites.contains(&pg.primary.as_str())
        {
            return Some(pg.primary.as_str());
        }
        sites.first().copied()
    }

    /// Sites where the application runs: `application.sites`, or every site with EKS or a Fly
    /// region. Empty without an `[application]`.
    pub fn serving_site_ids(&self) -> Vec<&'a str> {
        let Some(app) = &self.t.application else {
            return Vec::new();
        };
        match &app.sites {
            Some(list) => unique(list.value.iter().map(|s| s.as_str())),
            None => self
                .sites()
                .filter(|s| self.is_eks(&s.id) || s.has_fly())
                .map(|s| s.id.as_str())
                .collect(),
        }
    }

    /// Site of the global Prometheus and Grafana.
    pub fn global_monitoring_site(&self) -> Option<&'a str> {
        if let Some(s) = &self.t.monitoring.global_site {
            return Some(s.as_str());
        }
        if let Some(pg) = &self.t.postgres
            && self.is_eks(&pg.primary)
        {
            return Some(pg.primary.as_str());
        }
        self.eks_site_ids().first().copied()
    }

    /// Sites whose endpoint has a Route 53 health check.
    pub fn health_check_site_ids(&self) -> Vec<&'a str> {
        let Some(dns) = &self.t.dns else {
            return Vec::new();
        };
        match &dns.health_checks {
            Some(list) => unique(list.value.iter().map(|s| s.as_str())),
            None => self.serving_site_ids(),
        }
    }

    /// The zones a site uses: as written, or the first three the catalog knows for its region.
    pub fn azs(&self, site: &Site) -> Vec<String> {
        if let Some(list) = &site.availability_zones {
            return list.value.iter().map(|z| z.value.clone()).collect();
        }
        site.aws_region
            .as_ref()
            .and_then(|r| self.catalog.region(r))
            .map(|r| r.azs.ids.iter().take(3).cloned().collect())
            .unwrap_or_default()
    }

    /// A site's VPC range when it parses and has no host bits.
    pub fn vpc(&self, site: &Site) -> Option<Ipv4Net> {
        let cidr = site.vpc_cidr.as_ref()?;
        let net: Ipv4Net = cidr.parse().ok()?;
        (net == net.trunc()).then_some(net)
    }

    /// Where a site's latency is measured from: its AWS region, else its Fly region.
    pub fn location(&self, site: &Site) -> Option<Location> {
        if let Some(r) = &site.aws_region {
            return Some(Location::Aws(r.value.clone()));
        }
        site.fly_region
            .as_ref()
            .map(|f| Location::Fly(f.value.clone()))
    }

    /// Aurora member sites: the primary and the secondaries.
    pub fn aurora_site_ids(&self) -> Vec<&'a str> {
        let Some(pg) = &self.t.postgres else {
            return Vec::new();
        };
        let mut out = vec![pg.primary.as_str()];
        out.extend(pg.secondaries.value.iter().map(|s| s.as_str()));
        unique(out.into_iter())
    }

    /// A site reference that names a defined site.
    pub fn known(&self, r: &Sp<String>) -> bool {
        self.site(r).is_some()
    }
}

fn unique<'a>(it: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for s in it {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// Every place the topology names a site, with a description for messages.
pub fn site_references(t: &Topology) -> Vec<(&Sp<String>, &'static str)> {
    let mut refs: Vec<(&Sp<String>, &'static str)> = Vec::new();
    if let Some(app) = &t.application
        && let Some(list) = &app.sites
    {
        refs.extend(list.value.iter().map(|s| (s, "application.sites")));
    }
    if let Some(list) = &t.kubernetes.sites {
        refs.extend(list.value.iter().map(|s| (s, "kubernetes.sites")));
    }
    if let Some(pg) = &t.postgres {
        refs.push((&pg.primary, "postgres.primary"));
        refs.extend(
            pg.secondaries
                .value
                .iter()
                .map(|s| (s, "postgres.secondaries")),
        );
        if let Some(s) = &pg.successor {
            refs.push((s, "postgres.successor"));
        }
        for r in &pg.logical_replicas {
            refs.push((&r.site, "postgres.logical_replicas.site"));
            if let Some(v) = &r.via {
                refs.push((v, "postgres.logical_replicas.via"));
            }
        }
    }
    if let Some(c) = &t.cassandra {
        refs.push((&c.control_plane, "cassandra.control_plane"));
        refs.extend(
            c.datacenters
                .iter()
                .map(|d| (&d.site, "cassandra.datacenters.site")),
        );
    }
    if let Some(r) = &t.redis {
        if let Some(list) = &r.sites {
            refs.extend(list.value.iter().map(|s| (s, "redis.sites")));
        }
        if let Some(p) = &r.primary {
            refs.push((p, "redis.primary"));
        }
    }
    if let Some(s) = &t.monitoring.global_site {
        refs.push((s, "monitoring.global_site"));
    }
    if let Some(d) = &t.dns
        && let Some(list) = &d.health_checks
    {
        refs.extend(list.value.iter().map(|s| (s, "dns.health_checks")));
    }
    refs
}
