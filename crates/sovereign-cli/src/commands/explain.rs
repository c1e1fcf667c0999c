use std::path::PathBuf;

use sovereign_catalog::{Catalog, Generation, InstanceType, Lookup, Provenance, Support};
use sovereign_check::analysis::types::{UsedType, used_types};

use crate::diagnostics::{render_human, summary};
use crate::exit::{CliError, Exit};
use crate::output::Output;
use crate::table::table;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Rule code (`SOV043`) or name (`overlapping_cidrs`), or an EC2 instance type, Aurora class
    /// or ElastiCache node type (`c6i.xlarge`, `db.r7g.large`, `cache.r7g.large`); without it,
    /// the list of rules.
    pub rule: Option<String>,
    /// Show the shape and price of the instance types, Aurora classes and cache node types a
    /// topology uses: the file, `-` for standard input, or without a value the embedded default.
    #[arg(long, value_name = "FILE")]
    #[allow(clippy::option_option)]
    pub types: Option<Option<PathBuf>>,
}

pub fn run(args: Args, out: &Output) -> Result<Exit, CliError> {
    if let Some(path) = args.types {
        return topology_types(path, out);
    }
    let Some(key) = args.rule else {
        let mut text = String::from("Rules (`sovereign explain CODE` for one):\n\n");
        for r in sovereign_check::all_rules() {
            text.push_str(&format!(
                "{}  {:<8} {:<30} {}\n",
                r.code,
                r.severity.as_str(),
                r.name,
                r.summary
            ));
        }
        out.print(&text);
        return Ok(Exit::Ok);
    };
    if let Some(rule) = sovereign_check::find_rule(key.trim()) {
        out.print(rule.doc);
        if !rule.doc.ends_with('\n') {
            out.print("\n");
        }
        // The two rules that check keys against `limits::LIMITS` end with the whole table.
        if matches!(rule.code, "SOV016" | "SOV141") {
            out.print(&format!("\n{}", sovereign_check::limits::table_markdown()));
        }
        return Ok(Exit::Ok);
    }
    let catalog = Catalog::builtin();
    if let Some(card) = type_card(catalog, key.trim()) {
        out.print(&card);
        return Ok(Exit::Ok);
    }
    let names: Vec<&str> = sovereign_check::all_rules()
        .iter()
        .map(|r| r.name)
        .collect();
    let hint = sovereign_spec::closest(&key, names.iter().copied())
        .or_else(|| {
            let k = key.trim();
            if k.starts_with("db.") {
                sovereign_spec::closest(k, catalog.rds.iter().map(|t| t.name.as_str()))
            } else if k.starts_with("cache.") {
                sovereign_spec::closest(k, catalog.cache.iter().map(|t| t.name.as_str()))
            } else if k.contains('.') {
                sovereign_spec::closest(k, catalog.ec2_names())
            } else {
                None
            }
        })
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_else(|| "; `sovereign explain` lists them".into());
    Err(CliError::usage(format!(
        "no rule or instance type `{}`{hint}",
        key.escape_debug()
    )))
}

fn topology_types(path: Option<PathBuf>, out: &Output) -> Result<Exit, CliError> {
    let loaded = crate::input::load(path.as_deref())?;
    let diags = &loaded.report.diagnostics;
    let Some(topology) = &loaded.report.validated else {
        out.eprint(&render_human(&loaded.source, diags, out.color_stderr));
        out.error(&format!(
            "cannot list the types: {}",
            summary(&loaded.source, diags)
        ));
        return Ok(Exit::Findings);
    };
    let used = used_types(topology, Catalog::builtin());
    out.print(&format!(
        "Instance types of {} (`sovereign explain TYPE` for one)\n",
        topology.project.name
    ));
    out.print(&types_table(&used));
    Ok(Exit::Ok)
}

fn gib(v: f64) -> String {
    format!("{}", (v * 100.0).round() / 100.0)
}

/// One row per type in use: shape, and the on-demand price in each region that runs it.
pub(crate) fn types_table(used: &[UsedType]) -> String {
    table(
        [
            "type",
            "used by",
            "vCPU",
            "memory GiB",
            "architecture",
            "on-demand $/hour",
        ],
        used.iter().map(|u| {
            let unknown = || "unknown".to_string();
            let prices: Vec<String> = u
                .prices
                .iter()
                .map(|p| {
                    format!(
                        "{} {}",
                        p.region,
                        p.usd_hour.map(|v| format!("{v}")).unwrap_or_else(unknown)
                    )
                })
                .collect();
            vec![
                u.name.clone(),
                u.used_by.join(", "),
                u.vcpu.map(|v| v.to_string()).unwrap_or_else(unknown),
                u.memory_gib.map(gib).unwrap_or_else(unknown),
                u.arch.map(|a| a.to_string()).unwrap_or_else(unknown),
                if prices.is_empty() {
                    "-".into()
                } else {
                    prices.join(", ")
                },
            ]
        }),
    )
}

fn src(p: &Provenance) -> String {
    format!("{}: {} (as of {})", p.status.as_str(), p.source, p.as_of)
}

fn support(s: Support) -> &'static str {
    match s {
        Support::Yes => "yes",
        Support::No => "no",
        Support::Unknown => "unknown",
    }
}

fn prices(t: &[sovereign_catalog::RegionalPrice]) -> Vec<(String, String)> {
    let mut p: Vec<&sovereign_catalog::RegionalPrice> = t.iter().collect();
    p.sort_by(|a, b| a.region.cmp(&b.region));
    if p.is_empty() {
        return vec![(
            "price/hour".into(),
            "unknown in every region: `sovereign cost` reports it".into(),
        )];
    }
    p.iter()
        .enumerate()
        .map(|(i, p)| {
            (
                if i == 0 {
                    "price/hour".into()
                } else {
                    String::new()
                },
                format!(
                    "{} ${} ({}, as of {})",
                    p.region,
                    p.usd,
                    p.provenance.status.as_str(),
                    p.provenance.as_of
                ),
            )
        })
        .chain(std::iter::once((
            String::new(),
            "other regions: unknown".to_string(),
        )))
        .collect()
}

fn render_card(title: String, rows: Vec<(String, String)>) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut s = format!("{title}\n\n");
    for (k, v) in rows {
        s.push_str(&format!("  {k:<width$}  {v}\n"));
    }
    s
}

fn shape_rows(t: &InstanceType) -> Vec<(String, String)> {
    vec![
        ("vCPU".into(), t.vcpu.to_string()),
        ("memory".into(), format!("{} GiB", gib(t.memory_gib))),
        ("architecture".into(), t.arch.to_string()),
        ("category".into(), t.category.as_str().into()),
        ("shape".into(), src(&t.shape)),
    ]
}

/// Everything the catalog knows of an instance type, class or node type.
pub(crate) fn type_card(catalog: &Catalog, name: &str) -> Option<String> {
    if let Some(t) = catalog.rds_class(name) {
        let mut rows = shape_rows(t);
        if let Some(a) = &t.aurora {
            rows.push((
                "Aurora PostgreSQL".into(),
                format!("{} ({})", a.summary(), src(&a.versions_source)),
            ));
            rows.push((
                "global database".into(),
                format!("{} ({})", support(a.global_database), src(&a.global_source)),
            ));
        }
        rows.extend(prices(&t.prices));
        return Some(render_card(
            format!("{name}: Aurora DB instance class"),
            rows,
        ));
    }
    if let Some(t) = catalog.cache_type(name) {
        let mut rows = shape_rows(t);
        if let Some(k) = &t.cache {
            rows[1].1 = format!(
                "{} GiB available to the engine (maxmemory; {})",
                gib(t.memory_gib),
                src(&k.memory_source)
            );
            rows.push((
                "generation".into(),
                match k.generation {
                    Generation::Current => "current".into(),
                    Generation::Previous => "previous: new clusters cannot use it".to_string(),
                },
            ));
            rows.push((
                "global datastore".into(),
                support(k.global_datastore).into(),
            ));
        }
        rows.extend(prices(&t.prices));
        return Some(render_card(format!("{name}: ElastiCache node type"), rows));
    }
    match catalog.ec2_lookup(name) {
        Lookup::Shaped(t) => {
            let mut rows = shape_rows(t);
            if let Some(e) = &t.ec2 {
                rows[2].1 = format!(
                    "{} ({}), EKS AMI type {}",
                    t.arch,
                    e.processor.as_str(),
                    t.arch.eks_ami_type().unwrap_or("none: EKS cannot run it")
                );
                rows.insert(
                    3,
                    (
                        "burstable".into(),
                        if e.burstable { "yes" } else { "no" }.into(),
                    ),
                );
                rows.insert(
                    4,
                    (
                        "local storage".into(),
                        match e.local_storage_gb {
                            Some(0) => "none (EBS only)".into(),
                            Some(gb) => format!("{gb} GB"),
                            None => "unknown".into(),
                        },
                    ),
                );
                rows.insert(
                    5,
                    (
                        "Spot".into(),
                        match e.spot {
                            Some(true) => "yes",
                            Some(false) => "no",
                            None => "unknown",
                        }
                        .into(),
                    ),
                );
                let offered = match &e.offered {
                    Some(o) => {
                        let yes: Vec<&str> = o.regions().collect();
                        let no: Vec<&str> = o
                            .table
                            .regions
                            .iter()
                            .map(|r| r.as_str())
                            .filter(|r| !yes.contains(r))
                            .collect();
                        format!(
                            "{} of the {} regions with data{} ({})",
                            yes.len(),
                            o.table.regions.len(),
                            if no.is_empty() {
                                String::new()
                            } else {
                                format!("; not in {}", no.join(", "))
                            },
                            src(&o.table.provenance)
                        )
                    }
                    None => "unknown".into(),
                };
                rows.push(("offered in".into(), offered));
            }
            rows.extend(prices(&t.prices));
            Some(render_card(format!("{name}: EC2 instance type"), rows))
        }
        Lookup::Unshaped(u) => {
            let mut rows = vec![
                ("vCPU, memory".into(), "unknown".into()),
                (
                    "architecture".into(),
                    format!("{} (derived from the name)", u.arch),
                ),
                ("name".into(), src(&u.provenance)),
            ];
            rows.extend(prices(&u.prices));
            Some(render_card(
                format!("{name}: EC2 instance type (known by name only)"),
                rows,
            ))
        }
        Lookup::Unknown => None,
    }
}
