//! Instance types, Aurora classes and ElastiCache node types: the generated tables (`ec2.toml`,
//! `aurora.toml`, `cache.toml`, one line per type) merged with the hand-curated regional prices
//! of `instances.toml`.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::derive;
use crate::{CatalogError, Provenance, RegionalPrice, Status, Support, load};

/// The CPU architecture of an instance type (the EC2 API's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    X86_64,
    Arm64,
    X86_64Mac,
    Arm64Mac,
}

impl Arch {
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
            Arch::X86_64Mac => "x86_64_mac",
            Arch::Arm64Mac => "arm64_mac",
        }
    }

    fn parse(s: &str) -> Option<Arch> {
        Some(match s {
            "x86_64" => Arch::X86_64,
            "arm64" => Arch::Arm64,
            "x86_64_mac" => Arch::X86_64Mac,
            "arm64_mac" => Arch::Arm64Mac,
            _ => return None,
        })
    }

    /// The EKS managed node group AMI type (Amazon Linux 2023) for this architecture; `None` for
    /// Mac instances, which EKS node groups cannot run.
    pub fn eks_ami_type(self) -> Option<&'static str> {
        match self {
            Arch::X86_64 => Some("AL2023_x86_64_STANDARD"),
            Arch::Arm64 => Some("AL2023_ARM_64_STANDARD"),
            Arch::X86_64Mac | Arch::Arm64Mac => None,
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who makes the processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Processor {
    Intel,
    Amd,
    /// AWS Graviton.
    Aws,
    Apple,
}

impl Processor {
    pub fn as_str(self) -> &'static str {
        match self {
            Processor::Intel => "Intel",
            Processor::Amd => "AMD",
            Processor::Aws => "AWS Graviton",
            Processor::Apple => "Apple",
        }
    }

    fn parse(s: &str) -> Option<Processor> {
        Some(match s {
            "intel" => Processor::Intel,
            "amd" => Processor::Amd,
            "aws" => Processor::Aws,
            "apple" => Processor::Apple,
            _ => return None,
        })
    }
}

/// The regions a source lists, shared by every type's offering mask.
#[derive(Debug)]
pub struct OfferingTable {
    pub regions: Vec<String>,
    pub provenance: Provenance,
}

/// Where an EC2 type is offered, as one source says.
#[derive(Clone, Debug)]
pub struct Offered {
    mask: u64,
    pub table: Arc<OfferingTable>,
}

impl Offered {
    /// `Some(true)` or `Some(false)` when the source covers the region, `None` when it does not.
    pub fn in_region(&self, region: &str) -> Option<bool> {
        let i = self.table.regions.iter().position(|r| r == region)?;
        Some(self.mask & (1 << i) != 0)
    }

    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.table
            .regions
            .iter()
            .enumerate()
            .filter(|(i, _)| self.mask & (1 << i) != 0)
            .map(|(_, r)| r.as_str())
    }
}

/// What only EC2 types have.
#[derive(Clone, Debug)]
pub struct Ec2Facts {
    pub processor: Processor,
    pub burstable: bool,
    /// Local instance storage in GB (0: EBS only); `None` when unknown.
    pub local_storage_gb: Option<u32>,
    /// Whether Spot capacity exists for the type; `None` when unknown.
    pub spot: Option<bool>,
    /// `None` when no source covers the type.
    pub offered: Option<Offered>,
}

/// Which Aurora PostgreSQL versions a class supports, as the source lists them.
#[derive(Clone, Debug)]
pub enum AuroraVersions {
    /// Listed for Aurora PostgreSQL; which versions is unknown.
    Unknown,
    /// Every version of the majors the source covers.
    All,
    /// Minimum minors per major (`open`: that minor and later), or single minors.
    Listed(Vec<(u32, u32, bool)>),
}

#[derive(Clone, Debug)]
pub struct AuroraFacts {
    pub versions: AuroraVersions,
    /// The newest major the version source covers: support for newer majors is unknown.
    pub newest_major_covered: u32,
    pub versions_source: Arc<Provenance>,
    pub global_database: Support,
    pub global_source: Arc<Provenance>,
}

impl AuroraFacts {
    /// Whether the class runs Aurora PostgreSQL `version` (`major.minor`), as far as the source
    /// says.
    pub fn supports(&self, version: &str) -> Support {
        let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
        let (Some(Some(major)), minor) = (parts.next(), parts.next().flatten()) else {
            return Support::Unknown;
        };
        if major > self.newest_major_covered {
            return Support::Unknown;
        }
        match &self.versions {
            AuroraVersions::Unknown => Support::Unknown,
            AuroraVersions::All => Support::Yes,
            AuroraVersions::Listed(list) => {
                let Some(minor) = minor else {
                    return Support::Unknown;
                };
                let ok = list
                    .iter()
                    .any(|&(ma, mi, open)| ma == major && (minor == mi || (open && minor > mi)));
                if ok { Support::Yes } else { Support::No }
            }
        }
    }

    /// The listed versions for one major, for messages: `13.10 and later`.
    pub fn describe_major(&self, major: u32) -> Option<String> {
        match &self.versions {
            AuroraVersions::Listed(list) => {
                let parts: Vec<String> = list
                    .iter()
                    .filter(|(ma, _, _)| *ma == major)
                    .map(|(ma, mi, open)| {
                        format!("{ma}.{mi}{}", if *open { " and later" } else { "" })
                    })
                    .collect();
                (!parts.is_empty()).then(|| parts.join(", "))
            }
            _ => None,
        }
    }

    /// `13.10+, 14.7+, 15.2+` or `all versions of majors up to 15` or `unknown`.
    pub fn summary(&self) -> String {
        match &self.versions {
            AuroraVersions::Unknown => "unknown".into(),
            AuroraVersions::All => format!(
                "every version up to major {} (newer majors unknown)",
                self.newest_major_covered
            ),
            AuroraVersions::Listed(list) => {
                let mut l = list.clone();
                l.sort();
                let parts: Vec<String> = l
                    .iter()
                    .map(|(ma, mi, open)| format!("{ma}.{mi}{}", if *open { "+" } else { "" }))
                    .collect();
                format!(
                    "{} (newer majors than {} unknown)",
                    parts.join(", "),
                    self.newest_major_covered
                )
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Generation {
    Current,
    /// Existing clusters keep running; new clusters cannot be created.
    Previous,
}

#[derive(Clone, Debug)]
pub struct CacheFacts {
    pub generation: Generation,
    pub listed: Arc<Provenance>,
    pub memory_source: Arc<Provenance>,
    /// Whether a global datastore accepts the node type (families and sizes of `limits.toml`).
    pub global_datastore: Support,
}

/// An EC2 instance type, an Aurora instance class or an ElastiCache node type with a known shape.
#[derive(Clone, Debug)]
pub struct InstanceType {
    pub name: String,
    pub vcpu: u32,
    /// For ElastiCache nodes, the memory available to the engine (`maxmemory`).
    pub memory_gib: f64,
    pub family: String,
    pub category: crate::Category,
    /// On-demand USD per hour, per region; a region not listed has no known price.
    pub prices: Vec<RegionalPrice>,
    pub arch: Arch,
    /// Where `vcpu`, `memory_gib` and `arch` come from.
    pub shape: Arc<Provenance>,
    pub ec2: Option<Ec2Facts>,
    pub aurora: Option<AuroraFacts>,
    pub cache: Option<CacheFacts>,
}

/// An EC2 type name the API accepts whose shape no source gives and no rule derives (retired
/// families, accelerators, high-memory and bare-metal sizes).
#[derive(Clone, Debug)]
pub struct UnshapedType {
    pub name: String,
    /// Derived from the name.
    pub arch: Arch,
    pub prices: Vec<RegionalPrice>,
    pub provenance: Arc<Provenance>,
}

/// What the catalog knows of a name.
#[derive(Clone, Copy, Debug)]
pub enum Lookup<'a> {
    Shaped(&'a InstanceType),
    Unshaped(&'a UnshapedType),
    Unknown,
}

#[derive(Deserialize)]
struct SourceFile {
    status: Status,
    source: String,
    as_of: String,
}

impl SourceFile {
    fn provenance(&self) -> Arc<Provenance> {
        Arc::new(Provenance {
            status: self.status,
            source: self.source.clone(),
            as_of: self.as_of.clone(),
            note: None,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ec2File {
    regions: Vec<String>,
    rows: String,
    sources: HashMap<String, SourceFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuroraFile {
    apg_newest_major: u32,
    rows: String,
    sources: HashMap<String, SourceFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheFile {
    rows: String,
    sources: HashMap<String, SourceFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CuratedEntry {
    name: String,
    prices: Vec<RegionalPrice>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CuratedFile {
    ec2: Vec<CuratedEntry>,
    rds: Vec<CuratedEntry>,
    cache: Vec<CuratedEntry>,
}

/// The three tables, merged and indexed.
pub(crate) struct Tables {
    pub ec2_names: Arc<Provenance>,
    pub ec2: Vec<InstanceType>,
    pub ec2_unshaped: Vec<UnshapedType>,
    pub rds: Vec<InstanceType>,
    pub cache: Vec<InstanceType>,
    pub derived_shape: Arc<Provenance>,
}

fn err(file: &'static str, message: impl Into<String>) -> CatalogError {
    CatalogError {
        file,
        message: message.into(),
    }
}

fn sources(
    file: &'static str,
    map: &HashMap<String, SourceFile>,
    keys: &[&str],
) -> Result<HashMap<String, Arc<Provenance>>, CatalogError> {
    let mut out = HashMap::new();
    for k in keys {
        let s = map
            .get(*k)
            .ok_or_else(|| err(file, format!("no [sources.{k}]")))?;
        out.insert((*k).to_string(), s.provenance());
    }
    Ok(out)
}

fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cols| !cols.is_empty())
}

fn opt<T: std::str::FromStr>(
    file: &'static str,
    name: &str,
    col: &str,
) -> Result<Option<T>, CatalogError> {
    if col == "-" {
        return Ok(None);
    }
    col.parse()
        .map(Some)
        .map_err(|_| err(file, format!("`{name}`: cannot read `{col}`")))
}

/// Category from the series letter of a family (`c` compute, `m` general, `r`/`x`/`z`/`u`
/// memory, `t` burstable, `i`/`d`/`h` storage, GPUs and other accelerators).
fn category(series: &str) -> crate::Category {
    use crate::Category::*;
    match series {
        "c" => Compute,
        "r" | "x" | "z" | "u" => Memory,
        "t" => Burstable,
        "i" | "d" | "h" | "im" | "is" => Storage,
        "g" | "gr" | "p" | "inf" | "trn" | "dl" | "f" | "vt" => Accelerated,
        "hpc" => Compute,
        _ => General,
    }
}

fn usd_price(usd: f64, p: &Arc<Provenance>) -> RegionalPrice {
    RegionalPrice {
        region: "us-east-1".into(),
        usd,
        provenance: (**p).clone(),
    }
}

type Ec2Tables = (Arc<Provenance>, Vec<InstanceType>, Vec<UnshapedType>);

fn parse_ec2(derived_shape: &Arc<Provenance>) -> Result<Ec2Tables, CatalogError> {
    const F: &str = "ec2.toml";
    let file: Ec2File = load(F)?;
    if file.regions.len() > 64 {
        return Err(err(F, "more than 64 regions do not fit the offering mask"));
    }
    let src = sources(F, &file.sources, &["names", "shape", "offered", "price"])?;
    let table = Arc::new(OfferingTable {
        regions: file.regions,
        provenance: (*src["offered"]).clone(),
    });
    let mut shaped = Vec::new();
    let mut unshaped = Vec::new();
    for c in rows(&file.rows) {
        let [name, vcpu, mem, arch, cpu, burst, local, spot, offered, usd] = c[..] else {
            return Err(err(
                F,
                format!("row `{}` does not have 10 columns", c.join(" ")),
            ));
        };
        let parsed = derive::parse(name).ok_or_else(|| err(F, format!("cannot read `{name}`")))?;
        let prices: Vec<RegionalPrice> = opt::<f64>(F, name, usd)?
            .map(|u| usd_price(u, &src["price"]))
            .into_iter()
            .collect();
        let offered = match offered {
            "-" => None,
            hex => Some(Offered {
                mask: u64::from_str_radix(hex, 16)
                    .map_err(|_| err(F, format!("`{name}`: bad mask `{hex}`")))?,
                table: table.clone(),
            }),
        };
        let sourced = (
            opt::<u32>(F, name, vcpu)?,
            opt::<u32>(F, name, mem)?,
            Arch::parse(arch),
        );
        let (vcpu, memory_gib, arch, shape, facts) = match sourced {
            (Some(v), Some(m), Some(a)) => (
                v,
                f64::from(m) / 1024.0,
                a,
                src["shape"].clone(),
                Ec2Facts {
                    processor: Processor::parse(cpu).unwrap_or_else(|| derive::processor(&parsed)),
                    burstable: burst == "y",
                    local_storage_gb: opt(F, name, local)?,
                    spot: match spot {
                        "y" => Some(true),
                        "n" => Some(false),
                        _ => None,
                    },
                    offered,
                },
            ),
            _ => match (derive::vcpu(&parsed), derive::memory_gib(&parsed)) {
                (Some(v), Some(m)) => (
                    v,
                    m,
                    derive::architecture(&parsed),
                    derived_shape.clone(),
                    Ec2Facts {
                        processor: derive::processor(&parsed),
                        burstable: derive::burstable(&parsed),
                        local_storage_gb: None,
                        spot: None,
                        offered,
                    },
                ),
                _ => {
                    unshaped.push(UnshapedType {
                        name: name.to_string(),
                        arch: derive::architecture(&parsed),
                        prices,
                        provenance: src["names"].clone(),
                    });
                    continue;
                }
            },
        };
        shaped.push(InstanceType {
            name: name.to_string(),
            vcpu,
            memory_gib,
            family: parsed.family.to_string(),
            category: category(parsed.series),
            prices,
            arch,
            shape,
            ec2: Some(facts),
            aurora: None,
            cache: None,
        });
    }
    Ok((src["names"].clone(), shaped, unshaped))
}

fn parse_versions(
    file: &'static str,
    name: &str,
    col: &str,
) -> Result<AuroraVersions, CatalogError> {
    Ok(match col {
        "?" => AuroraVersions::Unknown,
        "all" => AuroraVersions::All,
        list => {
            let mut out = Vec::new();
            for v in list.split(',') {
                let (v, open) = match v.strip_suffix('+') {
                    Some(v) => (v, true),
                    None => (v, false),
                };
                let (ma, mi) = v
                    .split_once('.')
                    .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                    .ok_or_else(|| err(file, format!("`{name}`: bad version `{v}`")))?;
                out.push((ma, mi, open));
            }
            AuroraVersions::Listed(out)
        }
    })
}

fn rds_category(family: &str) -> crate::Category {
    match family.as_bytes().first() {
        Some(b't') => crate::Category::Burstable,
        Some(b'r' | b'x' | b'z') => crate::Category::Memory,
        Some(b'c') => crate::Category::Compute,
        _ => crate::Category::General,
    }
}

fn parse_aurora(ec2: &[InstanceType]) -> Result<Vec<InstanceType>, CatalogError> {
    const F: &str = "aurora.toml";
    let file: AuroraFile = load(F)?;
    let src = sources(F, &file.sources, &["guide", "facts", "ec2", "moto", "rule"])?;
    let key = |k: &str| {
        src.get(k)
            .cloned()
            .ok_or_else(|| err(F, format!("unknown source `{k}`")))
    };
    let mut out = Vec::new();
    for c in rows(&file.rows) {
        let [name, vcpu, mem, shape, listed, versions, global, gsrc] = c[..] else {
            return Err(err(
                F,
                format!("row `{}` does not have 8 columns", c.join(" ")),
            ));
        };
        let family = name
            .strip_prefix("db.")
            .and_then(|r| r.split('.').next())
            .ok_or_else(|| err(F, format!("`{name}` is not `db.<family>.<size>`")))?;
        let arch = ec2
            .iter()
            .find(|t| t.name == name[3..])
            .map(|t| t.arch)
            .unwrap_or_else(|| {
                derive::parse(&name[3..]).map_or(Arch::X86_64, |n| derive::architecture(&n))
            });
        out.push(InstanceType {
            name: name.to_string(),
            vcpu: vcpu
                .parse()
                .map_err(|_| err(F, format!("`{name}`: bad vcpu")))?,
            memory_gib: mem
                .parse()
                .map_err(|_| err(F, format!("`{name}`: bad memory")))?,
            family: family.to_string(),
            category: rds_category(family),
            prices: Vec::new(),
            arch,
            shape: key(shape)?,
            ec2: None,
            aurora: Some(AuroraFacts {
                versions: parse_versions(F, name, versions)?,
                newest_major_covered: file.apg_newest_major,
                versions_source: key(listed)?,
                global_database: match global {
                    "yes" => Support::Yes,
                    "no" => Support::No,
                    _ => Support::Unknown,
                },
                global_source: key(gsrc)?,
            }),
            cache: None,
        });
    }
    Ok(out)
}

fn parse_cache(limits: &crate::Limits) -> Result<Vec<InstanceType>, CatalogError> {
    const F: &str = "cache.toml";
    let file: CacheFile = load(F)?;
    let src = sources(F, &file.sources, &["api", "guide", "sibling", "ec2"])?;
    let families = &limits.elasticache_global.families.value;
    let mut out = Vec::new();
    for c in rows(&file.rows) {
        let [name, vcpu, arch, bytes, msrc, generation, listed] = c[..] else {
            return Err(err(
                F,
                format!("row `{}` does not have 7 columns", c.join(" ")),
            ));
        };
        let (family, size) = name
            .strip_prefix("cache.")
            .and_then(|r| r.split_once('.'))
            .ok_or_else(|| err(F, format!("`{name}` is not `cache.<family>.<size>`")))?;
        let (Some(vcpu), Some(arch)) = (opt::<u32>(F, name, vcpu)?, Arch::parse(arch)) else {
            continue;
        };
        let bytes: u64 = bytes
            .parse()
            .map_err(|_| err(F, format!("`{name}`: bad maxmemory")))?;
        let memory = src
            .get(msrc)
            .cloned()
            .ok_or_else(|| err(F, format!("unknown source `{msrc}`")))?;
        let generation = match generation {
            "previous" => Generation::Previous,
            _ => Generation::Current,
        };
        let global = families.iter().any(|f| f == family)
            && !matches!(size, "nano" | "micro" | "small" | "medium")
            && generation == Generation::Current;
        out.push(InstanceType {
            name: name.to_string(),
            vcpu,
            // Two decimals, as AWS's node-type tables print it.
            memory_gib: (bytes as f64 / (1u64 << 30) as f64 * 100.0).round() / 100.0,
            family: family.to_string(),
            category: rds_category(family),
            prices: Vec::new(),
            arch,
            // vCPU and architecture come from the EC2 type of the same name; the memory has its
            // own source below.
            shape: src["ec2"].clone(),
            ec2: None,
            aurora: None,
            cache: Some(CacheFacts {
                generation,
                listed: src
                    .get(listed)
                    .cloned()
                    .ok_or_else(|| err(F, format!("unknown source `{listed}`")))?,
                memory_source: memory,
                global_datastore: if global { Support::Yes } else { Support::No },
            }),
        });
    }
    Ok(out)
}

/// Adds the hand-curated prices: per region, the stronger status wins, the generated figure on
/// a tie.
fn merge(
    kind: &str,
    types: &mut [InstanceType],
    unshaped: &mut [UnshapedType],
    curated: Vec<CuratedEntry>,
) -> Result<(), CatalogError> {
    for e in curated {
        let prices = match types.iter_mut().find(|t| t.name == e.name) {
            Some(t) => &mut t.prices,
            None => match unshaped.iter_mut().find(|t| t.name == e.name) {
                Some(t) => &mut t.prices,
                None => {
                    return Err(err(
                        "instances.toml",
                        format!("[[{kind}]] `{}` is not in the generated tables", e.name),
                    ));
                }
            },
        };
        for p in e.prices {
            match prices.iter_mut().find(|q| q.region == p.region) {
                Some(q) if p.provenance.status < q.provenance.status => *q = p,
                Some(_) => {}
                None => prices.push(p),
            }
        }
    }
    Ok(())
}

pub(crate) fn load_tables(limits: &crate::Limits) -> Result<Tables, CatalogError> {
    let derived_shape = Arc::new(Provenance {
        status: Status::Derived,
        source: "the rules of crates/sovereign-catalog/src/derive.rs: family letter and generation give \
                 the architecture and processor, the size the vCPUs, the family class the memory per vCPU"
            .into(),
        as_of: "2026-12-01".into(),
        note: None,
    });
    let (ec2_names, mut ec2, mut ec2_unshaped) = parse_ec2(&derived_shape)?;
    let mut rds = parse_aurora(&ec2)?;
    let mut cache = parse_cache(limits)?;
    let curated: CuratedFile = load("instances.toml")?;
    merge("ec2", &mut ec2, &mut ec2_unshaped, curated.ec2)?;
    merge("rds", &mut rds, &mut [], curated.rds)?;
    merge("cache", &mut cache, &mut [], curated.cache)?;
    Ok(Tables {
        ec2_names,
        ec2,
        ec2_unshaped,
        rds,
        cache,
        derived_shape,
    })
}

#[cfg(test)]
mod tests {
    use crate::derive;
    use crate::{Arch, Catalog, Category, Lookup, Processor, Status, Support};

    #[test]
    fn sizes() {
        let c = Catalog::load().unwrap();
        // botocore 1.44.8 lists 1,437 EC2 names.
        assert_eq!(c.ec2.len() + c.ec2_unshaped.len(), 1437);
        assert!(c.ec2.len() >= 1395, "{}", c.ec2.len());
        assert!(c.rds.len() >= 45, "{}", c.rds.len());
        assert!(c.cache.len() >= 84, "{}", c.cache.len());
    }

    #[test]
    fn the_issue_types_have_shapes() {
        let c = Catalog::load().unwrap();
        let t = c.ec2_type("c6i.xlarge").unwrap();
        assert_eq!((t.vcpu, t.memory_gib, t.arch), (4, 8.0, Arch::X86_64));
        assert_eq!(t.shape.status, Status::Verified);
        assert_eq!(t.price("us-east-1").unwrap().usd, 0.17);
        let e = t.ec2.as_ref().unwrap();
        assert_eq!(e.processor, Processor::Intel);
        assert!(!e.burstable);
        assert_eq!(e.local_storage_gb, Some(0));
        let off = e.offered.as_ref().unwrap();
        assert_eq!(off.in_region("eu-west-1"), Some(true));
        assert_eq!(off.in_region("eu-central-2"), Some(false));
        assert_eq!(off.in_region("mars-1"), None);
        let g = c.ec2_type("r7g.large").unwrap();
        assert_eq!((g.vcpu, g.memory_gib, g.arch), (2, 16.0, Arch::Arm64));
        assert_eq!(g.category, Category::Memory);
        let m = c.ec2_type("m7i.2xlarge").unwrap();
        assert_eq!((m.vcpu, m.memory_gib), (8, 32.0));
        let d = c.ec2_type("m5d.large").unwrap();
        assert_eq!(d.ec2.as_ref().unwrap().local_storage_gb, Some(75));
        assert!(
            c.ec2_type("t3.medium")
                .unwrap()
                .ec2
                .as_ref()
                .unwrap()
                .burstable
        );

        let db = c.rds_class("db.r7g.2xlarge").unwrap();
        assert_eq!((db.vcpu, db.memory_gib, db.arch), (8, 64.0, Arch::Arm64));
        let a = db.aurora.as_ref().unwrap();
        assert_eq!(a.global_database, Support::Yes);
        assert_eq!(a.supports("15.4"), Support::Yes);
        assert_eq!(a.supports("13.7"), Support::No);
        assert_eq!(a.supports("13.10"), Support::Yes);
        assert_eq!(a.supports("17.5"), Support::Unknown);
        assert!(db.price("us-east-1").is_some());
        let t4 = c
            .rds_class("db.t4g.medium")
            .unwrap()
            .aurora
            .as_ref()
            .unwrap();
        assert_eq!(t4.global_database, Support::No);

        let cache = c.cache_type("cache.r7g.large").unwrap();
        assert_eq!(
            (cache.vcpu, cache.memory_gib, cache.arch),
            (2, 13.07, Arch::Arm64)
        );
        assert_eq!(cache.cache.as_ref().unwrap().global_datastore, Support::Yes);
        assert!(cache.price("us-east-1").is_some());
        let t = c.cache_type("cache.t4g.medium").unwrap();
        assert_eq!(t.cache.as_ref().unwrap().global_datastore, Support::No);
    }

    #[test]
    fn unshaped_names_are_known_but_not_shaped() {
        let c = Catalog::load().unwrap();
        assert!(matches!(c.ec2_lookup("u-6tb1.metal"), Lookup::Unshaped(_)));
        assert!(c.ec2_type("u-6tb1.metal").is_none());
        assert!(matches!(c.ec2_lookup("m5.2xlarg"), Lookup::Unknown));
        // Priced in us-east-1 although no source describes its shape.
        assert!(c.ec2_price("i3.metal", "us-east-1").is_some());
        // Shaped by rule.
        let m9 = c.ec2_type("m9g.metal-24xl").unwrap();
        assert_eq!((m9.vcpu, m9.memory_gib, m9.arch), (96, 384.0, Arch::Arm64));
        assert_eq!(m9.shape.status, Status::Derived);
    }

    #[test]
    fn curated_prices_merge_by_status() {
        let c = Catalog::load().unwrap();
        // m5a.large: hand-curated us-east-1 0.086 "unconfirmed" loses to Karpenter's verified figure.
        let p = c.ec2_type("m5a.large").unwrap().price("us-east-1").unwrap();
        assert_eq!(p.provenance.status, Status::Verified);
        assert!(
            p.provenance.source.contains("karpenter"),
            "{}",
            p.provenance.source
        );
        // Regions only the curated file prices keep their figures.
        let p = c.ec2_type("m5.large").unwrap().price("eu-west-1").unwrap();
        assert_eq!(p.usd, 0.107);
        assert_eq!(
            c.ec2_type("c6i.xlarge")
                .unwrap()
                .price("eu-west-1")
                .map(|p| p.usd),
            None
        );
    }

    /// The derivation rules against shapes AWS documents (DescribeInstanceTypes as recorded by
    /// moto): a named sample of common types, then every type of the families the memory rule
    /// covers.
    #[test]
    fn derivation_rules_match_documented_shapes() {
        let c = Catalog::load().unwrap();
        let sample = [
            "c6i.xlarge",
            "r7g.large",
            "m7i.2xlarge",
            "m6g.large",
            "m5.large",
            "m5a.large",
            "m6a.2xlarge",
            "c7gn.large",
            "r8g.4xlarge",
            "x2gd.xlarge",
            "x2iedn.xlarge",
            "m7i-flex.large",
            "c7a.medium",
            "m6g.medium",
            "t3.medium",
            "t3.nano",
            "t4g.small",
            "t3a.2xlarge",
            "c5.9xlarge",
            "r6i.32xlarge",
            "m7g.16xlarge",
            "c8g.48xlarge",
        ];
        for name in sample {
            let t = c.ec2_type(name).unwrap();
            assert_eq!(t.shape.status, Status::Verified, "{name}");
            let n = derive::parse(name).unwrap();
            assert_eq!(derive::architecture(&n), t.arch, "{name} architecture");
            assert_eq!(derive::vcpu(&n), Some(t.vcpu), "{name} vCPU");
            assert_eq!(derive::memory_gib(&n), Some(t.memory_gib), "{name} memory");
            let e = t.ec2.as_ref().unwrap();
            assert_eq!(derive::processor(&n), e.processor, "{name} processor");
            assert_eq!(derive::burstable(&n), e.burstable, "{name} burstable");
        }
        // Every documented type: the architecture rule holds for all of them, the vCPU rule for
        // every size it claims to know, the memory rule for all but the listed exceptions.
        let (mut vcpu_checked, mut memory_checked) = (0, 0);
        let mut vcpu_misses = Vec::new();
        let mut memory_misses = Vec::new();
        for t in c.ec2.iter().filter(|t| t.shape.status == Status::Verified) {
            let n = derive::parse(&t.name).unwrap();
            assert_eq!(derive::architecture(&n), t.arch, "{} architecture", t.name);
            if let Some(v) = derive::vcpu(&n) {
                vcpu_checked += 1;
                if v != t.vcpu {
                    vcpu_misses.push(t.name.as_str());
                }
            }
            if let Some(m) = derive::memory_gib(&n) {
                memory_checked += 1;
                if m != t.memory_gib {
                    memory_misses.push(t.name.as_str());
                }
            }
        }
        assert_eq!(vcpu_misses, Vec::<&str>::new());
        // c5n has 5.25 GiB per vCPU, the one documented exception to "c is 2 GiB per vCPU".
        assert!(
            memory_misses.iter().all(|n| n.starts_with("c5n.")),
            "{memory_misses:?}"
        );
        assert!(
            vcpu_checked > 1000 && memory_checked > 600,
            "{vcpu_checked} {memory_checked}"
        );
    }

    /// The rule used for db.r8g (an Aurora class has the shape of the EC2 type of the same name)
    /// against every class the Aurora guide's hardware table documents (db.x2g has no EC2 twin:
    /// EC2 sells x2gd).
    #[test]
    fn aurora_classes_have_their_ec2_shape() {
        let c = Catalog::load().unwrap();
        let mut checked = 0;
        for db in c.rds.iter().filter(|t| t.shape.status == Status::Verified) {
            let Some(ec2) = c.ec2_type(&db.name[3..]) else {
                assert_eq!(db.family, "x2g", "{}", db.name);
                continue;
            };
            assert_eq!(
                (db.vcpu, db.memory_gib),
                (ec2.vcpu, ec2.memory_gib),
                "{}",
                db.name
            );
            checked += 1;
        }
        assert!(checked >= 30, "{checked}");
    }

    /// The rule behind cache.m7g/r7g memory: the guide gives nodes of one size the same
    /// maxmemory across generations of a series (m5 = m6g, r5 = r6g = r6gd).
    #[test]
    fn cache_memory_follows_the_size() {
        let c = Catalog::load().unwrap();
        for (a, b) in [("m5", "m6g"), ("r5", "r6g"), ("r6g", "r6gd")] {
            for t in c.cache.iter().filter(|t| t.family == a) {
                if let Some(o) = c.cache_type(&format!("cache.{b}.{}", t.size())) {
                    assert_eq!(t.memory_gib, o.memory_gib, "{} vs {}", t.name, o.name);
                }
            }
        }
    }
}
