//! Facts the rules, the cost model and the survivability analysis need, each with its source.
//!
//! The data lives in `data/*.toml`, embedded at build time and parsed once. Every entry carries a
//! [`Status`], a source and the date of the snapshot it was read from. A fact nobody could
//! confirm is marked so, and a fact nobody knows is absent: code asking for it gets `None` and
//! must say "unknown", never guess.
//!
//! This crate reads nothing at run time and depends on no other Sovereign crate.

mod date;
pub mod derive;
mod instances;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

pub use date::Date;
pub use instances::{
    Arch, AuroraFacts, AuroraVersions, CacheFacts, Ec2Facts, Generation, InstanceType, Lookup,
    Offered, OfferingTable, Processor, UnshapedType,
};

/// How far a fact can be trusted.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Read in the cited source.
    Verified,
    /// From one source outside the vendor.
    ThirdParty,
    /// Computed from other facts by a stated rule.
    Derived,
    /// Background knowledge or a weak source.
    Unconfirmed,
    /// No value is known.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Verified => "verified",
            Status::ThirdParty => "third-party",
            Status::Derived => "derived",
            Status::Unconfirmed => "unconfirmed",
            Status::Unknown => "unknown",
        }
    }

    /// Good enough for a rule to report an error on (rather than a warning).
    pub fn is_confirmed(self) -> bool {
        matches!(self, Status::Verified)
    }

    /// The weaker of two statuses, for figures computed from both.
    pub fn weakest(self, other: Status) -> Status {
        self.max(other)
    }
}

/// Where a fact comes from.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    pub status: Status,
    pub source: String,
    pub as_of: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// A yes/no/unknown fact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Support {
    Yes,
    No,
    Unknown,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportFact {
    pub value: Support,
    #[serde(flatten)]
    pub provenance: Provenance,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzList {
    pub ids: Vec<String>,
    #[serde(flatten)]
    pub provenance: Provenance,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsRegion {
    pub code: String,
    pub name: String,
    pub opt_in: bool,
    pub azs: AzList,
    pub aurora_postgresql_global: SupportFact,
    pub elasticache_global_datastore: SupportFact,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyProxy {
    pub region: String,
    #[serde(default)]
    pub extra_rtt_ms: Option<f64>,
    #[serde(flatten)]
    pub provenance: Provenance,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlyRegion {
    pub code: String,
    pub city: String,
    #[serde(flatten)]
    pub provenance: Provenance,
    #[serde(default)]
    pub latency_proxy: Option<LatencyProxy>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlyMachine {
    pub name: String,
    pub cpus: u32,
    pub memory_mb: u32,
    pub usd_month: f64,
    #[serde(flatten)]
    pub provenance: Provenance,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlyVolume {
    pub usd_gb_month: f64,
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// A price in one region.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionalPrice {
    pub region: String,
    pub usd: f64,
    #[serde(flatten)]
    pub provenance: Provenance,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    General,
    Compute,
    Memory,
    Burstable,
    Storage,
    Accelerated,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::General => "general",
            Category::Compute => "compute",
            Category::Memory => "memory",
            Category::Burstable => "burstable",
            Category::Storage => "storage",
            Category::Accelerated => "accelerated",
        }
    }
}

impl InstanceType {
    pub fn price(&self, region: &str) -> Option<&RegionalPrice> {
        self.prices.iter().find(|p| p.region == region)
    }

    pub fn is_memory_optimized(&self) -> bool {
        self.category == Category::Memory
    }

    /// The size part of the name: `large` in `cache.r6g.large`.
    pub fn size(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or("")
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EksVersion {
    pub version: String,
    #[serde(default, deserialize_with = "opt_date")]
    pub released: Option<Date>,
    #[serde(default, deserialize_with = "opt_date")]
    pub end_of_standard: Option<Date>,
    #[serde(default, deserialize_with = "opt_date")]
    pub end_of_extended: Option<Date>,
    #[serde(flatten)]
    pub provenance: Provenance,
}

/// Where a version stands on a given day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupportPhase {
    Standard,
    Extended,
    Unsupported,
    Unknown,
}

impl EksVersion {
    pub fn phase(&self, today: Date) -> SupportPhase {
        match (self.end_of_standard, self.end_of_extended) {
            (Some(std), _) if today < std => SupportPhase::Standard,
            (_, Some(ext)) if today < ext => SupportPhase::Extended,
            (Some(_), Some(_)) => SupportPhase::Unsupported,
            _ => SupportPhase::Unknown,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresMajor {
    pub major: u32,
    #[serde(default, deserialize_with = "opt_date")]
    pub community_eol: Option<Date>,
    #[serde(default, deserialize_with = "opt_date")]
    pub aurora_end_of_standard: Option<Date>,
    #[serde(flatten)]
    pub provenance: Provenance,
    #[serde(default)]
    pub known_minors: Vec<String>,
    #[serde(default)]
    pub minors_source: Option<String>,
}

impl PostgresMajor {
    /// End of RDS Extended Support: three years after the end of standard support.
    pub fn aurora_end_of_extended(&self) -> Option<Date> {
        self.aurora_end_of_standard.map(|d| d.plus_years(3))
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CassandraSeries {
    pub series: String,
    pub latest: String,
    #[serde(default, deserialize_with = "opt_date")]
    pub released: Option<Date>,
    pub supported: bool,
    pub java: Vec<u32>,
    #[serde(flatten)]
    pub provenance: Provenance,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceList {
    pub unit: String,
    pub what: String,
    pub prices: Vec<RegionalPrice>,
}

impl PriceList {
    pub fn get(&self, region: &str) -> Option<&RegionalPrice> {
        self.prices.iter().find(|p| p.region == region)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalPrice {
    pub usd: f64,
    #[serde(flatten)]
    pub provenance: Provenance,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ratio {
    pub value: f64,
    #[serde(flatten)]
    pub provenance: Provenance,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalPrices {
    pub eks_standard_hour: GlobalPrice,
    pub eks_extended_hour: GlobalPrice,
    pub route53_zone_month: GlobalPrice,
    pub route53_health_check_aws_month: GlobalPrice,
    pub route53_health_check_other_month: GlobalPrice,
    pub cross_az_gb: GlobalPrice,
    pub public_ipv4_hour: GlobalPrice,
    pub spot_discount: Ratio,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub nat_gateway_hour: PriceList,
    pub nat_gateway_gb: PriceList,
    pub alb_hour: PriceList,
    pub alb_lcu_hour: PriceList,
    pub gp3_gb_month: PriceList,
    pub aurora_storage_gb_month: PriceList,
    pub aurora_io_million: PriceList,
    pub transfer_out_gb: PriceList,
    pub internet_egress_gb: PriceList,
    pub global: GlobalPrices,
}

/// A numeric limit with its source.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit<T> {
    pub value: T,
    #[serde(flatten)]
    pub provenance: Provenance,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuroraGlobalLimits {
    pub max_secondary_regions: Limit<u32>,
    pub max_instances_per_cluster: Limit<u32>,
    pub max_readers: Limit<u32>,
    pub promotion_seconds: Limit<f64>,
    pub typical_lag_seconds: Limit<f64>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElastiCacheGlobalLimits {
    pub max_secondary_regions: Limit<u32>,
    pub families: Limit<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route53Limits {
    pub health_check_intervals: Limit<Vec<u32>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EksLimits {
    pub min_subnet_azs: Limit<u32>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuroraLimits {
    pub min_subnet_azs: Limit<u32>,
    pub max_backup_retention_days: Limit<u32>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcLimits {
    pub peering_connections_default: Limit<u32>,
    pub peering_connections_max: Limit<u32>,
    /// Inbound rules one security group may hold by default (adjustable).
    pub security_group_inbound_rules_default: Limit<u32>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub vpc: VpcLimits,
    pub aurora_global: AuroraGlobalLimits,
    pub elasticache_global: ElastiCacheGlobalLimits,
    pub route53: Route53Limits,
    pub eks: EksLimits,
    pub aurora: AuroraLimits,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyFile {
    status: Status,
    source: String,
    as_of: String,
    regions: Vec<String>,
    rtt_ms: Vec<Vec<f64>>,
}

/// The inter-region round-trip matrix.
#[derive(Clone, Debug)]
pub struct LatencyMatrix {
    pub provenance: Provenance,
    pub regions: Vec<String>,
    rtt: Vec<Vec<f64>>,
    index: HashMap<String, usize>,
}

impl LatencyMatrix {
    /// Mean round trip of both directions between two AWS regions, when the matrix has both.
    pub fn rtt_ms(&self, a: &str, b: &str) -> Option<f64> {
        let i = *self.index.get(a)?;
        let j = *self.index.get(b)?;
        Some((self.rtt[i][j] + self.rtt[j][i]) / 2.0)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionsFile {
    region: Vec<AwsRegion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VersionsFile {
    eks: Vec<EksVersion>,
    postgres: Vec<PostgresMajor>,
    cassandra: Vec<CassandraSeries>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlyFile {
    region: Vec<FlyRegion>,
    machine: Vec<FlyMachine>,
    volume: FlyVolume,
}

/// Everything the catalog knows.
#[derive(Clone, Debug)]
pub struct Catalog {
    pub regions: Vec<AwsRegion>,
    pub fly_regions: Vec<FlyRegion>,
    pub fly_machines: Vec<FlyMachine>,
    pub fly_volume: FlyVolume,
    /// Where the list of EC2 type names comes from.
    pub ec2_names_source: std::sync::Arc<Provenance>,
    /// EC2 instance types with a shape (sourced or derived).
    pub ec2: Vec<InstanceType>,
    /// EC2 type names the API accepts whose shape is unknown.
    pub ec2_unshaped: Vec<UnshapedType>,
    /// Aurora PostgreSQL instance classes.
    pub rds: Vec<InstanceType>,
    /// ElastiCache node types.
    pub cache: Vec<InstanceType>,
    /// Where a shape the catalog derived by rule comes from.
    pub derived_shape: std::sync::Arc<Provenance>,
    ec2_index: HashMap<String, Found>,
    rds_index: HashMap<String, usize>,
    cache_index: HashMap<String, usize>,
    pub eks: Vec<EksVersion>,
    pub postgres: Vec<PostgresMajor>,
    pub cassandra: Vec<CassandraSeries>,
    pub prices: Prices,
    pub limits: Limits,
    pub latency: LatencyMatrix,
    /// Map positions of regions, for drawing only.
    pub places: Places,
}

/// The provider a [`Place`] belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Aws,
    Fly,
}

/// Where a region is drawn on a map: the centre of the city it is named after.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Place {
    pub provider: Provider,
    pub code: String,
    pub city: String,
    /// Decimal degrees, north positive.
    pub lat: f64,
    /// Decimal degrees, east positive.
    pub lon: f64,
}

/// Every region's map position, with one provenance for the file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Places {
    #[serde(flatten)]
    pub provenance: Provenance,
    pub place: Vec<Place>,
}

impl Places {
    /// The map position of a site's location.
    pub fn of(&self, loc: &Location) -> Option<&Place> {
        let (provider, code) = match loc {
            Location::Aws(c) => (Provider::Aws, c),
            Location::Fly(c) => (Provider::Fly, c),
        };
        self.place
            .iter()
            .find(|p| p.provider == provider && &p.code == code)
    }
}

/// The data files, in the order they are read; also what `sovereign explain --catalog` could list.
pub const DATA_FILES: &[(&str, &str)] = &[
    ("regions.toml", include_str!("../data/regions.toml")),
    ("ec2.toml", include_str!("../data/ec2.toml")),
    ("aurora.toml", include_str!("../data/aurora.toml")),
    ("cache.toml", include_str!("../data/cache.toml")),
    ("instances.toml", include_str!("../data/instances.toml")),
    ("versions.toml", include_str!("../data/versions.toml")),
    ("prices.toml", include_str!("../data/prices.toml")),
    ("limits.toml", include_str!("../data/limits.toml")),
    ("fly.toml", include_str!("../data/fly.toml")),
    ("latency.toml", include_str!("../data/latency.toml")),
    ("locations.toml", include_str!("../data/locations.toml")),
];

/// A data file that does not match the catalog's shape. Only a broken build can produce it;
/// the catalog's tests load every file.
#[derive(Debug)]
pub struct CatalogError {
    pub file: &'static str,
    pub message: String,
}

impl std::fmt::Display for CatalogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "catalog file `{}`: {}", self.file, self.message)
    }
}

impl std::error::Error for CatalogError {}

fn load<T: serde::de::DeserializeOwned>(file: &'static str) -> Result<T, CatalogError> {
    let text = DATA_FILES
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, text)| *text)
        .ok_or_else(|| CatalogError {
            file,
            message: "not embedded".into(),
        })?;
    toml::from_str(text).map_err(|e| CatalogError {
        file,
        message: e.to_string(),
    })
}

impl Catalog {
    /// Parses the embedded data.
    pub fn load() -> Result<Catalog, CatalogError> {
        let regions: RegionsFile = load("regions.toml")?;
        let versions: VersionsFile = load("versions.toml")?;
        let prices: Prices = load("prices.toml")?;
        let limits: Limits = load("limits.toml")?;
        let tables = instances::load_tables(&limits)?;
        let mut ec2_index = HashMap::new();
        for (i, t) in tables.ec2.iter().enumerate() {
            ec2_index.insert(t.name.clone(), Found::Shaped(i));
        }
        for (i, t) in tables.ec2_unshaped.iter().enumerate() {
            ec2_index.insert(t.name.clone(), Found::Unshaped(i));
        }
        let index = |list: &[InstanceType]| -> HashMap<String, usize> {
            list.iter()
                .enumerate()
                .map(|(i, t)| (t.name.clone(), i))
                .collect()
        };
        let rds_index = index(&tables.rds);
        let cache_index = index(&tables.cache);
        let fly: FlyFile = load("fly.toml")?;
        let places: Places = load("locations.toml")?;
        let lat: LatencyFile = load("latency.toml")?;
        let n = lat.regions.len();
        if lat.rtt_ms.len() != n || lat.rtt_ms.iter().any(|row| row.len() != n) {
            return Err(CatalogError {
                file: "latency.toml",
                message: format!("rtt_ms must be a {n}x{n} matrix"),
            });
        }
        let index = lat
            .regions
            .iter()
            .enumerate()
            .map(|(i, r)| (r.clone(), i))
            .collect();
        Ok(Catalog {
            regions: regions.region,
            fly_regions: fly.region,
            fly_machines: fly.machine,
            fly_volume: fly.volume,
            ec2_names_source: tables.ec2_names,
            ec2: tables.ec2,
            ec2_unshaped: tables.ec2_unshaped,
            rds: tables.rds,
            cache: tables.cache,
            derived_shape: tables.derived_shape,
            ec2_index,
            rds_index,
            cache_index,
            eks: versions.eks,
            postgres: versions.postgres,
            cassandra: versions.cassandra,
            prices,
            limits,
            latency: LatencyMatrix {
                provenance: Provenance {
                    status: lat.status,
                    source: lat.source,
                    as_of: lat.as_of,
                    note: None,
                },
                regions: lat.regions,
                rtt: lat.rtt_ms,
                index,
            },
            places,
        })
    }

    /// The embedded catalog, parsed once.
    ///
    /// # Panics
    ///
    /// Only if the embedded data files are malformed, which the crate's tests rule out for any
    /// build that passed them.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| match Catalog::load() {
            Ok(c) => c,
            Err(e) => panic!("embedded catalog is broken: {e}"),
        })
    }

    pub fn region(&self, code: &str) -> Option<&AwsRegion> {
        self.regions.iter().find(|r| r.code == code)
    }

    pub fn fly_region(&self, code: &str) -> Option<&FlyRegion> {
        self.fly_regions.iter().find(|r| r.code == code)
    }

    pub fn fly_machine(&self, name: &str) -> Option<&FlyMachine> {
        self.fly_machines.iter().find(|m| m.name == name)
    }

    /// An EC2 instance type with a known shape.
    pub fn ec2_type(&self, name: &str) -> Option<&InstanceType> {
        match self.ec2_index.get(name)? {
            Found::Shaped(i) => self.ec2.get(*i),
            Found::Unshaped(_) => None,
        }
    }

    /// Everything the catalog knows of an EC2 type name.
    pub fn ec2_lookup(&self, name: &str) -> Lookup<'_> {
        match self.ec2_index.get(name) {
            Some(Found::Shaped(i)) => Lookup::Shaped(&self.ec2[*i]),
            Some(Found::Unshaped(i)) => Lookup::Unshaped(&self.ec2_unshaped[*i]),
            None => Lookup::Unknown,
        }
    }

    /// The on-demand price of an EC2 type in a region, shaped or not.
    pub fn ec2_price(&self, name: &str, region: &str) -> Option<&RegionalPrice> {
        let prices = match self.ec2_lookup(name) {
            Lookup::Shaped(t) => &t.prices,
            Lookup::Unshaped(t) => &t.prices,
            Lookup::Unknown => return None,
        };
        prices.iter().find(|p| p.region == region)
    }

    /// Every EC2 type name the catalog knows, shaped or not.
    pub fn ec2_names(&self) -> impl Iterator<Item = &str> {
        self.ec2
            .iter()
            .map(|t| t.name.as_str())
            .chain(self.ec2_unshaped.iter().map(|t| t.name.as_str()))
    }

    pub fn rds_class(&self, name: &str) -> Option<&InstanceType> {
        self.rds_index.get(name).map(|&i| &self.rds[i])
    }

    pub fn cache_type(&self, name: &str) -> Option<&InstanceType> {
        self.cache_index.get(name).map(|&i| &self.cache[i])
    }

    pub fn eks_version(&self, version: &str) -> Option<&EksVersion> {
        self.eks.iter().find(|v| v.version == version)
    }

    /// The newest EKS version with known dates in standard support on `today`.
    pub fn newest_standard_eks(&self, today: Date) -> Option<&EksVersion> {
        self.eks
            .iter()
            .filter(|v| v.phase(today) == SupportPhase::Standard)
            .max_by_key(|v| version_key(&v.version))
    }

    pub fn postgres_major(&self, major: u32) -> Option<&PostgresMajor> {
        self.postgres.iter().find(|p| p.major == major)
    }

    /// The Cassandra release series a version belongs to (`5.0.8` → `5.0`).
    pub fn cassandra_series(&self, version: &str) -> Option<&CassandraSeries> {
        self.cassandra.iter().find(|s| {
            version == s.series
                || version
                    .strip_prefix(s.series.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        })
    }

    /// Round trip between two places, with the weakest status of the facts it combines.
    pub fn rtt(&self, a: &Location, b: &Location) -> Option<(f64, Status)> {
        let (ra, ea, sa) = self.anchor(a)?;
        let (rb, eb, sb) = self.anchor(b)?;
        // Within one region this is the matrix diagonal: the in-region round trip.
        let base = self.latency.rtt_ms(ra, rb)?;
        let status = self.latency.provenance.status.weakest(sa).weakest(sb);
        Some((base + ea + eb, status))
    }

    /// An AWS region whose latency row stands for the location, the extra round trip to it,
    /// and how sure we are.
    fn anchor<'a>(&'a self, loc: &'a Location) -> Option<(&'a str, f64, Status)> {
        match loc {
            Location::Aws(region) => Some((region.as_str(), 0.0, Status::Verified)),
            Location::Fly(code) => {
                let proxy = self.fly_region(code)?.latency_proxy.as_ref()?;
                let extra = proxy.extra_rtt_ms?;
                Some((proxy.region.as_str(), extra, proxy.provenance.status))
            }
        }
    }
}

/// Where an EC2 name sits in the catalog.
#[derive(Clone, Copy, Debug)]
enum Found {
    Shaped(usize),
    Unshaped(usize),
}

/// Where a site's traffic is measured from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(tag = "provider", content = "region", rename_all = "lowercase")]
pub enum Location {
    Aws(String),
    Fly(String),
}

/// Sort key for `major.minor[.patch]` version strings.
pub fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

fn opt_date<'de, D>(d: D) -> Result<Option<Date>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let s: Option<String> = Option::deserialize(d)?;
    match s {
        None => Ok(None),
        Some(s) => Date::parse(&s).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!("invalid date `{s}`, expected YYYY-MM-DD"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads() {
        let c = Catalog::load().unwrap();
        assert!(c.region("us-west-1").is_some());
        assert_eq!(c.region("us-west-1").unwrap().azs.ids.len(), 2);
        assert!(c.fly_region("jnb").is_some());
        assert_eq!(c.limits.aurora_global.max_secondary_regions.value, 10);
    }

    #[test]
    fn every_region_has_one_map_position() {
        let c = Catalog::load().unwrap();
        let locs = c
            .regions
            .iter()
            .map(|r| Location::Aws(r.code.clone()))
            .chain(c.fly_regions.iter().map(|r| Location::Fly(r.code.clone())));
        for loc in locs {
            let p = c.places.of(&loc);
            assert!(p.is_some(), "{loc:?} has no map position");
            let p = p.unwrap();
            assert!((-90.0..=90.0).contains(&p.lat) && (-180.0..=180.0).contains(&p.lon));
            let same = c
                .places
                .place
                .iter()
                .filter(|q| q.provider == p.provider && q.code == p.code)
                .count();
            assert_eq!(same, 1, "{loc:?} has {same} map positions");
        }
        assert_eq!(c.places.place.len(), c.regions.len() + c.fly_regions.len());
        // A Fly.io city and the AWS region named after the same city are drawn together.
        let fly_ams = c.places.of(&Location::Fly("ams".into())).unwrap();
        assert_eq!(fly_ams.city, "Amsterdam");
        assert!(c.fly_region("ams").unwrap().city.starts_with(&fly_ams.city));
    }

    #[test]
    fn every_fact_has_source_and_date() {
        let c = Catalog::load().unwrap();
        let mut provs: Vec<&Provenance> = Vec::new();
        for r in &c.regions {
            provs.extend([
                &r.azs.provenance,
                &r.aurora_postgresql_global.provenance,
                &r.elasticache_global_datastore.provenance,
            ]);
        }
        for t in c.ec2.iter().chain(&c.rds).chain(&c.cache) {
            provs.extend(t.prices.iter().map(|p| &p.provenance));
            provs.push(&t.shape);
            if let Some(o) = t.ec2.as_ref().and_then(|e| e.offered.as_ref()) {
                provs.push(&o.table.provenance);
            }
            if let Some(a) = &t.aurora {
                provs.extend([&*a.versions_source, &*a.global_source]);
            }
            if let Some(k) = &t.cache {
                provs.extend([&*k.listed, &*k.memory_source]);
            }
        }
        for t in &c.ec2_unshaped {
            provs.push(&t.provenance);
            provs.extend(t.prices.iter().map(|p| &p.provenance));
        }
        provs.extend(c.eks.iter().map(|v| &v.provenance));
        provs.extend(c.postgres.iter().map(|v| &v.provenance));
        provs.extend(c.fly_regions.iter().map(|v| &v.provenance));
        provs.extend(c.fly_machines.iter().map(|v| &v.provenance));
        for p in provs {
            assert!(!p.source.trim().is_empty());
            assert!(
                p.as_of.len() >= 4 && p.as_of[..4].parse::<u32>().is_ok(),
                "bad as_of {p:?}"
            );
        }
    }

    #[test]
    fn latency_matches_facts() {
        let c = Catalog::load().unwrap();
        // catalog-sources.md section 5: eu-west-1 -> us-east-1 69, us-east-1 -> eu-west-1 70.
        assert_eq!(c.latency.rtt_ms("eu-west-1", "us-east-1"), Some(69.5));
        assert_eq!(
            c.latency.rtt_ms("ap-southeast-2", "af-south-1"),
            Some(411.5)
        );
        assert_eq!(c.latency.rtt_ms("eu-west-1", "nowhere-1"), None);
        let jnb = Location::Fly("jnb".into());
        let ams = Location::Aws("eu-west-1".into());
        let (ms, status) = c.rtt(&jnb, &ams).unwrap();
        assert_eq!(ms, 158.0 + 20.0);
        assert_eq!(status, Status::Unconfirmed);
    }

    #[test]
    fn eks_phases() {
        let c = Catalog::load().unwrap();
        let today = Date::new(2026, 11, 26);
        assert_eq!(
            c.eks_version("1.27").unwrap().phase(today),
            SupportPhase::Unsupported
        );
        assert_eq!(
            c.eks_version("1.32").unwrap().phase(today),
            SupportPhase::Extended
        );
        assert_eq!(
            c.eks_version("1.35").unwrap().phase(today),
            SupportPhase::Standard
        );
        assert_eq!(
            c.eks_version("1.36").unwrap().phase(today),
            SupportPhase::Unknown
        );
        assert_eq!(c.newest_standard_eks(today).unwrap().version, "1.35");
    }

    #[test]
    fn cassandra_series_match_exactly() {
        let c = Catalog::load().unwrap();
        assert_eq!(c.cassandra_series("5.0.8").unwrap().series, "5.0");
        assert!(c.cassandra_series("5.01").is_none());
        assert!(c.cassandra_series("3.11.4").is_none());
    }
}
