//! The subnet plan: how a site's VPC range is cut into public, private and database subnets.
//!
//! Private subnets (EKS nodes and pods, which take VPC addresses through the VPC CNI) get the
//! configured prefix; public and database subnets are 4 bits smaller. Blocks are placed in that
//! order from the start of the VPC range, each aligned to its own size, so the plan is a pure
//! function of the range, the prefix and the zone count.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

pub use sovereign_model::{SubnetPlan, ZoneSubnets};

/// Why a plan does not fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    /// The longest VPC prefix that would fit the plan (a smaller number is a bigger range).
    pub max_vpc_prefix: Option<u8>,
}

/// The prefix length of public and database subnets for a private prefix.
pub fn small_prefix(private_prefix: u8) -> u8 {
    (private_prefix + 4).min(28)
}

/// Cuts `vpc` into subnets for `azs`.
pub fn plan(vpc: Ipv4Net, azs: &[String], private_prefix: u8) -> Result<SubnetPlan, PlanError> {
    let small = small_prefix(private_prefix);
    let mut sizes = Vec::with_capacity(azs.len() * 3);
    sizes.extend(std::iter::repeat_n(private_prefix, azs.len()));
    sizes.extend(std::iter::repeat_n(small, azs.len() * 2));
    let Some(blocks) = allocate(vpc, &sizes) else {
        let max_vpc_prefix = (8..=vpc.prefix_len()).rev().find(|p| {
            Ipv4Net::new(Ipv4Addr::new(10, 0, 0, 0), *p)
                .ok()
                .and_then(|v| allocate(v, &sizes))
                .is_some()
        });
        return Err(PlanError { max_vpc_prefix });
    };
    let n = azs.len();
    let zones = azs
        .iter()
        .enumerate()
        .map(|(i, az)| ZoneSubnets {
            az: az.clone(),
            private: blocks[i],
            public: blocks[n + i],
            database: blocks[2 * n + i],
        })
        .collect();
    Ok(SubnetPlan { vpc, zones })
}

/// Places blocks of the given prefix lengths one after another inside `vpc`, each aligned to
/// its size. `None` when they do not fit.
fn allocate(vpc: Ipv4Net, prefixes: &[u8]) -> Option<Vec<Ipv4Net>> {
    let start = u64::from(u32::from(vpc.network()));
    let end = start + (1u64 << (32 - vpc.prefix_len()));
    let mut cursor = start;
    let mut out = Vec::with_capacity(prefixes.len());
    for &p in prefixes {
        if p < vpc.prefix_len() || p > 32 {
            return None;
        }
        let size = 1u64 << (32 - p);
        cursor = cursor.div_ceil(size) * size;
        if cursor + size > end {
            return None;
        }
        out.push(Ipv4Net::new(Ipv4Addr::from(cursor as u32), p).ok()?);
        cursor += size;
    }
    Some(out)
}

/// RFC 1918 private ranges.
pub fn is_private(net: &Ipv4Net) -> bool {
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
        .iter()
        .filter_map(|r| r.parse::<Ipv4Net>().ok())
        .any(|r| r.contains(net))
}

pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn azs(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("az{i}")).collect()
    }

    #[test]
    fn default_plan() {
        let p = plan("10.1.0.0/16".parse().unwrap(), &azs(3), 20).unwrap();
        let z = &p.zones;
        assert_eq!(z[0].private.to_string(), "10.1.0.0/20");
        assert_eq!(z[2].private.to_string(), "10.1.32.0/20");
        assert_eq!(z[0].public.to_string(), "10.1.48.0/24");
        assert_eq!(z[2].database.to_string(), "10.1.53.0/24");
    }

    #[test]
    fn too_small() {
        let err = plan("10.1.0.0/20".parse().unwrap(), &azs(3), 20).unwrap_err();
        assert_eq!(err.max_vpc_prefix, Some(18));
    }

    #[test]
    fn private_ranges() {
        assert!(is_private(&"10.1.0.0/16".parse().unwrap()));
        assert!(is_private(&"172.31.0.0/16".parse().unwrap()));
        assert!(!is_private(&"172.32.0.0/16".parse().unwrap()));
        assert!(!is_private(&"8.8.0.0/16".parse().unwrap()));
    }

    proptest! {
        #[test]
        fn plans_are_disjoint_aligned_and_inside(
            a in 0u8..=255, b in 0u8..=255, vpc_prefix in 16u8..=24, n in 1usize..=6, sub in 18u8..=28,
        ) {
            let vpc = Ipv4Net::new(Ipv4Addr::new(10, a, b, 0), vpc_prefix).unwrap().trunc();
            match plan(vpc, &azs(n), sub) {
                Ok(p) => {
                    let all: Vec<Ipv4Net> = p.zones.iter().flat_map(|z| [z.public, z.private, z.database]).collect();
                    prop_assert_eq!(all.len(), 3 * n);
                    for (i, x) in all.iter().enumerate() {
                        prop_assert!(vpc.contains(x));
                        prop_assert_eq!(*x, x.trunc());
                        for y in &all[i + 1..] {
                            prop_assert!(!overlaps(x, y), "{} overlaps {}", x, y);
                        }
                    }
                    for z in &p.zones {
                        prop_assert_eq!(z.private.prefix_len(), sub);
                        prop_assert_eq!(z.public.prefix_len(), small_prefix(sub));
                    }
                }
                Err(e) => {
                    // Blocks are placed biggest first, so nothing is lost to alignment: the plan
                    // fails exactly when the blocks need more addresses than the VPC has.
                    let need: u64 = (n as u64) * ((1u64 << (32 - sub)) + 2 * (1u64 << (32 - small_prefix(sub))));
                    let have = 1u64 << (32 - vpc_prefix);
                    prop_assert!(need > have || sub < vpc_prefix);
                    if let Some(p) = e.max_vpc_prefix {
                        prop_assert!(p < vpc_prefix);
                        let fits = Ipv4Net::new(Ipv4Addr::new(10, 0, 0, 0), p).unwrap();
                        prop_assert!(plan(fits, &azs(n), sub).is_ok());
                        let one_smaller = Ipv4Net::new(Ipv4Addr::new(10, 0, 0, 0), p + 1).unwrap();
                        prop_assert!(plan(one_smaller, &azs(n), sub).is_err());
                    }
                }
            }
        }
    }
}
