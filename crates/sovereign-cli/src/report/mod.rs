//! `sovereign report`: one self-contained HTML page of a topology, from the figures `plan`,
//! `cost`, `verify` and the lab computed (never recomputed here): a world map of sites and
//! links, cost against budgets, the survivability grid, the deployment order, and optionally a
//! verify run's checks and the lab's latest drills.
//!
//! The page loads nothing: inline CSS, inline SVG, no script, and a Content-Security-Policy of
//! `default-src 'none'` that says so to the browser. Every value from the topology, the verify
//! report or the lab goes through [`E`], which escapes it for HTML text and attribute values.

use std::collections::BTreeMap;
use std::fmt::{self, Write};

use sovereign_catalog::{Catalog, Place};
use sovereign_check::ValidatedTopology;
use sovereign_check::analysis::links::{Link, LinkKind};
use sovereign_check::analysis::survivability::{Scenario, WriteStatus};
use sovereign_lab::results::Latest;
use sovereign_verify::report::JsonReport;

use crate::commands::cost::usd;
use crate::commands::plan::{
    Planned, cassandra_cell, dns_cell, reads_cell, redis_cell, writes_cell,
};
use crate::diagram::{link_label, placement};

/// The land outline (Natural Earth 1:110m via world-atlas 2.0.2, simplified by
/// `scripts/world-map`), one SVG path in a 360 × 180 equirectangular frame.
const LAND: &str = include_str!("land.svgpath");

const MAP_W: f64 = 1000.0;
const MAP_H: f64 = 500.0;
/// Beyond this many sites the two-site matrix is left out (its table stays).
const MATRIX_MAX_SITES: usize = 40;
/// Beyond this many links of one kind between the same two regions, the links table shows
/// them as one row with a count.
const LINK_ROWS_MAX: usize = 120;

/// What the page shows.
pub struct Input<'a> {
    pub topology: &'a ValidatedTopology,
    pub catalog: &'a Catalog,
    pub planned: &'a Planned,
    /// The topology file's name as given.
    pub file: &'a str,
    pub verify: Option<&'a JsonReport<'static>>,
    pub lab: Option<&'a Latest>,
}

/// Escapes text for HTML content and quoted attribute values.
pub struct E<'a>(pub &'a str);

impl fmt::Display for E<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                c if c.is_control() && c != '\n' && c != '\t' => f.write_char('\u{FFFD}')?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// How a cell of the survivability grid ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Nothing of this kind is deployed.
    None,
    Ok,
    Degraded,
    Lost,
}

impl Outcome {
    pub fn class(self) -> &'static str {
        match self {
            Outcome::None => "na",
            Outcome::Ok => "ok",
            Outcome::Degraded => "degraded",
            Outcome::Lost => "lost",
        }
    }
}

/// Per column of a scenario: writes, reads, Cassandra, Redis, DNS.
pub fn outcomes(sc: &Scenario) -> [Outcome; 5] {
    let writes = match sc.postgres.as_ref().map(|w| &w.status) {
        None => Outcome::None,
        Some(WriteStatus::Unaffected) => Outcome::Ok,
        Some(WriteStatus::InRegionFailover | WriteStatus::Failover | WriteStatus::AtRisk) => {
            Outcome::Degraded
        }
        Some(WriteStatus::Lost) => Outcome::Lost,
    };
    let reads = if sc.reads.is_empty() {
        Outcome::None
    } else if sc.reads.iter().any(|r| r.served_by.is_none()) {
        Outcome::Lost
    } else if sc.reads.iter().any(|r| !r.local || r.at_risk) {
        Outcome::Degraded
    } else {
        Outcome::Ok
    };
    let cassandra = if sc.cassandra.is_empty() && sc.cassandra_lost.is_empty() {
        Outcome::None
    } else if sc.cassandra.iter().all(|d| !d.local_quorum.ok) {
        Outcome::Lost
    } else if !sc.cassandra_lost.is_empty()
        || sc
            .cassandra
            .iter()
            .any(|d| !d.local_quorum.ok || !d.quorum.ok || !d.each_quorum.ok)
    {
        Outcome::Degraded
    } else {
        Outcome::Ok
    };
    let redis = if sc.redis.is_empty() {
        Outcome::None
    } else if sc.redis.iter().all(|c| !c.available) {
        Outcome::Lost
    } else if sc
        .redis
        .iter()
        .any(|c| !c.available || c.detail != "unaffected")
    {
        Outcome::Degraded
    } else {
        Outcome::Ok
    };
    let dns = match &sc.dns {
        None => Outcome::None,
        Some(d) if !d.api_answers => Outcome::Lost,
        Some(d) if !d.lost_site_names.is_empty() => Outcome::Degraded,
        Some(_) => Outcome::Ok,
    };
    [writes, reads, cassandra, redis, dns]
}

const CSS: &str = r#"
:root{--ok:#cfe8cf;--degraded:#fbe3b0;--lost:#f4b6b0;--na:#eeeeee;--ink:#1d2430;--muted:#5b6472;--line:#d5d9e0}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);margin:0 auto;max-width:1180px;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
p.meta,.muted{color:var(--muted)}
table{border-collapse:collapse;margin:6px 0 12px;width:100%}
th,td{border:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f5f8;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.ok{background:var(--ok)}.degraded{background:var(--degraded)}.lost{background:var(--lost)}.na{background:var(--na);color:var(--muted)}
.pass{background:var(--ok)}.fail{background:var(--lost)}
.exceeded{color:#a0150b;font-weight:600}
svg{display:block;max-width:100%;height:auto}
svg.map{border:1px solid var(--line);background:#eaf2fb}
.land{fill:#d9dccf;stroke:#b9bdb0;stroke-width:.3}
.link{fill:none;stroke-width:2}
.link.aurora_global{stroke:#c0392b}.link.logical_replica{stroke:#8e44ad;stroke-dasharray:7 3}
.link.cassandra_dcs{stroke:#16a085}.link.redis_global{stroke:#d35400}.link.vpc_peering{stroke:#7f8c8d;stroke-width:1;stroke-dasharray:2 3}
.site circle{stroke:#fff;stroke-width:1.5}
.site.primary circle{fill:#c0392b}.site.secondary circle{fill:#2c6fbb}.site.replica circle{fill:#8e44ad}.site.other circle{fill:#555}
.map text{font-size:11px;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.map text.ll{font-size:10px;fill:#333}
.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:12px;height:12px;vertical-align:-2px;margin-right:4px;border:1px solid #999}
.grid td{text-align:center;font-size:11px;padding:2px;min-width:22px}
.grid th{font-size:11px;padding:2px}
code{font:12px ui-monospace,"DejaVu Sans Mono",monospace;background:#f3f5f8;padding:1px 3px}
ol.deploy li{margin-bottom:6px}
section{break-inside:auto}
table,svg{break-inside:avoid}
@media print{body{padding:0;max-width:none;font-size:11px}h2{break-after:avoid}a{color:inherit}}
"#;

/// Colours of cost components, cycled in the order the components first appear.
const PALETTE: &[&str] = &[
    "#2c6fbb", "#c0392b", "#16a085", "#d35400", "#8e44ad", "#27ae60", "#7f8c8d", "#b7950b",
    "#1abc9c", "#e74c3c", "#34495e", "#9b59b6", "#f39c12", "#2980b9",
];

/// The whole page.
pub fn html(input: &Input<'_>) -> String {
    let t = input.topology;
    let p = input.planned;
    let mut o = String::with_capacity(64 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"sovereign {}\">\n<title>{} ({}): Sovereign report</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        E(&t.project.name),
        E(&t.project.environment),
    );
    let tot = &p.inventory.totals;
    let _ = write!(
        o,
        "<header><h1>{} <span class=\"muted\">({})</span></h1>\n<p class=\"meta\">{} sites in {} AWS regions and {} Fly.io regions · {} links · from <code>{}</code> by sovereign {}</p></header>\n",
        E(&t.project.name),
        E(&t.project.environment),
        tot.sites,
        tot.aws_regions,
        tot.fly_regions,
        p.links.len(),
        E(input.file),
        env!("CARGO_PKG_VERSION"),
    );
    map_section(&mut o, input);
    sites_table(&mut o, input);
    links_table(&mut o, input);
    cost_section(&mut o, input);
    survivability_section(&mut o, input);
    deploy_section(&mut o, input);
    if let Some(v) = input.verify {
        verify_section(&mut o, v);
    }
    if let Some(l) = input.lab {
        lab_section(&mut o, l);
    }
    sources(&mut o, input);
    o.push_str("</body>\n</html>\n");
    o
}

fn project(place: &Place) -> (f64, f64) {
    (
        (place.lon + 180.0) / 360.0 * MAP_W,
        (90.0 - place.lat) / 180.0 * MAP_H,
    )
}

fn site_class(s: &sovereign_check::SiteV) -> &'static str {
    match s.aurora() {
        Some(sovereign_check::AuroraRole::Primary) => "primary",
        Some(sovereign_check::AuroraRole::Secondary) => "secondary",
        None if s.has_logical_replica() => "replica",
        None => "other",
    }
}

/// The lab's measured lag at a site, from the latest load run: `p50 / p99 ms`.
fn measured_lag(lab: Option<&Latest>, site: &str) -> Option<String> {
    let load = &lab?.load.as_ref()?.report;
    let s = load.sites.iter().find(|s| s.site == site)?;
    Some(format!(
        "lag p50 {:.0} ms, p99 {:.0} ms",
        s.p50_ms, s.p99_ms
    ))
}

fn link_lag(lab: Option<&Latest>, l: &Link) -> Option<String> {
    match l.kind {
        LinkKind::AuroraGlobal | LinkKind::LogicalReplica => measured_lag(lab, &l.to),
        _ => None,
    }
}

fn map_section(o: &mut String, input: &Input<'_>) {
    let t = input.topology;
    let _ = write!(
        o,
        "<section id=\"map\"><h2>Sites and links</h2>\n<svg class=\"map\" viewBox=\"0 0 {MAP_W} {MAP_H}\" role=\"img\" aria-label=\"world map of sites and links\">\n<path class=\"land\" transform=\"scale({:.4})\" d=\"{}\"/>\n",
        MAP_W / 360.0,
        LAND.trim().replace('\n', "")
    );
    // Positions by location; sites at one location are drawn as one marker with a list.
    let mut at: BTreeMap<String, (Place, Vec<&sovereign_check::SiteV>)> = BTreeMap::new();
    let mut unplaced: Vec<&str> = Vec::new();
    for s in &t.sites {
        match input.catalog.places.of(&s.location) {
            Some(pl) => at
                .entry(format!("{:?}", s.location))
                .or_insert_with(|| (pl.clone(), Vec::new()))
                .1
                .push(s),
            None => unplaced.push(&s.id),
        }
    }
    let pos = |id: &str| -> Option<(f64, f64)> {
        let s = t.find_site(id)?;
        input.catalog.places.of(&s.location).map(project)
    };
    // One line per pair of positions, labelled with the round trip and what it carries.
    let mut lines: BTreeMap<(i64, i64, i64, i64), Vec<&Link>> = BTreeMap::new();
    for l in &input.planned.links {
        let (Some(a), Some(b)) = (pos(&l.from), pos(&l.to)) else {
            continue;
        };
        let key = |p: (f64, f64)| ((p.0 * 10.0) as i64, (p.1 * 10.0) as i64);
        let (ka, kb) = (key(a), key(b));
        let k = if ka <= kb {
            (ka.0, ka.1, kb.0, kb.1)
        } else {
            (kb.0, kb.1, ka.0, ka.1)
        };
        lines.entry(k).or_default().push(l);
    }
    o.push_str("<g class=\"links\">\n");
    let mut labels = String::new();
    for ((x1, y1, x2, y2), ls) in &lines {
        let (x1, y1, x2, y2) = (
            *x1 as f64 / 10.0,
            *y1 as f64 / 10.0,
            *x2 as f64 / 10.0,
            *y2 as f64 / 10.0,
        );
        let strongest = ls
            .iter()
            .map(|l| l.kind)
            .min()
            .unwrap_or(LinkKind::VpcPeering);
        let kind_class = serde_json::to_value(strongest)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        // A gentle curve, so lines between the same regions in both directions stay apart.
        let (mx, my) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
        let (dx, dy) = (x2 - x1, y2 - y1);
        let (cx, cy) = (mx - dy * 0.12, my + dx * 0.12);
        let mut title = String::new();
        for l in ls {
            let _ = writeln!(title, "{} → {}: {}", l.from, l.to, link_label(l));
        }
        let _ = writeln!(
            o,
            "<path class=\"link {kind_class}\" d=\"M{x1:.1} {y1:.1} Q{cx:.1} {cy:.1} {x2:.1} {y2:.1}\"><title>{}</title></path>",
            E(title.trim_end())
        );
        if strongest == LinkKind::VpcPeering && ls.iter().all(|l| l.kind == strongest) {
            continue;
        }
        // Label at the curve's midpoint: round trip, kinds, measured lag.
        let (lx, ly) = (
            0.25 * x1 + 0.5 * cx + 0.25 * x2,
            0.25 * y1 + 0.5 * cy + 0.25 * y2,
        );
        let rtt = ls
            .iter()
            .find_map(|l| l.rtt_ms)
            .map(|v| format!("{v:.0} ms RTT"))
            .unwrap_or_else(|| "RTT unknown".into());
        let mut kinds: Vec<&str> = ls.iter().map(|l| l.kind.as_str()).collect();
        kinds.dedup();
        let lag = ls.iter().find_map(|l| link_lag(input.lab, l));
        let _ = write!(
            labels,
            "<text class=\"ll\" x=\"{lx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\"><tspan x=\"{lx:.1}\">{}</tspan><tspan x=\"{lx:.1}\" dy=\"11\">{}</tspan>",
            E(&rtt),
            E(&kinds.join(", "))
        );
        if let Some(lag) = lag {
            let _ = write!(
                labels,
                "<tspan x=\"{lx:.1}\" dy=\"11\">{}</tspan>",
                E(&format!("lab {lag}"))
            );
        }
        labels.push_str("</text>\n");
    }
    o.push_str("</g>\n<g class=\"sites\">\n");
    for (pl, sites) in at.values() {
        let (x, y) = project(pl);
        let class = sites
            .iter()
            .map(|s| site_class(s))
            .min_by_key(|c| match *c {
                "primary" => 0,
                "secondary" => 1,
                "replica" => 2,
                _ => 3,
            })
            .unwrap_or("other");
        let r = 5.0 + (sites.len() as f64).sqrt().min(6.0);
        let _ = write!(
            o,
            "<g class=\"site {class}\"><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r:.1}\"><title>{}</title></circle>",
            E(&format!(
                "{} ({}): {}",
                pl.city,
                pl.code,
                sites
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        );
        let shown: Vec<String> = if sites.len() <= 3 {
            sites
                .iter()
                .map(|s| format!("{} · {}", s.id, s.name))
                .collect()
        } else {
            vec![
                format!("{} sites in {}", sites.len(), pl.city),
                format!("{} … {}", sites[0].id, sites[sites.len() - 1].id),
            ]
        };
        let anchor_right = x > MAP_W - 160.0;
        let (tx, anchor) = if anchor_right {
            (x - r - 3.0, "end")
        } else {
            (x + r + 3.0, "start")
        };
        for (i, line) in shown.iter().enumerate() {
            let _ = write!(
                o,
                "<text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
                y + 4.0 + 12.0 * i as f64,
                E(line)
            );
        }
        o.push_str("</g>\n");
    }
    o.push_str("</g>\n<g class=\"labels\">\n");
    o.push_str(&labels);
    o.push_str("</g>\n</svg>\n");
    o.push_str("<p class=\"legend\"><span><span class=\"sw\" style=\"background:#c0392b\"></span>Aurora primary / global replication</span><span><span class=\"sw\" style=\"background:#2c6fbb\"></span>Aurora secondary</span><span><span class=\"sw\" style=\"background:#8e44ad\"></span>logical replica</span><span><span class=\"sw\" style=\"background:#16a085\"></span>Cassandra datacenters</span><span><span class=\"sw\" style=\"background:#d35400\"></span>Redis global</span><span><span class=\"sw\" style=\"background:#7f8c8d\"></span>VPC peering (dotted, unlabelled: see the table)</span></p>\n");
    if !unplaced.is_empty() {
        let _ = writeln!(
            o,
            "<p class=\"muted\">Not on the map (the catalog has no position for their region): {}</p>",
            E(&unplaced.join(", "))
        );
    }
    o.push_str("</section>\n");
}

fn sites_table(o: &mut String, input: &Input<'_>) {
    o.push_str("<section id=\"sites\"><h3>Sites</h3>\n<table><thead><tr><th>site</th><th>name</th><th>providers</th><th>role</th><th>data</th><th>drawn at</th></tr></thead><tbody>\n");
    for (s, inv) in input
        .topology
        .sites
        .iter()
        .zip(&input.planned.inventory.sites)
    {
        let mut data: Vec<String> = Vec::new();
        match &inv.database {
            Some(sovereign_check::analysis::inventory::DatabaseRole::Primary {
                instance_class,
                instances,
            }) => data.push(format!("Aurora primary {instances}× {instance_class}")),
            Some(sovereign_check::analysis::inventory::DatabaseRole::Secondary {
                instance_class,
                instances,
            }) => data.push(format!("Aurora secondary {instances}× {instance_class}")),
            Some(sovereign_check::analysis::inventory::DatabaseRole::LogicalReplica {
                vm_size,
                via,
                ..
            }) => data.push(format!("logical replica {vm_size} via {via}")),
            None => {}
        }
        if let Some(c) = &inv.cassandra {
            data.push(format!(
                "Cassandra {} nodes RF {}",
                c.nodes, c.replication_factor
            ));
        }
        if let Some(c) = &inv.cache {
            data.push(format!("Redis {}× {}", c.nodes, c.node_type));
        }
        let drawn = input
            .catalog
            .places
            .of(&s.location)
            .map(|p| format!("{} ({:.1}, {:.1})", p.city, p.lat, p.lon))
            .unwrap_or_else(|| "not on the map".into());
        let _ = writeln!(
            o,
            "<tr data-site=\"{}\" class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            E(&s.id),
            site_class(s),
            E(&s.id),
            E(&s.name),
            E(&placement(s)),
            E(&s.role),
            E(&data.join("; ")),
            E(&drawn)
        );
    }
    o.push_str("</tbody></table></section>\n");
}

fn links_table(o: &mut String, input: &Input<'_>) {
    let links = &input.planned.links;
    o.push_str("<section id=\"links\"><h3>Links</h3>\n<p class=\"muted\">Round trips from the catalog's inter-region matrix");
    if input.lab.and_then(|l| l.load.as_ref()).is_some() {
        o.push_str("; measured lag from the lab's latest <code>lab load</code> (primary acknowledging a write → readable at the site)");
    }
    o.push_str(".</p>\n<table><thead><tr><th>link</th><th>from</th><th>to</th><th>transport</th><th class=\"num\">round trip</th><th>measured lag</th></tr></thead><tbody>\n");
    // Many peerings between the same two regions become one row with a count.
    let mut grouped: Vec<(&Link, usize)> = Vec::new();
    let peerings = links
        .iter()
        .filter(|l| l.kind == LinkKind::VpcPeering)
        .count();
    for l in links {
        if l.kind == LinkKind::VpcPeering && peerings > LINK_ROWS_MAX {
            let region = |id: &str| input.topology.find_site(id).map(|s| s.location.clone());
            if let Some(g) = grouped.iter_mut().find(|(g, _)| {
                g.kind == l.kind
                    && ((region(&g.from) == region(&l.from) && region(&g.to) == region(&l.to))
                        || (region(&g.from) == region(&l.to) && region(&g.to) == region(&l.from)))
            }) {
                g.1 += 1;
                continue;
            }
        }
        grouped.push((l, 1));
    }
    for (l, n) in grouped {
        let rtt = l
            .rtt_ms
            .map(|v| format!("{v:.0} ms"))
            .unwrap_or_else(|| "unknown".into());
        let what = if n > 1 {
            format!("{} ×{n} (sites in the same two regions)", l.kind.as_str())
        } else {
            l.kind.as_str().to_string()
        };
        let _ = writeln!(
            o,
            "<tr data-link=\"{}:{}:{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            E(l.kind.as_str()),
            E(&l.from),
            E(&l.to),
            E(&what),
            E(&l.from),
            E(&l.to),
            E(l.transport.as_deref().unwrap_or("-")),
            E(&rtt),
            E(&link_lag(input.lab, l).unwrap_or_else(|| "-".into()))
        );
    }
    o.push_str("</tbody></table></section>\n");
}

fn cost_section(o: &mut String, input: &Input<'_>) {
    let c = &input.planned.cost;
    let by = c.by_component();
    let mut components: Vec<&'static str> = Vec::new();
    for l in &c.lines {
        if !components.contains(&l.component) {
            components.push(l.component);
        }
    }
    let colour = |comp: &str| {
        let i = components.iter().position(|c| *c == comp).unwrap_or(0);
        PALETTE[i % PALETTE.len()]
    };
    let max = c
        .site_cents
        .iter()
        .map(|(s, cents)| (*cents).max(c.budget(Some(s)).map(|b| b.budget_cents).unwrap_or(0)))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let _ = write!(
        o,
        "<section id=\"cost\"><h2>Monthly cost against budget</h2>\n<p class=\"muted\">{} hours a month, {}. Bars: components of each site's estimate; the black mark is its budget.</p>\n<table><thead><tr><th>site</th><th style=\"width:42%\">estimate by component</th><th class=\"num\">monthly</th><th class=\"num\">budget</th><th class=\"num\">margin</th></tr></thead><tbody>\n",
        c.hours_per_month,
        E(c.currency)
    );
    let bar_w = 400.0;
    for (site, cents) in &c.site_cents {
        let b = c.budget(Some(site));
        let mut bar = format!(
            "<svg viewBox=\"0 0 {bar_w} 16\" width=\"{bar_w}\" height=\"16\" preserveAspectRatio=\"none\">"
        );
        let mut x = 0.0;
        if let Some(comps) = by.get(&Some(site.clone())) {
            for (comp, v) in comps {
                let w = *v as f64 / max * bar_w;
                let _ = write!(
                    bar,
                    "<rect x=\"{x:.2}\" y=\"2\" width=\"{w:.2}\" height=\"12\" fill=\"{}\"><title>{}: {}</title></rect>",
                    colour(comp),
                    E(comp),
                    E(&usd(*v))
                );
                x += w;
            }
        }
        if let Some(b) = b {
            let bx = (b.budget_cents as f64 / max * bar_w).min(bar_w - 1.0);
            let _ = write!(
                bar,
                "<rect x=\"{bx:.2}\" y=\"0\" width=\"2\" height=\"16\" fill=\"#000\"><title>budget {}</title></rect>",
                E(&usd(b.budget_cents))
            );
        }
        bar.push_str("</svg>");
        let (budget, margin, exceeded) = match b {
            Some(b) => (usd(b.budget_cents), usd(b.margin_cents), b.exceeded),
            None => ("-".into(), "-".into(), false),
        };
        let _ = writeln!(
            o,
            "<tr data-cost-site=\"{}\"><td>{}</td><td>{bar}</td><td class=\"num\" data-cents=\"{cents}\">{}</td><td class=\"num\">{}</td><td class=\"num{}\">{}{}</td></tr>",
            E(site),
            E(site),
            E(&usd(*cents)),
            E(&budget),
            if exceeded { " exceeded" } else { "" },
            E(&margin),
            if exceeded { " EXCEEDED" } else { "" }
        );
    }
    if c.global_cents != 0 {
        let _ = writeln!(
            o,
            "<tr data-cost-site=\"(global)\"><td>(global)</td><td></td><td class=\"num\" data-cents=\"{}\">{}</td><td class=\"num\">-</td><td class=\"num\">-</td></tr>",
            c.global_cents,
            E(&usd(c.global_cents))
        );
    }
    let tb = c.budget(None);
    let _ = writeln!(
        o,
        "<tr data-cost-site=\"(total)\"><th>total</th><td></td><th class=\"num\" data-cents=\"{}\">{}</th><th class=\"num\">{}</th><th class=\"num{}\">{}</th></tr>\n</tbody></table>",
        c.total_cents,
        E(&usd(c.total_cents)),
        E(&tb
            .map(|b| usd(b.budget_cents))
            .unwrap_or_else(|| "-".into())),
        if tb.is_some_and(|b| b.exceeded) {
            " exceeded"
        } else {
            ""
        },
        E(&tb
            .map(|b| format!(
                "{}{}",
                usd(b.margin_cents),
                if b.exceeded { " EXCEEDED" } else { "" }
            ))
            .unwrap_or_else(|| "-".into()))
    );
    let _ = writeln!(
        o,
        "<p data-spot-savings=\"{}\">Spot saves <strong>{}</strong> a month against the same nodes on demand.</p>",
        c.spot_savings_cents,
        E(&usd(c.spot_savings_cents))
    );
    o.push_str("<p class=\"legend\">");
    for comp in &components {
        let _ = write!(
            o,
            "<span><span class=\"sw\" style=\"background:{}\"></span>{}</span>",
            colour(comp),
            E(comp)
        );
    }
    o.push_str("</p>\n");
    if !c.missing.is_empty() {
        o.push_str("<p class=\"exceeded\">Missing prices (the totals leave these out):</p><ul>");
        for m in &c.missing {
            let _ = write!(o, "<li>{}</li>", E(&m.to_string()));
        }
        o.push_str("</ul>\n");
    }
    // Every component of every site, as figures.
    o.push_str("<h3>By component</h3>\n<table><thead><tr><th>site</th><th>component</th><th class=\"num\">monthly</th></tr></thead><tbody>\n");
    for (site, comps) in &by {
        let site = site.as_deref().unwrap_or("(global)");
        for (comp, v) in comps {
            let _ = writeln!(
                o,
                "<tr data-component=\"{}:{}\"><td>{}</td><td><span class=\"sw\" style=\"background:{}\"></span>{}</td><td class=\"num\" data-cents=\"{v}\">{}</td></tr>",
                E(site),
                E(comp),
                E(site),
                colour(comp),
                E(comp),
                E(&usd(*v))
            );
        }
    }
    o.push_str("</tbody></table>\n<p class=\"muted\"><code>sovereign cost</code> lists every line with its price source.</p></section>\n");
}

fn survivability_section(o: &mut String, input: &Input<'_>) {
    let s = &input.planned.survivability;
    let a = &s.assumptions;
    let _ = write!(
        o,
        "<section id=\"survivability\"><h2>What survives which loss</h2>\n<p class=\"muted\">RTO = detection {:.0} s + Aurora promotion {:.0} s + DNS TTL {:.0} s; RPO ≈ lag {:.0} s + one-way latency. Cassandra per datacenter: LOCAL_QUORUM/QUORUM/EACH_QUORUM. Colours: <span class=\"sw ok\"></span>unaffected <span class=\"sw degraded\"></span>degraded or moved <span class=\"sw lost\"></span>lost <span class=\"sw na\"></span>not deployed.</p>\n",
        a.detection_seconds, a.promotion_seconds, a.dns_ttl_seconds, a.typical_lag_seconds
    );
    if input.topology.sites.len() <= MATRIX_MAX_SITES {
        matrix(o, input);
    } else {
        let _ = writeln!(
            o,
            "<p class=\"muted\">{} sites: the site-by-site matrix is left out above {MATRIX_MAX_SITES} sites; the tables below list every scenario.</p>",
            input.topology.sites.len()
        );
    }
    let large = input.topology.sites.len() > MATRIX_MAX_SITES;
    for (title, list) in [
        ("One site lost", &s.sites),
        ("One zone lost", &s.zones),
        ("Two sites lost", &s.pairs),
    ] {
        // Above MATRIX_MAX_SITES sites, two-site losses are thousands of rows: only those
        // that lose something outright are listed.
        let shown: Vec<&Scenario> = if large && title == "Two sites lost" {
            list.iter()
                .filter(|sc| outcomes(sc).contains(&Outcome::Lost))
                .collect()
        } else {
            list.iter().collect()
        };
        let _ = writeln!(o, "<h3>{title}</h3>");
        if shown.len() < list.len() {
            let _ = writeln!(
                o,
                "<p class=\"muted\">{} of {} pairs listed: the others lose nothing outright (no red cell). <code>sovereign plan --format json</code> has every pair.</p>",
                shown.len(),
                list.len()
            );
        }
        o.push_str("<table class=\"surv\"><thead><tr><th>lost</th><th>postgres writes</th><th>reads moved</th><th>cassandra</th><th>redis</th><th>api answers from</th></tr></thead><tbody>\n");
        for sc in shown {
            let oc = outcomes(sc);
            let cells = [
                writes_cell(sc),
                reads_cell(sc),
                cassandra_cell(sc),
                redis_cell(sc),
                dns_cell(sc),
            ];
            let _ = write!(
                o,
                "<tr data-scenario=\"{}\"><th>{}</th>",
                E(&sc.loss.label()),
                E(&sc.loss.label())
            );
            for (c, oc) in cells.iter().zip(oc) {
                let _ = write!(o, "<td class=\"{}\">{}</td>", oc.class(), E(c));
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</tbody></table>\n");
    }
    o.push_str("</section>\n");
}

/// Sites × sites: the diagonal is the loss of one site, every other cell the loss of both;
/// each cell is coloured by its worst column and says what happens to writes.
fn matrix(o: &mut String, input: &Input<'_>) {
    let s = &input.planned.survivability;
    let ids: Vec<&str> = input.topology.sites.iter().map(|s| s.id.as_str()).collect();
    let cell = |sc: Option<&Scenario>| -> String {
        match sc {
            None => "<td class=\"na\">?</td>".into(),
            Some(sc) => {
                let worst = outcomes(sc).into_iter().max().unwrap_or(Outcome::None);
                let short = match sc.postgres.as_ref().map(|w| &w.status) {
                    Some(WriteStatus::Unaffected) => "ok".to_string(),
                    Some(WriteStatus::Failover) => format!(
                        "→{}",
                        sc.postgres
                            .as_ref()
                            .and_then(|w| w.primary.clone())
                            .unwrap_or_default()
                    ),
                    Some(WriteStatus::InRegionFailover) => "in-region".into(),
                    Some(WriteStatus::AtRisk) => "risk".into(),
                    Some(WriteStatus::Lost) => "LOST".into(),
                    None => "-".into(),
                };
                format!(
                    "<td class=\"{}\" data-matrix=\"{}\" title=\"{}\">{}</td>",
                    worst.class(),
                    E(&sc.loss.label()),
                    E(&format!(
                        "lose {}: writes {}; reads {}; cassandra {}; redis {}; api {}",
                        sc.loss.label(),
                        writes_cell(sc),
                        reads_cell(sc),
                        cassandra_cell(sc),
                        redis_cell(sc),
                        dns_cell(sc)
                    )),
                    E(&short)
                )
            }
        }
    };
    o.push_str("<h3>Losing one site (diagonal) or two (elsewhere): worst outcome, and where PostgreSQL writes go</h3>\n<table class=\"grid\"><thead><tr><th></th>");
    for id in &ids {
        let _ = write!(o, "<th>{}</th>", E(id));
    }
    o.push_str("</tr></thead><tbody>\n");
    for a in &ids {
        let _ = write!(o, "<tr><th>{}</th>", E(a));
        for b in &ids {
            let sc = if a == b {
                s.sites
                    .iter()
                    .find(|sc| matches!(&sc.loss, sovereign_check::analysis::survivability::Loss::Site { site } if site == a))
            } else {
                s.pairs.iter().find(|sc| {
                    matches!(&sc.loss, sovereign_check::analysis::survivability::Loss::Sites { sites }
                        if sites.len() == 2 && sites.iter().any(|x| x == a) && sites.iter().any(|x| x == b))
                })
            };
            o.push_str(&cell(sc));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody></table>\n");
}

fn deploy_section(o: &mut String, input: &Input<'_>) {
    o.push_str("<section id=\"deploy\"><h2>Deployment order</h2>\n<ol class=\"deploy\">\n");
    for st in &input.planned.deploy {
        let _ = write!(
            o,
            "<li data-step=\"{}\"><strong>{}</strong>: {}",
            E(&st.name),
            E(&st.name),
            E(&st.why)
        );
        if !st.commands.is_empty() {
            o.push_str("<br>");
            for c in &st.commands {
                let _ = write!(o, "<code>{}</code> ", E(c));
            }
        }
        o.push_str("</li>\n");
    }
    o.push_str("</ol></section>\n");
}

fn verify_section(o: &mut String, v: &JsonReport<'static>) {
    let _ = write!(
        o,
        "<section id=\"verify\"><h2>Verify</h2>\n<p>{} checks: {} passed, {} failed ({:.1} s).</p>\n<table><thead><tr><th>check</th><th>site</th><th>state</th><th class=\"num\">ms</th><th>detail</th></tr></thead><tbody>\n",
        v.checks.len(),
        v.passed,
        v.failed,
        v.elapsed_ms as f64 / 1000.0
    );
    for c in v.checks.iter() {
        let state = match c.status {
            sovereign_verify::Status::Pass => "pass",
            sovereign_verify::Status::Fail => "fail",
        };
        let _ = writeln!(
            o,
            "<tr data-check=\"{}@{}\"><td>{}</td><td>{}</td><td class=\"{state}\">{state}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            E(&c.name),
            E(c.site.as_deref().unwrap_or("")),
            E(&c.name),
            E(c.site.as_deref().unwrap_or("-")),
            c.duration_ms,
            E(&c.detail)
        );
    }
    o.push_str("</tbody></table></section>\n");
}

fn when(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

fn lab_section(o: &mut String, l: &Latest) {
    o.push_str("<section id=\"lab\"><h2>Lab: latest drills</h2>\n");
    if l.is_empty() {
        o.push_str("<p class=\"muted\">The lab directory holds no results yet: <code>sovereign lab load</code> and <code>sovereign lab drill …</code> write them.</p></section>\n");
        return;
    }
    if let Some(r) = &l.load {
        let x = &r.report;
        let _ = write!(
            o,
            "<h3>Replication lag (lab load, {})</h3>\n<p>{} writes on {} in {:.1} s ({:.0}/s); commit p50 {:.1} ms, p99 {:.1} ms; latency scale {}.</p>\n<table><thead><tr><th>site</th><th>role</th><th class=\"num\">seen</th><th class=\"num\">missing</th><th class=\"num\">p50 ms</th><th class=\"num\">p99 ms</th><th class=\"num\">max ms</th></tr></thead><tbody>\n",
            E(&when(r.finished_unix)),
            x.writes,
            E(&x.primary),
            x.seconds,
            x.rate_achieved,
            x.commit_p50_ms,
            x.commit_p99_ms,
            x.latency_scale
        );
        for s in &x.sites {
            let _ = writeln!(
                o,
                "<tr data-lag=\"{}\"><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num{}\">{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td></tr>",
                E(&s.site),
                E(&s.site),
                E(&s.role),
                s.seen,
                if s.missing > 0 { " lost" } else { "" },
                s.missing,
                s.p50_ms,
                s.p99_ms,
                s.max_ms
            );
        }
        o.push_str("</tbody></table>\n");
    }
    if let Some(r) = &l.failover {
        let x = &r.report;
        let ok = x.lost_beyond_bound == 0;
        let _ = writeln!(
            o,
            "<h3>Failover ({})</h3>\n<table><tbody><tr><th>promoted</th><td>{} → {} ({})</td></tr><tr><th>RTO (kill → first write acknowledged)</th><td class=\"num\">{:.2} s (detection {:.2} s, promotion {:.2} s; AWS promotion {:.0} s)</td></tr><tr><th>RPO (acknowledged writes lost)</th><td class=\"num {}\">{} writes, {:.2} s window (bound {:.2} s, beyond it: {})</td></tr></tbody></table>",
            E(&when(r.finished_unix)),
            E(&x.old_primary),
            E(&x.new_primary),
            E(&x.why),
            x.rto_seconds,
            x.detection_seconds,
            x.promotion_seconds,
            x.aws_promotion_seconds,
            if ok { "ok" } else { "lost" },
            x.lost_writes,
            x.rpo_seconds,
            x.loss_bound_seconds,
            x.lost_beyond_bound
        );
    }
    if let Some(r) = &l.restore {
        let x = &r.report;
        let _ = writeln!(
            o,
            "<h3>Restore ({})</h3>\n<table><tbody><tr><th>site</th><td>{}</td></tr><tr><th>backup</th><td class=\"num\">{:.1} s</td></tr><tr><th>point-in-time restore</th><td class=\"num\">{:.1} s to {}</td></tr><tr><th>rows restored</th><td class=\"num {}\">{} (exact: {})</td></tr></tbody></table>",
            E(&when(r.finished_unix)),
            E(&x.site),
            x.backup_seconds,
            x.restore_seconds,
            E(&x.target_time),
            if x.exact { "ok" } else { "lost" },
            x.restored_rows,
            if x.exact { "yes" } else { "no" }
        );
    }
    if let Some(r) = &l.dc_loss {
        let x = &r.report;
        let _ = write!(
            o,
            "<h3>Cassandra datacenter loss: {} ({})</h3>\n<table><thead><tr><th>coordinator</th><th>level</th><th>write</th><th>read</th><th>plan predicted</th></tr></thead><tbody>\n",
            E(&x.lost),
            E(&when(r.finished_unix))
        );
        for dc in &x.datacenters {
            for lv in &dc.levels {
                let ok = lv.write && lv.read;
                let agrees = lv.predicted.map(|p| p == ok);
                let _ = writeln!(
                    o,
                    "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"{}\">{}</td><td class=\"{}\">{}</td></tr>",
                    E(&dc.dc),
                    E(&lv.level),
                    if lv.write { "ok" } else { "lost" },
                    if lv.write { "succeeds" } else { "fails" },
                    if lv.read { "ok" } else { "lost" },
                    if lv.read { "succeeds" } else { "fails" },
                    match agrees {
                        Some(true) => "ok",
                        Some(false) => "lost",
                        None => "na",
                    },
                    match lv.predicted {
                        Some(true) => "succeeds",
                        Some(false) => "fails",
                        None => "-",
                    }
                );
            }
        }
        o.push_str("</tbody></table>\n");
    }
    o.push_str("</section>\n");
}

fn sources(o: &mut String, input: &Input<'_>) {
    let c = input.catalog;
    let _ = writeln!(
        o,
        "<section id=\"sources\"><h2>Sources</h2>\n<ul class=\"muted\"><li>Round trips: {} ({}, {}).</li><li>Map positions: {} ({}, {}).</li><li>Land outline: Natural Earth 1:110m land (public domain) via the npm package world-atlas 2.0.2, simplified by <code>scripts/world-map</code>.</li><li>Prices: <code>sovereign cost</code> lists each line's source.</li></ul></section>",
        E(&c.latency.provenance.source),
        E(c.latency.provenance.status.as_str()),
        E(&c.latency.provenance.as_of),
        E(&c.places.provenance.source),
        E(c.places.provenance.status.as_str()),
        E(&c.places.provenance.as_of),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            E("<a href=\"x\" onclick='y'>&</a>").to_string(),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(E("a\u{1b}b").to_string(), "a\u{FFFD}b");
    }

    #[test]
    fn dates() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_764_633_600), "2025-12-02 00:00 UTC");
    }
}
