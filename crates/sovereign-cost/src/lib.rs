//! What a validated topology costs per month, per site and per component.
//!
//! [`estimate`] prices every component the topology deploys from the catalog: EKS control
//! planes, on-demand and Spot node groups, Aurora instances, storage, I/O and the replicated
//! write I/O of each secondary, caches, NAT gateways, load balancers, Route 53, EBS volumes of
//! Cassandra, replication traffic between regions, Fly.io machines and volumes. Usage-dependent
//! figures come from the topology's `[usage]` and are marked as assumptions.
//!
//! Every line carries the catalog provenance of its price. A component with no known price is
//! reported as a [`MissingPrice`], never counted as $0. Amounts are kept in whole cents, so the
//! per-site subtotals and the total are exact sums of the lines.

use std::collections::BTreeMap;

use serde::Serialize;
use sovereign_catalog::{Catalog, Provenance, RegionalPrice, Status};
use sovereign_check::{AuroraRole, SiteV, ValidatedTopology};
use sovereign_spec::NatMode;

/// Where a price came from.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PriceSource {
    pub status: Status,
    pub source: String,
    pub as_of: String,
}

impl From<&Provenance> for PriceSource {
    fn from(p: &Provenance) -> Self {
        PriceSource {
            status: p.status,
            source: p.source.clone(),
            as_of: p.as_of.clone(),
        }
    }
}

/// One priced line.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CostLine {
    /// The site it belongs to; `None` for what is not tied to a site (Route 53).
    pub site: Option<String>,
    pub component: &'static str,
    pub description: String,
    pub quantity: f64,
    pub unit: String,
    pub unit_price_usd: f64,
    /// Monthly amount in cents (rounded once, here; totals add these).
    pub monthly_cents: i64,
    /// The quantity is a `[usage]` assumption rather than something the topology fixes.
    pub assumption: bool,
    pub price: PriceSource,
}

impl CostLine {
    pub fn monthly_usd(&self) -> f64 {
        self.monthly_cents as f64 / 100.0
    }
}

/// A component whose price the catalog does not know.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MissingPrice {
    pub site: Option<String>,
    pub component: &'static str,
    pub item: String,
    pub region: String,
}

impl std::fmt::Display for MissingPrice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no price for {} `{}` in {}{}",
            self.component,
            self.item,
            self.region,
            self.site
                .as_ref()
                .map(|s| format!(" (site {s})"))
                .unwrap_or_default()
        )
    }
}

/// A budget compared with the estimate.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BudgetCheck {
    /// `None` for the total budget.
    pub site: Option<String>,
    pub budget_cents: i64,
    pub estimate_cents: i64,
    /// Budget minus estimate; negative when exceeded.
    pub margin_cents: i64,
    pub exceeded: bool,
}

/// The estimate.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CostReport {
    pub currency: &'static str,
    pub hours_per_month: u32,
    pub lines: Vec<CostLine>,
    pub missing: Vec<MissingPrice>,
    /// Per site, in cents; sites with no lines are listed with 0.
    pub site_cents: BTreeMap<String, i64>,
    /// Lines not tied to a site, in cents.
    pub global_cents: i64,
    pub total_cents: i64,
    /// What the Spot nodes would cost on demand, minus what they cost.
    pub spot_savings_cents: i64,
    pub budgets: Vec<BudgetCheck>,
    /// Components Sovereign deploys but does not price, so nobody mistakes their absence for $0.
    pub not_priced: Vec<&'static str>,
}

impl CostReport {
    pub fn exceeded(&self) -> bool {
        self.budgets.iter().any(|b| b.exceeded)
    }
}

/// Components that are deployed but not in the model.
pub const NOT_PRICED: &[&str] = &[
    "KMS keys (about $1 a month each: one per AWS site, DNSSEC, DNS logs, state)",
    "WAF web ACLs and requests",
    "CloudWatch Logs ingestion and storage (flow logs, control-plane logs, slow logs)",
    "Secrets Manager secrets and replicas",
    "S3 storage of state and access logs",
    "public IPv4 addresses of NAT gateways and load balancers",
];

fn cents(usd: f64) -> i64 {
    (usd * 100.0).round() as i64
}

struct Builder<'a> {
    catalog: &'a Catalog,
    hours: f64,
    lines: Vec<CostLine>,
    missing: Vec<MissingPrice>,
    spot_savings_cents: i64,
}

impl Builder<'_> {
    #[allow(clippy::too_many_arguments)]
    fn line(
        &mut self,
        site: Option<&str>,
        component: &'static str,
        description: String,
        quantity: f64,
        unit: &str,
        unit_price: f64,
        assumption: bool,
        price: PriceSource,
    ) {
        self.lines.push(CostLine {
            site: site.map(str::to_string),
            component,
            description,
            quantity,
            unit: unit.to_string(),
            unit_price_usd: unit_price,
            monthly_cents: cents(quantity * unit_price),
            assumption,
            price,
        });
    }

    fn missing(&mut self, site: Option<&str>, component: &'static str, item: &str, region: &str) {
        self.missing.push(MissingPrice {
            site: site.map(str::to_string),
            component,
            item: item.to_string(),
            region: region.to_string(),
        });
    }

    fn regional<'p>(
        &mut self,
        price: Option<&'p RegionalPrice>,
        site: &str,
        component: &'static str,
        item: &str,
        region: &str,
    ) -> Option<&'p RegionalPrice> {
        if price.is_none() {
            self.missing(Some(site), component, item, region);
        }
        price
    }
}

/// Prices a validated topology.
pub fn estimate(t: &ValidatedTopology, catalog: &Catalog) -> CostReport {
    let hours = f64::from(t.project.monthly_hours);
    let mut b = Builder {
        catalog,
        hours,
        lines: Vec::new(),
        missing: Vec::new(),
        spot_savings_cents: 0,
    };
    for site in &t.sites {
        price_site(t, site, &mut b);
    }
    price_global(t, &mut b);

    let mut site_cents: BTreeMap<String, i64> = t.sites.iter().map(|s| (s.id.clone(), 0)).collect();
    let mut global_cents = 0;
    for l in &b.lines {
        match &l.site {
            Some(s) => *site_cents.entry(s.clone()).or_default() += l.monthly_cents,
            None => global_cents += l.monthly_cents,
        }
    }
    let total_cents = site_cents.values().sum::<i64>() + global_cents;
    let mut budgets = Vec::new();
    if let Some(bud) = &t.budgets {
        let total_budget = cents(bud.monthly_total_usd);
        budgets.push(BudgetCheck {
            site: None,
            budget_cents: total_budget,
            estimate_cents: total_cents,
            margin_cents: total_budget - total_cents,
            exceeded: total_cents > total_budget,
        });
        for (site, amount) in &bud.per_site {
            let budget = cents(*amount);
            let est = site_cents.get(site).copied().unwrap_or(0);
            budgets.push(BudgetCheck {
                site: Some(site.clone()),
                budget_cents: budget,
                estimate_cents: est,
                margin_cents: budget - est,
                exceeded: est > budget,
            });
        }
    }
    CostReport {
        currency: "USD",
        hours_per_month: t.project.monthly_hours,
        lines: b.lines,
        missing: b.missing,
        site_cents,
        global_cents,
        total_cents,
        spot_savings_cents: b.spot_savings_cents,
        budgets,
        not_priced: NOT_PRICED.to_vec(),
    }
}

fn price_site(t: &ValidatedTopology, site: &SiteV, b: &mut Builder) {
    let id = site.id.as_str();
    let hours = b.hours;
    let catalog = b.catalog;
    let g = &catalog.prices.global;
    if let Some(aws) = &site.aws {
        let region = aws.region.as_str();
        // Networking.
        let nat = match t.network.nat_gateways {
            NatMode::PerAz => aws.azs.len(),
            NatMode::Single => 1,
        } as f64;
        if let Some(p) = b.regional(
            catalog.prices.nat_gateway_hour.get(region),
            id,
            "nat_gateway",
            "NAT gateway hour",
            region,
        ) {
            b.line(
                Some(id),
                "nat_gateway",
                format!("{nat} NAT gateways"),
                nat * hours,
                "hour",
                p.usd,
                false,
                (&p.provenance).into(),
            );
        }
        if let Some(p) = b.regional(
            catalog.prices.nat_gateway_gb.get(region),
            id,
            "nat_data",
            "NAT data processed",
            region,
        ) {
            let gb = t.usage.nat_processed_gb_per_site;
            b.line(
                Some(id),
                "nat_data",
                "NAT data processed".into(),
                gb,
                "GB",
                p.usd,
                true,
                (&p.provenance).into(),
            );
        }
        // Kubernetes.
        if site.eks
            && let Some(k) = &t.kubernetes
        {
            let (rate, what) = if k.extended_support {
                (&g.eks_extended_hour, "extended support")
            } else {
                (&g.eks_standard_hour, "standard support")
            };
            b.line(
                Some(id),
                "eks_control_plane",
                format!("EKS {} control plane ({what})", k.version),
                hours,
                "hour",
                rate.usd,
                false,
                (&rate.provenance).into(),
            );
            price_group(b, id, region, "nodes_on_demand", &k.on_demand, None);
            if let Some(spot) = &k.spot {
                let discount = catalog.prices.global.spot_discount.value;
                price_group(b, id, region, "nodes_spot", spot, Some(discount));
            }
        }
        // Aurora.
        if let (Some(pg), Some(role)) = (&t.postgres, site.aurora) {
            let n = f64::from(pg.instances.get(id).copied().unwrap_or(0));
            match catalog
                .rds_class(&pg.instance_class)
                .and_then(|c| c.price(region))
            {
                Some(p) => b.line(
                    Some(id),
                    "aurora_instances",
                    format!("{n} × {}", pg.instance_class),
                    n * hours,
                    "instance-hour",
                    p.usd,
                    false,
                    (&p.provenance).into(),
                ),
                None => b.missing(Some(id), "aurora_instances", &pg.instance_class, region),
            }
            if let Some(p) = b.regional(
                catalog.prices.aurora_storage_gb_month.get(region),
                id,
                "aurora_storage",
                "Aurora storage",
                region,
            ) {
                b.line(
                    Some(id),
                    "aurora_storage",
                    "Aurora storage (a full copy in every member region)".into(),
                    t.usage.aurora_storage_gb,
                    "GB-month",
                    p.usd,
                    true,
                    (&p.provenance).into(),
                );
            }
            if let Some(p) = b.regional(
                catalog.prices.aurora_io_million.get(region),
                id,
                "aurora_io",
                "Aurora I/O",
                region,
            ) {
                match role {
                    AuroraRole::Primary => b.line(
                        Some(id),
                        "aurora_io",
                        "Aurora I/O requests".into(),
                        t.usage.aurora_io_millions,
                        "million requests",
                        p.usd,
                        true,
                        (&p.provenance).into(),
                    ),
                    AuroraRole::Secondary => b.line(
                        Some(id),
                        "aurora_replicated_write_io",
                        "replicated write I/O into this secondary".into(),
                        t.usage.aurora_write_io_millions,
                        "million requests",
                        p.usd,
                        true,
                        (&p.provenance).into(),
                    ),
                }
            }
            if role == AuroraRole::Secondary
                && let Some(primary) = t.site(&pg.primary).and_then(|s| s.aws.as_ref())
            {
                let from = primary.region.as_str();
                match catalog.prices.transfer_out_gb.get(from) {
                    Some(p) => b.line(
                        Some(id),
                        "transfer_replication",
                        format!("replication traffic {from} → {region}"),
                        t.usage.replication_transfer_gb,
                        "GB",
                        p.usd,
                        true,
                        (&p.provenance).into(),
                    ),
                    None => b.missing(
                        Some(id),
                        "transfer_replication",
                        "inter-region transfer",
                        from,
                    ),
                }
            }
        }
        // Cache.
        if site.redis
            && let Some(r) = &t.redis
        {
            let n = f64::from(1 + r.replicas_per_site);
            match catalog
                .cache_type(&r.node_type)
                .and_then(|c| c.price(region))
            {
                Some(p) => b.line(
                    Some(id),
                    "elasticache",
                    format!("{n} × {}", r.node_type),
                    n * hours,
                    "node-hour",
                    p.usd,
                    false,
                    (&p.provenance).into(),
                ),
                None => b.missing(Some(id), "elasticache", &r.node_type, region),
            }
        }
        // Load balancers.
        let public_lb = site.serves && site.eks && t.dns.is_some() && t.application.is_some();
        let internal_lb = site.monitoring_global;
        for (present, what) in [
            (public_lb, "application load balancer"),
            (
                internal_lb,
                "internal load balancer of the global Prometheus",
            ),
        ] {
            if !present {
                continue;
            }
            if let Some(p) = b.regional(
                catalog.prices.alb_hour.get(region),
                id,
                "load_balancer",
                "load balancer hour",
                region,
            ) {
                b.line(
                    Some(id),
                    "load_balancer",
                    what.to_string(),
                    hours,
                    "hour",
                    p.usd,
                    false,
                    (&p.provenance).into(),
                );
            }
            if let Some(p) = b.regional(
                catalog.prices.alb_lcu_hour.get(region),
                id,
                "load_balancer",
                "load balancer capacity unit",
                region,
            ) {
                b.line(
                    Some(id),
                    "load_balancer_capacity",
                    format!("{what}: capacity units"),
                    t.usage.load_balancer_lcu * hours,
                    "LCU-hour",
                    p.usd,
                    true,
                    (&p.provenance).into(),
                );
            }
        }
        // Cassandra volumes and replication.
        if let Some(c) = &t.cassandra
            && let Some(dc) = c.datacenters.iter().find(|d| d.site == id)
        {
            if let Some(p) = b.regional(
                catalog.prices.gp3_gb_month.get(region),
                id,
                "ebs_cassandra",
                "gp3 storage",
                region,
            ) {
                let gb = f64::from(dc.nodes) * f64::from(dc.storage_size_gi);
                b.line(
                    Some(id),
                    "ebs_cassandra",
                    format!("{} × {} GiB gp3 (Cassandra)", dc.nodes, dc.storage_size_gi),
                    gb,
                    "GB-month",
                    p.usd,
                    false,
                    (&p.provenance).into(),
                );
            }
            if c.datacenters.len() > 1 {
                match catalog.prices.transfer_out_gb.get(region) {
                    Some(p) => b.line(
                        Some(id),
                        "transfer_cassandra",
                        "Cassandra replication traffic out of this datacenter".into(),
                        t.usage.cassandra_replication_gb,
                        "GB",
                        p.usd,
                        true,
                        (&p.provenance).into(),
                    ),
                    None => b.missing(
                        Some(id),
                        "transfer_cassandra",
                        "inter-region transfer",
                        region,
                    ),
                }
            }
        }
    }
    // Fly.io: application machines, logical replica machine and volume, link gateway.
    if let (Some(app), Some(fly)) = (&t.application, &site.fly_region)
        && site.serves
    {
        match catalog.fly_machine(&app.fly_vm_size) {
            Some(m) => {
                let n = f64::from(app.fly_machines);
                b.line(
                    Some(id),
                    "fly_machines",
                    format!("{n} × {} in {fly}", m.name),
                    n,
                    "machine-month",
                    m.usd_month,
                    false,
                    (&m.provenance).into(),
                );
            }
            None => b.missing(Some(id), "fly_machines", &app.fly_vm_size, fly),
        }
    }
    if let Some(pg) = &t.postgres
        && let Some(r) = pg.logical_replicas.iter().find(|r| r.site == id)
    {
        let fly = site.fly_region.clone().unwrap_or_default();
        match catalog.fly_machine(&r.vm_size) {
            Some(m) => b.line(
                Some(id),
                "fly_machines",
                format!("PostgreSQL replica on {}", m.name),
                1.0,
                "machine-month",
                m.usd_month,
                false,
                (&m.provenance).into(),
            ),
            None => b.missing(Some(id), "fly_machines", &r.vm_size, &fly),
        }
        let v = &catalog.fly_volume;
        b.line(
            Some(id),
            "fly_volumes",
            "PostgreSQL replica volume".into(),
            f64::from(r.volume_size_gb),
            "GB-month",
            v.usd_gb_month,
            false,
            (&v.provenance).into(),
        );
        if let Some(via) = t.site(&r.via).and_then(|s| s.aws.as_ref()) {
            let region = via.region.as_str();
            match catalog
                .ec2_type("t3.medium")
                .and_then(|ty| ty.price(region))
            {
                Some(p) => b.line(
                    Some(id),
                    "fly_link_gateway",
                    format!("WireGuard gateway (t3.medium in {region})"),
                    hours,
                    "hour",
                    p.usd,
                    false,
                    (&p.provenance).into(),
                ),
                None => b.missing(Some(id), "fly_link_gateway", "t3.medium", region),
            }
            match catalog.prices.internet_egress_gb.get(region) {
                Some(p) => b.line(
                    Some(id),
                    "transfer_replication",
                    format!("replication traffic {region} → Fly.io"),
                    t.usage.replication_transfer_gb,
                    "GB",
                    p.usd,
                    true,
                    (&p.provenance).into(),
                ),
                None => b.missing(Some(id), "transfer_replication", "internet egress", region),
            }
        }
    }
}

fn price_group(
    b: &mut Builder,
    site: &str,
    region: &str,
    component: &'static str,
    g: &sovereign_check::NodeGroupV,
    spot_discount: Option<f64>,
) {
    let Some(first) = g.instance_types.first() else {
        return;
    };
    let Some(p) = b
        .catalog
        .ec2_type(first)
        .and_then(|ty| ty.price(region))
        .cloned()
    else {
        b.missing(Some(site), component, first, region);
        return;
    };
    let n = f64::from(g.desired_size);
    let node_hours = n * b.hours;
    let (price, what) = match spot_discount {
        Some(d) => (
            p.usd * (1.0 - d),
            format!(
                "{} Spot nodes, priced as {first} at {:.0} % off",
                g.desired_size,
                d * 100.0
            ),
        ),
        None => (
            p.usd,
            format!("{} on-demand nodes, priced as {first}", g.desired_size),
        ),
    };
    let mut source: PriceSource = (&p.provenance).into();
    if let Some(d) = spot_discount {
        let disc = &b.catalog.prices.global.spot_discount.provenance;
        source.status = source.status.weakest(disc.status);
        source.source = format!("{}; discount: {}", source.source, disc.source);
        b.spot_savings_cents += cents(node_hours * p.usd) - cents(node_hours * p.usd * (1.0 - d));
    }
    b.line(
        Some(site),
        component,
        what,
        node_hours,
        "node-hour",
        price,
        false,
        source,
    );
}

fn price_global(t: &ValidatedTopology, b: &mut Builder) {
    let g = &b.catalog.prices.global;
    let Some(d) = &t.dns else { return };
    let (zone, aws_check, other_check) = (
        g.route53_zone_month.clone(),
        g.route53_health_check_aws_month.clone(),
        g.route53_health_check_other_month.clone(),
    );
    let zones = if t.aws_sites().next().is_some() {
        2.0
    } else {
        1.0
    };
    b.line(
        None,
        "route53_zones",
        format!(
            "hosted zones: {}{}",
            d.zone,
            if zones > 1.0 {
                " and the private zone"
            } else {
                ""
            }
        ),
        zones,
        "zone-month",
        zone.usd,
        false,
        (&zone.provenance).into(),
    );
    let aws_checks = t
        .sites
        .iter()
        .filter(|s| s.health_check && s.eks && t.application.is_some())
        .count() as f64;
    let fly_checks = t
        .sites
        .iter()
        .filter(|s| s.health_check && !s.eks && s.fly_region.is_some() && t.application.is_some())
        .count() as f64;
    if aws_checks > 0.0 {
        b.line(
            None,
            "route53_health_checks",
            "health checks of AWS endpoints".into(),
            aws_checks,
            "check-month",
            aws_check.usd,
            false,
            (&aws_check.provenance).into(),
        );
    }
    if fly_checks > 0.0 {
        b.line(
            None,
            "route53_health_checks",
            "health checks of Fly.io endpoints".into(),
            fly_checks,
            "check-month",
            other_check.usd,
            false,
            (&other_check.provenance).into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sovereign_catalog::Date;

    fn topology(text: &str) -> ValidatedTopology {
        let r = sovereign_check::check_text(text, Catalog::builtin(), Date::new(2026, 11, 26));
        r.validated.unwrap_or_else(|| panic!("{:?}", r.diagnostics))
    }

    const SMALL: &str = r#"
[project]
name = "acme"

[[sites]]
id = "iad"
aws_region = "us-east-1"
vpc_cidr = "10.1.0.0/16"
availability_zones = ["use1-az1", "use1-az2"]

[network]
nat_gateways = "single"

[kubernetes.on_demand]
instance_types = ["m5.large"]
min_size = 2
desired_size = 3
max_size = 6

[kubernetes.spot]
instance_types = ["m5.large", "m5a.large"]
min_size = 0
desired_size = 4
max_size = 10

[postgres]
primary = "iad"
instance_class = "db.r6i.2xlarge"
instances = 2

[redis]
node_type = "cache.r6g.large"
replicas_per_site = 1

[usage]
aurora_storage_gb = 100
aurora_io_millions = 10
nat_processed_gb_per_site = 200
"#;

    fn line<'a>(r: &'a CostReport, component: &str) -> &'a CostLine {
        r.lines
            .iter()
            .find(|l| l.component == component)
            .unwrap_or_else(|| panic!("no {component} line"))
    }

    /// Hand calculations with us-east-1 catalog prices, 730 hours.
    #[test]
    fn lines_match_hand_calculations() {
        let r = estimate(&topology(SMALL), Catalog::builtin());
        assert!(r.missing.is_empty(), "{:?}", r.missing);
        // EKS control plane: 730 h × $0.10 = $73.00
        assert_eq!(line(&r, "eks_control_plane").monthly_cents, 7300);
        // On-demand: 3 × 730 h × $0.096 = $210.24
        assert_eq!(line(&r, "nodes_on_demand").monthly_cents, 21024);
        // Spot: 4 × 730 h × $0.096 × (1 − 0.70) = $84.096 → $84.10; savings 280.32 − 84.10
        assert_eq!(line(&r, "nodes_spot").monthly_cents, 8410);
        assert_eq!(r.spot_savings_cents, 28032 - 8410);
        // Aurora: 2 × 730 h × $1.16 = $1,693.60
        assert_eq!(line(&r, "aurora_instances").monthly_cents, 169360);
        // Storage: 100 GB × $0.10 = $10.00; I/O: 10 M × $0.20 = $2.00
        assert_eq!(line(&r, "aurora_storage").monthly_cents, 1000);
        assert_eq!(line(&r, "aurora_io").monthly_cents, 200);
        assert!(line(&r, "aurora_storage").assumption);
        // Cache: 2 nodes × 730 h × $0.206 = $300.76
        assert_eq!(line(&r, "elasticache").monthly_cents, 30076);
        // One NAT gateway: 730 h × $0.045 = $32.85; 200 GB × $0.045 = $9.00
        assert_eq!(line(&r, "nat_gateway").monthly_cents, 3285);
        assert_eq!(line(&r, "nat_data").monthly_cents, 900);
    }

    #[test]
    fn totals_reconcile_exactly() {
        for text in [
            SMALL,
            sovereign_spec::Template::GlobalSovereign.text(),
            sovereign_spec::Template::Minimal.text(),
        ] {
            let r = estimate(&topology(text), Catalog::builtin());
            let sum: i64 = r.lines.iter().map(|l| l.monthly_cents).sum();
            assert_eq!(sum, r.total_cents);
            assert_eq!(
                r.site_cents.values().sum::<i64>() + r.global_cents,
                r.total_cents
            );
            for (site, c) in &r.site_cents {
                let s: i64 = r
                    .lines
                    .iter()
                    .filter(|l| l.site.as_deref() == Some(site))
                    .map(|l| l.monthly_cents)
                    .sum();
                assert_eq!(s, *c, "{site}");
            }
        }
    }

    #[test]
    fn unknown_price_is_an_error_not_zero() {
        let text = SMALL.replace("db.r6i.2xlarge", "db.r8g.large");
        let r = estimate(&topology(&text), Catalog::builtin());
        assert_eq!(
            r.missing,
            vec![MissingPrice {
                site: Some("iad".into()),
                component: "aurora_instances",
                item: "db.r8g.large".into(),
                region: "us-east-1".into()
            }]
        );
        assert!(r.lines.iter().all(|l| l.component != "aurora_instances"));
    }

    #[test]
    fn hours_per_month_follow_the_topology() {
        let text = SMALL.replace("name = \"acme\"", "name = \"acme\"\nmonthly_hours = 720");
        let r = estimate(&topology(&text), Catalog::builtin());
        assert_eq!(line(&r, "eks_control_plane").monthly_cents, 7200);
    }

    #[test]
    fn budgets_compare_and_flag() {
        let text = format!(
            "{SMALL}\n[budgets]\nmonthly_total_usd = 1000\nrecipients = [\"a@b.example\"]\n[budgets.per_site]\niad = 5000\n"
        );
        let r = estimate(&topology(&text), Catalog::builtin());
        let total = r.budgets.iter().find(|b| b.site.is_none()).unwrap();
        assert!(total.exceeded);
        assert_eq!(total.margin_cents, 100000 - r.total_cents);
        let iad = r
            .budgets
            .iter()
            .find(|b| b.site.as_deref() == Some("iad"))
            .unwrap();
        assert!(!iad.exceeded);
        assert!(r.exceeded());
    }

    #[test]
    fn default_topology_is_fully_priced_and_within_budget() {
        let r = estimate(
            &topology(sovereign_spec::Template::GlobalSovereign.text()),
            Catalog::builtin(),
        );
        assert!(r.missing.is_empty(), "{:?}", r.missing);
        assert!(!r.exceeded(), "{:?}", r.budgets);
        let secondaries = r
            .lines
            .iter()
            .filter(|l| l.component == "aurora_replicated_write_io")
            .count();
        assert_eq!(secondaries, 4);
    }
}
