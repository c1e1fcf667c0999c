//! The instance types, Aurora classes and cache node types a topology uses, with the shape and
//! prices the catalog gives them: what `plan` and `explain --types` show.

use serde::Serialize;
use sovereign_catalog::{Arch, Catalog, InstanceType, Lookup, Status};

use crate::validated::ValidatedTopology;

/// What the catalog says of one type in use.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct UsedType {
    pub name: String,
    /// `ec2`, `aurora` or `elasticache`.
    pub service: &'static str,
    /// Where the topology uses it: `kubernetes.on_demand`, `kubernetes.spot`, `postgres`, `redis`.
    pub used_by: Vec<&'static str>,
    pub vcpu: Option<u32>,
    /// For cache nodes, the memory available to the engine.
    pub memory_gib: Option<f64>,
    pub arch: Option<Arch>,
    pub burstable: Option<bool>,
    /// Local instance storage in GB (0: EBS only), EC2 only.
    pub local_storage_gb: Option<u32>,
    /// How sure the shape is; `None` when the catalog has none.
    pub shape_status: Option<Status>,
    /// The on-demand price per hour in each region that runs it (`usd` absent: unknown).
    pub prices: Vec<UsedPrice>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct UsedPrice {
    pub region: String,
    pub usd_hour: Option<f64>,
    pub status: Option<Status>,
}

fn add<'a>(
    list: &mut Vec<(String, &'static str, Vec<&'static str>, Vec<String>)>,
    name: &str,
    service: &'static str,
    by: &'static str,
    regions: impl Iterator<Item = &'a str>,
) {
    let i = match list.iter().position(|e| e.0 == name && e.1 == service) {
        Some(i) => i,
        None => {
            list.push((name.to_string(), service, Vec::new(), Vec::new()));
            list.len() - 1
        }
    };
    let e = &mut list[i];
    if !e.2.contains(&by) {
        e.2.push(by);
    }
    for r in regions {
        if !e.3.iter().any(|x| x == r) {
            e.3.push(r.to_string());
        }
    }
}

/// Every type the topology uses, in the order node groups, Aurora, cache.
pub fn used_types(t: &ValidatedTopology, catalog: &Catalog) -> Vec<UsedType> {
    let mut list = Vec::new();
    let eks_regions = || {
        t.eks_sites()
            .filter_map(|s| s.aws.as_ref())
            .map(|a| a.region.as_str())
    };
    if let Some(k) = &t.kubernetes {
        for (by, g) in [
            ("kubernetes.on_demand", Some(&k.on_demand)),
            ("kubernetes.spot", k.spot.as_ref()),
        ] {
            for n in g.into_iter().flat_map(|g| &g.instance_types) {
                add(&mut list, n, "ec2", by, eks_regions());
            }
        }
    }
    if let Some(pg) = &t.postgres {
        let regions = pg
            .members()
            .filter_map(|s| t.find_site(s)?.aws.as_ref())
            .map(|a| a.region.as_str());
        add(&mut list, &pg.instance_class, "aurora", "postgres", regions);
    }
    if let Some(r) = &t.redis {
        let regions = t
            .sites
            .iter()
            .filter(|s| s.has_cache())
            .filter_map(|s| s.aws.as_ref())
            .map(|a| a.region.as_str());
        add(&mut list, &r.node_type, "elasticache", "redis", regions);
    }
    list.into_iter()
        .map(|(name, service, used_by, regions)| {
            let ty: Option<&InstanceType> = match service {
                "ec2" => catalog.ec2_type(&name),
                "aurora" => catalog.rds_class(&name),
                _ => catalog.cache_type(&name),
            };
            let price = |r: &str| match service {
                "ec2" => catalog.ec2_price(&name, r),
                _ => ty.and_then(|t| t.price(r)),
            };
            let arch = ty.map(|t| t.arch).or(match catalog.ec2_lookup(&name) {
                Lookup::Unshaped(u) if service == "ec2" => Some(u.arch),
                _ => None,
            });
            let ec2 = ty.and_then(|t| t.ec2.as_ref());
            UsedType {
                prices: regions
                    .iter()
                    .map(|r| {
                        let p = price(r);
                        UsedPrice {
                            region: r.clone(),
                            usd_hour: p.map(|p| p.usd),
                            status: p.map(|p| p.provenance.status),
                        }
                    })
                    .collect(),
                vcpu: ty.map(|t| t.vcpu),
                memory_gib: ty.map(|t| t.memory_gib),
                arch,
                burstable: ec2
                    .map(|e| e.burstable)
                    .or(ty.map(|t| t.category == sovereign_catalog::Category::Burstable)),
                local_storage_gb: ec2.and_then(|e| e.local_storage_gb),
                shape_status: ty.map(|t| t.shape.status),
                name,
                service,
                used_by,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sovereign_catalog::Date;

    #[test]
    fn lists_the_default_topology_types() {
        let c = Catalog::builtin();
        let r = crate::check_text(
            sovereign_spec::Template::GlobalSovereign.text(),
            c,
            Date::new(2026, 11, 26),
        );
        let t = r.validated.unwrap();
        let used = used_types(&t, c);
        assert!(used.iter().any(|u| u.service == "aurora"));
        let first = &used[0];
        assert_eq!(first.service, "ec2");
        assert_eq!(first.arch, Some(Arch::X86_64));
        assert!(
            first
                .prices
                .iter()
                .any(|p| p.region == "us-east-1" && p.usd_hour.is_some())
        );
    }
}
