use sovereign_spec::{Diagnostic, RuleInfo, Severity};

use crate::context::Ctx;

pub const INFO: RuleInfo = RuleInfo {
    code: "SOV046",
    name: "peering_mesh_size",
    severity: Severity::Warning,
    summary: "a VPC peering mesh with more connections per VPC, or more security group rules, than AWS allows by default or at all",
    doc: include_str!("peering_mesh_size.md"),
};

/// Port ranges each EKS cluster's security group opens to every other cluster of the mesh
/// (`modules/eks`: Cassandra internode, management API, metrics, CQL, node metrics).
pub const EKS_PEER_PORT_RANGES: usize = 5;
/// Inbound rules of a cluster's security group besides its peers': the one EKS creates for its
/// own members, the application load balancer's and the global Prometheus load balancer's.
pub const EKS_OWN_RULES: usize = 3;

pub fn run(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    connections(cx, out);
    security_group_rules(cx, out);
}

/// Every security group that takes one rule per peered cluster or per private subnet of the mesh
/// must fit the default rule quota: the apply that adds the 61st rule fails.
fn security_group_rules(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let l = &cx.catalog.limits.vpc;
    let quota = l.security_group_inbound_rules_default.value as usize;
    let clusters: Vec<_> = cx
        .aws_sites()
        .filter(|s| s.peering.value && cx.is_eks(&s.id))
        .collect();
    let per_cluster = EKS_PEER_PORT_RANGES * clusters.len().saturating_sub(1) + EKS_OWN_RULES;
    let subnets: usize = clusters.iter().map(|s| cx.azs(s).len()).sum();
    let source = format!(
        "limits: {} ({})",
        l.security_group_inbound_rules_default.provenance.source,
        l.security_group_inbound_rules_default.provenance.status.as_str()
    );
    let help = "request a quota increase (Amazon VPC, inbound or outbound rules per security group) in every region before applying, or leave sites out of the mesh (`peering = false`) or out of `kubernetes.sites`";
    if per_cluster > quota {
        let anchor = clusters.last().and_then(|s| s.span.clone());
        out.push(
            Diagnostic::new(&INFO, format!("each EKS cluster's security group needs {per_cluster} inbound rules ({} peered clusters × {EKS_PEER_PORT_RANGES} port ranges, and {EKS_OWN_RULES} of its own); the default quota is {quota}", clusters.len() - 1))
                .at(anchor, "this cluster joins the mesh beyond the quota")
                .help(help)
                .note(source.clone()),
        );
    }
    if subnets > quota {
        let anchor = clusters.last().and_then(|s| s.span.clone());
        out.push(
            Diagnostic::new(&INFO, format!("the Aurora and remote-write security groups need {subnets} inbound rules, one per private subnet of the {} clusters in the mesh; the default quota is {quota}", clusters.len()))
                .at(anchor, "this cluster's subnets go beyond the quota")
                .help(help)
                .note(source),
        );
    }
}

fn connections(cx: &Ctx, out: &mut Vec<Diagnostic>) {
    let mesh: Vec<_> = cx.aws_sites().filter(|s| s.peering.value).collect();
    let per_vpc = mesh.len().saturating_sub(1) as u32;
    let l = &cx.catalog.limits.vpc;
    let (default, max) = (l.peering_connections_default.value, l.peering_connections_max.value);
    if per_vpc <= default {
        return;
    }
    let confirmed = l.peering_connections_max.provenance.status.is_confirmed();
    let anchor = mesh.get(default as usize + 1).and_then(|s| s.span.clone());
    let (msg, help) = if per_vpc > max {
        (
            format!("the peering mesh of {} sites needs {per_vpc} connections per VPC; AWS allows at most {max}", mesh.len()),
            "set `peering = false` on sites that need no direct path, or connect the sites through a transit gateway instead",
        )
    } else {
        (
            format!("the peering mesh of {} sites needs {per_vpc} connections per VPC; the default quota is {default}", mesh.len()),
            "request a quota increase (Amazon VPC, active peering connections per VPC) in every region before applying",
        )
    };
    let mut d = Diagnostic::new(&INFO, msg)
        .at(anchor, "this site joins the mesh beyond the default quota")
        .help(help)
        .note(format!("a full mesh of n sites has n(n-1)/2 connections: {}", mesh.len() * (mesh.len().saturating_sub(1)) / 2))
        .note(format!("limits: {} ({})", l.peering_connections_max.provenance.source, l.peering_connections_max.provenance.status.as_str()));
    if per_vpc > max && confirmed {
        d = d.severity(Severity::Error);
    }
    out.push(d);
}

#[cfg(test)]
mod tests {
    use sovereign_catalog::{Catalog, Date};

    /// `n` AWS sites, every one with an EKS cluster in the mesh, three zones each.
    fn findings(n: usize) -> Vec<String> {
        let mut text = String::from("[project]\nname = \"mesh\"\n");
        for i in 0..n {
            text.push_str(&format!(
                "[[sites]]\nid = \"s{i}\"\naws_region = \"eu-west-1\"\nvpc_cidr = \"10.{i}.0.0/16\"\n"
            ));
        }
        let report = crate::check_text(&text, Catalog::builtin(), Date::new(2026, 11, 26));
        report
            .diagnostics
            .iter()
            .filter(|d| d.code == "SOV046")
            .map(|d| d.message.clone())
            .collect()
    }

    #[test]
    fn security_groups_fill_up_before_the_peering_quota() {
        // 12 clusters: 5 × 11 + 3 = 58 rules per cluster group, 36 subnets: within 60.
        assert_eq!(findings(12), Vec::<String>::new());
        // 13 clusters: 63 rules per cluster group.
        let f = findings(13);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("needs 63 inbound rules (12 peered clusters"), "{f:?}");
        // 21 clusters: 63 private subnets for the Aurora and remote-write groups too.
        let f = findings(21);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[1].contains("need 63 inbound rules, one per private subnet of the 21 clusters"), "{f:?}");
    }
}
