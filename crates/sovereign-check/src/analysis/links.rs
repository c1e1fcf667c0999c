//! The links between sites that carry data: Aurora global replication, logical replicas,
//! Cassandra datacenter pairs, ElastiCache global datastores and the VPC peering mesh, each with
//! the catalog's round trip. `plan --format json|mermaid|dot` and `report` print these.

use serde::Serialize;
use sovereign_catalog::{Catalog, Status};
use sovereign_spec::RedisMode;

use crate::ValidatedTopology;
use crate::analysis::survivability::rtt;

/// What travels over a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// Aurora global database: storage-level replication from the primary to a secondary.
    AuroraGlobal,
    /// PostgreSQL logical replication to a replica outside AWS, through a gateway site.
    LogicalReplica,
    /// Cassandra replication between two datacenters (both ways).
    CassandraDcs,
    /// ElastiCache global datastore: the primary cluster to a secondary.
    RedisGlobal,
    /// A VPC peering connection (both ways); it carries the other links between AWS sites.
    VpcPeering,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::AuroraGlobal => "aurora global",
            LinkKind::LogicalReplica => "logical replica",
            LinkKind::CassandraDcs => "cassandra",
            LinkKind::RedisGlobal => "redis global",
            LinkKind::VpcPeering => "vpc peering",
        }
    }

    /// Data flows one way (from → to) rather than both.
    pub fn directed(self) -> bool {
        matches!(
            self,
            LinkKind::AuroraGlobal | LinkKind::LogicalReplica | LinkKind::RedisGlobal
        )
    }
}

/// One link between two sites.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Link {
    pub kind: LinkKind,
    /// The source of a directed link (the primary), else the first site in file order.
    pub from: String,
    pub to: String,
    /// How it travels when the topology says: `wireguard via ams` for a logical replica.
    pub transport: Option<String>,
    /// Round trip between the two sites from the catalog's matrix; `None` when unknown.
    pub rtt_ms: Option<f64>,
    pub rtt_status: Option<Status>,
}

/// Every link, grouped by kind in the order of [`LinkKind`], each group in file order.
pub fn links(t: &ValidatedTopology, catalog: &Catalog) -> Vec<Link> {
    let mut out = Vec::new();
    let mut push = |kind, from: &str, to: &str, transport: Option<String>| {
        let (Some(a), Some(b)) = (t.find_site(from), t.find_site(to)) else {
            return;
        };
        let r = rtt(catalog, a, b);
        out.push(Link {
            kind,
            from: from.to_string(),
            to: to.to_string(),
            transport,
            rtt_ms: r.map(|r| r.0),
            rtt_status: r.map(|r| r.1),
        });
    };
    if let Some(pg) = &t.postgres {
        for s in &pg.secondaries {
            push(LinkKind::AuroraGlobal, &pg.primary, s, None);
        }
        for r in &pg.logical_replicas {
            push(
                LinkKind::LogicalReplica,
                &r.via,
                &r.site,
                Some(format!("{} via {}", r.link, r.via)),
            );
        }
    }
    if let Some(c) = &t.cassandra {
        for (i, a) in c.datacenters.iter().enumerate() {
            for b in &c.datacenters[i + 1..] {
                push(LinkKind::CassandraDcs, &a.site, &b.site, None);
            }
        }
    }
    if let Some(r) = &t.redis
        && r.mode == RedisMode::Global
        && let Some(p) = &r.primary
    {
        for s in r.sites.iter().filter(|s| *s != p) {
            push(LinkKind::RedisGlobal, p, s, None);
        }
    }
    for ((a, _), (b, _)) in t.peering_pairs() {
        push(LinkKind::VpcPeering, &a.id, &b.id, None);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_links() -> Vec<Link> {
        let report = crate::check_text(
            sovereign_spec::Template::GlobalSovereign.text(),
            Catalog::builtin(),
            sovereign_catalog::Date::new(2026, 11, 26),
        );
        links(report.validated.as_ref().unwrap(), Catalog::builtin())
    }

    #[test]
    fn default_topology_links() {
        let l = default_links();
        let count = |k: LinkKind| l.iter().filter(|x| x.kind == k).count();
        // ams primary, four secondaries; jnb through ams; three DCs make three pairs;
        // five AWS sites in a full mesh make ten peerings.
        assert_eq!(count(LinkKind::AuroraGlobal), 4);
        assert_eq!(count(LinkKind::LogicalReplica), 1);
        assert_eq!(count(LinkKind::CassandraDcs), 3);
        assert_eq!(count(LinkKind::RedisGlobal), 0);
        assert_eq!(count(LinkKind::VpcPeering), 10);
        let jnb = l
            .iter()
            .find(|x| x.kind == LinkKind::LogicalReplica)
            .unwrap();
        assert_eq!((jnb.from.as_str(), jnb.to.as_str()), ("ams", "jnb"));
        assert_eq!(jnb.transport.as_deref(), Some("wireguard via ams"));
        let iad = l
            .iter()
            .find(|x| x.kind == LinkKind::AuroraGlobal && x.to == "iad")
            .unwrap();
        let expected = Catalog::builtin().latency.rtt_ms("eu-west-1", "us-east-1");
        assert_eq!(iad.rtt_ms, expected);
        assert!(iad.rtt_ms.is_some());
    }
}
