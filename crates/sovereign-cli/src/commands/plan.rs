use std::path::PathBuf;

use serde::Serialize;
use sovereign_check::ValidatedTopology;
use sovereign_check::analysis::inventory::{DatabaseRole, Inventory, inventory};
use sovereign_check::analysis::survivability::{
    self, Loss, Scenario, SiteLatency, Survivability, WriteStatus,
};
use sovereign_check::analysis::types::{UsedType, used_types};
use sovereign_cost::CostReport;
use sovereign_render::deploy::Step;

use sovereign_check::analysis::links::{Link, links};

use crate::diagnostics::{JsonDiagnostic, json_report, render_human, summary};
use crate::exit::{CliError, Exit};
use crate::output::Output;
use crate::table::table;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Topology file; `-` reads standard input; without it, the embedded default.
    pub file: Option<PathBuf>,
    /// Output format: tables, JSON, or a diagram of sites and links (Mermaid, Graphviz DOT).
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// Show the loss of these sites (comma-separated) in detail.
    #[arg(long, value_name = "SITE[,SITE]", value_delimiter = ',')]
    pub lose: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Human,
    Json,
    Mermaid,
    Dot,
}

/// Everything `plan` computes about a topology, once: `plan`'s formats and `report` print it.
pub struct Planned {
    pub inventory: Inventory,
    pub types: Vec<UsedType>,
    pub cost: CostReport,
    pub latency: Vec<SiteLatency>,
    pub survivability: Survivability,
    pub deploy: Vec<Step>,
    pub links: Vec<Link>,
}

/// Runs every analysis `plan` shows.
pub fn analyse(
    topology: &ValidatedTopology,
    catalog: &sovereign_catalog::Catalog,
) -> Result<Planned, sovereign_cost::CostError> {
    Ok(Planned {
        inventory: inventory(topology),
        types: used_types(topology, catalog),
        cost: sovereign_cost::estimate(topology, catalog)?,
        latency: survivability::latency(topology, catalog),
        survivability: survivability::analyse(topology, catalog),
        deploy: sovereign_render::deploy::steps(topology, "terraform"),
        links: links(topology, catalog),
    })
}

/// The JSON document `sovereign plan --format json` prints (documented in docs/commands.md).
#[derive(Serialize)]
pub struct PlanJson<'a> {
    pub file: String,
    pub project: &'a sovereign_check::ProjectV,
    pub warnings: Vec<JsonDiagnostic>,
    pub inventory: Inventory,
    /// The instance types, Aurora classes and cache node types in use, with shape and prices.
    pub types: Vec<UsedType>,
    pub cost: CostReport,
    pub latency: Vec<SiteLatency>,
    pub survivability: Survivability,
    /// The `--lose` scenario, when asked for.
    pub scenario: Option<Scenario>,
    pub deploy: Vec<Step>,
    /// Replication links and peering between sites, with round trips.
    pub links: Vec<Link>,
}

pub fn run(args: Args, out: &Output) -> Result<Exit, CliError> {
    let loaded = crate::input::load(args.file.as_deref())?;
    let diags = &loaded.report.diagnostics;
    let Some(topology) = &loaded.report.validated else {
        out.eprint(&render_human(&loaded.source, diags, out.color_stderr));
        out.error(&format!("cannot plan: {}", summary(&loaded.source, diags)));
        return Ok(Exit::Findings);
    };
    let catalog = sovereign_catalog::Catalog::builtin();
    let scenario = if args.lose.is_empty() {
        None
    } else {
        for s in &args.lose {
            if topology.find_site(s).is_none() {
                let ids: Vec<&str> = topology.sites.iter().map(|s| s.id.as_str()).collect();
                return Err(CliError::usage(format!(
                    "--lose: no site `{s}`; sites: {}",
                    ids.join(", ")
                )));
            }
        }
        let a = survivability::assumptions(topology, catalog);
        let loss = if args.lose.len() == 1 {
            Loss::Site {
                site: args.lose[0].clone(),
            }
        } else {
            Loss::Sites {
                sites: args.lose.clone(),
            }
        };
        Some(survivability::scenario(topology, catalog, &a, loss))
    };
    let planned = match analyse(topology, catalog) {
        Ok(p) => p,
        Err(e) => {
            out.error(&format!("cannot plan: {e}"));
            return Ok(Exit::Findings);
        }
    };
    let Planned {
        inventory: inv,
        types,
        cost,
        latency,
        survivability: surv,
        deploy,
        links,
    } = planned;
    match args.format {
        PlanFormat::Mermaid | PlanFormat::Dot => {
            if !diags.is_empty() && !out.quiet {
                out.eprint(&render_human(&loaded.source, diags, out.color_stderr));
            }
            out.print(&if args.format == PlanFormat::Mermaid {
                crate::diagram::mermaid(topology, &links)
            } else {
                crate::diagram::dot(topology, &links)
            });
        }
        PlanFormat::Json => {
            let doc = PlanJson {
                file: loaded.source.name.clone(),
                project: &topology.project,
                warnings: json_report(&loaded.source, diags).diagnostics,
                inventory: inv,
                types,
                cost,
                latency,
                survivability: surv,
                scenario,
                deploy,
                links,
            };
            out.print(&format!("{}\n", crate::commands::to_json(&doc)?));
        }
        PlanFormat::Human => {
            if !diags.is_empty() && !out.quiet {
                out.eprint(&render_human(&loaded.source, diags, out.color_stderr));
            }
            if let Some(sc) = &scenario {
                out.print(&scenario_detail(sc, &surv));
            } else {
                let mut text = human(topology, &inv);
                text.push_str("\nInstance types (`sovereign explain TYPE` for one)\n");
                text.push_str(&crate::commands::explain::types_table(&types));
                text.push_str(&cost_summary(topology, &cost));
                text.push_str(&latency_table(&latency));
                text.push_str(&survivability_tables(&surv));
                text.push_str(&deploy_order(&deploy));
                out.print(&text);
            }
        }
    }
    Ok(Exit::Ok)
}

fn cost_summary(t: &ValidatedTopology, cost: &CostReport) -> String {
    let mut s = String::from("\nCost\n");
    let full = crate::commands::cost::human(&t.project.name, cost, false);
    // Drop the title line: the plan has its own.
    s.push_str(
        full.split_once("\n\n")
            .map(|(_, rest)| rest)
            .unwrap_or(&full),
    );
    s.push_str("`sovereign cost` lists every line with its price source.\n");
    s
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}"))
        .unwrap_or_else(|| "unknown".into())
}

fn latency_table(lat: &[SiteLatency]) -> String {
    if lat.is_empty() {
        return String::new();
    }
    let mut s =
        String::from("\nLatency (round trip in ms, from the catalog's inter-region matrix)\n");
    s.push_str(&table(
        [
            "site",
            "reads from",
            "read RTT",
            "writes to",
            "write RTT",
            "facts",
        ],
        lat.iter().map(|l| {
            vec![
                l.site.clone(),
                match (&l.read_from, l.read_local) {
                    (Some(r), true) => format!("{r} (local)"),
                    (Some(r), false) => r.clone(),
                    (None, _) => "none".into(),
                },
                ms(l.read_rtt_ms),
                l.write_to.clone().unwrap_or_else(|| "-".into()),
                ms(l.write_rtt_ms),
                l.status
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "unknown".into()),
            ]
        }),
    ));
    s
}

pub(crate) fn writes_cell(sc: &Scenario) -> String {
    let Some(w) = &sc.postgres else {
        return "-".into();
    };
    match w.status {
        WriteStatus::Unaffected => "unaffected".into(),
        WriteStatus::InRegionFailover => "in-region failover".into(),
        WriteStatus::AtRisk => "at risk (1 instance)".into(),
        WriteStatus::Lost => "LOST".into(),
        WriteStatus::Failover => format!(
            "→ {}, RTO {} s, RPO ≈{} s",
            w.primary.clone().unwrap_or_default(),
            w.rto_seconds
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "?".into()),
            w.rpo_seconds
                .map(|v| format!("{v:.1}"))
                .unwrap_or_else(|| "?".into())
        ),
    }
}

pub(crate) fn reads_cell(sc: &Scenario) -> String {
    let moved: Vec<String> = sc
        .reads
        .iter()
        .filter(|r| !r.local || r.at_risk)
        .map(|r| match (&r.served_by, r.at_risk) {
            (_, true) if r.local => format!("{} at risk", r.site),
            (Some(b), _) => format!(
                "{}→{} {}",
                r.site,
                b,
                r.rtt_ms.map(|v| format!("{v:.0}ms")).unwrap_or_default()
            ),
            (None, _) => format!("{} none", r.site),
        })
        .collect();
    if moved.is_empty() {
        "all local".into()
    } else {
        moved.join(", ")
    }
}

pub(crate) fn cassandra_cell(sc: &Scenario) -> String {
    if sc.cassandra.is_empty() && sc.cassandra_lost.is_empty() {
        return "-".into();
    }
    let yn = |b: bool| if b { "ok" } else { "no" };
    let mut parts: Vec<String> = sc
        .cassandra
        .iter()
        .map(|d| {
            format!(
                "{} {}/{}/{}",
                d.dc,
                yn(d.local_quorum.ok),
                yn(d.quorum.ok),
                yn(d.each_quorum.ok)
            )
        })
        .collect();
    for l in &sc.cassandra_lost {
        parts.push(format!("{l} lost"));
    }
    parts.join(", ")
}

pub(crate) fn redis_cell(sc: &Scenario) -> String {
    if sc.redis.is_empty() {
        return "-".into();
    }
    let up = sc.redis.iter().filter(|c| c.available).count();
    let special: Vec<&str> = sc
        .redis
        .iter()
        .filter(|c| c.available && c.detail != "unaffected")
        .map(|c| c.site.as_str())
        .collect();
    let mut s = format!("{up}/{} up", sc.redis.len());
    if !special.is_empty() {
        s.push_str(&format!(" (failover: {})", special.join(", ")));
    }
    s
}

pub(crate) fn dns_cell(sc: &Scenario) -> String {
    match &sc.dns {
        Some(d) if d.api_answers => d.answering_sites.join(", "),
        Some(_) => "NOTHING".into(),
        None => "-".into(),
    }
}

fn survivability_tables(s: &Survivability) -> String {
    let a = &s.assumptions;
    let mut out = format!(
        "\nSurvivability (RTO = detection {:.0} s + Aurora promotion {:.0} s + DNS TTL {:.0} s; RPO ≈ lag {:.0} s + one-way latency;\nCassandra per datacenter: LOCAL_QUORUM/QUORUM/EACH_QUORUM)\n\nOne site lost\n",
        a.detection_seconds, a.promotion_seconds, a.dns_ttl_seconds, a.typical_lag_seconds
    );
    let rows = |list: &[Scenario]| -> Vec<Vec<String>> {
        list.iter()
            .map(|sc| {
                vec![
                    sc.loss.label(),
                    writes_cell(sc),
                    reads_cell(sc),
                    cassandra_cell(sc),
                    redis_cell(sc),
                    dns_cell(sc),
                ]
            })
            .collect()
    };
    let headers = [
        "lost",
        "postgres writes",
        "reads moved",
        "cassandra",
        "redis",
        "api answers from",
    ];
    out.push_str(&table(headers, rows(&s.sites)));
    out.push_str("\nOne zone lost\n");
    out.push_str(&table(headers, rows(&s.zones)));
    out.push_str("\nTwo sites lost\n");
    out.push_str(&table(headers, rows(&s.pairs)));
    out
}

fn scenario_detail(sc: &Scenario, s: &Survivability) -> String {
    let a = &s.assumptions;
    let mut out = format!("Losing {}\n\n", sc.loss.label());
    if let Some(w) = &sc.postgres {
        out.push_str(&format!(
            "PostgreSQL writes: {}\n  {}\n",
            writes_cell(sc),
            w.detail
        ));
    }
    if !sc.reads.is_empty() {
        out.push_str("PostgreSQL reads:\n");
        for r in &sc.reads {
            let from = match (&r.served_by, r.local) {
                (Some(b), true) => format!("local ({b})"),
                (Some(b), false) => format!("from {b}, {} ms", ms(r.rtt_ms)),
                (None, _) => "no copy left".into(),
            };
            out.push_str(&format!(
                "  {:<6} {from}{}\n",
                r.site,
                if r.at_risk { " (at risk)" } else { "" }
            ));
        }
    }
    if !sc.cassandra.is_empty() || !sc.cassandra_lost.is_empty() {
        out.push_str("Cassandra (coordinator datacenter: level, why):\n");
        for l in &sc.cassandra_lost {
            out.push_str(&format!("  {l}: lost\n"));
        }
        for d in &sc.cassandra {
            let yn = |b: bool| if b { "succeeds" } else { "fails" };
            out.push_str(&format!(
                "  {}: LOCAL_QUORUM {} ({})\n",
                d.dc,
                yn(d.local_quorum.ok),
                d.local_quorum.why
            ));
            out.push_str(&format!(
                "  {}: QUORUM {} ({})\n",
                d.dc,
                yn(d.quorum.ok),
                d.quorum.why
            ));
            out.push_str(&format!(
                "  {}: EACH_QUORUM {} ({})\n",
                d.dc,
                yn(d.each_quorum.ok),
                d.each_quorum.why
            ));
        }
    }
    if !sc.redis.is_empty() {
        out.push_str("Redis:\n");
        for c in &sc.redis {
            out.push_str(&format!("  {:<6} {}\n", c.site, c.detail));
        }
    }
    if let Some(d) = &sc.dns {
        out.push_str(&format!(
            "DNS: the API name {} from {}; site names that stop answering: {}\n",
            if d.api_answers {
                "answers"
            } else {
                "does NOT answer"
            },
            if d.answering_sites.is_empty() {
                "nowhere".into()
            } else {
                d.answering_sites.join(", ")
            },
            if d.lost_site_names.is_empty() {
                "none".into()
            } else {
                d.lost_site_names.join(", ")
            }
        ));
    }
    for n in &sc.notes {
        out.push_str(&format!("Note: {n}\n"));
    }
    out.push_str(&format!(
        "\nAssumptions: detection {:.0} s (health checks), Aurora promotion {:.0} s ({}), DNS TTL {:.0} s, typical replication lag {:.0} s ({})\n",
        a.detection_seconds, a.promotion_seconds, a.promotion_source, a.dns_ttl_seconds, a.typical_lag_seconds, a.lag_source
    ));
    out
}

fn deploy_order(steps: &[Step]) -> String {
    let mut s = String::from("\nDeployment order\n");
    for (i, st) in steps.iter().enumerate() {
        s.push_str(&format!("{:>2}. {}: {}\n", i + 1, st.name, st.why));
        for c in &st.commands {
            s.push_str(&format!("      {c}\n"));
        }
    }
    s
}

fn human(t: &ValidatedTopology, inv: &Inventory) -> String {
    let tot = &inv.totals;
    let mut s = format!(
        "{} ({}): {} sites in {} AWS region{} and {} Fly.io region{}\n\n",
        t.project.name,
        t.project.environment,
        tot.sites,
        tot.aws_regions,
        if tot.aws_regions == 1 { "" } else { "s" },
        tot.fly_regions,
        if tot.fly_regions == 1 { "" } else { "s" },
    );
    s.push_str("Sites\n");
    s.push_str(&table(
        [
            "site",
            "where",
            "network",
            "kubernetes",
            "postgresql",
            "cassandra",
            "redis",
            "serves",
        ],
        inv.sites.iter().map(|si| {
            let place = match (&si.aws_region, &si.fly_region) {
                (Some(a), Some(f)) => format!("{a} + fly {f}"),
                (Some(a), None) => a.clone(),
                (None, Some(f)) => format!("fly {f}"),
                (None, None) => "-".into(),
            };
            let network = match &si.vpc_cidr {
                Some(v) => format!("{v}, {} AZ, {} NAT", si.subnets.len(), si.nat_gateways),
                None => "Fly.io private network".into(),
            };
            let k8s = match &si.eks_version {
                Some(v) => {
                    let groups: Vec<String> = si
                        .node_groups
                        .iter()
                        .map(|g| {
                            format!(
                                "{} {}",
                                g.desired,
                                g.capacity_type.to_lowercase().replace('_', "-")
                            )
                        })
                        .collect();
                    let cp = if si.cassandra_control_plane {
                        " +k8ssandra cp"
                    } else {
                        ""
                    };
                    format!("EKS {v}: {}{cp}", groups.join(", "))
                }
                None => "-".into(),
            };
            let pg = match &si.database {
                Some(DatabaseRole::Primary {
                    instance_class,
                    instances,
                }) => {
                    format!("primary {instances}× {instance_class}")
                }
                Some(DatabaseRole::Secondary {
                    instance_class,
                    instances,
                }) => {
                    format!("secondary {instances}× {instance_class}")
                }
                Some(DatabaseRole::LogicalReplica {
                    vm_size,
                    volume_size_gb,
                    via,
                }) => {
                    format!("logical replica {vm_size}, {volume_size_gb} GB, via {via}")
                }
                None => "-".into(),
            };
            let cass = si
                .cassandra
                .as_ref()
                .map(|c| {
                    format!(
                        "{} nodes RF {}, {} Gi",
                        c.nodes, c.replication_factor, c.storage_size_gi
                    )
                })
                .unwrap_or_else(|| "-".into());
            let cache = si
                .cache
                .as_ref()
                .map(|c| match c.global_role {
                    Some(r) => format!("{}× {} (global {r})", c.nodes, c.node_type),
                    None => format!("{}× {}", c.nodes, c.node_type),
                })
                .unwrap_or_else(|| "-".into());
            let serves = match (si.load_balancer, si.fly_machines) {
                (true, 0) => "ALB".to_string(),
                (true, n) => format!("ALB + {n} fly"),
                (false, 0) if si.serves_application => "yes".into(),
                (false, 0) => "-".into(),
                (false, n) => format!("{n} fly machines"),
            };
            let id = if si.global_monitoring {
                format!("{} (mon)", si.id)
            } else {
                si.id.to_string()
            };
            vec![id, place, network, k8s, pg, cass, cache, serves]
        }),
    ));

    let subnet_rows: Vec<Vec<String>> = inv
        .sites
        .iter()
        .flat_map(|si| {
            si.subnets.iter().map(move |z| {
                vec![
                    si.id.to_string(),
                    z.az.clone(),
                    z.public.to_string(),
                    z.private.to_string(),
                    z.database.to_string(),
                ]
            })
        })
        .collect();
    if !subnet_rows.is_empty() {
        s.push_str("\nSubnets\n");
        s.push_str(&table(
            ["site", "zone", "public", "private", "database"],
            subnet_rows,
        ));
    }

    if let Some(k) = &t.kubernetes {
        s.push_str(&format!(
            "\nNode groups (each of {} EKS clusters)\n",
            k.sites.len()
        ));
        let mut rows = vec![group_row("on-demand", &k.on_demand)];
        if let Some(spot) = &k.spot {
            rows.push(group_row("spot", spot));
        }
        s.push_str(&table(
            [
                "group",
                "instance types",
                "architecture (AMI type)",
                "min",
                "desired",
                "max",
                "disk GiB",
            ],
            rows,
        ));
        s.push_str(&format!(
            "CPU scaling: HPA at {} % CPU adds up to {} pods per {} s; the cluster autoscaler adds nodes within min..max\n",
            k.scaling.cpu_target_percent, k.scaling.step, k.scaling.cooldown_seconds
        ));
    }

    s.push_str("\nTotals\n");
    let rows = vec![
        vec!["VPC subnets".to_string(), tot.subnets.to_string()],
        vec!["NAT gateways".into(), tot.nat_gateways.to_string()],
        vec![
            "VPC peering connections".into(),
            tot.peering_connections.to_string(),
        ],
        vec!["EKS clusters".into(), tot.eks_clusters.to_string()],
        vec![
            "EKS nodes (min / desired / max)".into(),
            format!(
                "{} / {} / {}",
                tot.nodes_min, tot.nodes_desired, tot.nodes_max
            ),
        ],
        vec![
            "Aurora clusters / instances".into(),
            format!("{} / {}", tot.aurora_clusters, tot.aurora_instances),
        ],
        vec![
            "PostgreSQL logical replicas".into(),
            tot.logical_replicas.to_string(),
        ],
        vec![
            "Cassandra datacenters / nodes".into(),
            format!("{} / {}", tot.cassandra_datacenters, tot.cassandra_nodes),
        ],
        vec!["ElastiCache nodes".into(), tot.cache_nodes.to_string()],
        vec!["load balancers".into(), tot.load_balancers.to_string()],
        vec![
            "Fly.io application machines".into(),
            tot.fly_machines.to_string(),
        ],
    ];
    s.push_str(&table(["", "count"], rows));
    s
}

fn group_row(name: &str, g: &sovereign_check::NodeGroupV) -> Vec<String> {
    vec![
        name.to_string(),
        g.instance_types.join(", "),
        match (g.architecture, g.ami_type) {
            (Some(a), Some(ami)) => format!("{a} ({ami})"),
            (Some(a), None) => format!("{a} (no AMI type)"),
            _ => "unknown".into(),
        },
        g.min_size.to_string(),
        g.desired_size.to_string(),
        g.max_size.to_string(),
        g.disk_size_gib.to_string(),
    ]
}
