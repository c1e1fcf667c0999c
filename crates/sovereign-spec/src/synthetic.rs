//! Synthetic topologies of any size, for benchmarks and load tests.

use std::fmt::Write;

/// Regions with known zone ids, prices and latency, cycled through by [`topology`].
const REGIONS: &[(&str, &[&str])] = &[
    ("eu-west-1", &["euw1-az1", "euw1-az2", "euw1-az3"]),
    ("us-east-1", &["use1-az1", "use1-az2", "use1-az4"]),
    ("us-west-1", &["usw1-az1", "usw1-az3"]),
    ("ap-southeast-1", &["apse1-az1", "apse1-az2", "apse1-az3"]),
    ("ap-southeast-2", &["apse2-az1", "apse2-az2", "apse2-az3"]),
    ("us-east-2", &["use2-az1", "use2-az2", "use2-az3"]),
];

/// A valid topology with `sites` AWS sites (at most 4096): each with a /20 VPC, EKS and a
/// regional cache; an Aurora primary with one secondary in every other region; Cassandra in
/// every tenth site; the application served everywhere.
pub fn topology(sites: usize) -> String {
    let sites = sites.clamp(1, 4096);
    let mut s = String::from(
        "[project]\nname = \"synthetic\"\n\n[application]\nimage = \"registry.example.com/app:1\"\n",
    );
    for i in 0..sites {
        let (region, azs) = REGIONS[i % REGIONS.len()];
        let azs = azs
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = write!(
            s,
            "\n[[sites]]\nid = \"s{i}\"\naws_region = \"{region}\"\nvpc_cidr = \"10.{}.{}.0/20\"\navailability_zones = [{azs}]\n",
            i / 16,
            (i % 16) * 16
        );
    }
    s.push_str("\n[network]\nsubnet_prefix = 24\n");
    let secondaries: Vec<String> = (1..REGIONS.len().min(sites))
        .map(|i| format!("\"s{i}\""))
        .collect();
    let _ = write!(
        s,
        "\n[postgres]\nprimary = \"s0\"\nsecondaries = [{}]\ninstance_class = \"db.r6g.large\"\n",
        secondaries.join(", ")
    );
    let control = sites.saturating_sub(1);
    let _ = write!(s, "\n[cassandra]\ncontrol_plane = \"s{control}\"\n");
    for i in (0..sites.saturating_sub(1)).step_by(10) {
        let _ = write!(
            s,
            "\n[[cassandra.datacenters]]\nsite = \"s{i}\"\nnodes = 3\nreplication_factor = 3\n"
        );
    }
    s.push_str("\n[redis]\nnode_type = \"cache.r6g.large\"\n");
    s.push_str("\n[dns]\nzone = \"synthetic.example.com\"\n");
    s
}
