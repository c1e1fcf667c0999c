//! `kubernetes.tf` and `spot.tf`: the EKS clusters and their node groups, and who may reach their
//! API.

use super::*;

pub(super) fn kubernetes(cx: &Ctx, tree: &mut Tree) {
    let Some(k) = &cx.t.kubernetes else { return };
    let mut f = File::new(&cx.header(
        "Kubernetes: one EKS cluster per site with its ON_DEMAND managed node group. Spot groups are in\nspot.tf; the cluster autoscaler and the application's autoscaler run from the site roots.",
    ));
    let mut spot = File::new(&cx.header(
        "Spot capacity: a SPOT managed node group per cluster, spread over interchangeable instance\ntypes; EKS drains Spot nodes when AWS reclaims them.",
    ));
    let mesh = cx.mesh_eks_sites();
    for (site, a, _) in cx.t.clusters() {
        // One range per peered VPC, not one per subnet: the rules are peers × port ranges on
        // one security group, whose default quota is 60 inbound rules (SOV046 counts them).
        let peers: Vec<String> = mesh
            .iter()
            .filter(|o| o.id != site.id && a.peering)
            .filter_map(|o| o.aws.as_ref().map(|oa| oa.vpc_cidr.to_string()))
            .collect();
        let mut groups = vec![format!("module.nodes_{}.node_group_names", site.id)];
        if k.spot.is_some() {
            groups.push(format!("module.spot_{}.node_group_names", site.id));
        }
        f.add(
            module(&Eks(&site.id).label(), "./modules/eks")
                .attr("name", s(cx.eks_name(&site.id)))
                .attr("region", s(&a.region))
                .attr("kubernetes_version", s(&k.version))
                .attr("extended_support", Expr::Bool(k.extended_support))
                .attr(
                    "subnet_ids",
                    Expr::from(Network(&site.id).private_subnet_ids()),
                )
                .attr("public_access_cidrs", api_access(cx, site))
                .attr("kms_key_arn", Expr::from(Network(&site.id).kms_key_arn()))
                .attr("admin_principal_arns", raw("var.admin_principal_arns"))
                .attr("peer_cidrs", strs(peers))
                .attr(
                    "node_group_names",
                    raw(format!("concat({})", groups.join(", "))),
                )
                .attr("tags", site_tags(&site.id)),
        );
        // On-demand nodes run the pods with zonal volumes (Cassandra, Prometheus): one group per
        // zone, so the autoscaler can replace a node in its volume's zone. Spot nodes run
        // stateless pods and take capacity from any zone.
        let group = |label: &str, name: &str, capacity: &str, g: &sovereign_check::NodeGroupV| {
            module(&format!("{label}_{}", site.id), "./modules/node-group")
                .attr("name", s(name))
                .attr("one_group_per_zone", Expr::Bool(capacity == "ON_DEMAND"))
                .attr("region", s(&a.region))
                .attr("cluster_name", Expr::from(Eks(&site.id).cluster_name()))
                .attr("node_role_arn", Expr::from(Eks(&site.id).node_role_arn()))
                .attr(
                    "subnet_ids",
                    Expr::from(Network(&site.id).private_subnet_ids()),
                )
                .attr("capacity_type", s(capacity))
                .attr_opt("ami_type", g.ami_type.map(s))
                .attr("instance_types", strs(g.instance_types.iter().cloned()))
                .attr("min_size", int(g.min_size))
                .attr("desired_size", int(g.desired_size))
                .attr("max_size", int(g.max_size))
                .attr("disk_size_gib", int(g.disk_size_gib))
                .attr("kms_key_arn", Expr::from(Network(&site.id).kms_key_arn()))
                .attr("tags", site_tags(&site.id))
        };
        f.add(group("nodes", "on-demand", "ON_DEMAND", &k.on_demand));
        if let Some(g) = &k.spot {
            spot.add(group("spot", "spot", "SPOT", g));
            // The module's node groups became a map (one per zone for on-demand nodes): the
            // Spot group keeps its place in a state written before, instead of being replaced.
            spot.add(
                Block::new("moved", &[])
                    .attr(
                        "from",
                        raw(format!("module.spot_{}.aws_eks_node_group.this", site.id)),
                    )
                    .attr(
                        "to",
                        raw(format!(
                            "module.spot_{}.aws_eks_node_group.this[\"spot\"]",
                            site.id
                        )),
                    ),
            );
        }
    }
    tree.add("kubernetes.tf", f.render());
    if !spot.is_empty() {
        tree.add("spot.tf", spot.render());
    }
}

/// Who may reach a cluster's public API endpoint: the operator's machines (a required
/// variable), the ranges the topology adds, and, on a Cassandra datacenter's cluster, the
/// k8ssandra control plane, whose operator calls it from its site's NAT gateways.
pub(super) fn api_access(cx: &Ctx, site: &SiteV) -> Expr {
    let Some(k) = &cx.t.kubernetes else {
        return Expr::List(vec![]);
    };
    let mut parts = vec!["var.operator_cidrs".to_string()];
    if !k.public_access_cidrs.is_empty() {
        let listed: Vec<String> = k
            .public_access_cidrs
            .iter()
            .map(|c| crate::hcl::quote(c))
            .collect();
        parts.push(format!("[{}]", listed.join(", ")));
    }
    if let Some(c) = &cx.t.cassandra
        && site.has_cassandra_dc()
        && c.control_plane != site.id
    {
        parts.push(format!(
            "formatlist(\"%s/32\", {})",
            Network(&c.control_plane).nat_public_ips()
        ));
    }
    if parts.len() == 1 {
        raw(parts.remove(0))
    } else {
        raw(format!("concat({})", parts.join(", ")))
    }
}
