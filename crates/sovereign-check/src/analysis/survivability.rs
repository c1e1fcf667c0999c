//! What keeps working when a site, a zone, or two sites are lost.
//!
//! Everything here is computed from the topology and the catalog: which Aurora secondary is
//! promoted and how long that takes (promotion time from the catalog, plus detection by the
//! DNS health checks and the record's TTL), how stale it may be (the typical replication lag
//! plus the one-way latency from the old primary), where each site reads from afterwards, which
//! Cassandra consistency levels still succeed from each remaining datacenter, what happens to
//! each cache, and which sites the API name still answers from.
//!
//! Cassandra replicas are placed by NetworkTopologyStrategy over racks; Sovereign renders one
//! rack per availability zone (at most one per node), so a zone holds at most
//! ⌈RF / racks⌉ replicas of any token range.

use serde::Serialize;
use sovereign_catalog::{Catalog, Status};
use sovereign_spec::RedisMode;

use crate::validated::{AuroraRole, SiteV, ValidatedTopology};

/// Replicas a quorum of `n` needs.
pub fn quorum(n: u32) -> u32 {
    n / 2 + 1
}

/// The figures every scenario uses, with where they come from.
#[derive(Clone, Debug, Serialize)]
pub struct Assumptions {
    pub promotion_seconds: f64,
    pub promotion_source: String,
    pub typical_lag_seconds: f64,
    pub lag_source: String,
    /// Health check interval × failure threshold: how long until a failed site is noticed.
    pub detection_seconds: f64,
    pub dns_ttl_seconds: f64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Loss {
    Site { site: String },
    Zone { site: String, zone: String },
    Sites { sites: Vec<String> },
}

impl Loss {
    pub fn label(&self) -> String {
        match self {
            Loss::Site { site } => site.clone(),
            Loss::Zone { site, zone } => format!("{site}/{zone}"),
            Loss::Sites { sites } => sites.join("+"),
        }
    }

    fn lost_sites(&self) -> Vec<&str> {
        match self {
            Loss::Site { site } => vec![site.as_str()],
            Loss::Zone { .. } => Vec::new(),
            Loss::Sites { sites } => sites.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum WriteStatus {
    /// The primary is not affected.
    Unaffected,
    /// A reader in another zone of the primary's region takes over.
    InRegionFailover,
    /// A secondary region is promoted.
    Failover,
    /// No Aurora member survives that could take writes.
    Lost,
    /// The primary's only instance may have been in the lost zone.
    AtRisk,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Writes {
    pub status: WriteStatus,
    pub primary: Option<String>,
    pub rto_seconds: Option<f64>,
    pub rpo_seconds: Option<f64>,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Reads {
    pub site: String,
    /// Site whose copy serves this site's reads; `None` when no copy is left.
    pub served_by: Option<String>,
    pub local: bool,
    pub rtt_ms: Option<f64>,
    pub at_risk: bool,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Level {
    pub ok: bool,
    pub why: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CassandraDc {
    /// The datacenter acting as coordinator.
    pub dc: String,
    pub local_quorum: Level,
    pub quorum: Level,
    pub each_quorum: Level,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Cache {
    pub site: String,
    pub available: bool,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Dns {
    pub api_answers: bool,
    pub answering_sites: Vec<String>,
    pub lost_site_names: Vec<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Scenario {
    pub loss: Loss,
    pub postgres: Option<Writes>,
    pub reads: Vec<Reads>,
    pub cassandra: Vec<CassandraDc>,
    /// The datacenters lost with the scenario.
    pub cassandra_lost: Vec<String>,
    pub redis: Vec<Cache>,
    pub dns: Option<Dns>,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Survivability {
    pub assumptions: Assumptions,
    pub sites: Vec<Scenario>,
    pub zones: Vec<Scenario>,
    pub pairs: Vec<Scenario>,
}

/// Round trip between two sites, from the catalog's matrix. Within one AWS site it is the
/// matrix's in-region figure; within one Fly.io site the catalog has none.
pub fn rtt(catalog: &Catalog, a: &SiteV, b: &SiteV) -> Option<(f64, Status)> {
    if a.id == b.id && a.aws.is_none() {
        return None;
    }
    catalog.rtt(&a.location, &b.location)
}

pub fn assumptions(t: &ValidatedTopology, catalog: &Catalog) -> Assumptions {
    let g = &catalog.limits.aurora_global;
    let (detection, ttl) = match &t.dns {
        Some(d) => (
            f64::from(d.health_check_interval_seconds)
                * f64::from(d.health_check_failure_threshold),
            f64::from(d.ttl_seconds),
        ),
        None => (90.0, 60.0),
    };
    Assumptions {
        promotion_seconds: g.promotion_seconds.value,
        promotion_source: g.promotion_seconds.provenance.source.clone(),
        typical_lag_seconds: g.typical_lag_seconds.value,
        lag_source: g.typical_lag_seconds.provenance.source.clone(),
        detection_seconds: detection,
        dns_ttl_seconds: ttl,
    }
}

/// Every single-site loss, every single-zone loss, every pair of sites.
pub fn analyse(t: &ValidatedTopology, catalog: &Catalog) -> Survivability {
    let a = assumptions(t, catalog);
    let sites = t
        .sites
        .iter()
        .map(|s| {
            scenario(
                t,
                catalog,
                &a,
                Loss::Site {
                    site: s.id.to_string(),
                },
            )
        })
        .collect();
    let zones = t
        .aws_sites()
        .flat_map(|(s, aws)| aws.azs.iter().map(move |z| (s.id.to_string(), z.clone())))
        .map(|(site, zone)| scenario(t, catalog, &a, Loss::Zone { site, zone }))
        .collect();
    let mut pairs = Vec::new();
    for (i, x) in t.sites.iter().enumerate() {
        for y in &t.sites[i + 1..] {
            pairs.push(scenario(
                t,
                catalog,
                &a,
                Loss::Sites {
                    sites: vec![x.id.to_string(), y.id.to_string()],
                },
            ));
        }
    }
    Survivability {
        assumptions: a,
        sites,
        zones,
        pairs,
    }
}

/// One scenario in detail.
pub fn scenario(t: &ValidatedTopology, catalog: &Catalog, a: &Assumptions, loss: Loss) -> Scenario {
    let lost = loss.lost_sites();
    let zone = match &loss {
        Loss::Zone { site, zone } => Some((site.as_str(), zone.as_str())),
        _ => None,
    };
    let alive = |id: &str| !lost.contains(&id);
    let mut notes = Vec::new();

    // PostgreSQL.
    let mut reads = Vec::new();
    let postgres = t.postgres.as_ref().map(|pg| {
        let instances = |id: &str| pg.instances.get(id).copied().unwrap_or(0);
        let primary = t.find_site(&pg.primary);
        let writes = if !alive(&pg.primary) {
            // Promote the designated successor, else the surviving secondary with the lowest
            // mean round trip to the other surviving sites.
            let candidates: Vec<&SiteV> = pg.secondaries.iter().filter(|s| alive(s)).filter_map(|s| t.find_site(s)).collect();
            let chosen = pg
                .successor
                .as_ref()
                .filter(|s| alive(s))
                .and_then(|s| t.find_site(s))
                .or_else(|| {
                    candidates
                        .iter()
                        .min_by(|x, y| mean_rtt(t, catalog, x, &lost).total_cmp(&mean_rtt(t, catalog, y, &lost)))
                        .copied()
                });
            match chosen {
                Some(new) => {
                    let one_way = primary.and_then(|p| rtt(catalog, p, new)).map(|(ms, _)| ms / 2000.0);
                    let rto = a.detection_seconds + a.promotion_seconds + a.dns_ttl_seconds;
                    let rpo = one_way.map(|ow| a.typical_lag_seconds + ow);
                    Writes {
                        status: WriteStatus::Failover,
                        primary: Some(new.id.to_string()),
                        rto_seconds: Some(rto),
                        rpo_seconds: rpo,
                        detail: format!(
                            "promote {}: detection {:.0} s + promotion {:.0} s + DNS TTL {:.0} s; RPO ≈ typical lag {:.0} s{}",
                            new.id,
                            a.detection_seconds,
                            a.promotion_seconds,
                            a.dns_ttl_seconds,
                            a.typical_lag_seconds,
                            one_way.map(|o| format!(" + one-way {:.0} ms", o * 1000.0)).unwrap_or_else(|| " (+ one-way latency, unknown)".into())
                        ),
                    }
                }
                None => Writes {
                    status: WriteStatus::Lost,
                    primary: None,
                    rto_seconds: None,
                    rpo_seconds: None,
                    detail: if pg.logical_replicas.iter().any(|r| alive(&r.site)) {
                        "no Aurora member survives; a logical replica holds the data but is not a failover target (promote it by hand)".into()
                    } else {
                        "no copy of the database survives".into()
                    },
                },
            }
        } else if let Some((site, _)) = zone.filter(|(s, _)| *s == pg.primary) {
            if instances(site) >= 2 {
                Writes {
                    status: WriteStatus::InRegionFailover,
                    primary: Some(pg.primary.to_string()),
                    rto_seconds: None,
                    rpo_seconds: Some(0.0),
                    detail: format!("a reader in another zone of {} becomes the writer (shared storage: no data lost; the in-region failover time is not in the catalog)", pg.primary),
                }
            } else {
                Writes {
                    status: WriteStatus::AtRisk,
                    primary: Some(pg.primary.to_string()),
                    rto_seconds: None,
                    rpo_seconds: Some(0.0),
                    detail: "the primary has one instance: if it was in this zone, writes stop until Aurora creates a new one".into(),
                }
            }
        } else {
            Writes {
                status: WriteStatus::Unaffected,
                primary: Some(pg.primary.to_string()),
                rto_seconds: Some(0.0),
                rpo_seconds: Some(0.0),
                detail: "the primary is not affected".into(),
            }
        };
        // Reads: every surviving site that runs the application or holds a copy.
        let copies: Vec<&SiteV> = t
            .sites
            .iter()
            .filter(|s| alive(&s.id) && (s.aurora().is_some() || s.has_logical_replica()))
            .collect();
        for s in t.sites.iter().filter(|s| alive(&s.id) && (s.serves() || s.aurora().is_some() || s.has_logical_replica())) {
            let own_copy = s.aurora().is_some() || s.has_logical_replica();
            let zone_hit = zone.is_some_and(|(zs, _)| zs == s.id);
            let at_risk = own_copy && zone_hit && s.aurora().is_some() && instances(&s.id) < 2;
            if own_copy {
                reads.push(Reads {
                    site: s.id.to_string(),
                    served_by: Some(s.id.to_string()),
                    local: true,
                    rtt_ms: rtt(catalog, s, s).map(|(ms, _)| ms),
                    at_risk,
                });
                continue;
            }
            let nearest = copies
                .iter()
                .filter_map(|c| rtt(catalog, s, c).map(|(ms, _)| (ms, *c)))
                .min_by(|x, y| x.0.total_cmp(&y.0));
            reads.push(match nearest {
                Some((ms, c)) => Reads { site: s.id.to_string(), served_by: Some(c.id.to_string()), local: false, rtt_ms: Some(ms), at_risk: false },
                None => Reads {
                    site: s.id.to_string(),
                    served_by: copies.first().map(|c| c.id.to_string()),
                    local: false,
                    rtt_ms: None,
                    at_risk: copies.is_empty(),
                },
            });
        }
        writes
    });

    // Cassandra.
    let mut cassandra = Vec::new();
    let mut cassandra_lost = Vec::new();
    if let Some(c) = &t.cassandra {
        let total_rf: u32 = c.datacenters.iter().map(|d| d.replication_factor).sum();
        // Replicas of a token range each datacenter still holds, worst case.
        let alive_rf: Vec<(String, u32, u32)> = c
            .datacenters
            .iter()
            .map(|d| {
                let rf = d.replication_factor;
                if !alive(&d.site) {
                    return (d.site.to_string(), rf, 0);
                }
                let lost_here = match zone {
                    Some((zs, z)) if zs == d.site => {
                        let racks = t
                            .site(&d.site)
                            .aws
                            .as_ref()
                            .map(|a| {
                                a.azs
                                    .iter()
                                    .take(d.nodes as usize)
                                    .cloned()
                                    .collect::<Vec<_>>()
                            })
                            .unwrap_or_default();
                        if racks.iter().any(|r| r == z) {
                            rf.div_ceil(racks.len().max(1) as u32).min(rf)
                        } else {
                            0
                        }
                    }
                    _ => 0,
                };
                (d.site.to_string(), rf, rf - lost_here)
            })
            .collect();
        for (dc, _, live) in &alive_rf {
            if *live == 0 {
                cassandra_lost.push(dc.clone());
            }
        }
        let alive_total: u32 = alive_rf.iter().map(|(_, _, a)| a).sum();
        let q_total = quorum(total_rf);
        let each_ok = alive_rf.iter().all(|(_, rf, live)| *live >= quorum(*rf));
        let failing_each: Vec<String> = alive_rf
            .iter()
            .filter(|(_, rf, live)| *live < quorum(*rf))
            .map(|(dc, rf, live)| format!("{dc} has {live} of {rf}"))
            .collect();
        for (dc, rf, live) in alive_rf.iter().filter(|(dc, _, _)| alive(dc)) {
            let q = quorum(*rf);
            cassandra.push(CassandraDc {
                dc: dc.clone(),
                local_quorum: Level {
                    ok: *live >= q,
                    why: format!("{live} of {rf} local replicas left, {q} needed"),
                },
                quorum: Level {
                    ok: alive_total >= q_total,
                    why: format!("{alive_total} of {total_rf} replicas in all datacenters left, {q_total} needed"),
                },
                each_quorum: Level {
                    ok: each_ok,
                    why: if each_ok {
                        "every datacenter keeps a local quorum".into()
                    } else {
                        format!("needs a quorum in every datacenter: {}", failing_each.join(", "))
                    },
                },
            });
        }
        if !alive(&c.control_plane) {
            notes.push(format!(
                "the k8ssandra control plane ({}) is lost: the datacenters keep serving, but nothing reconciles them until it returns",
                c.control_plane
            ));
        }
    }

    // Caches.
    let mut redis = Vec::new();
    if let Some(r) = &t.redis {
        let primary_lost = r.primary.as_deref().is_some_and(|p| !alive(p));
        for site in &r.sites {
            if !alive(site) {
                redis.push(Cache {
                    site: site.to_string(),
                    available: false,
                    detail: "lost with the site".into(),
                });
                continue;
            }
            let zone_hit = zone.is_some_and(|(zs, _)| zs == site);
            let detail = match (r.mode, zone_hit, primary_lost) {
                (_, true, _) => format!("Multi-AZ failover within the site ({} replica{} in other zones)", r.replicas_per_site, if r.replicas_per_site == 1 { "" } else { "s" }),
                (RedisMode::Global, _, true) => "global datastore primary lost: reads continue, writes stop until a secondary is promoted by hand (no automatic cross-region failover)".into(),
                _ => "unaffected".into(),
            };
            redis.push(Cache {
                site: site.to_string(),
                available: true,
                detail,
            });
        }
    }

    // DNS.
    let dns = t.dns.as_ref().map(|_| {
        let serving: Vec<&SiteV> = t
            .sites
            .iter()
            .filter(|s| s.serves() && (s.has_eks() || s.fly_region().is_some()))
            .collect();
        let answering: Vec<String> = serving
            .iter()
            .filter(|s| alive(&s.id))
            .map(|s| s.id.to_string())
            .collect();
        Dns {
            api_answers: !answering.is_empty(),
            answering_sites: answering,
            lost_site_names: serving
                .iter()
                .filter(|s| !alive(&s.id))
                .map(|s| s.id.to_string())
                .collect(),
        }
    });

    Scenario {
        loss,
        postgres,
        reads,
        cassandra,
        cassandra_lost,
        redis,
        dns,
        notes,
    }
}

fn mean_rtt(t: &ValidatedTopology, catalog: &Catalog, from: &SiteV, lost: &[&str]) -> f64 {
    let others: Vec<f64> = t
        .sites
        .iter()
        .filter(|s| s.id != from.id && !lost.contains(&s.id.as_str()) && s.serves())
        .filter_map(|s| rtt(catalog, from, s).map(|(ms, _)| ms))
        .collect();
    if others.is_empty() {
        f64::MAX
    } else {
        others.iter().sum::<f64>() / others.len() as f64
    }
}

/// Per site: where reads come from and how far writes travel, before anything fails.
#[derive(Clone, Debug, Serialize)]
pub struct SiteLatency {
    pub site: String,
    pub read_from: Option<String>,
    pub read_rtt_ms: Option<f64>,
    pub read_local: bool,
    pub write_to: Option<String>,
    pub write_rtt_ms: Option<f64>,
    /// The weakest status of the latency facts used.
    pub status: Option<Status>,
}

pub fn latency(t: &ValidatedTopology, catalog: &Catalog) -> Vec<SiteLatency> {
    let Some(pg) = &t.postgres else {
        return Vec::new();
    };
    let primary = t.find_site(&pg.primary);
    let copies: Vec<&SiteV> = t
        .sites
        .iter()
        .filter(|s| s.aurora().is_some() || s.has_logical_replica())
        .collect();
    t.sites
        .iter()
        .filter(|s| s.serves() || s.aurora().is_some() || s.has_logical_replica())
        .map(|s| {
            let local = s.aurora().is_some() || s.has_logical_replica();
            let (read_from, read) = if local {
                (Some(s), rtt(catalog, s, s))
            } else {
                copies
                    .iter()
                    .filter_map(|c| rtt(catalog, s, c).map(|r| (*c, r)))
                    .min_by(|x, y| x.1.0.total_cmp(&y.1.0))
                    .map(|(c, r)| (Some(c), Some(r)))
                    .unwrap_or((None, None))
            };
            let write = primary.and_then(|p| rtt(catalog, s, p));
            let status = match (read, write) {
                (Some((_, a)), Some((_, b))) => Some(a.weakest(b)),
                (Some((_, a)), None) | (None, Some((_, a))) => Some(a),
                _ => None,
            };
            SiteLatency {
                site: s.id.to_string(),
                read_from: read_from.map(|c| c.id.to_string()),
                read_rtt_ms: read.map(|r| r.0),
                read_local: local,
                write_to: primary.map(|p| p.id.to_string()),
                write_rtt_ms: write.map(|w| w.0),
                status,
            }
        })
        .collect()
}

/// Convenience for the primary's role of a site.
pub fn is_primary(s: &SiteV) -> bool {
    s.aurora() == Some(AuroraRole::Primary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sovereign_catalog::Date;

    fn topology(text: &str) -> ValidatedTopology {
        let r = crate::check_text(text, Catalog::builtin(), Date::new(2026, 11, 26));
        r.validated.unwrap_or_else(|| panic!("{:?}", r.diagnostics))
    }

    fn default() -> ValidatedTopology {
        topology(sovereign_spec::Template::GlobalSovereign.text())
    }

    fn find<'a>(s: &'a Survivability, label: &str) -> &'a Scenario {
        s.sites
            .iter()
            .chain(&s.zones)
            .chain(&s.pairs)
            .find(|x| x.loss.label() == label)
            .unwrap_or_else(|| panic!("no scenario {label}"))
    }

    #[test]
    fn quorum_sizes() {
        assert_eq!(
            (quorum(1), quorum(2), quorum(3), quorum(5), quorum(9)),
            (1, 2, 2, 3, 5)
        );
    }

    /// Losing the primary (ams) promotes the designated successor iad. With the default DNS
    /// settings (10 s × 3 checks, TTL 60 s) and a 60 s promotion, RTO is 150 s. RPO is the
    /// typical lag (1 s) plus one-way ams→iad: (69 + 70) / 2 / 2 = 34.75 ms.
    #[test]
    fn primary_loss_promotes_successor() {
        let t = default();
        let s = analyse(&t, Catalog::builtin());
        let w = find(&s, "ams").postgres.clone().unwrap();
        assert_eq!(w.status, WriteStatus::Failover);
        assert_eq!(w.primary.as_deref(), Some("iad"));
        assert_eq!(w.rto_seconds, Some(150.0));
        let rpo = w.rpo_seconds.unwrap();
        assert!((rpo - 1.03475).abs() < 1e-9, "{rpo}");
    }

    /// RF 3 in every DC of the default: losing one site leaves the others their local quorum;
    /// QUORUM needs 5 of 9 and 6 are left; EACH_QUORUM fails because one DC is gone.
    #[test]
    fn site_loss_with_rf3() {
        let t = default();
        let s = analyse(&t, Catalog::builtin());
        let sc = find(&s, "iad");
        assert_eq!(sc.cassandra_lost, vec!["iad".to_string()]);
        for dc in &sc.cassandra {
            assert!(dc.local_quorum.ok, "{dc:?}");
            assert!(dc.quorum.ok);
            assert_eq!(
                dc.quorum.why,
                "6 of 9 replicas in all datacenters left, 5 needed"
            );
            assert!(!dc.each_quorum.ok);
        }
        // A zone loss in a DC with 3 racks: 2 of 3 replicas remain, everything holds.
        let z = find(&s, "iad/use1-az1");
        assert!(
            z.cassandra
                .iter()
                .all(|d| d.local_quorum.ok && d.quorum.ok && d.each_quorum.ok)
        );
    }

    /// RF 2 in a DC: a zone loss there can take one of its two replicas (2 racks), so its
    /// LOCAL_QUORUM (2 of 2) fails, and with it EACH_QUORUM everywhere; QUORUM (4 of 7 with
    /// 6 left) holds.
    #[test]
    fn zone_loss_with_rf2() {
        let text = sovereign_spec::Template::GlobalSovereign.text().replacen(
            "site = \"iad\"\nnodes = 3\nreplication_factor = 3",
            "site = \"iad\"\nnodes = 3\nreplication_factor = 2",
            1,
        );
        let t = topology(&text);
        let s = analyse(&t, Catalog::builtin());
        let z = find(&s, "iad/use1-az1");
        let iad = z.cassandra.iter().find(|d| d.dc == "iad").unwrap();
        assert!(!iad.local_quorum.ok);
        assert_eq!(iad.local_quorum.why, "1 of 2 local replicas left, 2 needed");
        assert!(iad.quorum.ok);
        assert_eq!(
            iad.quorum.why,
            "7 of 8 replicas in all datacenters left, 5 needed"
        );
        let ams = z.cassandra.iter().find(|d| d.dc == "ams").unwrap();
        assert!(ams.local_quorum.ok);
        assert!(!ams.each_quorum.ok);
    }

    /// Losing ams and iad together takes the primary, the successor and two of three DCs:
    /// the lowest-latency surviving secondary is promoted; only syd's DC is left, which keeps
    /// LOCAL_QUORUM but not QUORUM (3 of 9, 5 needed).
    #[test]
    fn two_site_loss_takes_primary_and_a_dc() {
        let t = default();
        let s = analyse(&t, Catalog::builtin());
        let sc = find(&s, "ams+iad");
        let w = sc.postgres.clone().unwrap();
        assert_eq!(w.status, WriteStatus::Failover);
        // Survivors: syd, sin, sfo. Mean RTT to the other serving survivors (syd, sin, sfo,
        // jnb): sfo is lowest.
        let p = w.primary.unwrap();
        assert!(["syd", "sin", "sfo"].contains(&p.as_str()));
        assert_eq!(sc.cassandra.len(), 1);
        let syd = &sc.cassandra[0];
        assert!(syd.local_quorum.ok);
        assert!(!syd.quorum.ok);
        assert_eq!(
            syd.quorum.why,
            "3 of 9 replicas in all datacenters left, 5 needed"
        );
        let dns = sc.dns.clone().unwrap();
        assert!(dns.api_answers);
        assert_eq!(
            dns.lost_site_names,
            vec!["ams".to_string(), "iad".to_string()]
        );
    }

    #[test]
    fn reads_move_to_the_nearest_copy() {
        let t = default();
        let s = analyse(&t, Catalog::builtin());
        // Every site keeps its own copy when another site is lost.
        let sc = find(&s, "syd");
        let sin = sc.reads.iter().find(|r| r.site == "sin").unwrap();
        assert!(sin.local);
        let lat = latency(&t, Catalog::builtin());
        let jnb = lat.iter().find(|l| l.site == "jnb").unwrap();
        assert!(jnb.read_local);
        assert_eq!(jnb.write_to.as_deref(), Some("ams"));
        // jnb → ams: af-south-1 ↔ eu-west-1 (158, 158) + 20 ms Fly.io leg.
        assert_eq!(jnb.write_rtt_ms, Some(178.0));
    }
}
