use std::path::PathBuf;

use serde::Serialize;
use sovereign_check::ValidatedTopology;
use sovereign_check::analysis::inventory::{DatabaseRole, Inventory, inventory};

use crate::Format;
use crate::diagnostics::{JsonDiagnostic, json_report, render_human, summary};
use crate::exit::{CliError, Exit};
use crate::output::Output;
use crate::table::table;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Topology file; `-` reads standard input; without it, the embedded default.
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// The JSON document `sovereign plan --format json` prints.
#[derive(Serialize)]
pub struct PlanJson<'a> {
    pub file: String,
    pub project: &'a sovereign_check::ProjectV,
    pub warnings: Vec<JsonDiagnostic>,
    pub inventory: Inventory,
}

pub fn run(args: Args, out: &Output) -> Result<Exit, CliError> {
    let loaded = crate::input::load(args.file.as_deref())?;
    let diags = &loaded.report.diagnostics;
    let Some(topology) = &loaded.report.validated else {
        out.eprint(&render_human(&loaded.source, diags, out.color_stderr));
        out.error(&format!("cannot plan: {}", summary(&loaded.source, diags)));
        return Ok(Exit::Findings);
    };
    let inv = inventory(topology);
    match args.format {
        Format::Json => {
            let doc = PlanJson {
                file: loaded.source.name.clone(),
                project: &topology.project,
                warnings: json_report(&loaded.source, diags).diagnostics,
                inventory: inv,
            };
            out.print(&format!("{}\n", crate::commands::to_json(&doc)?));
        }
        Format::Human => {
            if !diags.is_empty() && !out.quiet {
                out.eprint(&render_human(&loaded.source, diags, out.color_stderr));
            }
            out.print(&human(topology, &inv));
        }
    }
    Ok(Exit::Ok)
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
                si.id.clone()
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
                    si.id.clone(),
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
        g.min_size.to_string(),
        g.desired_size.to_string(),
        g.max_size.to_string(),
        g.disk_size_gib.to_string(),
    ]
}
