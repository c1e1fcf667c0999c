//! What a validated topology costs per month, per site and per component.
//!
//! [`estimate`] prices every component the topology deploys from the catalog: EKS control
//! planes, on-demand and Spot node groups, Aurora instances, storage, I/O and the replicated
//! write I/O of each secondary, caches, NAT gateways, load balancers, Route 53, EBS volumes of
//! Cassandra, replication traffic between regions, Fly.io machines and volumes. Usage-dependent
//! figures come from the topology's `[usage]` and are marked as assumptions.
//!
//! Every line carries the catalog provenance of its price. A component with no known price is
//! reported as a [`MissingPrice`], never counted as $0.
//!
//! Amounts are whole cents in `i64`. A line's amount is its quantity times its unit price,
//! both read as the decimals they print as, multiplied exactly and rounded once; subtotals,
//! the total, the Spot savings and the budget margins are checked sums of those cents. An
//! amount that does not fit (or is not a number) is a [`CostError`] naming the line or the
//! budget, never a clamped or wrapped figure. A budget is compared exactly: it is exceeded when
//! the estimate is more than the budget, not more than the budget rounded to the cent.

use std::collections::BTreeMap;

use serde::Serialize;
use sovereign_catalog::{Catalog, Provenance, RegionalPrice, Status};
use sovereign_check::{AuroraRole, LINK_GATEWAYS, SiteV, ValidatedTopology};
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
    /// Monthly amount in cents: `quantity × unit_price_usd`, both read as the decimals they
    /// print as (in JSON too), multiplied exactly and rounded once, half away from zero;
    /// totals add these.
    pub monthly_cents: i64,
    /// The quantity is a `[usage]` assumption rather than something the topology fixes.
    pub assumption: bool,
    pub price: PriceSource,
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
    /// The budget in whole cents, rounded down: `estimate_cents > budget_cents` exactly when
    /// the estimate is more than the budget as written (`9.996` is 999 cents, and 1000 exceeds
    /// it).
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

    /// Cents per component within each site (`None`: not tied to a site), from the lines; the
    /// components of a site add up to its entry in `site_cents`.
    pub fn by_component(&self) -> BTreeMap<Option<String>, BTreeMap<&'static str, i64>> {
        let mut out: BTreeMap<Option<String>, BTreeMap<&'static str, i64>> = BTreeMap::new();
        for l in &self.lines {
            *out.entry(l.site.clone())
                .or_default()
                .entry(l.component)
                .or_default() += l.monthly_cents;
        }
        out
    }

    /// The budget of a site, or the total budget for `None`.
    pub fn budget(&self, site: Option<&str>) -> Option<&BudgetCheck> {
        self.budgets.iter().find(|b| b.site.as_deref() == site)
    }
}

/// An amount the model cannot represent in whole cents of an `i64`: the estimate is refused
/// rather than printed wrong.
#[derive(Clone, Debug, PartialEq)]
pub enum CostError {
    /// A line's quantity times its unit price is not a finite number of cents that fits.
    Line {
        site: Option<String>,
        component: &'static str,
        description: String,
        quantity: f64,
        unit: String,
        unit_price_usd: f64,
        /// The `[usage]` key the quantity comes from, when it is an assumption.
        usage_key: Option<&'static str>,
    },
    /// A sum of lines (a site's subtotal, the total, ...) does not fit.
    Sum { what: String },
    /// A budget is not a finite number of dollars whose cents fit.
    Budget { key: String, usd: f64 },
}

/// A figure readable at any size: `1e18`, `0.1`, `730`.
fn figure(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && !(1e-6..1e15).contains(&a) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

impl std::fmt::Display for CostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CostError::Line {
                site,
                component,
                description,
                quantity,
                unit,
                unit_price_usd,
                usage_key,
            } => {
                write!(
                    f,
                    "the `{component}` line{} ({description}) is too large to represent: {} {unit} × ${} a month",
                    site.as_ref()
                        .map(|s| format!(" of site `{s}`"))
                        .unwrap_or_default(),
                    figure(*quantity),
                    figure(*unit_price_usd),
                )?;
                if let Some(k) = usage_key {
                    write!(f, "; the quantity comes from `[usage] {k}`")?;
                }
                Ok(())
            }
            CostError::Sum { what } => {
                write!(f, "{what} is too large to represent in cents")
            }
            CostError::Budget { key, usd } => write!(
                f,
                "`{key}` = {} is not an amount of dollars that can be represented in cents",
                figure(*usd)
            ),
        }
    }
}

impl std::error::Error for CostError {}

/// Components that are deployed but not in the model.
pub const NOT_PRICED: &[&str] = &[
    "KMS keys (about $1 a month each: one per AWS site, DNSSEC, DNS logs, state)",
    "WAF web ACLs and requests",
    "CloudWatch Logs ingestion and storage (flow logs, control-plane logs, slow logs)",
    "Secrets Manager secrets and replicas",
    "S3 storage of state and access logs",
    "public IPv4 addresses of NAT gateways and load balancers",
];

/// `x` as the decimal it prints as (the shortest that reads back as the same `f64`, which is
/// what was written in the topology or the catalog): `(digits, exponent)` with
/// `x = digits × 10^exponent`. `None` for infinities and NaN.
fn decimal(x: f64) -> Option<(i128, i32)> {
    if !x.is_finite() {
        return None;
    }
    // `{:e}` prints the shortest round-trip digits: `-4.5e-2`, `1e18`, `0e0`.
    let s = format!("{x:e}");
    let (mantissa, exponent) = s.split_once('e')?;
    let exponent: i32 = exponent.parse().ok()?;
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // At most 17 significant digits.
    let digits: i128 = format!("{int}{frac}").parse().ok()?;
    let exponent = exponent.checked_sub(i32::try_from(frac.len()).ok()?)?;
    Some((if negative { -digits } else { digits }, exponent))
}

/// `digits × 10^exponent` as an integer, rounded half away from zero (`round`) or toward
/// minus infinity (`floor`); `None` when it does not fit an i64.
fn scale(digits: i128, exponent: i32, floor: bool) -> Option<i64> {
    if digits == 0 {
        return Some(0);
    }
    let value = if exponent >= 0 {
        digits.checked_mul(10i128.checked_pow(exponent.unsigned_abs())?)?
    } else {
        let n = exponent.unsigned_abs();
        // |digits| < 10^35, so beyond 10^38 the quotient is below ½ in magnitude.
        match 10i128.checked_pow(n) {
            Some(d) if n <= 38 => {
                if floor {
                    digits.div_euclid(d)
                } else {
                    let (q, r) = (digits / d, digits % d);
                    if 2 * r.abs() >= d {
                        q + digits.signum()
                    } else {
                        q
                    }
                }
            }
            _ => {
                if floor && digits < 0 {
                    -1
                } else {
                    0
                }
            }
        }
    };
    i64::try_from(value).ok()
}

/// `quantity × unit_price` dollars in whole cents: the product of the two decimals (see
/// [`CostLine::monthly_cents`]) computed exactly and rounded once, half away from zero.
/// `None` when either is not finite or the cents do not fit an i64.
pub fn product_cents(quantity: f64, unit_price: f64) -> Option<i64> {
    let (dq, eq) = decimal(quantity)?;
    let (dp, ep) = decimal(unit_price)?;
    // Two numbers of at most 17 digits: below 10^34, no overflow.
    let digits = dq.checked_mul(dp)?;
    scale(digits, eq.checked_add(ep)?.checked_add(2)?, false)
}

/// `usd` dollars in whole cents, rounded down, exactly; `None` when it is not finite or does
/// not fit an i64.
pub fn floor_cents(usd: f64) -> Option<i64> {
    let (d, e) = decimal(usd)?;
    scale(d, e.checked_add(2)?, true)
}

/// One line before it is priced.
struct Line {
    component: &'static str,
    description: String,
    quantity: f64,
    unit: &'static str,
    unit_price: f64,
    price: PriceSource,
    /// The `[usage]` key the quantity comes from, when it is an assumption.
    usage: Option<&'static str>,
}

struct Builder<'a> {
    catalog: &'a Catalog,
    hours: f64,
    lines: Vec<CostLine>,
    missing: Vec<MissingPrice>,
    spot_savings_cents: i64,
    /// The first amount that could not be represented.
    error: Option<CostError>,
}

impl Builder<'_> {
    fn fail(&mut self, e: CostError) {
        self.error.get_or_insert(e);
    }

    fn line(&mut self, site: Option<&str>, l: Line) {
        self.priced(site, l);
    }

    /// Adds a priced line; returns its cents, or `None` (and records why) when they do not fit.
    fn priced(&mut self, site: Option<&str>, l: Line) -> Option<i64> {
        let Some(cents) = product_cents(l.quantity, l.unit_price) else {
            self.fail(CostError::Line {
                site: site.map(str::to_string),
                component: l.component,
                description: l.description,
                quantity: l.quantity,
                unit: l.unit.to_string(),
                unit_price_usd: l.unit_price,
                usage_key: l.usage,
            });
            return None;
        };
        self.lines.push(CostLine {
            site: site.map(str::to_string),
            component: l.component,
            description: l.description,
            quantity: l.quantity,
            unit: l.unit.to_string(),
            unit_price_usd: l.unit_price,
            monthly_cents: cents,
            assumption: l.usage.is_some(),
            price: l.price,
        });
        Some(cents)
    }

    fn missing(&mut self, site: Option<&str>, component: &'static str, item: &str, region: &str) {
        self.missing.push(MissingPrice {
            site: site.map(str::to_string),
            component,
            item: item.to_string(),
            region: region.to_string(),
        });
    }
}

fn add(a: i64, b: i64, what: impl FnOnce() -> String) -> Result<i64, CostError> {
    a.checked_add(b)
        .ok_or_else(|| CostError::Sum { what: what() })
}

/// Prices a validated topology. An amount too large to represent in cents is an error naming
/// the line, sum or budget, whatever the inputs (the checker bounds them, the model does not
/// rely on it).
pub fn estimate(t: &ValidatedTopology, catalog: &Catalog) -> Result<CostReport, CostError> {
    let hours = f64::from(t.project.monthly_hours);
    let mut b = Builder {
        catalog,
        hours,
        lines: Vec::new(),
        missing: Vec::new(),
        spot_savings_cents: 0,
        error: None,
    };
    for site in &t.sites {
        price_site(t, site, &mut b);
    }
    price_global(t, &mut b);
    if let Some(e) = b.error {
        return Err(e);
    }

    let mut site_cents: BTreeMap<String, i64> =
        t.sites.iter().map(|s| (s.id.to_string(), 0)).collect();
    let mut global_cents: i64 = 0;
    for l in &b.lines {
        match &l.site {
            Some(s) => {
                let c = site_cents.entry(s.clone()).or_default();
                *c = add(*c, l.monthly_cents, || {
                    format!("the subtotal of site `{s}`")
                })?;
            }
            None => {
                global_cents = add(global_cents, l.monthly_cents, || {
                    "the sum of the lines not tied to a site".into()
                })?
            }
        }
    }
    let mut total_cents = global_cents;
    for c in site_cents.values() {
        total_cents = add(total_cents, *c, || "the total".into())?;
    }
    let check = |site: Option<&str>, key: String, usd: f64, est: i64| {
        let budget = floor_cents(usd).ok_or_else(|| CostError::Budget {
            key: key.clone(),
            usd,
        })?;
        let margin = budget.checked_sub(est).ok_or_else(|| CostError::Sum {
            what: format!("the margin of `{key}`"),
        })?;
        Ok::<_, CostError>(BudgetCheck {
            site: site.map(str::to_string),
            budget_cents: budget,
            estimate_cents: est,
            margin_cents: margin,
            exceeded: est > budget,
        })
    };
    let mut budgets = Vec::new();
    if let Some(bud) = &t.budgets {
        budgets.push(check(
            None,
            "budgets.monthly_total_usd".into(),
            bud.monthly_total_usd,
            total_cents,
        )?);
        for (site, amount) in &bud.per_site {
            let est = site_cents.get(site.as_str()).copied().unwrap_or(0);
            budgets.push(check(
                Some(site.as_str()),
                format!("budgets.per_site.{site}"),
                *amount,
                est,
            )?);
        }
    }
    Ok(CostReport {
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
    })
}

/// One AWS site being priced: the topology, the site's id and its region.
struct AwsCx<'t> {
    t: &'t ValidatedTopology,
    site: &'t SiteV,
    id: &'t str,
    region: &'t str,
}

impl Builder<'_> {
    /// A line from a price the catalog may lack: added when it has it, otherwise reported
    /// missing as `item` in `region`.
    fn line_or_missing<P>(
        &mut self,
        site: &str,
        price: Option<P>,
        (component, item, region): (&'static str, &str, &str),
        line: impl FnOnce(P) -> Line,
    ) {
        match price {
            Some(p) => self.line(Some(site), line(p)),
            None => self.missing(Some(site), component, item, region),
        }
    }
}

/// A line of `quantity` `unit`s at a regional price.
fn regional_line(
    component: &'static str,
    description: String,
    quantity: f64,
    unit: &'static str,
    usage: Option<&'static str>,
) -> impl FnOnce(&RegionalPrice) -> Line {
    move |p| Line {
        component,
        description,
        quantity,
        unit,
        unit_price: p.usd,
        price: (&p.provenance).into(),
        usage,
    }
}

/// Every line of one site, component by component.
fn price_site(t: &ValidatedTopology, site: &SiteV, b: &mut Builder) {
    if let Some(aws) = &site.aws {
        let cx = AwsCx {
            t,
            site,
            id: site.id.as_str(),
            region: aws.region.as_str(),
        };
        price_network(&cx, aws.azs.len(), b);
        price_kubernetes(&cx, b);
        price_aurora(&cx, b);
        price_cache(&cx, b);
        price_load_balancers(&cx, b);
        price_cassandra(&cx, b);
    }
    price_fly_apps(t, site, b);
    price_logical_replica(t, site, b);
}

/// NAT gateways (one per zone or one in all) and the data they process.
fn price_network(cx: &AwsCx, zones: usize, b: &mut Builder) {
    let (t, id, region) = (cx.t, cx.id, cx.region);
    let prices = &b.catalog.prices;
    let nat = match t.network.nat_gateways {
        NatMode::PerAz => zones,
        NatMode::Single => 1,
    } as f64;
    b.line_or_missing(
        id,
        prices.nat_gateway_hour.get(region),
        ("nat_gateway", "NAT gateway hour", region),
        regional_line(
            "nat_gateway",
            format!("{nat} NAT gateways"),
            nat * b.hours,
            "hour",
            None,
        ),
    );
    b.line_or_missing(
        id,
        prices.nat_gateway_gb.get(region),
        ("nat_data", "NAT data processed", region),
        regional_line(
            "nat_data",
            "NAT data processed".into(),
            t.usage.nat_processed_gb_per_site,
            "GB",
            Some("nat_processed_gb_per_site"),
        ),
    );
}

/// The EKS control plane (standard or extended support) and the node groups.
fn price_kubernetes(cx: &AwsCx, b: &mut Builder) {
    let (Some(k), true) = (&cx.t.kubernetes, cx.site.has_eks()) else {
        return;
    };
    let g = &b.catalog.prices.global;
    let (rate, what) = if k.extended_support {
        (&g.eks_extended_hour, "extended support")
    } else {
        (&g.eks_standard_hour, "standard support")
    };
    let line = Line {
        component: "eks_control_plane",
        description: format!("EKS {} control plane ({what})", k.version),
        quantity: b.hours,
        unit: "hour",
        unit_price: rate.usd,
        price: (&rate.provenance).into(),
        usage: None,
    };
    b.line(Some(cx.id), line);
    price_group(b, cx.id, cx.region, "nodes_on_demand", &k.on_demand, None);
    if let Some(spot) = &k.spot {
        let discount = b.catalog.prices.global.spot_discount.value;
        price_group(b, cx.id, cx.region, "nodes_spot", spot, Some(discount));
    }
}

/// An Aurora member: its instances, storage, I/O (requests on the primary, replicated writes on
/// a secondary) and, on a secondary, the replication traffic from the primary's region.
fn price_aurora(cx: &AwsCx, b: &mut Builder) {
    let (t, id, region) = (cx.t, cx.id, cx.region);
    let (Some(pg), Some(role)) = (&t.postgres, cx.site.aurora()) else {
        return;
    };
    let catalog = b.catalog;
    let prices = &catalog.prices;
    let n = f64::from(pg.instances.get(id).copied().unwrap_or(0));
    b.line_or_missing(
        id,
        catalog
            .rds_class(&pg.instance_class)
            .and_then(|c| c.price(region)),
        ("aurora_instances", &pg.instance_class, region),
        regional_line(
            "aurora_instances",
            format!("{n} × {}", pg.instance_class),
            n * b.hours,
            "instance-hour",
            None,
        ),
    );
    b.line_or_missing(
        id,
        prices.aurora_storage_gb_month.get(region),
        ("aurora_storage", "Aurora storage", region),
        regional_line(
            "aurora_storage",
            "Aurora storage (a full copy in every member region)".into(),
            t.usage.aurora_storage_gb,
            "GB-month",
            Some("aurora_storage_gb"),
        ),
    );
    let io = match role {
        AuroraRole::Primary => regional_line(
            "aurora_io",
            "Aurora I/O requests".into(),
            t.usage.aurora_io_millions,
            "million requests",
            Some("aurora_io_millions"),
        ),
        AuroraRole::Secondary => regional_line(
            "aurora_replicated_write_io",
            "replicated write I/O into this secondary".into(),
            t.usage.aurora_write_io_millions,
            "million requests",
            Some("aurora_write_io_millions"),
        ),
    };
    b.line_or_missing(
        id,
        prices.aurora_io_million.get(region),
        ("aurora_io", "Aurora I/O", region),
        io,
    );
    if role == AuroraRole::Secondary
        && let Some(primary) = t.find_site(&pg.primary).and_then(|s| s.aws.as_ref())
    {
        let from = primary.region.as_str();
        b.line_or_missing(
            id,
            prices.transfer_out_gb.get(from),
            ("transfer_replication", "inter-region transfer", from),
            regional_line(
                "transfer_replication",
                format!("replication traffic {from} → {region}"),
                t.usage.replication_transfer_gb,
                "GB",
                Some("replication_transfer_gb"),
            ),
        );
    }
}

/// The site's ElastiCache nodes: the primary and its replicas.
fn price_cache(cx: &AwsCx, b: &mut Builder) {
    let (Some(r), true) = (&cx.t.redis, cx.site.has_cache()) else {
        return;
    };
    let n = f64::from(1 + r.replicas_per_site);
    b.line_or_missing(
        cx.id,
        b.catalog
            .cache_type(&r.node_type)
            .and_then(|c| c.price(cx.region)),
        ("elasticache", &r.node_type, cx.region),
        regional_line(
            "elasticache",
            format!("{n} × {}", r.node_type),
            n * b.hours,
            "node-hour",
            None,
        ),
    );
}

/// The public application load balancer and the global Prometheus's internal one: hours and
/// capacity units.
fn price_load_balancers(cx: &AwsCx, b: &mut Builder) {
    let (t, site, id, region) = (cx.t, cx.site, cx.id, cx.region);
    let prices = &b.catalog.prices;
    let public_lb = site.serves() && site.has_eks() && t.dns.is_some() && t.application.is_some();
    let internal_lb = site.is_monitoring_global();
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
        b.line_or_missing(
            id,
            prices.alb_hour.get(region),
            ("load_balancer", "load balancer hour", region),
            regional_line("load_balancer", what.to_string(), b.hours, "hour", None),
        );
        b.line_or_missing(
            id,
            prices.alb_lcu_hour.get(region),
            ("load_balancer", "load balancer capacity unit", region),
            regional_line(
                "load_balancer_capacity",
                format!("{what}: capacity units"),
                t.usage.load_balancer_lcu * b.hours,
                "LCU-hour",
                Some("load_balancer_lcu"),
            ),
        );
    }
}

/// A Cassandra datacenter's volumes and, with other datacenters, its replication traffic.
fn price_cassandra(cx: &AwsCx, b: &mut Builder) {
    let (t, id, region) = (cx.t, cx.id, cx.region);
    let Some(c) = &t.cassandra else { return };
    let Some(dc) = c.datacenters.iter().find(|d| d.site == id) else {
        return;
    };
    let prices = &b.catalog.prices;
    b.line_or_missing(
        id,
        prices.gp3_gb_month.get(region),
        ("ebs_cassandra", "gp3 storage", region),
        regional_line(
            "ebs_cassandra",
            format!("{} × {} GiB gp3 (Cassandra)", dc.nodes, dc.storage_size_gi),
            f64::from(dc.nodes) * f64::from(dc.storage_size_gi),
            "GB-month",
            None,
        ),
    );
    if c.datacenters.len() > 1 {
        b.line_or_missing(
            id,
            prices.transfer_out_gb.get(region),
            ("transfer_cassandra", "inter-region transfer", region),
            regional_line(
                "transfer_cassandra",
                "Cassandra replication traffic out of this datacenter".into(),
                t.usage.cassandra_replication_gb,
                "GB",
                Some("cassandra_replication_gb"),
            ),
        );
    }
}

/// The application's machines in a Fly.io site that serves.
fn price_fly_apps(t: &ValidatedTopology, site: &SiteV, b: &mut Builder) {
    let (Some(app), Some(fly), true) = (&t.application, site.fly_region(), site.serves()) else {
        return;
    };
    let n = f64::from(app.fly_machines);
    b.line_or_missing(
        site.id.as_str(),
        b.catalog.fly_machine(&app.fly_vm_size),
        ("fly_machines", &app.fly_vm_size, fly),
        |m| Line {
            component: "fly_machines",
            description: format!("{n} × {} in {fly}", m.name),
            quantity: n,
            unit: "machine-month",
            unit_price: m.usd_month,
            price: (&m.provenance).into(),
            usage: None,
        },
    );
}

/// A logical replica on Fly.io: its machine and volume, every link's gateways (one per zone,
/// through `via` and through the successor) and the replication traffic out of AWS.
fn price_logical_replica(t: &ValidatedTopology, site: &SiteV, b: &mut Builder) {
    let id = site.id.as_str();
    let Some(pg) = &t.postgres else { return };
    let Some(r) = pg.logical_replicas.iter().find(|r| r.site == id) else {
        return;
    };
    let catalog = b.catalog;
    let fly = site.fly_region().unwrap_or_default();
    b.line_or_missing(
        id,
        catalog.fly_machine(&r.vm_size),
        ("fly_machines", &r.vm_size, fly),
        |m| Line {
            component: "fly_machines",
            description: format!("PostgreSQL replica on {}", m.name),
            quantity: 1.0,
            unit: "machine-month",
            unit_price: m.usd_month,
            price: (&m.provenance).into(),
            usage: None,
        },
    );
    let v = &catalog.fly_volume;
    b.line(
        Some(id),
        Line {
            component: "fly_volumes",
            description: "PostgreSQL replica volume".into(),
            quantity: f64::from(r.volume_size_gb),
            unit: "GB-month",
            unit_price: v.usd_gb_month,
            price: (&v.provenance).into(),
            usage: None,
        },
    );
    for link in r.link_sites() {
        let Some(aws) = t.find_site(link).and_then(|s| s.aws.as_ref()) else {
            continue;
        };
        let region = aws.region.as_str();
        let n = LINK_GATEWAYS as f64;
        b.line_or_missing(
            id,
            catalog.ec2_price("t3.medium", region),
            ("fly_link_gateway", "t3.medium", region),
            regional_line(
                "fly_link_gateway",
                format!(
                    "{n} WireGuard gateways of the link through {link} (t3.medium in {region})"
                ),
                b.hours * n,
                "hour",
                None,
            ),
        );
    }
    if let Some(via) = t.find_site(&r.via).and_then(|s| s.aws.as_ref()) {
        let region = via.region.as_str();
        b.line_or_missing(
            id,
            catalog.prices.internet_egress_gb.get(region),
            ("transfer_replication", "internet egress", region),
            regional_line(
                "transfer_replication",
                format!("replication traffic {region} → Fly.io"),
                t.usage.replication_transfer_gb,
                "GB",
                Some("replication_transfer_gb"),
            ),
        );
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
    let Some(p) = b.catalog.ec2_price(first, region).cloned() else {
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
    if spot_discount.is_some() {
        let disc = &b.catalog.prices.global.spot_discount.provenance;
        source.status = source.status.weakest(disc.status);
        source.source = format!("{}; discount: {}", source.source, disc.source);
    }
    let cents = b.priced(
        Some(site),
        Line {
            component,
            description: what,
            quantity: node_hours,
            unit: "node-hour",
            unit_price: price,
            price: source,
            usage: None,
        },
    );
    if let (Some(spot), Some(_)) = (cents, spot_discount) {
        // What the same node-hours cost on demand, less what the Spot line costs.
        let saved = product_cents(node_hours, p.usd)
            .and_then(|on_demand| on_demand.checked_sub(spot))
            .and_then(|s| b.spot_savings_cents.checked_add(s));
        match saved {
            Some(s) => b.spot_savings_cents = s,
            None => b.fail(CostError::Sum {
                what: format!("the Spot savings of site `{site}`"),
            }),
        }
    }
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
        Line {
            component: "route53_zones",
            description: format!(
                "hosted zones: {}{}",
                d.zone,
                if zones > 1.0 {
                    " and the private zone"
                } else {
                    ""
                }
            ),
            quantity: zones,
            unit: "zone-month",
            unit_price: zone.usd,
            price: (&zone.provenance).into(),
            usage: None,
        },
    );
    let aws_checks = t
        .sites
        .iter()
        .filter(|s| s.health_check && s.has_eks() && t.application.is_some())
        .count() as f64;
    let fly_checks = t
        .sites
        .iter()
        .filter(|s| {
            s.health_check && !s.has_eks() && s.fly_region().is_some() && t.application.is_some()
        })
        .count() as f64;
    if aws_checks > 0.0 {
        b.line(
            None,
            Line {
                component: "route53_health_checks",
                description: "health checks of AWS endpoints".into(),
                quantity: aws_checks,
                unit: "check-month",
                unit_price: aws_check.usd,
                price: (&aws_check.provenance).into(),
                usage: None,
            },
        );
    }
    if fly_checks > 0.0 {
        b.line(
            None,
            Line {
                component: "route53_health_checks",
                description: "health checks of Fly.io endpoints".into(),
                quantity: fly_checks,
                unit: "check-month",
                unit_price: other_check.usd,
                price: (&other_check.provenance).into(),
                usage: None,
            },
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
        let r = estimate(&topology(SMALL), Catalog::builtin()).unwrap();
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
            let r = estimate(&topology(text), Catalog::builtin()).unwrap();
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
        let r = estimate(&topology(&text), Catalog::builtin()).unwrap();
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
        let r = estimate(&topology(&text), Catalog::builtin()).unwrap();
        assert_eq!(line(&r, "eks_control_plane").monthly_cents, 7200);
    }

    #[test]
    fn budgets_compare_and_flag() {
        let text = format!(
            "{SMALL}\n[budgets]\nmonthly_total_usd = 1000\nrecipients = [\"a@b.example\"]\n[budgets.per_site]\niad = 5000\n"
        );
        let r = estimate(&topology(&text), Catalog::builtin()).unwrap();
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
        )
        .unwrap();
        assert!(r.missing.is_empty(), "{:?}", r.missing);
        assert!(!r.exceeded(), "{:?}", r.budgets);
        let secondaries = r
            .lines
            .iter()
            .filter(|l| l.component == "aurora_replicated_write_io")
            .count();
        assert_eq!(secondaries, 4);
    }

    #[test]
    fn components_add_up_to_their_site() {
        let r = estimate(
            &topology(sovereign_spec::Template::GlobalSovereign.text()),
            Catalog::builtin(),
        )
        .unwrap();
        let by = r.by_component();
        for (site, cents) in &r.site_cents {
            let sum: i64 = by
                .get(&Some(site.clone()))
                .map(|c| c.values().sum())
                .unwrap_or(0);
            assert_eq!(sum, *cents, "{site}");
        }
        let global: i64 = by.get(&None).map(|c| c.values().sum()).unwrap_or(0);
        assert_eq!(global, r.global_cents);
        assert!(by[&Some("ams".to_string())].contains_key("aurora_instances"));
        assert_eq!(r.budget(Some("jnb")).unwrap().budget_cents, 40_000);
        assert!(r.budget(None).is_some());
    }

    /// Finding 6 of issue 10: `aurora_storage_gb = 1e18` clamped the line, the site subtotal
    /// wrapped negative and the total read $1,306.05 within budget. Whatever the checker
    /// lets through, a figure too large is an error naming the line and its `[usage]` key.
    #[test]
    fn a_line_too_large_is_an_error_naming_it() {
        let mut t = topology(SMALL);
        t.usage.aurora_storage_gb = 1e18;
        let e = estimate(&t, Catalog::builtin()).unwrap_err();
        assert!(
            matches!(
                &e,
                CostError::Line {
                    component: "aurora_storage",
                    usage_key: Some("aurora_storage_gb"),
                    site: Some(s),
                    ..
                } if s == "iad"
            ),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains("`aurora_storage` line of site `iad`"), "{msg}");
        assert!(msg.contains("1e18 GB-month × $0.1"), "{msg}");
        assert!(msg.contains("[usage] aurora_storage_gb"), "{msg}");
        for bad in [f64::INFINITY, f64::NAN, f64::MAX] {
            let mut t = topology(SMALL);
            t.usage.nat_processed_gb_per_site = bad;
            let e = estimate(&t, Catalog::builtin()).unwrap_err();
            assert!(
                matches!(
                    e,
                    CostError::Line {
                        component: "nat_data",
                        ..
                    }
                ),
                "{bad}: {e:?}"
            );
        }
    }

    /// Lines that each fit but whose sum does not: an error, never a wrapped subtotal.
    #[test]
    fn a_sum_too_large_is_an_error() {
        let mut t = topology(SMALL);
        // 6e17 GB × $0.10 and 3e17 M × $0.20: 6e18 cents each, 1.2e19 together > i64::MAX.
        t.usage.aurora_storage_gb = 6e17;
        t.usage.aurora_io_millions = 3e17;
        let e = estimate(&t, Catalog::builtin()).unwrap_err();
        assert_eq!(
            e,
            CostError::Sum {
                what: "the subtotal of site `iad`".into()
            }
        );
        // Each alone fits, and is exact to the cent.
        t.usage.aurora_io_millions = 10.0;
        let r = estimate(&t, Catalog::builtin()).unwrap();
        assert_eq!(
            line(&r, "aurora_storage").monthly_cents,
            6_000_000_000_000_000_000
        );
        assert!(r.total_cents > line(&r, "aurora_storage").monthly_cents);
    }

    /// A budget compares with the estimate exactly, not rounded to the cent first.
    #[test]
    fn budgets_compare_exactly() {
        let with_budget = |usd: f64| {
            let mut t = topology(SMALL);
            let total = estimate(&t, Catalog::builtin()).unwrap().total_cents;
            t.budgets = Some(sovereign_check::BudgetsV {
                monthly_total_usd: usd,
                per_site: BTreeMap::from([(sovereign_check::SiteId::checked("iad"), usd)]),
                alert_thresholds_percent: vec![],
                recipients: vec![],
            });
            (total, estimate(&t, Catalog::builtin()))
        };
        let (total, _) = with_budget(1.0);
        let dollars = |cents: f64| cents / 100.0;
        // 0.4 cent under the estimate: exceeded (rounding the budget to the cent hid it).
        let (_, r) = with_budget(dollars(total as f64 - 0.4));
        let r = r.unwrap();
        for b in &r.budgets {
            assert!(b.exceeded, "{b:?}");
            assert_eq!(b.budget_cents, total - 1);
            assert_eq!(b.margin_cents, -1);
        }
        // Exactly the estimate, or a fraction of a cent over: within budget.
        for extra in [0.0, 0.4, 0.6] {
            let (_, r) = with_budget(dollars(total as f64 + extra));
            for b in &r.unwrap().budgets {
                assert!(!b.exceeded, "{extra}: {b:?}");
                assert_eq!(b.margin_cents, 0);
            }
        }
        // A budget of 1e-300 dollars is above 0 and below any estimate: exceeded, by the
        // whole estimate.
        let (_, r) = with_budget(1e-300);
        let b = &r.unwrap().budgets[0];
        assert!(b.exceeded);
        assert_eq!((b.budget_cents, b.margin_cents), (0, -total));
        // Budgets no i64 of cents holds are errors naming the key.
        for bad in [1e300, f64::INFINITY, f64::NAN] {
            let (_, r) = with_budget(bad);
            match r.unwrap_err() {
                CostError::Budget { key, .. } => assert_eq!(key, "budgets.monthly_total_usd"),
                e => panic!("{bad}: {e:?}"),
            }
        }
    }

    #[test]
    fn cents_are_exact() {
        // Decimal products rounded once, half away from zero.
        assert_eq!(product_cents(730.0, 0.045), Some(3285));
        assert_eq!(product_cents(0.5, 0.01), Some(1));
        assert_eq!(product_cents(-0.5, 0.01), Some(-1));
        assert_eq!(product_cents(0.4, 0.01), Some(0));
        assert_eq!(product_cents(2920.0, 0.096), Some(28032));
        assert_eq!(product_cents(1e300, 1e-300), Some(100));
        assert_eq!(product_cents(5e-324, 1.0), Some(0));
        assert_eq!(product_cents(0.0, f64::MAX), Some(0));
        assert_eq!(product_cents(9.2e16, 1.0), Some(9_200_000_000_000_000_000));
        assert_eq!(product_cents(9.3e16, 1.0), None);
        assert_eq!(product_cents(f64::MAX, 2.0), None);
        assert_eq!(product_cents(f64::NAN, 1.0), None);
        // Floors, of the decimal as written.
        assert_eq!(floor_cents(0.29), Some(29));
        assert_eq!(floor_cents(9.996), Some(999));
        assert_eq!(floor_cents(10.0), Some(1000));
        assert_eq!(floor_cents(1e-300), Some(0));
        assert_eq!(floor_cents(-1e-300), Some(-1));
        assert_eq!(floor_cents(-0.001), Some(-1));
        assert_eq!(floor_cents(1e9), Some(100_000_000_000));
        assert_eq!(floor_cents(1e300), None);
        assert_eq!(floor_cents(f64::NEG_INFINITY), None);
    }
}
